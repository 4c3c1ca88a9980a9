"""ipw profile from the outside: the real binary against the scripted LLM server and the sim
backend. Crash (SIGKILL mid-query) then --resume yields every query exactly once; bad input
gives one clear line and a non-zero exit; an existing run is refused unless --resume or
--overwrite; --monitor HOST:PORT measures through a real energy-monitor; the run's Arrow dataset
is read by the independent readers (apache-arrow, duckdb-wasm) when node is present."""

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import monitor_support as ms  # noqa: E402
import unpriv  # noqa: E402

from llm_support import BIN, IPW, LlmServer, check, fail, run, servers  # noqa: E402

SRC = os.environ.get("IPW_TEST_SOURCE_DIR", ".")
NODE = os.environ.get("IPW_NODE", "")
FAKE_NVML = os.path.join(BIN, "tests", "fakes", "nvml", "libnvidia-ml.so.1")


def stderr_lines(p):
    return [line for line in p.stderr.splitlines() if line.strip()]


def dataset(d, n):
    path = os.path.join(d, "prompts.jsonl")
    with open(path, "w") as f:
        for i in range(n):
            f.write(json.dumps({"q": "prompt %d: what is %d+%d?" % (i, i, i), "a": str(2 * i)}) + "\n")
    return path


def records(run_dir):
    return [json.loads(line) for line in open(os.path.join(run_dir, "records.jsonl"))]


def only_run_dir(out):
    dirs = [os.path.join(out, d) for d in os.listdir(out)]
    check(len(dirs) == 1, "one run directory in %s" % out)
    return dirs[0]


def test_sim_run_and_readers():
    out = ms.tmpdir("ipw-prof-sim-")
    p = run(["profile", "--client", "sim", "--model", "llama-3.2-1b", "--max-queries", "12",
             "--seed", "7", "--client-param", "time_scale=0.02", "--output-dir", out,
             "--baseline-seconds", "0.3"])
    check(p.returncode == 0, "sim run exits 0 (%s)" % p.stderr[-300:])
    d = only_run_dir(out)
    check(os.path.basename(d) == "profile_SimulatedH10080GB_llama_3_2_1b_ipw",
          "run directory named profile_<hw>_<model>_<dataset> (%s)" % os.path.basename(d))
    for f in ("records.jsonl", "data-00000-of-00001.arrow", "dataset_info.json", "state.json",
              "summary.json", "analysis/accuracy.json", "analysis/regression.json"):
        check(os.path.exists(os.path.join(d, f)), "%s written" % f)
    s = json.load(open(os.path.join(d, "summary.json")))
    for k in ("model", "profiler_config", "dataset", "dataset_name", "hardware_label",
              "generated_at", "total_queries", "system_info", "gpu_info", "output_dir",
              "versions", "telemetry", "totals"):
        check(k in s, "summary.json has %s" % k)
    check(s["totals"]["completed_queries"] == 12 and s["telemetry"]["platform"] == "sim",
          "summary totals count every query, platform sim")
    recs = records(d)
    mm = recs[0]["model_metrics"]["llama-3.2-1b"]
    check(mm["energy_metrics"]["energy_source"] == "modeled", "sim energies marked modeled")
    check(mm["compute_metrics"]["flops_per_request"] > 0, "sim reports FLOPs per request")
    acc = json.load(open(os.path.join(d, "analysis", "accuracy.json")))
    n_open = sum(r["kind"] == "open" for r in recs)
    modelled = [r for r in recs if r["kind"] != "open"]
    check(acc["summary"]["unevaluated"] == n_open and
          acc["summary"]["modelled_scored"] == len(modelled) == acc["summary"]["total_scored"],
          "sim mcq/exact answers get a modelled verdict, open ones stay unevaluated: %r"
          % acc["summary"])
    check(acc["summary"]["accuracy_basis"] == "modelled accuracy" and
          all(r["server_timings"]["modelled_correctness"]["label"] == "modelled accuracy" and
              r["model_metrics"]["llama-3.2-1b"]["lm_correctness"] ==
              r["server_timings"]["modelled_correctness"]["correct"] for r in modelled),
          "records and accuracy.json label the verdicts 'modelled accuracy'")
    check(any(w.startswith("modelled accuracy") for w in acc["warnings"]) and
          not any("need a judge" in w for w in acc["warnings"]),
          "the warnings say the accuracy is modelled, not that a judge is missing: %r"
          % acc["warnings"])
    check("modelled accuracy" in p.stdout and "IPJ (modelled accuracy)" in p.stdout,
          "the printout labels accuracy and IPJ as modelled: %r" % p.stdout[-900:])
    check("modelled energy this session" in p.stdout and "not measured" in p.stdout,
          "the totals line says the energy is modelled: %r" % p.stdout[:400])
    check("modelled by the sim backend for 12 queries" in p.stdout,
          "the analysis printout says the energy is modelled: %r" % p.stdout[-900:])
    check("published benchmark accuracy" in p.stdout, "the analysis printout shows its warnings")
    q = run(["plot", d, "--format", "svg"])
    check(q.returncode == 0 and os.path.join(d, "plots") + "/{" in q.stdout,
          "ipw plot prints the directory it wrote to: %r" % q.stdout)
    # resuming a finished run measures nothing, and keeps the run's idle baseline
    p = run(["profile", "--client", "sim", "--model", "llama-3.2-1b", "--max-queries", "12",
             "--seed", "7", "--client-param", "time_scale=0.02", "--output-dir", out,
             "--baseline-seconds", "0.3", "--no-eval", "--resume"])
    s2 = json.load(open(os.path.join(d, "summary.json")))
    check(p.returncode == 0 and s2["telemetry"]["baseline"] == s["telemetry"]["baseline"]
          and s2["telemetry"]["baseline"]["duration_s"] > 0.25,
          "a resume with nothing to run keeps the baseline: %s" % s2["telemetry"]["baseline"])
    # the same seed picks the same records; the sample is reproducible
    out2 = ms.tmpdir("ipw-prof-sim2-")
    p = run(["profile", "--client", "sim", "--model", "llama-3.2-1b", "--max-queries", "12",
             "--seed", "7", "--client-param", "time_scale=0.02", "--output-dir", out2,
             "--baseline-seconds", "0", "--no-eval"])
    check(p.returncode == 0, "second sim run exits 0")
    same = [r["dataset_index"] for r in records(only_run_dir(out2))]
    check(sorted(same) == sorted(r["dataset_index"] for r in recs), "--seed sample reproducible")
    if NODE:
        for script in ("check_arrow_js.mjs", "check_duckdb.cjs"):
            q = subprocess.run([NODE, os.path.join(SRC, "tests", "integration", "node", script), d],
                               capture_output=True, text=True, timeout=300)
            check(q.returncode == 0, "%s reads the run: %s" % (script, (q.stdout + q.stderr).strip()[-300:]))
    return d


def test_existing_dir_and_overwrite():
    out = ms.tmpdir("ipw-prof-exist-")
    base = ["profile", "--client", "sim", "--model", "llama-3.2-1b", "--max-queries", "2",
            "--client-param", "time_scale=0", "--output-dir", out, "--baseline-seconds", "0",
            "--no-eval"]
    check(run(base).returncode == 0, "first run")
    p = run(base)
    check(p.returncode != 0 and "--resume" in p.stderr and "--overwrite" in p.stderr,
          "an existing run is refused, naming --resume and --overwrite")
    check(len(stderr_lines(p)) == 1, "... in one line: %r" % p.stderr)
    p = run(base + ["--overwrite"])
    check(p.returncode == 0 and len(records(only_run_dir(out))) == 2, "--overwrite replaces it")
    p = run(base + ["--resume", "--overwrite"])
    check(p.returncode == 2, "--resume with --overwrite is a usage error")
    p = run(["profile", "--client", "sim", "--model", "llama-3.2-1b", "--max-queries", "3",
             "--client-param", "time_scale=0", "--output-dir", out, "--baseline-seconds", "0",
             "--no-eval", "--resume"])
    check(p.returncode != 0 and "--max-queries" in p.stderr,
          "resuming with a different sample is refused (%s)" % p.stderr.strip())


def test_crash_and_resume():
    srv = LlmServer("m=ttft=40ms,itl=15ms,tokens=12,prompt_tokens=8")
    d = ms.tmpdir("ipw-prof-crash-")
    ds = dataset(d, 14)
    out = os.path.join(d, "runs")
    args = ["profile", "--client", "ollama", "--model", "m", "--client-base-url", srv.url,
            "--dataset", "jsonl", "--dataset-path", ds, "--dataset-param", "prompt_field=q",
            "--dataset-param", "answer_field=a", "--output-dir", out, "--baseline-seconds", "0.2",
            "--no-eval", "--collector", "null", "--warmup", "0"]  # counts every prompt sent
    proc = subprocess.Popen([IPW] + args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    rec_path = None
    deadline = time.time() + 30
    while time.time() < deadline:
        if os.path.isdir(out) and os.listdir(out):
            rec_path = os.path.join(out, os.listdir(out)[0], "records.jsonl")
            if os.path.exists(rec_path) and sum(1 for _ in open(rec_path)) >= 5:
                break
        time.sleep(0.01)
    time.sleep(0.09)  # well inside the next query (each takes ~0.22 s)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    before = records(os.path.dirname(rec_path))
    check(5 <= len(before) < 14, "killed mid-run with %d records on disk" % len(before))
    sent_before = srv.chat_prompts()
    check(len(sent_before) == len(before) + 1, "one query was in flight when killed")
    run_dir = os.path.dirname(rec_path)
    # what a kill during the Arrow rewrite or the summary's replacement leaves behind
    for name in ("data-00000-of-00001.arrow.tmp.99999", "summary.json.tmp.4242"):
        open(os.path.join(run_dir, name), "w").write("partial")
    open(os.path.join(run_dir, "notes.tmp.1"), "w").write("the user's")
    p = run(args + ["--resume"])
    check(p.returncode == 0, "--resume finishes the run (%s)" % p.stderr[-300:])
    left = sorted(f for f in os.listdir(run_dir) if ".tmp." in f)
    check(left == ["notes.tmp.1"], "a killed writer's temporaries are removed, nothing else: %s"
          % left)
    after = records(os.path.dirname(rec_path))
    idx = sorted(r["record_index"] for r in after)
    check(idx == list(range(14)), "every query exactly once after resume: %s" % idx)
    check([r["record_index"] for r in after[:len(before)]] == [r["record_index"] for r in before],
          "finished records were kept as they were")
    sent = srv.chat_prompts()
    finished = {r["problem"] for r in before}
    resent = [q for q in sent[len(sent_before):] if q in finished]
    check(not resent, "no finished query was sent again")
    check(len(sent) == 14 + 1, "the interrupted query, and only it, was sent twice")
    srv.stop()


def test_sim_models():
    """The sim client takes the names real servers use (aliases), refuses unknown names and
    models that do not fit the modelled hardware before anything is measured."""
    out = ms.tmpdir("ipw-prof-simmodels-")
    common = ["--max-queries", "1", "--client-param", "time_scale=0", "--output-dir", out,
              "--baseline-seconds", "0", "--no-eval", "--overwrite"]
    p = run(["profile", "--client", "sim", "--model", "llama3.1:8b"] + common)
    check(p.returncode == 0, "sim serves the alias llama3.1:8b (%s)" % p.stderr[-300:])
    p = run(["profile", "--client", "sim", "--model", "nosuch-model"] + common)
    check(p.returncode == 1 and len(stderr_lines(p)) == 1 and "nosuch-model" in p.stderr and
          "llama-3.1-8b" in p.stderr, "unknown sim model: one line listing the specs: %r" % p.stderr)
    p = run(["profile", "--client", "sim", "--model", "nosuch-model", "--client-param",
             "model=llama-3.2-1b"] + common)
    check(p.returncode == 0, "model= models any name (%s)" % p.stderr[-300:])
    p = run(["profile", "--client", "sim", "--model", "llama-3.1-70b"] + common)
    check(p.returncode == 1 and len(stderr_lines(p)) == 1 and "H100" in p.stderr,
          "a model too big for the hardware fails before any query: %r" % p.stderr)
    check(not os.path.exists(os.path.join(out, "profile_SimulatedH10080GB_llama_3_1_70b_ipw")),
          "... and leaves no run directory")


def test_no_power_counters():
    """A machine where auto-detection finds no power counter: a warning says why, no idle
    baseline is waited for, and the totals say that no energy was measured."""
    srv = LlmServer("m=ttft=5ms,itl=1ms,tokens=3")
    d = ms.tmpdir("ipw-prof-null-")
    empty = os.path.join(d, "sys")
    os.mkdir(empty)
    # a /proc without stat too: with a readable /proc/stat auto-detection would end at the CPU
    # power model (cpu_model_cli.py tests that), here it must end at null
    proc = os.path.join(d, "proc")
    os.mkdir(proc)
    shutil.copyfile("/proc/meminfo", os.path.join(proc, "meminfo"))
    env = {"IPW_SYSFS_ROOT": empty, "IPW_PROCFS_ROOT": proc,
           "IPW_NVML_LIBRARY": os.path.join(d, "no-nvml.so"),
           "IPW_ROCM_SMI_LIBRARY": os.path.join(d, "no-rocm.so"),
           "IPW_POWERMETRICS": os.path.join(d, "no-powermetrics")}
    t0 = time.time()
    p = run(["profile", "--client", "ollama", "--model", "m", "--client-base-url", srv.url,
             "--dataset", "jsonl", "--dataset-path", dataset(d, 2), "--dataset-param",
             "prompt_field=q", "--dataset-param", "answer_field=a", "--output-dir",
             os.path.join(d, "runs"), "--baseline-seconds", "5",
             "--no-eval"], env=env)
    took = time.time() - t0
    check(p.returncode == 0, "a run without power counters completes (%s)" % p.stderr[-300:])
    warn = [line for line in stderr_lines(p) if " warn " in line]
    check(len(warn) == 1 and "no power or energy counter" in warn[0] and "rapl" in warn[0],
          "one warning says no counter is readable and why: %r" % warn)
    check("idle baseline" not in p.stderr and took < 4.5,
          "no idle baseline is waited for (%.1f s): %r" % (took, p.stderr[-300:]))
    check("no energy measured this session" in p.stdout, "the totals say so: %r" % p.stdout)
    q = run(["telemetry", "--local", "--count", "1"], env=env)
    check(q.returncode == 0 and "no power or energy counter" in q.stderr,
          "ipw telemetry says why it reads nothing: %r" % q.stderr)
    srv.stop()


def test_usage_errors():
    """Bad usage is one line naming the flag, exit 2, before anything runs."""
    d = ms.tmpdir("ipw-prof-usage-")
    base = ["profile", "--client", "sim", "--model", "llama-3.2-1b", "--output-dir", d]
    for extra, needle in ((["--max-queries", "0"], "--max-queries"),
                          (["--max-queries", "x"], "--max-queries"),
                          (["--client", "nosuch"], "--client"),
                          (["--eval-model", "judge"], "--eval-base-url"),
                          (["--eval-base-url", "http://127.0.0.1:9/v1"], "--eval-model"),
                          (["--eval-base-url", "ftp://judge", "--eval-model", "j"], "ftp://judge"),
                          (["--resume", "--overwrite"], "--overwrite")):
        p = run(base + extra)
        check(p.returncode == 2 and len(stderr_lines(p)) == 1 and needle in p.stderr,
              "%s: one line naming %s, exit 2: %r" % (" ".join(extra), needle, p.stderr))
    check(os.listdir(d) == [], "no run directory was created by bad usage")

def test_resume_after_failures():
    """Queries that failed are run again by --resume; each new record supersedes the failed one
    in every view: summary totals, the analysis, the Arrow dataset."""
    bad = LlmServer("m=error=500")
    d = ms.tmpdir("ipw-prof-refail-")
    ds = dataset(d, 8)
    out = os.path.join(d, "runs")

    def args(url):
        return ["profile", "--client", "ollama", "--model", "m", "--client-base-url", url,
                "--dataset", "jsonl", "--dataset-path", ds, "--dataset-param", "prompt_field=q",
                "--dataset-param", "answer_field=a", "--output-dir", out,
                "--baseline-seconds", "0", "--collector", "null", "--no-progress"]
    p = run(args(bad.url) + ["--no-eval"])
    check(p.returncode == 1 and "5 failed queries in a row" in p.stderr,
          "5 failures in a row stop the run with exit 1 (%s)" % p.stderr.strip()[-200:])
    bad.stop()
    good = LlmServer("m=ttft=5ms,itl=1ms,tokens=3")
    p = run(args(good.url) + ["--resume"])
    check(p.returncode == 1 and "--client-base-url" in p.stderr and "--resume-anyway" in p.stderr,
          "a resume against another server URL is refused, naming it: %r" % p.stderr[-300:])
    p = run(args(good.url) + ["--resume-anyway"])
    check(p.returncode == 0, "--resume-anyway after failures (%s)" % p.stderr[-300:])
    run_dir = only_run_dir(out)
    recs = records(run_dir)
    check({r["settings"]["client_base_url"] for r in recs if r["status"] == "failed"} == {bad.url}
          and {r["settings"]["client_base_url"] for r in recs if r["status"] == "ok"}
          == {good.url}, "each record keeps the settings it was made with")
    hist = json.load(open(os.path.join(run_dir, "summary.json")))["settings_history"]
    check([h["client_base_url"] for h in hist] == [bad.url, good.url],
          "summary.json lists both settings: %r" % hist)
    check(len(recs) == 13 and sum(r["status"] == "failed" for r in recs) == 5,
          "the failed records stay in the log, followed by their reruns")
    t = json.load(open(os.path.join(run_dir, "summary.json")))["totals"]
    check(t["completed_queries"] == 8 and t["failed_queries"] == 0 and t["output_tokens"] == 24,
          "summary totals count each query once: %s" % t)
    acc = json.load(open(os.path.join(run_dir, "analysis", "accuracy.json")))["summary"]
    check(acc["total_queries"] == 8 and acc["failed_queries"] == 0,
          "the analysis counts each query once (%d queries, %d failed)"
          % (acc["total_queries"], acc["failed_queries"]))
    if NODE:
        q = subprocess.run([NODE, os.path.join(SRC, "tests", "integration", "node",
                                               "check_arrow_js.mjs"), run_dir],
                           capture_output=True, text=True, timeout=300)
        check(q.returncode == 0, "the Arrow dataset holds the reruns: %s"
              % (q.stdout + q.stderr).strip()[-300:])
    good.stop()


def test_resume_changed_dataset():
    """A resumed run must send the same prompts at the same positions: a dataset edited since
    the run started is refused (one line), rows appended to it are simply run."""
    srv = LlmServer("m=ttft=2ms,tokens=2")
    d = ms.tmpdir("ipw-prof-dschg-")
    ds = dataset(d, 4)
    out = os.path.join(d, "runs")
    args = ["profile", "--client", "ollama", "--model", "m", "--client-base-url", srv.url,
            "--dataset", "jsonl", "--dataset-path", ds, "--dataset-param", "prompt_field=q",
            "--dataset-param", "answer_field=a", "--output-dir", out, "--baseline-seconds", "0",
            "--no-eval", "--collector", "null", "--no-progress"]
    check(run(args).returncode == 0, "a run of 4 records")
    original = open(ds).read()
    with open(ds, "w") as f:
        f.write(original.replace("prompt 2:", "edited prompt 2:"))
    p = run(args + ["--resume"])
    check(one_line_error(p, "record 2", ds, "--overwrite"),
          "an edited dataset is refused on resume: %r" % p.stderr)
    with open(ds, "w") as f:
        f.write(original)
        f.write(json.dumps({"q": "prompt 4: more?", "a": "x"}) + "\n")
    p = run(args + ["--resume"])
    check(p.returncode == 0 and len(records(only_run_dir(out))) == 5,
          "rows appended to the dataset are run on resume (%s)" % p.stderr[-200:])
    srv.stop()


def test_disk_full():
    """A log that cannot be written (here a file-size limit, as a full disk) stops the run with
    the cause and the way on; every record already written stays whole, and --resume
    finishes the run."""
    import resource

    def limited():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # inherited: writes fail with EFBIG
        resource.setrlimit(resource.RLIMIT_FSIZE, (60000, 60000))
    out = ms.tmpdir("ipw-prof-full-")
    args = ["profile", "--client", "sim", "--model", "llama-3.2-1b", "--max-queries", "40",
            "--client-param", "time_scale=0", "--output-dir", out, "--baseline-seconds", "0",
            "--no-eval", "--no-progress"]
    p = run(args, preexec_fn=limited)
    last = stderr_lines(p)[-1] if stderr_lines(p) else ""
    check(p.returncode == 1 and "records.jsonl" in last and "--resume" in last,
          "a log that cannot grow stops the run, naming it and --resume: %r" % last)
    d = only_run_dir(out)
    text = open(os.path.join(d, "records.jsonl")).read()
    kept = [json.loads(line) for line in text.splitlines()]
    check(text.endswith("\n") and 0 < len(kept) < 40, "%d whole records kept" % len(kept))
    progress = [line for line in p.stderr.splitlines() if line.startswith("[")]
    check(len(progress) == len(kept), "only saved records are reported done (%d lines, %d records)"
          % (len(progress), len(kept)))
    p = run(args + ["--resume"])
    check(p.returncode == 0 and len(records(d)) == 40, "--resume finishes the run")


def test_one_profiler_per_run():
    """While a run is going, a second --resume or --overwrite of its directory is refused (they
    would interleave queries and measure two loads at once)."""
    srv = LlmServer("m=ttft=50ms,itl=20ms,tokens=10")
    d = ms.tmpdir("ipw-prof-lock-")
    ds = dataset(d, 40)
    out = os.path.join(d, "runs")
    args = ["profile", "--client", "ollama", "--model", "m", "--client-base-url", srv.url,
            "--dataset", "jsonl", "--dataset-path", ds, "--dataset-param", "prompt_field=q",
            "--dataset-param", "answer_field=a", "--output-dir", out, "--baseline-seconds", "0",
            "--no-eval", "--collector", "null", "--no-progress"]
    first = subprocess.Popen([IPW] + args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 20
    while time.time() < deadline and not (os.path.isdir(out) and os.listdir(out) and os.path.exists(
            os.path.join(out, os.listdir(out)[0], "records.jsonl"))):
        time.sleep(0.02)
    for flag in ("--resume", "--overwrite"):
        p = run(args + [flag])
        check(one_line_error(p, "another ipw profile"), "%s of a run in progress is refused: %r"
              % (flag, p.stderr))
    first.send_signal(signal.SIGINT)
    first.wait()
    p = run(args + ["--resume"])
    check(p.returncode == 0 and len(records(only_run_dir(out))) == 40,
          "once it has stopped, --resume continues it")
    srv.stop()


def test_interrupt_during_analysis():
    """Ctrl-C while the judge works: the run is complete, the analysis stops, exit 130."""
    srv = LlmServer("j=ttft=20s", "m=ttft=1ms,tokens=2")
    d = ms.tmpdir("ipw-prof-evint-")
    proc = subprocess.Popen([IPW, "profile", "--client", "ollama", "--model", "m",
                             "--client-base-url", srv.url, "--max-queries", "30", "--output-dir",
                             os.path.join(d, "runs"), "--baseline-seconds", "0", "--collector",
                             "null", "--no-progress", "--eval-base-url", srv.url + "/v1",
                             "--eval-model", "j"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 30
    while time.time() < deadline and not (os.path.exists(srv.log) and [
            line for line in open(srv.log) if '"/v1/chat/completions"' in line]):
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    check(proc.returncode == 130 and "analysis interrupted" in err and "ipw analyze" in err,
          "Ctrl-C during the analysis exits 130 and says how to finish it (%d: %s)"
          % (proc.returncode, err.strip()[-200:]))
    check(len(records(only_run_dir(os.path.join(d, "runs")))) == 30, "the run itself is whole")
    srv.stop()


def one_line_error(p, *needles):
    lines = stderr_lines(p)
    return p.returncode not in (0, None) and len(lines) == 1 and all(n in lines[0] for n in needles)


def test_bad_input():
    srv = LlmServer("m=ttft=10ms,tokens=3")
    d = ms.tmpdir("ipw-prof-bad-")
    ds = dataset(d, 3)
    common = ["--dataset", "jsonl", "--dataset-path", ds, "--dataset-param", "prompt_field=q",
              "--dataset-param", "answer_field=a", "--output-dir", os.path.join(d, "runs"),
              "--baseline-seconds", "0", "--no-eval", "--collector", "null"]
    p = run(["profile", "--client", "ollama", "--model", "m", "--client-base-url",
             "http://127.0.0.1:9"] + common)
    check(one_line_error(p, "127.0.0.1:9"), "unreachable server: one line naming the URL: %r" % p.stderr)
    p = run(["profile", "--client", "ollama", "--model", "nosuch", "--client-base-url", srv.url]
            + common)
    check(one_line_error(p, "nosuch", "--model"), "wrong model: one line naming it: %r" % p.stderr)
    p = run(["profile", "--client", "vllm", "--model", "nosuch", "--client-base-url", srv.url]
            + common)
    check(one_line_error(p, "nosuch"), "wrong model on the OpenAI protocol: %r" % p.stderr)
    missing = os.path.join(d, "missing.jsonl")
    p = run(["profile", "--client", "ollama", "--model", "m", "--client-base-url", srv.url,
             "--dataset", "jsonl", "--dataset-path", missing, "--dataset-param", "prompt_field=q",
             "--output-dir", os.path.join(d, "runs"), "--no-eval"])
    check(one_line_error(p, missing), "missing dataset: one line naming the path: %r" % p.stderr)
    ro = os.path.join(d, "readonly")
    os.mkdir(ro, 0o555)
    kw = {}
    if os.geteuid() == 0:
        # root writes anywhere: run the profiler as nobody so the permission really applies
        kw["preexec_fn"] = lambda: (os.setgid(65534), os.setuid(65534))
        os.chmod(d, 0o755)
        os.chmod(ds, 0o644)
    if os.geteuid() == 0 and not unpriv.nobody_can_run(IPW):
        print("SKIP unwritable output dir: user nobody cannot execute %s" % IPW)
    else:
        p = run(["profile", "--client", "ollama", "--model", "m", "--client-base-url", srv.url,
                 "--dataset", "jsonl", "--dataset-path", ds, "--dataset-param", "prompt_field=q",
                 "--dataset-param", "answer_field=a",
                 "--output-dir", ro, "--baseline-seconds", "0", "--no-eval", "--collector",
                 "null"], **kw)
        check(one_line_error(p, ro), "unwritable output dir: one line naming it: %r" % p.stderr)
    p = run(["profile", "--client", "ollama"])
    check(p.returncode == 2, "missing --model is a usage error (exit 2)")
    p = run(["profile", "--client", "sim", "--model", "llama-3.2-1b", "--eval-client", "claude"])
    check(p.returncode == 2 and "openai" in p.stderr,
          "an --eval-client that does not exist is a usage error: %r" % p.stderr)
    srv.stop()


def test_analyze_from_arrow_alone():
    """A run directory with only the HuggingFace dataset (what the original tool leaves) is
    analysed to the same figures as from records.jsonl."""
    srv = LlmServer("m=ttft=5ms,itl=1ms,reply=The answer is (B).")
    d = ms.tmpdir("ipw-prof-arrow-")
    out = os.path.join(d, "runs")
    p = run(["profile", "--client", "ollama", "--model", "m", "--client-base-url", srv.url,
             "--max-queries", "40", "--seed", "3", "--output-dir", out, "--baseline-seconds", "0",
             "--collector", "null"])
    check(p.returncode == 0, "profile with local scoring")
    run_dir = only_run_dir(out)
    before = json.load(open(os.path.join(run_dir, "analysis", "accuracy.json")))["summary"]
    check(before["correct"] > 0 and before["incorrect"] > 0, "a mix of right and wrong answers")
    os.rename(os.path.join(run_dir, "records.jsonl"), os.path.join(d, "records.jsonl"))
    shutil.rmtree(os.path.join(run_dir, "analysis"))
    p = run(["analyze", run_dir])
    check(p.returncode == 0, "analyze reads the Arrow dataset alone (%s)" % p.stderr[-200:])
    after = json.load(open(os.path.join(run_dir, "analysis", "accuracy.json")))["summary"]
    diff = {k: (before[k], after.get(k)) for k in before if before[k] != after.get(k)}
    check(not diff, "the same figures as from records.jsonl: %s" % diff)
    srv.stop()


def test_remote_monitor():
    if not os.path.exists(FAKE_NVML):
        print("skip: no fake NVML library")
        return
    d = ms.tmpdir("ipw-prof-remote-")
    cfg = os.path.join(d, "nvml.conf")
    with open(cfg, "w") as f:
        f.write("devices = 2\ndev0.power = 180\ndev1.power = 95\n")
    env = {"IPW_NVML_LIBRARY": FAKE_NVML, "IPW_FAKE_NVML_CONFIG": cfg}
    os.environ.update(env)
    mon = ms.Monitor(collector="nvidia", interval_ms=20)
    srv = LlmServer("m=ttft=80ms,itl=20ms,tokens=10")
    ds = dataset(d, 4)
    p = run(["profile", "--client", "ollama", "--model", "m", "--client-base-url", srv.url,
             "--dataset", "jsonl", "--dataset-path", ds, "--dataset-param", "prompt_field=q",
             "--dataset-param", "answer_field=a", "--output-dir", os.path.join(d, "runs"),
             "--monitor", mon.target, "--baseline-seconds", "0.3", "--no-eval"])
    check(p.returncode == 0, "profile through an energy monitor (%s)" % p.stderr[-300:])
    run_dir = only_run_dir(os.path.join(d, "runs"))
    s = json.load(open(os.path.join(run_dir, "summary.json")))
    check(s["telemetry"]["monitors"] == mon.target and s["telemetry"]["platform"] == "nvidia",
          "summary names the monitor and its platform")
    for r in records(run_dir):
        em = r["model_metrics"]["m"]["energy_metrics"]
        secs = r["model_metrics"]["m"]["latency_metrics"]["total_query_seconds"]
        w = r["telemetry_window"]
        window_s = (w["end_ns"] - w["start_ns"]) / 1e9
        truth = (180 + 95) * window_s
        err = abs(em["per_query_joules"] - truth) / truth
        check(err < 0.01, "remote energy %.3f J vs %.3f J true (%.3f %%)"
              % (em["per_query_joules"], truth, 100 * err))
        check(abs(em["prefill_joules"] + em["decode_joules"] - em["per_query_joules"]) < 1e-6,
              "prefill + decode = per query")
        check(abs(window_s - secs) < 0.05, "the energy window is the query's")
    # overlapping queries through the monitor: the shares add up to the power over the union
    ds = dataset(d, 16)
    p = run(["profile", "--client", "ollama", "--model", "m", "--client-base-url", srv.url,
             "--dataset", "jsonl", "--dataset-path", ds, "--dataset-param", "prompt_field=q",
             "--dataset-param", "answer_field=a", "--output-dir", os.path.join(d, "runs"),
             "--monitor", mon.target, "--baseline-seconds", "0", "--no-eval", "--overwrite",
             "--concurrency", "4"])
    check(p.returncode == 0, "concurrent profile through a monitor (%s)" % p.stderr[-300:])
    recs = records(run_dir)
    iv = sorted((r["telemetry_window"]["start_ns"], r["telemetry_window"]["end_ns"]) for r in recs)
    union, (c0, c1) = 0, iv[0]
    for a, b in iv[1:] + [(None, None)]:
        if a is not None and a <= c1:
            c1 = max(c1, b)
            continue
        union += c1 - c0
        if a is not None:
            c0, c1 = a, b
    shares = sum(r["model_metrics"]["m"]["energy_metrics"]["per_query_joules"] for r in recs)
    truth = (180 + 95) * union / 1e9
    check(max(r["concurrency"] for r in recs) > 1 and abs(shares - truth) / truth < 0.01,
          "the shares add up: %.3f J vs %.3f J over the union" % (shares, truth))
    srv.stop()
    mon.terminate()


try:
    test_sim_run_and_readers()
    test_existing_dir_and_overwrite()
    test_crash_and_resume()
    test_resume_after_failures()
    test_resume_changed_dataset()
    test_disk_full()
    test_one_profiler_per_run()
    test_interrupt_during_analysis()
    test_bad_input()
    test_analyze_from_arrow_alone()
    test_remote_monitor()
    test_sim_models()
    test_no_power_counters()
    test_usage_errors()
finally:
    for s in servers:
        if s.proc.poll() is None:
            s.stop()
    ms.cleanup()
print("all profile CLI checks passed")
