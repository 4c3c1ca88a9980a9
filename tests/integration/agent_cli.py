"""ipw run from the outside: the real binary with the sim agent and against the scripted LLM
server's agent (OpenAI tools and Ollama tools), every built-in task judged by its own test, the
turns adding up to the task, sandbox escapes contained with the reason recorded, and SIGKILL mid
task followed by --resume losing no finished task. Exits 77 (skipped) when bubblewrap cannot
create a sandbox on this machine, saying why."""

import glob
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

IPW = os.environ["IPW_BIN"]
BIN = os.environ.get("IPW_TEST_BINARY_DIR", ".")
SERVER = os.environ.get("IPW_LLM_TEST_SERVER") or os.path.join(BIN, "tests", "llm_test_server")
TMP = tempfile.mkdtemp(prefix="ipw-agent-test-")
procs = []


def fail(msg):
    for p in procs:
        if p.poll() is None:
            p.kill()
    print("FAIL: " + msg, flush=True)
    sys.exit(1)


def check(cond, msg):
    if not cond:
        fail(msg)
    print("ok: " + msg, flush=True)


def run(args, timeout=600):
    p = subprocess.run([IPW, "run"] + args, stdin=subprocess.DEVNULL, capture_output=True,
                       text=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def traces(out_dir):
    files = glob.glob(os.path.join(out_dir, "*", "traces.jsonl"))
    if len(files) != 1:
        fail("expected one run directory under %s, found %s" % (out_dir, files))
    return [json.loads(line) for line in open(files[0]) if line.strip()], os.path.dirname(files[0])


def server(*extra):
    port_file = os.path.join(TMP, "port-%d" % len(procs))
    log = os.path.join(TMP, "requests-%d.jsonl" % len(procs))
    p = subprocess.Popen([SERVER, "--port", "0", "--port-file", port_file, "--log", log,
                          "--max-seconds", "600"] + list(extra),
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    procs.append(p)
    deadline = time.time() + 10
    while time.time() < deadline:
        if os.path.exists(port_file) and open(port_file).read().strip():
            return "http://127.0.0.1:" + open(port_file).read().strip(), log
        time.sleep(0.05)
    fail("the LLM test server did not start")


def turns_add_up(ts, what):
    for t in ts:
        s = sum(x["energy_joules"] for x in t["turns"])
        check(abs(s - t["energy_joules"]) <= 1e-9 * max(1, s),
              "%s %s: the turns' energies are the task's" % (what, t["task_id"]))
        w = t["window_joules"]
        check(w is not None and w > 0 and abs(s - w) / w < 1e-3,
              "%s %s: turns %.6f J vs the window measured in one piece %.6f J (< 0.1 %%)"
              % (what, t["task_id"], s, w))


# ---- can this machine sandbox at all? --------------------------------------------------------
rc, out, err = run(["--client", "sim", "--model", "llama-3.1-8b", "--max-queries", "1",
                    "--output-dir", os.path.join(TMP, "probe")])
if rc != 0 and ("sandbox does not work here" in err or "is not installed" in err):
    print("SKIP: bubblewrap cannot sandbox here: " + err.strip(), flush=True)
    sys.exit(77)
check(rc == 0, "a one-task sim run works (%s)" % err.strip()[-300:])

# ---- the sim agent over every built-in task --------------------------------------------------
d = os.path.join(TMP, "sim")
rc, out, err = run(["--client", "sim", "--model", "llama-3.1-8b", "--output-dir", d])
check(rc == 0, "the full built-in set runs offline with the sim agent")
ts, run_dir = traces(d)
check(len(ts) >= 40, "at least 40 built-in tasks ran (%d)" % len(ts))
check(all(t["resolved"] for t in ts), "the scripted solutions resolve every built-in task: "
      + ", ".join(t["task_id"] for t in ts if not t["resolved"]))
check(all(t["judge"]["method"] == "test" for t in ts), "each task is judged by its test script")
check(all(t["energy_source"] == "modeled" for t in ts), "sim energies are labelled modelled")
summary = json.load(open(os.path.join(run_dir, "summary.json")))
check(summary["modelled"] is True and summary["totals"]["resolved"] == len(ts),
      "summary.json says modelled and counts the resolved tasks")
turns_add_up(ts, "sim")
an = subprocess.run([IPW, "analyze", run_dir, "--analysis", "accuracy"], capture_output=True,
                    text=True)
check(an.returncode == 0, "ipw analyze reads an agent run (%s)" % an.stderr.strip()[-200:])
acc = json.load(open(os.path.join(run_dir, "analysis", "accuracy.json")))
check(abs(acc["summary"]["accuracy"] - 1.0) < 1e-12, "accuracy of the run = its resolved rate")
ag = json.load(open(os.path.join(run_dir, "analysis", "agent.json")))
s = ag["summary"]
energy = sum(t["energy_joules"] for t in ts)
turns = sum(t["n_turns"] for t in ts)
check(s["tasks"] == len(ts) and s["resolved_rate"] == 1.0,
      "agent.json: the resolved rate over the built-in set")
check(abs(s["energy_per_resolved_task_joules"] - energy / len(ts)) < 1e-6 * energy
      and abs(s["joules_per_turn"] - energy / turns) < 1e-6 * energy
      and abs(s["intelligence_per_joule_task"] - 1.0 / (energy / len(ts))) < 1e-9,
      "agent.json: energy per resolved task, J per turn and task-level IPJ from the traces")
check(0 < s["tool_time_share"] < 1 and s["modelled"] is True, "agent.json: the tool-time share")
curve = ag["per_turn"]
check(len(curve) == max(t["n_turns"] for t in ts) and curve[0]["tasks"] == len(ts),
      "agent.json: the per-turn curve has every turn index")
check(all(os.path.getsize(os.path.join(run_dir, "plots", "agent_turns." + e)) > 1000
          for e in ("png", "svg")), "the per-turn energy plot is drawn (PNG and SVG)")
check("IPJ per task" in an.stdout and "tool time share" in an.stdout,
      "ipw analyze prints the agent figures")

for script, want in (("fail", "final_answer"), ("loop", "max_turns")):
    d = os.path.join(TMP, "sim-" + script)
    rc, out, err = run(["--client", "sim", "--model", "llama-3.1-8b", "--sim-script", script,
                        "--max-queries", "4", "--max-turns", "3", "--output-dir", d])
    ts, _ = traces(d)
    check(rc == 0 and all(not t["resolved"] and t["stop_reason"] == want for t in ts),
          "sim agent %s: nothing resolved, stop reason %s" % (script, want))
    if script == "loop":
        check(all(t["n_turns"] == 3 for t in ts), "the turn limit stops a looping agent")
        subprocess.run([IPW, "analyze", glob.glob(os.path.join(d, "*"))[0]], capture_output=True)
        ag = json.load(open(glob.glob(os.path.join(d, "*", "analysis", "agent.json"))[0]))
        check(ag["summary"]["resolved_rate"] == 0 and
              ag["summary"]["energy_per_resolved_task_joules"] is None and
              ag["summary"]["intelligence_per_joule_task"] == 0,
              "nothing resolved: no energy per resolved task, task-level IPJ 0")

# ---- the terminus agent: a tmux terminal inside the sandbox ----------------------------------
d = os.path.join(TMP, "terminus")
rc, out, err = run(["--agent", "terminus", "--client", "sim", "--model", "llama-3.1-8b",
                    "--output-dir", d])
check(rc == 0, "terminus: the built-in set runs in tmux inside the sandbox (%s)"
      % err.strip()[-300:])
ts, _ = traces(d)
check(len(ts) >= 40 and all(t["resolved"] for t in ts),
      "terminus: every built-in task resolved by typing its solution: "
      + ", ".join(t["task_id"] for t in ts if not t["resolved"]))
check(all(t["turns"][0]["tools_called"][0]["name"] == "send_keys" and
          t["turns"][0]["tools_called"][0]["result_head"].startswith("[screen]") for t in ts),
      "terminus: keys go in with send_keys and the screen comes back")
turns_add_up(ts, "terminus")

# ---- the scripted server's agent over both tool protocols -----------------------------------
url, log = server("--model", "solver=agent=solve,ttft=2ms,itl=1ms",
                  "--model", "failer=agent=fail,ttft=2ms,itl=1ms",
                  "--model", "looper=agent=loop,ttft=2ms,itl=1ms",
                  "--model", "slow=agent=solve,ttft=400ms,itl=20ms")
for client in ("openai", "ollama"):
    d = os.path.join(TMP, "srv-" + client)
    rc, out, err = run(["--client", client, "--client-base-url", url, "--model", "solver",
                        "--collector", "sim", "--output-dir", d])
    check(rc == 0, "%s tools: the scripted agent runs the built-in set (%s)"
          % (client, err.strip()[-300:]))
    ts, _ = traces(d)
    check(len(ts) >= 40 and all(t["resolved"] for t in ts),
          "%s tools: every built-in task resolved, judged by its test" % client)
    check(all(t["turns"][0].get("tools_called") for t in ts),
          "%s tools: the tool calls arrived and ran" % client)
    d = os.path.join(TMP, "srv-terminus-" + client)
    rc, out, err = run(["--agent", "terminus", "--client", client, "--client-base-url", url,
                        "--model", "solver", "--max-queries", "6", "--collector", "null",
                        "--output-dir", d])
    tts, _ = traces(d)
    check(rc == 0 and len(tts) == 6 and all(t["resolved"] for t in tts),
          "%s tools, terminus: the server's agent types the solutions and resolves" % client)
    # the sim collector's modelled idle power stands in for a power counter here
    turns_add_up(ts, client)
    for model, stop in (("failer", "final_answer"), ("looper", "max_turns")):
        d = os.path.join(TMP, "srv-%s-%s" % (client, model))
        rc, out, err = run(["--client", client, "--client-base-url", url, "--model", model,
                            "--max-queries", "5", "--max-turns", "4", "--collector", "null",
                            "--output-dir", d])
        ts, _ = traces(d)
        check(rc == 0 and all(not t["resolved"] and t["stop_reason"] == stop for t in ts),
              "%s tools, agent %s: judged unresolved, stop reason %s" % (client, model, stop))

# ---- sandbox escapes -------------------------------------------------------------------------
outside = os.path.join(TMP, "outside-marker")
port = url.rsplit(":", 1)[1]
escapes = [
    {"id": "escape-write", "instruction": "escape: write outside",
     "solution": ["echo pwned > %s; echo pwned > /etc/ipw-escape; echo pwned > ../x" % outside],
     "test": "true"},
    {"id": "escape-network", "instruction": "escape: network",
     "solution": ["python3 -c \"import socket; socket.create_connection(('127.0.0.1', %s), 3)\""
                  % port], "test": "true"},
    {"id": "escape-forkbomb", "instruction": "escape: fork bomb",
     "solution": ["f() { f | f; }; f"], "test": "true"},
    {"id": "escape-output", "instruction": "escape: runaway output",
     "solution": ["yes ipw"], "test": "true"},
]
task_file = os.path.join(TMP, "escapes.jsonl")
with open(task_file, "w") as f:
    for e in escapes:
        f.write(json.dumps(e) + "\n")
before = len(open(log).readlines())
d = os.path.join(TMP, "escapes")
rc, out, err = run(["--client", "sim", "--model", "llama-3.1-8b", "--dataset", "jsonl",
                    "--dataset-path", task_file, "--command-timeout", "5s", "--output-dir", d])
check(rc == 0, "the escape tasks run (%s)" % err.strip()[-300:])
ts, _ = traces(d)
by = {t["task_id"]: t["turns"][0]["tools_called"][0] for t in ts}
check(not os.path.exists(outside) and not os.path.exists("/etc/ipw-escape"),
      "a write outside the work dir never reaches the host")
check(by["escape-write"]["exit_code"] != 0, "the write attempt failed inside (exit %d)"
      % by["escape-write"]["exit_code"])
check(by["escape-network"]["exit_code"] != 0 and len(open(log).readlines()) == before,
      "no network: the connection to the host's server failed and it saw no request")
bomb = by["escape-forkbomb"]
check(bomb["limit"] == "timeout" or "fork" in bomb["result_head"].lower(),
      "the fork bomb is stopped by the process limit, the reason in its result: %r"
      % bomb["result_head"][:120])


def live_bomb():
    """The fork bomb's processes still running (zombies excluded: they are dead, waiting for
    whoever inherited them to reap them)."""
    ps = subprocess.run(["ps", "-eo", "stat=,args="], capture_output=True, text=True)
    return [l for l in ps.stdout.splitlines()
            if "f | f" in l and not l.strip().startswith("Z")]


deadline = time.time() + 5
while live_bomb() and time.time() < deadline:
    time.sleep(0.1)
check(not live_bomb(), "no fork bomb process outlives its command")
check(by["escape-output"]["limit"] == "output" and by["escape-output"]["output_bytes"] > 8 << 20,
      "runaway output is cut and the command killed (limit output)")

# ---- replay of recorded sessions: ipw profile --dataset agentic -----------------------------
rurl, rlog = server("--model", "replayer=tokens=1000,ttft=2ms,itl=1ms")
sessions = [
    {"session_id": "s1", "sub_requests": [
        {"input_toks": 120, "output_toks": 12, "tool_duration_ns": 300000000},
        {"input_toks": 260, "output_toks": 5, "tool_duration_ns": 100000000},
        {"input_toks": 400, "output_toks": 9}]},
    {"session_id": "s2", "sub_requests": [{"input_toks": 50, "output_toks": 3}]},
    {"session_id": "s3", "messages": [
        {"role": "user", "content": "count the files " * 10},
        {"role": "assistant", "content": "", "tool_calls": [
            {"id": "c", "type": "function",
             "function": {"name": "shell", "arguments": "{\"command\": \"ls | wc -l\"}"}}]},
        {"role": "tool", "tool_call_id": "c", "content": "12", "tool_duration_ns": 200000000},
        {"role": "assistant", "content": "There are twelve files here."}]},
]
sess_file = os.path.join(TMP, "sessions.jsonl")
with open(sess_file, "w") as f:
    for x in sessions:
        f.write(json.dumps(x) + "\n")
for client in ("openai", "ollama"):
    d = os.path.join(TMP, "replay-" + client)
    before = len(open(rlog).readlines())
    p = subprocess.run([IPW, "profile", "--client", client, "--client-base-url", rurl, "--model",
                        "replayer", "--dataset", "agentic", "--dataset-path", sess_file,
                        "--collector", "sim", "--output-dir", d],
                       stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=300)
    check(p.returncode == 0, "%s: ipw profile --dataset agentic replays the sessions (%s)"
          % (client, p.stderr.strip()[-300:]))
    ts, rdir = traces(d)
    check([t["task_id"] for t in ts] == ["s1", "s2", "s3"] and
          [t["n_turns"] for t in ts] == [3, 1, 2], "%s: every recorded turn is replayed" % client)
    reqs = [json.loads(l) for l in open(rlog).readlines()[before:]]
    reqs = [r for r in reqs if r["method"] == "POST"]
    want = [12, 5, 9, 3] + [x["recorded"]["output_toks"] for x in ts[2]["turns"]]
    got = [r["body"].get("max_tokens") if client == "openai"
           else r["body"]["options"].get("num_predict") for r in reqs]
    check(got == want, "%s: each request asks for the recorded output length %s" % (client, got))
    outs = [x["output_tokens"] for t in ts for x in t["turns"]]
    check(outs == want, "%s: the server's counts match the recording" % client)
    words = [len(r["body"]["messages"][-1]["content"].split()) for r in reqs[:3]]
    check(words == [120, 260, 400], "%s: the context grows to the recorded input lengths" % client)
    t1 = ts[0]["turns"]
    check(t1[0]["between"]["seconds"] >= 0.3 and t1[1]["between"]["seconds"] >= 0.1,
          "%s: the recorded tool time is waited between turns" % client)
    check(all(t["resolved"] is None and t["stop_reason"] == "replayed" for t in ts),
          "%s: replayed sessions are measured, not judged" % client)
    turns_add_up(ts, "replay " + client)
subprocess.run([IPW, "analyze", rdir], capture_output=True)
ag = json.load(open(os.path.join(rdir, "analysis", "agent.json")))["summary"]
check(ag["judged"] == 0 and ag["resolved_rate"] is None and ag["turns"] == 6,
      "agent.json of a replay: no resolved rate, every turn counted")

# ---- SIGKILL mid-task, then --resume ---------------------------------------------------------
d = os.path.join(TMP, "crash")
args = ["--client", "openai", "--client-base-url", url, "--model", "slow", "--max-queries", "8",
        "--collector", "null", "--output-dir", d]
p = subprocess.Popen([IPW, "run"] + args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                     stderr=subprocess.DEVNULL)
procs.append(p)
deadline = time.time() + 120
tfile = None
while time.time() < deadline:
    found = glob.glob(os.path.join(d, "*", "traces.jsonl"))
    if found and len(open(found[0]).readlines()) >= 2:
        tfile = found[0]
        break
    time.sleep(0.05)
check(tfile is not None, "the run finished two tasks before the kill")
time.sleep(0.5)  # into the middle of the next task
os.kill(p.pid, signal.SIGKILL)
p.wait()
kept = [line for line in open(tfile) if line.endswith("\n")]
check(len(kept) < 8, "the kill came before the end (%d tasks finished)" % len(kept))
rc, out, err = run(args + ["--resume"])
check(rc == 0, "--resume continues the run (%s)" % err.strip()[-300:])
after = open(tfile).readlines()
check(after[:len(kept)] == kept, "every task finished before the kill is kept as it was")
ids = [json.loads(line)["task_id"] for line in after]
check(len(ids) == 8 and len(set(ids)) == 8, "each task appears exactly once after --resume")
recs = [json.loads(line) for line in open(os.path.join(os.path.dirname(tfile), "records.jsonl"))]
check(sorted(r["record_index"] for r in recs) == list(range(8)),
      "records.jsonl holds every task once")

for p in procs:
    if p.poll() is None:
        p.terminate()
print("all agent checks passed")
