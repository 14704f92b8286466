#!/usr/bin/env bash
# cli_compliance_test.sh PCHATD PCHATCTL: `pchatctl compliance get|set|status|run` and
# `message remove` against a real pchatd; settings survive a restart and take effect there.
set -uo pipefail
PCHATD="$1"; CTL="$2"
WORK="$(mktemp -d /tmp/pchat-cli-compliance.XXXXXX)"
PID=
trap '[ -n "$PID" ] && kill -9 $PID 2>/dev/null; rm -rf "$WORK"' EXIT
fail() { echo "FAIL: $*"; cat "$WORK/err"; exit 1; }
start() {
  "$PCHATD" --data-dir="$WORK/data" --sip-port=0 --http-port=0 "$@" >"$WORK/out" 2>"$WORK/err" &
  PID=$!
  for _ in $(seq 1 200); do grep -q '^http-port=' "$WORK/out" && break; sleep 0.05; done
  HP="$(sed -n 's/^http-port=//p' "$WORK/out")"
  [ -n "$HP" ] || fail "pchatd did not start"
  C="$CTL --server=127.0.0.1:$HP --data-dir=$WORK/data"
}
start
OUT="$($C compliance get)" || fail "compliance get"
grep -Eq "^enabled +false +default$" <<<"$OUT" && grep -Eq "^run_interval_seconds +900 +default$" <<<"$OUT" \
  && grep -Eq "^adapter_type +xml +default$" <<<"$OUT" || fail "defaults: $OUT"
ERR="$($C compliance set --run-interval 30 2>&1)"; RC=$?
[ $RC -eq 1 ] && [[ "$ERR" == *"RunInterval 30 s is out of range 60..2592000"* ]] || fail "range: rc=$RC '$ERR'"
ERR="$($C compliance set --adapter pdf 2>&1)"; RC=$?
[ $RC -eq 1 ] && [[ "$ERR" == *"not one of xml, csv"* ]] || fail "adapter: rc=$RC '$ERR'"
ERR="$($C compliance set --enabled maybe 2>&1)"; RC=$?
[ $RC -eq 2 ] || fail "--enabled maybe should be a usage error (rc=$RC)"
$C compliance set --enabled true --adapter csv --output-dir "$WORK/out-csv" --run-interval 60 \
  --add-user-details true >/dev/null || fail "compliance set"
$C --json compliance get | grep -q '"adapter_type": "csv"' || fail "set not stored"
OUT="$($C compliance get)"
grep -Eq "^adapter_type +csv +stored$" <<<"$OUT" && grep -q "^applies: now" <<<"$OUT" || fail "set not in force: $OUT"
# Applied at once: the runner is on with the new adapter, no restart.
OUT="$($C compliance status)" || fail "status after set"
[[ "$OUT" == *"enabled: true"* && "$OUT" == *"adapter: csv"* ]] || fail "status after set: $OUT"
# The stored settings apply at the next start too (a test-only flag shortens the interval).
kill -TERM $PID; wait $PID 2>/dev/null
start --compliance-test-run-interval-ms=200
OUT="$($C compliance status)" || fail "status"
[[ "$OUT" == *"enabled: true"* && "$OUT" == *"adapter: csv"* && "$OUT" == *"queue_depth: "* \
   && "$OUT" == *"last_success: "* && "$OUT" == *"last_error: "* ]] || fail "status fields: $OUT"
ERR="$($C message remove --room "No Such Room" 2>&1)"; RC=$?
[ $RC -eq 1 ] && [[ "$ERR" == *"no such room"* ]] || fail "remove in unknown room: rc=$RC '$ERR'"
OUT="$($C --json message remove --room "Demo Room" --contains nothing-matches)" || fail "remove"
[[ "$OUT" == *'"replaced": 0'* ]] || fail "remove output: $OUT"
ERR="$($C message remove --room "Demo Room" --before yesterday 2>&1)"; RC=$?
[ $RC -eq 1 ] && [[ "$ERR" == *"before must be"* ]] || fail "bad date: rc=$RC '$ERR'"
$C compliance run >/dev/null || fail "compliance run"
kill -TERM $PID; wait $PID 2>/dev/null; PID=
echo "cli compliance: all checks passed"
