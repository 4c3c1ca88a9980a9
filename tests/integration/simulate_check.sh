#!/bin/bash
# ipw simulate against the original's reference output (tests/fixtures/sim/, produced by
# LLMServingSim at the commit named in data/sim/README.md) and every bad-input message.
# usage: simulate_check.sh IPW_BIN SOURCE_DIR WORK_DIR
set -u
IPW=$1
SRC=$2
WORK=$3
mkdir -p "$WORK"
DATA=$SRC/data/sim
FIX=$SRC/tests/fixtures/sim
fail=0
err() { echo "FAIL: $*"; fail=1; }

# 1. the reference run: CSV row for row, the log line for line (less the wall time and the
#    paths, which the reference had removed or which differ by where the files are)
cd "$WORK" || exit 1
"$IPW" simulate --cluster-config configs/cluster/single_node_single_instance.json --dtype bfloat16 \
    --block-size 16 --dataset "$DATA/workloads/example_trace.jsonl" --num-reqs 10 \
    --log-interval 1.0 --output ref.csv --summary ref.json > ref.log || err "reference run failed"
cmp -s ref.csv "$FIX/example_single_run.csv" || { err "CSV differs from the reference"; diff ref.csv "$FIX/example_single_run.csv" | head; }
grep -v -e '^Total simulation time' -e '^Saving each request' ref.log |
    sed "s|$DATA/workloads/|workloads/|" > ref.filtered.log
cmp -s ref.filtered.log "$FIX/example_single_run.log" || { err "log differs from the reference"; diff ref.filtered.log "$FIX/example_single_run.log" | head -20; }
grep -q '"total_clock_ns": 1663996645' ref.json || err "summary total_clock_ns"

# the all-NPU placement config is the single-instance run
"$IPW" simulate --cluster-config single_node_memory_instance.json --dataset "$DATA/workloads/example_trace.jsonl" \
    --output mem.csv > /dev/null || err "memory-placement run failed"
cmp -s mem.csv "$FIX/example_single_run.csv" || err "single_node_memory_instance differs from the reference"

# the quirk fixes change the power series, not the totals or the timeline
"$IPW" simulate --cluster-config single_node_power_instance.json --dataset "$DATA/workloads/example_trace.jsonl" \
    --output p1.csv > p1.log || err "power run failed"
"$IPW" simulate --cluster-config single_node_power_instance.json --dataset "$DATA/workloads/example_trace.jsonl" \
    --output p2.csv --fix-energy-at-completion --fix-standby-tail > p2.log || err "power run (fixed) failed"
cmp -s p1.csv p2.csv || err "the energy fixes changed the timeline"
grep -q "Total energy consumption (kJ): *1.42" p1.log || err "power example total energy"
grep -q "Total energy consumption (kJ): *1.42" p2.log || err "fixed power example total energy"

# an agentic trace: a session's second step is released tool_duration_ns after the first ends;
# ids follow the file (one per sub-request)
"$IPW" simulate --dataset "$FIX/agentic_trace.jsonl" --output ag.csv > ag.log || err "agentic run failed"
grep -q "^Total requests: *4$" ag.log || err "agentic: 4 requests"
end0=$(awk -F, '$2 == 0 {print $7}' ag.csv)
arr1=$(awk -F, '$2 == 1 {print $6}' ag.csv)
[ -n "$end0" ] && [ "$arr1" = "$((end0 + 50000000))" ] || err "agentic: step 1 arrives at $arr1, not end of step 0 ($end0) + 50 ms"

# a trace file out of arrival order is sorted as the original does (stable, by arrival) with
# the ids of the file order: the example trace with its first line moved to the end runs the
# reference timeline, request 0 of the reference being request 9 here
tail -n +2 "$DATA/workloads/example_trace.jsonl" > unsorted.jsonl
head -n 1 "$DATA/workloads/example_trace.jsonl" >> unsorted.jsonl
"$IPW" simulate --dataset unsorted.jsonl --output unsorted.csv > /dev/null || err "unsorted trace run failed"
awk -F, -v OFS=, 'NR > 1 { $2 = ($2 == 0) ? 9 : $2 - 1 } 1' "$FIX/example_single_run.csv" > unsorted.want.csv
cmp -s unsorted.csv unsorted.want.csv || { err "unsorted trace: not the reference with ids in file order"; diff unsorted.csv unsorted.want.csv | head; }

# 2. bad input: each message names the file, the key path (or file:line) and what is allowed
expect() { # expect NAME "grep -F text" args...
    local name=$1 text=$2
    shift 2
    out=$("$IPW" simulate "$@" 2>&1 >/dev/null)
    rc=$?
    [ $rc -ne 0 ] || err "$name: exit status 0"
    printf '%s' "$out" | grep -qF -- "$text" || err "$name: message '$out' lacks '$text'"
}
B=$FIX/bad
T=$DATA/workloads/example_trace.jsonl
expect tp3 "nodes[0].instances[0].tp_size: 3 does not divide 32 attention heads" --cluster-config $B/tp3.json --dataset $T
expect no_tp "nodes[0].instances[0]: needs tp_size or num_npus" --cluster-config $B/no_tp.json --dataset $T
expect util90 "nodes[0].instances[0].npu_mem.mem_util: must be in (0, 1]" --cluster-config $B/util90.json --dataset $T
expect power_key "nodes[0].power.cpu.util: is missing" --cluster-config $B/power_no_cpu_util.json --dataset $T
expect power_hw "nodes[0].power.npu: has no entry for hardware 'RTXPRO6000'" --cluster-config $B/power_npu_hw.json --dataset $T
expect num_nodes "nodes: must be an array of num_nodes (2)" --cluster-config $B/num_nodes.json --dataset $T
expect pd_type 'nodes[0].instances[0].pd_type: must be "prefill", "decode" or null' --cluster-config $B/pd_type.json --dataset $T
expect npu_mem "nodes[0].instances[0].npu_mem.mem_bw: is missing" --cluster-config $B/npu_mem_bw.json --dataset $T
expect link_bw "link_bw: is missing or not a positive number" --cluster-config $B/link_bw.json --dataset $T
expect unknown_hw "nor can the roofline model stand in: unknown hardware 'NoSuchNPU'" --cluster-config $B/unknown_hw.json --dataset $T
expect tp2_4090 "tp2/ does not exist; TP degrees profiled for this bundle: 1" --cluster-config rtx4090_tp2_instance.json --dataset $T
expect fp16 "variants that exist there: bf16" --dtype float16 --dataset $T
expect trace_key "trace_missing_key.jsonl:2: 'output_toks' is missing" --dataset $B/trace_missing_key.jsonl
expect trace_json "trace_not_json.jsonl:3: expected '{'" --dataset $B/trace_not_json.jsonl
expect trace_float "trace_float.jsonl:1: 'input_toks' must be an integer" --dataset $B/trace_float.jsonl
expect trace_sorted_pipe ":2: arrival_time_ns goes backwards; a trace read from a pipe is streamed and must be sorted" \
    --dataset <(cat $B/trace_unsorted.jsonl)
expect trace_empty "the dataset has no requests" --dataset $B/trace_empty.jsonl
printf '{"session_id": "x", "arrival_time_ns": 5, "sub_requests": [{"input_toks": 3}]}\n' > badsession.jsonl
expect session_sub "badsession.jsonl:1: sub_requests: 'output_toks' is missing" --dataset badsession.jsonl
printf '{"session_id": "x", "arrival_time_ns": 5, "sub_requests": []}\n' > emptysession.jsonl
expect session_empty "a session needs a non-empty 'sub_requests' list" --dataset emptysession.jsonl
expect no_dataset "give --dataset" --cluster-config single_node_single_instance.json
expect missing_config "cluster config nope.json not found, neither here nor under $DATA/configs/cluster/" --cluster-config nope.json --dataset $T
printf '{"num_nodes": 1,\n' > truncated.json
out=$("$IPW" simulate --dataset $T --output nodir/out.csv 2>&1 >nodir.stdout)
[ $? -eq 1 ] && [ "$(printf '%s\n' "$out" | wc -l)" -eq 1 ] && [ ! -s nodir.stdout ] ||
    err "an unwritable --output must stop before the simulation runs (exit 1, one line): '$out'"
printf '%s' "$out" | grep -qF "cannot write --output nodir/out.csv: directory nodir: No such file or directory" ||
    err "unwritable --output: message '$out'"
out=$("$IPW" simulate --dataset $T --sweep max-num-seqs=8,16 --output nodir/sweep.csv 2>&1 >nodir.stdout)
[ $? -eq 1 ] && [ ! -s nodir.stdout ] && printf '%s' "$out" | grep -qF "cannot write --output nodir/sweep.csv" ||
    err "a sweep with an unwritable --output must stop before its points: '$out'"
mkdir -p sweepfail
"$IPW" simulate --dataset nonexist.jsonl --sweep max-num-seqs=8,16 --output sweepfail/s.csv >sweepfail.out 2>&1
[ $? -eq 1 ] && grep -qF "no Pareto plots: every point failed" sweepfail.out && [ ! -e sweepfail/pareto_throughput.png ] ||
    err "a sweep whose every point failed draws no empty Pareto plots: $(cat sweepfail.out)"
expect summary_dir "cannot write --summary /nonexist-dir/s.json: directory /nonexist-dir:" --dataset $T --summary /nonexist-dir/s.json
expect config_json "cluster config truncated.json is not valid JSON (line 2: " --cluster-config truncated.json --dataset $T
expect cxl_device 'nodes[0].instances[0].placement: "cxl:4" is not a device of cxl_mem (num_devices 4: cxl:0 to cxl:3)' --cluster-config $B/cxl_device.json --dataset $T
expect cxl_block 'nodes[0].instances[0].placement: weights on "cxl:0" need a top-level cxl_mem block' --cluster-config $B/cxl_no_block.json --dataset $T
expect cxl_range 'nodes[0].instances[0].placement.blocks[0].blocks: must be a block range list such as "0-3,5"' --cluster-config $B/cxl_range.json --dataset $T
expect cxl_tp2 'nodes[0].instances[0].placement: weights off the NPU with tp_size > 1 are not simulated' --cluster-config $B/cxl_tp2.json --dataset $T
expect local_pp 'nodes[0].instances[0]: enable_local_offloading with pp_size > 1 is not simulated' --cluster-config $B/local_offloading_pp.json --dataset $T
expect cxl_name 'nodes[0].instances[0].placement.default.weights: must be "npu", "cpu" or "cxl:<id>"' --cluster-config $B/cxl_name.json --dataset $T
expect pd_no_decode 'nodes[0].instances[0].pd_type: "prefill" needs a "decode" instance in the cluster' --cluster-config $B/pd_no_decode.json --dataset $T
expect dp_tp 'nodes[0].instances[1].dp_group "A": tp_size 1 / pp_size 1 differ from nodes[0].instances[0]'"'"'s 2 / 1; every member of a DP group must share them' --cluster-config $B/dp_tp_mismatch.json --dataset $T
expect dp_pp 'nodes[0].instances[0].pp_size: 2 in DP group "A" is not simulated; use pp_size 1 in a DP group' --cluster-config $B/dp_pp.json --dataset $T
expect dp_type 'nodes[0].instances[0].dp_group: must be a string or null' --cluster-config $B/dp_not_string.json --dataset $T
expect pp_storage "pp_size: 4 with --prefix-storage CPU: a lower prefix tier with pipeline parallelism is not simulated" --cluster-config single_node_pp_instance.json --prefix-storage CPU --dataset $T
expect cxl_storage "--prefix-storage CXL needs a cxl_mem block" --prefix-storage CXL --dataset $T
exit $fail
