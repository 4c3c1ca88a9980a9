"""Helpers shared by the analysis integration tests: paths from CTest's environment, fixture
runs, and running the ipw program."""
import json
import os
import subprocess
import sys
import tempfile

SRC = os.environ.get("IPW_TEST_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "../../.."))
IPW = os.environ.get("IPW_BIN", os.path.join(SRC, "build", "ipw"))
PY = os.environ.get("IPW_PYTHON", sys.executable)
MAKE_RUN = os.path.join(SRC, "tests", "fixtures", "make_run.py")


def tmpdir(prefix):
    return tempfile.mkdtemp(prefix=prefix, dir=os.environ.get("TMPDIR"))


def make_run(path, *args):
    subprocess.run([PY, MAKE_RUN, path, *map(str, args)], check=True)
    return path


def ipw(*args, env=None, check=None):
    """Runs ipw; returns (exit code, stdout, stderr). check: expected exit code."""
    e = dict(os.environ)
    e.pop("IPW_EVAL_API_KEY", None)
    e.pop("OPENAI_API_KEY", None)
    if env:
        e.update(env)
    p = subprocess.run([IPW, *map(str, args)], capture_output=True, text=True, env=e,
                       timeout=int(os.environ.get("IPW_TEST_CMD_TIMEOUT", "300")))
    if check is not None and p.returncode != check:
        raise AssertionError("ipw %s exited %d, expected %d\nstdout:\n%s\nstderr:\n%s" % (
            " ".join(map(str, args)), p.returncode, check, p.stdout, p.stderr))
    return p.returncode, p.stdout, p.stderr


def load_jsonl(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def load_json(path):
    with open(path) as f:
        return json.load(f)


def check(cond, msg):
    if not cond:
        raise AssertionError(msg)
