#!/usr/bin/env bash
# Builds Steward (release) and runs the demo of the lifecycle on a temporary
# SQLite store. Installs missing Debian packages first.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
cmake -S . -B build-release -DCMAKE_BUILD_TYPE=Release -DSTW_TESTS=OFF >/dev/null
cmake --build build-release -j"$(nproc)" --target steward_cli >/dev/null
exec ./build-release/steward demo "$@"
