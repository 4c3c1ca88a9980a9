#!/usr/bin/env python3
"""Fails when a module of src/ includes a header of a module it must not know.

The rules are the table "What each module may include" in docs/architecture.md, so the document
and the check cannot drift apart. A module is a first-level folder of src/. A header belongs to
the module of its folder ("telemetry/remote_impl.h"), or, for a public header include/ipw/X.h,
to the module whose source file includes it first (its implementation), or to the module named
in OWNERS below (headers of types only). Headers and modules the table does not know are not
checked (a module being added in parallel is not failed), but are listed.

usage: check_includes.py SOURCE_DIR
"""
import glob
import os
import re
import sys

# public headers that declare types only, so no source file includes them first
OWNERS = {
    "version": "core", "chatstream": "inference", "dataset": "datasets",
    "records": "results",
    "run_dataset": "results", "plots": "analysis", "scoring": "analysis", "profile": "profile",
    "agent": "agent", "agent_analysis": "analysis", "lab": "lab", "labweb": "labweb",
    "predict": "sim", "servesim": "sim", "jsonutil": "core", "splitmix": "core",
}


def rules(doc):
    """{module: set of modules it may include} from the architecture table."""
    allowed, in_table = {}, False
    for line in open(doc, encoding="utf-8"):
        if line.startswith("## What each module may include"):
            in_table = True
            continue
        if in_table and line.startswith("## "):
            break
        m = re.match(r"^\|\s*`src/([a-z_]+)/`\s*\|\s*([^|]*)\|", line) if in_table else None
        if m:
            text = re.sub(r"\([^)]*\)", "", m.group(2))  # "(the sim client)" explains, not lists
            deps = {d.strip(" `") for d in text.split(",")}
            allowed[m.group(1)] = {d for d in deps if d and d not in ("—", "-", "nothing")}
    every = set(allowed)
    for mod, deps in allowed.items():
        if "every module" in deps:
            allowed[mod] = every
        allowed[mod] = (allowed[mod] - {"every module"}) | {"core"}
    return allowed


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else "."
    allowed = rules(os.path.join(root, "docs", "architecture.md"))
    if len(allowed) < 5:
        print("FAIL: the module table of docs/architecture.md was not found")
        return 1
    src = os.path.join(root, "src")
    # an entry for a header that has left include/ipw/ would silently vouch for a new one
    stale = [h for h in OWNERS if not os.path.exists(os.path.join(root, "include", "ipw", h + ".h"))]
    for h in stale:
        print("FAIL: OWNERS names include/ipw/%s.h, which does not exist: remove the entry" % h)
    if stale:
        return 1
    files = [f for f in glob.glob(os.path.join(src, "**", "*.[ch]"), recursive=True)]
    owner = dict(OWNERS)
    for f in files:  # a public header's implementation includes it first
        mod = os.path.relpath(f, src).split(os.sep)[0]
        if not f.endswith(".c"):
            continue
        for line in open(f, encoding="utf-8", errors="replace"):
            if line.startswith("#include"):
                m = re.match(r'#include "ipw/([a-z_0-9]+)\.h"', line)
                if m and m.group(1) not in OWNERS:
                    owner.setdefault(m.group(1), mod)
                break
    bad, unknown = [], set()
    for f in sorted(files):
        rel = os.path.relpath(f, src)
        mod = rel.split(os.sep)[0]
        if mod not in allowed:
            unknown.add("module " + mod)
            continue
        for n, line in enumerate(open(f, encoding="utf-8", errors="replace"), 1):
            m = re.match(r'\s*#\s*include\s+"([a-z_0-9]+)/([a-z_0-9/]+)\.h"', line)
            if not m:
                continue
            where, name = m.group(1), m.group(2)
            if where == "proto":
                continue  # generated protobuf-c code
            target = owner.get(name) if where == "ipw" else where
            if target is None:
                unknown.add("header ipw/%s.h" % name)
                continue
            if target != mod and target not in allowed[mod]:
                bad.append("src/%s:%d: %s includes %s/%s.h, a header of %s (docs/architecture.md "
                           "lets %s include: %s)" % (rel, n, mod, where, name, target, mod,
                                                    ", ".join(sorted(allowed[mod])) or "nothing"))
    for b in bad:
        print("FAIL: " + b)
    if unknown:
        print("note: not checked (not in the table): " + ", ".join(sorted(unknown)))
    if not bad:
        print("ok: every include of src/ follows docs/architecture.md (%d files)" % len(files))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
