/* Benchmark of the energy-monitor program: CPU (% of one core, from the kernel's per-thread
 * run time), resident memory and readings delivered per second while streaming to 0, 1, 16 and
 * 64 clients at 50 ms and to one client at 1 ms; with the null collector, and with the RAPL
 * collector on a fake powercap tree when this build has one. Clients are threads of this
 * process using ipw's gRPC client; only the monitor process is measured. Each is also stated
 * as a multiple of the floor (a bare process that wakes every 50 ms and sends one message),
 * measured in the same run. Prints figures, never fails on them. IPW_BENCH_QUICK=1 measures 2 s per case instead of 10. */
#include <errno.h>
#include <poll.h>
#include <sys/socket.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "grpc/client.h"
#include "grpc/net.h"
#include "ipw/clock.h"
#include "ipw_test.h"
#include "proc_usage.h"
#include "proto/energy.pb-c.h"

struct client {
    pthread_t th;
    char target[64];
    uint32_t interval_ms;
    _Atomic uint64_t received;
    atomic_bool stop, failed;
    struct ipw_grpc_client *c;
};

static void *client_main(void *arg)
{
    struct client *cl = arg;
    ipw_errbuf eb = {0};
    if (ipw_grpc_client_connect(cl->target, 3 * IPW_NS_PER_SEC, &cl->c, &eb) != IPW_OK) {
        fprintf(stderr, "bench client: %s\n", eb.msg);
        cl->failed = true;
        return NULL;
    }
    Energy__StreamRequest rq = ENERGY__STREAM_REQUEST__INIT;
    rq.interval_ms = cl->interval_ms;
    uint8_t buf[16];
    size_t len = energy__stream_request__pack(&rq, buf);
    struct ipw_grpc_stream *st;
    if (ipw_grpc_client_stream(cl->c, "/energy.EnergyMonitor/StreamTelemetry", buf, len, 0, &st,
                               &eb) != IPW_OK) {
        cl->failed = true;
        return NULL;
    }
    while (!atomic_load(&cl->stop)) {
        const uint8_t *msg;
        size_t n;
        ipw_err e = ipw_grpc_stream_next(st, &msg, &n, 500 * IPW_NS_PER_MS, &eb);
        if (e == IPW_E_TIMEOUT)
            continue;
        if (e != IPW_OK || !msg)
            break;
        cl->received++;
    }
    ipw_grpc_stream_close(st);
    return NULL;
}

static double run_case(const char *collector, const char *sysfs, int nclients, int interval_ms,
                     double seconds)
{
    struct ipw_test_monitor_proc m;
    static const char *const no_metrics[] = {"--metrics-port", "-1", NULL};
    if (ipw_test_monitor_proc_start(&m, collector, interval_ms, sysfs, no_metrics) != 0) {
        printf("| %-6s | %7d | %6d ms | (collector %s unavailable in this build: skipped) |\n",
               collector, nclients, interval_ms, collector);
        return -1;
    }
    struct client *cl = calloc((size_t)(nclients ? nclients : 1), sizeof *cl);
    for (int i = 0; i < nclients; i++) {
        snprintf(cl[i].target, sizeof cl[i].target, "127.0.0.1:%d", m.grpc_port);
        pthread_create(&cl[i].th, NULL, client_main, &cl[i]);
    }
    usleep(1000 * 1000); /* warm up: connections, first messages, ring buffers filled */
    uint64_t r0 = 0;
    for (int i = 0; i < nclients; i++)
        r0 += cl[i].received;
    int64_t c0 = ipw_test_proc_cpu_ns(m.pid), t0 = ipw_mono_ns();
    usleep((useconds_t)(seconds * 1e6));
    int64_t c1 = ipw_test_proc_cpu_ns(m.pid), t1 = ipw_mono_ns();
    uint64_t r1 = 0;
    int failed = 0;
    for (int i = 0; i < nclients; i++) {
        r1 += cl[i].received;
        failed += cl[i].failed;
    }
    long rss = ipw_test_proc_status_kib(m.pid, "VmRSS"),
         hwm = ipw_test_proc_status_kib(m.pid, "VmHWM");
    for (int i = 0; i < nclients; i++)
        cl[i].stop = true;
    for (int i = 0; i < nclients; i++) {
        pthread_join(cl[i].th, NULL);
        ipw_grpc_client_close(cl[i].c);
    }
    ipw_test_monitor_proc_stop(&m);
    double wall = (double)(t1 - t0) / 1e9;
    double cpu_pct = 100.0 * (double)(c1 - c0) / (double)(t1 - t0);
    printf("| %-6s | %7d | %6d ms | %8.3f %% | %7ld KiB | %7ld KiB | %9.1f | %s\n", collector,
           nclients, interval_ms, cpu_pct, rss, hwm, (double)(r1 - r0) / wall,
           failed ? "(client errors)" : "|");
    fflush(stdout);
    free(cl);
    return cpu_pct;
}

/* The floor: a process that only wakes every period (ppoll) and writes a 260-byte message
 * (the size of a null-collector reading) to a reader over loopback TCP. No monitor can use
 * less than this; the difference is the monitor's own work. */
static void *drain_socket(void *arg)
{
    int fd = *(int *)arg;
    char buf[4096];
    while (recv(fd, buf, sizeof buf, 0) > 0)
        ;
    return NULL;
}

static double run_floor(int interval_ms, double seconds)
{
    int lfd, port;
    if (ipw_net_listen_tcp("127.0.0.1", 0, &lfd, &port, NULL) != IPW_OK)
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        char target[32];
        snprintf(target, sizeof target, "127.0.0.1:%d", port);
        int fd;
        if (ipw_net_connect(target, 2000, &fd, NULL) != IPW_OK)
            _exit(1);
        char msg[260] = {0};
        struct timespec ts = {0, interval_ms * 1000000L};
        for (;;) {
            ppoll(NULL, 0, &ts, NULL);
            if (send(fd, msg, sizeof msg, MSG_NOSIGNAL) < 0 && errno != EAGAIN)
                _exit(0);
        }
    }
    int fd = -1;
    struct pollfd p = {.fd = lfd, .events = POLLIN};
    if (poll(&p, 1, 3000) == 1)
        fd = accept(lfd, NULL, NULL);
    pthread_t th;
    if (fd >= 0)
        pthread_create(&th, NULL, drain_socket, &fd);
    usleep(500 * 1000);
    int64_t c0 = ipw_test_proc_cpu_ns(pid), t0 = ipw_mono_ns();
    usleep((useconds_t)(seconds * 1e6));
    int64_t c1 = ipw_test_proc_cpu_ns(pid), t1 = ipw_mono_ns();
    long rss = ipw_test_proc_status_kib(pid, "VmRSS");
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    if (fd >= 0) {
        shutdown(fd, SHUT_RDWR);
        pthread_join(th, NULL);
        close(fd);
    }
    close(lfd);
    double pct = 100.0 * (double)(c1 - c0) / (double)(t1 - t0);
    printf("| floor  |       1 | %6d ms | %8.3f %% | %7ld KiB |           - | %9.1f | wake + send 260 B, nothing else\n",
           interval_ms, pct, rss, 1000.0 / interval_ms);
    return pct;
}

/* The monitor's cost as a multiple of the floor measured in the same run. */
static void print_ratio(const char *what, double pct, double floor_pct, double goal)
{
    if (pct < 0 || floor_pct <= 0) {
        printf("%s: not measured\n", what);
        return;
    }
    printf("%s: %.3f %% / floor %.3f %% = %.2fx the floor (goal <= %.1fx: %s)\n", what, pct,
           floor_pct, pct / floor_pct, goal, pct / floor_pct <= goal ? "met" : "NOT met");
}

/* A powercap tree in the layout the kernel uses: one package with core and dram sub-zones. */
static char *fake_rapl_tree(void)
{
    char *root = ipw_test_mkdtemp("ipw-bench-sysfs");
    static const struct {
        const char *zone, *name;
    } z[] = {{"intel-rapl:0", "package-0"},
             {"intel-rapl:0/intel-rapl:0:0", "core"},
             {"intel-rapl:0/intel-rapl:0:1", "dram"}};
    for (size_t i = 0; i < sizeof z / sizeof z[0]; i++) {
        char rel[256];
        snprintf(rel, sizeof rel, "class/powercap/%s/name", z[i].zone);
        char text[64];
        snprintf(text, sizeof text, "%s\n", z[i].name);
        ipw_test_write(root, rel, text);
        snprintf(rel, sizeof rel, "class/powercap/%s/energy_uj", z[i].zone);
        ipw_test_write(root, rel, "123456789\n");
        snprintf(rel, sizeof rel, "class/powercap/%s/max_energy_range_uj", z[i].zone);
        ipw_test_write(root, rel, "262143328850\n");
        snprintf(rel, sizeof rel, "class/powercap/%s/enabled", z[i].zone);
        ipw_test_write(root, rel, "1\n");
    }
    return root;
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    bool quick = getenv("IPW_BENCH_QUICK") && atoi(getenv("IPW_BENCH_QUICK"));
    double secs = quick ? 2.0 : 10.0;
    printf("energy monitor: %.0f s per case, CPU = %% of one core used by the monitor process\n\n",
           secs);
    printf("| collector | clients | period | CPU | RSS | peak RSS | readings/s delivered |\n");
    printf("|---|---|---|---|---|---|---|\n");
    double floor_pct = run_floor(50, secs);
    run_case("null", NULL, 0, 50, secs);
    double one = run_case("null", NULL, 1, 50, secs);
    run_case("null", NULL, 16, 50, secs);
    double many = run_case("null", NULL, 64, 50, secs);
    run_case("null", NULL, 1, 1, secs);
    char *sysfs = fake_rapl_tree();
    run_case("rapl", sysfs, 1, 50, secs);
    run_case("rapl", sysfs, 64, 50, secs);
    run_case("rapl", sysfs, 1, 1, secs);
    ipw_test_rmtree(sysfs);
    free(sysfs);
    printf("\n");
    print_ratio("null collector, 1 client at 50 ms", one, floor_pct, 1.5);
    print_ratio("null collector, 64 clients at 50 ms", many, floor_pct, 10.0);
    return 0;
}
