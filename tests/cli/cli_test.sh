#!/usr/bin/env bash
# cli_test.sh PCHATD PCHATCTL: the admin CLI against a real pchatd: create a category and a
# room, read them back (table and JSON), and check the errors a user sees.
set -uo pipefail
PCHATD="$1"; CTL="$2"
WORK="$(mktemp -d /tmp/pchat-cli.XXXXXX)"
trap 'kill -9 $PID 2>/dev/null; rm -rf "$WORK"' EXIT
fail() { echo "FAIL: $*"; cat "$WORK/err"; exit 1; }
start() {
  "$PCHATD" --data-dir="$WORK/data" --sip-port=0 --http-port=0 ${EXTRA:-} >"$WORK/out" 2>"$WORK/err" &
  PID=$!
  for _ in $(seq 1 200); do grep -q '^http-port=' "$WORK/out" && break; sleep 0.05; done
  HP="$(sed -n 's/^http-port=//p' "$WORK/out")"
  [ -n "$HP" ] || fail "pchatd did not start"
}
start
C="$CTL --server=127.0.0.1:$HP --data-dir=$WORK/data"
$C category new --name Ops --description "Operations team" >/dev/null || fail "category new"
URI="$($C room new --name "Trading Floor" --category Ops --description "desk chat")" || fail "room new"
[[ "$URI" =~ ^ma-chan://example.com/[0-9a-f-]+$ ]] || fail "room new printed '$URI', not a room URI"
$C room get | grep -q "Trading Floor" || fail "room get table lacks the room"
$C room get | grep -q "Demo Room" || fail "room get table lacks the demo room"
$C --json room get --identity "Trading Floor" | grep -q "\"uri\": \"$URI\"" || fail "room get --json"
$C category get | grep -q "Operations team" || fail "category get"
ERR="$($C room new --name "Trading Floor" --category Ops 2>&1)"; RC=$?
[ $RC -eq 1 ] && [[ "$ERR" == *"is used by room"* ]] || fail "duplicate name: rc=$RC '$ERR'"
ERR="$($C room new --name X --category Nope 2>&1)"; RC=$?
[ $RC -eq 1 ] && [[ "$ERR" == *"no such category"* ]] || fail "unknown category: rc=$RC '$ERR'"
ERR="$($C room new --name X 2>&1)"; RC=$?
[ $RC -eq 2 ] || fail "missing --category should be a usage error (rc=$RC)"
# Without the admin token (or with a wrong one) the API refuses, saying where the token is.
ERR="$($CTL --server=127.0.0.1:$HP --token=wrong room get 2>&1)"; RC=$?
[ $RC -eq 1 ] && [[ "$ERR" == *"admin token"* ]] || fail "wrong admin token: rc=$RC '$ERR'"
[ "$(stat -c %a "$WORK/data/admin.token")" = "600" ] || fail "admin.token must be readable by its owner only"
ERR="$($CTL --server=127.0.0.1:1 room get 2>&1)"; RC=$?
[ $RC -eq 3 ] && [[ "$ERR" == *"cannot connect"* ]] || fail "unreachable server: rc=$RC '$ERR'"
# Set-/Remove- cmdlets: a category with rooms cannot go; an emptied one can.
$C category new --name Temp >/dev/null || fail "category new Temp"
$C room new --name "Short lived" --category Temp >/dev/null || fail "room new in Temp"
ERR="$($C category remove --identity Temp 2>&1)"; RC=$?
[ $RC -eq 1 ] && [[ "$ERR" == *"not empty"* ]] || fail "removing a category with rooms: rc=$RC '$ERR'"
$C category set --identity Temp --denied-members sip:mallory@example.com --chat-history false >/dev/null || fail "category set"
$C room remove --identity "Short lived" >/dev/null || fail "room remove"
$C room get | grep -q "Short lived" && fail "removed room still listed"
$C category remove --identity Temp >/dev/null || fail "category remove"
$C addin new --name Ticker --url https://addins.example.com/ticker >/dev/null || fail "addin new"
ERR="$($C addin new --name Bad --url ftp://x 2>&1)"; RC=$?
[ $RC -eq 1 ] && [[ "$ERR" == *"http"* ]] || fail "bad add-in url: rc=$RC '$ERR'"
$C room set --identity "Trading Floor" --addin Ticker >/dev/null || fail "room uses the add-in"
ERR="$($C addin remove --name Ticker 2>&1)"; RC=$?
[ $RC -eq 1 ] && [[ "$ERR" == *"used by room"* ]] || fail "removing an add-in in use: rc=$RC '$ERR'"
ERR="$($C room set --identity "Trading Floor" --addin Nope 2>&1)"; RC=$?
[ $RC -eq 1 ] && [[ "$ERR" == *"no add-in"* ]] || fail "unknown add-in: rc=$RC '$ERR'"
$C addin get | grep -q "Ticker" || fail "addin get"
$C category get | grep -q "^Temp " && fail "removed category still listed"
$C config get | grep -Eq "^default_chat_history +30 +default$" || fail "config defaults"
ERR="$($C config set --default-chat-history 501 2>&1)"; RC=$?
[ $RC -eq 1 ] && [[ "$ERR" == *"DefaultChatHistory"* ]] || fail "out-of-range config: rc=$RC '$ERR'"
$C config set --default-chat-history 120 | grep -q "^applies: now" || fail "config set"
# In force at once, from the store.
$C config get | grep -Eq "^default_chat_history +120 +stored$" || fail "config set not in force"
$C status get | grep -q "default_chat_history: 120" || fail "status: config set not in force"
# Everything survives a restart.
kill -TERM $PID; wait $PID 2>/dev/null
start
C="$CTL --server=127.0.0.1:$HP --data-dir=$WORK/data"
$C --json room get --identity "$URI" | grep -q '"name": "Trading Floor"' || fail "room lost across restart"
[ "$($C --json room get | grep -c '"name": "Demo Room"')" -eq 1 ] || fail "demo room duplicated on restart"
$C config get | grep -Eq "^default_chat_history +120 +stored$" || fail "config lost across restart"
# Configuration at site scope: new/set/get/remove, and a node of that site applies it.
$C config new --identity site:London --default-chat-history 50 >/dev/null || fail "config new site"
ERR="$($C config new --identity site:London 2>&1)"; RC=$?
[ $RC -eq 1 ] && [[ "$ERR" == *"exists"* ]] || fail "config new twice: rc=$RC '$ERR'"
$C config set --identity site:London --participant-update-limit 40 >/dev/null || fail "config set site"
OUT="$($C config get --identity site:London)"
grep -Eq "^participant_update_limit +40 +site:London$" <<<"$OUT" && grep -q "^in_force: false" <<<"$OUT" \
  || fail "config get site: $OUT"
ERR="$($C config set --identity site:Paris --default-chat-history 5 2>&1)"; RC=$?
[ $RC -eq 1 ] && [[ "$ERR" == *"config new"* ]] || fail "config set on a missing site: rc=$RC '$ERR'"
ERR="$($C config remove --identity global 2>&1)"; RC=$?
[ $RC -eq 1 ] || fail "removing the global configuration must be refused"
kill -TERM $PID; wait $PID 2>/dev/null
EXTRA="--site=London" start
C="$CTL --server=127.0.0.1:$HP --data-dir=$WORK/data"
$C status get | grep -q "default_chat_history: 50" || fail "a London node must use the site configuration"
$C config get | grep -Eq "^default_chat_history +50 +site:London$" || fail "config get on a London node"
$C config remove --identity site:London >/dev/null || fail "config remove site"
# Without its site's configuration the node falls back to the global one at once.
$C config get | grep -Eq "^default_chat_history +120 +stored$" || fail "no fallback to global after remove"
$C config get --identity site:London >/dev/null 2>&1 && fail "removed site configuration still there"
kill -TERM $PID
echo "cli: all checks passed"
