#!/bin/bash
# ipw simulate's weights off the NPU (placement "cpu" / "cxl:<id>") checked by hand against the
# bundled tables and configs (docs/sim-fidelity.md, "Weights on CPU or CXL memory"), the
# all-NPU memory-placement config against the reference output, and invariants of the
# ShareGPT trace.
# usage: simulate_memq.sh IPW_BIN SOURCE_DIR WORK_DIR
set -u
. "$(dirname "$0")/sim_support.sh" "$@"
itl() { awk -F'"' 'NR == 2 {gsub(/[][ ]/, "", $2); print $2}' "$1"; }
ONE=$FIX/one_request.jsonl # input 10 tokens, 4 generated, arrival 46,926,808 ns

# Weight bytes per layer (Llama-3.1-8B, bf16, one rank; hidden 4096, 32 heads, 8 KV heads of
# 128, FFN 14336, vocab 128256): layernorm 8,192; qkv_proj 4096 x 6144 x 2 = 50,331,648;
# o_proj 33,554,432; gate_up_proj 4096 x 28672 x 2 = 234,881,024; down_proj 117,440,512;
# embedding and lm_head 4096 x 128256 x 2 = 1,050,673,152; attention, rotary_emb, act_fn and
# the sampler have none. Every load is issued when the batch starts, in layer order, and
# takes mem_latency + trunc(bytes / mem_bw) in its device's queue; a layer computes when the
# layer before it is done and its weights have arrived.
# lm_head at 1 sequence = 714.006 us -> 714,006 ns; sampler 24.746 us -> 24,746 ns
# (tp1/per_sequence.csv).

# 1. single_node_cxl_instance (cxl_mem 60 GB/s, 250 ns, 4 devices). cxl:3 holds blocks 11-23
#    and lm_head, the longest queue: per block 2 x (250 + 136) + (250 + 838,860) +
#    (250 + 559,240) + (250 + 3,914,683) + (250 + 1,957,341) = 7,271,896 ns; 13 blocks
#    94,534,648; lm_head 250 + 17,511,219 = 17,511,469: the lm_head weights arrive
#    112,046,117 ns after the batch starts, long after the layers before it could run
#    (cxl:0 ends at 87,262,752, cxl:1 at 46,599,053, cxl:2 at 21,816,074; the compute is
#    ~11 ms). Each iteration: 112,046,117 + 714,006 + 24,746 = 112,784,869 (the output's
#    40 bytes at 256 GB/s: 0 ns), prefill and decodes alike.
#    end = 46,926,808 + 4 x 112,784,869 = 498,066,284; latency 451,139,476
"$IPW" simulate --cluster-config single_node_cxl_instance.json --dataset "$ONE" --output cxl.csv > cxl.log ||
    err "CXL one-request run failed"
[ "$(row cxl.csv 0)" = "0,0,meta-llama/Llama-3.1-8B,10,4,46926808,498066284,451139476,0,112784869,112784869" ] ||
    err "CXL row '$(row cxl.csv 0)'"
[ "$(itl cxl.csv)" = "112784869,112784869,112784869" ] || err "CXL ITL $(itl cxl.csv)"
grep -q "^Total clocks (ns): *498066284$" cxl.log || err "CXL total clock"

# 2. every weight on the host memory (tests/fixtures/sim/cpu_weights.json: cpu_mem 256 GB/s,
#    latency 0), one queue: embedding 4,104,192; per block 32 + 32 + 196,608 + 131,072 +
#    917,504 + 458,752 = 1,704,000, x 32 = 54,528,000; final_layernorm 32; lm_head
#    4,104,192: the lm_head weights arrive after 62,736,416 ns (the input, 40 bytes, 0 ns,
#    is first in the queue). Each iteration: 62,736,416 + 714,006 + 24,746 = 63,475,168;
#    end = 46,926,808 + 4 x 63,475,168 = 300,827,480; latency 253,900,672
"$IPW" simulate --cluster-config "$FIX/cpu_weights.json" --dataset "$ONE" --output cpu.csv > cpu.log ||
    err "CPU-weights run failed"
[ "$(row cpu.csv 0)" = "0,0,meta-llama/Llama-3.1-8B,10,4,46926808,300827480,253900672,0,63475168,63475168" ] ||
    err "CPU-weights row '$(row cpu.csv 0)'"

# 3. --enable-local-offloading (and the instance key enable_local_offloading): the weights
#    kept on the NPU are loaded from its own memory too, every load on its own (no queue) at
#    npu_mem 1597 GB/s: embedding 1,050,673,152 / 1597 = 657,904 ns before the first layer
#    can compute; every later load (lm_head also 657,904, gate_up_proj 147,076) has arrived
#    by the time the layers before it are done. No DRAM energy (the weights stay local).
#    TTFT = 10,998,250 + 657,904 = 11,656,154; ITL = 11,146,817 + 657,904 = 11,804,721;
#    end = 46,926,808 + 11,656,154 + 3 x 11,804,721 = 93,997,125; latency 47,070,317
for how in "--cluster-config single_node_single_instance.json --enable-local-offloading" \
    "--cluster-config $FIX/local_offloading.json"; do
    # shellcheck disable=SC2086
    "$IPW" simulate $how --dataset "$ONE" --output lo.csv > lo.log || err "local offloading ($how) failed"
    [ "$(row lo.csv 0)" = "0,0,meta-llama/Llama-3.1-8B,10,4,46926808,93997125,47070317,0,11656154,11804721" ] ||
        err "local offloading ($how): row '$(row lo.csv 0)'"
done

# 4. single_node_memory_instance (every placement entry, all on the NPU) gives the reference
#    output byte for byte
"$IPW" simulate --cluster-config single_node_memory_instance.json --dataset "$DATA/workloads/example_trace.jsonl" \
    --output mem.csv > mem.log || err "memory-placement run failed"
cmp -s mem.csv "$FIX/example_single_run.csv" || err "memory-placement CSV differs from the reference"

# 5. the CXL config on the ShareGPT trace: every request once, consistent rows, the clock
#    ends with the last request; with a power block the loaded bytes are DRAM energy and the
#    devices sum to the node's total
SG=$DATA/workloads/sharegpt-llama-3.1-8b-300-sps10.jsonl
"$IPW" simulate --cluster-config single_node_cxl_instance.json --dataset "$SG" --output sg.csv > sg.log ||
    err "CXL ShareGPT run failed"
[ "$(awk -F, 'NR > 1 {print $2}' sg.csv | sort -un | wc -l)" = 300 ] || err "CXL ShareGPT: not 300 distinct requests"
[ "$(awk -F, 'NR > 1' sg.csv | wc -l)" = 300 ] || err "CXL ShareGPT: not 300 rows"
awk -F'"' 'NR > 1 {split($1, a, ","); n = split($2, g, ", ");
    if (a[8] != a[7] - a[6] || a[10] > a[8] || a[9] < 0 || (a[5] > 1 && n != a[5] - 1) ||
        (a[5] > 1 && a[11] != int((a[8] - a[10]) / (a[5] - 1)))) {print "row " NR ": " $1; bad = 1}}
    END {exit bad}' sg.csv || err "CXL ShareGPT: inconsistent rows"
last=$(awk -F, 'NR > 1 && $7 > m {m = $7} END {print m}' sg.csv)
grep -q "^Total clocks (ns): *$last$" sg.log || err "CXL ShareGPT: total clock is not the last end"
python3 - "$DATA/configs/cluster/single_node_power_instance.json" "$DATA/configs/cluster/single_node_cxl_instance.json" <<'PY'
import json, sys
power = json.load(open(sys.argv[1]))["nodes"][0]["power"]
c = json.load(open(sys.argv[2]))
c["nodes"][0]["power"] = power
json.dump(c, open("cxl_power.json", "w"))
PY
"$IPW" simulate --cluster-config cxl_power.json --dataset "$DATA/workloads/example_trace.jsonl" --output w.csv \
    --summary w.json > w.log || err "CXL power run failed"
"$IPW" simulate --cluster-config single_node_cxl_instance.json --dataset "$DATA/workloads/example_trace.jsonl" \
    --output nw.csv > nw.log || err "CXL run failed"
cmp -s w.csv nw.csv || err "CXL: the power block changed the timeline"
python3 - w.json "$DATA/configs/cluster/single_node_power_instance.json" <<'PY' || err "CXL power: devices do not sum or no DRAM energy for the loaded weights"
import json, sys
s = json.load(open(sys.argv[1]))
epb = json.load(open(sys.argv[2]))["nodes"][0]["power"]["dram"]["energy_per_bit"]
e = s["nodes"][0]["energy_j"]
parts = sum(e[k] for k in ("base", "npu", "cpu", "memory", "link", "nic", "storage"))
assert abs(parts - e["total"]) < 1e-6 * e["total"], (parts, e["total"])
# at least one iteration's weights (16,060,522,496 bytes, all off the NPU) per generated token
weights = 16060522496 * epb * 8e-12
assert e["memory"] > weights * 500, (e["memory"], weights)
PY
exit $fail
