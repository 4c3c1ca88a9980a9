#!/bin/bash
# ipw simulate's PIM attention offloading (--enable-attn-offloading) with and without sub-batch
# interleaving, checked by hand against the single-instance run whose numbers the reference
# output pins (docs/sim-fidelity.md), and its bad-input messages.
# usage: simulate_pim.sh IPW_BIN SOURCE_DIR WORK_DIR
set -u
. "$(dirname "$0")/sim_support.sh" "$@"
CFG=$DATA/configs/cluster/single_node_pim_instance.json
itl() { awk -F'"' -v n="${2:-2}" 'NR == n {gsub(/[][ ]/, "", $2); print $2}' "$1"; }
expect_row() { # expect_row CSV LINE "instance,id,model,input,output,arrival,end,latency,queue,TTFT,TPOT"
    local got
    got=$(awk -F, -v n="$2" 'NR == n {print $1","$2","$3","$4","$5","$6","$7","$8","$9","$10","$11}' "$1")
    [ "$got" = "$3" ] || err "$1 line $2: row '$got', expected '$3'"
}

# The PIM device (configs/pim/DDR4_8GB_3200_pim.ini) in 512 GB of host memory, as the
# original's PIMModel computes it:
#   8 banks (2 groups x 4), 64 / 16 = 4 devices per rank, 2,048-byte pages, 65,536 rows:
#   128 MB per bank, 4,096 MB per rank < channel_size 8,192 -> 2 ranks, an 8 GB channel;
#   64 channels; 64 / 8 x 3200 / 1000 = 25.6 GB/s each, 1,638.4 GB/s in all; CL x tCK =
#   22 x 0.63 = 13.86 ns. ASTRA-Sim keeps bandwidth and latency as integers: 1,638 GB/s, 13 ns,
#   and they replace the host memory's (256 GB/s, 0 ns) for every transfer.
# One decode of a request with a 10-token prompt (Llama-3.1-8B: 32 heads, 8 KV heads, 128
# head_dim, bf16) is split over min(64 channels, 8 KV heads) = 8 channels, one op each:
#   latency (333.2538 x 10 + 30675.2739) / 8 = 4250.98 -> 4,250 ns
#   bytes (32 x 128 x 2 + 8 x 128 x 2 x 2) / 8 + (32 x 128 x 2) / 8 = 1,536 + 1,024 = 2,560
#   -> 13 + 2560 / 1638 = 14 ns through the channel: 4,264 ns per layer (8 channels at once).

# 1. one request (input 10, 4 generated) without interleaving. The reference's request 0
#    (alone for its first 300 ms) gives the single-instance numbers: prefill 10,998,250 ns, a
#    decode at 10-12 tokens of context 11,146,817 ns, both with 0-ns host transfers.
#    - prefill: no decode, so no PIM op; the NPU attention after the (empty) PIM block has
#      no parent in the original's converter and runs first, hiding the 13-ns input load;
#      the output store costs 13 + 40 / 1638 = 13 ns: TTFT = 10,998,250 + 13 = 10,998,263.
#    - decode: the NPU attention (n_decode 1, kv 10: clamped to the kv 16 row, 8.35233 us ->
#      8,352 ns) leaves the NPU for the 4,264-ns PIM block, which the NPU waits for; input
#      load 13 + 4 / 1638 = 13 and store 13 ns:
#      ITL = 11,146,817 - 32 x 8,352 + 32 x 4,264 + 13 + 13 = 11,016,027
#    end = 46,926,808 + 10,998,263 + 3 x 11,016,027 = 90,973,152; latency 44,046,344;
#    TPOT = (44,046,344 - 10,998,263) // 3 = 11,016,027.
"$IPW" simulate --cluster-config "$CFG" --enable-attn-offloading --dataset "$FIX/one_request.jsonl" \
    --output one.csv > one.log || err "PIM run failed"
expect_row one.csv 2 "0,0,meta-llama/Llama-3.1-8B,10,4,46926808,90973152,44046344,0,10998263,11016027"
[ "$(itl one.csv)" = "11016027,11016027,11016027" ] || err "PIM ITL $(itl one.csv)"
grep -q "^Total clocks (ns): *90973152$" one.log || err "PIM total clock"
# Memory energy: 64 DIMMs (the PIM channels) at the INI's idle 623 mW = 39.872 W for
# 0.090973152 s = 3.627281 J, plus per decode 256 PIM ops (8 x 32 layers) at (3.803 - 0.623) W
# for 4,250 ns = 0.0034598 J and their 256 x 2,560 bytes at 6 pJ/bit = 0.0000315 J:
# 3.627281 + 3 x 0.0034913 = 3.63776 -> 3.64 (3.63 without the PIM energy)
grep -q "Memory energy consumption (J): *3.64$" one.log || err "PIM memory energy: $(grep 'Memory energy' one.log)"

# --fix-pim-attn-deps: the prefill's NPU attention waits for its rotary_emb, so the input load
# is no longer hidden: TTFT 10,998,263 + 13. --fix-pim-seq-len: the decodes attend over
# 11, 12 and 13 tokens (the context, not the 10-token prompt): + 333.2538 x (1, 2, 3) / 8
# per layer -> latencies 4,292, 4,334, 4,375: ITL 11,016,027 + 32 x (42, 84, 125).
"$IPW" simulate --cluster-config "$CFG" --enable-attn-offloading --fix-pim-attn-deps --fix-pim-seq-len \
    --dataset "$FIX/one_request.jsonl" --output fix.csv > fix.log || err "PIM run with fixes failed"
[ "$(awk -F, 'NR == 2 {print $10}' fix.csv)" = 10998276 ] || err "fixed TTFT $(awk -F, 'NR == 2 {print $10}' fix.csv)"
[ "$(itl fix.csv)" = "11017371,11018715,11020027" ] || err "fixed ITL $(itl fix.csv)"

# 2. sub-batch interleaving with a single request: nothing to split, the plain trace.
"$IPW" simulate --cluster-config "$CFG" --enable-attn-offloading --enable-sub-batch-interleaving \
    --dataset "$FIX/one_request.jsonl" --output one_sb.csv > one_sb.log || err "interleaved run failed"
cmp -s one.csv one_sb.csv || err "one request: interleaving changed the CSV"

# 3. two such requests arriving together, interleaved: each batch splits into one request per
#    sub-batch, and the original's converter leaves the NPU one ordered stream with no idle
#    time: the second sub-batch's first node (its NPU attention, or in a decode its embedding)
#    has no parent and runs while the input load is in flight, and each sub-batch's PIM block
#    (4,264 ns) runs under the other sub-batch's layers. A batch is then twice one request's
#    compute plus the 13-ns store:
#    prefill: 2 x 10,998,250 + 13 = 21,996,513 (TTFT of both)
#    decode:  2 x (11,146,817 - 32 x 8,352) + 13 = 2 x 10,879,553 + 13 = 21,759,119
#    end = 46,926,808 + 21,996,513 + 3 x 21,759,119 = 134,200,678; latency 87,273,870;
#    TPOT = 65,277,357 // 3 = 21,759,119.
"$IPW" simulate --cluster-config "$CFG" --enable-attn-offloading --enable-sub-batch-interleaving \
    --dataset "$FIX/two_requests.jsonl" --output two_sb.csv > two_sb.log || err "interleaved run failed"
expect_row two_sb.csv 2 "0,0,meta-llama/Llama-3.1-8B,10,4,46926808,134200678,87273870,0,21996513,21759119"
expect_row two_sb.csv 3 "0,1,meta-llama/Llama-3.1-8B,10,4,46926808,134200678,87273870,0,21996513,21759119"
[ "$(itl two_sb.csv 3)" = "21759119,21759119,21759119" ] || err "interleaved ITL $(itl two_sb.csv 3)"
#    without interleaving the same two requests are one 20-token batch: faster than two halves
"$IPW" simulate --cluster-config "$CFG" --enable-attn-offloading --dataset "$FIX/two_requests.jsonl" \
    --output two.csv > two.log || err "PIM run of two requests failed"
t2=$(awk -F, 'NR == 2 {print $10}' two.csv)
[ -n "$t2" ] && [ "$t2" -lt 21996513 ] || err "a 20-token PIM prefill ($t2) not faster than two interleaved 10-token ones"

# 4. bad input names the file, the key path and what is allowed
expect() { # expect NAME "text" args...
    local name=$1 text=$2
    shift 2
    "$IPW" simulate "$@" > "bad_$name.out" 2>&1
    local rc=$?
    [ $rc -ne 0 ] || err "$name: exit 0"
    grep -qF -- "$text" "bad_$name.out" || err "$name: no '$text' in: $(cat "bad_$name.out")"
}
sed 's/"pim_config": "DDR4_8GB_3200_pim"/"pim_config": null/' "$CFG" > no_pim.json
expect no_pim "no_pim.json: nodes[0].cpu_mem.pim_config: is missing or not a string" \
    --cluster-config no_pim.json --enable-attn-offloading --dataset "$FIX/one_request.jsonl"
sed 's/DDR4_8GB_3200_pim/DDR5_16GB_pim/' "$CFG" > spec.json
expect spec "nodes[0].cpu_mem.pim_config: 'DDR5_16GB_pim' has no PIM latency model; the original knows" \
    --cluster-config spec.json --enable-attn-offloading --dataset "$FIX/one_request.jsonl"
sed 's/"tp_size": 1/"tp_size": 2/' "$CFG" > tp2.json
expect tp2 "tp2.json: nodes[0].instances[0].tp_size: attention offloading is simulated for tp_size 1" \
    --cluster-config tp2.json --enable-attn-offloading --dataset "$FIX/one_request.jsonl"
sed 's/"tp_size": 1/"tp_size": 1, "enable_sub_batch_interleaving": true/' "$CFG" > sb.json
expect sub_batch "sb.json: nodes[0].instances[0].enable_sub_batch_interleaving: needs attention offloading" \
    --cluster-config sb.json --dataset "$FIX/one_request.jsonl"
sed 's/"tp_size": 1/"tp_size": 1, "enable_attn_offloading": 1/' "$CFG" > flag.json
expect flag_type "flag.json: nodes[0].instances[0].enable_attn_offloading" \
    --cluster-config flag.json --dataset "$FIX/one_request.jsonl"
sed 's/"tp_size": 1/"tp_size": 1, "placement": {"default": {"weights": "cpu"}}/' "$CFG" > place.json
expect placement "place.json: nodes[0].instances[0].placement: weights off the NPU with attention offloading are not simulated" \
    --cluster-config place.json --enable-attn-offloading --dataset "$FIX/one_request.jsonl"
mkdir -p dd/configs/pim
grep -v '^CL' "$DATA/configs/pim/DDR4_8GB_3200_pim.ini" > dd/configs/pim/DDR4_8GB_3200_pim.ini
expect ini_key "DDR4_8GB_3200_pim.ini: key 'CL' is missing" \
    --data-dir dd --cluster-config "$CFG" --enable-attn-offloading --dataset "$FIX/one_request.jsonl"
expect ini_file "dd2/configs/pim/DDR4_8GB_3200_pim.ini: cannot open the PIM config" \
    --data-dir dd2 --cluster-config "$CFG" --enable-attn-offloading --dataset "$FIX/one_request.jsonl"

# MoE: a model config with experts is refused, naming the file and why (docs/sim-fidelity.md)
mkdir -p moedd/configs/model/x
printf '%s' '{"hidden_size":2048,"num_hidden_layers":48,"num_attention_heads":32,"num_key_value_heads":4,' \
    '"head_dim":128,"vocab_size":151936,"intermediate_size":6144,"max_position_embeddings":40960,' \
    '"num_experts":128,"model_type":"qwen3_moe"}' > moedd/configs/model/x/moe.json
sed 's#meta-llama/Llama-3.1-8B#x/moe#' "$DATA/configs/cluster/single_node_single_instance.json" > moe.json
expect moe "moedd/configs/model/x/moe.json: a mixture-of-experts model (128 experts): MoE is not simulated" \
    --data-dir moedd --cluster-config moe.json --dataset "$FIX/one_request.jsonl"

# 5. --log-level INFO: the original's per-batch records, "[HH:MM:SS.mmm] [Component] [tag]
#    INFO     message" (wall-clock time). The power example's 10-token prefill: NPU
#    (600 - 35) W x 10,998,250 ns = 6.214 J, CPU (200 - 10) x (0.7 - 0.15) W x the same =
#    1.149 J, no host or link bytes. A second request 2 s later follows a standby window.
printf '%s\n' '{"input_toks":10,"output_toks":4,"arrival_time_ns":46926808}' \
    '{"input_toks":10,"output_toks":4,"arrival_time_ns":2046926808}' > apart.jsonl
"$IPW" simulate --cluster-config single_node_power_instance.json --dataset apart.jsonl --log-level INFO \
    > info.log || err "INFO run failed"
TS='^\[[0-2][0-9]:[0-5][0-9]:[0-6][0-9]\.[0-9]{3}\] '
grep -Eq "${TS}\[TraceGenerator\] \[node=0,inst=0\] INFO     Batch #1: model=meta-llama/Llama-3.1-8B num_reqs=1 total_len=10 req_ids=\[0\]$" info.log \
    || err "INFO batch line: $(grep -m1 'Batch #1' info.log)"
for want in "CPU Energy Consumption = 1.149e+00 J" "NPU Energy Consumption = 6.214e+00 J" \
    "DRAM Energy Consumption = 0.000e+00 J" "Link Energy Consumption = 0.000e+00 J"; do
    grep -F "] [PowerModel] [node=0] INFO     $want" info.log | grep -Eq "${TS}" || err "INFO: no '$want'"
done
[ "$(grep -c 'Batch #' info.log)" = 8 ] || err "INFO: $(grep -c 'Batch #' info.log) batch lines, expected 8"
grep -Eq "${TS}\[PowerModel\] INFO     NPU Standby Energy Consumption = [0-9]\.[0-9]{3}e\+[0-9]{2} J$" info.log \
    || err "INFO: no standby record before the second request's batch"
"$IPW" simulate --cluster-config single_node_power_instance.json --dataset apart.jsonl > warn.log || err "WARNING run failed"
grep -q "INFO  " warn.log && err "per-batch records at the default WARNING level"
#    --json: the same records as {"type":"log","text":...}; sub-batches as "#B.0" / "#B.1"
"$IPW" simulate --cluster-config "$CFG" --enable-attn-offloading --enable-sub-batch-interleaving \
    --dataset "$FIX/two_requests.jsonl" --log-level INFO --json > info.json || err "INFO --json run failed"
grep -Eq '^\{"type":"log","text":"\[[0-9:.]+\] \[TraceGenerator\] \[node=0,inst=0\] INFO     Sub-batch #1\.1: model=meta-llama/Llama-3.1-8B num_reqs=1 total_len=10 req_ids=\[1\]"\}$' info.json \
    || err "INFO --json sub-batch line: $(grep -m1 'Sub-batch' info.json)"
exit $fail
