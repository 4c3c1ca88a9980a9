#!/usr/bin/python3
"""Stands in for macOS powermetrics in the tests: `--samplers S -i MS -f plist` prints XML plist
samples separated by NUL bytes, every MS milliseconds, shaped like the real tool's output.

Behaviour is chosen through the environment:
  FAKE_PM_COUNT=N         emit N samples, then stay silent until killed (default: no end)
  FAKE_PM_TRUNCATE_AT=i,j samples i, j (1-based) are cut off half-way (then the NUL follows)
  FAKE_PM_GARBAGE_AT=i,j  samples i, j are garbage bytes instead of a plist
  FAKE_PM_REJECT_ANE=1    refuse the ane_power sampler like an older macOS (exit 64)
  FAKE_PM_NOT_ROOT=1      refuse to run like powermetrics without root (exit 1)
  FAKE_PM_CRASH_AFTER=N   exit with status 3 after N samples
  FAKE_PM_IGNORE_TERM=1   ignore SIGTERM (so only SIGKILL ends it)
  FAKE_PM_LOG=PATH        append "args ..." per start and "sample K CPU GPU ANE" (mJ) per good
                          sample emitted, so tests can compare sums with what was sent
Sample K (1-based, counted over all samples including bad ones) holds cpu_energy 10K+3,
gpu_energy 100K+7 and ane_energy K mJ.
"""
import os
import signal
import sys
import time


def env_int(name, default=None):
    v = os.environ.get(name)
    return int(v) if v else default


def env_set(name):
    v = os.environ.get(name, "")
    return {int(x) for x in v.split(",") if x.strip()}


def log(line):
    path = os.environ.get("FAKE_PM_LOG")
    if path:
        with open(path, "a") as f:
            f.write(line + "\n")


def plist(k, interval_ms, with_ane):
    cpu, gpu, ane = 10 * k + 3, 100 * k + 7, k
    secs = interval_ms / 1000.0
    cpu_mw, gpu_mw, ane_mw = cpu / secs, gpu / secs, (ane / secs if with_ane else 0.0)
    ane_keys = ""
    if with_ane:
        ane_keys = ("\t\t<key>ane_energy</key>\n\t\t<integer>%d</integer>\n"
                    "\t\t<key>ane_power</key>\n\t\t<real>%r</real>\n" % (ane, ane_mw))
    cluster = ("\t\t\t<dict>\n\t\t\t\t<key>name</key>\n\t\t\t\t<string>%s</string>\n"
               "\t\t\t\t<key>freq_hz</key>\n\t\t\t\t<real>%r</real>\n"
               "\t\t\t\t<key>idle_ratio</key>\n\t\t\t\t<real>0.875</real>\n"
               "\t\t\t\t<key>cpus</key>\n\t\t\t\t<array>\n"
               "\t\t\t\t\t<dict><key>cpu</key><integer>0</integer>"
               "<key>freq_hz</key><real>1.0e9</real></dict>\n"
               "\t\t\t\t</array>\n\t\t\t</dict>\n")
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" '
        '"http://www.apple.com/DTDs/PropertyList-1.0.dtd">\n'
        '<plist version="1.0">\n<dict>\n'
        "\t<key>is_delta</key>\n\t<true/>\n"
        "\t<key>elapsed_ns</key>\n\t<integer>%d</integer>\n"
        "\t<key>hw_model</key>\n\t<string>Mac14,2 &amp; fake</string>\n"
        "\t<key>kern_osversion</key>\n\t<string>23A344</string>\n"
        "\t<key>kern_bootargs</key>\n\t<string></string>\n"
        "\t<key>kern_boottime</key>\n\t<integer>1700000000</integer>\n"
        "\t<key>timestamp</key>\n\t<date>2024-05-01T12:00:00Z</date>\n"
        "\t<!-- processor holds the energies, as in powermetrics -->\n"
        "\t<key>processor</key>\n\t<dict>\n"
        "\t\t<key>clusters</key>\n\t\t<array>\n%s%s\t\t</array>\n"
        "%s"
        "\t\t<key>cpu_energy</key>\n\t\t<integer>%d</integer>\n"
        "\t\t<key>cpu_power</key>\n\t\t<real>%r</real>\n"
        "\t\t<key>gpu_energy</key>\n\t\t<integer>%d</integer>\n"
        "\t\t<key>gpu_power</key>\n\t\t<real>%r</real>\n"
        "\t\t<key>combined_power</key>\n\t\t<real>%r</real>\n"
        "\t</dict>\n"
        "\t<key>gpu</key>\n\t<dict>\n\t\t<key>freq_hz</key>\n\t\t<real>389.0</real>\n"
        "\t\t<key>idle_ratio</key>\n\t\t<real>0.5</real>\n"
        "\t\t<key>dvfm_states</key>\n\t\t<array/>\n\t</dict>\n"
        "\t<key>thermal_pressure</key>\n\t<string>Nominal</string>\n"
        "</dict>\n</plist>\n"
        % (int(interval_ms * 1e6), cluster % ("E-Cluster", 972.0e6),
           cluster % ("P-Cluster", 3.2e9), ane_keys, cpu, cpu_mw, gpu, gpu_mw,
           cpu_mw + gpu_mw + ane_mw)
    ), (cpu, gpu, ane if with_ane else 0)


def main():
    args = sys.argv[1:]
    log("args " + " ".join(args))
    samplers, interval, fmt = None, None, None
    i = 0
    while i < len(args):
        a = args[i]
        if a in ("--samplers", "-s") and i + 1 < len(args):
            samplers, i = args[i + 1], i + 2
        elif a in ("-i", "--sample-rate") and i + 1 < len(args):
            interval, i = int(args[i + 1]), i + 2
        elif a in ("-f", "--format") and i + 1 < len(args):
            fmt, i = args[i + 1], i + 2
        else:
            sys.stderr.write("powermetrics: unknown option %s\n" % a)
            return 2
    if os.environ.get("FAKE_PM_NOT_ROOT"):
        sys.stderr.write("powermetrics must be invoked as the superuser\n")
        return 1
    if samplers is None or interval is None or fmt != "plist":
        sys.stderr.write("usage: powermetrics --samplers S -i MS -f plist\n")
        return 2
    with_ane = "ane_power" in samplers.split(",")
    if with_ane and os.environ.get("FAKE_PM_REJECT_ANE"):
        sys.stderr.write("powermetrics: unrecognized sampler: ane_power\n")
        return 64
    if os.environ.get("FAKE_PM_IGNORE_TERM"):
        signal.signal(signal.SIGTERM, signal.SIG_IGN)

    count = env_int("FAKE_PM_COUNT")
    crash_after = env_int("FAKE_PM_CRASH_AFTER")
    truncate_at, garbage_at = env_set("FAKE_PM_TRUNCATE_AT"), env_set("FAKE_PM_GARBAGE_AT")
    out = sys.stdout.buffer
    start = time.monotonic()
    k = 0
    while count is None or k < count:
        k += 1
        # the real tool prints a sample at the end of each interval
        time.sleep(max(0.0, start + k * interval / 1000.0 - time.monotonic()))
        text, energies = plist(k, interval, with_ane)
        data = text.encode()
        if k in truncate_at:
            data = data[: len(data) // 2]
        elif k in garbage_at:
            data = b"\x01\xff<<garbage>> not a plist &bogus; \x7f" * 3
        else:
            log("sample %d %d %d %d" % (k, energies[0], energies[1], energies[2]))
        # in pieces, so the reader must put a sample together across reads
        third = len(data) // 3
        for piece in (data[:third], data[third : 2 * third], data[2 * third :] + b"\0"):
            out.write(piece)
            out.flush()
        if crash_after is not None and k >= crash_after:
            sys.stderr.write("fake powermetrics: simulated crash\n")
            return 3
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BrokenPipeError:
        sys.exit(141)
