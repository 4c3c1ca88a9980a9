#!/usr/bin/env bash
# Installs every dependency, builds ipw twice (plain with -Werror, and with ASan+UBSan) and runs
# the whole test suite in both builds. Benchmarks run once, shortened, so they cannot rot.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc 2>/dev/null || echo 2)

./scripts/install-deps.sh
./scripts/install-test-npm.sh

echo "== build: release + -Werror"
cmake -S . -B build -DIPW_WERROR=ON >/dev/null
cmake --build build -j"$jobs"
echo "== tests: release"
(cd build && ctest --output-on-failure -j"$jobs" -LE bench)

echo "== build: ASan + UBSan"
cmake -S . -B build-asan -DIPW_WERROR=ON -DIPW_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null
cmake --build build-asan -j"$jobs"
echo "== tests: ASan + UBSan"
(cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
   UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
   ctest --output-on-failure -j"$jobs" -LE bench)

echo "== benchmarks (quick mode; figures only, never pass/fail on time)"
(cd build && IPW_BENCH_QUICK=1 ctest --output-on-failure -L bench)
echo "all tests passed"
