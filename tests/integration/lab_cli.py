"""ipw lab from the outside: the real binary with the sim client (modelled) and against the
scripted LLM server. Every subcommand; --json keys of SPEC 5.4; batch statistics equal numpy's
on the values stored in the database (1e-12); compare's verdict; calibrate replacing its
benchmark; estimate = the formula; history/export; bad input (missing/empty/non-UTF-8 prompt
file, unknown country, unknown benchmark, a server without the model, no readable counter, a
locked or newer-schema database) as one line with exit 2 (usage) or 1 (runtime) and the
database untouched; kill -9 in a batch keeps every finished run; Ctrl-C exits 130."""

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import llm_support as llm  # noqa: E402
import monitor_support as ms  # noqa: E402
from llm_support import IPW, check  # noqa: E402

TMP = ms.tmpdir("ipw-lab-cli-")
DB = os.path.join(TMP, "lab.db")
ENV = dict(os.environ, IPW_LAB_DB=DB, IPW_LOG_LEVEL="warn")
SIM = ["--client", "sim", "--model", "llama-3.1-8b", "--baseline", "0.1s", "--max-tokens", "24"]


def ipw(args, env=None, timeout=120):
    return subprocess.run([IPW, "lab"] + args, env=env or ENV, capture_output=True, text=True,
                          timeout=timeout)


def one_line_error(r, code, words, what):
    err = r.stderr.strip().splitlines()
    check(r.returncode == code, "%s: exit %d (got %d: %s)" % (what, code, r.returncode,
                                                               r.stderr.strip()[-300:]))
    check(len(err) >= 1 and all(w in err[-1] for w in words),
          "%s: one clear line naming %s (got %r)" % (what, words, err[-1:] if err else ""))


def json_lines(text):
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def write(name, data, mode="w"):
    p = os.path.join(TMP, name)
    with open(p, mode) as f:
        f.write(data)
    return p


# ---- run --json: keys, and the batch statistics against numpy on the stored values -----------
r = ipw(["run"] + SIM + ["--prompt", "Explain RAPL in one line.", "--runs", "6", "--json",
                         "--quiet", "--country", "FR"])
check(r.returncode == 0, "run --runs 6 with the sim client (%s)" % r.stderr[-300:])
objs = json_lines(r.stdout)
runs, summary = objs[:-1], objs[-1]["summary"]
check(len(runs) == 6, "six run objects then the summary")
keys = ["prefill_wh", "decode_wh", "total_wh", "prefill_active_wh", "decode_active_wh",
        "total_active_wh", "idle_watts", "closure_error_wh", "wh_per_1000_etokens",
        "prefill_wh_per_1000_input_tokens", "decode_wh_per_1000_output_tokens", "e_llm_wh",
        "e_llm_source", "m_eff_wh", "m_eff_deviation_pct", "input_tokens", "output_tokens",
        "injection_overhead_tokens", "ttft_s", "decode_s", "latency_s", "carbon_g", "collector",
        "energy_source"]
check(all(k in runs[0] for k in keys), "every SPEC 5.4 key is in a run object")
check(runs[0]["energy_source"] == "modeled" and runs[0]["collector"] == "sim",
      "sim runs are labelled modelled")
check(all(x["total_active_wh"] is not None and x["idle_watts"] > 0 for x in runs),
      "active energies computed, never null with a baseline")
check(all(abs(x["closure_error_wh"]) <= 1e-9 * x["total_wh"] for x in runs), "closure ~ 0")
fr = [c for c in json.load(open(os.path.join(os.environ.get("IPW_TEST_SOURCE_DIR", "."),
                                            "data/lab/emissions.json")))
      if c["country_code"] == "FR"][0]["emission_factor"] * 1000
check(all(abs(x["carbon_g"] - x["total_wh"] / 1000 * fr) <= 1e-12 * x["carbon_g"] for x in runs),
      "carbon = Wh x France's intensity")

con = sqlite3.connect(DB)
rows = con.execute("SELECT total_wh, output_tokens, ttft_s FROM runs ORDER BY id").fetchall()
stored = con.execute("SELECT summary_json FROM batches ORDER BY id DESC LIMIT 1").fetchone()[0]
con.close()
v = np.array([t / o * 1000 for t, o, _ in rows])
st = json.loads(stored)["variants"][0]["wh_per_1000_etokens"]
for name, want in [("mean", v.mean()), ("median", np.median(v)), ("std", v.std()),
                   ("p5", np.percentile(v, 5)), ("p95", np.percentile(v, 95)),
                   ("cv", v.std() / v.mean())]:
    got = st[name]
    check(abs(got - want) <= 1e-12 * abs(want),
          "stored batch %s of Wh/1000 e-tokens equals numpy's (%r vs %r)" % (name, got, want))
check(summary["batch"]["wh_per_1000_etokens"]["median"] == st["median"],
      "--json summary is the stored summary")
check(summary["batch"]["recommended_runs"] is None or summary["batch"]["recommended_runs"] >= 6,
      "a recommended run count for --target-ci")

# ---- compare: interleaved variants, verdict ---------------------------------------------------
tools = write("tools.txt", "You can call: search(q), calculator(expr), weather(city). " * 40)
r = ipw(["compare"] + SIM + ["--prompt", "What is 2+2?", "--variant", "bare",
                             "--variant", "tools:inject=%s" % tools, "--runs", "4"])
check(r.returncode == 0, "compare with two variants (%s)" % r.stderr[-300:])
check("tools" in r.stdout and "against bare" in r.stdout and "p = " in r.stdout,
      "compare prints a verdict line with a p-value")
check("injection overhead:" in r.stdout, "the injection overhead is shown")
con = sqlite3.connect(DB)
order = [x[0] for x in con.execute(
    "SELECT variant FROM runs WHERE batch_id = (SELECT MAX(id) FROM batches) ORDER BY id")]
con.close()
check(order == ["bare", "tools"] * 4, "variants ran interleaved A B A B ... (%s)" % order)
r = ipw(["compare"] + SIM + ["--prompt", "x", "--variant", "a", "--variant", "b", "--runs", "3",
                             "--json", "--quiet"])
cmp = json_lines(r.stdout)[-1]["summary"]["comparisons"][0]
check(set(["diff_of_medians", "diff_ci95", "p_value", "verdict"]) <= set(cmp),
      "compare --json has the difference of medians, its CI, p and the verdict")

# ---- calibrate twice: the benchmark is replaced; estimate uses it ------------------------------
r = ipw(["calibrate"] + SIM + ["--runs", "3", "--quiet", "--json"])
check(r.returncode == 0, "calibrate (%s)" % r.stderr[-300:])
b1 = json_lines(r.stdout)[-1]["benchmark"]
check(b1["name"] == "rapl_calibrated_llama-3.1-8b", "calibrated benchmark named after the model")
r = ipw(["calibrate"] + SIM[:-2] + ["--runs", "3", "--quiet", "--json", "--max-tokens", "60",
                                    "--prompt", "A much longer calibration prompt " * 30])
b2 = json_lines(r.stdout)[-1]["benchmark"]
r = ipw(["benchmarks", "show", b1["name"], "--json"])
shown = json.loads(r.stdout)
check(shown["c_in_wh_per_1000"] == b2["c_in_wh_per_1000"] and
      shown["c_out_wh_per_1000"] == b2["c_out_wh_per_1000"],
      "re-calibrating replaces the benchmark")
r = ipw(["estimate", "--benchmark", b1["name"], "--input-tokens", "300", "--output-tokens",
         "700", "--json"])
est = json.loads(r.stdout)
check(abs(est["wh"] - (0.3 * b2["c_in_wh_per_1000"] + 0.7 * b2["c_out_wh_per_1000"])) < 1e-15,
      "estimate with the calibrated benchmark = the formula")
check(est["grid_g_per_kwh"] == 445 and abs(est["carbon_g"] - est["wh"] * 0.445) < 1e-15,
      "one default grid intensity: 445 g/kWh")

# ---- benchmarks add/list/remove; history; export ----------------------------------------------
r = ipw(["benchmarks", "add", "mine", "--input", "0.1", "--output", "0.4", "--source", "me"])
check(r.returncode == 0, "benchmarks add")
names = [b["name"] for b in json.loads(ipw(["benchmarks", "list", "--json"]).stdout)]
check("mine" in names and "nvidia_a100" in names and "GPT-4.1" in names,
      "benchmarks list has stored, preset and external-table rows")
check(ipw(["benchmarks", "remove", "mine"]).returncode == 0, "benchmarks remove")
one_line_error(ipw(["estimate", "--benchmark", "nope", "--input-tokens", "1", "--output-tokens",
                    "1"]), 2, ["nope", "benchmarks list"], "unknown benchmark")
h = json.loads(ipw(["history", "--json", "--limit", "0"]).stdout)
con = sqlite3.connect(DB)
nruns = con.execute("SELECT COUNT(*) FROM runs").fetchone()[0]
total = con.execute("SELECT SUM(total_wh) FROM runs WHERE error = ''").fetchone()[0]
con.close()
check(len(h["runs"]) == nruns, "history lists every stored run")
check(abs(h["totals"]["total_wh"] - total) <= 1e-12 * total,
      "session totals are the runs' own Wh (not an estimate)")
con = sqlite3.connect(DB)
modelled = con.execute("SELECT COUNT(*) FROM runs WHERE error = '' AND energy_source = 'modeled'"
                       ).fetchone()[0]
con.close()
check(modelled > 0 and h["totals"]["modelled_runs"] == modelled,
      "the totals count the runs with modelled (sim) energy: %r" % h["totals"])
last = ipw(["history"]).stdout.strip().splitlines()[-1]
check("modelled" in last and ": %d measured," % h["totals"]["runs"] not in last,
      "history never calls modelled energy measured: %r" % last)
csv_path = os.path.join(TMP, "runs.csv")
check(ipw(["export", "--format", "csv", "--out", csv_path]).returncode == 0, "export csv")
lines = open(csv_path).read().splitlines()
check(len(lines) == nruns + 1 and lines[0].startswith("variant,"), "CSV: header + one row a run")
js = json.loads(ipw(["export", "--format", "json"]).stdout)
check(len(js) == nruns and "wh_per_1000_etokens" in js[0], "JSON export: every run")

# ---- bad input --------------------------------------------------------------------------------
one_line_error(ipw(["run"] + SIM + ["--prompt-file", os.path.join(TMP, "missing.txt")]), 2,
               ["missing.txt"], "missing prompt file")
nodir = os.path.join(TMP, "file-not-dir")
write("file-not-dir", "x")
one_line_error(ipw(["run"] + SIM + ["--prompt", "x", "--db", os.path.join(nodir, "lab.db")]), 1,
               ["lab database " + os.path.join(nodir, "lab.db"), "--db"],
               "a --db whose directory cannot be made names the database and the flag")
one_line_error(ipw(["run"] + SIM + ["--prompt-file", write("empty.txt", "")]), 2,
               ["empty.txt", "empty"], "empty prompt file")
one_line_error(ipw(["run"] + SIM + ["--prompt-file", write("bin.txt", b"\xff\xfe\x00x", "wb")]),
               2, ["bin.txt", "UTF-8"], "non-UTF-8 prompt file")
one_line_error(ipw(["run"] + SIM + ["--prompt", "x", "--country", "FX"]), 2,
               ["FX", "FR (France)"], "unknown country suggests close ones")
one_line_error(ipw(["frobnicate"]), 2, ["frobnicate"], "unknown subcommand")
one_line_error(ipw(["compare"] + SIM + ["--prompt", "x", "--variant", "a"]), 2, ["two or more"],
               "compare with one variant")

srv = llm.LlmServer("e2e=ttft=50ms,itl=100ms,tokens=10", extra=["--max-seconds", "600"])
url = srv.url
one_line_error(ipw(["run", "--client", "ollama", "--client-base-url", url, "--model", "absent",
                    "--prompt", "x", "--collector", "sim"]), 1, ["absent", url, "e2e"],
               "a model the server lacks: names the server and its models")
empty_sysfs = ms.tmpdir("ipw-lab-nosysfs-")
noenv = dict(ENV, IPW_SYSFS_ROOT=empty_sysfs, IPW_NVML_LIBRARY="/nonexistent/libnvidia-ml.so.1",
             IPW_ROCM_SMI_LIBRARY="/nonexistent/librocm_smi64.so",
             IPW_POWERMETRICS="/nonexistent/powermetrics")
one_line_error(ipw(["run", "--client", "ollama", "--client-base-url", url, "--model", "e2e",
                    "--prompt", "x"], env=noenv), 1,
               ["no energy counter", "rapl", "--client sim", "estimate"],
               "no readable counter: says what was tried and offers sim or estimates")

# a database from a newer ipw, and one locked by another writer: refused, untouched
newer = os.path.join(TMP, "newer.db")
c = sqlite3.connect(newer)
c.execute("CREATE TABLE runs(id INTEGER PRIMARY KEY)")
c.execute("PRAGMA user_version=99")
c.commit()
c.close()
before = open(newer, "rb").read()
one_line_error(ipw(["history", "--db", newer]), 1, ["schema version 99", "newer"],
               "newer-schema database")
check(open(newer, "rb").read() == before and not os.path.exists(newer + "-wal"),
      "the newer database is untouched")
locked = os.path.join(TMP, "locked.db")
c = sqlite3.connect(locked, isolation_level=None)
c.execute("CREATE TABLE t(x)")
# read it before locking: closing any descriptor of the file drops this process's POSIX locks
before = open(locked, "rb").read()
c.execute("BEGIN EXCLUSIVE")
c.execute("INSERT INTO t VALUES(1)")
one_line_error(ipw(["history", "--db", locked], timeout=60), 1, ["locked"], "locked database")
c.execute("ROLLBACK")
c.close()
check(open(locked, "rb").read() == before, "the locked database is untouched")

# ---- kill -9 mid-batch keeps every finished run; Ctrl-C exits 130 with the runs saved ---------
kdb = os.path.join(TMP, "kill.db")
args = [IPW, "lab", "run", "--client", "ollama", "--client-base-url", url, "--model", "e2e",
        "--prompt", "x", "--runs", "50", "--collector", "sim", "--baseline", "0", "--db", kdb,
        "--quiet"]
p = subprocess.Popen(args, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def stored_runs(path):
    if not os.path.exists(path):
        return 0
    try:
        c = sqlite3.connect(path, timeout=5)
        n = c.execute("SELECT COUNT(*) FROM runs").fetchone()[0]
        c.close()
        return n
    except sqlite3.Error:
        return 0


deadline = time.time() + 60
while stored_runs(kdb) < 2 and time.time() < deadline:
    time.sleep(0.1)
seen = stored_runs(kdb)
p.send_signal(signal.SIGKILL)
p.wait()
check(seen >= 2 and stored_runs(kdb) >= seen, "kill -9 mid-batch: the %d finished runs are "
      "stored (%d after the kill)" % (seen, stored_runs(kdb)))
sdb = os.path.join(TMP, "sigint.db")
args[args.index(kdb)] = sdb
p = subprocess.Popen(args, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
deadline = time.time() + 60
while stored_runs(sdb) < 1 and time.time() < deadline:
    time.sleep(0.1)
p.send_signal(signal.SIGINT)
err = p.communicate(timeout=60)[1]
check(p.returncode == 130 and "cancelled" in err, "Ctrl-C cancels the batch, exit 130")
check(stored_runs(sdb) >= 1, "finished runs are saved after Ctrl-C")
srv.stop()
ms.cleanup()
print("all lab command-line checks passed")
