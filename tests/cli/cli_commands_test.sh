#!/usr/bin/env bash
# cli_commands_test.sh PCHATD PCHATCTL: every pchatctl command against a real pchatd: its
# success, the filters it lists, every field it shows (table and --json), identities by
# id, name or URI, and the errors for unknown options, missing and bad values (exit 2,
# naming the culprit) and for refusals (exit 1). docs/ADMIN.md is the reference.
set -uo pipefail
PCHATD="$1"; CTL="$2"
WORK="$(mktemp -d /tmp/pchat-clicmd.XXXXXX)"
PID=""
trap '[ -n "$PID" ] && kill -9 $PID 2>/dev/null; rm -rf "$WORK"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
"$PCHATD" --data-dir="$WORK/data" --sip-port=0 --http-port=0 >"$WORK/out" 2>"$WORK/err" &
PID=$!
for _ in $(seq 1 300); do grep -q '^http-port=' "$WORK/out" && break; kill -0 $PID 2>/dev/null || break; sleep 0.05; done
HP="$(sed -n 's/^http-port=//p' "$WORK/out")"
[ -n "$HP" ] || { cat "$WORK/err"; fail "pchatd did not start"; }
C=("$CTL" --server="127.0.0.1:$HP" --data-dir="$WORK/data")

# ok ARGS...: exit 0; its stdout in $OUT.
ok() { OUT="$("${C[@]}" "$@" 2>"$WORK/cerr")"; local rc=$?; [ $rc -eq 0 ] || fail "pchatctl $* exited $rc: $(cat "$WORK/cerr")"; }
# usage WHAT ARGS...: exit 2 and stderr names WHAT; nothing on stdout.
usage() {
  local what="$1"; shift
  local out; out="$("${C[@]}" "$@" 2>"$WORK/cerr")"; local rc=$?
  [ $rc -eq 2 ] || fail "pchatctl $* exited $rc, not 2 (usage)"
  grep -qF -- "$what" "$WORK/cerr" || fail "pchatctl $*: stderr does not name '$what': $(cat "$WORK/cerr")"
  [ -z "$out" ] || fail "pchatctl $* printed on stdout: $out"
}
# refused WHAT ARGS...: exit 1 (the server refused) and stderr says WHAT.
refused() {
  local what="$1"; shift
  "${C[@]}" "$@" >/dev/null 2>"$WORK/cerr"; local rc=$?
  [ $rc -eq 1 ] || fail "pchatctl $* exited $rc, not 1 (refused)"
  grep -qF -- "$what" "$WORK/cerr" || fail "pchatctl $*: stderr does not say '$what': $(cat "$WORK/cerr")"
}
# field JSON PATH EXPECTED: a JSON value (python3 reads it).
field() { python3 -c 'import json,sys; v=json.loads(sys.argv[1]); [v:=v[int(k)] if k.isdigit() else v[k] for k in sys.argv[2].split(".") if k]; print(json.dumps(v,separators=(",",":")) if not isinstance(v,str) else v)' "$1" "$2"; }
expect() { local got; got="$(field "$1" "$2")" || fail "no $2 in $1"; [ "$got" = "$3" ] || fail "$2 is '$got', not '$3'"; }

# ---- help everywhere, and the usage errors of the issue
for cmd in "" "room" "room get" "room set" "category get" "policy get" "search" "test message" "test credential set" "compliance set"; do
  # shellcheck disable=SC2086
  OUT="$("${C[@]}" $cmd --help 2>&1)"; [ $? -eq 0 ] && [[ "$OUT" == *"Usage: pchatctl"* ]] || fail "'$cmd --help': $OUT"
done
usage "--bogus" room get --bogus x
usage "--privcy" room set --identity "Demo Room" --privcy secret
usage "--identity: 1 required" room get --identity
usage "--privacy: sekret not in {open,closed,secret}" room set --identity "Demo Room" --privacy sekret
usage "--type" room new --name X --category Demo --type huge
usage "--name is required" category new
usage "--name: must not be empty" category new --name ""
usage "--enable-persistent-chat" policy new --identity tag:x --enable-persistent-chat maybe
usage "--default-chat-history: '12.5' is not a whole number" config set --default-chat-history 12.5
usage "--id: 'abc' is not a whole number" file remove --room "Demo Room" --id abc
usage "--limit" search --query x --limit 0
usage "A subcommand is required" room
usage "A subcommand is required"
usage "frobnicate" room frobnicate
usage "needs at least one setting" room set --identity "Demo Room"
usage "needs at least one setting" category set --identity Demo
usage "excludes" room get --name Demo --identity "Demo Room"
usage "stray" room get stray

# ---- categories: every field, --name filters, --identity by id, name or URI
ok category new --name Audit --description "Auditors only" --allowed-members domain:example.com \
  --denied-members sip:mallory@example.com --creators sip:alice@example.com --file-upload false
ok --json category get --name Audit
expect "$OUT" "0.name" "Audit"
expect "$OUT" "0.allowed_members" '["domain:example.com"]'
expect "$OUT" "0.denied_members" '["sip:mallory@example.com"]'
expect "$OUT" "0.creators" '["sip:alice@example.com"]'
expect "$OUT" "0.file_upload" "false"
[ "$(python3 -c 'import json,sys; print(len(json.loads(sys.argv[1])))' "$OUT")" = 1 ] \
  || fail "category get --name Audit must list Audit only: $OUT"
CAT_ID="$(field "$OUT" 0.id)"; CAT_URI="$(field "$OUT" 0.uri)"
for key in Audit "$CAT_ID" "$CAT_URI" audit; do
  ok --json category get --identity "$key"; expect "$OUT" "name" "Audit"
done
ok category get --name Audit
[[ "$OUT" == *"AllowedMembers"*"DeniedMembers"*"Creators"* && "$OUT" == *"sip:mallory@example.com"* && "$OUT" == *"sip:alice@example.com"* ]] \
  || fail "category table lacks members or creators: $OUT"
[ "$(grep -c . <<<"$OUT")" -eq 2 ] || fail "category get --name Audit table must have one row: $OUT"
ok category get; grep -q "^Demo " <<<"$OUT" && grep -q "^Audit " <<<"$OUT" || fail "category get lists every category: $OUT"
refused "no category with id, name or uri 'Nope'" category get --identity Nope
ok category set --identity "$CAT_URI" --add-denied-members sip:eve@example.com --chat-history false
ok --json category get --identity Audit
expect "$OUT" "denied_members" '["sip:mallory@example.com","sip:eve@example.com"]'
expect "$OUT" "chat_history" "false"

# ---- rooms: one shape for --name and --identity; category, privacy, type, members shown
URI="$("${C[@]}" room new --name "Audit Room" --category "$CAT_URI" --privacy secret --type auditorium \
  --members sip:alice@example.com,sip:bob@example.com --managers sip:alice@example.com \
  --presenters sip:alice@example.com --topic "quarter close")" || fail "room new in a category named by URI"
ok --json room get --identity "Audit Room"; ONE="$OUT"
ok --json room get --name "Audit"; LIST="$OUT"
[ "$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])[0] == json.loads(sys.argv[2]))' "$LIST" "$ONE")" = True ] \
  || fail "room get --name and --identity differ: $LIST vs $ONE"
expect "$ONE" "category" "Audit"; expect "$ONE" "privacy" "secret"; expect "$ONE" "type" "auditorium"
expect "$ONE" "members" '["sip:alice@example.com","sip:bob@example.com"]'
expect "$ONE" "managers" '["sip:alice@example.com"]'; expect "$ONE" "topic" "quarter close"
expect "$ONE" "uri" "$URI"
ID="$(field "$ONE" id)"
for key in "$ID" "$URI" "Audit Room"; do ok --json room get --identity "$key"; expect "$OUT" "id" "$ID"; done
ok room get --name Audit
[[ "$OUT" == *"Category"*"Privacy"*"Type"*"Members"* ]] || fail "room table header lacks columns: $OUT"
ROW="$(grep '^Audit Room ' <<<"$OUT")"
[[ "$ROW" == *" Audit "* && "$ROW" == *" secret "* && "$ROW" == *" auditorium "* && "$ROW" == *"sip:alice@example.com,sip:bob@example.com"* ]] \
  || fail "room row lacks category, privacy, type or members: $ROW"
grep -q "Demo Room" <<<"$OUT" && fail "room get --name Audit listed Demo Room"
ok room get; grep -q "^Demo Room " <<<"$OUT" && grep -q "^Audit Room " <<<"$OUT" || fail "room get lists every room"
ok room set --identity "$URI" --remove-members sip:bob@example.com --privacy closed
ok --json room get --identity "$ID"; expect "$OUT" "members" '["sip:alice@example.com"]'; expect "$OUT" "privacy" "closed"
refused "no room with id, name or uri 'Nope'" room get --identity Nope

# ---- users, groups, policies: filters and identities
ok user new --uri dave@example.com --password s3cret --display-name Dave --site Lab
ok --json user get --uri sip:dave@example.com; expect "$OUT" "display_name" "Dave"; expect "$OUT" "site" "Lab"
ok --json user get --uri dave@example.com; expect "$OUT" "uri" "sip:dave@example.com"
ok user get; grep -q "sip:dave@example.com" <<<"$OUT" || fail "user get lacks dave"
ok group new --name desk --members sip:dave@example.com,sip:alice@example.com --description "the desk"
ok group new --name other --members sip:bob@example.com
ok --json group get --name desk
[ "$(python3 -c 'import json,sys; print(len(json.loads(sys.argv[1])))' "$OUT")" = 1 ] || fail "group get --name: $OUT"
expect "$OUT" "0.members" '["sip:dave@example.com","sip:alice@example.com"]'
ok policy new --identity tag:nochat --enable-persistent-chat false --description "no chat"
ok --json policy get --identity tag:nochat; expect "$OUT" "enable_persistent_chat" "false"; expect "$OUT" "description" "no chat"
ok policy get --identity global
[ "$(grep -c . <<<"$OUT")" -eq 2 ] && grep -q "^global " <<<"$OUT" || fail "policy get --identity global: $OUT"
refused "not found" policy get --identity tag:absent
ok policy grant --user dave@example.com --policy nochat
ok --json user get --uri dave@example.com; expect "$OUT" "policy" "nochat"; expect "$OUT" "chat_enabled" "false"
ok principal eligible --list group:desk
[[ "$OUT" == *"sip:dave@example.com"* && "$OUT" == *"sip:alice@example.com"* && "$OUT" != *"bob"* ]] || fail "eligible: $OUT"

# ---- add-ins, files, config, compliance, status, messages
ok addin new --name Ticker --url https://addins.example.com/t
ok addin new --name Clock --url https://addins.example.com/c
ok --json addin get --name Ticker
[ "$(python3 -c 'import json,sys; print(len(json.loads(sys.argv[1])))' "$OUT")" = 1 ] || fail "addin get --name: $OUT"
ok file get --room "$URI"
[[ "$OUT" == Id*Name*Size*Uploader*Uploaded* ]] || fail "file get header: $OUT"
refused "no file" file remove --room "Audit Room" --id 7
ok --json status get; expect "$OUT" "domain" "example.com"
ok config get --identity global; grep -Eq "^default_chat_history +30 +default" <<<"$OUT" || fail "config get: $OUT"
refused "DefaultChatHistory" config set --default-chat-history 501
ok compliance get; grep -Eq "^adapter_type +xml +default" <<<"$OUT" || fail "compliance get: $OUT"
ok compliance status
ok --json message remove --room "$URI" --contains nothing --user alice@example.com; expect "$OUT" "replaced" "0"
refused "no such room" message remove --room Nope
ok --json search --query nothing --room "$URI"; expect "$OUT" "results" "[]"
ok export --file "$WORK/a.jsonl" --category "$CAT_URI"; grep -q "Audit Room" "$WORK/a.jsonl" || fail "export --category by URI lacks the room"
ok --json export --file "$WORK/b.jsonl" --category Demo; grep -q "Audit Room" "$WORK/b.jsonl" && fail "export --category Demo holds Audit Room"
ok --json import --file "$WORK/a.jsonl" --what-if
# ---- test users (Set-CsTestUserCredential) and test message: existing users only, never a
# room of its own choosing, nothing created behind the admin's back
PA="$(sed -n 's/^demo-user=alice@example.com password=//p' "$WORK/out")"
PB="$(sed -n 's/^demo-user=bob@example.com password=//p' "$WORK/out")"
[ -n "$PA" ] && [ -n "$PB" ] || fail "no demo passwords in pchatd's output"
CF="$WORK/creds/test.json"
refused "pchatctl test credential set --user1" test message --credential-file "$CF"
PCHATCTL_TEST_CREDENTIALS="$CF" "${C[@]}" test message >/dev/null 2>"$WORK/cerr"; [ $? -eq 1 ] || fail "test message without a set: not exit 1"
usage "--bogus" test message --bogus x --credential-file "$CF"
usage "--user1" test credential set --user2 bob@example.com --room "Demo Room" --credential-file "$CF"
usage "--frobnicate" test credential set --frobnicate 1
usage "--room: must not be empty" test message --room "" --credential-file "$CF"
usage "credential" test credential
refused "no user sip:nobody@example.com" test credential set --user1 nobody@example.com --password1 x \
  --user2 bob@example.com --password2 y --room "Demo Room" --credential-file "$CF"
refused "no room" test credential set --user1 alice@example.com --password1 x --user2 bob@example.com \
  --password2 y --room "No Such Room" --credential-file "$CF"
ok room new --name "Closed Test" --category Demo --privacy closed --members sip:alice@example.com
refused "sip:bob@example.com is not a member of the closed room" test credential set --user1 alice@example.com \
  --password1 x --user2 bob@example.com --password2 y --room "Closed Test" --credential-file "$CF"
[ -e "$CF" ] && fail "a refused set wrote $CF"
ok --json user get; USERS_BEFORE="$OUT"
ok test credential set --user1 alice@example.com --password1 "$PA" --user2 sip:bob@example.com \
  --password2 "$PB" --room "Demo Room" --credential-file "$CF"
[[ "$OUT" == *"sip:alice@example.com"* && "$OUT" != *"$PA"* ]] || fail "credential set shows: $OUT"
[ "$(stat -c %a "$CF")" = 600 ] || fail "$CF is not mode 600"
ok --json test credential get --credential-file "$CF"; expect "$OUT" "user2" "sip:bob@example.com"
[[ "$OUT" != *"$PB"* ]] || fail "credential get shows a password"
ok test message --credential-file "$CF"; [[ "$OUT" == *Success* ]] || fail "test message: $OUT"
ok --json test message --credential-file "$CF"; expect "$OUT" "success" "true"
ok --json user get; [ "$OUT" = "$USERS_BEFORE" ] || fail "test message changed the users"
# A wrong password fails at sign-in (exit 1), and an explicit closed room is the admin's choice.
ok test credential set --user1 alice@example.com --password1 "$PA" --user2 bob@example.com \
  --password2 wrong --room "Demo Room" --credential-file "$CF"
OUT="$("${C[@]}" test message --credential-file "$CF" --timeout 5 2>&1)"; [ $? -eq 1 ] || fail "wrong password: not exit 1"
[[ "$OUT" == *"sign-in failed"* && "$OUT" == *Failure* ]] || fail "wrong password: $OUT"
ok test credential set --user1 alice@example.com --password1 "$PA" --user2 bob@example.com \
  --password2 "$PB" --room "Demo Room" --credential-file "$CF"
OUT="$("${C[@]}" test message --room "Closed Test" --credential-file "$CF" --timeout 5 2>&1)"; [ $? -eq 1 ] || fail "closed room: not exit 1"
[[ "$OUT" == *"join refused with code 403"* ]] || fail "closed room: $OUT"
ok test credential remove --credential-file "$CF"
refused "no test users are set" test credential get --credential-file "$CF"
ok room remove --identity "Closed Test"

# Global options after the command too.
ok room get --identity "$ID" --json; expect "$OUT" "id" "$ID"
# Removal by URI.
ok room remove --identity "$URI"
refused "no room" room get --identity "$ID"
ok category remove --identity "$CAT_URI"
kill -TERM $PID; wait $PID; PID=""
echo "cli commands: all checks passed"
