#!/bin/bash
# ipw simulate's data-parallel groups (dp_group) checked by hand against the single-instance
# runs, whose numbers the reference output pins (docs/sim-fidelity.md, "DP groups"), and
# invariants of the 300-request ShareGPT trace; plus the regression that a run without a
# power block takes the same timeline as one with it (multi-instance TP and P/D).
# usage: simulate_dp.sh IPW_BIN SOURCE_DIR WORK_DIR
set -u
. "$(dirname "$0")/sim_support.sh" "$@"
# the ITL list of request ID, comma-separated without spaces
itl() { awk -F'"' -v id="$2" 'NR > 1 {split($1, a, ","); if (a[2] == id) {gsub(/[][ ]/, "", $2); print $2}}' "$1"; }

ONE=$FIX/one_request.jsonl # input 10 tokens, 4 generated, arrival 46,926,808 ns
TWO=$FIX/two_requests.jsonl # the same request twice

# 1. one request, DP group of two TP-1 instances (tests/fixtures/sim/dp_tp1.json). The
#    single-instance numbers (the reference's request 0): prefill 10,998,250 ns, decode
#    11,146,817 ns. Instance 0 gets the request and parks its batch at the barrier;
#    instance 1, polled next at the same time, joins with a 1-token dummy, which completes
#    the round: the dummy starts at once, instance 0 is handed its batch at its next poll,
#    the dummy's first event: its embedding, looked up in tp1/dense.csv at the padded
#    shape. Prefill round: the dummy is padded to 10 tokens, embedding,10 = 5.38633 us ->
#    5,386 ns; decode rounds: 1 token, embedding,1 = 3.14667 us -> 3,147 ns (the dummy, a
#    decode at kv 1, ends before the real decode, so instance 0 reopens each round).
#    TTFT = 10,998,250 + 5,386 = 11,003,636; ITL = 11,146,817 + 3,147 = 11,149,964 (x 3)
#    end = 46,926,808 + 11,003,636 + 3 x 11,149,964 = 91,380,336; latency 44,453,528;
#    TPOT = 33,449,892 // 3 = 11,149,964; the run ends with it (one NPU per instance).
"$IPW" simulate --cluster-config "$FIX/dp_tp1.json" --dataset "$ONE" --output one.csv > one.log ||
    err "DP TP-1 one-request run failed"
[ "$(row one.csv 0)" = "0,0,meta-llama/Llama-3.1-8B,10,4,46926808,91380336,44453528,0,11003636,11149964" ] ||
    err "DP TP-1 row '$(row one.csv 0)'"
[ "$(itl one.csv 0)" = "11149964,11149964,11149964" ] || err "DP TP-1 ITL $(itl one.csv 0)"
grep -q "^Total clocks (ns): *91380336$" one.log || err "DP TP-1 total clock"

# 2. two requests arriving together: LOAD routes one to each member, no padding (both 10
#    tokens, then 1). Round 1 is completed by instance 1's poll: it starts at once, instance
#    0 at the first event of instance 1's batch (embedding,10: 5,386 ns later). Round 2 is
#    completed by instance 0's poll (it ends last), and instance 1, polled after it at the
#    same time, is handed its batch at once; round 3 is completed by instance 1's poll
#    again (both end together, instance 0 is polled first), instance 0 starts 3,147 ns
#    (embedding,1) later, and both end together at the last event.
#    request 0 (instance 0): TTFT 11,003,636; ITL 11,146,817, 11,149,964, 11,146,817
#    request 1 (instance 1): TTFT 10,998,250; ITL 11,152,203 (= 11,146,817 + 5,386),
#                            11,146,817, 11,149,964
#    end (both) = 46,926,808 + 11,003,636 + 33,443,598 = 91,374,042; TPOT 11,147,866 and
#    (91,374,042 - 46,926,808 - 10,998,250) // 3 = 11,149,661; the run ends 1 ms later:
#    instance 0 is polled before instance 1 completes, so it is found done at its next poll.
"$IPW" simulate --cluster-config "$FIX/dp_tp1.json" --dataset "$TWO" --output two.csv > two.log ||
    err "DP TP-1 two-request run failed"
[ "$(row two.csv 0)" = "0,0,meta-llama/Llama-3.1-8B,10,4,46926808,91374042,44447234,0,11003636,11147866" ] ||
    err "DP two requests: row 0 '$(row two.csv 0)'"
[ "$(row two.csv 1)" = "1,1,meta-llama/Llama-3.1-8B,10,4,46926808,91374042,44447234,0,10998250,11149661" ] ||
    err "DP two requests: row 1 '$(row two.csv 1)'"
[ "$(itl two.csv 0)" = "11146817,11149964,11146817" ] || err "DP two requests: ITL 0 $(itl two.csv 0)"
[ "$(itl two.csv 1)" = "11152203,11146817,11149964" ] || err "DP two requests: ITL 1 $(itl two.csv 1)"
grep -q "^Total clocks (ns): *92374042$" two.log || err "DP two requests: total clock"

# 3. the bundled single_node_dp_instance (two TP-2 members) against one TP-2 instance
#    (tests/fixtures/sim/tp2_instance.json): the same rounds, with the tp2 table's embedding
#    (not tp_stable): embedding,10 = 5.312 us -> 5,312 ns, embedding,1 = 3.11467 us ->
#    3,115 ns. TTFT = TTFT(tp2) + 5,312; ITL = ITL(tp2) + 3,115 (the 1 ms idle poll before
#    each decode is in both); the run ends 1 ms after the last request (two NPUs).
"$IPW" simulate --cluster-config "$FIX/tp2_instance.json" --dataset "$ONE" --output tp2.csv > tp2.log ||
    err "TP-2 run failed"
"$IPW" simulate --cluster-config single_node_dp_instance.json --dataset "$ONE" --output dp2.csv > dp2.log ||
    err "DP TP-2 run failed"
t2=$(col tp2.csv 0 10)
[ -n "$t2" ] && [ "$(col dp2.csv 0 10)" = $((t2 + 5312)) ] || err "DP TP-2 TTFT $(col dp2.csv 0 10) vs TP-2 $t2 + 5312"
want=$(itl tp2.csv 0 | tr ',' '\n' | awk '{printf "%s%d", (NR > 1 ? "," : ""), $1 + 3115}')
[ "$(itl dp2.csv 0)" = "$want" ] || err "DP TP-2 ITL $(itl dp2.csv 0), expected $want"
end=$(col dp2.csv 0 7)
grep -q "^Total clocks (ns): *$((end + 1000000))$" dp2.log || err "DP TP-2 total clock is not the end + 1 ms"

# 4. invariants on the ShareGPT trace: every request once, consistent rows, both members
#    used, the clock after the last request; with a power block the devices sum to the node
#    and the timeline is the one without it
SG=$DATA/workloads/sharegpt-llama-3.1-8b-300-sps10.jsonl
python3 - "$DATA/configs/cluster/single_node_power_instance.json" "$DATA/configs/cluster/single_node_dp_instance.json" \
    "$DATA/configs/cluster/single_node_4_instance_2TP.json" "$DATA/configs/cluster/single_node_pd_instance.json" <<'PY'
import json, sys
power = json.load(open(sys.argv[1]))["nodes"][0]["power"]
for src, dst in zip(sys.argv[2:], ("dp_power.json", "tp4_power.json", "pd_power.json")):
    c = json.load(open(src))
    c["nodes"][0]["power"] = power
    json.dump(c, open(dst, "w"))
PY
"$IPW" simulate --cluster-config single_node_dp_instance.json --dataset "$SG" --output sg.csv > sg.log ||
    err "DP ShareGPT run failed"
awk -F, 'NR > 1 {print $2}' sg.csv | sort -n | uniq -c | awk '$1 != 1 {bad=1} END {exit bad}' ||
    err "DP ShareGPT: a request appears more than once"
[ "$(awk -F, 'NR > 1' sg.csv | wc -l)" = 300 ] || err "DP ShareGPT: not 300 rows"
awk -F'"' 'NR > 1 {split($1, a, ","); n = split($2, g, ", ");
    if (a[8] != a[7] - a[6] || a[10] > a[8] || a[9] < 0 || (a[5] > 1 && n != a[5] - 1) ||
        (a[5] > 1 && a[11] != int((a[8] - a[10]) / (a[5] - 1)))) {print "row " NR ": " $1; bad = 1}}
    END {exit bad}' sg.csv || err "DP ShareGPT: inconsistent rows"
for i in 0 1; do
    [ "$(awk -F, -v i=$i 'NR > 1 && $1 == i' sg.csv | wc -l)" -gt 0 ] || err "DP ShareGPT: no row from instance $i"
done
last=$(awk -F, 'NR > 1 && $7 > m {m = $7} END {print m}' sg.csv)
clock=$(awk '/^Total clocks/ {print $NF}' sg.log)
[ -n "$clock" ] && [ "$clock" -ge "$last" ] && [ "$clock" -le $((last + 1000000)) ] ||
    err "DP ShareGPT: total clock $clock vs last end $last"
"$IPW" simulate --cluster-config dp_power.json --dataset "$SG" --output sgw.csv --summary sgw.json > sgw.log ||
    err "DP power run failed"
cmp -s sg.csv sgw.csv || err "DP: the power block changed the timeline"
python3 - sgw.json <<'PY' || err "DP power: the devices do not sum to the node total"
import json, sys
s = json.load(open(sys.argv[1]))
assert s["power_modelled"] and s["nodes"]
for n in s["nodes"]:
    e = n["energy_j"]
    parts = sum(e[k] for k in ("base", "npu", "cpu", "memory", "link", "nic", "storage"))
    assert abs(parts - e["total"]) < 1e-6 * e["total"], (parts, e["total"])
PY
# without a power block the loop skips polls that cannot change anything; a TP instance whose
# batch just completed on its last NPU schedules at its next poll, which may not be skipped
for cfg in single_node_4_instance_2TP:tp4_power single_node_pd_instance:pd_power; do
    "$IPW" simulate --cluster-config ${cfg%%:*}.json --dataset "$SG" --output a.csv > /dev/null ||
        err "${cfg%%:*} failed"
    "$IPW" simulate --cluster-config ${cfg#*:}.json --dataset "$SG" --output b.csv > /dev/null ||
        err "${cfg#*:} failed"
    cmp -s a.csv b.csv || err "${cfg%%:*}: the power block changed the timeline"
done
exit $fail
