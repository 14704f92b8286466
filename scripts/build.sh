#!/usr/bin/env bash
# Configures and builds pchat into ./build (one build tree, ccache-backed).
# Arguments name targets to build (default: everything).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
"$ROOT/scripts/install-deps.sh"
export CCACHE_DIR="${CCACHE_DIR:-$ROOT/.cache/ccache}"
if [ ! -f "$ROOT/build/build.ninja" ]; then
  cmake -S "$ROOT" -B "$ROOT/build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
if [ $# -gt 0 ]; then
  cmake --build "$ROOT/build" -j "$(nproc)" --target "$@"
else
  cmake --build "$ROOT/build" -j "$(nproc)"
fi
