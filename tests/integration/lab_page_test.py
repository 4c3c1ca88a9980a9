#!/usr/bin/env python3
"""`ipw lab serve` in a real browser, against the real lab: a fake powercap tree whose package
counter advances at 40 W while the machine is idle and 100 W while a request to the scripted
LLM server is in flight, the scripted server itself, and headless Chromium driven by
tests/integration/browser/lab_page_check.js (load, Run, live log order, figures and charts equal
to the API, a 3-run batch and its statistics row, Remove, a second client, a narrow window, no
console error, no request leaving 127.0.0.1). Then the page's runs are visible to
`ipw lab history`, and the screenshots are kept in $IPW_LAB_SCREENSHOTS when it is set."""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(__file__))
from checks import browser_tools  # noqa: E402
from rapl_ramp import energy_path  # noqa: E402

SRC = os.environ.get("IPW_TEST_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "../.."))
BIN = os.environ.get("IPW_TEST_BINARY_DIR", os.path.join(SRC, "build"))
IPW = os.environ.get("IPW_BIN", os.path.join(BIN, "ipw"))
IDLE_W, BUSY_W = 40.0, 100.0


def check(cond, msg):
    if not cond:
        raise AssertionError(msg)


class BusyRamp(threading.Thread):
    """Advances the package counter every 2 ms, in place (the collector keeps the file open):
    BUSY_W from the moment the LLM server logs a chat request until the scripted reply is over
    (busy_s later), IDLE_W otherwise."""

    def __init__(self, root, zone, log_path, busy_s):
        super().__init__(daemon=True)
        path = energy_path(root, zone)
        with open(path) as f:
            self.value = int(f.read())
        self.fd = os.open(path, os.O_WRONLY)
        self.log_path, self.busy_s = log_path, busy_s
        self.seen, self.busy_until = 0, 0.0
        self.stop = threading.Event()

    def chats(self):
        try:
            with open(self.log_path) as f:
                return sum(1 for line in f if "/api/chat" in line)
        except OSError:
            return 0

    def run(self):
        last = time.monotonic()
        while not self.stop.wait(0.002):
            now = time.monotonic()
            n = self.chats()
            if n > self.seen:
                self.seen, self.busy_until = n, now + self.busy_s
            watts = BUSY_W if now < self.busy_until else IDLE_W
            self.value += int(watts * (now - last) * 1e6)
            os.pwrite(self.fd, b"%d\n" % self.value, 0)
            last = now

    def close(self):
        self.stop.set()
        self.join()
        os.close(self.fd)


def start(cmd, env=None, **kw):
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, **kw)


def wait_file(path, timeout=10):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if os.path.exists(path) and os.path.getsize(path) > 0:
            return open(path).read().strip()
        time.sleep(0.02)
    raise AssertionError("%s never appeared" % path)


def main():
    node, browser_dir = browser_tools(check)
    check(os.path.exists("/usr/bin/chromium") or os.environ.get("CHROMIUM"),
          "chromium is missing (scripts/install-deps.sh installs it)")
    work = tempfile.mkdtemp(prefix="ipw-labpage-", dir=os.environ.get("TMPDIR"))
    procs, ramp = [], None
    try:
        sysfs = os.path.join(work, "sys")
        subprocess.run([os.path.join(BIN, "tests", "ipw-fake-sysfs"), "zone", sysfs,
                        "intel-rapl:0", "package-0", "1000000"], check=True)
        port_file = os.path.join(work, "llm.port")
        # slow enough that the page sees the run in flight: 0.4 s to the first token, then
        # 24 tokens 50 ms apart
        llm = start([os.path.join(BIN, "tests", "llm_test_server"), "--port", "0",
                     "--port-file", port_file, "--log", os.path.join(work, "llm.log"),
                     "--model", "m1=ttft=400ms,itl=50ms,tokens=24,prompt_tokens=14",
                     "--model", "m2=ttft=100ms,itl=20ms,tokens=10,stall=600ms,stall_after=5"])
        procs.append(llm)
        llm_port = int(wait_file(port_file))
        ramp = BusyRamp(sysfs, "intel-rapl:0", os.path.join(work, "llm.log"), 0.4 + 24 * 0.05)
        ramp.start()

        env = dict(os.environ, IPW_SYSFS_ROOT=sysfs, IPW_LOG_LEVEL="warn")
        db = os.path.join(work, "lab.db")
        serve = start([IPW, "lab", "serve", "--port", "0", "--client", "ollama",
                       "--client-base-url", "http://127.0.0.1:%d" % llm_port, "--model", "m1",
                       "--collector", "rapl", "--server-pid", "none", "--db", db], env=env)
        procs.append(serve)
        line = serve.stdout.readline()
        check("the page is at http://127.0.0.1:" in line, "ipw lab serve said: %r" % line)
        url = line.split("the page is at ")[1].strip()

        # the command line's refusals: a non-loopback bind without --allow-remote (usage, 2),
        # a store that cannot be opened (runtime, 1), each one line naming the fix
        blocker = os.path.join(work, "a-file")
        open(blocker, "w").close()
        for args, code, says in ((["--bind", "0.0.0.0"], 2, "--allow-remote"),
                                 (["--db", os.path.join(blocker, "lab.db")], 1, "a-file")):
            bad = subprocess.run([IPW, "lab", "serve", "--port", "0", *args], capture_output=True,
                                 text=True, timeout=30, env=env)
            check(bad.returncode == code and says in bad.stderr,
                  "ipw lab serve %s: exit %d, %r" % (args, bad.returncode, bad.stderr))

        shots = os.environ.get("IPW_LAB_SCREENSHOTS") or os.path.join(work, "shots")
        p = subprocess.run([node, os.path.join(browser_dir, "lab_page_check.js"), url, shots],
                           capture_output=True, text=True, timeout=300, cwd=browser_dir)
        sys.stdout.write(p.stdout)
        sys.stderr.write(p.stderr)
        if p.returncode != 0:
            serve.send_signal(signal.SIGINT)
            _, err = serve.communicate(timeout=20)
            sys.stderr.write("ipw lab serve's stderr:\n" + err)
        check(p.returncode == 0, "browser check failed (exit %d)" % p.returncode)

        # the page's runs are the lab's runs: the command line sees them in the same store
        h = subprocess.run([IPW, "lab", "history", "--db", db, "--json"], capture_output=True,
                           text=True, timeout=60, env=env)
        check(h.returncode == 0, "ipw lab history failed: %s" % h.stderr)
        hist = json.loads(h.stdout)
        check(len(hist["runs"]) == 2, "history has %d runs, expected the two single runs (the "
              "3-run batch was removed on the page)" % len(hist["runs"]))
        run = [r for r in hist["runs"] if r["model"] == "m1"][0]
        check(run["model"] == "m1" and run["total_wh"] > 0, "stored run: %s" % run)
        # a sanity check against the fake machine (40 W idle, 100 W busy); the lab's own tests
        # hold the 1 % accuracy, this one only that the page's run was measured on this tree
        # (the ramp thread may be late by some ms on a loaded machine)
        check(abs(run["idle_watts"] - IDLE_W) / IDLE_W < 0.25 and run["total_active_wh"] > 0,
              "idle baseline %.3f W, active %.6f Wh: the fake machine idles at %.0f W and "
              "draws %.0f W busy" % (run["idle_watts"], run["total_active_wh"], IDLE_W, BUSY_W))

        # Ctrl-C stops the server cleanly
        serve.send_signal(signal.SIGINT)
        check(serve.wait(timeout=20) == 0, "ipw lab serve did not exit 0 on SIGINT")
        print("ok: lab page against the real lab (%s)" % url)
    finally:
        if ramp:
            ramp.close()
        for pr in procs:
            if pr.poll() is None:
                pr.kill()
            pr.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
