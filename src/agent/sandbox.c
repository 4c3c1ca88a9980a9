/* The task sandbox: a private directory per task and the command line that confines a command
 * to it. bubblewrap: the host root read-only, /work the task's dir, no network, its own pid,
 * ipc and uts namespaces. podman: the same with --rootfs / (no image needed). none: the work dir
 * only, limits but no confinement (asked for explicitly; the CLI warns). */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ipw/agent.h"
#include "ipw/clock.h"
#include "ipw/fsutil.h"
#include "proc_run.h"

#define NOBODY 65534u

static const char *const kind_names[] = {"bwrap", "podman", "none"};

bool ipw_sandbox_kind_parse(const char *name, enum ipw_sandbox_kind *out)
{
    for (int i = 0; i < 3; i++)
        if (name && strcmp(name, kind_names[i]) == 0) {
            *out = (enum ipw_sandbox_kind)i;
            return true;
        }
    return false;
}

const char *ipw_sandbox_kind_name(enum ipw_sandbox_kind k) { return kind_names[k]; }

void ipw_sandbox_limits_default(struct ipw_sandbox_limits *l)
{
    l->wall_ns = 60 * IPW_NS_PER_SEC;
    l->cpu_s = 60;
    l->mem_mb = 2048;
    l->nproc = 128;
    l->fsize_mb = 256;
    l->output_keep = 16 * 1024;
    l->output_kill = 8u << 20;
}

/* SHELL: tmux (the terminus agent) starts panes with $SHELL, else the passwd shell, which for
 * nobody is nologin */
static char *const sandbox_env[] = {"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=/work",
                                    "TERM=dumb", "SHELL=/bin/sh", "LANG=C.UTF-8",
                                    "LC_ALL=C.UTF-8", NULL};

/* The argument vector for one command; strings point into sb or static text. */
static size_t build_argv(const struct ipw_sandbox *sb, const char *script, char **argv, size_t max, char *bind_work, size_t bwsz)
{
    size_t n = 0;
#define ARG(s) (n < max - 1 ? (void)(argv[n++] = (char *)(s)) : (void)0)
    switch (sb->kind) {
    case IPW_SANDBOX_BWRAP:
        ARG("/usr/bin/bwrap");
        ARG("--ro-bind"); ARG("/"); ARG("/");
        ARG("--dev"); ARG("/dev");
        ARG("--proc"); ARG("/proc");
        ARG("--tmpfs"); ARG("/tmp");
        ARG("--tmpfs"); ARG("/home");
        ARG("--tmpfs"); ARG("/root");
        ARG("--tmpfs"); ARG("/run");
        ARG("--bind"); ARG(sb->work); ARG("/work");
        ARG("--chdir"); ARG("/work");
        ARG("--unshare-all"); /* user, ipc, pid, net, uts, cgroup: no network at all */
        ARG("--die-with-parent");
        ARG("--new-session");
        ARG("--hostname"); ARG("ipw-sandbox");
        ARG("--clearenv");
        ARG("--setenv"); ARG("PATH"); ARG("/usr/local/bin:/usr/bin:/bin");
        ARG("--setenv"); ARG("HOME"); ARG("/work");
        ARG("--setenv"); ARG("TERM"); ARG("dumb");
        ARG("--setenv"); ARG("SHELL"); ARG("/bin/sh");
        ARG("--setenv"); ARG("LC_ALL"); ARG("C.UTF-8");
        break;
    case IPW_SANDBOX_PODMAN:
        snprintf(bind_work, bwsz, "%s:/work", sb->work);
        ARG("/usr/bin/podman");
        ARG("run"); ARG("--rm"); ARG("--rootfs"); ARG("/"); ARG("--read-only");
        ARG("--network=none"); ARG("--pids-limit=256"); ARG("--tmpfs"); ARG("/tmp");
        ARG("-v"); ARG(bind_work); ARG("-w"); ARG("/work");
        ARG("-e"); ARG("HOME=/work"); ARG("-e"); ARG("SHELL=/bin/sh");
        break;
    case IPW_SANDBOX_NONE:
        break;
    }
    ARG("/bin/sh");
    ARG("-c");
    ARG(script);
    argv[n] = NULL;
#undef ARG
    return n;
}

static void spec(const struct ipw_sandbox *sb, char **argv, struct ipw_proc_spec *ps)
{
    *ps = (struct ipw_proc_spec){
        .argv = argv,
        .envp = sandbox_env,
        .cwd = sb->kind == IPW_SANDBOX_NONE ? sb->work : NULL,
        .lim = &sb->lim,
        .drop_uid = sb->drop_uid,
        .uid = sb->uid,
        .gid = sb->gid,
    };
}

ipw_err ipw_sandbox_exec(const struct ipw_sandbox *sb, const char *script, int64_t wall_ns,
                         struct ipw_exec_result *r, ipw_errbuf *eb)
{
    char *argv[64];
    char bind_work[700];
    build_argv(sb, script, argv, 64, bind_work, sizeof bind_work);
    struct ipw_proc_spec ps;
    spec(sb, argv, &ps);
    ps.wall_ns = wall_ns;
    return ipw_proc_run(&ps, r, eb);
}

ipw_err ipw_sandbox_spawn(const struct ipw_sandbox *sb, const char *script, int *pid,
                          ipw_errbuf *eb)
{
    char *argv[64];
    char bind_work[700];
    build_argv(sb, script, argv, 64, bind_work, sizeof bind_work);
    struct ipw_proc_spec ps;
    spec(sb, argv, &ps);
    return ipw_proc_spawn(&ps, pid, eb);
}

ipw_err ipw_sandbox_create(struct ipw_sandbox *sb, enum ipw_sandbox_kind kind,
                           const struct ipw_sandbox_limits *lim, ipw_errbuf *eb)
{
    memset(sb, 0, sizeof *sb);
    sb->kind = kind;
    if (lim)
        sb->lim = *lim;
    else
        ipw_sandbox_limits_default(&sb->lim);
    /* as root, process limits do not hold (RLIMIT_NPROC spares uid 0): run as nobody */
    sb->drop_uid = geteuid() == 0 && kind != IPW_SANDBOX_PODMAN;
    sb->uid = sb->drop_uid ? NOBODY : (unsigned)geteuid();
    sb->gid = sb->drop_uid ? NOBODY : (unsigned)getegid();
    const char *tmp = getenv("TMPDIR");
    if (!tmp || !*tmp)
        tmp = "/tmp";
    snprintf(sb->root, sizeof sb->root, "%s/ipw-task-XXXXXX", tmp);
    if (!mkdtemp(sb->root))
        return ipw_fail(eb, IPW_E_IO, "cannot create a task directory under %s: %s (set TMPDIR)",
                        tmp, strerror(errno));
    snprintf(sb->work, sizeof sb->work, "%s/work", sb->root);
    /* 0711: nobody may pass through to the work dir, but not list the task's directory */
    if (chmod(sb->root, 0711) != 0 || mkdir(sb->work, 0755) != 0 ||
        (sb->drop_uid && chown(sb->work, sb->uid, sb->gid) != 0)) {
        ipw_err e = ipw_fail(eb, IPW_E_IO, "cannot prepare the task directory %s: %s", sb->root,
                             strerror(errno));
        ipw_sandbox_destroy(sb);
        return e;
    }
    return IPW_OK;
}

void ipw_sandbox_destroy(struct ipw_sandbox *sb)
{
    if (sb->root[0])
        ipw_remove_tree(sb->root, NULL);
    sb->root[0] = '\0';
}

/* ---- probing -------------------------------------------------------------------------------- */

static pthread_mutex_t probe_lock = PTHREAD_MUTEX_INITIALIZER;
static bool probed[3];
static ipw_errbuf probe_result[3];

static ipw_err probe(enum ipw_sandbox_kind kind, ipw_errbuf *eb)
{
    const char *bin = kind == IPW_SANDBOX_BWRAP ? "/usr/bin/bwrap" : "/usr/bin/podman";
    if (kind != IPW_SANDBOX_NONE && access(bin, X_OK) != 0)
        return ipw_fail(eb, IPW_E_UNSUPPORTED, "%s is not installed: %s", bin,
                        kind == IPW_SANDBOX_BWRAP
                            ? "install the Debian package bubblewrap (scripts/install-deps.sh)"
                            : "install podman, or use --sandbox bwrap");
    struct ipw_sandbox sb;
    struct ipw_sandbox_limits lim;
    ipw_sandbox_limits_default(&lim);
    lim.wall_ns = 30 * IPW_NS_PER_SEC;
    ipw_err e = ipw_sandbox_create(&sb, kind, &lim, eb);
    if (e != IPW_OK)
        return e;
    struct ipw_exec_result r = {0};
    e = ipw_sandbox_exec(&sb, "echo ok > probe && cat probe", 0, &r, eb);
    if (e == IPW_OK && (r.exit_code != 0 || strncmp(r.output, "ok", 2) != 0)) {
        char out[300];
        snprintf(out, sizeof out, "%.*s", (int)(r.output_len < 200 ? r.output_len : 200),
                 r.output);
        for (char *p = out; *p; p++)
            if (*p == '\n')
                *p = ' ';
        e = ipw_fail(eb, IPW_E_UNSUPPORTED,
                     "the %s sandbox does not work here (exit %d: %s)%s", kind_names[kind],
                     r.exit_code, out,
                     kind == IPW_SANDBOX_BWRAP
                         ? ": bubblewrap needs unprivileged user namespaces (sysctl "
                           "kernel.unprivileged_userns_clone=1, user.max_user_namespaces > 0)"
                         : "");
    }
    ipw_exec_result_free(&r);
    ipw_sandbox_destroy(&sb);
    return e;
}

ipw_err ipw_sandbox_probe(enum ipw_sandbox_kind kind, ipw_errbuf *eb)
{
    pthread_mutex_lock(&probe_lock);
    if (!probed[kind]) {
        ipw_errbuf_clear(&probe_result[kind]);
        probe(kind, &probe_result[kind]);
        probed[kind] = true;
    }
    ipw_errbuf r = probe_result[kind];
    pthread_mutex_unlock(&probe_lock);
    if (r.code != IPW_OK)
        return ipw_fail(eb, r.code, "%s", r.msg);
    return IPW_OK;
}
