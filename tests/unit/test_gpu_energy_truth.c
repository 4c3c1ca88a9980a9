/* Energy ground truth through the whole path: fake library -> collector -> sampler ->
 * ipw_sampler_energy_between, against the analytic integral of the scripted waveform (GPU 0:
 * 100 W for 1 s then 300 W; GPU 1: 60 W for 0.5 s then 250 W; summed).
 *
 * Tolerances, and why:
 *  - counter, arbitrary boundaries: the counter is exact, so the only error is interpolating
 *    the cumulative energy linearly between the two readings around a boundary. Where a power
 *    step lies between them the error is at most |dP|·(k-a)(b-k)/(b-a) <= |dP|·(b-a)/4. Every
 *    window is checked against that bound, and against 0.5 % wherever the bound is below 0.5 %:
 *    any window whose ends are not within a tick of a power step, or that is long enough for
 *    |dP|·h/4 per end to be under 0.5 % of it. A short window with both ends within a tick of
 *    a step (the fourth below) can exceed 0.5 % by the nature of interpolation.
 *  - counter, snapshot boundaries: exact up to counter quantization (1 mJ NVML, 15.3 µJ ROCm)
 *    and the time between a reading's timestamp and the library call, which is measured.
 *  - integrated: a trapezoid over sampled power is exact where power is constant; a step of
 *    |dP| between two readings a gap g apart costs at most |dP|·g/2. The bound used is |dP|·g
 *    per step (twice that, for the few µs between timestamp and read), from the actual
 *    reading times, plus the boundary interpolation above. */
#include "ipw_test.h"

#include <stdlib.h>
#include <string.h>

#include "gpu_test_util.h"
#include "ipw/clock.h"
#include "ipw/sampler.h"
#include "telemetry/collector_priv.h"

#define NVML_ENV "IPW_FAKE_NVML_CONFIG"
#define ROCM_ENV "IPW_FAKE_ROCM_CONFIG"
#define MS IPW_NS_PER_MS

struct run;
static struct run *running; /* stopped by teardown if a failed test left it going */
static void stop(struct run *run);

static int teardown(void **state)
{
    (void)state;
    if (running)
        stop(running);
    gpu_script_cleanup();
    unsetenv(NVML_ENV);
    unsetenv(ROCM_ENV);
    return 0;
}

struct run {
    struct fake_config fc;
    struct ipw_collector *c;
    struct ipw_sampler *s;
    int64_t skew_ns; /* bound on timestamp-to-library-call delay */
    double quant_j;  /* counter quantization per reading, all GPUs */
    bool integrated;
};

static int64_t at(const struct run *run, double secs)
{
    return run->fc.epoch_ns + (int64_t)(secs * 1e9);
}

static void start(struct run *run, const char *collector, const char *env, char vendor,
                  const char *extra, int64_t interval_ns)
{
    /* the waveform starts a little after the sampler does, so every window lies inside the
     * buffer even on a slow machine (valgrind); before it, each GPU holds its first level */
    int64_t epoch = ipw_mono_ns() + 300 * MS;
    gpu_script(env, vendor, &run->fc,
               "epoch_ns = %lld\ndevices = 2\ndev0.power = 100:1,300:2\n"
               "dev1.power = 60:0.5,250:2\n%s",
               (long long)epoch, extra);
    ipw_errbuf eb = {0};
    const char *nv =
        strcmp(collector, "nvidia") == 0 ? gpu_fake_lib("nvml/libnvidia-ml.so.1") : NULL;
    const char *ro = strcmp(collector, "amd") == 0 ? gpu_fake_lib("rocm/librocm_smi64.so") : NULL;
    if (gpu_open(collector, nv, ro, NULL, &run->c, &eb) != IPW_OK)
        fail_msg("open: %s", eb.msg);
    struct ipw_sampler_config sc;
    ipw_sampler_config_init(&sc);
    sc.interval_ns = interval_ns;
    assert_int_equal(ipw_sampler_create(run->c, &sc, &run->s, &eb), IPW_OK);
    assert_int_equal(ipw_sampler_start(run->s, &eb), IPW_OK);
    running = run;
    /* how long a reading takes from its timestamp to the library's answer */
    int64_t worst = 0;
    for (int i = 0; i < 5; i++) {
        struct ipw_reading r;
        assert_int_equal(ipw_sampler_snapshot(run->s, &r, &eb), IPW_OK);
        int64_t d = ipw_mono_ns() - r.mono_ns;
        worst = d > worst ? d : worst;
    }
    run->skew_ns = 3 * worst + 100000;
}

static void stop(struct run *run)
{
    running = NULL;
    ipw_sampler_stop(run->s);
    ipw_sampler_destroy(run->s);
    gpu_close(run->c);
}

/* The readings with valid GPU energy immediately at-or-before and at-or-after t. */
static void bracket(struct run *run, int64_t t, int64_t *a, int64_t *b)
{
    struct ipw_reading *w;
    size_t n;
    ipw_errbuf eb = {0};
    assert_int_equal(ipw_sampler_window(run->s, t - 2000 * MS, t + 2000 * MS, &w, &n, &eb), IPW_OK);
    *a = INT64_MIN;
    *b = INT64_MAX;
    for (size_t i = 0; i < n; i++) {
        if (!ipw_reading_has(&w[i], IPW_M_GPU_ENERGY_J))
            continue;
        if (w[i].mono_ns <= t && w[i].mono_ns > *a)
            *a = w[i].mono_ns;
        if (w[i].mono_ns >= t && w[i].mono_ns < *b)
            *b = w[i].mono_ns;
    }
    free(w);
    assert_true(*a != INT64_MIN && *b != INT64_MAX);
}

/* Sum of |dP| over the power steps of every GPU within [lo, hi], weighted by weight(k). */
static double steps_in(const struct run *run, int64_t lo, int64_t hi, double scale_s)
{
    double sum = 0;
    for (unsigned d = 0; d < run->fc.ndev; d++) {
        const struct wave *wv = &run->fc.dev[d].wave;
        for (unsigned j = 1; j < wv->n; j++) {
            int64_t k = run->fc.epoch_ns + (int64_t)(wv->start_s[j] * 1e9);
            if (k >= lo - run->skew_ns && k <= hi + run->skew_ns)
                sum += fabs(wv->watts[j] - wv->watts[j - 1]) * scale_s;
        }
    }
    return sum;
}

/* Interpolation error bound at one boundary. */
static double boundary_bound(struct run *run, int64_t t)
{
    int64_t a, b;
    bracket(run, t, &a, &b);
    if (a == b)
        return 0;
    return steps_in(run, a, b, (double)(b - a) / 1e9 / 4);
}

/* Integration error bound over [t0, t1]: every step inside, by the gap around it. */
static double integration_bound(struct run *run, int64_t t0, int64_t t1)
{
    double sum = 0;
    for (unsigned d = 0; d < run->fc.ndev; d++) {
        const struct wave *wv = &run->fc.dev[d].wave;
        for (unsigned j = 1; j < wv->n; j++) {
            int64_t k = run->fc.epoch_ns + (int64_t)(wv->start_s[j] * 1e9);
            int64_t a, b;
            if (k < t0 - 200 * MS || k > t1 + 200 * MS)
                continue;
            bracket(run, k, &a, &b);
            sum += fabs(wv->watts[j] - wv->watts[j - 1]) * (double)(b - a) / 1e9;
        }
    }
    return sum;
}

static void check_window(struct run *run, double s0, double s1)
{
    int64_t t0 = at(run, s0), t1 = at(run, s1);
    struct ipw_energy e;
    ipw_errbuf eb = {0};
    assert_int_equal(ipw_sampler_energy_between(run->s, t0, t1, &e, &eb), IPW_OK);
    assert_true(e.valid & (1u << IPW_DOMAIN_GPU));
    assert_int_equal(e.source[IPW_DOMAIN_GPU],
                     run->integrated ? IPW_ENERGY_INTEGRATED : IPW_ENERGY_COUNTER);
    double got = e.joules[IPW_DOMAIN_GPU];
    double truth = gpu_truth_energy(&run->fc, run->fc.ndev, t0, t1);
    double pmax = 300 + 250;
    double bound = boundary_bound(run, t0) + boundary_bound(run, t1) + 2 * run->quant_j +
                   pmax * (double)run->skew_ns / 1e9 * 2;
    if (run->integrated)
        bound += integration_bound(run, t0, t1);
    double err = got - truth;
    print_message("  [%.3f, %.3f] s: measured %.4f J, truth %.4f J, error %+.4f J (%.3f %%), "
                  "bound %.4f J\n",
                  s0, s1, got, truth, err, 100 * err / truth, bound);
    if (fabs(err) > bound)
        fail_msg("error %.4f J exceeds the bound %.4f J over [%.3f, %.3f] s", err, bound, s0, s1);
    /* 0.5 % is promised wherever the readings are dense enough for interpolation to allow it;
     * a short window whose ends sit within a tick of a power step can exceed it by design,
     * and is held to the bound alone */
    if (!run->integrated && bound <= 0.005 * truth && fabs(err) > 0.005 * truth)
        fail_msg("error %.3f %% exceeds 0.5 %% over [%.3f, %.3f] s", 100 * err / truth, s0, s1);
}

static void check_snapshots(struct run *run, double s0, double s1)
{
    struct ipw_reading r0, r1;
    ipw_errbuf eb = {0};
    ipw_sleep_until_ns(at(run, s0));
    assert_int_equal(ipw_sampler_snapshot(run->s, &r0, &eb), IPW_OK);
    int64_t after0 = ipw_mono_ns();
    ipw_sleep_until_ns(at(run, s1));
    assert_int_equal(ipw_sampler_snapshot(run->s, &r1, &eb), IPW_OK);
    int64_t after1 = ipw_mono_ns();
    struct ipw_energy e;
    assert_int_equal(ipw_sampler_energy_between(run->s, r0.mono_ns, r1.mono_ns, &e, &eb), IPW_OK);
    assert_true(e.exact[IPW_DOMAIN_GPU]);
    /* the library answered somewhere in [timestamp, after] at each end; integration adds its
     * own error at the steps in between */
    double slack = 2 * run->quant_j;
    if (run->integrated)
        slack += integration_bound(run, r0.mono_ns, r1.mono_ns);
    double lo = gpu_truth_energy(&run->fc, 2, after0, r1.mono_ns) - slack;
    double hi = gpu_truth_energy(&run->fc, 2, r0.mono_ns, after1) + slack;
    double got = e.joules[IPW_DOMAIN_GPU];
    print_message("  snapshots %.3f..%.3f s: measured %.6f J, truth in [%.6f, %.6f] J\n",
                  gpu_secs(&run->fc, r0.mono_ns), gpu_secs(&run->fc, r1.mono_ns), got, lo, hi);
    if (got < lo || got > hi)
        fail_msg("snapshot energy %.6f J outside [%.6f, %.6f]", got, lo, hi);
}

static const double windows[][2] = {
    {0.123, 2.987}, /* long, both ends in flat stretches */
    {0.987, 2.900}, /* starts 13 ms before GPU 0's step */
    {0.450, 1.550}, /* both steps inside */
    {0.503, 1.004}, /* ends just after each step */
    {1.234, 2.345}, /* after every step */
};

static void run_checks(struct run *run)
{
    check_snapshots(run, 0.7, 2.3);
    ipw_errbuf eb = {0};
    assert_int_equal(ipw_sampler_wait_until(run->s, at(run, 3.05), 5000 * MS, &eb), IPW_OK);
    for (size_t i = 0; i < sizeof windows / sizeof windows[0]; i++)
        check_window(run, windows[i][0], windows[i][1]);
}

static void test_nvml_counter_truth(void **state)
{
    (void)state;
    static struct run run; /* static: teardown may stop it after a failed check */
    run = (struct run){.quant_j = 2 * 0.001};
    start(&run, "nvidia", NVML_ENV, 'n', "", 50 * MS);
    run_checks(&run);
    stop(&run);
}

static void test_nvml_integrated_truth(void **state)
{
    (void)state;
    static struct run run;
    run = (struct run){.quant_j = 2 * 0.001, .integrated = true};
    start(&run, "nvidia", NVML_ENV, 'n', "dev0.energy = off\ndev1.energy = off\n", 10 * MS);
    assert_non_null(strstr(run.c->info.notes, "energy integrated from power on GPU 0,1"));
    run_checks(&run);
    stop(&run);
}

static void test_rocm_counter_truth(void **state)
{
    (void)state;
    static struct run run;
    run = (struct run){.quant_j = 2 * 15.3e-6};
    start(&run, "amd", ROCM_ENV, 'a', "", 50 * MS);
    run_checks(&run);
    stop(&run);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_nvml_counter_truth, teardown),
        cmocka_unit_test_teardown(test_nvml_integrated_truth, teardown),
        cmocka_unit_test_teardown(test_rocm_counter_truth, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
