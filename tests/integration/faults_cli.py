"""Faults from the outside, against the real binary and the sim backend:

- the disk full under records.jsonl, the Arrow file or summary.json alone (a fault-injecting
  LD_PRELOAD library, tests/fakes/enospc_shim.c: real ENOSPC from write/fwrite): one clear
  line naming the file and the way on, nothing already measured lost, --resume finishes;
- SIGKILL at random points of `ipw profile` (then --resume, again and again): no finished
  query lost, none run twice, every record whole;
- SIGKILL at random points of `ipw lab run --runs N`: every run reported finished is in the
  store, none twice, and the store still opens.

IPW_FAULT_KILLS sets the number of kill points of each kill test (default 50). Each case
prints what happened and what the user saw."""

import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import monitor_support as ms  # noqa: E402

IPW = os.environ["IPW_BIN"]
SHIM = os.environ["IPW_ENOSPC_SHIM"]
KILLS = int(os.environ.get("IPW_FAULT_KILLS", "50"))
rng = random.Random(int(os.environ.get("IPW_FAULT_SEED", "1207")))


def check(cond, msg):
    if not cond:
        ms.fail(msg)
    print("ok: " + msg, flush=True)


def run(args, env=None, timeout=120):
    e = dict(os.environ)
    e.update(env or {})
    return subprocess.run([IPW] + args, capture_output=True, text=True, env=e, timeout=timeout)


def last_line(p):
    lines = [line for line in p.stderr.splitlines() if line.strip()]
    return lines[-1] if lines else ""


def read_records(run_dir):
    """The whole lines of records.jsonl, parsed; a torn last line (a kill mid-write) is not a
    record and is left out."""
    path = os.path.join(run_dir, "records.jsonl")
    if not os.path.exists(path):
        return []
    out = []
    text = open(path, encoding="utf-8").read()
    for line in text.split("\n")[:-1] if not text.endswith("\n") else text.splitlines():
        if line.strip():
            out.append(json.loads(line))
    return out


def only_dir(out):
    dirs = [os.path.join(out, d) for d in os.listdir(out)] if os.path.isdir(out) else []
    return dirs[0] if len(dirs) == 1 else None


# ---- the disk full ---------------------------------------------------------------------------

N = 40


def profile_args(out, n=N):
    return ["profile", "--client", "sim", "--model", "llama-3.2-1b", "--max-queries", str(n),
            "--client-param", "time_scale=0", "--output-dir", out, "--baseline-seconds", "0",
            "--no-eval", "--no-progress"]


def disk_full(target, after, expect_exit):
    """Fills the disk under the file whose path contains target after `after` bytes."""
    out = ms.tmpdir("ipw-fault-full-")
    env = {"LD_PRELOAD": SHIM, "IPW_FAULT_ENOSPC_PATH": target,
           "IPW_FAULT_ENOSPC_AFTER": str(after),
           # an ASan build wants its runtime first; the shim before it is fine here
           "ASAN_OPTIONS": os.environ.get("ASAN_OPTIONS", "") + ":verify_asan_link_order=0"}
    p = run(profile_args(out), env=env)
    line = last_line(p)
    print("disk full under %s: exit %d, the user sees: %s" % (target, p.returncode, line))
    d = only_dir(out)
    check(d is not None, "the run directory exists")
    recs = read_records(d)
    return p, line, d, recs, out


def test_disk_full_records():
    p, line, d, recs, out = disk_full("records.jsonl", 9000, 1)
    check(p.returncode == 1, "a full disk under the log stops the run with exit 1")
    check("records.jsonl" in line and "No space left" in line and "--resume" in line,
          "one line naming the log, the cause and --resume: %r" % line)
    text = open(os.path.join(d, "records.jsonl")).read()
    check(0 < len(recs) < N and text.endswith("\n"),
          "%d whole records kept, no torn line" % len(recs))
    q = run(profile_args(out) + ["--resume"])
    idx = sorted(r["record_index"] for r in read_records(d))
    check(q.returncode == 0 and idx == list(range(N)),
          "--resume on a disk with room finishes the run, every query once")


def test_disk_full_arrow():
    p, line, d, recs, out = disk_full(".arrow", 20000, 1)
    idx = sorted(r["record_index"] for r in recs)
    check(idx == list(range(N)), "every query measured is in records.jsonl (%d)" % len(recs))
    # the measurement is complete and durable: the run succeeds, warning about its Arrow copy
    warn = [x for x in p.stderr.splitlines() if ".arrow" in x]
    check(p.returncode == 0 and len(warn) == 1 and "No space left" in warn[0] and
          "--resume" in warn[0], "one warning naming the Arrow file, the cause and --resume: %r"
          % warn)
    left = [f for f in os.listdir(d) if ".tmp." in f]
    check(not left, "no temporary Arrow file left behind: %s" % left)
    q = run(profile_args(out) + ["--resume"])
    check(q.returncode == 0 and os.path.exists(os.path.join(d, "data-00000-of-00001.arrow")),
          "--resume with room writes the Arrow dataset (%s)" % last_line(q))
    idx = sorted(r["record_index"] for r in read_records(d))
    check(idx == list(range(N)), "and no query ran twice")


def test_disk_full_summary():
    # the final summary.json cannot be written: a budget that lets the first (smaller) one in
    clean = ms.tmpdir("ipw-fault-clean-")
    p = run(profile_args(clean))
    size = os.path.getsize(os.path.join(only_dir(clean), "summary.json"))
    p, line, d, recs, out = disk_full("summary.json", size - 1, 0)
    idx = sorted(r["record_index"] for r in recs)
    check(idx == list(range(N)), "every query measured is in records.jsonl (%d)" % len(recs))
    warn = [x for x in p.stderr.splitlines() if "summary.json" in x]
    check(p.returncode == 0 and len(warn) == 1 and "No space left" in warn[0] and
          "--resume" in warn[0], "one warning naming summary.json, the cause and --resume: %r"
          % warn)
    left = [f for f in os.listdir(d) if ".tmp." in f]
    check(not left, "no temporary summary left behind: %s" % left)
    q = run(profile_args(out) + ["--resume"])
    s = json.load(open(os.path.join(d, "summary.json")))
    check(q.returncode == 0 and s.get("total_queries") == N,
          "--resume with room writes summary.json (%s)" % last_line(q))
    # no room at all: the run cannot even start its summary, and measures nothing
    p, line, d, recs, out = disk_full("summary.json", 0, 1)
    check(p.returncode == 1 and "summary.json" in line and "No space left" in line and
          not recs, "with no room from the start, one line naming summary.json: %r" % line)


# ---- SIGKILL at random points ----------------------------------------------------------------

def kill_after(args, delay):
    proc = subprocess.Popen([IPW] + args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            text=True)
    time.sleep(delay)
    if proc.poll() is None:
        proc.send_signal(signal.SIGKILL)
    out, _ = proc.communicate()
    return proc.returncode, out


def test_kill_profile():
    n = 60
    out = ms.tmpdir("ipw-fault-kill-")
    # a few milliseconds a query: the kills land in queries, appends, Arrow rewrites, the
    # summary and the start-up alike
    args = ["profile", "--client", "sim", "--model", "llama-3.2-1b", "--max-queries", str(n),
            "--client-param", "time_scale=0.002", "--output-dir", out,
            "--baseline-seconds", "0", "--no-eval", "--no-progress"]
    # The kill window follows this machine's pace: one whole run timed first, then each kill
    # drawn within the time the queries left should take (a fixed window let most runs finish
    # first on an idle machine, and would kill everything at start-up on a slow one).
    timed = ms.tmpdir("ipw-fault-timed-")
    t0 = time.monotonic()
    run(args[:args.index("--output-dir") + 1] + [timed] + args[args.index("--output-dir") + 2:])
    whole = time.monotonic() - t0
    print("one whole run of %d queries takes %.2f s here" % (n, whole))
    kept = []
    killed = finished_early = 0
    for i in range(KILLS):
        a = args + (["--resume"] if only_dir(out) else [])
        left = n - len({r["record_index"] for r in kept if r.get("status") == "ok"})
        rc, _ = kill_after(a, rng.uniform(0.0, whole * max(left / n, 0.25)))
        d = only_dir(out)
        recs = read_records(d) if d else []
        if rc == -signal.SIGKILL:
            killed += 1
        elif rc == 0:
            finished_early += 1
        else:
            ms.fail("ipw profile --resume failed after a kill (exit %d)" % rc)
        # what was on disk before stays, in order and unchanged
        if recs[:len(kept)] != kept:
            ms.fail("kill %d: finished records changed or were lost" % i)
        idx = [r["record_index"] for r in recs if r.get("status") == "ok"]
        if len(idx) != len(set(idx)):
            ms.fail("kill %d: a finished query was run again: %s" % (i, idx))
        kept = recs
        if rc == 0:  # finished before the kill: check it, then start a fresh run
            idx = sorted(r["record_index"] for r in recs)
            if idx != list(range(n)):
                ms.fail("kill %d: a finished run holds %s" % (i, idx))
            shutil.rmtree(d)
            kept = []
    print("%d kills of ipw profile (%d landed while it ran, %d runs finished first)"
          % (KILLS, killed, finished_early))
    check(killed >= KILLS // 2, "most kills landed while the profiler ran")
    d = only_dir(out)
    if d:
        p = run(args + ["--resume"])
        check(p.returncode == 0, "a last --resume finishes the run (%s)" % last_line(p))
        recs = read_records(d)
        idx = sorted(r["record_index"] for r in recs)
        check(idx == list(range(n)), "every query exactly once after %d kills" % KILLS)
        a = run(["analyze", d])
        check(a.returncode == 0, "the killed and resumed run analyses (%s)" % last_line(a))


def lab_rows(db):
    if not os.path.exists(db):
        return []
    con = sqlite3.connect(db)
    try:
        con.execute("PRAGMA integrity_check").fetchone()
        tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        if "runs" not in tables:
            return []
        return [r[0] for r in con.execute("SELECT id FROM runs ORDER BY id")]
    finally:
        con.close()


def test_kill_lab():
    d = ms.tmpdir("ipw-fault-lab-")
    db = os.path.join(d, "lab.db")
    args = ["lab", "run", "--client", "sim", "--model", "llama-3.1-8b", "--prompt", "Hello",
            "--runs", "1000", "--baseline", "0", "--db", db, "--json", "--quiet",
            "--max-tokens", "8", "--client-param", "time_scale=0.01"]
    reported = 0
    before = []
    for i in range(KILLS):
        rc, out = kill_after(args, rng.uniform(0.05, 0.5))
        done = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
        rows = lab_rows(db)
        if rows[:len(before)] != before:
            ms.fail("kill %d: stored runs were lost or changed" % i)
        if len(rows) != len(set(rows)):
            ms.fail("kill %d: a run was stored twice" % i)
        new = len(rows) - len(before)
        if new < len(done):
            ms.fail("kill %d: %d runs reported finished but %d stored" % (i, len(done), new))
        reported += len(done)
        before = rows
    print("%d kills of ipw lab run: %d runs stored, %d reported finished before their kill"
          % (KILLS, len(before), reported))
    h = run(["lab", "history", "--db", db])
    check(h.returncode == 0, "the store opens after %d kills (%s)" % (KILLS, last_line(h)))
    check(len(before) >= reported, "no run reported finished is missing from the store")


TESTS = [test_disk_full_records, test_disk_full_arrow, test_disk_full_summary,
         test_kill_profile, test_kill_lab]

if __name__ == "__main__":
    only = sys.argv[1:]
    try:
        for t in TESTS:
            if not only or t.__name__ in only:
                print("== " + t.__name__, flush=True)
                t()
    finally:
        ms.cleanup()
    print("all fault tests passed")
