/* The macOS collector: runs `powermetrics -f plist` as a child process, reads its NUL-separated
 * plist samples on a background thread and accumulates their energies (GPU rail, CPU, ANE), so
 * that sample() answers at once with the latest totals. The child is restarted with backoff
 * when it dies and terminated (SIGTERM, then SIGKILL) and reaped on close. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <unistd.h>
#ifdef __APPLE__
#include <sys/sysctl.h>
#endif

#include "ipw/buf.h"
#include "ipw/clock.h"
#include "ipw/collector.h"
#include "telemetry/collector_priv.h"
#include "ipw/log.h"
#include "telemetry/plist.h"
#include "telemetry/powermetrics.h"

extern char **environ;

#define MAX_ARGS 24
#define STDERR_KEEP 1024
#define BACKOFF_FIRST_MS 250
#define BACKOFF_MAX_MS 30000

enum phase { STARTING, RUNNING, FAILED };

struct pm {
    char cmdbuf[512];
    char *cmd[MAX_ARGS]; /* the command's words (IPW_POWERMETRICS may carry arguments) */
    int ncmd;
    int interval_ms;
    int64_t stale_ns;
    pthread_t thread;
    bool thread_started;
    int stop_fds[2]; /* close() writes a byte: the reader wakes from poll() and stops */

    pthread_mutex_t mu;
    pthread_cond_t cv; /* phase changes */
    /* --- under mu --- */
    enum phase phase;
    bool with_ane;
    bool alive;
    bool error_pending; /* a death not yet reported by sample() */
    pid_t pid;
    double e[3];     /* J: cpu, gpu, ane */
    bool has_e[3];
    double p[4];     /* W: cpu, gpu, ane, combined */
    bool has_p[4];
    int64_t last_sample_ns;
    uint64_t samples, bad, exits, restarts;
    char last_error[IPW_ERRMSG_MAX];
    char last_bad[256];
    char hw_model[64];
    /* --- reader thread only --- */
    char err_tail[STDERR_KEEP];
    size_t err_len;
    struct ipw_buf acc; /* the sample being assembled, at most IPW_PM_MAX_SAMPLE bytes */
};

/* ---- one sample ---------------------------------------------------------------------- */

static bool num(const struct ipw_plist *p, int dict, const char *key, double *v)
{
    return ipw_plist_number(p, ipw_plist_dict_get(p, dict, key), v);
}

ipw_err ipw_powermetrics_parse_sample(const char *text, size_t len, struct ipw_pm_sample *out,
                                      ipw_errbuf *eb)
{
    memset(out, 0, sizeof *out);
    struct ipw_plist *p;
    ipw_err e = ipw_plist_parse(text, len, &p, eb);
    if (e != IPW_OK)
        return e;
    int root = ipw_plist_root(p);
    int proc = ipw_plist_dict_get(p, root, "processor");
    if (ipw_plist_type(p, proc) != IPW_PLIST_DICT) {
        ipw_plist_free(p);
        return ipw_fail(eb, IPW_E_PROTOCOL, "powermetrics sample has no processor dictionary");
    }
    static const char *const keys[] = {"cpu_energy", "gpu_energy", "ane_energy", "cpu_power",
                                       "gpu_power",  "ane_power",  "combined_power"};
    for (int f = 0; f < IPW_PM_ELAPSED_NS; f++) {
        double v;
        bool have = num(p, proc, keys[f], &v);
        /* some versions file the GPU under a top-level gpu dict instead */
        if (!have && (f == IPW_PM_GPU_ENERGY || f == IPW_PM_GPU_POWER))
            have = num(p, ipw_plist_dict_get(p, root, "gpu"), keys[f], &v);
        if (!have)
            continue;
        if (!isfinite(v) || v < 0) {
            ipw_plist_free(p);
            return ipw_fail(eb, IPW_E_PROTOCOL, "powermetrics sample has %s = %g", keys[f], v);
        }
        out->v[f] = v;
        out->valid |= 1u << f;
    }
    double el;
    if (num(p, root, "elapsed_ns", &el) && isfinite(el) && el >= 0) {
        out->v[IPW_PM_ELAPSED_NS] = el;
        out->valid |= 1u << IPW_PM_ELAPSED_NS;
    }
    const char *model = ipw_plist_text(p, ipw_plist_dict_get(p, root, "hw_model"));
    if (model)
        snprintf(out->hw_model, sizeof out->hw_model, "%s", model);
    ipw_plist_free(p);
    if (!(out->valid & 7u))
        return ipw_fail(eb, IPW_E_PROTOCOL,
                        "powermetrics sample has no cpu_energy, gpu_energy or ane_energy");
    return IPW_OK;
}

/* ---- the child process ------------------------------------------------------------- */

static int cloexec_pipe(int fds[2])
{
#ifdef __linux__
    return pipe2(fds, O_CLOEXEC);
#else
    if (pipe(fds) != 0)
        return -1;
    fcntl(fds[0], F_SETFD, FD_CLOEXEC);
    fcntl(fds[1], F_SETFD, FD_CLOEXEC);
    return 0;
#endif
}

static ipw_err spawn(struct pm *pm, bool with_ane, pid_t *pid, int *out_fd, int *err_fd,
                     ipw_errbuf *eb)
{
    char interval[16];
    snprintf(interval, sizeof interval, "%d", pm->interval_ms);
    char samplers[64];
    snprintf(samplers, sizeof samplers, "cpu_power,gpu_power%s", with_ane ? ",ane_power" : "");
    char *argv[MAX_ARGS + 8];
    int n = 0;
    for (int i = 0; i < pm->ncmd; i++)
        argv[n++] = pm->cmd[i];
    argv[n++] = "--samplers";
    argv[n++] = samplers;
    argv[n++] = "-i";
    argv[n++] = interval;
    argv[n++] = "-f";
    argv[n++] = "plist";
    argv[n] = NULL;

    int out[2], err[2];
    if (cloexec_pipe(out) != 0)
        return ipw_fail(eb, IPW_E_IO, "cannot create a pipe for powermetrics: %s",
                        strerror(errno));
    if (cloexec_pipe(err) != 0) {
        int e = errno;
        close(out[0]);
        close(out[1]);
        return ipw_fail(eb, IPW_E_IO, "cannot create a pipe for powermetrics: %s", strerror(e));
    }
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawn_file_actions_adddup2(&fa, err[1], 2);
    posix_spawnattr_init(&at);
    /* Its own process group, so that close() can signal everything it started; default
     * dispositions, so that it dies of SIGPIPE if we go away (ipw ignores SIGPIPE). */
    sigset_t none, deflt;
    sigemptyset(&none);
    sigemptyset(&deflt);
    sigaddset(&deflt, SIGPIPE);
    sigaddset(&deflt, SIGINT);
    sigaddset(&deflt, SIGTERM);
    sigaddset(&deflt, SIGHUP);
    sigaddset(&deflt, SIGCHLD);
    posix_spawnattr_setsigmask(&at, &none);
    posix_spawnattr_setsigdefault(&at, &deflt);
    posix_spawnattr_setpgroup(&at, 0);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF |
                                      POSIX_SPAWN_SETPGROUP);
    int rc = posix_spawnp(pid, argv[0], &fa, &at, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    close(out[1]);
    close(err[1]);
    if (rc != 0) {
        close(out[0]);
        close(err[0]);
        return ipw_fail(eb, rc == ENOENT ? IPW_E_NOTFOUND : IPW_E_IO, "cannot run '%s': %s",
                        argv[0], strerror(rc));
    }
    fcntl(out[0], F_SETFL, O_NONBLOCK);
    fcntl(err[0], F_SETFL, O_NONBLOCK);
    *out_fd = out[0];
    *err_fd = err[0];
    return IPW_OK;
}

/* Waits up to ms for pid to exit; true (and *status) when it did, or when it is not ours to
 * wait for any more (ECHILD: SIGCHLD ignored by the host program). */
static bool wait_exit(pid_t pid, int *status, int ms)
{
    int64_t deadline = ipw_mono_ns() + (int64_t)ms * IPW_NS_PER_MS;
    for (;;) {
        pid_t r = waitpid(pid, status, WNOHANG);
        if (r == pid)
            return true;
        if (r < 0 && errno != EINTR) {
            *status = -1;
            return true;
        }
        if (ipw_mono_ns() >= deadline)
            return false;
        ipw_sleep_ns(5 * IPW_NS_PER_MS);
    }
}

/* SIGTERM to the child's group, SIGKILL after the grace period, and reap it. */
static int terminate(pid_t pid)
{
    int status = -1;
    if (kill(-pid, SIGTERM) != 0)
        kill(pid, SIGTERM);
    if (wait_exit(pid, &status, IPW_PM_GRACE_MS))
        return status;
    if (kill(-pid, SIGKILL) != 0)
        kill(pid, SIGKILL);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    return status;
}

/* ---- the reader thread ------------------------------------------------------------- */

static void keep_stderr(struct pm *pm, const char *b, size_t n)
{
    if (n >= STDERR_KEEP) {
        b += n - (STDERR_KEEP - 1);
        n = STDERR_KEEP - 1;
    }
    if (pm->err_len + n >= STDERR_KEEP) {
        size_t drop = pm->err_len + n - (STDERR_KEEP - 1);
        memmove(pm->err_tail, pm->err_tail + drop, pm->err_len - drop);
        pm->err_len -= drop;
    }
    memcpy(pm->err_tail + pm->err_len, b, n);
    pm->err_len += n;
    pm->err_tail[pm->err_len] = '\0';
}

/* The child's stderr, squeezed onto one line for messages. */
static void stderr_line(const struct pm *pm, char *out, size_t size)
{
    size_t j = 0;
    bool space = false;
    for (size_t i = 0; i < pm->err_len && j + 1 < size; i++) {
        unsigned char ch = (unsigned char)pm->err_tail[i];
        if (ch < 0x20 || ch == 0x7f) {
            space = j > 0;
            continue;
        }
        if (space && j + 2 < size)
            out[j++] = ' ';
        space = false;
        out[j++] = (char)ch;
    }
    out[j] = '\0';
}

static void bad_sample(struct pm *pm, const char *why)
{
    pthread_mutex_lock(&pm->mu);
    uint64_t n = ++pm->bad;
    snprintf(pm->last_bad, sizeof pm->last_bad, "%s", why);
    pthread_mutex_unlock(&pm->mu);
    if (n <= 3 || n % 100 == 0)
        ipw_warn("powermetrics: skipped a sample (%llu so far): %s", (unsigned long long)n, why);
}

static void process(struct pm *pm, const char *s, size_t len)
{
    while (len && (*s == ' ' || *s == '\n' || *s == '\r' || *s == '\t')) {
        s++;
        len--;
    }
    if (!len)
        return;
    struct ipw_pm_sample ps;
    ipw_errbuf eb = {0};
    if (ipw_powermetrics_parse_sample(s, len, &ps, &eb) != IPW_OK) {
        bad_sample(pm, eb.msg);
        return;
    }
    pthread_mutex_lock(&pm->mu);
    for (int i = 0; i < 3; i++) {
        if (ps.valid & (1u << (IPW_PM_CPU_ENERGY + i))) {
            pm->e[i] += ps.v[IPW_PM_CPU_ENERGY + i] / 1000.0;
            pm->has_e[i] = true;
        }
    }
    for (int i = 0; i < 4; i++) {
        if (ps.valid & (1u << (IPW_PM_CPU_POWER + i))) {
            pm->p[i] = ps.v[IPW_PM_CPU_POWER + i] / 1000.0;
            pm->has_p[i] = true;
        }
    }
    if (ps.hw_model[0])
        snprintf(pm->hw_model, sizeof pm->hw_model, "%s", ps.hw_model);
    pm->samples++;
    pm->last_sample_ns = ipw_mono_ns();
    if (pm->phase == STARTING) {
        pm->phase = RUNNING;
        pm->error_pending = false; /* a refused ane_power start is not a failure to report */
        pthread_cond_broadcast(&pm->cv);
    }
    pthread_mutex_unlock(&pm->mu);
}

/* Splits the stream on NUL bytes; each piece is one plist. */
static void feed(struct pm *pm, const char *b, size_t n)
{
    while (n) {
        const char *nul = memchr(b, '\0', n);
        size_t piece = nul ? (size_t)(nul - b) : n;
        ipw_buf_put(&pm->acc, b, piece); /* a failure is kept until the sample's end */
        if (!nul)
            return;
        ipw_err st = ipw_buf_status(&pm->acc);
        if (st != IPW_OK) {
            char why[128];
            if (st == IPW_E_RANGE)
                snprintf(why, sizeof why, "sample larger than %zu bytes", IPW_PM_MAX_SAMPLE);
            else
                snprintf(why, sizeof why, "out of memory assembling a %zu-byte sample",
                         pm->acc.len + piece);
            bad_sample(pm, why);
        } else {
            process(pm, pm->acc.p, pm->acc.len);
        }
        ipw_buf_reset(&pm->acc);
        b += piece + 1;
        n -= piece + 1;
    }
}

/* Reads the child until its stdout ends (false) or close() asks us to stop (true). */
static bool pump(struct pm *pm, int out_fd, int err_fd)
{
    enum { BUF = 65536 };
    char *b = malloc(BUF);
    if (!b) {
        bad_sample(pm, "out of memory reading powermetrics");
        close(err_fd);
        return false;
    }
    bool stop = false;
    while (out_fd >= 0 && !stop) {
        struct pollfd fds[3] = {{pm->stop_fds[0], POLLIN, 0},
                                {out_fd, POLLIN, 0},
                                {err_fd, POLLIN, 0}};
        int r = poll(fds, err_fd >= 0 ? 3 : 2, -1);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (fds[0].revents) {
            stop = true;
            break;
        }
        for (int i = 1; i < 3; i++) {
            if (i == 2 && err_fd < 0)
                continue;
            if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            int fd = i == 1 ? out_fd : err_fd;
            ssize_t n = read(fd, b, BUF);
            if (n < 0 && (errno == EAGAIN || errno == EINTR))
                continue;
            if (n <= 0) {
                if (i == 1) {
                    out_fd = -1;
                } else {
                    close(err_fd);
                    err_fd = -1;
                }
                continue;
            }
            if (i == 1)
                feed(pm, b, (size_t)n);
            else
                keep_stderr(pm, b, (size_t)n);
        }
    }
    /* what stderr still holds explains an exit */
    if (!stop && err_fd >= 0) {
        ssize_t n;
        while ((n = read(err_fd, b, BUF)) > 0)
            keep_stderr(pm, b, (size_t)n);
    }
    if (err_fd >= 0)
        close(err_fd);
    if (!stop && pm->acc.len) {
        const char *a = pm->acc.p;
        bool blank = true;
        for (size_t i = 0; i < pm->acc.len && blank; i++)
            blank = a[i] == ' ' || a[i] == '\n' || a[i] == '\r' || a[i] == '\t';
        if (!blank)
            bad_sample(pm, "output ended inside a sample (truncated)");
    }
    ipw_buf_reset(&pm->acc);
    free(b);
    return stop;
}

static void describe_exit(const struct pm *pm, pid_t pid, int status, char *out, size_t size)
{
    char how[64];
    if (status == -1)
        snprintf(how, sizeof how, "exited");
    else if (WIFSIGNALED(status))
        snprintf(how, sizeof how, "was killed by signal %d", WTERMSIG(status));
    else
        snprintf(how, sizeof how, "exited with status %d", WEXITSTATUS(status));
    char err[320];
    stderr_line(pm, err, sizeof err);
    bool root = strcasestr(err, "superuser") || strcasestr(err, "root");
    snprintf(out, size, "powermetrics (%s, pid %d) %s%s%s%s", pm->cmd[0], (int)pid, how,
             err[0] ? ": " : "", err, root ? "; run the monitor as root (sudo)" : "");
}

static bool wait_stop(struct pm *pm, int ms)
{
    struct pollfd fd = {pm->stop_fds[0], POLLIN, 0};
    int r;
    do
        r = poll(&fd, 1, ms);
    while (r < 0 && errno == EINTR);
    return r > 0;
}

static void *reader_main(void *arg)
{
    struct pm *pm = arg;
    int backoff = BACKOFF_FIRST_MS;
    for (;;) {
        pthread_mutex_lock(&pm->mu);
        bool with_ane = pm->with_ane;
        bool starting = pm->phase == STARTING;
        pthread_mutex_unlock(&pm->mu);
        pm->err_len = 0;
        pm->err_tail[0] = '\0';
        pid_t pid = 0;
        int out_fd = -1, err_fd = -1;
        ipw_errbuf eb = {0};
        char msg[IPW_ERRMSG_MAX];
        bool delivered = false;
        if (spawn(pm, with_ane, &pid, &out_fd, &err_fd, &eb) != IPW_OK) {
            snprintf(msg, sizeof msg, "%s", eb.msg);
        } else {
            pthread_mutex_lock(&pm->mu);
            pm->pid = pid;
            pm->alive = true;
            uint64_t before = pm->samples;
            pthread_mutex_unlock(&pm->mu);
            bool stop = pump(pm, out_fd, err_fd);
            close(out_fd);
            int status;
            if (stop) {
                terminate(pid);
                pthread_mutex_lock(&pm->mu);
                pm->alive = false;
                pm->pid = 0;
                pthread_mutex_unlock(&pm->mu);
                return NULL;
            }
            /* stdout closed: it is exiting; give it a moment before insisting */
            if (!wait_exit(pid, &status, IPW_PM_GRACE_MS))
                status = terminate(pid);
            describe_exit(pm, pid, status, msg, sizeof msg);
            pthread_mutex_lock(&pm->mu);
            delivered = pm->samples > before;
            pthread_mutex_unlock(&pm->mu);
        }
        char err[320];
        stderr_line(pm, err, sizeof err);
        pthread_mutex_lock(&pm->mu);
        pm->alive = false;
        pm->pid = 0;
        pm->error_pending = true;
        pm->exits += pid != 0;
        snprintf(pm->last_error, sizeof pm->last_error, "%s", msg);
        if (starting && pm->phase == STARTING) {
            /* Older systems have no ane_power sampler and refuse to start with it. */
            if (pid && with_ane && (strcasestr(err, "sampler") || strcasestr(err, "ane"))) {
                ipw_info("powermetrics refused the ane_power sampler (%s); retrying without it",
                         err);
                pm->with_ane = false;
                pthread_mutex_unlock(&pm->mu);
                continue;
            }
            pm->phase = FAILED;
            pthread_cond_broadcast(&pm->cv);
            pthread_mutex_unlock(&pm->mu);
            return NULL;
        }
        pthread_mutex_unlock(&pm->mu);
        ipw_warn("%s; restarting in %.2f s", msg, backoff / 1000.0);
        if (delivered)
            backoff = BACKOFF_FIRST_MS;
        if (wait_stop(pm, backoff))
            return NULL;
        backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
        pthread_mutex_lock(&pm->mu);
        pm->restarts++;
        pthread_mutex_unlock(&pm->mu);
    }
}

/* ---- the collector ------------------------------------------------------------------ */

static void stop_reader(struct pm *pm)
{
    if (pm->thread_started) {
        ssize_t w;
        do
            w = write(pm->stop_fds[1], "x", 1);
        while (w < 0 && errno == EINTR);
        pthread_join(pm->thread, NULL);
        pm->thread_started = false;
    }
}

static void pm_free(struct pm *pm)
{
    stop_reader(pm);
    close(pm->stop_fds[0]);
    close(pm->stop_fds[1]);
    pthread_mutex_destroy(&pm->mu);
    pthread_cond_destroy(&pm->cv);
    ipw_buf_free(&pm->acc);
    free(pm);
}

static void fill_info(struct ipw_collector *c, const struct pm *pm)
{
    struct ipw_collector_info *in = &c->info;
    in->main_domain = IPW_DOMAIN_GPU;
    in->ndev = 0;
    snprintf(in->gpu_vendor, sizeof in->gpu_vendor, "Apple");
    snprintf(in->gpu_device_type, sizeof in->gpu_device_type, "integrated");
    snprintf(in->gpu_backend, sizeof in->gpu_backend, "powermetrics");
    in->gpu_name[0] = '\0';
#ifdef __APPLE__
    size_t len = sizeof in->gpu_name;
    if (sysctlbyname("machdep.cpu.brand_string", in->gpu_name, &len, NULL, 0) != 0)
        in->gpu_name[0] = '\0';
#endif
    if (!in->gpu_name[0])
        snprintf(in->gpu_name, sizeof in->gpu_name, "%s", pm->hw_model[0] ? pm->hw_model
                                                                          : "Apple GPU");
}

static ipw_err pm_open(struct ipw_collector *c, ipw_errbuf *eb)
{
    const char *command = c->cfg.powermetrics_command;
#ifndef __APPLE__
    if (!command || !*command)
        return ipw_fail(eb, IPW_E_UNSUPPORTED,
                        "powermetrics exists only on macOS (set IPW_POWERMETRICS to a compatible "
                        "program to use this collector elsewhere)");
#endif
    if (!command || !*command)
        command = "powermetrics";
    struct pm *pm = calloc(1, sizeof *pm);
    if (pm)
        ipw_buf_init(&pm->acc, IPW_PM_MAX_SAMPLE);
    if (!pm)
        return ipw_fail(eb, IPW_E_NOMEM, "out of memory opening powermetrics");
    if (cloexec_pipe(pm->stop_fds) != 0) {
        int e = errno;
        free(pm);
        return ipw_fail(eb, IPW_E_IO, "cannot create a pipe: %s", strerror(e));
    }
    pthread_mutex_init(&pm->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
#ifndef __APPLE__
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
#endif
    pthread_cond_init(&pm->cv, &ca);
    pthread_condattr_destroy(&ca);

    /* the command is split on blanks (no shell), so "sudo -n powermetrics" works */
    if (strlen(command) >= sizeof pm->cmdbuf) {
        pm_free(pm);
        return ipw_fail(eb, IPW_E_INVALID, "powermetrics command is too long (%zu bytes)",
                        strlen(command));
    }
    snprintf(pm->cmdbuf, sizeof pm->cmdbuf, "%s", command);
    for (char *save = NULL, *w = strtok_r(pm->cmdbuf, " \t", &save); w;
         w = strtok_r(NULL, " \t", &save)) {
        if (pm->ncmd == MAX_ARGS) {
            pm_free(pm);
            return ipw_fail(eb, IPW_E_INVALID, "powermetrics command has more than %d words",
                            MAX_ARGS);
        }
        pm->cmd[pm->ncmd++] = w;
    }
    if (!pm->ncmd) {
        pm_free(pm);
        return ipw_fail(eb, IPW_E_INVALID, "powermetrics command is empty");
    }
    int iv = c->cfg.interval_ms > 0 ? c->cfg.interval_ms : 50;
    pm->interval_ms = iv < IPW_PM_MIN_INTERVAL_MS   ? IPW_PM_MIN_INTERVAL_MS
                      : iv > IPW_PM_MAX_INTERVAL_MS ? IPW_PM_MAX_INTERVAL_MS
                                                    : iv;
    int64_t stale = 10LL * pm->interval_ms * IPW_NS_PER_MS;
    pm->stale_ns = stale > 3 * IPW_NS_PER_SEC ? stale : 3 * IPW_NS_PER_SEC;
    pm->with_ane = true;
    pm->phase = STARTING;

    if (pthread_create(&pm->thread, NULL, reader_main, pm) != 0) {
        pm_free(pm);
        return ipw_fail(eb, IPW_E_NOMEM, "cannot start the powermetrics reader thread");
    }
    pm->thread_started = true;

    /* Wait for the first sample, so a powermetrics that cannot run (not root, unknown
     * options) fails here and auto-detection moves on. */
    int64_t wait_ms = 2000 + 3LL * pm->interval_ms;
    int64_t deadline = ipw_mono_ns() + wait_ms * IPW_NS_PER_MS;
    pthread_mutex_lock(&pm->mu);
    while (pm->phase == STARTING) {
#ifdef __APPLE__
        int64_t left = deadline - ipw_mono_ns();
        if (left <= 0)
            break;
        struct timespec rel = {left / IPW_NS_PER_SEC, left % IPW_NS_PER_SEC};
        if (pthread_cond_timedwait_relative_np(&pm->cv, &pm->mu, &rel) == ETIMEDOUT)
            break;
#else
        struct timespec ts = {deadline / IPW_NS_PER_SEC, deadline % IPW_NS_PER_SEC};
        if (pthread_cond_timedwait(&pm->cv, &pm->mu, &ts) == ETIMEDOUT)
            break;
#endif
    }
    enum phase ph = pm->phase;
    char why[IPW_ERRMSG_MAX];
    snprintf(why, sizeof why, "%s", ph == FAILED ? pm->last_error : pm->last_bad);
    pthread_mutex_unlock(&pm->mu);
    if (ph != RUNNING) {
        pm_free(pm);
        if (ph == FAILED)
            return ipw_fail(eb, IPW_E_UNSUPPORTED, "%s", why);
        return ipw_fail(eb, IPW_E_TIMEOUT, "no usable sample from '%s' within %.1f s%s%s",
                        command, wait_ms / 1000.0, why[0] ? "; last problem: " : "", why);
    }
    c->priv = pm;
    pthread_mutex_lock(&pm->mu);
    fill_info(c, pm);
    if (!pm->with_ane) {
        size_t len = strlen(c->info.notes);
        snprintf(c->info.notes + len, sizeof c->info.notes - len, "%s%s", len ? "; " : "",
                 "powermetrics has no ane_power sampler here: Neural Engine energy unavailable");
    }
    pthread_mutex_unlock(&pm->mu);
    return IPW_OK;
}

static ipw_err pm_sample(struct ipw_collector *c, struct ipw_reading *r,
                         struct ipw_device_reading *dev, ipw_errbuf *eb)
{
    (void)dev;
    struct pm *pm = c->priv;
    pthread_mutex_lock(&pm->mu);
    if (pm->error_pending || !pm->alive) {
        pm->error_pending = false;
        ipw_err e = ipw_fail(eb, IPW_E_LOST, "%s; it is being restarted", pm->last_error);
        pthread_mutex_unlock(&pm->mu);
        return e;
    }
    int64_t age = ipw_mono_ns() - pm->last_sample_ns;
    if (age > pm->stale_ns) {
        pthread_mutex_unlock(&pm->mu);
        return ipw_fail(eb, IPW_E_TIMEOUT, "no sample from powermetrics for %.1f s",
                        (double)age / 1e9);
    }
    static const ipw_metric em[3] = {IPW_M_CPU_ENERGY_J, IPW_M_GPU_ENERGY_J, IPW_M_ANE_ENERGY_J};
    static const ipw_metric pw[3] = {IPW_M_CPU_POWER_W, IPW_M_GPU_POWER_W, IPW_M_ANE_POWER_W};
    static const ipw_domain dom[3] = {IPW_DOMAIN_CPU, IPW_DOMAIN_GPU, IPW_DOMAIN_ANE};
    for (int i = 0; i < 3; i++) {
        if (pm->has_e[i]) {
            ipw_reading_set(r, em[i], pm->e[i]);
            r->energy_source[dom[i]] = IPW_ENERGY_COUNTER;
        }
        if (pm->has_p[i])
            ipw_reading_set(r, pw[i], pm->p[i]);
    }
    if (pm->has_p[1])
        r->power_source = IPW_POWER_INSTANT;
    pthread_mutex_unlock(&pm->mu);
    return IPW_OK;
}

static void pm_close(struct ipw_collector *c)
{
    if (c->priv)
        pm_free(c->priv);
    c->priv = NULL;
}

static const char *const aliases[] = {"powermetrics", NULL};

const struct ipw_collector_ops ipw_collector_powermetrics = {
    .name = "macos",
    .aliases = aliases,
    .description = "powermetrics (root): CPU, GPU and ANE energy on Apple Silicon",
    .auto_rank = 1,
    .caps = IPW_CAP_ENERGY | IPW_CAP_ENERGY_COUNTER | IPW_CAP_BLOCKING_SAMPLE,
    .main_domain = IPW_DOMAIN_GPU,
    .open = pm_open, .sample = pm_sample, .close = pm_close};

bool ipw_powermetrics_get_stats(const struct ipw_collector *c, struct ipw_powermetrics_stats *st)
{
    memset(st, 0, sizeof *st);
    if (!c || c->ops != &ipw_collector_powermetrics || !c->priv)
        return false;
    struct pm *pm = c->priv;
    pthread_mutex_lock(&pm->mu);
    st->samples = pm->samples;
    st->bad_samples = pm->bad;
    st->exits = pm->exits;
    st->restarts = pm->restarts;
    st->pid = (int)pm->pid;
    st->running = pm->alive;
    st->with_ane = pm->with_ane;
    st->interval_ms = pm->interval_ms;
    st->combined_power_w = pm->has_p[3] ? pm->p[3] : -1;
    snprintf(st->last_bad, sizeof st->last_bad, "%s", pm->last_bad);
    pthread_mutex_unlock(&pm->mu);
    return true;
}
