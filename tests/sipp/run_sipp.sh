#!/usr/bin/env bash
# run_sipp.sh PCHATD SCENARIO TRANSPORT(t1|u1): starts pchatd on free loopback ports in a
# fresh data folder, runs one bounded sipp call of SCENARIO against it, stops the server,
# and exits with sipp's status.
set -uo pipefail
PCHATD="$1"; SCENARIO="$2"; TRANSPORT="$3"
command -v sipp >/dev/null || { echo "sipp not installed (package sip-tester)"; exit 77; }
WORK="$(mktemp -d /tmp/pchat-sipp.XXXXXX)"
trap 'kill -9 $PID 2>/dev/null; rm -rf "$WORK"' EXIT
"$PCHATD" --data-dir="$WORK/data" --sip-port=0 --http-port=0 --auth=none >"$WORK/out" 2>"$WORK/err" &
PID=$!
for _ in $(seq 1 200); do grep -q '^sip-port=' "$WORK/out" && break; sleep 0.05; done
PORT="$(sed -n 's/^sip-port=//p' "$WORK/out")"
[ -n "$PORT" ] || { echo "pchatd did not start"; cat "$WORK/err"; exit 1; }
cd "$WORK"
sipp 127.0.0.1:"$PORT" -sf "$OLDPWD/$SCENARIO" -t "$TRANSPORT" -i 127.0.0.1 -p 0 -m 1 \
  -timeout 20s -timeout_error -max_recv_loops 1000 -trace_err -trace_msg -nostdin \
  -buff_size 4194304 >/dev/null 2>"$WORK/sipp.stderr"
RC=$?
if [ $RC -ne 0 ]; then
  echo "sipp failed with status $RC"; cat "$WORK"/*errors.log 2>/dev/null | tail -40
  tail -60 "$WORK"/*messages.log 2>/dev/null; cat "$WORK/sipp.stderr"; cat "$WORK/err"
fi
kill -TERM $PID; for _ in $(seq 1 100); do kill -0 $PID 2>/dev/null || break; sleep 0.05; done
if kill -0 $PID 2>/dev/null; then echo "pchatd did not stop on SIGTERM"; RC=1; fi
exit $RC
