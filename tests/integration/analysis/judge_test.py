#!/usr/bin/env python3
"""The LLM judge against a scripted OpenAI-compatible server: verdicts, retries on 429 / 500 /
unreadable replies, failures counted (not guessed), the cache (a re-run sends only what is
missing), deduplication, --judge-all, a refused key, and the key never written anywhere."""
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request

sys.path.insert(0, os.path.dirname(__file__))
from common import PY, check, ipw, load_json, load_jsonl, make_run, tmpdir  # noqa: E402

KEY = "test-key-123"
MODEL = "llama-3.1-8b-instruct"


def stats(port):
    with urllib.request.urlopen("http://127.0.0.1:%d/stats" % port, timeout=10) as r:
        return json.load(r)


def open_items(run):
    """Distinct judge requests the run needs: open items with a reference and a response."""
    keys = {}
    for r in load_jsonl(os.path.join(run, "records.jsonl")):
        resp = r["model_answers"][MODEL]
        if r["kind"] == "open" and r["status"] == "ok" and resp and r["answer"]:
            keys[(r["problem"], r["answer"], resp)] = r
    return keys


def main():
    work = tmpdir("ipw-judge-")
    port_file = os.path.join(work, "port")
    server = subprocess.Popen([PY, os.path.join(os.path.dirname(__file__), "judge_server.py"),
                               "--port-file", port_file, "--key", KEY])
    try:
        for _ in range(200):
            if os.path.exists(port_file):
                break
            time.sleep(0.05)
        port = int(open(port_file).read())
        run = make_run(os.path.join(work, "run"), "--records", 120, "--seed", 5,
                       "--judge-markers")
        items = open_items(run)
        kinds = {}
        for (q, a, resp) in items:
            m = "broken" if "(broken)" in q else "flaky" if "(flaky)" in q else \
                "garbled" if "(garbled)" in q else "plain"
            kinds[m] = kinds.get(m, 0) + 1
        check(all(kinds.get(k, 0) > 0 for k in ("plain", "flaky", "garbled", "broken")),
              "fixture lacks a marker class: %r" % kinds)
        n_open_records = sum(1 for r in load_jsonl(os.path.join(run, "records.jsonl"))
                             if r["kind"] == "open" and r["status"] == "ok")
        check(n_open_records > len(items), "fixture has no duplicate open items to dedupe")

        base = ["analyze", run, "--eval-base-url", "http://127.0.0.1:%d/v1" % port,
                "--eval-model", "judge-1", "--judge-concurrency", 4, "--judge-backoff-ms", 20]
        env = {"IPW_EVAL_API_KEY": KEY}
        code, out, err = ipw(*base, env=env, check=0)
        s1 = stats(port)
        # each distinct item once; flaky and garbled twice; broken 4 times (1 + 3 retries)
        want = kinds["plain"] + 2 * kinds["flaky"] + 2 * kinds["garbled"] + 4 * kinds["broken"]
        check(s1["requests"] == want, "requests %d, expected %d (%r)" % (s1["requests"], want,
                                                                         kinds))
        check(s1["models"] == ["judge-1"], "judge model sent: %r" % s1["models"])
        acc = load_json(os.path.join(run, "analysis", "accuracy.json"))
        summ = acc["summary"]
        broken_records = sum(1 for r in load_jsonl(os.path.join(run, "records.jsonl"))
                             if r["kind"] == "open" and r["status"] == "ok" and
                             "(broken)" in r["problem"] and r["model_answers"][MODEL])
        check(summ["failed_evaluations"] == broken_records,
              "failed_evaluations %r, expected %d" % (summ["failed_evaluations"], broken_records))
        judge = acc["data"]["judge"]
        check(judge["judged"] == len(items) - kinds["broken"], "judged %r" % judge)
        check(judge["failed"] == kinds["broken"], "judge failed %r" % judge)
        check(judge["retries"] == kinds["flaky"] + kinds["garbled"] + 3 * kinds["broken"],
              "retries %r" % judge)
        check(judge["malformed_replies"] == kinds["garbled"], "malformed %r" % judge)
        # verdicts: correct when the response quotes the reference; broken ones failed
        scores = load_jsonl(os.path.join(run, "analysis", "scores.jsonl"))
        records = load_jsonl(os.path.join(run, "records.jsonl"))
        for r, s in zip(records, scores):
            if r["kind"] != "open" or r["status"] != "ok":
                continue
            resp = r["model_answers"][MODEL]
            if "(broken)" in r["problem"]:
                check(s["verdict"] == "failed" and s["lm_correctness"] is None, "broken %r" % s)
            else:
                want_ok = r["answer"] in resp
                check(s["method"] == "judge" and s["lm_correctness"] == want_ok,
                      "record %d: %r (response %r)" % (r["record_index"], s, resp))
        cache = load_jsonl(os.path.join(run, "analysis", "judge_cache.jsonl"))
        check(len(cache) == len(items) - kinds["broken"], "cache has %d lines" % len(cache))

        # a re-run sends only what is missing: the broken items again
        ipw(*base, env=env, check=0)
        s2 = stats(port)
        check(s2["requests"] - s1["requests"] == 4 * kinds["broken"],
              "re-run sent %d requests, expected %d" % (s2["requests"] - s1["requests"],
                                                        4 * kinds["broken"]))
        acc2 = load_json(os.path.join(run, "analysis", "accuracy.json"))
        # cache hits count records (several records may share one verdict)
        check(acc2["data"]["judge"]["cache_hits"] == n_open_records - broken_records -
              sum(1 for r in load_jsonl(os.path.join(run, "records.jsonl"))
                  if r["kind"] == "open" and r["status"] == "ok" and
                  not r["model_answers"][MODEL]),
              "cache hits %r" % acc2["data"]["judge"])
        check(acc2["summary"]["accuracy"] == summ["accuracy"], "accuracy changed on re-run")

        # issue 10 item 2: a plain `ipw analyze RUN` (no judge flags) keeps the cached verdicts
        ipw("analyze", run, check=0)
        plain = load_json(os.path.join(run, "analysis", "accuracy.json"))
        check(plain["summary"]["accuracy"] == summ["accuracy"] and
              plain["summary"]["correct"] == summ["correct"],
              "a plain analyze keeps the judge's verdicts: %r vs %r"
              % (plain["summary"]["accuracy"], summ["accuracy"]))
        check(plain["data"]["judge"]["cached_verdicts_of"] == "judge-1",
              "accuracy.json says whose cached verdicts were used: %r" % plain["data"]["judge"])
        check(stats(port)["requests"] == s2["requests"], "a plain analyze sends nothing")

        # a cache that lost two lines (and gained a damaged one): exactly those are re-asked
        cpath = os.path.join(run, "analysis", "judge_cache.jsonl")
        lines = open(cpath).read().splitlines()
        dropped = [json.loads(l) for l in lines[:2]]
        with open(cpath, "w") as f:
            f.write("\n".join(lines[2:]) + "\n{\"key\": \"not-a-key\"\n")
        ipw(*base, env=env, check=0)
        s3 = stats(port)
        check(s3["requests"] - s2["requests"] == 4 * kinds["broken"] + len(dropped),
              "after dropping 2 cache lines: %d requests" % (s3["requests"] - s2["requests"]))
        # --rejudge asks again for every item, cached or not
        ipw(*base, "--rejudge", env=env, check=0)
        s3r = stats(port)
        # (the scripted server's flaky and garbled items fail only once: no retries this time)
        check(s3r["requests"] - s3["requests"] == len(items) + 3 * kinds["broken"],
              "--rejudge asked for every item again: %d requests for %d items"
              % (s3r["requests"] - s3["requests"], len(items)))
        code, out, err = ipw("analyze", run, "--rejudge", check=2)
        check("--eval-base-url" in err, "--rejudge without a judge is a usage error: %r" % err)

        # --judge-all also sends the mcq and exact items
        run_all = os.path.join(work, "run_all")
        shutil.copytree(run, run_all)
        shutil.rmtree(os.path.join(run_all, "analysis"))
        base_all = list(base)
        base_all[1] = run_all
        ipw(*base_all, "--judge-all", env=env, check=0)
        scores_all = load_jsonl(os.path.join(run_all, "analysis", "scores.jsonl"))
        judged_kinds = {s["kind"] for s in scores_all if s["method"] == "judge"}
        check(judged_kinds == {"mcq", "exact", "open"}, "--judge-all judged %r" % judged_kinds)

        # a refused key: exit 1, a clear message, the key's echo scrubbed, results still written
        run_bad = os.path.join(work, "run_bad")
        shutil.copytree(run, run_bad)
        shutil.rmtree(os.path.join(run_bad, "analysis"))
        bad = list(base)
        bad[1] = run_bad
        code, out, err = ipw(*bad, env={"IPW_EVAL_API_KEY": "wrong-secret-987"}, check=1)
        check("API" in err and "401" in err, "refused key message: %r" % err)
        s4 = stats(port)
        check(s4["unauthorized"] >= 1, "server saw no unauthorized request")
        acc_bad = load_json(os.path.join(run_bad, "analysis", "accuracy.json"))
        check(acc_bad["summary"]["failed_evaluations"] > 0, "refused judgings not failed")
        for secret, where in ((KEY, [run, run_all]), ("wrong-secret-987", [run_bad])):
            check(secret not in out + err, "the key appeared in the output")
            for d in where:
                for root, _, files in os.walk(d):
                    for fn in files:
                        with open(os.path.join(root, fn), "rb") as f:
                            check(secret.encode() not in f.read(),
                                  "the API key is written in %s" % os.path.join(root, fn))
        print("judge test passed: %r, %d requests" % (kinds, s4["requests"]))
    finally:
        server.terminate()
        server.wait(timeout=10)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
