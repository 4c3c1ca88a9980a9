#!/usr/bin/python3
"""Runs the real `ipw telemetry --local` program against fake hardware:

1. RAPL on a fake powercap tree (IPW_SYSFS_ROOT) whose package and dram counters a thread
   advances like the kernel would: three JSON readings, CPU energy as the main energy, rising,
   with derived power and DRAM apart.
2. The same tree with root-only counters, seen by an unprivileged user (when we are root):
   --collector rapl fails naming the file and the fix; auto-detection falls back to null.
3. The macOS collector on tests/fakes/fake_powermetrics.py (IPW_POWERMETRICS).
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import unpriv  # noqa: E402
from checks import check, summary  # noqa: E402
from rapl_ramp import Ramp  # noqa: E402

IPW = os.environ["IPW_BIN"]
TOOL = os.environ["IPW_FAKE_SYSFS"]
SRC = os.environ["IPW_TEST_SOURCE_DIR"]


def run_ipw(args, env_extra, user=None):
    env = dict(os.environ)
    env.update(env_extra)
    kw = {}
    if user is not None:
        kw = {"user": user, "group": user, "extra_groups": []}
    return subprocess.run([IPW] + args, env=env, capture_output=True, text=True, timeout=60,
                          **kw)


def readings(proc):
    return [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]


def test_rapl(root):
    ramp = Ramp(root, {"intel-rapl:0": 40.0, "intel-rapl:1": 60.0, "intel-rapl:0:1": 5.0,
                       "intel-rapl:0:0": 30.0, "intel-rapl:2": 200.0})
    ramp.start()
    try:
        p = run_ipw(["telemetry", "--local", "--collector", "rapl", "--count", "3", "--json",
                     "--interval", "200ms"], {"IPW_SYSFS_ROOT": root})
    finally:
        ramp.close()
    check(p.returncode == 0, "rapl telemetry exits 0 (stderr: %s)" % p.stderr.strip())
    rs = readings(p)
    check(len(rs) == 3, "three readings, got %d" % len(rs))
    if len(rs) != 3:
        return
    for r in rs:
        check(r["platform"] == "rapl", "platform rapl")
        check(r["energy_joules"] == r["cpu_energy_joules"], "main energy is the CPU package")
        check(r["energy_source"] == "counter", "energy source counter")
        check(r["cpu_memory_usage_mb"] > 0, "CPU memory reported")
        check(r["gpu_memory_usage_mb"] == -1 and r["temperature_celsius"] == -1,
              "no GPU values")
    e = [r["energy_joules"] for r in rs]
    d = [r["dram_energy_joules"] for r in rs]
    check(e[0] >= 0 and e[1] > e[0] and e[2] > e[1], "CPU energy rises: %s" % e)
    check(d[2] > d[0] >= 0, "DRAM energy rises: %s" % d)
    # packages add 100 W, dram 5 W; with core (30 W) or psys (200 W) added it would be 130+ W.
    # The writer can only fall behind, never run ahead, so the rate is at most 100 W.
    span = (rs[2]["timestamp_nanos"] - rs[0]["timestamp_nanos"]) / 1e9
    rate = (e[2] - e[0]) / span
    check(0 < rate < 115, "core and psys not added to CPU: %.1f W" % rate)
    check(d[2] - d[0] < e[2] - e[0], "DRAM apart from CPU")
    for r in rs[1:]:
        check(r["power_watts"] > 0 and r["power_watts"] == r["cpu_power_watts"],
              "derived CPU power on later readings: %s" % r["power_watts"])
        check(r["gpu_power_source"] == "derived", "power source derived")
        check(r["dram_power_watts"] >= 0, "DRAM power")


def test_unprivileged(root):
    if os.geteuid() != 0:
        print("not root: the permission test runs with chmod only")
    elif not unpriv.nobody_can_run(IPW):
        print("SKIP permission test: user nobody cannot execute %s (is the checkout under a "
              "private directory?)" % IPW)
        return
    for dirpath, _, files in os.walk(os.path.join(root, "devices")):
        for f in files:
            if f == "energy_uj":
                os.chmod(os.path.join(dirpath, f), 0o400)
    user = 65534 if os.geteuid() == 0 else None
    # /proc moved to an empty place: auto-detection would otherwise end at the CPU power model
    env = {"IPW_SYSFS_ROOT": root, "IPW_PROCFS_ROOT": root + "/noproc",
           "IPW_NVML_LIBRARY": "/nonexistent/libnvidia-ml.so.1",
           "IPW_ROCM_SMI_LIBRARY": "/nonexistent/librocm_smi64.so", "IPW_LOG_LEVEL": "info"}
    p = run_ipw(["telemetry", "--local", "--collector", "rapl", "--count", "1", "--json"], env,
                user)
    check(p.returncode == 1, "forced rapl without permission fails (rc %d)" % p.returncode)
    check("intel-rapl:0/energy_uj: permission denied" in p.stderr,
          "message names the file: %s" % p.stderr.strip())
    check("run the monitor as root" in p.stderr and "udev rule" in p.stderr,
          "message names the fix")
    p = run_ipw(["telemetry", "--local", "--count", "1", "--json"], env, user)
    rs = readings(p)
    check(p.returncode == 0 and len(rs) == 1 and rs[0]["platform"] == "null",
          "auto falls back to null: rc %d, %s" % (p.returncode, p.stdout.strip()))
    check("rapl: cannot read" in p.stderr, "the detection log says why: %s" % p.stderr.strip())


def test_powermetrics():
    fake = os.path.join(SRC, "tests/fakes/fake_powermetrics.py")
    p = run_ipw(["telemetry", "--local", "--collector", "macos", "--count", "3", "--json",
                 "--interval", "100ms"], {"IPW_POWERMETRICS": fake})
    check(p.returncode == 0, "macos telemetry exits 0 (stderr: %s)" % p.stderr.strip())
    rs = readings(p)
    check(len(rs) == 3, "three macos readings")
    if len(rs) == 3:
        check(all(r["platform"] == "macos" for r in rs), "platform macos")
        e = [r["energy_joules"] for r in rs]
        check(e[0] > 0 and e[2] > e[0], "GPU rail energy accumulates: %s" % e)
        check(rs[2]["ane_energy_joules"] > 0, "ANE energy")
        check(rs[2]["power_watts"] > 0, "GPU power")


def main():
    root = tempfile.mkdtemp(prefix="ipw-int-sysfs-")
    os.chmod(root, 0o755)
    try:
        subprocess.run([TOOL, "standard", root], check=True)
        test_rapl(root)
        test_unprivileged(root)
        test_powermetrics()
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return summary()


if __name__ == "__main__":
    sys.exit(main())
