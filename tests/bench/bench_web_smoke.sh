#!/usr/bin/env bash
# bench_web_smoke.sh PCHAT_BENCH PCHATD: pchat-bench's browsers (--route=web) end to end,
# never a measurement (docs/PERFORMANCE.md has those): 12 browsers in one room posting for
# 2 s, then a room of 8 SIP clients and 8 browsers (--web-share=0.5), each against a pchatd
# the bench spawns with its default Digest authentication. Every user must sign in, every
# post be acknowledged and reach every member (SIP and browser alike), none twice.
set -uo pipefail
BENCH="$1"; PCHATD="$2"
OUT="$(mktemp /tmp/pchat-bench-web-smoke.XXXXXX)"
trap 'rm -f "$OUT" "$OUT.err"' EXIT
fail() { echo "FAIL: $*"; echo "--- stdout"; cat "$OUT"; echo "--- stderr"; tail -40 "$OUT.err"; exit 1; }

check() {  # check USERS MIXED
  python3 - "$OUT" "$1" "$2" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
users, mixed = int(sys.argv[2]), sys.argv[3] == "mixed"
problems = []
if r["clients"] != users: problems.append("%s of %d users signed in" % (r["clients"], users))
if r["lost"] != 0: problems.append("%s deliveries lost" % r["lost"])
if r["duplicated"] != 0: problems.append("%s deliveries duplicated" % r["duplicated"])
if r["errors"] != 0: problems.append("%s errors: %s" % (r["errors"], r.get("error_samples")))
if not r["deliveries"] > 0: problems.append("no deliveries")
d = r.get("details", {})
if d.get("web_users") != (users // 2 if mixed else users):
    problems.append("web_users is %r" % d.get("web_users"))
if d.get("posts_unanswered", 1) != 0: problems.append("%r posts unanswered" % d.get("posts_unanswered"))
if mixed:
    split = d.get("latency_by_receiver", {})
    for kind in ("sip", "web"):
        if not split.get(kind, {}).get("deliveries", 0) > 0:
            problems.append("no deliveries to %s members: %r" % (kind, split))
if problems:
    sys.exit("; ".join(problems))
print("web bench smoke (%s): %d users, %d posts, %d deliveries, p99 %.1f ms, lost 0, duplicated 0"
      % (r["route"], r["clients"], r["posts"], r["deliveries"], r["latency_ms"]["p99"]))
PY
}

"$BENCH" --spawn-server="$PCHATD" --profile=big-room --route=web --users=12 --rate=20 --duration=2 \
  --timeout=60 --json >"$OUT" 2>"$OUT.err" || fail "pchat-bench --route=web exited with $?"
check 12 web || fail "report check (--route=web)"

"$BENCH" --spawn-server="$PCHATD" --profile=ceiling --route=direct --web-share=0.5 --users=16 --rooms=1 \
  --rate=20 --step-seconds=2 --duration=2 --no-ceilings --timeout=60 --json >"$OUT" 2>"$OUT.err" ||
  fail "pchat-bench --web-share=0.5 exited with $?"
check 16 mixed || fail "report check (--web-share=0.5)"
