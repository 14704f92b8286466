#!/usr/bin/env bash
# Installs the Debian bookworm packages pchat needs to build, test and run.
# Skips apt entirely when everything is already installed (fast CI re-runs).
set -euo pipefail
PKGS=(build-essential cmake ninja-build pkg-config python3 iproute2 ccache curl
      libcaf-dev libsofia-sip-ua-dev librocksdb-dev libtinyxml2-dev nlohmann-json3-dev
      libgtest-dev libgmock-dev googletest libbenchmark-dev sip-tester
      libpurple-dev pidgin-sipe libxml2-dev libglib2.0-dev libxml2-utils
      libxapian-dev clang-14 libclang-rt-14-dev libboost-dev
      libcli11-dev dpkg-dev file systemd etcd-server zlib1g-dev libssl-dev openssl
      chromium chromium-driver)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "install-deps: installing ${missing[*]}" >&2
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
