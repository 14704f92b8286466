#!/usr/bin/env bash
# package_test.sh BUILD_DIR: the Debian package as an administrator gets it. Builds it with
# CPack from the built tree, checks its control data and contents, verifies the systemd unit
# (systemd-analyze verify, with the unit's paths pointed into the unpacked tree), unpacks it
# with dpkg -x into a temporary root and runs that pchatd on loopback: it answers pchatctl
# (also from the package) and stops on SIGTERM. Then `cmake --install --prefix` to a folder.
set -uo pipefail
BUILD="$1"
WORK="$(mktemp -d /tmp/pchat-pkg.XXXXXX)"
PID=""
trap '[ -n "$PID" ] && kill -9 $PID 2>/dev/null; rm -rf "$WORK"' EXIT
fail() { echo "FAIL: $*"; [ -f "$WORK/err" ] && cat "$WORK/err"; exit 1; }

cpack --config "$BUILD/CPackConfig.cmake" -B "$WORK/pkg" >"$WORK/cpack.log" 2>&1 || { cat "$WORK/cpack.log"; fail "cpack"; }
DEB="$(ls "$WORK"/pkg/pchat_*_amd64.deb 2>/dev/null | head -1)"
[ -f "$DEB" ] || fail "cpack made no pchat_*_amd64.deb"
DEPENDS="$(dpkg-deb -f "$DEB" Depends)"
for d in adduser libcaf-core0.17 librocksdb libsofia-sip-ua0; do
  [[ "$DEPENDS" == *"$d"* ]] || fail "Depends lacks $d: $DEPENDS"
done
dpkg-deb -I "$DEB" postinst | grep -q 'adduser --system' || fail "postinst does not create the pchat user"
CONTENTS="$(dpkg-deb -c "$DEB")"
for f in ./usr/bin/pchatd ./usr/bin/pchatctl ./usr/lib/systemd/system/pchatd.service ./usr/share/doc/pchat/README.md; do
  grep -q " $f\$" <<<"$CONTENTS" || fail "package lacks $f"
done
# Stripped: the package carries no debug info.
ROOT="$WORK/root"
dpkg -x "$DEB" "$ROOT" || fail "dpkg -x"
file -b "$ROOT/usr/bin/pchatd" 2>/dev/null | grep -q "not stripped" && fail "pchatd in the package is not stripped"

UNIT="$ROOT/usr/lib/systemd/system/pchatd.service"
for want in '^User=pchat$' '^LimitNOFILE=[0-9]+$' '^ProtectSystem=strict$' '^NoNewPrivileges=yes$' \
            '^StateDirectory=pchat$' '^ExecStart=/usr/bin/pchatd ' '^ExecStartPre=/usr/bin/pchatd --check-config'; do
  grep -Eq "$want" "$UNIT" || fail "unit lacks $want"
done
# systemd-analyze checks that the commands exist: point them at the unpacked binaries. It
# exits 0 even on a bad line, so any output is a failure.
sed "s|/usr/bin/pchatd|$ROOT/usr/bin/pchatd|g" "$UNIT" >"$WORK/pchatd.service"
OUT="$(systemd-analyze verify "$WORK/pchatd.service" 2>&1)"; RC=$?
[ $RC -eq 0 ] && [ -z "$OUT" ] || fail "systemd-analyze verify: rc=$RC $OUT"
# The check itself can fail: a bad directive is reported.
sed 's/^LimitNOFILE=.*/LimitNOFILE=lots/' "$WORK/pchatd.service" >"$WORK/bad.service"
[ -n "$(systemd-analyze verify "$WORK/bad.service" 2>&1)" ] || fail "systemd-analyze verify accepted a bad unit"

# The packaged pchatd: --check-config, then a real start on loopback.
PCHATD="$ROOT/usr/bin/pchatd"; CTL="$ROOT/usr/bin/pchatctl"
"$PCHATD" --check-config --data-dir="$WORK/data" >"$WORK/out" 2>"$WORK/err" || fail "--check-config refused a good configuration"
grep -q "configuration ok" "$WORK/out" || fail "--check-config printed no verdict"
"$PCHATD" --data-dir="$WORK/data" --host=127.0.0.1 --sip-port=0 --http-port=0 --demo-content=false \
    >"$WORK/out" 2>"$WORK/err" &
PID=$!
for _ in $(seq 1 300); do grep -q '^http-port=' "$WORK/out" && break; kill -0 $PID 2>/dev/null || break; sleep 0.05; done
HP="$(sed -n 's/^http-port=//p' "$WORK/out")"
SP="$(sed -n 's/^sip-port=//p' "$WORK/out")"
[ -n "$HP" ] && [ -n "$SP" ] || fail "the packaged pchatd did not start"
OUT="$("$CTL" --server="127.0.0.1:$HP" --data-dir="$WORK/data" --json status get)" || fail "pchatctl status get: $OUT"
[[ "$OUT" == *"\"sip_port\":$SP"* || "$OUT" == *"\"sip_port\": $SP"* ]] || fail "status does not report the SIP port: $OUT"
(exec 3<>"/dev/tcp/127.0.0.1/$SP") 2>/dev/null || fail "SIP port $SP does not accept connections"
kill -TERM $PID
for _ in $(seq 1 200); do kill -0 $PID 2>/dev/null || break; sleep 0.05; done
kill -0 $PID 2>/dev/null && fail "the packaged pchatd did not stop within 10 s of SIGTERM"
wait $PID; RC=$?; PID=""
[ $RC -eq 0 ] || fail "pchatd exited with $RC after SIGTERM"

# cmake --install to a prefix: standard paths, and the unit names that prefix's binaries.
cmake --install "$BUILD" --prefix "$WORK/inst" >/dev/null || fail "cmake --install"
for f in bin/pchatd bin/pchatctl lib/systemd/system/pchatd.service share/doc/pchat/README.md \
         share/doc/pchat/examples/pchatd.default; do
  [ -e "$WORK/inst/$f" ] || fail "cmake --install did not install $f"
done
grep -q "^ExecStart=$WORK/inst/bin/pchatd " "$WORK/inst/lib/systemd/system/pchatd.service" || fail "installed unit names another pchatd"
OUT="$(systemd-analyze verify "$WORK/inst/lib/systemd/system/pchatd.service" 2>&1)"
[ -z "$OUT" ] || fail "systemd-analyze verify (cmake --install): $OUT"
echo "package: all checks passed"
