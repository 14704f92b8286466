#!/usr/bin/env bash
# Installs dependencies, builds everything and runs every test through ctest.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
"$ROOT/scripts/build.sh"
cd "$ROOT/build"
ctest --output-on-failure --timeout 300 -j 2 "$@"
