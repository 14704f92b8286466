#!/usr/bin/env bash
# Installs dependencies, builds, and starts pchatd on its embedded defaults:
# data in ./data, domain example.com, SIP 127.0.0.1:5041 (TCP+UDP), admin HTTP 127.0.0.1:8011.
# Extra arguments are passed to pchatd (e.g. --sip-port=0).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
"$ROOT/scripts/build.sh" pchatd pchatctl
cat <<'TXT'
Open the web chat client at http://127.0.0.1:8011/ and sign in as a demo user (its
password is printed below on first start); Demo Room is in the room list.
Or connect Pidgin with the SIPE plugin (package pidgin-sipe):
  Protocol: Office Communicator   Username: alice@example.com   Password: anything
  Advanced: Server[:Port] = 127.0.0.1:5041   Connection type = TCP
  Then Buddies > Add Chat / Room List to find and join "Demo Room".
On Debian bookworm, SIPE needs the libxml2 workaround: see README.md "Pidgin on bookworm".
TXT
exec "$ROOT/build/bin/pchatd" --data-dir="$ROOT/data" "$@"
