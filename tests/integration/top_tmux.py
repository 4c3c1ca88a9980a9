#!/usr/bin/python3
"""`ipw top` in a real terminal: tmux runs it in a detached 120x24 pane, send-keys types the
keys, capture-pane reads the screen.

  local   the sim collector: device rows, sparklines, the modelled mark, the total equal to the
          sum of the rows, + and - changing the interval (bounded), q quitting with status 0
          and the screen given back (alternate screen left).
  fleet   two real energy-monitors on fake RAPL trees whose counters advance at 40 W and 60 W,
          and a third target where nothing listens: a row per node, the dead one marked down,
          the cluster total the sum of the live ones.
  plain   output to a pipe: plain lines, --count refreshes; bad --interval and --target are
          usage errors (exit 2)."""
import os
import re
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import monitor_support as ms  # noqa: E402
from checks import run_group  # noqa: E402
from monitor_support import check, fail  # noqa: E402
from rapl_ramp import Ramp  # noqa: E402

IPW = os.environ["IPW_BIN"]
TMUX = shutil.which("tmux")
SPARK = re.compile("[\u2581-\u2588]")


class Pane:
    def __init__(self, args, env=None):
        self.sock = os.path.join(ms.tmpdir("ipw-tmux-"), "sock")
        envs = []
        for k, v in (env or {}).items():
            envs += ["-e", "%s=%s" % (k, v)]
        # the exit status goes to a file: tmux's own pane_dead_status can lag behind pane_dead
        self.status_file = os.path.join(os.path.dirname(self.sock), "status")
        cmd = " ".join("'%s'" % a for a in [IPW] + args)
        cmd = "%s; echo $? > '%s'" % (cmd, self.status_file)
        self.tmux("new-session", "-d", "-x", "120", "-y", "24", *envs, cmd)
        self.tmux("set-option", "-g", "remain-on-exit", "on")

    def tmux(self, *args):
        return subprocess.run([TMUX, "-S", self.sock] + list(args), capture_output=True,
                              text=True, timeout=20)

    def screen(self):
        return self.tmux("capture-pane", "-p").stdout

    # Generous: under a loaded machine (ctest -j with other suites) tmux, the program and its
    # monitors can take many seconds to start; a correct program gets there, a wrong one never.
    def wait(self, pattern, timeout=45):
        deadline = time.time() + timeout
        while time.time() < deadline:
            s = self.screen()
            if re.search(pattern, s, re.M):
                return s
            time.sleep(0.1)
        fail("screen never showed %r:\n%s" % (pattern, self.screen()))

    def settle(self, ready, timeout=45):
        """The first screen on which ready(screen) holds, else the last one seen: the checks
        that follow then run on a screen that had time to fill in, and fail as before when it
        never does."""
        deadline = time.time() + timeout
        s = self.screen()
        while time.time() < deadline and not ready(s):
            time.sleep(0.2)
            s = self.screen()
        return s

    def exit_status(self):
        """The program's exit status once it has ended, else None."""
        try:
            with open(self.status_file) as f:
                text = f.read().strip()
            return int(text) if text else None
        except OSError:
            return None

    def close(self):
        self.tmux("kill-server")


def rows(screen):
    """{label: power} of the table's rows, and the total line's power."""
    out, total = {}, None
    for line in screen.splitlines():
        m = re.match(r"^(\S.{0,22}?)\*?\s+(-|\d+\.\d)\s+(-|\d+\.\d)(?:\s|$)", line)
        if not m or line.startswith(("DEVICE", "NODE")):
            continue
        label, p = m.group(1).strip(), m.group(2)
        if label in ("TOTAL", "CLUSTER TOTAL"):
            total = float(p)
        elif p != "-":
            out[label] = float(p)
    return out, total


def group_local():
    pane = Pane(["top", "--collector", "sim", "--interval", "200ms"])
    try:
        pane.wait(r"^TOTAL")
        s = pane.settle(lambda s: len(SPARK.findall(s)) >= 4 and "CPU" in rows(s)[0])
        check(s.startswith("ipw top - local: sim") and "interval 0.2 s" in s, "header: %s" % s.splitlines()[0])
        r, total = rows(s)
        check(any(k.startswith("GPU0") for k in r) and "CPU" in r, "device rows: %s" % r)
        check(total is not None and abs(total - sum(r.values())) < 0.05 * len(r) + 0.01,
              "TOTAL %s is the sum of the rows %s" % (total, r))
        check(len(SPARK.findall(s)) >= 4, "sparklines drawn")
        check("* modelled, not measured" in s and "CPU*" in s, "the modelled mark")
        pane.tmux("send-keys", "+")
        pane.wait(r"interval 0\.4 s")
        check(True, "+ doubles the interval")
        for _ in range(4):
            pane.tmux("send-keys", "-")
        pane.wait(r"interval 0\.1 s")
        time.sleep(0.5)
        check("interval 0.1 s" in pane.screen(), "- halves it, not below 100 ms")
        pane.tmux("send-keys", "q")
        deadline = time.time() + 30
        while time.time() < deadline and pane.exit_status() is None:
            time.sleep(0.1)
        check(pane.exit_status() == 0, "q quits with status 0: %s" % pane.exit_status())
        check("TOTAL" not in pane.screen(), "the terminal's own screen is back after q")
    finally:
        pane.close()


def group_fleet():
    ramps, mons = [], []
    try:
        for watts in (40.0, 60.0):
            root = ms.tmpdir("ipw-top-sys-")
            os.chmod(root, 0o755)
            subprocess.run([os.environ["IPW_FAKE_SYSFS"], "standard", root], check=True)
            ramp = Ramp(root, {"intel-rapl:0": watts})
            ramp.start()
            ramps.append(ramp)
            os.environ["IPW_SYSFS_ROOT"] = root
            mons.append(ms.Monitor(collector="rapl"))
        dead = "127.0.0.1:%d" % free_port()
        args = ["top", "--interval", "500ms"]
        for m in mons:
            args += ["--target", m.target]
        args += ["--target", dead]
        pane = Pane(args)
        try:
            pane.wait(r"^CLUSTER TOTAL\s+\d")

            def ready(s):
                r = rows(s)[0]
                a, b = r.get(mons[0].target), r.get(mons[1].target)
                return ("(2 of 3 nodes up)" in s and a is not None and b is not None
                        and abs(a - 40) < 6 and abs(b - 60) < 6
                        and re.search(r"^%s\s+down: " % re.escape(dead), s, re.M) is not None)
            s = pane.settle(ready)
            check("fleet: 3 monitors" in s, "fleet header")
            r, total = rows(s)
            a, b = r.get(mons[0].target), r.get(mons[1].target)
            check(a is not None and abs(a - 40) < 6 and b is not None and abs(b - 60) < 6,
                  "node rows show their counters' power: %s" % r)
            check(total is not None and abs(total - (a or 0) - (b or 0)) <= 0.11,
                  "cluster total %s is the live nodes' sum" % total)
            check(re.search(r"^%s\s+down: " % re.escape(dead), s, re.M) is not None,
                  "the unreachable monitor's row says down")
            check("(2 of 3 nodes up)" in s, "2 of 3 nodes up")
            pane.tmux("send-keys", "q")
        finally:
            pane.close()
    finally:
        for r in ramps:
            r.close()
        for m in mons:
            m.terminate()


def free_port():
    import socket
    with socket.socket() as sk:
        sk.bind(("127.0.0.1", 0))
        return sk.getsockname()[1]


def group_plain():
    p = subprocess.run([IPW, "top", "--collector", "sim", "--count", "2", "--interval", "100ms"],
                       capture_output=True, text=True, timeout=30)
    lines = p.stdout.splitlines()
    check(p.returncode == 0, "plain run exits 0")
    check(len([l for l in lines if " TOTAL power_W=" in l]) == 2, "two refreshes, one TOTAL each")
    check(all(re.match(r"^\d\d:\d\d:\d\d \S", l) for l in lines) and "\033" not in p.stdout,
          "plain lines, no terminal escapes")
    check(any("CPU power_W=" in l and l.endswith(" modeled") for l in lines),
          "modelled rows say so")
    for bad, what in ((["--interval", "5ms"], "100ms and 10s"), (["--target", "nohost"], "--target nohost")):
        p = subprocess.run([IPW, "top"] + bad, capture_output=True, text=True, timeout=30)
        check(p.returncode == 2 and what in p.stderr, "%s is a usage error: %s" % (bad, p.stderr.strip()))


def main():
    return run_group({"local": group_local, "fleet": group_fleet, "plain": group_plain},
                     ms.cleanup,
                     skip=lambda g: "tmux is not installed" if g != "plain" and not TMUX else None)


if __name__ == "__main__":
    sys.exit(main())
