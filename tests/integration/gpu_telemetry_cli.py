"""`ipw telemetry --local` against the fake GPU libraries: runs the real ipw program and checks
that what it prints is sane. Usage: gpu_telemetry_cli.py nvidia|nvidia-default-soname|amd|missing
(environment from CTest: IPW_BIN, IPW_TEST_BINARY_DIR)."""
import json
import os
import subprocess
import sys

IPW = os.environ["IPW_BIN"]
FAKES = os.path.join(os.environ["IPW_TEST_BINARY_DIR"], "tests", "fakes")


def run(args, extra_env):
    env = dict(os.environ)
    for k in ("IPW_NVML_LIBRARY", "IPW_ROCM_SMI_LIBRARY", "CUDA_VISIBLE_DEVICES",
              "IPW_FAKE_NVML_CONFIG", "IPW_FAKE_ROCM_CONFIG", "IPW_POWERMETRICS"):
        env.pop(k, None)
    env["IPW_SYSFS_ROOT"] = "/nonexistent-sysfs"  # no RAPL companion: deterministic output
    env.update(extra_env)
    return subprocess.run([IPW] + args, env=env, capture_output=True, text=True, timeout=60)


def check_readings(out, platform, uuid_head, power_source):
    lines = [l for l in out.splitlines() if l.strip()]
    assert len(lines) == 3, f"expected 3 lines, got {len(lines)}: {out!r}"
    last_e, last_ts = -1.0, 0
    for i, line in enumerate(lines):
        r = json.loads(line)
        assert r["platform"] == platform, r["platform"]
        assert r["sequence"] == i + 1
        devs = r["devices"]
        assert len(devs) == 2, devs
        assert [d["index"] for d in devs] == [0, 1]
        assert all(d["uuid"].startswith(uuid_head) for d in devs), devs
        assert 0 < r["power_watts"] < 1500, r["power_watts"]
        assert abs(r["power_watts"] - sum(d["power_watts"] for d in devs)) < 1e-6
        assert r["energy_joules"] >= last_e >= -1, (r["energy_joules"], last_e)
        assert abs(r["energy_joules"] - sum(d["energy_joules"] for d in devs)) < 1e-6
        last_e = r["energy_joules"]
        assert 0 < r["temperature_celsius"] < 120
        assert 0 < r["gpu_memory_usage_mb"] <= r["gpu_memory_total_mb"]
        assert 0 <= r["gpu_compute_utilization_pct"] <= 100
        assert r["cpu_memory_usage_mb"] > 0
        assert r["timestamp_nanos"] > last_ts
        last_ts = r["timestamp_nanos"]
        assert r["gpu_power_source"] == power_source, r["gpu_power_source"]
        assert r["energy_source"] == "counter", r["energy_source"]
        assert r["cpu_energy_joules"] == -1  # unavailable becomes -1 on output
    # energy grows with time at ~160 W and more
    assert last_e > 0, last_e


def main():
    mode = sys.argv[1]
    args = ["telemetry", "--local", "--count", "3", "--interval", "200ms", "--json"]
    if mode == "nvidia":
        p = run(args + ["--collector", "nvidia"],
                {"IPW_NVML_LIBRARY": os.path.join(FAKES, "nvml", "libnvidia-ml.so.1")})
        assert p.returncode == 0, p.stderr
        check_readings(p.stdout, "nvidia", "GPU-", "instant")
    elif mode == "nvidia-default-soname":
        # no override: auto-detection's own dlopen("libnvidia-ml.so.1") finds the fake
        p = run(args, {"LD_LIBRARY_PATH": os.path.join(FAKES, "nvml")})
        assert p.returncode == 0, p.stderr
        check_readings(p.stdout, "nvidia", "GPU-", "instant")
    elif mode == "amd":
        p = run(args + ["--collector", "amd"],
                {"IPW_ROCM_SMI_LIBRARY": os.path.join(FAKES, "rocm", "librocm_smi64.so")})
        assert p.returncode == 0, p.stderr
        check_readings(p.stdout, "amd", "0x", "instant")
    elif mode == "missing":
        p = run(args + ["--collector", "nvidia"],
                {"IPW_NVML_LIBRARY": "/nonexistent/libnvidia-ml.so.1"})
        assert p.returncode == 1, (p.returncode, p.stdout)
        assert p.stdout == "", p.stdout
        assert "IPW_NVML_LIBRARY=/nonexistent/libnvidia-ml.so.1" in p.stderr, p.stderr
        assert "collector nvidia" in p.stderr, p.stderr
    else:
        sys.exit(f"unknown mode {mode}")
    print(f"gpu_telemetry_cli {mode}: ok")


if __name__ == "__main__":
    main()
