/* Benchmark of the Prometheus endpoint against Debian's node_exporter reading
 * the same fake powercap tree: the CPU each process uses per scrape, everything
 * included (the monitor's background sampling at 50 ms, node_exporter's Go
 * runtime), measured in the same run, with scrapes over one keep-alive
 * connection as Prometheus makes them. Windows alternate between the two
 * programs so that the machine's load weighs on both alike. Prints figures,
 * never fails on them; skips node_exporter when it is not installed
 * (prometheus-node-exporter). IPW_BENCH_QUICK=1 measures 3 s per case instead
 * of 20. */
#include <curl/curl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fake_sysfs.h"
#include "grpc/net.h"
#include "ipw/clock.h"
#include "ipw_test.h"
#include "proc_usage.h"

struct target {
    const char *name;
    pid_t pid;
    char url[96];
    CURL *curl;
    size_t body_bytes;
    int64_t cpu_ns, wall_ns; /* accumulated over the measured windows */
    int scrapes, errors;
};

static size_t count_body(char *p, size_t size, size_t n, void *ud)
{
    (void)p;
    *(size_t *)ud += size * n;
    return size * n;
}

static bool scrape(struct target *t)
{
    t->body_bytes = 0;
    long code = 0;
    if (curl_easy_perform(t->curl) != CURLE_OK ||
        curl_easy_getinfo(t->curl, CURLINFO_RESPONSE_CODE, &code) != CURLE_OK || code != 200) {
        t->errors++;
        return false;
    }
    return true;
}

static void open_target(struct target *t, const char *name, pid_t pid, int port)
{
    t->name = name;
    t->pid = pid;
    snprintf(t->url, sizeof t->url, "http://127.0.0.1:%d/metrics", port);
    t->curl = curl_easy_init();
    curl_easy_setopt(t->curl, CURLOPT_URL, t->url);
    curl_easy_setopt(t->curl, CURLOPT_WRITEFUNCTION, count_body);
    curl_easy_setopt(t->curl, CURLOPT_WRITEDATA, &t->body_bytes);
    curl_easy_setopt(t->curl, CURLOPT_TIMEOUT_MS, 5000L);
    curl_easy_setopt(t->curl, CURLOPT_NOSIGNAL, 1L);
}

/* One window: `rate` scrapes per second (0: none) for `seconds`, adding to the
 * target's sums. */
static void window(struct target *t, double rate, double seconds)
{
    int64_t c0 = ipw_test_proc_cpu_ns(t->pid), t0 = ipw_mono_ns();
    int64_t end = t0 + (int64_t)(seconds * 1e9);
    int64_t next = t0;
    while (ipw_mono_ns() < end) {
        if (rate > 0) {
            if (scrape(t))
                t->scrapes++;
            next += (int64_t)(1e9 / rate);
        } else {
            next += 100 * IPW_NS_PER_MS;
        }
        int64_t now = ipw_mono_ns();
        if (next > now)
            usleep((useconds_t)((next - now) / 1000));
    }
    t->cpu_ns += ipw_test_proc_cpu_ns(t->pid) - c0;
    t->wall_ns += ipw_mono_ns() - t0;
}

static void reset(struct target *t)
{
    t->cpu_ns = t->wall_ns = 0, t->scrapes = t->errors = 0;
}

static const char *node_exporter_path(void)
{
    const char *env = getenv("IPW_NODE_EXPORTER");
    if (env)
        return env;
    static const char *const cands[] = {"/usr/bin/prometheus-node-exporter",
                                        "/usr/local/bin/node_exporter", "/usr/bin/node_exporter"};
    for (size_t i = 0; i < sizeof cands / sizeof cands[0]; i++)
        if (access(cands[i], X_OK) == 0)
            return cands[i];
    return NULL;
}

static pid_t start_node_exporter(const char *bin, const char *sysfs, int *port)
{
    int fd;
    if (ipw_net_listen_tcp("127.0.0.1", 0, &fd, port, NULL) != IPW_OK)
        return -1;
    close(fd); /* a free port for node_exporter to take */
    char sys_arg[600], listen_arg[64];
    snprintf(sys_arg, sizeof sys_arg, "--path.sysfs=%s", sysfs);
    snprintf(listen_arg, sizeof listen_arg, "--web.listen-address=127.0.0.1:%d", *port);
    pid_t pid = fork();
    if (pid == 0) {
        if (!freopen("/dev/null", "w", stderr))
            _exit(127);
        execl(bin, bin, "--collector.disable-defaults", "--collector.rapl", sys_arg, listen_arg,
              (char *)NULL);
        _exit(127);
    }
    return pid;
}

/* Scrapes until one succeeds (the program is up), at most 10 s. */
static bool wait_up(struct target *t)
{
    for (int i = 0; i < 200; i++) {
        if (scrape(t))
            return true;
        usleep(50000);
    }
    return false;
}

static void measure(struct target *tg, int n, double rate, double seconds)
{
    const int rounds = 4; /* alternate so that load changes hit both */
    for (int i = 0; i < n; i++)
        reset(&tg[i]);
    for (int r = 0; r < rounds; r++)
        for (int i = 0; i < n; i++)
            window(&tg[i], rate, seconds / rounds);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    bool quick = getenv("IPW_BENCH_QUICK") && atoi(getenv("IPW_BENCH_QUICK"));
    double secs = quick ? 3.0 : 20.0;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    char *sysfs = ipw_fake_sysfs_new();
    ipw_fake_rapl_standard(sysfs);

    struct target tg[2];
    memset(tg, 0, sizeof tg);
    int n = 0;
    struct ipw_test_monitor_proc mon;
    static const char *const metrics_on[] = {"--metrics-port", "0", NULL};
    if (ipw_test_monitor_proc_start(&mon, "rapl", 50, sysfs, metrics_on) != 0) {
        printf("energy-monitor --collector rapl did not start on the fake tree: "
               "skipped\n");
        ipw_test_rmtree(sysfs);
        free(sysfs);
        return 0;
    }
    open_target(&tg[n++], "energy-monitor (rapl, 50 ms; 1 s idle)", mon.pid, mon.metrics_port);
    const char *ne = node_exporter_path();
    pid_t ne_pid = -1;
    int ne_port = -1;
    if (ne && (ne_pid = start_node_exporter(ne, sysfs, &ne_port)) > 0)
        open_target(&tg[n++], "node_exporter (rapl only)", ne_pid, ne_port);
    else
        printf("node_exporter not found (install prometheus-node-exporter, or set "
               "IPW_NODE_EXPORTER): measuring energy-monitor alone\n");
    for (int i = 0; i < n; i++)
        if (!wait_up(&tg[i])) {
            printf("%s does not answer on %s: dropped\n", tg[i].name, tg[i].url);
            tg[i] = tg[--n];
        }
    usleep(1000 * 1000); /* warm up after the first scrape */
    printf("metrics endpoint: %.0f s per case (alternating windows), CPU of each "
           "whole process "
           "(all threads, background work included) divided by the scrapes "
           "served\n\n",
           secs);
    printf("| program | scrapes/s | body | CPU idle (no scrapes) | CPU per "
           "scrape, all "
           "included |\n|---|---|---|---|---|\n");
    double per_scrape[2][2] = {{0}};
    static const double rates[] = {10, 1};
    measure(tg, n, 0, secs);
    double idle_pct[2];
    for (int i = 0; i < n; i++)
        idle_pct[i] = 100.0 * (double)tg[i].cpu_ns / (double)tg[i].wall_ns;
    for (int k = 0; k < 2; k++) {
        measure(tg, n, rates[k], secs);
        for (int i = 0; i < n; i++) {
            per_scrape[i][k] = tg[i].scrapes ? (double)tg[i].cpu_ns / 1e6 / tg[i].scrapes : -1;
            printf("| %s | %.0f | %zu B | %.3f %% of a core | %.3f ms%s |\n", tg[i].name, rates[k],
                   tg[i].body_bytes, idle_pct[i], per_scrape[i][k],
                   tg[i].errors ? " (scrape errors)" : "");
        }
    }
    if (n == 2)
        for (int k = 0; k < 2; k++)
            printf("\nat %.0f scrapes/s: node_exporter %.3f ms / energy-monitor %.3f "
                   "ms = %.1fx "
                   "cheaper%s",
                   rates[k], per_scrape[1][k], per_scrape[0][k],
                   per_scrape[1][k] / per_scrape[0][k],
                   k == 0 ? " (goal >= 10x and < 0.12 ms)" : "");
    printf("\n");
    for (int i = 0; i < n; i++)
        curl_easy_cleanup(tg[i].curl);
    ipw_test_monitor_proc_stop(&mon);
    if (ne_pid > 0) {
        kill(ne_pid, SIGTERM);
        waitpid(ne_pid, NULL, 0);
    }
    curl_global_cleanup();
    ipw_test_rmtree(sysfs);
    free(sysfs);
    return 0;
}
