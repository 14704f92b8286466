#!/usr/bin/env bash
# Checks the folder layers, installs dependencies, builds everything and runs every test
# through ctest.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
"$ROOT/scripts/install-deps.sh"
# The folder layers first: a new include cycle fails in a second, before the build.
"$ROOT/scripts/check-layers.py" --self-test
"$ROOT/scripts/check-layers.py" --root "$ROOT"
"$ROOT/scripts/build.sh"
cd "$ROOT/build"
ctest --output-on-failure --timeout 300 -j 2 "$@"
