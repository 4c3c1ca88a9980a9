"""What a new user trips over (issue 10), against the real binary: each function covers one
numbered item of the issue with the inputs that showed the defect. The scripted LLM server
stands in for Ollama / vLLM; the sim backend for runs that need no server."""

import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import monitor_support as ms  # noqa: E402

from llm_support import BIN, IPW, LlmServer, check, fail, run, servers  # noqa: E402


def lines(p):
    return [line for line in p.stderr.splitlines() if line.strip()]


def usage_error(p, *needles):
    """Exit 2 with one line naming every needle."""
    ls = lines(p)
    return p.returncode == 2 and len(ls) == 1 and all(n in ls[0] for n in needles)


def jsonl(d, name, rows):
    path = os.path.join(d, name)
    with open(path, "w") as f:
        for r in rows:
            f.write(json.dumps(r) + "\n")
    return path


def records(run_dir):
    return [json.loads(line) for line in open(os.path.join(run_dir, "records.jsonl"))]


SIM = ["profile", "--client", "sim", "--model", "llama-3.2-1b", "--client-param", "time_scale=0",
       "--baseline-seconds", "0", "--no-eval", "--no-progress"]


def test_item10_range_checks():
    """Empty paths, ports past 65535, --count 0, --seed alone, a second --model and zero
    timeouts are usage errors (exit 2, one line naming the flag)."""
    d = ms.tmpdir("ipw-nu-10-")
    p = run(SIM + ["--max-queries", "1", "--output-dir", ""])
    check(usage_error(p, "--output-dir", "non-empty"), "--output-dir '' refused: %r" % p.stderr)
    check(not os.path.exists("/profile_SimulatedH10080GB_llama_3_2_1b_ipw"), "... nothing in /")
    p = run(SIM + ["--max-queries", "1", "--output-dir", d, "--monitor", "127.0.0.1:70000"])
    check(usage_error(p, "70000", "1 to 65535"), "--monitor port 70000 refused: %r" % p.stderr)
    p = run(["telemetry", "--target", "127.0.0.1:65536", "--count", "1"])
    check(usage_error(p, "65536", "1 to 65535"), "--target port 65536 refused: %r" % p.stderr)
    p = run(["telemetry", "--local", "--collector", "null", "--count", "0"])
    check(usage_error(p, "--count"), "--count 0 refused (it ran forever): %r" % p.stderr)
    p = run(SIM + ["--output-dir", d, "--seed", "3"])
    check(usage_error(p, "--seed", "--max-queries"), "--seed without --max-queries: %r" % p.stderr)
    p = run(SIM + ["--max-queries", "1", "--output-dir", d, "--model", "llama-3.1-8b"])
    check(usage_error(p, "--model", "twice"), "a second --model refused: %r" % p.stderr)
    for flag in ("--connect-timeout", "--idle-timeout"):
        p = run(SIM + ["--max-queries", "1", "--output-dir", d, flag, "0"])
        check(usage_error(p, flag, "more than 0"), "%s 0 refused: %r" % (flag, p.stderr))
    h = run(["profile", "--help"])
    check("more than 0" in h.stdout and "1 or more" in run(["telemetry", "--help"]).stdout,
          "the help says what 0 means")
    check(not os.listdir(d), "no run was started by any of them")


def test_item11_messages():
    """Messages that named the wrong cause."""
    d = ms.tmpdir("ipw-nu-11-")
    p = run(SIM + ["--max-queries", "99999999999999999999999", "--output-dir", d])
    check(usage_error(p, "out of range") and "not an integer" not in p.stderr,
          "an integer out of range is called out of range: %r" % p.stderr)
    for url, why in (("http://127.0.0.1:99999", "Port number"), ("http://[::1", "IPv6")):
        p = run(["profile", "--client", "ollama", "--model", "m", "--client-base-url", url,
                 "--output-dir", d])
        check(usage_error(p, "malformed", why) and "start" not in p.stderr and
              "reach" not in p.stderr,
              "a malformed URL is a usage error (exit 2), not unreachable: %r" % p.stderr)
    # every command that takes --client-base-url refuses a URL that cannot be right, before
    # connecting or measuring anything
    for cmd in (["profile"], ["run", "--agent", "react"], ["lab", "run", "--prompt", "hi"]):
        for url, why in (("ftp://h", "scheme"), ("http://", "no host"),
                         ("http://localhost:/v1", "empty port")):
            p = run(cmd + ["--client", "openai", "--model", "m", "--client-base-url", url,
                           "--output-dir" if cmd[0] != "lab" else "--db",
                           d if cmd[0] != "lab" else os.path.join(d, "lab.db")])
            check(usage_error(p, why), "%s with %s: exit 2, one line: %r" % (cmd, url, p.stderr))
    mon = ms.Monitor(collector="null")
    p = run(["telemetry", "--target", "127.0.0.1:%d" % mon.metrics_port, "--count", "1"])
    check(p.returncode == 1 and "not a gRPC endpoint" in p.stderr and "lost" not in p.stderr,
          "an HTTP server as a monitor is called not a gRPC endpoint: %r" % p.stderr)
    mon.terminate()
    p = run(SIM + ["--max-queries", "2", "--output-dir", d, "--run-name", "r"])
    check(p.returncode == 0, "a run to report")
    run_dir = os.path.join(d, "r")
    outdir = os.path.join(d, "out")
    os.mkdir(outdir)
    p = run(["report", run_dir, "--output", outdir])
    check(p.returncode == 0 and os.path.exists(os.path.join(outdir, "report.html")) and
          ".tmp." not in p.stdout + p.stderr,
          "report --output DIR writes DIR/report.html: %r" % (p.stdout + p.stderr))
    p = run(["report", run_dir, run_dir + "/", "--output", os.path.join(d, "twice.html")])
    html = open(os.path.join(d, "twice.html"), encoding="utf-8").read()
    check(p.returncode == 0 and "given more than once" in p.stderr and
          html.count('class="run" id="run') == 1,
          "the same run twice is shown once, with a warning: %r" % p.stderr)


def test_item13_run_names():
    """Two jsonl files, two non-ASCII models and --run-name give distinct directories."""
    srv = LlmServer("模型-7b=tokens=2", "模型-8b=tokens=2")
    d = ms.tmpdir("ipw-nu-13-")
    a = jsonl(d, "alpha.jsonl", [{"q": "1+1?", "a": "2"}])
    b = jsonl(d, "beta.jsonl", [{"q": "2+2?", "a": "4"}])
    out = os.path.join(d, "runs")
    base = ["profile", "--client", "ollama", "--client-base-url", srv.url, "--dataset", "jsonl",
            "--dataset-param", "prompt_field=q", "--dataset-param", "answer_field=a",
            "--output-dir", out, "--baseline-seconds", "0", "--no-eval", "--collector", "null",
            ]
    for model in ("模型-7b", "模型-8b"):
        for path in (a, b):
            p = run(base + ["--model", model, "--dataset-path", path])
            check(p.returncode == 0, "run %s on %s (%s)" % (model, path, p.stderr[-300:]))
    names = sorted(os.listdir(out))
    check(len(names) == 4 and all("alpha" in n or "beta" in n for n in names),
          "four distinct directories, each naming its dataset file: %s" % names)
    check(all(n.isascii() for n in names), "... in ASCII")
    p = run(base + ["--model", "模型-7b", "--dataset-path", a, "--run-name", "my-run"])
    check(p.returncode == 0 and os.path.isdir(os.path.join(out, "my-run")),
          "--run-name names the directory (%s)" % p.stderr[-200:])
    p = run(base + ["--model", "模型-7b", "--dataset-path", a, "--run-name", "../x"])
    check(usage_error(p, "--run-name"), "a --run-name with '/' is refused: %r" % p.stderr)
    srv.stop()


def readme_ollama_commands():
    """The README's Ollama commands, as a user would paste them."""
    readme = os.path.join(os.environ.get("IPW_TEST_SOURCE_DIR", "."), "README.md")
    return [line.split() for line in open(readme)
            if line.startswith("ipw profile --client ollama")]


def test_item9_ollama_untagged():
    """`--model llama3.2` where Ollama lists `llama3.2:latest` runs, as Ollama itself would,
    and the records keep the resolved name. Run with the README's own commands."""
    srv = LlmServer("llama3.2:latest=ttft=1ms,tokens=2", "llama3.2:1b=ttft=1ms,tokens=2",
                    "qwen3:8b=ttft=1ms,tokens=2")
    d = ms.tmpdir("ipw-nu-9-")
    cmds = readme_ollama_commands()
    check(any("llama3.2" == c[c.index("--model") + 1] for c in cmds),
          "the README shows an untagged Ollama name: %s" % cmds)
    extra = ["--client-base-url", srv.url, "--output-dir", os.path.join(d, "runs"),
             "--baseline-seconds", "0", "--no-eval", "--collector", "null", "--no-progress"]
    for cmd in cmds:
        model = cmd[cmd.index("--model") + 1]
        p = run(cmd[1:] + extra)
        check(p.returncode == 0, "README: %s (%s)" % (" ".join(cmd), p.stderr[-300:]))
        run_dir = [os.path.join(d, "runs", x) for x in os.listdir(os.path.join(d, "runs"))
                   if x.endswith("_%s_ipw" % model.replace(".", "_").replace(":", "_"))][0]
        recs = records(run_dir)
        want = model if ":" in model else model + ":latest"
        check(len(recs) == 50 and all(r["served_model"] == want for r in recs) and
              model in recs[0]["model_metrics"], "%s is served as %s, recorded so" % (model, want))
    sent = {r["body"]["model"] for r in srv.requests("/api/chat")}
    check(sent == {"llama3.2:latest", "llama3.2:1b"}, "the server got the resolved names: %s" % sent)
    p = run(["profile", "--client", "ollama", "--model", "qwen3"] + extra)
    check(p.returncode == 1 and "qwen3:8b" in p.stderr and len(lines(p)) == 1,
          "an untagged name with no :latest is still refused, listing what is served: %r"
          % p.stderr)
    srv.stop()


def test_item16_demo_headline_and_item14_comparison():
    """A sim run shows accuracy, IPJ and IPW, each labelled "modelled accuracy"; in a report
    beside a measured run, neither is ranked against the other."""
    d = ms.tmpdir("ipw-nu-16-")
    out = os.path.join(d, "runs")
    p = run(["profile", "--client", "sim", "--model", "llama-3.1-8b", "--max-queries", "20",
             "--seed", "1", "--client-param", "time_scale=0.05", "--output-dir", out,
             "--run-name", "sim", "--baseline-seconds", "0", "--no-progress"])
    check(p.returncode == 0, "sim run (%s)" % p.stderr[-300:])
    for label in ("modelled accuracy", "IPJ (modelled accuracy)", "IPW (modelled accuracy)"):
        line = [x for x in p.stdout.splitlines() if x.strip().startswith(label)]
        check(line and "n/a" not in line[0], "the printout shows %s: %r" % (label, line))
    acc = json.load(open(os.path.join(out, "sim", "analysis", "accuracy.json")))["summary"]
    check(acc["accuracy_basis"] == "modelled accuracy" and acc["intelligence_per_joule"] > 0
          and acc["intelligence_per_watt"] > 0, "accuracy.json: IPJ and IPW, labelled: %r" % acc)
    srv = LlmServer("m=ttft=1ms,itl=1ms,tokens=3,reply=The answer is (B).")
    p = run(["profile", "--client", "ollama", "--model", "m", "--client-base-url", srv.url,
             "--max-queries", "20", "--seed", "1", "--output-dir", out, "--run-name", "real",
             "--baseline-seconds", "0", "--collector", "null", "--no-progress"])
    check(p.returncode == 0, "measured-side run (%s)" % p.stderr[-300:])
    html_path = os.path.join(d, "both.html")
    p = run(["report", os.path.join(out, "sim"), os.path.join(out, "real"), "--output",
             html_path])
    check(p.returncode == 0, "report of both (%s)" % p.stderr[-300:])
    html = open(html_path, encoding="utf-8").read()
    table = html[html.index('id="comparison"'):]
    table = table[:table.index("</table>")]
    check('class="num best"' not in table,
          "a modelled run is not ranked against a measured one (one run in each group)")
    check("sim: modelled energy and accuracy" in table, "the sim row says what is modelled")
    check("IPJ (modelled accuracy)" in html, "the run's cards label IPJ as modelled")
    # item 15: a run without a power counter says why at the top, once; each mean says which
    # queries it covers
    check(html.count("No energy was measured in this run") == 1 and
          html.index("No energy was measured") > html.index('id="run2"'),
          "the run without a counter (and only it) says why every energy is n/a")
    check("Successful queries in those two means" in html and
          "Scored queries in the scored energy mean (IPJ)" in html and
          "Energy per scored query, all domains" in html,
          "the report's means name the queries they cover")
    srv.stop()


def test_item16_demo_build_quiet():
    """The demo prints a one-line build summary; the build log goes to a file."""
    src = os.environ.get("IPW_TEST_SOURCE_DIR", ".")
    demo = open(os.path.join(src, "scripts", "demo.sh")).read()
    check("build_log=" in demo and "quiet cmake --build" in demo and
          'echo "built ipw and energy-monitor' in demo,
          "scripts/demo.sh sends the build to a log and prints one line")


def test_item3_stale_analysis():
    """A run that grew after its analysis: plot and report recompute, never show the old one."""
    srv = LlmServer("m=ttft=1ms,itl=1ms,tokens=3,reply=The answer is 2.")
    d = ms.tmpdir("ipw-nu-3-")
    rows = [{"q": "what is %d+%d?" % (i, i), "a": str(2 * i)} for i in range(8)]
    ds = jsonl(d, "grow.jsonl", rows[:3])
    out = os.path.join(d, "runs")
    args = ["profile", "--client", "ollama", "--model", "m", "--client-base-url", srv.url,
            "--dataset", "jsonl", "--dataset-path", ds, "--dataset-param", "prompt_field=q",
            "--dataset-param", "answer_field=a", "--output-dir", out, "--run-name", "grow",
            "--baseline-seconds", "0", "--collector", "null", "--no-progress"]
    check(run(args).returncode == 0, "a 3-record run, analysed")
    run_dir = os.path.join(out, "grow")
    acc_path = os.path.join(run_dir, "analysis", "accuracy.json")
    acc = json.load(open(acc_path))
    xxhsum = subprocess.run(["xxhsum", "-H2", os.path.join(run_dir, "records.jsonl")],
                            capture_output=True, text=True)
    check(acc["source"]["records"] == 3 and acc["source"]["file"] == "records.jsonl" and
          acc["source"]["xxh3_128"] == xxhsum.stdout.split(" ")[0],
          "accuracy.json says what it was computed from (its digest is xxhsum -H2's)")
    jsonl(d, "grow.jsonl", rows)
    check(run(args + ["--resume", "--no-eval"]).returncode == 0, "the run grows to 8 records")
    p = run(["plot", run_dir, "--format", "svg"], env={"IPW_LOG_LEVEL": "info"})
    check(p.returncode == 0 and "not using" in p.stderr and "regression.json" in p.stderr,
          "plot ignores the stale regression.json: %r" % p.stderr)
    p = run(["report", run_dir], env={"IPW_LOG_LEVEL": "info"})
    check(p.returncode == 0 and "out of date" in p.stderr, "report notices: %r" % p.stderr)
    acc = json.load(open(acc_path))
    reg = json.load(open(os.path.join(run_dir, "analysis", "regression.json")))
    check(acc["summary"]["total_queries"] == 8 and acc["source"]["records"] == 8 and
          reg["source"]["records"] == 8, "report recomputed the analysis over all 8 records")
    html = open(os.path.join(run_dir, "report.html"), encoding="utf-8").read()
    check("3 queries" not in html, "the report shows no 3-query figure")
    srv.stop()


def test_item7_answer_field():
    """Rows without the answer field are refused at load time, before anything is measured."""
    srv = LlmServer("m=ttft=1ms,tokens=2")
    d = ms.tmpdir("ipw-nu-7-")
    ds = jsonl(d, "qa.jsonl", [{"question": "2+2?", "solution": "4"},
                               {"question": "3+3?", "solution": "6"}])
    base = ["profile", "--client", "ollama", "--model", "m", "--client-base-url", srv.url,
            "--dataset", "jsonl", "--dataset-path", ds, "--dataset-param", "prompt_field=question",
            "--output-dir", os.path.join(d, "runs"), "--baseline-seconds", "0",
            "--collector", "null"]
    p = run(base)
    check(p.returncode != 0 and len(lines(p)) == 1 and "answer field 'answer'" in p.stderr and
          "question, solution" in p.stderr and "answer_field=" in p.stderr,
          "no row has the answer field: one line naming it and the fields seen: %r" % p.stderr)
    check(not srv.requests("/api/chat"), "... before any query was sent")
    p = run(base + ["--dataset-param", "answer_field=solution"])
    check(p.returncode == 0, "answer_field=solution runs (%s)" % p.stderr[-200:])
    p = run(base + ["--dataset-param", "answer_field=none", "--overwrite", "--no-eval"])
    check(p.returncode == 0, "answer_field=none runs prompts without references (%s)"
          % p.stderr[-200:])
    srv.stop()


def test_item8_judge_reached_first():
    """A judge URL nothing answers fails before the first query (exit 2, the URL named)."""
    srv = LlmServer("m=ttft=1ms,tokens=2", "j=ttft=1ms,reply=CORRECT")
    d = ms.tmpdir("ipw-nu-8-")
    base = ["profile", "--client", "ollama", "--model", "m", "--client-base-url", srv.url,
            "--max-queries", "3", "--output-dir", os.path.join(d, "runs"),
            "--baseline-seconds", "0", "--collector", "null", "--eval-model", "j"]
    p = run(base + ["--eval-base-url", "http://127.0.0.1:9/v1"])
    check(usage_error(p, "127.0.0.1:9", "--eval-base-url"),
          "an unreachable judge: exit 2, one line naming it: %r" % p.stderr)
    check(not srv.requests("/api/chat") and not os.path.exists(os.path.join(d, "runs")),
          "... before any query or run directory")
    p = run(base + ["--eval-base-url", srv.url + "/v1"])
    check(p.returncode == 0 and srv.requests("/v1/models"),
          "a reachable judge is checked with GET /v1/models and the run goes on (%s)"
          % p.stderr[-200:])
    srv.stop()


def test_item5_same_monitor_twice():
    """The same monitor twice (or two monitors of one machine's same devices) is refused: its
    energy and idle baseline would be counted twice."""
    mon = ms.Monitor(collector="null", interval_ms=20)
    srv = LlmServer("m=ttft=1ms,tokens=2")
    d = ms.tmpdir("ipw-nu-5-")
    base = ["profile", "--client", "ollama", "--model", "m", "--client-base-url", srv.url,
            "--max-queries", "2", "--output-dir", os.path.join(d, "runs"),
            "--baseline-seconds", "0", "--no-eval", "--no-progress"]
    alias = mon.target.replace("127.0.0.1", "localhost")
    p = run(base + ["--monitor", mon.target, "--monitor", alias])
    check(p.returncode == 1 and "measure the same hardware" in p.stderr and
          mon.target in p.stderr and len(lines(p)) == 1,
          "one monitor under two names is refused in one line: %r" % p.stderr)
    check(not srv.requests("/api/chat"), "... before any query")
    p = run(base + ["--monitor", mon.target])
    check(p.returncode == 0, "once, it is used (%s)" % p.stderr[-200:])
    mon.terminate()
    srv.stop()


def test_item1_resume_settings():
    """--resume with other generation or measuring settings is refused (listing them); a
    resume that finds no run is an error, not a new run."""
    d = ms.tmpdir("ipw-nu-1-")
    base = ["profile", "--client", "sim", "--model", "llama-3.2-1b", "--max-queries", "3",
            "--client-param", "time_scale=0", "--output-dir", d, "--baseline-seconds", "0",
            "--no-eval", "--no-progress"]
    check(run(base).returncode == 0, "a run")
    for extra, flag in ((["--client-param", "temperature=0.7"], "--client-param"),
                        (["--concurrency", "2"], "--concurrency"),
                        (["--interval-ms", "20"], "--interval-ms"),
                        (["--baseline-seconds", "0.5"], "--baseline-seconds")):
        b = list(base)
        if extra[0] == "--baseline-seconds":
            b[b.index("--baseline-seconds") + 1] = extra[1]
            extra = []
        p = run(b + extra + ["--resume"])
        check(p.returncode == 1 and len(lines(p)) == 1 and flag in p.stderr and
              "--resume-anyway" in p.stderr, "resume with another %s refused: %r" % (flag, p.stderr))
    p = run(base + ["--collector", "null", "--resume"])
    check(p.returncode == 1 and "nothing to resume" in p.stderr and len(os.listdir(d)) == 1,
          "a resume that finds no run (another --collector) starts nothing: %r" % p.stderr)
    p = run(base + ["--concurrency", "2", "--resume-anyway"])
    check(p.returncode == 0, "--resume-anyway accepts the change (%s)" % p.stderr[-200:])
    s = json.load(open(os.path.join(d, os.listdir(d)[0], "summary.json")))
    check(s["settings"]["concurrency"] == 2 and
          [h["concurrency"] for h in s["settings_history"]] == [1, 2],
          "summary.json keeps every settings set: %r" % s.get("settings_history"))


def test_item12_warmup_and_cold_start():
    """One unmeasured warm-up request goes before the baseline by default (none for sim, none
    with --warmup 0); a measured query during which the server reports a model load is
    flagged cold_start with the load's length."""
    srv = LlmServer("m=ttft=1ms,tokens=2", "cold=ttft=1ms,tokens=2,load=600ms")
    d = ms.tmpdir("ipw-nu-12-")
    base = ["profile", "--client", "ollama", "--client-base-url", srv.url, "--max-queries", "2",
            "--output-dir", os.path.join(d, "runs"), "--baseline-seconds", "0", "--no-eval",
            "--collector", "null", "--no-progress"]
    p = run(base + ["--model", "m"])
    chats = srv.requests("/api/chat")
    check(p.returncode == 0 and len(chats) == 3 and
          "single word OK" in chats[0]["body"]["messages"][-1]["content"],
          "one warm-up request, then the 2 measured ones (%d sent)" % len(chats))
    recs = records(os.path.join(d, "runs", os.listdir(os.path.join(d, "runs"))[0]))
    check(len(recs) == 2 and not any(r["cold_start"] for r in recs),
          "the warm-up is not a record; warm records are not flagged")
    p = run(base + ["--model", "m", "--warmup", "0", "--overwrite"])
    check(p.returncode == 0 and len(srv.requests("/api/chat")) == 5, "--warmup 0 sends none")
    p = run(base + ["--model", "cold", "--warmup", "0", "--run-name", "cold"])
    recs = records(os.path.join(d, "runs", "cold"))
    check(all(r["cold_start"] and abs(r["model_load_seconds"] - 0.6) < 1e-9 for r in recs),
          "a reported load flags the record cold_start with its length")
    check("model load" in p.stderr and "--warmup" in p.stderr, "and says so: %r" % p.stderr[-300:])
    srv.stop()


def test_item6_record_versions():
    """Records of an unknown major version are refused; unversioned records with a renamed
    energy field are analysed with every substitution counted and reported."""
    d = ms.tmpdir("ipw-nu-6-")
    p = run(["profile", "--client", "sim", "--model", "llama-3.2-1b", "--max-queries", "6",
             "--client-param", "time_scale=0.05", "--output-dir", d, "--run-name", "r",
             "--baseline-seconds", "0", "--no-eval", "--no-progress"])
    check(p.returncode == 0, "a run")
    run_dir = os.path.join(d, "r")
    path = os.path.join(run_dir, "records.jsonl")
    recs = records(run_dir)
    check(all(r["schema"] == "ipw.record/1" for r in recs), "records name their schema")
    with open(path, "w") as f:
        for r in recs:
            f.write(json.dumps(dict(r, schema="ipw.record/2")) + "\n")
    p = run(["analyze", run_dir])
    check(p.returncode == 1 and len(lines(p)) == 1 and "ipw.record/2" in p.stderr and
          "line 1" in p.stderr, "a newer major version is refused: %r" % p.stderr)
    with open(path, "w") as f:
        for r in recs:
            r = dict(r)
            del r["schema"]
            em = r["model_metrics"]["llama-3.2-1b"]["energy_metrics"]
            em["energy_joules"] = em.pop("per_query_joules")  # what another version might write
            f.write(json.dumps(r) + "\n")
    p = run(["analyze", run_dir])
    acc = json.load(open(os.path.join(run_dir, "analysis", "accuracy.json")))
    s = acc["summary"]
    check(p.returncode == 0 and s["imputed_energy_count_all_queries"] == 6,
          "every substituted energy is counted: %r" % {k: v for k, v in s.items() if "imput" in k})
    check(any("no schema version" in w for w in acc["warnings"]) and
          any("imputed the energy" in w for w in acc["warnings"]),
          "and reported: %r" % acc["warnings"])


def test_item14_sim_monitor_is_modelled():
    """Readings of a sim monitor are modelled, not a counter's, in every record."""
    mon = ms.Monitor(collector="sim", interval_ms=20)
    srv = LlmServer("m=ttft=20ms,itl=5ms,tokens=4")
    d = ms.tmpdir("ipw-nu-14-")
    p = run(["profile", "--client", "ollama", "--model", "m", "--client-base-url", srv.url,
             "--max-queries", "3", "--output-dir", d, "--run-name", "r", "--monitor", mon.target,
             "--baseline-seconds", "0", "--no-eval", "--no-progress", "--warmup", "0"])
    check(p.returncode == 0, "profile through a sim monitor (%s)" % p.stderr[-300:])
    src = {r["model_metrics"]["m"]["energy_metrics"]["energy_source"] for r in records(
        os.path.join(d, "r"))}
    check(src == {"modeled"}, "its energies are labelled modeled, not counter: %s" % src)
    mon.terminate()
    srv.stop()


def test_item14_rocm_smi_quiet():
    """The ROCm SMI library's own stderr lines on a machine without an AMD GPU do not appear
    on auto-detecting commands."""
    fake = os.path.join(BIN, "tests", "fakes", "rocm", "librocm_smi64.so")
    if not os.path.exists(fake):
        print("skip: no fake ROCm SMI library")
        return
    d = ms.tmpdir("ipw-nu-14r-")
    cfg = os.path.join(d, "rocm.conf")
    open(cfg, "w").write("init_error = 8\n")
    env = {"IPW_ROCM_SMI_LIBRARY": fake, "IPW_FAKE_ROCM_CONFIG": cfg,
           "IPW_NVML_LIBRARY": os.path.join(d, "none.so"), "IPW_SYSFS_ROOT": d,
           "IPW_POWERMETRICS": os.path.join(d, "none")}
    p = run(["telemetry", "--local", "--count", "1", "--interval", "10ms"], env=env)
    check(p.returncode == 0 and "Failed to open drm" not in p.stderr and
          "Exception caught" not in p.stderr,
          "auto-detection shows none of the library's own lines: %r" % p.stderr)


def test_telemetry_count_ends_without_monitor():
    """--count with a monitor that dies: the command ends (exit 1, one line saying how many
    readings came) instead of reconnecting forever."""
    mon = ms.Monitor(collector="null")
    p = subprocess.Popen([IPW, "telemetry", "--target", mon.target, "--count", "100000",
                          "--interval", "100ms", "--json"], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    first = p.stdout.readline()
    check(first.startswith("{"), "a first reading: %r" % first)
    mon.terminate()
    try:
        out, err = p.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        p.kill()
        fail("ipw telemetry --count kept waiting for a monitor that is gone")
    last = err.strip().splitlines()[-1] if err.strip() else ""
    check(p.returncode == 1 and "unreachable for" in last and "of 100000 readings printed" in last,
          "monitor gone: exit 1 naming it: rc %s, %r" % (p.returncode, err[-400:]))


def test_walk_malformed_dataset():
    """A dataset file with no usable row is one line (it was a warning per row, then the error
    repeating the first); a file with some usable rows still warns about each bad one."""
    d = ms.tmpdir("ipw-nu-walk-")
    bad = os.path.join(d, "bad.jsonl")
    with open(bad, "w") as f:
        f.write("not json\n{\"question\": oops}\n")
    p = run(SIM + ["--dataset", "mmlu-pro", "--dataset-path", bad, "--max-queries", "2",
                   "--output-dir", os.path.join(d, "runs")])
    check(p.returncode == 1 and len(lines(p)) == 1 and bad in p.stderr and
          "no usable rows" in p.stderr and "bad.jsonl:1" in p.stderr,
          "an all-malformed dataset is one line naming it: %r" % p.stderr)
    row = {"question": "Q?", "options": ["a", "b"], "answer": "A"}
    some = jsonl(d, "some.jsonl", [row])
    with open(some, "a") as f:
        f.write("not json\n")
    p = run(SIM + ["--dataset", "mmlu-pro", "--dataset-path", some, "--max-queries", "2",
                   "--output-dir", os.path.join(d, "runs2")])
    warned = [line for line in lines(p) if "skipping malformed row" in line]
    check(p.returncode == 0 and len(warned) == 1 and "some.jsonl:2" in warned[0],
          "a partly malformed dataset runs and warns once per bad row: %r" % p.stderr)


try:
    test_walk_malformed_dataset()
    test_telemetry_count_ends_without_monitor()
    test_item14_rocm_smi_quiet()
    test_item14_sim_monitor_is_modelled()
    test_item6_record_versions()
    test_item12_warmup_and_cold_start()
    test_item1_resume_settings()
    test_item5_same_monitor_twice()
    test_item8_judge_reached_first()
    test_item7_answer_field()
    test_item3_stale_analysis()
    test_item16_demo_headline_and_item14_comparison()
    test_item16_demo_build_quiet()
    test_item9_ollama_untagged()
    test_item10_range_checks()
    test_item11_messages()
    test_item13_run_names()
finally:
    for s in servers:
        if s.proc.poll() is None:
            s.stop()
    ms.cleanup()
print("all new-user checks passed")
