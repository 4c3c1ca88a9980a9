/* The sampler against a scripted in-process collector whose power waveform is known exactly:
 * energy_between must match the analytic integral, exactly at snapshot boundaries; windows
 * outside the ring are errors; push-fed samplers keep order. */
#include "ipw_test.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ipw/clock.h"
#include "ipw/sampler.h"
#include "telemetry/collector_priv.h"

/* A waveform in monotonic time from t_start: 100 W for 1 s, then 300 W (for ever). The energy
 * reported is the exact integral, as a hardware counter would report it. */
static int64_t t_start;

static double truth_energy(int64_t t)
{
    double s = (double)(t - t_start) / 1e9;
    if (s <= 0)
        return 0;
    return s <= 1.0 ? 100.0 * s : 100.0 + 300.0 * (s - 1.0);
}

static ipw_err wave_open(struct ipw_collector *c, ipw_errbuf *eb)
{
    (void)eb;
    c->info.main_domain = IPW_DOMAIN_GPU;
    return IPW_OK;
}

static int fail_next;

static ipw_err wave_sample(struct ipw_collector *c, struct ipw_reading *r,
                           struct ipw_device_reading *dev, ipw_errbuf *eb)
{
    (void)c, (void)dev;
    if (fail_next) {
        fail_next = 0;
        return ipw_fail(eb, IPW_E_LOST, "scripted loss");
    }
    double s = (double)(r->mono_ns - t_start) / 1e9;
    ipw_reading_set(r, IPW_M_GPU_POWER_W, s <= 1.0 ? 100.0 : 300.0);
    ipw_reading_set(r, IPW_M_GPU_ENERGY_J, truth_energy(r->mono_ns));
    r->energy_source[IPW_DOMAIN_GPU] = IPW_ENERGY_COUNTER;
    return IPW_OK;
}

static void wave_close(struct ipw_collector *c) { (void)c; }

static const struct ipw_collector_ops wave_ops = {
    .name = "wave", .open = wave_open, .sample = wave_sample, .close = wave_close};

static struct ipw_collector *open_wave(void)
{
    struct ipw_collector *c = calloc(1, sizeof *c);
    c->ops = &wave_ops;
    strcpy(c->info.platform, "wave");
    wave_open(c, NULL);
    return c;
}

static void test_energy_between_matches_integral(void **state)
{
    (void)state;
    struct ipw_collector *c = open_wave();
    struct ipw_sampler_config cfg;
    ipw_sampler_config_init(&cfg);
    cfg.interval_ns = 10 * IPW_NS_PER_MS;
    struct ipw_sampler *s;
    ipw_errbuf eb = {0};
    t_start = ipw_mono_ns();
    assert_int_equal(ipw_sampler_create(c, &cfg, &s, &eb), IPW_OK);
    assert_int_equal(ipw_sampler_start(s, &eb), IPW_OK);
    ipw_sleep_ns(1500 * IPW_NS_PER_MS);

    /* arbitrary boundaries, including one across the 100 W -> 300 W step */
    int64_t bounds[][2] = {{t_start + 123456789, t_start + 987654321},
                           {t_start + 700 * IPW_NS_PER_MS, t_start + 1300 * IPW_NS_PER_MS},
                           {t_start + 50 * IPW_NS_PER_MS, t_start + 1450 * IPW_NS_PER_MS}};
    for (size_t i = 0; i < 3; i++) {
        struct ipw_energy e;
        assert_int_equal(ipw_sampler_energy_between(s, bounds[i][0], bounds[i][1], &e, &eb),
                         IPW_OK);
        assert_true(e.valid & (1u << IPW_DOMAIN_GPU));
        double truth = truth_energy(bounds[i][1]) - truth_energy(bounds[i][0]);
        /* Interpolating a counter is exact on straight segments; only an end whose bracket
         * holds the 100 W -> 300 W step errs, by at most dP x gap / 4. A loaded machine can
         * stretch a gap past 10 ms, so the bound uses the widest gap actually sampled. */
        struct ipw_reading *w;
        size_t n;
        assert_int_equal(ipw_sampler_window(s, t_start, bounds[i][1] + cfg.interval_ns, &w, &n,
                                            &eb),
                         IPW_OK);
        int64_t widest = 0;
        for (size_t k = 1; k < n; k++)
            if (w[k].mono_ns - w[k - 1].mono_ns > widest)
                widest = w[k].mono_ns - w[k - 1].mono_ns;
        free(w);
        double bound = 2 * 200.0 * (double)widest / 1e9 / 4;
        double err = fabs(e.joules[IPW_DOMAIN_GPU] - truth);
        if (!(err <= bound + 1e-9))
            fail_msg("window %zu: error %.4f J beyond the interpolation bound %.4f J", i, err,
                     bound);
        /* and with the 10 ms ticks on time, the 0.5 % target of the issue holds */
        if (widest <= 12 * IPW_NS_PER_MS)
            assert_true(ipw_test_rel_err(e.joules[IPW_DOMAIN_GPU], truth) < 0.005);
    }

    /* snapshot boundaries are exact */
    struct ipw_reading a, b;
    assert_int_equal(ipw_sampler_snapshot(s, &a, &eb), IPW_OK);
    ipw_sleep_ns(37 * IPW_NS_PER_MS);
    assert_int_equal(ipw_sampler_snapshot(s, &b, &eb), IPW_OK);
    struct ipw_energy e;
    assert_int_equal(ipw_sampler_energy_between(s, a.mono_ns, b.mono_ns, &e, &eb), IPW_OK);
    assert_int_equal(e.exact[IPW_DOMAIN_GPU], 1);
    assert_double_equal(e.joules[IPW_DOMAIN_GPU],
                        truth_energy(b.mono_ns) - truth_energy(a.mono_ns), 1e-9);
    assert_true(b.sequence > a.sequence);

    /* the future is an error, not a guess */
    assert_int_equal(ipw_sampler_energy_between(s, a.mono_ns, b.mono_ns + 10 * IPW_NS_PER_SEC,
                                                &e, &eb),
                     IPW_E_RANGE);
    ipw_sampler_destroy(s);
    free(c);
}

static void test_window_older_than_ring_is_error(void **state)
{
    (void)state;
    struct ipw_collector *c = open_wave();
    struct ipw_sampler_config cfg;
    ipw_sampler_config_init(&cfg);
    cfg.interval_ns = 2 * IPW_NS_PER_MS;
    cfg.capacity = 16;
    struct ipw_sampler *s;
    ipw_errbuf eb = {0};
    t_start = ipw_mono_ns();
    assert_int_equal(ipw_sampler_create(c, &cfg, &s, &eb), IPW_OK);
    for (int i = 0; i < 40; i++) {
        struct ipw_reading r;
        assert_int_equal(ipw_sampler_snapshot(s, &r, &eb), IPW_OK);
        ipw_sleep_ns(IPW_NS_PER_MS);
    }
    struct ipw_reading *w;
    size_t n;
    assert_int_equal(ipw_sampler_window(s, t_start, ipw_mono_ns(), &w, &n, &eb), IPW_E_RANGE);
    assert_non_null(strstr(eb.msg, "older than the telemetry buffer"));
    struct ipw_energy e;
    assert_int_equal(ipw_sampler_energy_between(s, t_start, ipw_mono_ns() - IPW_NS_PER_MS, &e,
                                                &eb),
                     IPW_E_RANGE);
    struct ipw_sampler_stats st;
    ipw_sampler_get_stats(s, &st);
    assert_int_equal(st.held, 16);
    assert_int_equal(st.readings, 40);
    /* the held part is still answerable */
    assert_int_equal(ipw_sampler_window(s, st.oldest_mono_ns, st.newest_mono_ns, &w, &n, &eb),
                     IPW_OK);
    assert_int_equal(n, 16);
    for (size_t i = 1; i < n; i++)
        assert_true(w[i].sequence == w[i - 1].sequence + 1);
    free(w);
    ipw_sampler_destroy(s);
    free(c);
}

static void test_failed_tick_leaves_gap_and_recovers(void **state)
{
    (void)state;
    struct ipw_collector *c = open_wave();
    struct ipw_sampler *s;
    ipw_errbuf eb = {0};
    t_start = ipw_mono_ns();
    assert_int_equal(ipw_sampler_create(c, NULL, &s, &eb), IPW_OK);
    struct ipw_reading r0, r1, r2;
    assert_int_equal(ipw_sampler_snapshot(s, &r0, &eb), IPW_OK);
    ipw_sleep_ns(5 * IPW_NS_PER_MS);
    fail_next = 1;
    assert_int_equal(ipw_sampler_snapshot(s, &r1, &eb), IPW_E_LOST);
    assert_false(ipw_reading_has(&r1, IPW_M_GPU_ENERGY_J));
    ipw_sleep_ns(5 * IPW_NS_PER_MS);
    assert_int_equal(ipw_sampler_snapshot(s, &r2, &eb), IPW_OK);
    /* the lost reading's time is bracketed by its neighbours: interpolation spans the gap */
    struct ipw_energy e;
    assert_int_equal(ipw_sampler_energy_between(s, r0.mono_ns, r1.mono_ns, &e, &eb), IPW_OK);
    assert_true(e.valid & (1u << IPW_DOMAIN_GPU));
    assert_double_equal(e.joules[IPW_DOMAIN_GPU],
                        truth_energy(r1.mono_ns) - truth_energy(r0.mono_ns), 1e-6);
    struct ipw_sampler_stats st;
    ipw_sampler_get_stats(s, &st);
    assert_int_equal(st.failures, 1);
    ipw_sampler_destroy(s);
    free(c);
}

static void test_push_fed_sampler(void **state)
{
    (void)state;
    struct ipw_sampler *s;
    ipw_errbuf eb = {0};
    assert_int_equal(ipw_sampler_create_push(0, NULL, &s, &eb), IPW_OK);
    struct ipw_reading r;
    for (int i = 0; i < 10; i++) {
        ipw_reading_clear(&r);
        r.mono_ns = (int64_t)(i + 1) * 50 * IPW_NS_PER_MS;
        ipw_reading_set(&r, IPW_M_CPU_ENERGY_J, 2.0 * i);
        assert_int_equal(ipw_sampler_push(s, &r, NULL, &eb), IPW_OK);
    }
    r.mono_ns = 10;
    assert_int_equal(ipw_sampler_push(s, &r, NULL, &eb), IPW_E_INVALID);
    assert_int_equal(ipw_sampler_snapshot(s, &r, &eb), IPW_E_UNSUPPORTED);
    struct ipw_energy e;
    /* 75 ms is halfway between readings 0 (0 J) and 1 (2 J) */
    assert_int_equal(ipw_sampler_energy_between(s, 75 * IPW_NS_PER_MS, 475 * IPW_NS_PER_MS, &e,
                                                &eb),
                     IPW_OK);
    assert_double_equal(e.joules[IPW_DOMAIN_CPU], 17.0 - 1.0, 1e-12);
    assert_int_equal(e.exact[IPW_DOMAIN_CPU], 0);
    assert_int_equal(ipw_sampler_wait_until(s, 10 * IPW_NS_PER_SEC, 20 * IPW_NS_PER_MS, &eb),
                     IPW_E_TIMEOUT);
    assert_int_equal(ipw_sampler_wait_until(s, 400 * IPW_NS_PER_MS, IPW_NS_PER_SEC, &eb), IPW_OK);
    ipw_sampler_destroy(s);
}

/* A reader that wakes late takes every reading that landed meanwhile, in order, with its
 * devices (ipw telemetry --target printed only the newest and lost the rest); one that fell
 * more than the ring behind gets the oldest reading held. */
static void test_next_after(void **state)
{
    (void)state;
    struct ipw_sampler_config cfg;
    ipw_sampler_config_init(&cfg);
    cfg.capacity = 8;
    struct ipw_sampler *s;
    ipw_errbuf eb = {0};
    assert_int_equal(ipw_sampler_create_push(1, &cfg, &s, &eb), IPW_OK);
    struct ipw_reading r;
    struct ipw_device_reading dev = {0};
    assert_int_equal(ipw_sampler_next_after(s, 0, &r, &dev, &eb), IPW_E_NOTFOUND);
    for (int i = 1; i <= 5; i++) {
        ipw_reading_clear(&r);
        r.mono_ns = i * 100;
        r.sequence = (uint64_t)i;
        dev.v[IPW_DF_ENERGY_J] = 10.0 * i;
        assert_int_equal(ipw_sampler_push(s, &r, &dev, &eb), IPW_OK);
    }
    int64_t last = 0;
    for (int i = 1; i <= 5; i++) {
        assert_int_equal(ipw_sampler_next_after(s, last, &r, &dev, &eb), IPW_OK);
        assert_int_equal(r.sequence, i);
        assert_double_equal(dev.v[IPW_DF_ENERGY_J], 10.0 * i, 0);
        last = r.mono_ns;
    }
    assert_int_equal(ipw_sampler_next_after(s, last, &r, &dev, &eb), IPW_E_NOTFOUND);
    for (int i = 6; i <= 20; i++) { /* the ring holds 8: readings 6 to 12 are overwritten */
        ipw_reading_clear(&r);
        r.mono_ns = i * 100;
        r.sequence = (uint64_t)i;
        assert_int_equal(ipw_sampler_push(s, &r, &dev, &eb), IPW_OK);
    }
    assert_int_equal(ipw_sampler_next_after(s, last, &r, &dev, &eb), IPW_OK);
    assert_int_equal(r.sequence, 13);
    ipw_sampler_destroy(s);
}

struct counter {
    int calls;
    uint64_t last_seq;
    int ordered;
};

static void count_cb(void *ud, const struct ipw_reading *r, const struct ipw_device_reading *dev,
                     unsigned ndev)
{
    (void)dev, (void)ndev;
    struct counter *k = ud;
    k->ordered &= r->sequence > k->last_seq;
    k->last_seq = r->sequence;
    k->calls++;
}

static void test_thread_ticks_and_subscribers(void **state)
{
    (void)state;
    struct ipw_collector *c = open_wave();
    struct ipw_sampler_config cfg;
    ipw_sampler_config_init(&cfg);
    cfg.interval_ns = 5 * IPW_NS_PER_MS;
    struct ipw_sampler *s;
    ipw_errbuf eb = {0};
    t_start = ipw_mono_ns();
    assert_int_equal(ipw_sampler_create(c, &cfg, &s, &eb), IPW_OK);
    struct counter k = {0, 0, 1};
    int id;
    assert_int_equal(ipw_sampler_subscribe(s, count_cb, &k, &id, &eb), IPW_OK);
    assert_int_equal(ipw_sampler_start(s, &eb), IPW_OK);
    ipw_sleep_ns(300 * IPW_NS_PER_MS);
    ipw_sampler_stop(s);
    /* ~60 ticks expected; a loaded CI machine may lose some, never gain */
    assert_true(k.calls >= 20 && k.calls <= 62);
    assert_true(k.ordered);
    ipw_sampler_unsubscribe(s, id);
    ipw_sampler_destroy(s);
    free(c);
}

static void test_rejects_bad_interval(void **state)
{
    (void)state;
    struct ipw_sampler_config cfg;
    ipw_sampler_config_init(&cfg);
    cfg.interval_ns = 500000; /* 0.5 ms */
    struct ipw_sampler *s;
    ipw_errbuf eb = {0};
    assert_int_equal(ipw_sampler_create_push(0, &cfg, &s, &eb), IPW_E_INVALID);
    assert_non_null(strstr(eb.msg, "1 ms to 10 s"));
    /* default retention keeps at least 10 minutes at 50 ms */
    ipw_sampler_config_init(&cfg);
    assert_int_equal(ipw_sampler_create_push(0, &cfg, &s, &eb), IPW_OK);
    struct ipw_sampler_stats st;
    ipw_sampler_get_stats(s, &st);
    assert_true(st.capacity >= 12000);
    ipw_sampler_destroy(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_energy_between_matches_integral),
        cmocka_unit_test(test_window_older_than_ring_is_error),
        cmocka_unit_test(test_failed_tick_leaves_gap_and_recovers),
        cmocka_unit_test(test_push_fed_sampler),
        cmocka_unit_test(test_next_after),
        cmocka_unit_test(test_thread_ticks_and_subscribers),
        cmocka_unit_test(test_rejects_bad_interval),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
