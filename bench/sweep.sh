#!/bin/bash
# A 20-point ipw simulate sweep (max-num-seqs x max-num-batched-tokens) of the power config on
# the 300-request ShareGPT trace: prints its wall time (issue 14 goal: < 10 s). Never fails on
# a time. usage: sweep.sh IPW SOURCE_DIR WORK_DIR
set -eu
IPW=$1
SRC=$2
WORK=$3
mkdir -p "$WORK"
JOBS=$(nproc)
t0=$(date +%s.%N)
"$IPW" simulate --cluster-config single_node_power_instance.json \
    --dataset "$SRC/data/sim/workloads/sharegpt-llama-3.1-8b-300-sps10.jsonl" \
    --sweep max-num-seqs=8,16,32,64,128 --sweep max-num-batched-tokens=512,1024,2048,4096 \
    --jobs "$JOBS" --output "$WORK/sweep.csv" > "$WORK/sweep.log"
t1=$(date +%s.%N)
rows=$(($(wc -l < "$WORK/sweep.csv") - 1))
awk -v a="$t0" -v b="$t1" -v n="$rows" -v j="$JOBS" \
    'BEGIN { printf "sweep: %d points of 300 requests, %d jobs: %.2f s wall (%.3f s per point)\n", n, j, b - a, (b - a) / n }'
