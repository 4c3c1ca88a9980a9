#!/usr/bin/env bash
# Installs the build dependencies, builds ipw, and runs its main job on this machine.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh --build-only
cmake -S . -B build >/dev/null
cmake --build build -j"$(nproc 2>/dev/null || echo 2)"
./build/ipw telemetry --local --count 20 --interval 250ms
