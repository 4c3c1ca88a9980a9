#!/bin/bash
# ipw simulate's predict modes end to end (issue 14). usage: predict_check.sh IPW SRC WORK
set -u
IPW=$1
SRC=$2
WORK=$3
rm -rf "$WORK"
mkdir -p "$WORK"
cd "$WORK" || exit 1
DATA=$SRC/data/sim
FIX=$SRC/tests/fixtures/predict
T=$DATA/workloads/example_trace.jsonl
fail=0
err() { echo "FAIL: $*"; fail=1; }
NOTE="modelled from roofline, not profiled"

# 1. roofline: hardware and models without a profile bundle simulate, and say so everywhere
for cfg in h100_70b_tp4 mi300x_qwen7b; do
    "$IPW" simulate --cluster-config "$FIX/$cfg.json" --dataset "$T" --output $cfg.csv \
        --summary $cfg.json > $cfg.log 2> $cfg.err || { err "$cfg: exit $?"; cat $cfg.err; }
    grep -q "$NOTE" $cfg.log || err "$cfg: the log lacks the roofline note"
    grep -q "\"perf_model\": \"roofline\"" $cfg.json || err "$cfg: summary perf_model"
    grep -q "\"perf_note\": \"$NOTE\"" $cfg.json || err "$cfg: summary perf_note"
    [ "$(wc -l < $cfg.csv)" -eq 11 ] || err "$cfg: CSV rows"
done
# the bundled hardware with --perf-model roofline, and the tables without it (no note)
"$IPW" simulate --dataset "$T" --perf-model roofline > roof.log || err "roofline run"
grep -q "$NOTE" roof.log || err "--perf-model roofline: no note"
"$IPW" simulate --dataset "$T" > table.log || err "table run"
grep -q "$NOTE" table.log && err "a table run printed the roofline note"

exit $fail
