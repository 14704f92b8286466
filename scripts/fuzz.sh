#!/usr/bin/env bash
# Builds and runs pchat's libFuzzer targets (tests/fuzz) in their own clang tree, build-fuzz/.
#
#   scripts/fuzz.sh build                  configure and build every target
#   scripts/fuzz.sh list                   the target names
#   scripts/fuzz.sh TARGET SECONDS [ARG..] fuzz TARGET for SECONDS (extra args go to libFuzzer)
#   scripts/fuzz.sh all SECONDS [ARG..]    every target in turn, SECONDS each
#
# Seeds are read from tests/fuzz/corpus/TARGET (checked in, never written); inputs libFuzzer
# finds go to build-fuzz/corpus/TARGET and carry over to the next run. A crash, leak, timeout
# or invariant failure stops the run with exit 1 and leaves the input in
# build-fuzz/artifacts/TARGET/; replay it with `build-fuzz/fuzz_TARGET FILE`, then make it a
# regression test and copy it into the seed corpus. FUZZ_NO_BUILD=1 skips the build step (ctest
# builds once, in its fuzz_build fixture).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
OUT="$ROOT/build-fuzz"
TARGETS=(sip_stream sip_datagram xccos record_codec room_json archive_lines http_request)

# Longest input tried per target: well above every real message in the seeds, small enough
# that each run stays fast (the parsers' own limits are tested by the unit tests).
max_len() {
  case "$1" in
    sip_stream|sip_datagram) echo 8192 ;;
    xccos) echo 16384 ;;
    archive_lines|http_request) echo 8192 ;;
    *) echo 4096 ;;
  esac
}

build() {
  "$ROOT/scripts/install-deps.sh"
  export CCACHE_DIR="${CCACHE_DIR:-$ROOT/.cache/ccache}"
  if [ ! -f "$OUT/build.ninja" ]; then
    cmake -S "$ROOT/tests/fuzz" -B "$OUT" -G Ninja -DCMAKE_BUILD_TYPE=Debug \
      -DCMAKE_C_COMPILER=clang-14 -DCMAKE_CXX_COMPILER=clang++-14 >/dev/null
  fi
  cmake --build "$OUT" -j "$(nproc)"
}

run() {
  local t="$1" secs="$2"
  shift 2
  local bin="$OUT/fuzz_$t"
  [ -x "$bin" ] || { echo "fuzz: no $bin (run scripts/fuzz.sh build)" >&2; exit 2; }
  mkdir -p "$OUT/corpus/$t" "$OUT/artifacts/$t"
  local seeds="$ROOT/tests/fuzz/corpus/$t"
  echo "fuzz: target=$t seconds=$secs max_len=$(max_len "$t")"
  local rc=0
  "$bin" "$OUT/corpus/$t" "$seeds" -max_total_time="$secs" -max_len="$(max_len "$t")" \
    -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$OUT/artifacts/$t/" "$@" 2>&1 | grep -v '^#[0-9]*.*\(NEW\|REDUCE\)' || rc=${PIPESTATUS[0]}
  if [ "$rc" -ne 0 ]; then
    echo "fuzz: target=$t FAILED (exit $rc); input in $OUT/artifacts/$t/:" >&2
    ls -t "$OUT/artifacts/$t/" | head -3 >&2
    return 1
  fi
}

case "${1:-}" in
  build) build ;;
  list) printf '%s\n' "${TARGETS[@]}" ;;
  "" | -h | --help) sed -n '2,15p' "$0"; exit 2 ;;
  *)
    what="$1"
    secs="${2:?give the number of seconds to fuzz}"
    shift 2
    [ "${FUZZ_NO_BUILD:-0}" = 1 ] || build
    if [ "$what" = all ]; then
      failed=0
      for t in "${TARGETS[@]}"; do run "$t" "$secs" "$@" || failed=1; done
      exit "$failed"
    fi
    found=0
    for t in "${TARGETS[@]}"; do [ "$t" = "$what" ] && found=1; done
    [ "$found" = 1 ] || { echo "fuzz: unknown target '$what' (scripts/fuzz.sh list)" >&2; exit 2; }
    run "$what" "$secs" "$@"
    ;;
esac
