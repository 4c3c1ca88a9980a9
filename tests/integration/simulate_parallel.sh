#!/bin/bash
# ipw simulate's pipeline parallelism (pp_size > 1) and P/D disaggregation checked by hand
# against the single-instance run, whose numbers the reference output pins
# (docs/sim-fidelity.md says what is verified), and invariants of the 300-request ShareGPT
# trace under PP, TP x PP and P/D.
# usage: simulate_parallel.sh IPW_BIN SOURCE_DIR WORK_DIR
set -u
. "$(dirname "$0")/sim_support.sh" "$@"
itl() { awk -F'"' 'NR == 2 {gsub(/[][ ]/, "", $2); print $2}' "$1"; }

ONE=$FIX/one_request.jsonl # input 10 tokens, 4 generated, arrival 46,926,808 ns

# 1. one request through 4 stages (single_node_pp_instance: pp 4, tp 1, Llama-3.1-8B, 32
#    layers = 8 per stage). The single-stage numbers are the reference's request 0 (alone
#    for its first 300 ms): a 10-token prefill 10,998,250 ns, a decode at 10-16 tokens of
#    context 11,146,817 ns. PP adds:
#    - 3 stage-to-stage SENDs of the hidden state (tokens x 4096 x 2 bytes) at 16 GB/s
#      (16 x 2^30 / 1e9 = 17.179869184 bytes/ns) after a 20,000 ns hop:
#      prefill: 20000 + 81920 / 17.179869184 = 24768.37 -> 24,768 ns
#      decode:  20000 +  8192 / 17.179869184 = 20476.84 -> 20,476 ns
#    - 1 ms before each decode: the last stage completes a batch after the first stage's NPU
#      was polled at that time, and with nothing else running ASTRA-Sim's next poll is its
#      1 ms idle step.
#    TTFT = 10,998,250 + 3 x 24,768 = 11,072,554
#    ITL  = 11,146,817 + 3 x 20,476 + 1,000,000 = 12,208,245 (x 3)
#    end  = 46,926,808 + 11,072,554 + 3 x 12,208,245 = 94,624,097; latency 47,697,289
#    TPOT = (47,697,289 - 11,072,554) // 3 = 12,208,245; total clock = end + 1 ms
"$IPW" simulate --cluster-config single_node_single_instance.json --dataset "$ONE" --output one1.csv \
    > one1.log || err "single-stage run failed"
[ "$(col one1.csv 0 10)" = 10998250 ] || err "single-stage TTFT $(col one1.csv 0 10), not the reference's 10998250"
[ "$(itl one1.csv)" = "11146817,11146817,11146817" ] || err "single-stage ITL $(itl one1.csv)"
"$IPW" simulate --cluster-config single_node_pp_instance.json --dataset "$ONE" --output pp.csv \
    > pp.log || err "PP run failed"
expect_row() { # expect_row CSV "instance,id,model,input,output,arrival,end,latency,queue,TTFT,TPOT"
    local got
    got=$(awk -F, 'NR == 2 {print $1","$2","$3","$4","$5","$6","$7","$8","$9","$10","$11}' "$1")
    [ "$got" = "$2" ] || err "$1: row '$got', expected '$2'"
}
expect_row pp.csv "0,0,meta-llama/Llama-3.1-8B,10,4,46926808,94624097,47697289,0,11072554,12208245"
[ "$(itl pp.csv)" = "12208245,12208245,12208245" ] || err "PP ITL $(itl pp.csv)"
grep -q "^Total clocks (ns): *95624097$" pp.log || err "PP total clock (end + 1 ms)"

# 2. TP x PP (single_node_tp_pp_instance: tp 2, pp 2) against one TP-2 stage
#    (tests/fixtures/sim/tp2_instance.json, the same instance with pp 1): each stage runs
#    16 of the 32 layers with the tp2 tables and their all-reduces, so the stages add one
#    SEND (each rank sends its full hidden state to its peer in the next stage); the 1 ms
#    idle poll before each decode is in both (a TP-2 batch, too, is completed by its last
#    NPU after the first was polled):
#    TTFT = TTFT(tp2) + 24,768; ITL = ITL(tp2) + 20,476
"$IPW" simulate --cluster-config "$FIX/tp2_instance.json" --dataset "$ONE" --output tp2.csv \
    > tp2.log || err "TP-2 run failed"
"$IPW" simulate --cluster-config single_node_tp_pp_instance.json --dataset "$ONE" --output tpp.csv \
    > tpp.log || err "TP x PP run failed"
# the TP-2 run itself: the same prefill, and each decode 1 ms after the previous completion
one_itl=$(itl tp2.csv | cut -d, -f1)
[ "$(col tp2.csv 0 7)" = $((46926808 + $(col tp2.csv 0 10) + 3 * one_itl)) ] || err "TP-2 row inconsistent"
t2=$(col tp2.csv 0 10)
[ -n "$t2" ] && [ "$(col tpp.csv 0 10)" = $((t2 + 24768)) ] || err "TP x PP TTFT $(col tpp.csv 0 10) vs TP-2 $t2 + 24768"
want=$(itl tp2.csv | tr ',' '\n' | awk '{printf "%s%d", (NR > 1 ? "," : ""), $1 + 20476}')
[ "$(itl tpp.csv)" = "$want" ] || err "TP x PP ITL $(itl tpp.csv), expected $want"

# 3. P/D (single_node_pd_instance: a prefill and a decode instance, tp 1). The prefill
#    instance sends the output (the sampler's 10 x 4 = 40 bytes) to its receiver instead of
#    storing it to host memory (40 / 256 GB/s = 0 ns, latency 0):
#    20000 + 40 / 17.179869184 = 20002.33 -> 20,002 ns; its K/V sends (2 x 8 x 128 x 10 x 2
#    = 40,960 bytes per layer, 22,384 ns) arrive long before. The batch completes when the
#    receiver is done, and the decode instance (polled after it) takes the request at once:
#    TTFT = 10,998,250 + 20,002 = 11,018,252; ITL = 11,146,817 (x 3);
#    end = 46,926,808 + 11,018,252 + 33,440,451 = 91,385,511; latency 44,458,703;
#    TPOT = 33,440,451 // 3 = 11,146,817; the row is the decode instance's (1); the first
#    token is counted by neither side (the original's bookkeeping): 3 generated tokens.
for cfg in single_node_pd_instance single_node_pd_per_instance_config; do
    "$IPW" simulate --cluster-config $cfg.json --dataset "$ONE" --output pd.csv > pd.log ||
        err "$cfg: one-request run failed"
    expect_row pd.csv "1,0,meta-llama/Llama-3.1-8B,10,4,46926808,91385511,44458703,0,11018252,11146817"
    [ "$(itl pd.csv)" = "11146817,11146817,11146817" ] || err "$cfg: ITL $(itl pd.csv)"
    grep -q "^Total clocks (ns): *91385511$" pd.log || err "$cfg: total clock"
    grep -q "^Total generated tokens: *3$" pd.log || err "$cfg: generated tokens"
done

# 4. invariants on the 300-request ShareGPT trace: every request finishes once, the row's
#    numbers agree with each other, the clock ends 1 ms after the last request (the done
#    test needs two of the instance's NPUs), and with a power block the devices sum to the
#    node's total
SG=$DATA/workloads/sharegpt-llama-3.1-8b-300-sps10.jsonl
for cfg in single_node_pp_instance single_node_tp_pp_instance single_node_pd_instance \
    single_node_pd_per_instance_config; do
    "$IPW" simulate --cluster-config $cfg.json --dataset "$SG" --output $cfg.csv --summary $cfg.summary.json \
        > $cfg.log || { err "$cfg: ShareGPT run failed"; continue; }
    awk -F, 'NR > 1 {print $2}' $cfg.csv | sort -n | uniq -c | awk '$1 != 1 {bad=1} END {exit bad}' ||
        err "$cfg: a request appears more than once"
    [ "$(awk -F, 'NR > 1' $cfg.csv | wc -l)" = 300 ] || err "$cfg: not 300 rows"
    awk -F'"' 'NR > 1 {split($1, a, ","); n = split($2, g, ", ");
        if (a[8] != a[7] - a[6] || a[10] > a[8] || a[9] < 0 || (a[5] > 1 && n != a[5] - 1) ||
            (a[5] > 1 && a[11] != int((a[8] - a[10]) / (a[5] - 1)))) {print "row " NR ": " $1; bad = 1}}
        END {exit bad}' $cfg.csv || err "$cfg: inconsistent rows"
    last=$(awk -F, 'NR > 1 && $7 > m {m = $7} END {print m}' $cfg.csv)
    case $cfg in
    *pd*) # every row is the decode instance's; the run ends with its last request
        [ "$(awk -F, 'NR > 1 && $1 != 1' $cfg.csv | wc -l)" = 0 ] || err "$cfg: a row not from the decode instance"
        grep -q "^Total clocks (ns): *$last$" $cfg.log || err "$cfg: total clock is not the last end" ;;
    *)
        grep -q "^Total clocks (ns): *$((last + 1000000))$" $cfg.log || err "$cfg: total clock is not the last end + 1 ms"
        grep -q "Running Instance\[0\]: .* Total # 4 NPUs" $cfg.log || err "$cfg: heartbeat NPU count" ;;
    esac
done
python3 - "$DATA/configs/cluster/single_node_power_instance.json" > pp_power.json <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
i = c["nodes"][0]["instances"][0]
i.update(num_npus=4, tp_size=1, pp_size=4)
print(json.dumps(c))
PY
"$IPW" simulate --cluster-config pp_power.json --dataset "$DATA/workloads/example_trace.jsonl" \
    --output ppw.csv --summary ppw.json > ppw.log || err "PP power run failed"
python3 - ppw.json <<'PY' || err "PP power: the devices do not sum to the node total"
import json, sys
s = json.load(open(sys.argv[1]))
assert s["power_modelled"] and s["nodes"]
for n in s["nodes"]:
    e = n["energy_j"]
    parts = sum(e[k] for k in ("base", "npu", "cpu", "memory", "link", "nic", "storage"))
    assert abs(parts - e["total"]) < 1e-6 * max(1.0, e["total"]), (parts, e["total"])
PY
"$IPW" simulate --cluster-config pp_power.json --dataset "$DATA/workloads/example_trace.jsonl" \
    --output ppw2.csv --fix-pp-link-bytes > ppw2.log || err "PP power run with --fix-pp-link-bytes failed"
cmp -s ppw.csv ppw2.csv || err "--fix-pp-link-bytes changed the timeline"
# P/D with a power block: the devices sum to the total; --fix-pd-link-bytes takes the
# end-of-trace double count out of the link energy and leaves the timeline alone
python3 - "$DATA/configs/cluster/single_node_power_instance.json" "$DATA/configs/cluster/single_node_pd_instance.json" > pd_power.json <<'PY'
import json, sys
power = json.load(open(sys.argv[1]))["nodes"][0]["power"]
c = json.load(open(sys.argv[2]))
c["nodes"][0]["power"] = power
print(json.dumps(c))
PY
"$IPW" simulate --cluster-config pd_power.json --dataset "$SG" --output pdw.csv --summary pdw.json > pdw.log ||
    err "P/D power run failed"
"$IPW" simulate --cluster-config pd_power.json --dataset "$SG" --output pdw2.csv --summary pdw2.json \
    --fix-pd-link-bytes > pdw2.log || err "P/D power run with --fix-pd-link-bytes failed"
cmp -s pdw.csv pdw2.csv || err "--fix-pd-link-bytes changed the timeline"
python3 - pdw.json pdw2.json <<'PY' || err "P/D power: devices do not sum, or the fix did not lower the link energy"
import json, sys
a, b = (json.load(open(p))["nodes"][0]["energy_j"] for p in sys.argv[1:3])
for e in (a, b):
    parts = sum(e[k] for k in ("base", "npu", "cpu", "memory", "link", "nic", "storage"))
    assert abs(parts - e["total"]) < 1e-6 * e["total"], (parts, e["total"])
assert b["link"] < a["link"], (a["link"], b["link"])
PY

exit $fail
