#!/usr/bin/python3
"""The cpu-model collector through the real `ipw` and `energy-monitor` programs, on a fake
/proc (IPW_PROCFS_ROOT) whose /proc/stat a thread advances at a chosen busy share, like the
kernel's tick accounting, with a chosen CPU name and amount of memory:

- a 2-package Xeon E5-2620 v3 (TDP 85 W, found in the table) at 0, 50 and 100 % busy: CPU
  power 2 x (4.25 + 55.25 u) W, DRAM 0.375 W/GiB x 16 GiB = 6 W, energies that integrate it,
  energy_source "modeled", and the note naming the table entry and "modelled from CPU load";
- an unknown CPU ("AMD EPYC", as cloud VMs show it): the default TDP, said so, with the flag to
  set it; --cpu-tdp and --cpu-idle replace the coefficients and are printed, by telemetry,
  profile, lab and top;
- auto-detection with no counter readable ends at cpu-model, not null;
- a TDP table that does not parse (IPW_CPU_TABLE): a forced cpu-model fails naming the file and
  line; idle power not below full load is refused;
- energy-monitor with it: /metrics carries platform "cpu-model" and the modelled CPU power, and
  `ipw top` marks the rows modelled."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from checks import check, summary  # noqa: E402

IPW = os.environ["IPW_BIN"]
USER_HZ = 100


class FakeProc(threading.Thread):
    """A /proc with cpuinfo, meminfo and a stat whose ticks advance every 10 ms for `ncpu`
    CPUs at busy share `share` (written whole and renamed, as a reader must see a whole file)."""

    def __init__(self, model, packages=1, ncpu=8, mem_gib=16, share=0.5):
        super().__init__(daemon=True)
        self.root = tempfile.mkdtemp(prefix="ipw-proc-")
        os.chmod(self.root, 0o755)
        self.ncpu, self.share = ncpu, share
        self.busy = self.idle = 0.0
        with open(os.path.join(self.root, "cpuinfo"), "w") as f:
            for i in range(ncpu):
                f.write("processor\t: %d\nvendor_id\t: x\nmodel name\t: %s\nphysical id\t: %d\n\n"
                        % (i, model, i * packages // ncpu))
        with open(os.path.join(self.root, "meminfo"), "w") as f:
            f.write("MemTotal:       %d kB\nMemFree:        1000 kB\nMemAvailable:   %d kB\n"
                    % (mem_gib * 1048576, mem_gib * 524288))
        self.stop = threading.Event()
        self.write()

    def write(self):
        tmp = os.path.join(self.root, ".stat")
        with open(tmp, "w") as f:
            f.write("cpu  %d 0 0 %d 0 0 0 0 0 0\nintr 0\n" % (self.busy, self.idle))
        os.rename(tmp, os.path.join(self.root, "stat"))

    def run(self):
        while not self.stop.wait(0.01):
            ticks = self.ncpu * USER_HZ * 0.01
            self.busy += ticks * self.share
            self.idle += ticks * (1 - self.share)
            self.write()

    def close(self):
        self.stop.set()
        self.join()
        shutil.rmtree(self.root, ignore_errors=True)


def env_for(proc, **extra):
    e = dict(os.environ)
    e.update({"IPW_PROCFS_ROOT": proc.root, "IPW_SYSFS_ROOT": proc.root + "/nosys",
              "IPW_NVML_LIBRARY": "/nonexistent/libnvidia-ml.so.1",
              "IPW_ROCM_SMI_LIBRARY": "/nonexistent/librocm_smi64.so", "IPW_LOG_LEVEL": "warn"})
    e.update(extra)
    return e


def telemetry(proc, args, **extra):
    return subprocess.run([IPW, "telemetry", "--local", "--json"] + args, capture_output=True,
                          text=True, env=env_for(proc, **extra), timeout=60)


def readings(p):
    return [json.loads(l) for l in p.stdout.splitlines() if l.strip()]


def test_known_cpu():
    for share, want in ((0.0, 8.5), (0.5, 63.75), (1.0, 119.0)):
        proc = FakeProc("Intel(R) Xeon(R) CPU E5-2620 v3 @ 2.40GHz", packages=2, share=share)
        proc.start()
        try:
            p = telemetry(proc, ["--collector", "cpu-model", "--count", "4", "--interval", "250ms"])
        finally:
            proc.close()
        rs = readings(p)
        check(p.returncode == 0 and len(rs) == 4, "4 readings at %d%% (%s)" % (share * 100, p.stderr))
        if len(rs) != 4:
            continue
        cpu = [r["cpu_power_watts"] for r in rs[1:]]
        check(all(abs(c - want) < 0.05 * want + 0.3 for c in cpu),
              "CPU power at %d%% busy is 2 x (4.25 + 55.25 x %.1f) = %.2f W: %s"
              % (share * 100, share, want, cpu))
        check(all(r["platform"] == "cpu-model" and r["energy_source"] == "modeled" for r in rs),
              "platform cpu-model, energy_source modeled")
        check(all(abs(r["dram_power_watts"] - 6.0) < 1e-9 for r in rs), "DRAM 0.375 W/GiB x 16 GiB = 6 W")
        span = (rs[3]["timestamp_nanos"] - rs[1]["timestamp_nanos"]) / 1e9
        e = rs[3]["cpu_energy_joules"] - rs[1]["cpu_energy_joules"]
        check(abs(e - want * span) < 0.08 * want * span + 0.5,
              "energy integrates the power: %.2f J over %.2f s" % (e, span))
        if share == 0.5:
            check("modelled from CPU load" in p.stderr and
                  "table entry 'Intel Xeon E5-2620 v3'" in p.stderr and "TDP 85 W" in p.stderr,
                  "the note names the entry matched: %s" % p.stderr.strip())


def test_unknown_cpu_and_flags():
    proc = FakeProc("AMD EPYC", share=0.5)
    proc.start()
    try:
        p = telemetry(proc, ["--collector", "cpu-model", "--count", "3", "--interval", "200ms"])
        rs = readings(p)
        check(p.returncode == 0 and "CPU model 'AMD EPYC' is not in the TDP table" in p.stderr
              and "default TDP 85 W" in p.stderr and "--cpu-tdp" in p.stderr,
              "unknown CPU: default TDP named and how to set it: %s" % p.stderr.strip())
        check(rs and abs(rs[-1]["cpu_power_watts"] - (4.25 + 55.25 * 0.5)) < 2,
              "default curve at 50%%: %s" % [r["cpu_power_watts"] for r in rs])
        p = telemetry(proc, ["--collector", "cpu-model", "--count", "3", "--interval", "200ms",
                             "--cpu-tdp", "200", "--cpu-idle", "20"])
        rs = readings(p)
        check(p.returncode == 0 and "TDP 200 W per package given (--cpu-tdp" in p.stderr and
              "20.0 W idle + 120.0 W x busy share" in p.stderr and
              "idle given (--cpu-idle" in p.stderr,
              "--cpu-tdp/--cpu-idle are printed: %s" % p.stderr.strip())
        check(rs and abs(rs[-1]["cpu_power_watts"] - 80.0) < 3,
              "--cpu-tdp 200 --cpu-idle 20 at 50%%: 20 + (140 - 20) x 0.5 = 80 W: %s"
              % [r["cpu_power_watts"] for r in rs])
        p = telemetry(proc, ["--collector", "cpu-model", "--count", "1", "--cpu-tdp", "20",
                             "--cpu-idle", "15"])
        check(p.returncode == 1 and "idle power 15.0 W is not below the full-load power 14.0 W"
              in p.stderr, "idle above full load refused: %s" % p.stderr.strip())
        p = telemetry(proc, ["--count", "2", "--interval", "200ms"], IPW_LOG_LEVEL="info")
        rs = readings(p)
        check(p.returncode == 0 and rs and rs[0]["platform"] == "cpu-model",
              "auto-detection without counters ends at cpu-model, not null")
        bad = os.path.join(proc.root, "bad.csv")
        with open(bad, "w") as f:
            f.write("Name,TDP\nIntel Xeon E5-2620 v3,85\nIntel Celeron 1000A,27.29.5\n")
        p = telemetry(proc, ["--collector", "cpu-model", "--count", "1"], IPW_CPU_TABLE=bad)
        check(p.returncode == 1 and "cannot read the CPU TDP table" in p.stderr and
              "bad.csv line 3: TDP '27.29.5' is not a wattage" in p.stderr,
              "a table that does not parse is named with its line: %s" % p.stderr.strip())
    finally:
        proc.close()


def test_monitor_and_top():
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import monitor_support as ms
    proc = FakeProc("Intel(R) Xeon(R) CPU E5-2620 v3 @ 2.40GHz", packages=2, share=1.0)
    proc.start()
    os.environ.update({k: v for k, v in env_for(proc).items()
                       if k.startswith("IPW_") and k != "IPW_BIN"})
    try:
        mon = ms.Monitor(collector="auto")
        time.sleep(0.5)
        text, _ = mon.metrics()
        check('platform="cpu-model"' in text, "the monitor auto-detected cpu-model")
        cpu = mon.metric('ipw_power_watts{domain="cpu"}')
        check(cpu is not None and abs(cpu - 119.0) < 6, "/metrics CPU power %s W at 100%%" % cpu)
        p = subprocess.run([IPW, "telemetry", "--target", mon.target, "--count", "2", "--interval",
                            "200ms"], capture_output=True, text=True, timeout=30)
        notes = [l for l in p.stderr.splitlines() if "modelled, not measured" in l]
        check(p.returncode == 0 and len(notes) == 1 and mon.target in notes[0],
              "telemetry --target of a cpu-model monitor says, once, that it is modelled: %r"
              % p.stderr)
        check(mon.terminate() == 0, "monitor exits 0")
        p = subprocess.run([IPW, "top", "--count", "2", "--interval", "200ms"], capture_output=True,
                           text=True, env=env_for(proc), timeout=30)
        check(p.returncode == 0 and any(l.endswith(" modeled") and " CPU " in l
                                        for l in p.stdout.splitlines()),
              "ipw top marks the modelled CPU row: %s" % p.stdout.strip())
    finally:
        ms.cleanup()
        proc.close()


def test_flags_on_every_command():
    """--cpu-tdp / --cpu-idle on profile, lab and top (one option definition in the CLI): each
    announces the model with the user's coefficients, and the lab's modelled energy follows
    them (20 + 120 x 0.5 = 80 W at 50 % busy)."""
    proc = FakeProc("AMD EPYC", ncpu=2, share=0.5)
    proc.start()
    flags = ["--collector", "cpu-model", "--cpu-tdp", "200", "--cpu-idle", "20"]
    out = tempfile.mkdtemp(prefix="ipw-cpuflags-")
    try:
        cmds = {
            "top": ["top", "--count", "1", "--plain"] + flags,
            "profile": ["profile", "--client", "sim", "--model", "llama-3.2-1b", "--client-param",
                        "time_scale=0", "--baseline-seconds", "0", "--no-eval", "--no-progress",
                        "--max-queries", "1", "--output-dir", out] + flags,
            "lab run": ["lab", "run", "--client", "sim", "--model", "llama-3.1-8b", "--baseline",
                        "0.1s", "--max-tokens", "24", "--prompt", "hi", "--json", "--db",
                        os.path.join(out, "lab.db")] + flags,
        }
        for name, args in cmds.items():
            p = subprocess.run([IPW] + args, capture_output=True, text=True, timeout=120,
                               env=env_for(proc, IPW_LOG_LEVEL="info"))
            check(p.returncode == 0 and "20.0 W idle + 120.0 W x busy share" in p.stderr and
                  "TDP 200 W per package given (--cpu-tdp" in p.stderr,
                  "ipw %s announces --cpu-tdp 200 --cpu-idle 20: rc %d %s"
                  % (name, p.returncode, p.stderr.strip()[-600:]))
            if name == "lab run" and p.returncode == 0:
                run = [json.loads(l) for l in p.stdout.splitlines()
                       if l.startswith('{"variant"')][0]
                watts = run["cpu_wh"] * 3600 / run["latency_s"]
                check(abs(watts - 80) < 8,
                      "the lab's modelled CPU power follows them: %.1f W (80 W)" % watts)
    finally:
        shutil.rmtree(out, ignore_errors=True)
        proc.close()


def main():
    test_known_cpu()
    test_unknown_cpu_and_flags()
    test_flags_on_every_command()
    test_monitor_and_top()
    return summary()


if __name__ == "__main__":
    sys.exit(main())
