#!/usr/bin/env bash
# Real-client interop test: starts pchatd on 127.0.0.1 with a fresh data dir
# and ephemeral ports, drives the pidgin-sipe plugin against it through
# sipe_harness, then stops the server.
#
#   run_sipe_test.sh PCHATD HARNESS [XMLFIX_LIB]
#
# Exit status: the harness's (0 = pass), 77 = skipped (pchatd not built),
# anything else = failure. Set PCHAT_SIPE_KEEP_LOGS=1 to keep the logs of a
# passing run; logs of a failing run are always kept and their path printed.
set -u

PCHATD=${1:?usage: run_sipe_test.sh PCHATD HARNESS [XMLFIX_LIB]}
HARNESS=${2:?usage: run_sipe_test.sh PCHATD HARNESS [XMLFIX_LIB]}
XMLFIX_LIB=${3:-}
ROOM="Demo Room"
STARTUP_DEADLINE_S=20 # for the sip-port line
HARNESS_TIMEOUT_S=60  # harness's own overall deadline
STOP_DEADLINE_S=10    # SIGTERM -> SIGKILL

if [[ ! -x $PCHATD ]]; then
  echo "skip: $PCHATD not built yet"
  exit 77
fi
if [[ ! -x $HARNESS ]]; then
  echo "FAIL: harness $HARNESS missing"
  exit 2
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/pchat-sipe-test.XXXXXX") || exit 2
DATA=$WORK/data
LOGS=$WORK/logs
mkdir -p "$DATA" "$LOGS"
SERVER_OUT=$LOGS/pchatd.stdout
SERVER_ERR=$LOGS/pchatd.stderr
SERVER_PID=
STATUS=1

log_tail() { # FILE LINES
  if [[ -s $1 ]]; then
    echo "----- last $2 lines of $1 -----"
    tail -n "$2" "$1"
    echo "----- end of $1 -----"
  fi
}

stop_server() {
  [[ -n $SERVER_PID ]] || return 0
  if kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID" 2>/dev/null
    local waited=0
    while kill -0 "$SERVER_PID" 2>/dev/null && ((waited < STOP_DEADLINE_S * 10)); do
      sleep 0.1
      ((waited++))
    done
    if kill -0 "$SERVER_PID" 2>/dev/null; then
      echo "WARNING: pchatd did not exit within ${STOP_DEADLINE_S}s of SIGTERM; sending SIGKILL"
      kill -KILL "$SERVER_PID" 2>/dev/null
    fi
  fi
  wait "$SERVER_PID" 2>/dev/null
  SERVER_PID=
}

finish() {
  stop_server
  if [[ $STATUS -ne 0 ]]; then
    log_tail "$LOGS/purple-debug.log" 200
    log_tail "$SERVER_OUT" 40
    log_tail "$SERVER_ERR" 60
    echo "logs kept in $LOGS"
  elif [[ ${PCHAT_SIPE_KEEP_LOGS:-0} == 1 ]]; then
    echo "logs kept in $LOGS"
  else
    rm -rf "$WORK"
    echo "logs removed (set PCHAT_SIPE_KEEP_LOGS=1 to keep them)"
  fi
  exit "$STATUS"
}
trap finish EXIT
trap 'exit 1' INT TERM

# 1. The xmlSAXUserParseMemory work-around, built into the harness and (if
#    given) shipped as the LD_PRELOAD library: without it SIPE never sees a
#    single XML reply on bookworm and every later step would fail obscurely.
if ! "$HARNESS" --xml-selftest; then
  echo "FAIL: the harness's built-in libxml2 work-around does not work"
  exit 1
fi
if [[ -n $XMLFIX_LIB ]]; then
  if ! LD_PRELOAD=$XMLFIX_LIB "$HARNESS" --xml-selftest --expect-next="$XMLFIX_LIB"; then
    echo "FAIL: $XMLFIX_LIB does not fix SIPE-style XML parsing"
    exit 1
  fi
fi

# 2. Start the server on ephemeral ports (Digest authentication, the default) and wait for
#    it to say which; then create the harness's users with its password.
"$PCHATD" --data-dir="$DATA" --sip-port=0 --http-port=0 >"$SERVER_OUT" 2>"$SERVER_ERR" &
SERVER_PID=$!
SIP_PORT=
HTTP_PORT=
for ((i = 0; i < STARTUP_DEADLINE_S * 10; i++)); do
  SIP_PORT=$(sed -n 's/^sip-port=\([0-9][0-9]*\)[[:space:]]*$/\1/p' "$SERVER_OUT" | head -n 1)
  HTTP_PORT=$(sed -n 's/^http-port=\([0-9][0-9]*\)[[:space:]]*$/\1/p' "$SERVER_OUT" | head -n 1)
  [[ -n $SIP_PORT && -n $HTTP_PORT ]] && break
  if ! kill -0 "$SERVER_PID" 2>/dev/null; then
    wait "$SERVER_PID"
    echo "FAIL: pchatd exited with status $? before printing sip-port=N"
    SERVER_PID=
    exit 1
  fi
  sleep 0.1
done
if [[ -z $SIP_PORT || $SIP_PORT == 0 ]]; then
  echo "FAIL: pchatd printed no sip-port=N line within ${STARTUP_DEADLINE_S}s"
  exit 1
fi
echo "pchatd pid $SERVER_PID listening: sip-port=$SIP_PORT"
# The harness signs in with Digest (SIPE answers the server's 407): give every account it
# uses the harness's password, through the admin CLI.
PCHATCTL="$(dirname "$PCHATD")/pchatctl"
for u in alice bob carol dave erin frank; do
  if ! "$PCHATCTL" --server="127.0.0.1:$HTTP_PORT" --data-dir="$DATA" user new --uri "$u@example.com" \
      --password pchat-test-password >/dev/null; then
    echo "FAIL: cannot create user $u@example.com through pchatctl"
    exit 1
  fi
done

# 3. The real client: alice and bob in one process.
echo "== phase 1: alice and bob in one SIPE process"
"$HARNESS" --server="127.0.0.1:$SIP_PORT" --room="$ROOM" --log-dir="$LOGS" \
  --timeout="$HARNESS_TIMEOUT_S"
STATUS=$?

# 4. Two client processes started in the same second. SIPE seeds rand() with
#    the time in whole seconds when the plugin loads, so both send identical
#    Call-IDs, From-tags and XCCOS envids (only From URI and epid differ), as
#    real users starting Pidgin together do. The server has to keep them
#    apart. Starting early in a second makes a shared second very likely.
if [[ $STATUS -eq 0 ]]; then
  echo "== phase 2: two SIPE processes started in the same second (carol+dave, erin+frank)"
  for ((i = 0; i < 20 && 10#$(date +%N) > 200000000; i++)); do sleep 0.05; done
  "$HARNESS" --server="127.0.0.1:$SIP_PORT" --room="$ROOM" --log-dir="$LOGS/p2a" \
    --timeout="$HARNESS_TIMEOUT_S" --alice-user=carol --bob-user=dave >"$LOGS/p2a.out" 2>&1 &
  P2A=$!
  "$HARNESS" --server="127.0.0.1:$SIP_PORT" --room="$ROOM" --log-dir="$LOGS/p2b" \
    --timeout="$HARNESS_TIMEOUT_S" --alice-user=erin --bob-user=frank >"$LOGS/p2b.out" 2>&1 &
  P2B=$!
  wait "$P2A"
  STATUS_A=$?
  wait "$P2B"
  STATUS_B=$?
  sed 's/^/[carol+dave] /' "$LOGS/p2a.out" | grep -v 'GLib-CRITICAL\|^\[carol+dave\] $'
  sed 's/^/[erin+frank] /' "$LOGS/p2b.out" | grep -v 'GLib-CRITICAL\|^\[erin+frank\] $'
  CALLID_A=$(grep -m 1 '^Call-ID:' "$LOGS/p2a/purple-debug.log" 2>/dev/null)
  CALLID_B=$(grep -m 1 '^Call-ID:' "$LOGS/p2b/purple-debug.log" 2>/dev/null)
  if [[ -n $CALLID_A && $CALLID_A == "$CALLID_B" ]]; then
    echo "info: both processes used the same first $CALLID_A"
  else
    echo "info: the processes did not share a second; Call-IDs differ this time"
  fi
  if [[ $STATUS_A -ne 0 || $STATUS_B -ne 0 ]]; then
    echo "FAIL: phase 2 (same-second clients) failed: carol+dave=$STATUS_A erin+frank=$STATUS_B"
    [[ $STATUS_A -ne 0 ]] && log_tail "$LOGS/p2a/purple-debug.log" 200
    [[ $STATUS_B -ne 0 ]] && log_tail "$LOGS/p2b/purple-debug.log" 200
    STATUS=1
  fi
fi

# 5. A server that died under the client (e.g. at sign-out) is a failure even
#    if every client step passed.
if ! kill -0 "$SERVER_PID" 2>/dev/null; then
  wait "$SERVER_PID"
  echo "FAIL: pchatd exited (status $?) while or after the client ran"
  SERVER_PID=
  STATUS=1
fi
exit "$STATUS"
