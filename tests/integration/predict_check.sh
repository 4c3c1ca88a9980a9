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

# 2. calibrate from a sim-client run (real time, short answers): the written spec loads in
#    the simulator and the sim client
"$IPW" profile --client sim --model llama-3.1-8b --max-queries 16 --output-dir runs \
    --client-param max_tokens=20 --no-eval --baseline-seconds 0.2 > profile.log 2>&1 ||
    { err "sim profile run"; tail -5 profile.log; }
RUN=$(ls -d runs/profile_*)
"$IPW" simulate calibrate "$RUN" --out cal.json > cal.log 2> cal.err || { err "calibrate"; cat cal.err; }
grep -q "held-out error      per-query energy" cal.log || err "calibrate: no held-out error"
grep -Eq "decode bytes/s      0\.[5-8]" cal.log || err "calibrate: decode efficiency not near 0.8 (the H100 spec)"
grep -q '"schema": "ipw.hardware/1"' cal.json || err "calibrate: no spec written"
"$IPW" simulate --dataset "$T" --hardware-spec cal.json > calsim.log || err "simulate --hardware-spec"
grep -q "$NOTE" calsim.log || err "--hardware-spec: no roofline note"
"$IPW" profile --client sim --model llama-3.1-8b --max-queries 2 --output-dir runs2 \
    --client-param hardware="$PWD/cal.json" --client-param max_tokens=4 --no-eval \
    --baseline-seconds 0.1 > profile2.log 2>&1 || { err "sim client with the calibrated spec"; tail -3 profile2.log; }
"$IPW" simulate calibrate /nonexistent 2> bad.err; [ $? -eq 1 ] || err "calibrate of a missing run: exit status"
"$IPW" simulate calibrate 2> bad.err; [ $? -eq 2 ] || err "calibrate without a run: exit status"

exit $fail
