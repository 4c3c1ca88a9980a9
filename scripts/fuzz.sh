#!/usr/bin/env bash
# The fuzzing campaign: builds every fuzz/fuzz_<name>.c as a libFuzzer program with ASan and
# UBSan (clang, build-fuzz/), runs each target for a bounded time or number of executions over
# its corpus in fuzz/corpus/<name>/, adds to that corpus only the new inputs that reach code
# the corpus did not (-merge=1, so it stays small), keeps crashes in build-fuzz/crashes/, and prints one
# line of figures per target (executions, coverage, corpus size, crashes, the machine's load
# average at the start and the end: other work slows a nice-19 fuzzer) for docs/testing.md.
#
# usage: scripts/fuzz.sh [-t SECONDS] [-n RUNS] [-x] [TARGET...]
#   -t SECONDS  time per target (default 300); the issue's full campaign is -t 3600
#   -n RUNS     stop a target after RUNS executions instead (e.g. -n 10000000)
#   -x          do not rebuild build-fuzz
#   TARGET      names without the fuzz_ prefix (default: every fuzz/fuzz_*.c)
# Runs at nice 19: the campaign yields to everything else on the machine.
# Exit status: 0 when no target crashed, 1 otherwise, 2 for a usage error.
set -uo pipefail
cd "$(dirname "$0")/.."

secs=300
runs=-1
build=1
while getopts "t:n:xh" opt; do
    case $opt in
    t) secs=$OPTARG ;;
    n) runs=$OPTARG ;;
    x) build=0 ;;
    *) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
    esac
done
shift $((OPTIND - 1))
case $secs$runs in *[!0-9-]*) echo "fuzz.sh: -t and -n take numbers" >&2; exit 2 ;; esac

if [ "$#" -gt 0 ]; then
    targets=("$@")
else
    targets=()
    for f in fuzz/fuzz_*.c; do
        n=$(basename "$f" .c)
        targets+=("${n#fuzz_}")
    done
fi
for t in "${targets[@]}"; do
    if [ ! -f "fuzz/fuzz_$t.c" ]; then
        echo "fuzz.sh: no fuzz target '$t' (fuzz/fuzz_$t.c); see ls fuzz/" >&2
        exit 2
    fi
done

if ! command -v clang >/dev/null; then
    echo "fuzz.sh: clang is needed for libFuzzer; install it (apt-get install clang)" >&2
    exit 1
fi
if [ "$build" = 1 ]; then
    CC=clang nice -n 19 cmake -S . -B build-fuzz -DIPW_FUZZ=ON -DIPW_SANITIZE=ON \
        -DIPW_BUILD_TESTS=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null || exit 1
    nice -n 19 cmake --build build-fuzz -j"$(nproc 2>/dev/null || echo 2)" >/dev/null || exit 1
fi

mkdir -p build-fuzz/crashes build-fuzz/logs
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export IPW_LOG_LEVEL=error
status=0
printf '%-18s %8s %12s %8s %8s %8s %8s %-11s %s\n' target seconds execs exec/s cov ft corpus load crashes
for t in "${targets[@]}"; do
    bin=build-fuzz/fuzz/fuzz_$t
    corpus=fuzz/corpus/$t
    log=build-fuzz/logs/$t.log
    found=$(mktemp -d)
    mkdir -p "$corpus"
    start=$(date +%s)
    load0=$(cut -d' ' -f1 /proc/loadavg)
    # found/ first: libFuzzer writes new inputs to the first corpus directory
    nice -n 19 "$bin" -max_total_time="$secs" -runs="$runs" -print_final_stats=1 \
        -artifact_prefix="build-fuzz/crashes/$t-" -timeout=25 -rss_limit_mb=2048 \
        "$found" "$corpus" >"$log" 2>&1
    rc=$?
    took=$(($(date +%s) - start))
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
    ft=$(grep -o 'ft: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
    # keep the corpus small: of what this run found, only the inputs that add coverage to the
    # corpus join it (-merge=1); the named seeds already there stay
    nice -n 19 "$bin" -merge=1 "$corpus" "$found" >>"$log" 2>&1
    rm -rf "$found"
    crashes=$(find build-fuzz/crashes -name "$t-*" | wc -l)
    if [ "$rc" -ne 0 ] || [ "$crashes" -gt 0 ]; then
        status=1
    fi
    printf '%-18s %8s %12s %8s %8s %8s %8s %-11s %s\n' "$t" "$took" "${execs:-?}" "${rate:-?}" \
        "${cov:-?}" "${ft:-?}" "$(ls "$corpus" | wc -l)" "$load0-$(cut -d' ' -f1 /proc/loadavg)" \
        "$crashes$([ "$rc" -ne 0 ] && echo " (exit $rc, see $log)")"
done
exit $status
