#!/usr/bin/env bash
# pchatd_options_test.sh PCHATD: every option is checked before pchatd prints, creates or
# starts anything (a refused value leaves no data folder and no demo passwords behind), and
# --check-config reports on the options and folders without starting or creating anything.
set -uo pipefail
PCHATD="$1"
WORK="$(mktemp -d /tmp/pchat-opts.XXXXXX)"
PID=""
trap '[ -n "$PID" ] && kill -9 $PID 2>/dev/null; rm -rf "$WORK"' EXIT
fail() { echo "FAIL: $*"; echo "--- stdout"; cat "$WORK/out"; echo "--- stderr"; cat "$WORK/err"; exit 1; }

# refused WHY ARGS...: exit 2, WHY on stderr, nothing on stdout, no data folder.
refused() {
  local why="$1"; shift
  rm -rf "$WORK/data"
  "$PCHATD" --data-dir="$WORK/data" --sip-port=0 --http-port=0 "$@" >"$WORK/out" 2>"$WORK/err" </dev/null
  local rc=$?
  [ $rc -eq 2 ] || fail "pchatd $* exited $rc, not 2"
  grep -q -- "$why" "$WORK/err" || fail "pchatd $*: stderr does not say '$why'"
  [ -s "$WORK/out" ] && fail "pchatd $* printed on stdout before refusing"
  [ -e "$WORK/data" ] && fail "pchatd $* created the data folder before refusing"
  return 0
}
refused "RunInterval 2 s is out of range" --compliance-run-interval=2
refused "compliance-enabled must be true or false" --compliance-enabled=yes
refused "ComplianceAdapterType" --compliance-adapter=pdf
refused "log-level must be" --log-level=loud
refused "auth must be digest or none" --auth=kerberos
refused "ports must be 0..65535" --sip-port=70000
refused "sip-max-inflight must be at least 1" --sip-max-inflight=0
refused "http-max-connections" --http-max-connections=0
refused "demo-content must be true or false" --demo-content=maybe
refused "not_an_option" --no-such-option=1
# The pool options: --etcd turns the pool on; the others need it, and a pool node needs a name.
refused "--node-name is required with --etcd" --etcd=http://127.0.0.1:2379
refused "need --etcd" --node-name=n1
refused "need --etcd" --pool-port=7101
refused "not an http:// URL" --etcd=127.0.0.1:2379 --node-name=n1
refused "has a path" --etcd=http://127.0.0.1:2379,http://127.0.0.1:2380/v3 --node-name=n1
refused "bad port" --etcd=http://127.0.0.1:0 --node-name=n1
refused "--node-name must be" --etcd=http://127.0.0.1:2379 --node-name=a/b
refused "--pool-name must be" --etcd=http://127.0.0.1:2379 --node-name=n1 --pool-name=a:b
refused "not a wildcard" --etcd=http://127.0.0.1:2379 --node-name=n1 --pool-host=0.0.0.0
refused "--pool-port must be 0..65535" --etcd=http://127.0.0.1:2379 --node-name=n1 --pool-port=70000
printf '[global]\ncompliance-run-interval=5\n' >"$WORK/bad.ini"
refused "RunInterval 5 s is out of range" --config-file="$WORK/bad.ini"

# --check-config: a verdict, exit 0, and nothing created or started.
"$PCHATD" --check-config --data-dir="$WORK/data" --sip-port=0 --http-port=0 >"$WORK/out" 2>"$WORK/err" \
  || fail "--check-config refused a good configuration"
grep -q "configuration ok: data-dir=$WORK/data" "$WORK/out" || fail "--check-config printed no verdict"
[ -e "$WORK/data" ] && fail "--check-config created the data folder"
touch "$WORK/plain-file"
"$PCHATD" --check-config --data-dir="$WORK/plain-file/data" >"$WORK/out" 2>"$WORK/err"
[ $? -eq 2 ] && grep -q "is not a folder" "$WORK/err" || fail "--check-config accepted a data folder under a file"
"$PCHATD" --check-config --data-dir="$WORK/data" --compliance-run-interval=2 >"$WORK/out" 2>"$WORK/err"
[ $? -eq 2 ] && grep -q "RunInterval" "$WORK/err" || fail "--check-config accepted a bad run interval"

# The same good options start the node (and only then are the demo passwords printed).
"$PCHATD" --data-dir="$WORK/data" --sip-port=0 --http-port=0 --compliance-run-interval=60 \
  >"$WORK/out" 2>"$WORK/err" &
PID=$!
for _ in $(seq 1 300); do grep -q '^http-port=' "$WORK/out" && break; kill -0 $PID 2>/dev/null || break; sleep 0.05; done
grep -q '^http-port=' "$WORK/out" || fail "pchatd did not start with good options"
grep -q '^demo-user=' "$WORK/out" || fail "first start printed no demo users"
kill -TERM $PID; wait $PID; PID=""

# --check-config loads the data folder's self-signed certificate and key and checks that
# they belong together (or a --tls-cert/--tls-key pair), naming what is wrong.
"$PCHATD" --check-config --data-dir="$WORK/data" >"$WORK/out" 2>"$WORK/err" \
  || fail "--check-config refused the self-signed pair it made: $(cat "$WORK/err")"
grep -q "configuration ok: .* tls-sha256=[0-9A-F:]\{95\}" "$WORK/out" || fail "--check-config showed no certificate fingerprint: $(cat "$WORK/out")"
openssl ecparam -genkey -name prime256v1 -noout -out "$WORK/other.key" 2>/dev/null || fail "openssl could not make a key"
cp "$WORK/data/tls.key" "$WORK/tls.key.saved"
cp "$WORK/other.key" "$WORK/data/tls.key"
"$PCHATD" --check-config --data-dir="$WORK/data" >"$WORK/out" 2>"$WORK/err"
[ $? -eq 2 ] && grep -q "TLS certificate $WORK/data/tls.crt with key $WORK/data/tls.key" "$WORK/err" \
  || fail "--check-config accepted a key that is not the certificate's: $(cat "$WORK/err")"
rm "$WORK/data/tls.key"
"$PCHATD" --check-config --data-dir="$WORK/data" >"$WORK/out" 2>"$WORK/err"
[ $? -eq 2 ] && grep -q "tls.key is missing while" "$WORK/err" || fail "--check-config accepted a certificate without its key"
cp "$WORK/tls.key.saved" "$WORK/data/tls.key"
"$PCHATD" --check-config --data-dir="$WORK/data" --tls-cert="$WORK/data/tls.crt" --tls-key="$WORK/other.key" \
  >"$WORK/out" 2>"$WORK/err"
[ $? -eq 2 ] && grep -q "its own private key" "$WORK/err" || fail "--check-config accepted a --tls-key that is not the certificate's"

# Without demo content (the service unit's setting), a first start makes no account and
# prints no password, however often it starts while the directory is still empty.
rm -rf "$WORK/data"
for round in 1 2; do
  "$PCHATD" --data-dir="$WORK/data" --sip-port=0 --http-port=0 --demo-content=false \
    >"$WORK/out" 2>"$WORK/err" &
  PID=$!
  for _ in $(seq 1 300); do grep -q '^http-port=' "$WORK/out" && break; kill -0 $PID 2>/dev/null || break; sleep 0.05; done
  grep -q '^http-port=' "$WORK/out" || fail "pchatd --demo-content=false did not start (round $round)"
  grep -q 'demo-user=\|password=' "$WORK/out" "$WORK/err" && fail "--demo-content=false printed demo passwords (round $round)"
  port=$(sed -n 's/^http-port=//p' "$WORK/out" | head -1)
  users=$(curl -s -H "Authorization: Bearer $(cat "$WORK/data/admin.token")" "http://127.0.0.1:$port/api/v1/users")
  [ "$users" = "[]" ] || fail "--demo-content=false made accounts (round $round): $users"
  kill -TERM $PID; wait $PID; PID=""
done
echo "pchatd options: all checks passed"
