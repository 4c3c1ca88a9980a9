#!/usr/bin/env python3
"""Clear errors from `ipw analyze`: a missing directory, a file, a directory that is not a run,
an empty run, a malformed record line (named as file:line), --skip-malformed, a final line cut
short by a crash (skipped with a warning), bad options; and nothing written on failure."""
import json
import os
import shutil
import sys

sys.path.insert(0, os.path.dirname(__file__))
from common import check, ipw, load_json, make_run, tmpdir  # noqa: E402


def main():
    work = tmpdir("ipw-cli-")
    try:
        code, out, err = ipw("analyze", os.path.join(work, "missing"), check=1)
        check("does not exist" in err and "missing" in err, "missing: %r" % err)

        f = os.path.join(work, "file.txt")
        open(f, "w").write("x")
        code, out, err = ipw("analyze", f, check=1)
        check("not a directory" in err, "file: %r" % err)

        os.makedirs(os.path.join(work, "notarun"))
        code, out, err = ipw("analyze", os.path.join(work, "notarun"), check=1)
        check("not a run directory" in err and "records.jsonl" in err, "not a run: %r" % err)

        empty = os.path.join(work, "empty")
        os.makedirs(empty)
        open(os.path.join(empty, "records.jsonl"), "w").write("\n\n")
        code, out, err = ipw("analyze", empty, check=1)
        check("no records" in err, "empty: %r" % err)
        check(not os.path.exists(os.path.join(empty, "analysis", "accuracy.json")),
              "an empty run got an accuracy.json")

        run = make_run(os.path.join(work, "run"), "--records", 30)
        path = os.path.join(run, "records.jsonl")
        lines = open(path).read().splitlines()
        lines[6] = lines[6][:50]  # a damaged line in the middle
        open(path, "w").write("\n".join(lines) + "\n")
        code, out, err = ipw("analyze", run, check=1)
        check("records.jsonl:7:" in err and "malformed" in err, "malformed: %r" % err)
        check("--skip-malformed" in err, "the error says what to do: %r" % err)
        check(not os.path.exists(os.path.join(run, "analysis", "accuracy.json")),
              "accuracy.json written despite a malformed line")
        check(not [n for n in os.listdir(os.path.join(run, "analysis")) if ".tmp." in n],
              "temporary files left behind")
        code, out, err = ipw("analyze", run, "--skip-malformed", "--quiet", check=0)
        acc = load_json(os.path.join(run, "analysis", "accuracy.json"))
        check(acc["summary"]["total_queries"] == 29, "skip-malformed counted %r" %
              acc["summary"]["total_queries"])
        check(any("records.jsonl:7" in w for w in acc["warnings"]), "no warning for the "
              "skipped line: %r" % acc["warnings"])
        # resumed (record 0 answered again at the end): the log is read a second time, and the
        # skipped line is still warned about once
        with open(path, "a") as fh:
            fh.write(lines[0] + "\n")
        code, out, err = ipw("analyze", run, "--skip-malformed", check=0)
        check(err.count("records.jsonl:7") == 1, "one warning per skipped line on a resumed "
              "run: %r" % err)

        # a last line cut short (no newline), as a crash mid-write leaves it: warn and go on
        run2 = make_run(os.path.join(work, "run2"), "--records", 30)
        path = os.path.join(run2, "records.jsonl")
        data = open(path).read()
        open(path, "w").write(data + data.splitlines()[0][:120])
        code, out, err = ipw("analyze", run2, "--quiet", check=0)
        acc = load_json(os.path.join(run2, "analysis", "accuracy.json"))
        check(acc["summary"]["total_queries"] == 30, "cut-short line counted")
        check(any("cut short" in w for w in acc["warnings"]), "no cut-short warning")

        # a record that is not an object
        run3 = make_run(os.path.join(work, "run3"), "--records", 5)
        with open(os.path.join(run3, "records.jsonl"), "a") as fh:
            fh.write("[1, 2, 3]\n")
        code, out, err = ipw("analyze", run3, check=1)
        check("records.jsonl:6:" in err and "JSON object" in err, "array line: %r" % err)

        # no summary.json: the model comes from the records
        run4 = make_run(os.path.join(work, "run4"), "--records", 12, "--no-summary")
        ipw("analyze", run4, "--quiet", check=0)
        check(load_json(os.path.join(run4, "analysis", "accuracy.json"))["summary"]["model"] ==
              "llama-3.1-8b-instruct", "model not taken from the records")

        # bad usage exits 2
        ipw("analyze", check=2)
        ipw("analyze", run4, "--analysis", "everything", check=2)
        ipw("analyze", run4, "--eval-model", "gpt", check=2)
        ipw("analyze", run4, "--judge-concurrency", "0", check=2)
        code, out, err = ipw("analyze", run4, "--eval-base-url", "ftp://x", "--eval-model", "m",
                             check=1)
        check("http" in err, "bad URL: %r" % err)
        code, out, err = ipw("analyze", "--help", check=0)
        check("--eval-base-url" in out, "help lacks options")
        print("cli errors test passed")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
