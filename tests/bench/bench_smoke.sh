#!/usr/bin/env bash
# bench_smoke.sh PCHAT_BENCH PCHATD: a tiny ceiling run (60 users, 2 rooms, 3 s) against a
# pchatd the bench spawns on free ports; the JSON report must have every key issue 5 names,
# and nothing may be lost or duplicated.
set -uo pipefail
BENCH="$1"; PCHATD="$2"
OUT="$(mktemp /tmp/pchat-bench-smoke.XXXXXX)"
trap 'rm -f "$OUT" "$OUT.err"' EXIT
fail() { echo "FAIL: $*"; echo "--- stdout"; cat "$OUT"; echo "--- stderr"; tail -40 "$OUT.err"; exit 1; }

# The bench does not provision users yet (admin_client::ensure_users is the seam): a pchatd
# with Digest authentication runs with --auth=none here.
EXTRA=()
if "$PCHATD" --help 2>&1 | grep -q -- '--auth='; then EXTRA+=(--spawn-arg=--auth=none); fi

"$BENCH" --spawn-server="$PCHATD" "${EXTRA[@]}" --profile=ceiling --users=60 --rooms=2 \
  --duration=3 --timeout=90 --json >"$OUT" 2>"$OUT.err" || fail "pchat-bench exited with $?"

python3 - "$OUT" <<'PY' || fail "report check"
import json, sys
r = json.load(open(sys.argv[1]))
required = ["profile", "clients", "posts_per_s", "deliveries_per_s", "latency_ms", "join_ms",
            "lost", "duplicated", "sip_503", "errors", "server_rss_kb", "rss_kb_per_session",
            "sip_ceiling_per_s", "ceiling_ratio"]
missing = [k for k in required if k not in r]
missing += ["latency_ms." + k for k in ("p50", "p99", "p999") if k not in r.get("latency_ms", {})]
missing += ["join_ms." + k for k in ("p50", "p99") if k not in r.get("join_ms", {})]
if missing:
    sys.exit("missing keys: " + ", ".join(missing))
problems = []
if r["profile"] != "ceiling": problems.append("profile is %r" % r["profile"])
if r["clients"] != 60: problems.append("%s of 60 clients signed in" % r["clients"])
if r["lost"] != 0: problems.append("%s deliveries lost" % r["lost"])
if r["duplicated"] != 0: problems.append("%s deliveries duplicated" % r["duplicated"])
if not r["deliveries_per_s"] > 0: problems.append("no deliveries")
if not r["server_rss_kb"] > 0: problems.append("no server RSS")
if problems:
    sys.exit("; ".join(problems))
print("bench smoke: %d clients, %.0f posts/s, %.0f deliveries/s, p99 %.1f ms, lost 0, duplicated 0"
      % (r["clients"], r["posts_per_s"], r["deliveries_per_s"], r["latency_ms"]["p99"]))
PY
