"""How the integration scripts report, in one place: check() that records a failed check and
goes on (scripts that report every failure rather than stop at the first: monitor_support's
check stops), the closing line and exit status, main() for a script whose one argument picks
a group of checks, and the tools of the headless-browser checks."""

import os
import shutil
import sys

failures = []


def check(cond, what):
    """Print ok/FAIL for what; a failure is kept for summary() and the script goes on."""
    print(("ok: " if cond else "FAIL: ") + what, flush=True)
    if not cond:
        failures.append(what)
    return cond


def summary():
    """The script's exit status after its checks: 1 with the count of failed checks, else 0."""
    if failures:
        print("%d check(s) failed" % len(failures))
        return 1
    print("all checks passed")
    return 0


def run_group(groups, cleanup, skip=None):
    """main() of a script run as `script.py GROUP`: a usage line and 2 for anything but one
    name of groups (in order); skip(name) may return a reason to skip (exit 0); cleanup() runs
    after the group whatever it did (a failing check leaves through it)."""
    name = os.path.basename(sys.argv[0])
    if len(sys.argv) != 2 or sys.argv[1] not in groups:
        print("usage: %s %s" % (name, "|".join(groups)), file=sys.stderr)
        return 2
    reason = skip(sys.argv[1]) if skip else None
    if reason:
        print("SKIP: " + reason)
        return 0
    try:
        groups[sys.argv[1]]()
    finally:
        cleanup()
    print("all checks passed")
    return 0


def browser_tools(check):
    """node and tests/integration/browser (puppeteer-core installed there) for the headless
    browser checks; check(cond, msg), the script's own, says what is missing."""
    node = os.environ.get("IPW_NODE") or shutil.which("node")
    browser_dir = os.path.join(os.path.dirname(os.path.abspath(__file__)), "browser")
    check(node, "node is not installed (scripts/install-deps.sh installs it)")
    check(os.path.isdir(os.path.join(browser_dir, "node_modules", "puppeteer-core")),
          "puppeteer-core is missing: run scripts/install-test-npm.sh")
    return node, browser_dir
