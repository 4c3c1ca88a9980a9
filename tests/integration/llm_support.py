"""Helpers the command-line tests share (newuser_cli.py, profile_cli.py, lab_cli.py): the scripted LLM
server (tests/fakes' llm_test_server) started on a free port, fail/check that stop it before
leaving, and running the ipw binary."""

import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import monitor_support as ms  # noqa: E402

IPW = os.environ["IPW_BIN"]
BIN = os.environ.get("IPW_TEST_BINARY_DIR", ".")
SERVER = os.environ.get("IPW_LLM_TEST_SERVER") or os.path.join(BIN, "tests", "llm_test_server")

servers = []


def fail(msg):
    """Stop the LLM servers too before monitor_support's fail leaves the process."""
    for s in servers:
        if s.proc.poll() is None:
            s.proc.kill()
    ms.fail(msg)


def check(cond, msg):
    if not cond:
        fail(msg)
    print("ok: " + msg, flush=True)


class LlmServer:
    """llm_test_server serving the given model specs ("name=ttft=1ms,tokens=2"); every request
    it answers is logged as one JSON line; extra: more arguments ("--max-seconds", "600")."""

    def __init__(self, *models, extra=()):
        self.dir = ms.tmpdir("ipw-llm-")
        port_file = os.path.join(self.dir, "port")
        self.log = os.path.join(self.dir, "requests.jsonl")
        args = [SERVER, "--port", "0", "--port-file", port_file, "--log", self.log]
        for m in models:
            args += ["--model", m]
        args += list(extra)
        # no inherited stdout: a pipe held open by a stray server would keep ctest waiting
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        servers.append(self)
        deadline = time.time() + 10
        while time.time() < deadline:
            if os.path.exists(port_file) and open(port_file).read().strip():
                self.port = int(open(port_file).read().strip())
                self.url = "http://127.0.0.1:%d" % self.port
                return
            time.sleep(0.02)
        fail("llm_test_server did not start")

    def requests(self, path):
        """The logged requests to path, oldest first."""
        if not os.path.exists(self.log):
            return []
        return [r for r in (json.loads(line) for line in open(self.log)) if r.get("path") == path]

    def chat_prompts(self):
        """The last message of each /api/chat request."""
        return [r["body"]["messages"][-1]["content"] for r in self.requests("/api/chat")]

    def stop(self):
        self.proc.kill()
        self.proc.wait()


def run(args, env=None, timeout=120, **kw):
    """ipw with args, the environment plus env; its output captured as text."""
    e = dict(os.environ)
    e.update(env or {})
    return subprocess.run([IPW] + args, capture_output=True, text=True, env=e, timeout=timeout,
                          **kw)
