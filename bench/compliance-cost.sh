#!/usr/bin/env bash
# The cost of compliance on durable post throughput through pchatd (issue 4: under 10 %).
#
#   bench/compliance-cost.sh [ROUNDS=5] [SECONDS=10] [extra pchat-bench arguments...]
#
# Alternates pchat-bench --profile=durable runs against a freshly spawned pchatd with
# compliance off and on (same binary, same machine, same command otherwise), so drift in
# disk latency and machine load hits both modes alike, and prints every round and the
# medians (ack_p99_ms: the first "p99" of the report, its ack latency). With compliance
# on, every acknowledged post also stages its CHAT event in the
# post's own synced write; the runner delivers every RunInterval (15 min), off the post path.
# Loopback only; each pchat-bench run stops by itself (--timeout).
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-5}
seconds=${2:-10}
shift $(($# > 2 ? 2 : $#))
bench=build/bin/pchat-bench
server=build/bin/pchatd
[[ -x $bench && -x $server ]] || { echo "build first: scripts/build.sh pchat-bench pchatd" >&2; exit 2; }

# One figure from pchat-bench's --json report (numbers only).
field() { grep -m1 -o "\"$1\": *[-0-9.e+]*" "$2" | sed 's/.*: *//' || true; }

median() { sort -g | awk '{v[NR]=$1} END {print (NR % 2) ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2}'; }

out=$(mktemp -d /tmp/pchat-compliance-cost-XXXXXX)
trap 'rm -rf "$out"' EXIT
echo "# bench/compliance-cost.sh $rounds $seconds $*"
printf "%-6s %-4s %14s %12s %6s\n" round mode posts/s ack_p99_ms lost
for r in $(seq 1 "$rounds"); do
  for mode in off on; do
    args=(--spawn-server="$server" --spawn-arg=--auth=none --profile=durable
          --duration="$seconds" --no-ceilings --json "$@")
    [[ $mode == on ]] && args+=(--spawn-arg=--compliance-enabled=true)
    "$bench" "${args[@]}" >"$out/$r.$mode.json" 2>"$out/$r.$mode.err" ||
      { echo "pchat-bench failed (round $r, $mode):" >&2; tail -5 "$out/$r.$mode.err" >&2; exit 1; }
    rate=$(field posts_per_s "$out/$r.$mode.json")
    p99=$(field p99 "$out/$r.$mode.json")
    lost=$(field lost "$out/$r.$mode.json")
    printf '%-6s %-4s %14.0f %12s %6s\n' "$r" "$mode" "$rate" "${p99:-?}" "$lost"
    echo "$rate" >>"$out/$mode.rates"
  done
done
off=$(median <"$out/off.rates")
on=$(median <"$out/on.rates")
awk -v off="$off" -v on="$on" 'BEGIN {
  printf "median: off %.0f posts/s, on %.0f posts/s, cost %.1f %%\n", off, on, 100 * (off - on) / off }'
