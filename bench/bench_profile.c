/* The profiler's own costs and accuracy:
 *  1. bookkeeping per query of the whole runner (snapshots, attribution, record assembly, the
 *     durable fsync'd append, the Arrow rewrite every 100 records) with the sim client at zero
 *     latency, so nothing but ipw's own work is timed;
 *  2. attribution error of boundary snapshots against the naive method of the original tool
 *     (last minus first periodic sample in the window) for 0.2 s, 1 s and 10 s queries sampled
 *     every 50 ms, on a power trace with prefill bursts and decode ripple whose integral is
 *     known exactly. Prints figures; asserts nothing. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <fcntl.h>
#include <unistd.h>

#include "ipw/attribution.h"
#include "ipw/clock.h"
#include "ipw/fsutil.h"
#include "ipw/profile.h"
#include "ipw_test.h"

static double cpu_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void bench_runner(int queries)
{
    char *dir = ipw_test_mkdtemp("ipw-bench-profile");
    json_t *cp = json_pack("{s:f, s:i}", "time_scale", 0.0, "max_tokens", 64);
    struct ipw_profile_config cfg;
    ipw_profile_config_init(&cfg);
    cfg.client_id = "sim";
    cfg.model = "llama-3.1-8b";
    cfg.client_params = cp;
    cfg.max_queries = queries;
    cfg.output_dir = dir;
    cfg.baseline_ns = 0;
    cfg.no_eval = true;
    struct ipw_profile_outcome out;
    ipw_errbuf eb = {0};
    /* the runner logs a line per query to stderr: keep the figures readable */
    fflush(stderr);
    int saved = dup(2), devnull = open("/dev/null", O_WRONLY);
    dup2(devnull, 2);
    double c0 = cpu_s();
    int64_t t0 = ipw_mono_ns();
    ipw_err rc = ipw_profile_run(&cfg, &out, &eb);
    dup2(saved, 2);
    close(saved);
    close(devnull);
    double wall = (double)(ipw_mono_ns() - t0) / 1e9, cpu = cpu_s() - c0;
    if (rc != IPW_OK) {
        printf("runner: failed: %s\n", eb.msg);
    } else {
        printf("runner, %zu queries (sim client, zero latency, 64 tokens each):\n",
               out.queries_done);
        printf("  wall %.1f us/query, CPU %.1f us/query (includes one fsync per record and the "
               "Arrow rewrite every 100)\n",
               wall * 1e6 / (double)out.queries_done, cpu * 1e6 / (double)out.queries_done);
    }
    json_decref(cp);
    ipw_test_rmtree(dir);
    free(dir);
}

/* A trace: 380 W prefill bursts of 80 ms every 0.6 s over a decode level of 250 W with a
 * 60 W ripple of period 0.17 s. The energy is the closed-form integral. */
static double trace_energy(double t)
{
    const double period = 0.6, burst = 0.08, two_pi = 6.283185307179586;
    double cycles = floor(t / period), into = t - cycles * period;
    double bursts = cycles * burst * (380 - 250) + (into < burst ? into : burst) * (380 - 250);
    double ripple = 60 * 0.17 / two_pi * (1 - cos(two_pi * t / 0.17));
    return 250 * t + bursts + ripple;
}

static void push(struct ipw_sampler *s, double t, uint8_t flags)
{
    struct ipw_reading r;
    ipw_reading_clear(&r);
    r.mono_ns = (int64_t)llround(t * 1e9);
    r.flags = flags;
    ipw_reading_set(&r, IPW_M_GPU_ENERGY_J, trace_energy(t));
    ipw_sampler_push(s, &r, NULL, NULL);
}

static void bench_attribution(int trials)
{
    printf("attribution error at 50 ms sampling (%d queries per length, random phase):\n", trials);
    printf("  %-8s %-22s %-22s %-18s\n", "query", "naive mean |err| / max", "snapshots mean / max",
           "naive misses (J)");
    double lengths[] = {0.2, 1.0, 10.0};
    uint64_t x = 88172645463325252ull;
    for (int li = 0; li < 3; li++) {
        double L = lengths[li], nsum = 0, nmax = 0, ssum = 0, smax = 0, jsum = 0;
        for (int k = 0; k < trials; k++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            double t0 = 1.0 + (double)(x % 1000000) / 1e6 * 0.6; /* anywhere in a burst cycle */
            double t1 = t0 + L;
            struct ipw_sampler_config sc;
            ipw_sampler_config_init(&sc);
            sc.capacity = (size_t)(L / 0.05) + 64;
            struct ipw_sampler *s;
            ipw_sampler_create_push(0, &sc, &s, NULL);
            for (double t = floor(t0 / 0.05) * 0.05 - 0.1; t <= t1 + 0.1; t += 0.05) {
                if (t0 > t - 0.05 && t0 < t)
                    push(s, t0, IPW_READING_SNAPSHOT);
                if (t1 > t - 0.05 && t1 < t)
                    push(s, t1, IPW_READING_SNAPSHOT);
                push(s, t, 0);
            }
            struct ipw_energy_sources src = {.n = 1};
            src.s[0] = s;
            src.main_domain[0] = IPW_DOMAIN_GPU;
            int64_t n0 = (int64_t)llround(t0 * 1e9), n1 = (int64_t)llround(t1 * 1e9);
            double truth = trace_energy((double)n1 / 1e9) - trace_energy((double)n0 / 1e9);
            struct ipw_energy e;
            double naive = 0;
            ipw_attr_energy(&src, n0, n1, &e, NULL);
            ipw_attr_naive_energy(s, IPW_DOMAIN_GPU, n0, n1, &naive, NULL);
            double en = fabs(naive - truth) / truth, es = fabs(e.joules[0] - truth) / truth;
            nsum += en, ssum += es, jsum += truth - naive;
            nmax = en > nmax ? en : nmax;
            smax = es > smax ? es : smax;
            ipw_sampler_destroy(s);
        }
        printf("  %-8.1f %8.2f %% / %6.2f %%    %8.1e %% / %6.1e %%  %8.2f\n", L,
               100 * nsum / trials, 100 * nmax, 100 * ssum / trials, 100 * smax, jsum / trials);
    }
}

int main(void)
{
    bool quick = getenv("IPW_BENCH_QUICK") != NULL;
    bench_runner(quick ? 100 : 2000);
    bench_attribution(quick ? 200 : 5000);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("peak RSS %.1f MiB\n", (double)ru.ru_maxrss / 1024);
    return 0;
}
