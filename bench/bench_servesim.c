/* Speed of ipw simulate (the LLMServingSim re-implementation): the 300-request ShareGPT trace
 * on the bundled single-instance config (the original takes minutes of wall time for it), then
 * the same trace replicated with shifted arrivals up to 1,000,000 requests, fed through a pipe
 * so that nothing is materialised on disk and memory follows the requests in flight.
 * Prints requests/s, simulated seconds per wall second and peak RSS; never fails on a time.
 * IPW_BENCH_QUICK=1: 20,000 replicated requests instead of 1,000,000. */
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ipw/servesim.h"

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* CPU seconds of the calling thread: the simulator's own, without the feeder thread's */
static double thread_cpu_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static char trace_path[1024];

struct feed {
    const char *fifo;
    long replicas;
    long long shift_ns;
};

/* Writes the trace `replicas` times into the pipe, arrivals shifted by k * shift_ns. */
static void *feeder(void *arg)
{
    struct feed *fd = arg;
    FILE *in = fopen(trace_path, "r"), *out = fopen(fd->fifo, "w");
    if (!in || !out) {
        if (in)
            fclose(in);
        if (out)
            fclose(out);
        return NULL;
    }
    /* 1 MiB writes: with stdio's default 4 KiB buffer the 8.5 GB of a million requests cost
     * two million write(2)s, most of the benchmark's system time */
    setvbuf(out, NULL, _IOFBF, 1 << 20);
    char *line = NULL;
    size_t cap = 0;
    const char *key = "\"arrival_time_ns\":";
    for (long k = 0; k < fd->replicas; k++) {
        rewind(in);
        ssize_t n;
        while ((n = getline(&line, &cap, in)) > 0) {
            char *a = strstr(line, key);
            if (!a)
                continue;
            a += strlen(key);
            while (*a == ' ')
                a++;
            char *end;
            long long t = strtoll(a, &end, 10) + k * fd->shift_ns;
            fwrite(line, 1, (size_t)(a - line), out);
            fprintf(out, "%lld", t);
            fputs(end, out);
            if (ferror(out))
                goto done; /* the reader stopped (enough requests) */
        }
    }
done:
    free(line);
    fclose(in);
    fclose(out);
    return NULL;
}

static int run(const char *dataset, long num_reqs, const char *label, double *wall,
               struct ipw_ss_result *res)
{
    struct ipw_ss_options o;
    ipw_ss_options_init(&o);
    o.cluster_config = "single_node_single_instance.json";
    o.dataset = dataset;
    o.num_reqs = num_reqs;
    struct ipw_ss_sim *sim;
    ipw_errbuf eb = {0};
    double t0 = now_s();
    if (ipw_ss_load(&o, &sim, &eb) || ipw_ss_run(sim, NULL, res, &eb)) {
        fprintf(stderr, "%s: %s\n", label, eb.msg);
        return 1;
    }
    *wall = now_s() - t0;
    ipw_ss_free(sim);
    return 0;
}

int main(void)
{
    const char *src = getenv("IPW_TEST_SOURCE_DIR");
    snprintf(trace_path, sizeof trace_path, "%s/data/sim/workloads/sharegpt-llama-3.1-8b-300-sps10.jsonl",
             src ? src : ".");
    signal(SIGPIPE, SIG_IGN);
    bool quick = getenv("IPW_BENCH_QUICK") && atoi(getenv("IPW_BENCH_QUICK"));

    /* 1. the 300-request trace, best of 5 (load + run, no output) */
    double best = 1e9, sim_s = 0;
    for (int i = 0; i < 5; i++) {
        struct ipw_ss_result res;
        double w;
        if (run(trace_path, 0, "sharegpt-300", &w, &res))
            return 1;
        sim_s = (double)res.total_clock_ns / 1e9;
        ipw_ss_result_free(&res);
        if (w < best)
            best = w;
    }
    printf("servesim sharegpt-300: %.4f s wall (best of 5, load included), %.0f requests/s, "
           "%.0f simulated s per wall s (%.2f s simulated)\n",
           best, 300 / best, sim_s / best, sim_s);

    /* 2. replicated with shifted arrivals, through a pipe */
    long total = quick ? 20000 : 1000000;
    long replicas = (total + 299) / 300;
    char fifo[] = "/tmp/ipw-bench-servesim-XXXXXX";
    if (!mkdtemp(fifo))
        return 1;
    char path[64];
    snprintf(path, sizeof path, "%s/trace", fifo);
    if (mkfifo(path, 0600))
        return 1;
    /* 65 s apart: one replica's makespan, so the load stays what the trace asks for */
    struct feed fd = {path, replicas, 65000000000LL};
    pthread_t th;
    pthread_create(&th, NULL, feeder, &fd);
    struct ipw_ss_result res;
    double w, cpu0 = thread_cpu_s();
    int rc = run(path, total, "replicated", &w, &res);
    double sim_cpu = thread_cpu_s() - cpu0;
    pthread_join(th, NULL);
    unlink(path);
    rmdir(fifo);
    if (rc)
        return 1;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double proc_cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
                      (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
    printf("servesim replicated: %lld requests, %.1f s wall, %.0f requests/s, %.0f simulated s "
           "per wall s (%.0f s simulated), peak RSS %.1f MB\n",
           (long long)res.requests, w, (double)res.requests / w,
           (double)res.total_clock_ns / 1e9 / w, (double)res.total_clock_ns / 1e9,
           (double)ru.ru_maxrss / 1024.0);
    /* on a shared machine the wall time follows the load; the CPU time is the steadier figure */
    printf("servesim replicated CPU: simulator thread %.1f s (%.0f requests per CPU s), whole "
           "process with the feeder %.1f s (user + sys)\n",
           sim_cpu, (double)res.requests / sim_cpu, proc_cpu);
    ipw_ss_result_free(&res);
    return 0;
}
