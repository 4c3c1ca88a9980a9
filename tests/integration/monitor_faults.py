"""Faults under the telemetry, from the outside: the real programs, fake hardware loaded through
the production code paths, and each case printing what happened and what the user saw.
Run as: monitor_faults.py GROUP

  restart  a real energy-monitor killed (SIGKILL) and started again on its port during a real
           `ipw profile --monitor` run: the run finishes, no record is lost or doubled, the
           queries measured across the gap are flagged, the others measure their energy
  clock    CLOCK_REALTIME stepped by +1 h and then -1 h during `ipw profile`, through a monitor
           and with the local collector: durations and energy come from the monotonic clock,
           the records' Unix timestamps follow the wall clock
  rapl     a RAPL counter file failing with EIO mid-run, then reading again (eio_shim on a fake
           powercap tree), as `ipw telemetry --collector rapl` shows it
  gpu      fake NVML: the GPU lost mid-stream (NVML_ERROR_GPU_IS_LOST) then back, lost for good,
           and nvmlInit failing, as `ipw telemetry` and the monitor show them
"""

import json
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import monitor_support as ms  # noqa: E402
import llm_support  # noqa: E402
from llm_support import BIN, LlmServer, run  # noqa: E402

FAKE_NVML = os.path.join(BIN, "tests", "fakes", "nvml", "libnvidia-ml.so.1")


# A sanitizer build wants its runtime first in the library list; the fault libraries (built
# without sanitizers) are preloaded before it on purpose.
ASAN_PRELOAD = os.environ.get("ASAN_OPTIONS", "") + ":verify_asan_link_order=0"

def show(title, text, limit=12):
    """What the user saw, printed for the log of the test."""
    lines = [line for line in text.splitlines() if line.strip()]
    print("--- %s (%d lines)" % (title, len(lines)))
    for line in lines[:limit]:
        print("    " + line)
    if len(lines) > limit:
        print("    ...")
    sys.stdout.flush()


def nvml_env(d, text):
    cfg = os.path.join(d, "nvml.conf")
    with open(cfg, "w") as f:
        f.write(text)
    return {"IPW_NVML_LIBRARY": FAKE_NVML, "IPW_FAKE_NVML_CONFIG": cfg}


_procs = []  # monitors and profiles started here, killed however the test ends


def fail(msg):
    """Stop what this test started first: a program left running would hold ctest's pipe."""
    for p in _procs:
        if p.poll() is None:
            p.kill()
    ms.cleanup()  # the monitors
    llm_support.fail(msg)


def check(cond, msg):
    if not cond:
        fail(msg)
    print("ok: " + msg, flush=True)


def monitor(env, port=0):
    """energy-monitor with the fake NVML on a given gRPC port (0: a free one)."""
    return ms.Monitor(collector="nvidia", interval_ms=20, port=port, metrics_port=-1, env=env,
                      timeout=30)


def start_profile(d, env, monitor, n, extra=()):
    """ipw profile of n queries of ~0.5 s against a scripted server, in the background; returns
    (process, output dir, server, records-written-so-far function)."""
    srv = LlmServer("m=ttft=100ms,itl=20ms,tokens=20")
    ds = os.path.join(d, "prompts.jsonl")
    with open(ds, "w") as f:
        for i in range(n):
            f.write(json.dumps({"q": "prompt %d" % i, "a": str(i)}) + "\n")
    out = os.path.join(d, "runs-%d" % time.monotonic_ns())
    e = dict(os.environ)
    e.update(env)
    prof = subprocess.Popen(
        [os.environ["IPW_BIN"], "profile", "--client", "ollama", "--model", "m",
         "--client-base-url", srv.url, "--dataset", "jsonl", "--dataset-path", ds,
         "--dataset-param", "prompt_field=q", "--dataset-param", "answer_field=a",
         "--output-dir", out, "--monitor", monitor, "--baseline-seconds", "0",
         "--no-eval"] + list(extra), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=e)
    _procs.append(prof)

    def lines_done():
        for root, _, files in os.walk(out):
            if "records.jsonl" in files:
                return sum(1 for _ in open(os.path.join(root, "records.jsonl")))
        return 0

    return prof, out, srv, lines_done


def wait_records(prof, lines_done, k):
    deadline = time.time() + 120
    while lines_done() < k and time.time() < deadline and prof.poll() is None:
        time.sleep(0.05)
    if prof.poll() is not None or lines_done() < k:
        prof.kill()
        _, se = prof.communicate()
        fail("the profile is not under way (%d records, exit %s): %s"
             % (lines_done(), prof.returncode, se[-2000:]))
    print("ok: the profile is under way (%d records)" % k, flush=True)


def group_restart():
    d = ms.tmpdir("ipw-fault-restart-")
    watts = 200.0
    env = nvml_env(d, "devices = 1\ndev0.power = %g\n" % watts)
    mon = monitor(env)
    n = 14
    prof, out, srv, lines_done = start_profile(d, env, mon.target, n)
    wait_records(prof, lines_done, 3)
    killed_at = time.time()
    mon.kill()
    print("energy-monitor killed (SIGKILL) after %d records" % lines_done(), flush=True)
    time.sleep(1.5)
    mon = monitor(env, port=mon.port)
    print("energy-monitor started again on port %d after %.1f s" % (mon.port, time.time() - killed_at),
          flush=True)
    try:
        so, se = prof.communicate(timeout=300)
    except subprocess.TimeoutExpired:
        prof.kill()
        fail("the profile did not finish after the monitor came back")
    show("ipw profile stderr", se, 30)
    check(prof.returncode == 0, "the profile finished with exit 0 (%d)" % prof.returncode)
    check("restarted during the query" in se and "energy unavailable" in se,
          "the user is told which query's energy is unavailable and why")
    run_dir = [os.path.join(out, x) for x in os.listdir(out)][0]
    recs = [json.loads(line) for line in open(os.path.join(run_dir, "records.jsonl"))]
    ids = [r["record_index"] for r in recs]
    check(len(recs) == n and len(set(map(str, ids))) == n,
          "every query recorded once: %d records, %d distinct" % (len(recs), len(set(map(str, ids)))))
    flagged, clean = [], []
    for r in recs:
        mm = r["model_metrics"]["m"]
        em = mm["energy_metrics"]
        w = r["telemetry_window"]
        secs = (w["end_ns"] - w["start_ns"]) / 1e9
        flag = em.get("per_query_joules") is None
        print("  record %s: %.3f s, energy %s J (%.1f J at %g W)"
              % (r["record_index"], secs, em.get("per_query_joules"), watts * secs, watts))
        (flagged if flag else clean).append((r, secs, em.get("per_query_joules")))
    check(flagged, "the queries measured across the gap are flagged (%d)" % len(flagged))
    check(len(clean) >= n // 2, "most queries were measured without the gap (%d)" % len(clean))
    for r, secs, j in clean:
        check(j is not None and abs(j - watts * secs) <= 0.02 * watts * secs,
              "an unflagged query's energy is the GPU's (%.3f J vs %.3f J)" % (j or 0, watts * secs))
    s = json.load(open(os.path.join(run_dir, "summary.json")))
    show("summary.json telemetry", json.dumps(s.get("telemetry"), indent=1), 30)
    tot = s["totals"]
    check(tot.get("queries_without_energy") == len(flagged),
          "summary.json says how many queries its energy total leaves out (%s of %s)"
          % (tot.get("queries_without_energy"), tot.get("completed_queries")))
    srv.stop()
    mon.kill()


def group_clock():
    """CLOCK_REALTIME stepped +1 h, then to -1 h, under the monitor and the profiler at once (the
    LD_PRELOAD library of tests/fakes, one step file for both: a machine's clock step)."""
    shim = os.path.join(BIN, "tests", "fakes", "libipw_clock_step.so")
    if not os.path.exists(shim):
        print("skip: no clock step library")
        return
    d = ms.tmpdir("ipw-fault-clock-")
    watts = 200.0
    step = os.path.join(d, "step")
    env = nvml_env(d, "devices = 1\ndev0.power = %g\n" % watts)
    env.update({"LD_PRELOAD": shim, "IPW_FAULT_CLOCK_STEP_FILE": step,
                "ASAN_OPTIONS": ASAN_PRELOAD})
    with open(step, "w") as f:
        f.write("3600")
    e = dict(os.environ)
    e.update(env)
    shifted = int(subprocess.run(["date", "+%s"], capture_output=True, text=True,
                                 env=e).stdout) - time.time()
    os.unlink(step)
    check(abs(shifted - 3600) < 5, "the library steps a program's wall clock (date: %+.0f s)"
          % shifted)
    for source in ("monitor", "local"):
        mon = monitor(env) if source == "monitor" else None
        n = 12
        prof, out, srv, lines_done = start_profile(
            d, env, mon.target if mon else "local", n,
            () if mon else ("--collector", "nvidia"))
        wait_records(prof, lines_done, 3)
        with open(step, "w") as f:
            f.write("3600")
        print("%s: wall clock stepped +1 h after %d records" % (source, lines_done()), flush=True)
        wait_records(prof, lines_done, 7)
        with open(step, "w") as f:
            f.write("-3600")
        print("%s: wall clock stepped to -1 h after %d records" % (source, lines_done()),
              flush=True)
        try:
            so, se = prof.communicate(timeout=300)
        except subprocess.TimeoutExpired:
            prof.kill()
            fail("the profile did not finish after the clock steps")
        os.unlink(step)
        show("ipw profile stderr (%s)" % source, se, 30)
        check(prof.returncode == 0, "the profile finished with exit 0 (%d)" % prof.returncode)
        run_dir = [os.path.join(out, x) for x in os.listdir(out)][0]
        recs = [json.loads(line) for line in open(os.path.join(run_dir, "records.jsonl"))]
        check(len(recs) == n and sorted(r["record_index"] for r in recs) == list(range(n)),
              "every query recorded once (%d)" % len(recs))
        for r in recs:
            mm = r["model_metrics"]["m"]
            j = mm["energy_metrics"]["per_query_joules"]
            secs = mm["latency_metrics"]["total_query_seconds"]
            w = r["telemetry_window"]
            win = (w["end_ns"] - w["start_ns"]) / 1e9
            print("  record %d: request_start_time %.3f, %.3f s, %s J (%.1f J at %g W)"
                  % (r["record_index"], r["request_start_time"], secs, j, watts * win, watts))
            check(0.3 < secs < 30 and abs(secs - win) < 0.05,
                  "its duration is the monotonic one (%.3f s)" % secs)
            check(j is not None and abs(j - watts * win) <= 0.02 * watts * win,
                  "its energy is the GPU's over the query (%.3f J vs %.3f J)"
                  % (j or 0, watts * win))
        starts = [r["request_start_time"] for r in sorted(recs, key=lambda r: r["record_index"])]
        jumps = [round(b - a) for a, b in zip(starts, starts[1:]) if abs(b - a) > 1000]
        check(not jumps, "the records' Unix times (the wall clock when the run started plus "
              "monotonic time since) do not follow the steps (jumps: %s)" % jumps)
        srv.stop()
        if mon:
            mon.kill()


def group_rapl():
    """A RAPL counter that fails with EIO mid-run, then reads again: the RAPL collector's own
    open/pread path on a fake powercap tree, the error injected by the LD_PRELOAD library
    eio_shim, the counters advanced at known wattages meanwhile."""
    shim = os.path.join(BIN, "tests", "fakes", "libipw_eio.so")
    tool = os.environ.get("IPW_FAKE_SYSFS")
    if not os.path.exists(shim) or not tool:
        print("skip: no EIO library or fake sysfs tool")
        return
    from rapl_ramp import Ramp
    d = ms.tmpdir("ipw-fault-rapl-")
    root = os.path.join(d, "sys")
    os.makedirs(root)
    subprocess.run([tool, "standard", root], check=True)
    rates = {"intel-rapl:0": 40.0, "intel-rapl:1": 10.0, "intel-rapl:0:1": 5.0}
    ramp = Ramp(root, rates)
    ramp.start()
    fault = os.path.join(d, "eio")
    e = dict(os.environ)
    e.update({"IPW_SYSFS_ROOT": root, "LD_PRELOAD": shim, "ASAN_OPTIONS": ASAN_PRELOAD,
              "IPW_FAULT_EIO_PATH": "intel-rapl:1/energy_uj", "IPW_FAULT_EIO_FILE": fault})
    p = subprocess.Popen([os.environ["IPW_BIN"], "telemetry", "--local", "--collector", "rapl",
                          "--interval", "50ms", "--count", "40", "--json"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=e)
    _procs.append(p)
    rows = []
    for line in p.stdout:
        rows.append(json.loads(line))
        if len(rows) == 10:
            open(fault, "w").close()
            print("intel-rapl:1/energy_uj fails with EIO from reading 11", flush=True)
        if len(rows) == 25:
            os.unlink(fault)
            print("and reads again from reading 26", flush=True)
    se = p.stderr.read()
    p.wait()
    ramp.close()
    show("ipw telemetry --collector rapl stderr", se)
    check(p.returncode == 0 and len(rows) == 40, "telemetry goes on (%d rows, exit %d)"
          % (len(rows), p.returncode))
    cpu = [r["cpu_energy_joules"] for r in rows]
    print("  cpu_energy_joules per reading: %s" % [round(x, 2) for x in cpu])
    bad = [i for i, x in enumerate(cpu) if x == -1]
    check(bad and min(bad) >= 10 and max(bad) <= 26,
          "CPU energy unavailable (-1) while the counter fails (readings %s), never a wrong value"
          % (bad and "%d-%d" % (min(bad) + 1, max(bad) + 1)))
    dram_bad = [rows[i]["dram_energy_joules"] for i in bad]
    print("  dram_energy_joules while it fails: %s" % [round(x, 3) for x in dram_bad])
    check(all(x >= 0 for x in dram_bad) and dram_bad == sorted(dram_bad),
          "DRAM energy (another file) is still read while the package counter fails")
    dram = [(r["timestamp_nanos"], r["dram_energy_joules"]) for r in rows]
    dram_w = (dram[-1][1] - dram[0][1]) / ((dram[-1][0] - dram[0][0]) / 1e9)
    check(abs(dram_w - 5.0) < 0.1 * 5.0, "DRAM energy continuous: %.2f W from first to last "
          "reading (5 W)" % dram_w)
    check(all(r["cpu_memory_usage_mb"] > 0 for r in rows), "the rest of each tick is reported")
    fails = [line for line in se.splitlines() if "sample failed" in line]
    check(len(fails) == 1 and "intel-rapl:1/energy_uj" in fails[0] and
          "Input/output error" in fails[0], "one line names the file and the error")
    check("readings again after" in se, "one line says the readings are back")
    good = [(r["timestamp_nanos"], x) for r, x in zip(rows, cpu) if x >= 0]
    (t0, e0), (t1, e1) = good[0], good[-1]
    watts = (e1 - e0) / ((t1 - t0) / 1e9)
    check(abs(watts - 50.0) < 0.1 * 50.0, "across the fault the CPU energy continues exactly "
          "from the counters: %.1f W from first to last reading (50 W)" % watts)


def group_gpu():
    d = ms.tmpdir("ipw-fault-gpu-")
    ipw = os.environ["IPW_BIN"]
    base = "devices = 2\ndev0.power = 150\ndev1.power = 90\n"

    # GPU 1 lost mid-stream (from its 60th NVML call), back 40 calls later; then lost for good
    for what, lost in (("lost then back", "dev1.lost_at = 60\ndev1.lost_calls = 8\n"),
                       ("lost for good", "dev1.lost_at = 60\ndev1.lost_calls = -1\n")):
        env = nvml_env(d, base + lost)
        p = run(["telemetry", "--local", "--collector", "nvidia", "--interval", "20ms",
                 "--count", "30", "--json"], env=env)
        show("ipw telemetry, GPU 1 %s: stderr" % what, p.stderr)
        rows = [json.loads(line) for line in p.stdout.splitlines() if line.strip()]
        check(p.returncode == 0 and len(rows) == 30,
              "telemetry goes on through the loss (%d rows, exit %d)" % (len(rows), p.returncode))
        power = [round(r["power_watts"], 1) for r in rows]
        print("  power per reading (W): %s" % power)
        energy = [r["energy_joules"] for r in rows if r["energy_joules"] >= 0]
        check(power[0] == 240.0 and -1.0 in power,
              "240 W from both GPUs, then unavailable (-1) while GPU 1 is lost, never a "
              "wrong total")
        check(all(b >= a for a, b in zip(energy, energy[1:])), "energy never goes back")
        fails = [line for line in p.stderr.splitlines() if "sample failed" in line]
        check(len(fails) == 1, "one line says GPU 1 is lost, not one per reading (%d)" % len(fails))
        if what == "lost then back":
            check(power[-1] == 240.0, "240 W again once GPU 1 answers")
            check("readings again after" in p.stderr, "and one line says it is back")
        else:
            check(power[-1] == -1.0, "still unavailable while GPU 1 stays lost")

    # nvmlInit failing: forced collector, then auto-detection
    env = nvml_env(d, base + "init_error = 9\n")
    p = run(["telemetry", "--local", "--collector", "nvidia", "--count", "1"], env=env)
    show("ipw telemetry --collector nvidia, nvmlInit failing", p.stdout + p.stderr)
    check(p.returncode == 1 and "nvmlInit" in p.stderr,
          "a forced nvidia collector fails with one line naming nvmlInit (exit %d)" % p.returncode)
    p = run(["telemetry", "--local", "--collector", "auto", "--count", "1", "--json",
             "--log-level", "info"], env=env)
    show("ipw telemetry --collector auto, nvmlInit failing", p.stdout + p.stderr)
    check(p.returncode == 0 and "nvmlInit" in p.stderr,
          "auto-detection falls through to the next collector and says why")
    del ipw


GROUPS = {"restart": group_restart, "clock": group_clock, "rapl": group_rapl,
          "gpu": group_gpu}

if __name__ == "__main__":
    if len(sys.argv) != 2 or sys.argv[1] not in GROUPS:
        print("usage: monitor_faults.py %s" % "|".join(GROUPS))
        sys.exit(2)
    if not os.path.exists(FAKE_NVML):
        print("skip: no fake NVML library at " + FAKE_NVML)
        sys.exit(0)
    try:
        GROUPS[sys.argv[1]]()
    finally:
        for p in _procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        for s in __import__("llm_support").servers:
            if s.proc.poll() is None:
                s.proc.kill()
        ms.cleanup()
    print("all checks passed")
