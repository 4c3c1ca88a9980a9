/* What telemetry costs the host: the null collector and RAPL (on a fake powercap tree) sampled
 * by the real sampler at 50 ms and 1 ms: CPU time per sample and per second of sampling, the
 * sampler's memory (ring bytes, RSS growth), and the cost of one sample call in a tight loop.
 * Prints figures only; IPW_BENCH_QUICK=1 runs each part briefly. */
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fake_sysfs.h"
#include "ipw/clock.h"
#include "ipw/collector.h"
#include "telemetry/collector_priv.h"
#include "ipw/sampler.h"
#include "ipw_test.h"

static int64_t cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * IPW_NS_PER_SEC + ts.tv_nsec;
}

static long rss_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    long size = 0, resident = 0;
    if (f) {
        if (fscanf(f, "%ld %ld", &size, &resident) != 2)
            resident = 0;
        fclose(f);
    }
    return resident * sysconf(_SC_PAGESIZE);
}

static void machine(void)
{
    char model[256] = "unknown CPU";
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (f) {
        char line[512];
        while (fgets(line, sizeof line, f)) {
            if (strncmp(line, "model name", 10) == 0) {
                char *colon = strchr(line, ':');
                if (colon) {
                    snprintf(model, sizeof model, "%s", colon + 2);
                    model[strcspn(model, "\n")] = '\0';
                }
                break;
            }
        }
        fclose(f);
    }
    struct utsname u;
    uname(&u);
    printf("machine: %s, %ld online CPUs, Linux %s\n", model, sysconf(_SC_NPROCESSORS_ONLN),
           u.release);
}

static struct ipw_collector *open_named(const char *name, const char *root)
{
    struct ipw_collector_config cfg;
    ipw_collector_config_init(&cfg);
    cfg.sysfs_root = root;
    struct ipw_collector *c;
    ipw_errbuf eb = {0};
    if (ipw_collector_open(name, &cfg, &c, &eb) != IPW_OK) {
        fprintf(stderr, "cannot open %s: %s\n", name, eb.msg);
        exit(1);
    }
    return c;
}

/* The sampler thread at interval for seconds; the main thread only sleeps. */
static void through_sampler(const char *name, const char *root, int64_t interval_ns,
                            double seconds)
{
    struct ipw_collector *c = open_named(name, root);
    long rss0 = rss_bytes();
    struct ipw_sampler_config cfg;
    ipw_sampler_config_init(&cfg);
    cfg.interval_ns = interval_ns;
    struct ipw_sampler *s;
    ipw_errbuf eb = {0};
    if (ipw_sampler_create(c, &cfg, &s, &eb) != IPW_OK) {
        fprintf(stderr, "sampler: %s\n", eb.msg);
        exit(1);
    }
    int64_t c0 = cpu_ns(), w0 = ipw_mono_ns();
    ipw_sampler_start(s, &eb);
    ipw_sleep_ns((int64_t)(seconds * 1e9));
    ipw_sampler_stop(s);
    int64_t c1 = cpu_ns(), w1 = ipw_mono_ns();
    long rss1 = rss_bytes();
    struct ipw_sampler_stats st;
    ipw_sampler_get_stats(s, &st);
    double cpu_s = (double)(c1 - c0) / 1e9, wall_s = (double)(w1 - w0) / 1e9;
    printf("| %-5s | %5.0f ms | %6.2f s | %7llu | %4llu | %8.2f | %8.3f | %6.3f%% | %6.2f MiB "
           "| %6.2f MiB |\n",
           name, (double)interval_ns / 1e6, wall_s, (unsigned long long)st.readings,
           (unsigned long long)st.missed_ticks, cpu_s * 1e6 / (double)st.readings,
           cpu_s * 1e3 / wall_s, cpu_s / wall_s * 100.0, st.memory_bytes / 1048576.0,
           (rss1 - rss0) / 1048576.0);
    ipw_sampler_destroy(s);
    ipw_collector_close(c);
}

/* One sample call in a tight loop: the whole step (backend, companion, /proc/meminfo), and the
 * backend alone. */
static void tight_loop(const char *name, const char *root, int n)
{
    struct ipw_collector *c = open_named(name, root);
    struct ipw_reading r;
    int64_t t0 = cpu_ns();
    for (int i = 0; i < n; i++)
        ipw_collector_sample(c, &r, NULL, NULL);
    int64_t t1 = cpu_ns();
    for (int i = 0; i < n; i++) {
        ipw_reading_clear(&r);
        c->ops->sample(c, &r, NULL, NULL);
    }
    int64_t t2 = cpu_ns();
    printf("| %-5s | %8.2f | %8.2f |\n", name, (double)(t1 - t0) / 1e3 / n,
           (double)(t2 - t1) / 1e3 / n);
    ipw_collector_close(c);
}

/* Why the counters stay open: pread on a kept descriptor against open+read+close each time. */
static void reopen_cost(const char *root, int n)
{
    static const char *const zones[] = {"intel-rapl:0", "intel-rapl:0:1", "intel-rapl:1",
                                        "intel-rapl:1:1", "intel-rapl:2"};
    enum { NZ = sizeof zones / sizeof zones[0] };
    char paths[NZ][1280];
    int fds[NZ];
    for (int z = 0; z < NZ; z++) {
        snprintf(paths[z], sizeof paths[z], "%s", ipw_fake_rapl_path(root, zones[z]));
        fds[z] = open(paths[z], O_RDONLY | O_CLOEXEC);
    }
    char buf[32];
    int64_t t0 = cpu_ns();
    for (int i = 0; i < n; i++)
        for (int z = 0; z < NZ; z++)
            if (pread(fds[z], buf, sizeof buf, 0) < 0)
                abort();
    int64_t t1 = cpu_ns();
    for (int i = 0; i < n; i++) {
        for (int z = 0; z < NZ; z++) {
            int fd = open(paths[z], O_RDONLY | O_CLOEXEC);
            if (fd < 0 || read(fd, buf, sizeof buf) < 0)
                abort();
            close(fd);
        }
    }
    int64_t t2 = cpu_ns();
    printf("reading %d counters per tick: pread on open files %.2f us, open+read+close %.2f us\n",
           NZ, (double)(t1 - t0) / 1e3 / n, (double)(t2 - t1) / 1e3 / n);
    for (int z = 0; z < NZ; z++)
        close(fds[z]);
}

int main(void)
{
    bool quick = getenv("IPW_BENCH_QUICK") && strcmp(getenv("IPW_BENCH_QUICK"), "0") != 0;
    double seconds = quick ? 0.3 : 10.0;
    int loops = quick ? 2000 : 100000;
    char *root = ipw_fake_sysfs_new();
    ipw_fake_rapl_standard(root);

    machine();
    printf("mode: %s (%.1f s per sampler run, %d calls per tight loop)\n\n",
           quick ? "quick" : "full", seconds, loops);
    printf("Through the sampler (process CPU time while only the sampler thread works):\n\n");
    printf("| collector | interval | wall | readings | missed | CPU us/sample | CPU ms/s | "
           "of one core | ring | RSS growth |\n");
    printf("|---|---|---|---|---|---|---|---|---|---|\n");
    static const char *const names[] = {"null", "rapl"};
    static const int64_t intervals[] = {50 * IPW_NS_PER_MS, 1 * IPW_NS_PER_MS};
    for (int i = 0; i < 2; i++) {
        for (int j = 0; j < 2; j++) {
            /* each run in a fresh process, so one run's freed ring cannot shape the next one's
             * RSS (glibc raises its mmap threshold after a large free) */
            fflush(stdout);
            pid_t pid = fork();
            if (pid == 0) {
                through_sampler(names[i], root, intervals[j], seconds);
                fflush(stdout);
                _exit(0);
            }
            int status;
            if (pid < 0 || waitpid(pid, &status, 0) != pid || status != 0) {
                fprintf(stderr, "sampler run failed\n");
                return 1;
            }
        }
    }

    printf("\nOne sample call, tight loop (CPU us per call):\n\n");
    printf("| collector | whole step | backend only |\n|---|---|---|\n");
    for (int i = 0; i < 2; i++)
        tight_loop(names[i], root, loops);
    printf("\n");
    reopen_cost(root, loops);
    ipw_test_rmtree(root);
    free(root);
    return 0;
}
