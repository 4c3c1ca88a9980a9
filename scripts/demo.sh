#!/usr/bin/env bash
# Installs the build dependencies, builds ipw, and runs its main job here: profile 20 queries of
# the built-in dataset, then analyse, plot and report. With no arguments it uses the built-in
# `sim` backend (no server, no power counters: modelled, and labelled so); with arguments they
# go to `ipw profile` instead, e.g.
#   ./scripts/demo.sh --client ollama --model llama3.2:1b
#   ./scripts/demo.sh --client vllm --model meta-llama/Llama-3.1-8B-Instruct
set -euo pipefail
cd "$(dirname "$0")/.."
# The install and build logs go to a file: the demo's output is its results. A failure shows
# the log's last lines and where the whole log is.
mkdir -p build
build_log=./build/demo-build.log
quiet() {
  if ! "$@" >>"$build_log" 2>&1; then
    echo "demo: '$*' failed; the last lines of $build_log:" >&2
    tail -n 30 "$build_log" >&2
    exit 1
  fi
}
: >"$build_log"
quiet ./scripts/install-deps.sh --build-only
quiet cmake -S . -B build
# only the two programs: the tests, fuzz targets and benchmarks are scripts/test.sh's job
quiet cmake --build build -j"$(nproc 2>/dev/null || echo 2)" --target ipw energy-monitor
echo "built ipw and energy-monitor in ./build (log: $build_log)"

if [ $# -eq 0 ]; then
  set -- --client sim --model llama-3.1-8b --client-param hardware=H100
fi
out=./runs
./build/ipw profile "$@" --max-queries 20 --seed 1 --client-param max_tokens=256 \
  --output-dir "$out" --overwrite | tee /tmp/ipw-demo.$$.log
run_dir=$(sed -n 's/^run directory: //p' /tmp/ipw-demo.$$.log | head -n 1)
rm -f /tmp/ipw-demo.$$.log
./build/ipw plot "$run_dir"
./build/ipw report "$run_dir"
echo
echo "results: $run_dir (records.jsonl, Arrow dataset, summary.json, analysis/, plots/)"
echo "report:  $run_dir/report.html"
