/* The child process of a sandbox command: forked with only async-signal-safe calls between
 * fork and exec (the runner is multi-threaded), limits set with setrlimit, output read through
 * one pipe with poll until the command ends, its wall-clock limit passes or its output passes
 * the kill bound; then its process group is killed. */
#include "proc_run.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ipw/clock.h"

/* After the command exits, output still in flight (a background child holding the pipe) is
 * read for at most this long. */
#define DRAIN_NS (200 * IPW_NS_PER_MS)

void ipw_exec_result_free(struct ipw_exec_result *r)
{
    free(r->output);
    memset(r, 0, sizeof *r);
}

long ipw_proc_count_user(unsigned uid)
{
    DIR *d = opendir("/proc");
    if (!d)
        return 0;
    long n = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] < '0' || de->d_name[0] > '9')
            continue;
        struct stat st;
        char path[300];
        snprintf(path, sizeof path, "/proc/%s", de->d_name);
        if (stat(path, &st) == 0 && st.st_uid == uid)
            n++;
    }
    closedir(d);
    return n;
}

static void set_limit(int res, rlim_t v)
{
    struct rlimit rl = {v, v};
    setrlimit(res, &rl);
}

/* In the child: nothing here may allocate or take a lock. */
static void child(const struct ipw_proc_spec *ps, int out_fd, int err_fd, rlim_t nproc)
{
    setsid();
    int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0)
        dup2(devnull, 0);
    dup2(out_fd, 1);
    dup2(out_fd, 2);
    const struct ipw_sandbox_limits *l = ps->lim;
    if (l->cpu_s > 0)
        set_limit(RLIMIT_CPU, (rlim_t)l->cpu_s);
    if (l->mem_mb > 0)
        set_limit(RLIMIT_AS, (rlim_t)l->mem_mb << 20);
    if (l->fsize_mb > 0)
        set_limit(RLIMIT_FSIZE, (rlim_t)l->fsize_mb << 20);
    if (nproc > 0)
        set_limit(RLIMIT_NPROC, nproc);
    set_limit(RLIMIT_CORE, 0);
    if (ps->cwd && chdir(ps->cwd) != 0)
        goto fail;
    if (ps->drop_uid) {
        gid_t g = (gid_t)ps->gid;
        if (setgroups(1, &g) != 0 || setgid(g) != 0 || setuid((uid_t)ps->uid) != 0)
            goto fail;
    }
    /* signals the runner ignores must not stay ignored in the command */
    signal(SIGPIPE, SIG_DFL);
    execve(ps->argv[0], ps->argv, ps->envp);
fail:;
    int e = errno;
    ssize_t w = write(err_fd, &e, sizeof e);
    (void)w;
    _exit(127);
}

static void keep(struct ipw_exec_result *r, const struct ipw_sandbox_limits *l, const char *buf,
                 size_t n)
{
    r->output_total += n;
    size_t room = l->output_keep > r->output_len ? l->output_keep - r->output_len : 0;
    size_t k = n < room ? n : room;
    if (k) {
        memcpy(r->output + r->output_len, buf, k);
        r->output_len += k;
        r->output[r->output_len] = '\0';
    }
}

ipw_err ipw_proc_run(const struct ipw_proc_spec *ps, struct ipw_exec_result *r, ipw_errbuf *eb)
{
    memset(r, 0, sizeof *r);
    const struct ipw_sandbox_limits *l = ps->lim;
    r->output = malloc(l->output_keep + 1);
    if (!r->output)
        return ipw_fail(eb, IPW_E_NOMEM, "out of memory for a command's output");
    r->output[0] = '\0';
    int out[2], err[2];
    if (pipe2(out, O_CLOEXEC) != 0) {
        ipw_exec_result_free(r);
        return ipw_fail(eb, IPW_E_IO, "cannot create a pipe: %s", strerror(errno));
    }
    if (pipe2(err, O_CLOEXEC) != 0) {
        close(out[0]);
        close(out[1]);
        ipw_exec_result_free(r);
        return ipw_fail(eb, IPW_E_IO, "cannot create a pipe: %s", strerror(errno));
    }
    rlim_t nproc = 0;
    if (l->nproc > 0)
        nproc = (rlim_t)(ipw_proc_count_user(ps->drop_uid ? ps->uid : (unsigned)getuid()) +
                         l->nproc);
    r->start_ns = ipw_mono_ns();
    pid_t pid = fork();
    if (pid == 0)
        child(ps, out[1], err[1], nproc);
    close(out[1]);
    close(err[1]);
    if (pid < 0) {
        close(out[0]);
        close(err[0]);
        ipw_exec_result_free(r);
        return ipw_fail(eb, IPW_E_IO, "cannot start a process: %s", strerror(errno));
    }
    int64_t wall = ps->wall_ns > 0 ? ps->wall_ns : l->wall_ns;
    int64_t deadline = r->start_ns + wall, drain_until = 0;
    bool exited = false, eof = false, killed = false;
    int status = 0;
    char buf[16384];
    while (!eof) {
        int64_t now = ipw_mono_ns();
        if (!exited && waitpid(pid, &status, WNOHANG) == pid) {
            exited = true;
            drain_until = now + DRAIN_NS;
        }
        if (exited && now >= drain_until)
            break;
        if (!killed && now >= deadline) {
            snprintf(r->limit, sizeof r->limit, "timeout");
            kill(-pid, SIGKILL);
            killed = true;
        }
        struct pollfd pfd = {out[0], POLLIN, 0};
        int64_t wait_ns = (exited ? drain_until : deadline) - now;
        int ms = wait_ns > 50 * IPW_NS_PER_MS ? 50 : (int)(wait_ns / IPW_NS_PER_MS) + 1;
        int pr = poll(&pfd, 1, ms);
        if (pr < 0 && errno != EINTR)
            break;
        if (pr > 0) {
            ssize_t n = read(out[0], buf, sizeof buf);
            if (n > 0) {
                keep(r, l, buf, (size_t)n);
                if (!killed && l->output_kill && r->output_total > l->output_kill) {
                    snprintf(r->limit, sizeof r->limit, "output");
                    kill(-pid, SIGKILL);
                    killed = true;
                }
            } else if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN)) {
                eof = true;
            }
        }
    }
    /* nothing the command started outlives it (within its session) */
    kill(-pid, SIGKILL);
    if (!exited)
        waitpid(pid, &status, 0);
    r->end_ns = ipw_mono_ns();
    int child_errno = 0;
    bool exec_failed = read(err[0], &child_errno, sizeof child_errno) == sizeof child_errno;
    close(out[0]);
    close(err[0]);
    if (exec_failed) {
        ipw_exec_result_free(r);
        return ipw_fail(eb, IPW_E_IO, "cannot run %s: %s", ps->argv[0], strerror(child_errno));
    }
    if (WIFEXITED(status)) {
        r->exit_code = WEXITSTATUS(status);
        /* a shell (or bwrap) reports a child killed by signal n as 128 + n */
        if (r->exit_code == 128 + SIGXCPU && !r->limit[0])
            snprintf(r->limit, sizeof r->limit, "cpu");
    } else if (WIFSIGNALED(status)) {
        r->exit_code = -1;
        r->signal = WTERMSIG(status);
        if (r->signal == SIGXCPU && !r->limit[0])
            snprintf(r->limit, sizeof r->limit, "cpu");
        if (r->signal == SIGXFSZ && !r->limit[0])
            snprintf(r->limit, sizeof r->limit, "file_size");
    }
    return IPW_OK;
}

ipw_err ipw_proc_spawn(const struct ipw_proc_spec *ps, int *pid_out, ipw_errbuf *eb)
{
    int err[2];
    int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
    if (null < 0)
        return ipw_fail(eb, IPW_E_IO, "cannot open /dev/null: %s", strerror(errno));
    if (pipe2(err, O_CLOEXEC) != 0) {
        close(null);
        return ipw_fail(eb, IPW_E_IO, "cannot create a pipe: %s", strerror(errno));
    }
    rlim_t nproc = 0;
    if (ps->lim->nproc > 0)
        nproc = (rlim_t)(ipw_proc_count_user(ps->drop_uid ? ps->uid : (unsigned)getuid()) +
                         ps->lim->nproc);
    pid_t pid = fork();
    if (pid == 0)
        child(ps, null, err[1], nproc);
    close(null);
    close(err[1]);
    if (pid < 0) {
        close(err[0]);
        return ipw_fail(eb, IPW_E_IO, "cannot start a process: %s", strerror(errno));
    }
    /* the exec either happened (the pipe closes empty) or failed (errno arrives) */
    int child_errno = 0;
    ssize_t n = read(err[0], &child_errno, sizeof child_errno);
    close(err[0]);
    if (n == sizeof child_errno) {
        waitpid(pid, NULL, 0);
        return ipw_fail(eb, IPW_E_IO, "cannot run %s: %s", ps->argv[0], strerror(child_errno));
    }
    *pid_out = pid;
    return IPW_OK;
}
