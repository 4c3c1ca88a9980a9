#!/usr/bin/env python3
"""`ipw report` in a real browser: two runs (one with HTML in its model name, one not yet
analysed) in one page, loaded by headless Chromium; tests/integration/browser/report_check.js
checks console errors, network, scripts, escaping, plots and every number against
accuracy.json. Also the single-run default output path."""
import json
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from checks import browser_tools  # noqa: E402
from common import check, ipw, make_run, tmpdir  # noqa: E402

NASTY = "evil<script>alert(1)</script>&\"'model"


def main():
    node, browser_dir = browser_tools(check)
    work = tmpdir("ipw-report-")
    try:
        a = make_run(os.path.join(work, "a"), "--records", 120, "--seed", 21)
        b = make_run(os.path.join(work, "b"), "--records", 90, "--seed", 22, "--model", NASTY,
                     "--hardware", "RTX4090")
        ipw("analyze", a, "--quiet", check=0)  # b is analysed by the report itself
        out = os.path.join(work, "report.html")
        ipw("report", a, b, "--output", out, check=0)
        check(os.path.exists(os.path.join(b, "analysis", "accuracy.json")),
              "report did not analyse the unanalysed run")
        html = open(out, encoding="utf-8").read()
        check("<script>alert" not in html, "the model name was not escaped")
        check("evil&lt;script&gt;alert(1)&lt;/script&gt;&amp;&quot;&#39;model" in html,
              "escaped model name not found")
        expect = {"runs": [{"accuracy_json": os.path.join(a, "analysis", "accuracy.json"),
                            "model": "llama-3.1-8b-instruct"},
                           {"accuracy_json": os.path.join(b, "analysis", "accuracy.json"),
                            "model": NASTY}],
                  "title_contains": "2 runs compared"}
        exp_path = os.path.join(work, "expect.json")
        json.dump(expect, open(exp_path, "w"))
        p = subprocess.run([node, os.path.join(browser_dir, "report_check.js"), out, exp_path],
                           capture_output=True, text=True, timeout=240, cwd=browser_dir)
        sys.stdout.write(p.stdout)
        sys.stderr.write(p.stderr)
        check(p.returncode == 0, "browser check failed (exit %d)" % p.returncode)

        # one run: the default output is RUN_DIR/report.html, titled after the run
        ipw("report", a, check=0)
        single = os.path.join(a, "report.html")
        check(os.path.exists(single), "no RUN_DIR/report.html")
        expect1 = {"runs": [expect["runs"][0]], "title_contains": "llama-3.1-8b-instruct"}
        json.dump(expect1, open(exp_path, "w"))
        p = subprocess.run([node, os.path.join(browser_dir, "report_check.js"), single,
                            exp_path], capture_output=True, text=True, timeout=240,
                           cwd=browser_dir)
        sys.stdout.write(p.stdout)
        sys.stderr.write(p.stderr)
        check(p.returncode == 0, "browser check of the single-run report failed")

        code, o, err = ipw("report", os.path.join(work, "nope"), check=1)
        check("does not exist" in err, "missing run: %r" % err)
        print("report test passed")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
