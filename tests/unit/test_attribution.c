/* Attribution rules on push-fed samplers with a known power waveform, so every expectation is
 * an exact number: multi-source sums, the equal-share concurrency rule (shares add up to the
 * device energy), window statistics, boundary snapshots vs the naive first/last method. */
#include "ipw_test.h"

#include <stdlib.h>
#include <string.h>

#include "ipw/attribution.h"
#include "ipw/clock.h"

#define MS IPW_NS_PER_MS

/* Power: 100 W before t = 1 s, 300 W after. Energy is its exact integral. */
static double power_at(int64_t t) { return t < IPW_NS_PER_SEC ? 100.0 : 300.0; }
static double energy_at(int64_t t)
{
    double s = (double)t / 1e9;
    return s <= 1.0 ? 100.0 * s : 100.0 + 300.0 * (s - 1.0);
}

static void push_at(struct ipw_sampler *s, int64_t t, double scale, uint8_t flags)
{
    struct ipw_reading r;
    ipw_reading_clear(&r);
    r.mono_ns = t;
    r.flags = flags;
    ipw_reading_set(&r, IPW_M_GPU_POWER_W, scale * power_at(t));
    ipw_reading_set(&r, IPW_M_GPU_ENERGY_J, scale * energy_at(t));
    ipw_reading_set(&r, IPW_M_CPU_POWER_W, 10.0);
    ipw_reading_set(&r, IPW_M_CPU_ENERGY_J, 10.0 * (double)t / 1e9);
    ipw_reading_set(&r, IPW_M_CPU_MEM_USED_MB, 1000.0 + (double)(t / MS));
    ipw_reading_set(&r, IPW_M_TEMPERATURE_C, 50.0);
    assert_int_equal(ipw_sampler_push(s, &r, NULL, NULL), IPW_OK);
}

/* Periodic readings every `period` over [0, until], plus snapshot readings at `snaps`. */
static struct ipw_sampler *make_source(int64_t period, int64_t until, const int64_t *snaps,
                                       size_t nsnaps, double scale)
{
    struct ipw_sampler *s;
    assert_int_equal(ipw_sampler_create_push(0, NULL, &s, NULL), IPW_OK);
    size_t k = 0;
    for (int64_t t = 0; t <= until; t += period) {
        while (k < nsnaps && snaps[k] < t)
            push_at(s, snaps[k++], scale, IPW_READING_SNAPSHOT);
        if (k < nsnaps && snaps[k] == t)
            k++;
        push_at(s, t, scale, 0);
    }
    while (k < nsnaps)
        push_at(s, snaps[k++], scale, IPW_READING_SNAPSHOT);
    return s;
}

static void test_sum_over_sources(void **state)
{
    (void)state;
    struct ipw_energy_sources src = {.n = 2};
    src.s[0] = make_source(50 * MS, 3 * IPW_NS_PER_SEC, NULL, 0, 1.0);
    src.s[1] = make_source(50 * MS, 3 * IPW_NS_PER_SEC, NULL, 0, 2.0);
    struct ipw_energy e;
    assert_int_equal(ipw_attr_energy(&src, 500 * MS, 1500 * MS, &e, NULL), IPW_OK);
    /* 0.5 s at 100 W + 0.5 s at 300 W = 200 J on node 1, twice that on node 2 */
    assert_double_equal(e.joules[IPW_DOMAIN_GPU], 600.0, 1e-9);
    assert_double_equal(e.joules[IPW_DOMAIN_CPU], 20.0, 1e-9);
    assert_true(e.valid & (1u << IPW_DOMAIN_GPU));
    assert_false(e.valid & (1u << IPW_DOMAIN_DRAM));
    ipw_sampler_destroy(src.s[0]);
    ipw_sampler_destroy(src.s[1]);
}

static void test_shared_energy_adds_up(void **state)
{
    (void)state;
    /* q1 [0.2, 1.4] s, q2 [0.6, 2.0] s, q3 [1.1, 1.3] s: overlapping in every way */
    int64_t b[][2] = {{200 * MS, 1400 * MS}, {600 * MS, 2000 * MS}, {1100 * MS, 1300 * MS}};
    int64_t snaps[6];
    for (int i = 0; i < 3; i++) {
        snaps[2 * i] = b[i][0] + 7 * MS; /* off the periodic grid, like real snapshots */
        snaps[2 * i + 1] = b[i][1] + 7 * MS;
    }
    int64_t sorted[6];
    memcpy(sorted, snaps, sizeof sorted);
    for (int i = 0; i < 6; i++)
        for (int j = i + 1; j < 6; j++)
            if (sorted[j] < sorted[i]) {
                int64_t x = sorted[i];
                sorted[i] = sorted[j];
                sorted[j] = x;
            }
    struct ipw_energy_sources src = {.n = 1};
    src.s[0] = make_source(50 * MS, 3 * IPW_NS_PER_SEC, sorted, 6, 1.0);
    struct ipw_activity a;
    ipw_activity_init(&a);
    for (int i = 0; i < 3; i++)
        assert_int_equal(ipw_activity_begin(&a, (uint64_t)i, snaps[2 * i], NULL), IPW_OK);
    for (int i = 0; i < 3; i++)
        ipw_activity_end(&a, (uint64_t)i, snaps[2 * i + 1]);
    double sum = 0, share[3], share_sum = 0;
    struct ipw_energy e[3];
    for (int i = 0; i < 3; i++) {
        assert_int_equal(ipw_attr_shared_energy(&src, &a, (uint64_t)i, snaps[2 * i],
                                                snaps[2 * i + 1], &e[i], &share[i], NULL),
                         IPW_OK);
        assert_int_equal(e[i].exact[IPW_DOMAIN_GPU], 1);
        sum += e[i].joules[IPW_DOMAIN_GPU];
        share_sum += share[i];
    }
    /* shares of wall time add up to the union of the windows, like the energies */
    assert_double_equal(share_sum, (double)(snaps[3] - snaps[0]) / 1e9, 1e-12);
    assert_double_equal(share[2], (double)(snaps[5] - snaps[4]) / 1e9 / 3.0, 1e-12);
    double device = energy_at(snaps[3]) - energy_at(snaps[0]); /* union: q1 start .. q2 end */
    assert_double_equal(sum, device, 1e-9);
    /* q3 runs only while all three are in flight: exactly a third of its window's energy */
    assert_double_equal(e[2].joules[IPW_DOMAIN_GPU],
                        (energy_at(snaps[5]) - energy_at(snaps[4])) / 3.0, 1e-9);
    assert_int_equal(ipw_activity_count_at(&a, 1200 * MS), 3);
    ipw_activity_prune(&a);
    assert_int_equal(a.n, 0); /* nothing is running: every interval can go */
    ipw_activity_destroy(&a);
    ipw_sampler_destroy(src.s[0]);
}

static void test_window_stats(void **state)
{
    (void)state;
    struct ipw_energy_sources src = {.n = 1};
    src.s[0] = make_source(100 * MS, 2 * IPW_NS_PER_SEC, NULL, 0, 1.0);
    struct ipw_window_stats st;
    /* readings at 0.8, 0.9 s (100 W) and 1.0, 1.1, 1.2 s (300 W) */
    assert_int_equal(ipw_attr_window_stats(&src, 800 * MS, 1200 * MS, &st, NULL), IPW_OK);
    assert_int_equal(st.readings, 5);
    assert_double_equal(st.main_power.avg, 220.0, 1e-9);
    assert_double_equal(st.main_power.median, 300.0, 1e-9);
    assert_double_equal(st.main_power.max, 300.0, 1e-9);
    assert_double_equal(st.total_power.min, 110.0, 1e-9);
    assert_double_equal(st.cpu_power.avg, 10.0, 1e-9);
    assert_double_equal(st.cpu_mem_mb.min, 1800.0, 1e-9);
    assert_double_equal(st.temperature_c.avg, 50.0, 1e-9);
    assert_int_equal(st.gpu_mem_mb.n, 0);
    struct ipw_energy w;
    assert_int_equal(ipw_attr_mean_power(&src, 500 * MS, 1500 * MS, &w, NULL), IPW_OK);
    assert_double_equal(w.joules[IPW_DOMAIN_GPU], 200.0, 1e-9);
    ipw_sampler_destroy(src.s[0]);
}

/* The reason boundary snapshots exist: on short queries the first/last-sample method of the
 * original tool misses up to a sampling period at each end. */
static void test_snapshots_beat_naive_on_short_queries(void **state)
{
    (void)state;
    double worst_naive = 0, worst_exact = 0;
    for (int k = 0; k < 20; k++) {
        int64_t t0 = 1200 * MS + k * 3 * MS + 1, t1 = t0 + 200 * MS; /* 0.2 s queries */
        int64_t snaps[2] = {t0, t1};
        struct ipw_energy_sources src = {.n = 1};
        src.s[0] = make_source(50 * MS, 3 * IPW_NS_PER_SEC, snaps, 2, 1.0);
        double truth = energy_at(t1) - energy_at(t0);
        struct ipw_energy e;
        assert_int_equal(ipw_attr_energy(&src, t0, t1, &e, NULL), IPW_OK);
        double naive;
        assert_int_equal(ipw_attr_naive_energy(src.s[0], IPW_DOMAIN_GPU, t0, t1, &naive, NULL),
                         IPW_OK);
        double en = ipw_test_rel_err(naive, truth), ee = ipw_test_rel_err(e.joules[0], truth);
        worst_naive = en > worst_naive ? en : worst_naive;
        worst_exact = ee > worst_exact ? ee : worst_exact;
        ipw_sampler_destroy(src.s[0]);
    }
    print_message("0.2 s queries at 50 ms: worst error naive %.1f %%, snapshots %.2e %%\n",
                  100 * worst_naive, 100 * worst_exact);
    assert_true(worst_exact < 1e-9);
    assert_true(worst_naive > 0.2); /* loses ~ a quarter of a 200 ms window */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sum_over_sources),
        cmocka_unit_test(test_shared_energy_adds_up),
        cmocka_unit_test(test_window_stats),
        cmocka_unit_test(test_snapshots_beat_naive_on_short_queries),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
