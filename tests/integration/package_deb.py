#!/usr/bin/python3
"""The Debian package, built by CPack from this build tree and installed into a fresh root.

1. `cpack -G DEB` makes ipw_<version>_amd64.deb; its control fields and file list are checked
   (programs, man pages, bash/zsh completions, data, systemd unit, udev rule, sysusers entry).
2. Depends is right: every shared library the programs need (readelf NEEDED) belongs to a
   package that Depends names.
3. A fresh root is made of Debian 12's Essential packages plus the closure of the package's
   Depends, copied file by file from this machine's dpkg database (the packages apt would have
   installed), with their dpkg status. `dpkg --root` installs the .deb there (dependencies
   checked by dpkg, postinst run chrooted: it must create the group ipw). Then, chrooted into
   that root, where this source and build tree do not exist, `ipw profile --client sim` runs a
   few queries and writes its run directory, `energy-monitor --help` answers, and the data files
   are where the programs look for them.
Needs root (chroot); skipped with a message otherwise."""
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from checks import check, failures, summary  # noqa: E402

BIN = os.environ["IPW_TEST_BINARY_DIR"]


def sh(args, **kw):
    return subprocess.run(args, capture_output=True, text=True, **kw)


def build_deb(out):
    p = sh(["cpack", "-G", "DEB", "-B", out, "--config", os.path.join(BIN, "CPackConfig.cmake")],
           timeout=300)
    debs = [f for f in os.listdir(out) if f.endswith(".deb")]
    if not check(p.returncode == 0 and len(debs) == 1, "cpack made one .deb (%s)" % p.stderr[-500:]):
        sys.exit(1)
    return os.path.join(out, debs[0])


def control(deb):
    text = sh(["dpkg-deb", "-f", deb]).stdout
    fields = {}
    for m in re.finditer(r"^([A-Za-z-]+): (.*(?:\n .*)*)", text, re.M):
        fields[m.group(1)] = m.group(2)
    return fields


def depends_names(dep):
    """[[alternative, ...], ...] of package names in a Depends field."""
    out = []
    for clause in filter(None, (c.strip() for c in dep.split(","))):
        out.append([re.split(r"[ (:]", a.strip())[0] for a in clause.split("|")])
    return out


def check_contents(deb, fields):
    version = open(os.path.join(os.environ["IPW_TEST_SOURCE_DIR"], "include/ipw/version.h")).read()
    v = re.search(r'IPW_VERSION "([0-9.]+)"', version).group(1)
    check(os.path.basename(deb) == "ipw_%s_amd64.deb" % v, "file name ipw_%s_amd64.deb" % v)
    check(fields.get("Package") == "ipw" and fields.get("Version") == v
          and fields.get("Architecture") == "amd64", "control: Package, Version, Architecture")
    files = set(l.split()[-1].lstrip(".") for l in sh(["dpkg-deb", "-c", deb]).stdout.splitlines())
    files = {f.split(" -> ")[0] for f in files}
    want = ["/usr/bin/ipw", "/usr/bin/energy-monitor", "/usr/share/man/man1/ipw.1.gz",
            "/usr/share/man/man1/ipw-profile.1.gz", "/usr/share/man/man1/energy-monitor.1.gz",
            "/usr/share/bash-completion/completions/ipw",
            "/usr/share/bash-completion/completions/energy-monitor",
            "/usr/share/zsh/vendor-completions/_ipw", "/usr/share/ipw/datasets/ipw.jsonl",
            "/usr/lib/systemd/system/ipw-energy-monitor.service",
            "/usr/lib/udev/rules.d/60-ipw-rapl.rules", "/usr/lib/sysusers.d/ipw.conf",
            "/usr/share/ipw/deploy/prometheus/ipw-rules.yml"]
    for w in want:
        check(w in files, "package holds %s" % w)
    return files


def needed_libs(path):
    out = sh(["readelf", "-d", path]).stdout
    return re.findall(r"\(NEEDED\)\s+Shared library: \[(.+?)\]", out)


def owner_of_lib(soname):
    for line in sh(["ldconfig", "-p"]).stdout.splitlines():
        m = re.match(r"\s*(\S+) \(libc6,x86-64.*\) => (\S+)", line)
        if m and m.group(1) == soname:
            for cand in (m.group(2), os.path.realpath(m.group(2))):
                for c in (cand, cand.replace("/usr/lib/", "/lib/", 1)):
                    r = sh(["dpkg-query", "-S", c])
                    if r.returncode == 0:
                        return r.stdout.split(":")[0]
    return None


def check_depends(fields, root_files_dir):
    deps = {a for alts in depends_names(fields.get("Depends", "")) for a in alts}
    for prog in ("ipw", "energy-monitor"):
        for lib in needed_libs(os.path.join(root_files_dir, "usr/bin", prog)):
            pkg = owner_of_lib(lib)
            check(pkg in deps, "%s needs %s from %s, which Depends names" % (prog, lib, pkg))


def closure(roots):
    """Installed packages reachable through Depends and Pre-Depends (first installed
    alternative), as apt would have installed them on a clean system."""
    seen, todo = set(), list(roots)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        r = sh(["dpkg-query", "-W", "-f=${Status}\t${Depends}, ${Pre-Depends}", name])
        if r.returncode != 0 or "install ok installed" not in r.stdout:
            continue
        seen.add(name)
        for alts in depends_names(r.stdout.split("\t", 1)[1]):
            for a in alts:
                if sh(["dpkg-query", "-W", "-f=${Status}", a]).stdout.endswith("installed"):
                    todo.append(a)
                    break
    return seen


def make_root(root, packages):
    for d in ("usr/bin", "usr/lib", "usr/lib64", "usr/sbin", "etc", "tmp", "var/lib/dpkg/info",
              "var/lib/dpkg/updates", "var/lib/dpkg/triggers", "run", "proc", "dev"):
        os.makedirs(os.path.join(root, d), exist_ok=True)
    os.chmod(os.path.join(root, "tmp"), 0o1777)
    for link in ("bin", "lib", "lib64", "sbin"):  # Debian 12's merged /usr
        os.symlink("usr/" + link, os.path.join(root, link))
    status = []
    for pkg in sorted(packages):
        status.append(sh(["dpkg-query", "-s", pkg]).stdout.strip())
        for path in sh(["dpkg-query", "-L", pkg]).stdout.splitlines():
            if not path.startswith("/") or path.startswith("/usr/share/doc") or \
               path.startswith("/usr/share/man") or path.startswith("/usr/share/locale"):
                continue
            dst = root + path
            if os.path.isdir(path) and not os.path.islink(path):
                os.makedirs(dst, exist_ok=True)
            elif os.path.lexists(path) and not os.path.lexists(dst):
                os.makedirs(os.path.dirname(dst), exist_ok=True)
                shutil.copy2(path, dst, follow_symlinks=False)
        info = "/var/lib/dpkg/info"
        for f in os.listdir(info):
            if f.split(".")[0].split(":")[0] == pkg:
                shutil.copy2(os.path.join(info, f), os.path.join(root, info[1:], f))
    with open(os.path.join(root, "var/lib/dpkg/status"), "w") as f:
        f.write("\n\n".join(status) + "\n")
    open(os.path.join(root, "var/lib/dpkg/available"), "w").close()
    # what base-passwd's postinst would have written
    shutil.copy("/usr/share/base-passwd/group.master", os.path.join(root, "etc/group"))
    shutil.copy("/usr/share/base-passwd/passwd.master", os.path.join(root, "etc/passwd"))
    for f in ("etc/shadow", "etc/gshadow"):
        open(os.path.join(root, f), "w").close()
        os.chmod(os.path.join(root, f), 0o640)


def in_root(root, args, env=None):
    e = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": "/tmp", "IPW_LOG_LEVEL": "warn"}
    e.update(env or {})
    return subprocess.run(["chroot", root] + args, capture_output=True, text=True, env=e,
                          timeout=300)


def unwritable_prefix():
    """`cmake --install` as an ordinary user into a prefix it cannot write: one sentence naming
    the prefix and the two ways out, before any file is copied."""
    if os.geteuid() != 0:
        print("SKIP: needs root to run the install as user nobody")
        return 0
    prefix = tempfile.mkdtemp(prefix="ipw-ro-prefix-")
    os.chmod(prefix, 0o755)  # root's, not writable by nobody
    try:
        r = subprocess.run(["/usr/bin/test", "-r", os.path.join(BIN, "cmake_install.cmake")],
                           user=65534, group=65534, extra_groups=[])
        if r.returncode != 0:
            print("SKIP: user nobody cannot read the build tree %s" % BIN)
            return 0
        p = subprocess.run(["cmake", "--install", BIN, "--prefix", prefix + "/usr"],
                           capture_output=True, text=True, user=65534, group=65534,
                           extra_groups=[], env={"PATH": os.environ["PATH"], "HOME": "/tmp"})
        msg = " ".join((p.stdout + p.stderr).split())  # CMake wraps its messages
        check(p.returncode != 0, "install into an unwritable prefix fails")
        check("cannot install into %s/usr: %s is not writable" % (prefix, prefix) in msg and
              "--prefix $HOME/.local" in msg and "sudo" in msg,
              "the message names the prefix and the fix: %s" % msg.strip()[-400:])
        check(not os.listdir(prefix), "nothing was installed")
    finally:
        shutil.rmtree(prefix, ignore_errors=True)
    return 1 if failures else 0


def generated_docs():
    """The man pages and completions `ipw __docs` wrote into the build tree: one page per
    command of `ipw --help` (and energy-monitor), clean for groff's warnings; completions that
    offer what each command's --help lists."""
    gen = os.path.join(BIN, "gen-docs")
    ipw = os.environ["IPW_BIN"]
    cmds = re.findall(r"^  (\S+) {2,}", sh([ipw, "--help"]).stdout, re.M)
    pages = sorted(f for f in os.listdir(os.path.join(gen, "man1")) if f.endswith(".1"))
    parents = {}  # commands with subcommands: {command: [subcommand, ...]}
    for c in cmds:
        text = sh([ipw, c, "--help"]).stdout
        if "\nsubcommands:\n" in text:
            block = text.split("\nsubcommands:\n", 1)[1]
            parents[c] = re.findall(r"^  (\S+) {2,}", block, re.M)
    want = ["ipw.1", "energy-monitor.1"] + ["ipw-%s.1" % c for c in cmds]
    want += ["ipw-%s-%s.1" % (c, sub) for c, subs in parents.items() for sub in subs]
    check(pages == sorted(want), "a man page per command and subcommand: %s" % pages)
    for page in pages:
        r = sh(["groff", "-man", "-ww", "-z", os.path.join(gen, "man1", page)])
        check(r.returncode == 0 and not r.stderr, "groff -ww is silent on %s: %s" % (page, r.stderr))
    words_of = [c.split() for c in cmds if c not in parents]
    words_of += [[c, sub] for c, subs in parents.items() for sub in subs]
    for w in words_of:
        helptext = sh([ipw] + w + ["--help"]).stdout
        name = "ipw-%s.1" % "-".join(w)
        page = open(os.path.join(gen, "man1", name)).read().replace("\\-", "-")
        flags = re.findall(r"^  (--[a-z0-9-]+)", helptext, re.M)
        check(all(".B %s" % f in page for f in flags), "%s documents %s" % (name, flags))
        words = sh(["bash", "-c", ". %s/completions/ipw; COMP_WORDS=(ipw %s --); COMP_CWORD=%d; "
                    "_ipw; echo \"${COMPREPLY[*]}\"" % (gen, " ".join(w), len(w) + 1)]).stdout.split()
        check(sorted(words) == sorted(flags + ["--help"]), "bash completes ipw %s's options"
              % " ".join(w))
    for c, subs in parents.items():
        words = sh(["bash", "-c", ". %s/completions/ipw; COMP_WORDS=(ipw %s ''); COMP_CWORD=2; "
                    "_ipw; echo \"${COMPREPLY[*]}\"" % (gen, c)]).stdout.split()
        check(words == subs, "bash completes ipw %s's subcommands: %s" % (c, words))
    helptext = sh([ipw, "telemetry", "--help"]).stdout
    choices = re.search(r"--collector NAME.*?one of: ([^\n]+)", helptext, re.S).group(1).split()
    words = sh(["bash", "-c", ". %s/completions/ipw; COMP_WORDS=(ipw telemetry --collector ''); "
                "COMP_CWORD=3; _ipw; echo \"${COMPREPLY[*]}\"" % gen]).stdout.split()
    check(words == choices, "bash completes --collector from its choices: %s" % words)
    # the systemd unit as `cmake --install` writes it for a prefix: systemd's own check
    analyze = shutil.which("systemd-analyze")
    if analyze:
        prefix = tempfile.mkdtemp(prefix="ipw-unit-")
        try:
            sh(["cmake", "--install", BIN, "--prefix", prefix], check=True)
            unit = os.path.join(prefix, "lib/systemd/system/ipw-energy-monitor.service")
            check("ExecStart=%s/bin/energy-monitor " % prefix in open(unit).read(),
                  "the unit runs the installed energy-monitor")
            r = sh([analyze, "verify", "--man=no", unit])
            check(r.returncode == 0 and not r.stderr.strip(),
                  "systemd-analyze verify accepts the unit: %s" % r.stderr.strip())
        finally:
            shutil.rmtree(prefix, ignore_errors=True)
    zsh = shutil.which("zsh")
    if zsh:
        for f in ("_ipw", "_energy-monitor"):
            r = sh([zsh, "-n", os.path.join(gen, "completions", f)])
            check(r.returncode == 0, "zsh parses %s: %s" % (f, r.stderr))
    else:
        print("zsh is not installed: the zsh completions are not parsed here")
    return 1 if failures else 0


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "unwritable-prefix":
        return unwritable_prefix()
    if len(sys.argv) > 1 and sys.argv[1] == "generated-docs":
        return generated_docs()
    if os.geteuid() != 0:
        print("SKIP: installing into a fresh root needs root (chroot, dpkg --root)")
        return 0
    work = tempfile.mkdtemp(prefix="ipw-deb-")
    try:
        deb = build_deb(os.path.join(work, "pkg"))
        fields = control(deb)
        print("Depends:", fields.get("Depends"))
        check_contents(deb, fields)
        extracted = os.path.join(work, "x")
        subprocess.run(["dpkg-deb", "-x", deb, extracted], check=True)
        check_depends(fields, extracted)

        root = os.path.join(work, "root")
        essential = sh(["dpkg-query", "-W", "-f=${Package} ${Essential}\n"]).stdout.split("\n")
        base = [l.split()[0] for l in essential if l.endswith(" yes")]
        deps = [alts[0] for alts in depends_names(fields["Depends"])]
        pkgs = closure(base + deps)
        make_root(root, pkgs)
        print("fresh root: %d packages" % len(pkgs))
        p = sh(["dpkg", "--root=" + root, "--log=/dev/null", "-i", deb], timeout=300)
        check(p.returncode == 0, "dpkg --root installs it (%s)" % (p.stdout + p.stderr)[-800:])
        check(re.search(r"^ipw:x:\d+:", open(os.path.join(root, "etc/group")).read(), re.M),
              "postinst created the group ipw")
        r = in_root(root, ["dpkg-query", "-W", "-f=${Status}", "ipw"])
        check(r.stdout == "install ok installed", "dpkg says installed: %s" % r.stdout)

        r = in_root(root, ["/usr/bin/ipw", "--version"])
        check(r.returncode == 0 and r.stdout.startswith("ipw "), "ipw --version in the root")
        r = in_root(root, ["/usr/bin/energy-monitor", "--help"])
        check(r.returncode == 0 and "usage: energy-monitor" in r.stdout, "energy-monitor --help")
        r = in_root(root, ["/usr/bin/ipw", "profile", "--client", "sim", "--model", "llama-3.2-1b",
                           "--max-queries", "3", "--client-param", "time_scale=0.02",
                           "--baseline-seconds", "0.2", "--output-dir", "/tmp/runs"])
        check(r.returncode == 0, "ipw profile --client sim runs in the fresh root (rc %d: %s)"
              % (r.returncode, r.stderr[-600:]))
        runs = os.path.join(root, "tmp/runs")
        dirs = os.listdir(runs) if os.path.isdir(runs) else []
        check(len(dirs) == 1 and os.path.exists(os.path.join(runs, dirs[0], "records.jsonl")) and
              len(open(os.path.join(runs, dirs[0], "records.jsonl")).readlines()) == 3,
              "the run directory has 3 records: %s" % dirs)
        r = in_root(root, ["/bin/bash", "-c",
                           ". /usr/share/bash-completion/completions/ipw; "
                           "COMP_WORDS=(ipw profile --cli); COMP_CWORD=2; _ipw; "
                           "echo \"${COMPREPLY[*]}\""])
        check(r.stdout.strip() == "--client --client-base-url --client-param",
              "the installed bash completion completes --cli: %r" % r.stdout.strip())
        p = sh(["dpkg", "--root=" + root, "--log=/dev/null", "-r", "ipw"], timeout=120)
        check(p.returncode == 0 and not os.path.exists(os.path.join(root, "usr/bin/ipw")),
              "dpkg -r removes it")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return summary()


if __name__ == "__main__":
    sys.exit(main())
