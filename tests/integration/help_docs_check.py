"""Every command's --help against its page in docs/commands/: a flag the program takes is
documented, a flag the page's option tables list is one the program takes, and the modes that
have their own flags (ipw simulate's calibrate, --from-run and --sweep; energy-monitor's
collector order) are named where a new user looks. Found by walking through the product with
only the README and docs (docs/testing.md)."""

import os
import re
import subprocess
import sys

IPW = os.environ["IPW_BIN"]
MONITOR = os.environ.get("IPW_ENERGY_MONITOR")
DOCS = os.path.join(os.environ["IPW_TEST_SOURCE_DIR"], "docs", "commands")
FLAG = re.compile(r"--[a-z][a-z0-9-]+")
failures = []


def check(cond, msg):
    if not cond:
        failures.append(msg)


def helptext(argv):
    p = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    check(p.returncode == 0 and p.stdout and not p.stderr,
          "%s: exit %d, stderr %r" % (" ".join(argv[1:]), p.returncode, p.stderr[-300:]))
    return p.stdout


def doc(*names):
    return "".join(open(os.path.join(DOCS, n)).read() for n in names)


def table_flags(text):
    """The flags named in the first cell of the page's option tables."""
    out = set()
    for line in text.splitlines():
        m = re.match(r"^\|\s*(`--[^|]*)\|", line)
        if m:
            out |= set(FLAG.findall(m.group(1)))
    return out


def compare(what, helps, page):
    taken = set()
    for h in helps:
        taken |= set(FLAG.findall(h))
    taken.discard("--help")
    for f in sorted(taken - set(FLAG.findall(page))):
        check(False, "%s: %s is in --help but not in its docs/commands page" % (what, f))
    for f in sorted(table_flags(page) - taken):
        check(False, "%s: the docs' option table lists %s, which --help does not" % (what, f))


top = helptext([IPW, "--help"])
commands = re.findall(r"^  ([a-z]+)  ", top, re.M)
check(len(commands) >= 10, "ipw --help lists its commands: %r" % commands)
for cmd in commands:
    if cmd == "lab":
        subs = re.findall(r"^  ([a-z]+)  ", helptext([IPW, "lab", "--help"]), re.M)
        check(len(subs) >= 6, "ipw lab --help lists its subcommands: %r" % subs)
        compare("ipw lab", [helptext([IPW, "lab", s, "--help"]) for s in subs],
                doc("lab.md", "lab-serve.md"))
    elif cmd == "simulate":
        main = helptext([IPW, "simulate", "--help"])
        compare("ipw simulate",
                [main, helptext([IPW, "simulate", "calibrate", "--help"]),
                 helptext([IPW, "simulate", "--from-run", "x", "--help"])], doc("simulate.md"))
        for needle in ("simulate calibrate", "--from-run", "--sweep", "--jobs"):
            check(needle in main, "ipw simulate --help names the mode %s" % needle)
        check(helptext([IPW, "simulate", "--sweep", "tp=1,2", "--help"]) == main,
              "ipw simulate --sweep ... --help prints the help (the sweep's errors say to try it)")
    else:
        compare("ipw " + cmd, [helptext([IPW, cmd, "--help"])], doc(cmd + ".md"))

# energy-monitor is `ipw monitor` under its original name: the same flags, the same page, and its
# --collector text names auto-detection's real order
if MONITOR:
    mh = helptext([MONITOR, "--help"])
    compare("energy-monitor", [mh], doc("monitor.md"))
    auto = subprocess.run([IPW, "list", "collectors"], capture_output=True, text=True).stdout
    m = re.search(r"^\s*auto\s+detect: (.*)$", auto, re.M)
    check(m is not None, "ipw list collectors has the auto line: %r" % auto)
    if m:
        order = re.findall(r"[a-z][a-z-]*", m.group(1).replace("then", ""))
        described = re.sub(r"\s+", " ", mh[mh.index("--collector"):])
        pos = [described.find(n) for n in order]
        check(all(p >= 0 for p in pos) and pos == sorted(pos),
              "energy-monitor --help gives auto-detection's order %s: %r" % (order, described[:160]))

for f in failures:
    print("FAIL: " + f, file=sys.stderr)
if failures:
    sys.exit(1)
print("every --help agrees with docs/commands")
