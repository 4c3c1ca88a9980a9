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
"$IPW" simulate --dataset "$T" --summary table.json > table.log || err "table run"
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
# a sim-client run's energies are modelled: calibrate must not call them measured
grep -q "this run's energies are modelled" cal.log || err "calibrate: a sim run not called modelled"
grep -q "measured baseline" cal.log && err "calibrate: a sim run's baseline called measured"
grep -Eq "decode J/token .* modelled \(sd over queries\)" cal.log || err "calibrate: J/token of a sim run not called modelled"
grep -q '"schema": "ipw.hardware/1"' cal.json || err "calibrate: no spec written"
"$IPW" simulate --dataset "$T" --hardware-spec cal.json --summary calsim.json > calsim.log ||
    err "simulate --hardware-spec"
grep -q "$NOTE" calsim.log || err "--hardware-spec: no roofline note"
# the summary names its inputs and the performance model of each bundle; ipw report shows them
python3 - "$T" h100_70b_tp4.json table.json calsim.json <<'PY' || err "--summary inputs / perf_models"
import json, sys
trace = sys.argv[1]
want = [("h100_70b_tp4", "roofline (bundled spec)", "H100", "embedded:hardware/h100.json"),
        ("single_node_single_instance", "tables", None, "/profiler/perf/RTXPRO6000/meta-llama/Llama-3.1-8B/bf16"),
        ("single_node_single_instance", "roofline (spec file)", "H100", "cal.json")]
for path, (name, kind, spec, src) in zip(sys.argv[2:], want):
    s = json.load(open(path))
    i, p = s["inputs"], s["perf_models"]
    assert i["cluster_name"] == name and i["cluster_config"].endswith(name + ".json"), (path, i)
    assert i["dataset"] == trace and i["data_dir"].endswith("data/sim"), (path, i)
    assert len(p) == 1 and p[0]["kind"] == kind and p[0].get("spec") == spec, (path, p)
    assert p[0]["source"].endswith(src) and p[0]["variant"] == "bf16", (path, p)
    assert (s["perf_model"] == "table") == (kind == "tables"), path
PY
"$IPW" report calsim.json --output calsim.html > /dev/null || err "report of calsim.json"
grep -q "roofline (spec file) H100 (cal.json)" calsim.html || err "report: no performance model line"
grep -q "<th>cluster</th><td>single_node_single_instance</td>" calsim.html || err "report: no cluster name"
"$IPW" profile --client sim --model llama-3.1-8b --max-queries 2 --output-dir runs2 \
    --client-param hardware="$PWD/cal.json" --client-param max_tokens=4 --no-eval \
    --baseline-seconds 0.1 > profile2.log 2>&1 || { err "sim client with the calibrated spec"; tail -3 profile2.log; }
# 3. --from-run: the sim-client run replayed on the hardware it ran on reproduces its
#    energies; on other hardware it predicts; ipw report shows both, labelled
"$IPW" simulate --from-run "$RUN" --hardware H100 > fr.log 2> fr.err || { err "from-run"; cat fr.err; }
grep -q "one at a time, as in the run" fr.log || err "from-run: a sequential run not replayed so"
grep -q "modelled on Simulated H100" fr.log || err "from-run: a sim run's hardware not called modelled"
grep -q "run, modelled" fr.log || err "from-run: the run's column not labelled modelled"
grep -v "note:" fr.log | grep -q "measured" && err "from-run: a sim run's figures called measured"
grep -q "predicted figures are $NOTE" fr.log || err "from-run: no modelled note"
"${IPW_PYTHON:-python3}" - "$RUN/prediction_H100.json" <<'PY' || err "from-run: energies not reproduced"
import json, sys
p = json.load(open(sys.argv[1]))
m, q = p["measured"], p["predicted"]
for k in ("energy_per_query_j", "j_per_output_token", "total_energy_j", "latency_mean_s"):
    e = abs(q[k] - m[k]) / m[k]
    print(f"  {k}: measured {m[k]:.4g}, predicted {q[k]:.4g}, {100*e:.2f} %")
    assert e < 0.10, k
assert p["median_abs_energy_error"] < 0.10
assert "predicted" in p["note"] and "roofline" in p["note"]
assert p["run_energy"] == "modelled", p["run_energy"]
PY
"$IPW" simulate --from-run "$RUN" --hardware-spec cal.json --tp 2 --arrival-rate 50 \
    --out fr2.json > fr2.log 2>&1 || { err "from-run --hardware-spec --tp --arrival-rate"; cat fr2.log; }
grep -q "Poisson arrivals" fr2.log || err "from-run --arrival-rate: not Poisson"
"$IPW" simulate --from-run "$RUN" --hardware RTX4090 > fr3.log 2>&1 || err "from-run on RTX4090"
"$IPW" report "$RUN" --output rep.html > /dev/null 2>&1 || err "report"
[ "$(grep -c 'The run (modelled) vs predicted' rep.html)" -eq 2 ] || err "report: not two prediction tables labelled modelled"
grep -q "<th>measured</th>" rep.html && err "report: a sim run's column called measured"
grep -q "predicted: modelled" rep.html || err "report: no modelled badge"
"$IPW" simulate --from-run "$RUN" 2> bad.err; [ $? -eq 2 ] || err "from-run without hardware: exit"
"$IPW" simulate --from-run /nonexistent --hardware H100 2> bad.err; [ $? -eq 1 ] || err "from-run of a missing run: exit"
# 4. a small sweep: one CSV row per point, the Pareto columns, the plots
mkdir -p sw
"$IPW" simulate --cluster-config single_node_power_instance.json --dataset "$T" \
    --sweep max-num-seqs=1,4 --sweep tp=1,2 --jobs 2 \
    --output sw/sweep.csv --plots sw/plots > sw.log 2> sw.err || { err "sweep"; cat sw.err; }
[ "$(wc -l < sw/sweep.csv)" -eq 5 ] || err "sweep: not 4 rows and a header"
head -1 sw/sweep.csv | grep -q "^point,max-num-seqs,tp,status,perf_model,.*,j_per_output_token,avg_power_w,.*,pareto_energy_throughput,pareto_energy_p99_latency$" || err "sweep: header"
grep -q "modelled by the simulator" sw.log || err "sweep: no modelled note"
for f in pareto_throughput.png pareto_throughput.svg pareto_latency.png pareto_latency.svg; do
    [ -s sw/plots/$f ] || err "sweep: no $f"
done
"$IPW" simulate --dataset "$T" --sweep colour=1 --output x.csv 2> bad.err; [ $? -eq 2 ] || err "sweep of an unknown parameter: exit"
# 5. --plots: the power timeline and the energy breakdown of one simulation
"$IPW" simulate --cluster-config single_node_power_instance.json --dataset "$T" --plots simplots \
    --summary simplots.json > simplots.log 2> simplots.err || err "simulate --plots"
grep -qx "wrote simplots/sim_power.{png,svg} and simplots/sim_energy.{png,svg}" simplots.err &&
    grep -qx "wrote simplots.json" simplots.err || err "--plots / --summary: no 'wrote' lines"
grep -q "^wrote" simplots.log && err "a 'wrote' line in the console log (stdout)"
# the per-component series: one row per heartbeat, adding up to the printed watts
python3 - simplots.json <<'PY' || err "--summary power_parts_w"
import json, sys
s = json.load(open(sys.argv[1]))
pw, pp = s["power_w"], s["power_parts_w"]
keys = ["base", "npu_active", "npu_standby", "npu_idle", "cpu", "dram", "link", "nic_storage"]
assert len(pw) == len(pp) > 0, (len(pw), len(pp))
for w, p in zip(pw, pp):
    assert p["t_s"] == w["t_s"] and set(p) == set(keys + ["t_s"]), p
    assert abs(sum(p[k] for k in keys) - w["watts"]) <= 0.005 + 1e-9, (p, w)
    assert all(p[k] >= -1e-9 for k in keys), p
PY
for f in sim_power.png sim_power.svg sim_energy.png sim_energy.svg; do
    [ -s simplots/$f ] || err "--plots: no $f"
done
grep -q "modelled" simplots/sim_power.svg || grep -q "glyph" simplots/sim_power.svg || err "--plots: svg"
# 6. ipw report of a simulation summary: shown like a run, every figure marked modelled
"$IPW" report simplots.json --output simreport.html > /dev/null || err "report of a summary file"
cp simplots.json simplots/summary.json
"$IPW" report simplots > /dev/null || err "report of a summary directory"
python3 - simplots.json simplots/report.html simreport.html <<'PY' || err "report of a simulation"
import json, re, sys
s = json.load(open(sys.argv[1]))
for page, plots in ((sys.argv[2], True), (sys.argv[3], False)):
    h = open(page).read()
    def val(metric):
        m = re.search(r'data-metric="%s" data-value="([^"]+)"' % metric, h)
        assert m, (page, metric)
        return float(m.group(1))
    total = sum(n["energy_j"]["total"] for n in s["nodes"])
    assert abs(val("energy_total_j") - total) <= 1e-9 * total, page
    assert abs(val("energy_per_request_j") - total / s["requests"]) <= 1e-9 * total, page
    assert abs(val("j_per_output_token") - total / s["generated_tokens"]) <= 1e-9 * total, page
    clock = s["total_clock_ns"] / 1e9
    assert abs(val("avg_power_w") - total / clock) <= 1e-9 * total, page
    assert val("instance0_tpot_ms_p99") == s["instances"][0]["tpot_ms"]["p99"], page
    # every card and every table carries the modelled badge; no accuracy/IPJ is claimed
    assert h.count('class="card"') == h.count('<div class="label">') > 0
    for block in re.findall(r'<div class="card">.*?</div></div>|<caption>.*?</caption>', h):
        assert "modelled" in block, block
    assert "intelligence_per_joule" not in h
    assert ("<svg" in h) == plots, page
PY
"$IPW" report predict_check_missing.json 2> bad.err; [ $? -eq 1 ] || err "report of a missing summary: exit status"
"$IPW" report simplots.log 2> bad.err; [ $? -eq 1 ] || err "report of a non-summary: exit status"
grep -q "neither a run directory nor an .ipw simulate --summary. file" bad.err || err "report of a non-summary: message"
"$IPW" simulate calibrate /nonexistent 2> bad.err; [ $? -eq 1 ] || err "calibrate of a missing run: exit status"
"$IPW" simulate calibrate 2> bad.err; [ $? -eq 2 ] || err "calibrate without a run: exit status"
# an --out that cannot be written stops before the fit (and the what-if) runs: one line, no table
"$IPW" simulate calibrate "$RUN" --out nodir/cal.json > bad.out 2> bad.err
[ $? -eq 1 ] && [ ! -s bad.out ] && grep -q "cannot write --out nodir/cal.json" bad.err ||
    err "calibrate with an unwritable --out: $(cat bad.err)"
"$IPW" simulate --from-run "$RUN" --hardware H100 --out nodir/p.json > bad.out 2> bad.err
[ $? -eq 1 ] && [ ! -s bad.out ] && grep -q "cannot write --out nodir/p.json" bad.err ||
    err "from-run with an unwritable --out: $(cat bad.err)"

exit $fail
