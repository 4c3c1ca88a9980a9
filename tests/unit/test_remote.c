/* The remote monitor source (src/telemetry/remote.c) against real monitors in this process:
 * identity from the first reading, energy through the push-fed sampler, reconnection after the
 * monitor restarts (cumulative energy kept monotonic, the gap reported), clock mapping, and
 * several monitors summed. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fake_monitor.h"
#include "ipw/clock.h"
#include "ipw/remote.h"
#include "ipw_test.h"

static char *target_of(int port, char *buf, size_t size)
{
    snprintf(buf, size, "127.0.0.1:%d", port);
    return buf;
}

static struct ipw_remote *open_one(const char *target)
{
    struct ipw_remote_config cfg;
    ipw_remote_config_init(&cfg);
    cfg.backoff_initial_ns = 50 * IPW_NS_PER_MS;
    cfg.backoff_max_ns = 200 * IPW_NS_PER_MS;
    struct ipw_remote *r = NULL;
    ipw_errbuf eb = {0};
    const char *t[] = {target};
    if (ipw_remote_open(t, 1, &cfg, &r, &eb) != IPW_OK)
        fail_msg("remote open %s: %s", target, eb.msg);
    return r;
}

/* Wait until the sampler holds a reading newer than t (local monotonic). */
static void wait_past(struct ipw_sampler *s, int64_t t, int64_t timeout_ns)
{
    ipw_errbuf eb = {0};
    if (ipw_sampler_wait_until(s, t, timeout_ns, &eb) != IPW_OK)
        fail_msg("no reading past %.3f s: %s", (double)t / 1e9, eb.msg);
}

static void test_single_monitor(void **state)
{
    (void)state;
    struct ipw_test_monitor tm;
    assert_int_equal(ipw_test_monitor_start(&tm, ipw_test_fake_collector("fake", 2, 300, 60),
                                            50 * IPW_NS_PER_MS, 0, 0, NULL, 0),
                     0);
    char target[64];
    struct ipw_remote *r = open_one(target_of(tm.port, target, sizeof target));
    const struct ipw_collector_info *info = ipw_remote_info(r);
    assert_string_equal(info->platform, "fake");
    assert_int_equal(info->main_domain, IPW_DOMAIN_GPU);
    assert_int_equal(info->ndev, 2);
    assert_string_equal(info->dev[1].uuid, "GPU-00000000-0000-0000-0000-000000000001");
    assert_string_equal(info->gpu_vendor, "FakeVendor");
    assert_true(ipw_remote_system_info(r)->cpu_count > 0);
    assert_true(ipw_remote_system_info(r)->host_name[0] != '\0');
    struct ipw_sampler *s = ipw_remote_sampler(r);
    assert_int_equal(ipw_sampler_ndev(s), 2);

    int64_t t0 = ipw_mono_ns();
    wait_past(s, t0 + 600 * IPW_NS_PER_MS, 3 * IPW_NS_PER_SEC);
    struct ipw_energy e;
    ipw_errbuf eb = {0};
    assert_int_equal(ipw_sampler_energy_between(s, t0 + 100 * IPW_NS_PER_MS,
                                                t0 + 500 * IPW_NS_PER_MS, &e, &eb),
                     IPW_OK);
    assert_true(e.valid & (1u << IPW_DOMAIN_GPU));
    assert_true(ipw_test_rel_err(e.joules[IPW_DOMAIN_GPU], 300 * 0.4) < 0.02);
    assert_true(ipw_test_rel_err(e.joules[IPW_DOMAIN_CPU], 60 * 0.4) < 0.02);

    struct ipw_reading last;
    struct ipw_device_reading dev[2];
    assert_int_equal(ipw_sampler_latest(s, &last, dev, NULL), IPW_OK);
    /* same host: the reading sits where it was taken, never in our future */
    assert_true(last.mono_ns <= ipw_mono_ns());
    assert_true(ipw_mono_ns() - last.mono_ns < 200 * IPW_NS_PER_MS);
    assert_double_equal(last.v[IPW_M_GPU_POWER_W], 300, 1e-9);
    assert_double_equal(dev[0].v[IPW_DF_POWER_W], 150, 1e-9);
    assert_false(ipw_reading_has(&last, IPW_M_ANE_POWER_W));

    struct ipw_remote_stats st;
    ipw_remote_get_stats(r, -1, &st);
    assert_true(st.connected);
    assert_true(st.readings >= 10);
    assert_int_equal(st.clock_mode, IPW_REMOTE_CLOCK_SYNCED);
    assert_int_equal(st.restarts, 0);
    assert_int_equal(st.gaps, 0);
    ipw_remote_close(r);
    assert_int_equal(ipw_test_monitor_stop(&tm), 0);
}

/* The monitor goes away and comes back fresh (energy from 0): the local series continues
 * from where it stood, and the gap is on record. */
static void test_monitor_restart(void **state)
{
    (void)state;
    struct ipw_test_monitor tm;
    assert_int_equal(ipw_test_monitor_start(&tm, ipw_test_fake_collector("fake", 1, 100, 10),
                                            20 * IPW_NS_PER_MS, 0, 0, NULL, 0),
                     0);
    int port = tm.port;
    char target[64];
    struct ipw_remote *r = open_one(target_of(port, target, sizeof target));
    struct ipw_sampler *s = ipw_remote_sampler(r);
    int64_t t_start = ipw_mono_ns();
    wait_past(s, t_start + 400 * IPW_NS_PER_MS, 3 * IPW_NS_PER_SEC);
    struct ipw_reading before;
    assert_int_equal(ipw_sampler_latest(s, &before, NULL, NULL), IPW_OK);
    assert_true(before.v[IPW_M_GPU_ENERGY_J] > 30);

    assert_int_equal(ipw_test_monitor_stop(&tm), 0);
    int64_t t_down = ipw_mono_ns();
    usleep(400 * 1000);
    assert_int_equal(ipw_test_monitor_start(&tm, ipw_test_fake_collector("fake", 1, 100, 10),
                                            20 * IPW_NS_PER_MS, port, 0, NULL, 0),
                     0);
    int64_t t_up = ipw_mono_ns();
    wait_past(s, t_up, 5 * IPW_NS_PER_SEC);
    /* the first reading of the new monitor, then 300 ms of its stream */
    struct ipw_reading *w0;
    size_t n0;
    ipw_errbuf eb0 = {0};
    assert_int_equal(ipw_sampler_window(s, t_up, ipw_mono_ns(), &w0, &n0, &eb0), IPW_OK);
    assert_true(n0 >= 1);
    int64_t t_back = w0[0].mono_ns;
    free(w0);
    wait_past(s, t_back + 300 * IPW_NS_PER_MS, 5 * IPW_NS_PER_SEC);
    struct ipw_remote_stats st;
    ipw_remote_get_stats(r, -1, &st);
    assert_true(st.reconnects >= 1);
    assert_true(st.restarts >= 1);
    assert_true(st.gaps >= 1);
    assert_true(st.longest_gap_ns >= 300 * IPW_NS_PER_MS);
    assert_true(st.connected);

    /* every cumulative value from start to now is non-decreasing */
    struct ipw_reading *w;
    size_t n;
    ipw_errbuf eb = {0};
    assert_int_equal(ipw_sampler_window(s, 0, ipw_mono_ns(), &w, &n, &eb), IPW_OK);
    assert_true(n > 20);
    for (size_t i = 1; i < n; i++) {
        assert_true(w[i].mono_ns > w[i - 1].mono_ns);
        assert_true(w[i].v[IPW_M_GPU_ENERGY_J] >= w[i - 1].v[IPW_M_GPU_ENERGY_J]);
        assert_true(w[i].v[IPW_M_CPU_ENERGY_J] >= w[i - 1].v[IPW_M_CPU_ENERGY_J]);
    }
    /* after the restart the series grows at 100 W again, from where it stood */
    assert_true(w[n - 1].v[IPW_M_GPU_ENERGY_J] > before.v[IPW_M_GPU_ENERGY_J]);
    free(w);
    struct ipw_energy e;
    assert_int_equal(ipw_sampler_energy_between(s, t_back + 50 * IPW_NS_PER_MS,
                                                t_back + 250 * IPW_NS_PER_MS, &e, &eb),
                     IPW_OK);
    assert_true(ipw_test_rel_err(e.joules[IPW_DOMAIN_GPU], 100 * 0.2) < 0.05);

    /* the monitor restarted: the energy of a window across the gap is not known */
    assert_int_equal(ipw_remote_gap_overlaps(r, t_down, t_up), IPW_REMOTE_GAP_LOST);
    assert_int_equal(ipw_remote_gap_overlaps(r, t_start, t_start + 300 * IPW_NS_PER_MS),
                     IPW_REMOTE_NO_GAP);
    ipw_remote_close(r);
    assert_int_equal(ipw_test_monitor_stop(&tm), 0);
}

/* A monitor whose clock runs 30 s ahead: readings are placed by arrival instead. */
static void test_unsynchronised_clock(void **state)
{
    (void)state;
    struct ipw_collector *c = ipw_test_fake_collector("fake", 0, 100, 10);
    ipw_test_fake_collector_set_skew(c, 30 * IPW_NS_PER_SEC);
    struct ipw_test_monitor tm;
    assert_int_equal(ipw_test_monitor_start(&tm, c, 50 * IPW_NS_PER_MS, 0, 0, NULL, 0), 0);
    char target[64];
    struct ipw_remote *r = open_one(target_of(tm.port, target, sizeof target));
    struct ipw_sampler *s = ipw_remote_sampler(r);
    wait_past(s, ipw_mono_ns() + 200 * IPW_NS_PER_MS, 3 * IPW_NS_PER_SEC);
    struct ipw_reading last;
    assert_int_equal(ipw_sampler_latest(s, &last, NULL, NULL), IPW_OK);
    int64_t age = ipw_mono_ns() - last.mono_ns;
    assert_true(age >= 0 && age < 200 * IPW_NS_PER_MS);
    struct ipw_remote_stats st;
    ipw_remote_get_stats(r, -1, &st);
    assert_int_equal(st.clock_mode, IPW_REMOTE_CLOCK_ARRIVAL);
    assert_true(st.clock_skew_ms < -29000);
    ipw_remote_close(r);
    assert_int_equal(ipw_test_monitor_stop(&tm), 0);
}

/* Two monitors (one over a Unix socket) summed into one sampler. */
static void test_two_monitors_summed(void **state)
{
    (void)state;
    char *dir = ipw_test_mkdtemp("ipw-remote");
    char path[512], ta[64], tb[600];
    snprintf(path, sizeof path, "%s/b.sock", dir);
    snprintf(tb, sizeof tb, "unix:%s", path);
    struct ipw_test_monitor a, b;
    assert_int_equal(ipw_test_monitor_start(&a, ipw_test_fake_collector("fake", 1, 100, 20),
                                            50 * IPW_NS_PER_MS, 0, 0, NULL, 0),
                     0);
    assert_int_equal(ipw_test_monitor_start(&b, ipw_test_fake_collector("fake", 2, 200, 40),
                                            30 * IPW_NS_PER_MS, -1, 0, path, 0),
                     0);
    const char *targets[] = {target_of(a.port, ta, sizeof ta), tb};
    struct ipw_remote *r = NULL;
    ipw_errbuf eb = {0};
    if (ipw_remote_open(targets, 2, NULL, &r, &eb) != IPW_OK)
        fail_msg("open two: %s", eb.msg);
    const struct ipw_collector_info *info = ipw_remote_info(r);
    assert_int_equal(ipw_remote_count(r), 2);
    assert_int_equal(info->ndev, 3);
    assert_string_equal(info->platform, "fake");
    struct ipw_sampler *s = ipw_remote_sampler(r);
    int64_t t0 = ipw_mono_ns();
    wait_past(s, t0 + 800 * IPW_NS_PER_MS, 3 * IPW_NS_PER_SEC);
    struct ipw_energy e;
    assert_int_equal(ipw_sampler_energy_between(s, t0 + 200 * IPW_NS_PER_MS,
                                                t0 + 700 * IPW_NS_PER_MS, &e, &eb),
                     IPW_OK);
    assert_true(ipw_test_rel_err(e.joules[IPW_DOMAIN_GPU], 300 * 0.5) < 0.05);
    assert_true(ipw_test_rel_err(e.joules[IPW_DOMAIN_CPU], 60 * 0.5) < 0.05);
    struct ipw_reading last;
    struct ipw_device_reading dev[3];
    assert_int_equal(ipw_sampler_latest(s, &last, dev, NULL), IPW_OK);
    assert_double_equal(last.v[IPW_M_GPU_POWER_W], 300, 1e-9);
    assert_double_equal(last.v[IPW_M_TEMPERATURE_C], 55.5, 1e-9);
    assert_double_equal(dev[0].v[IPW_DF_POWER_W], 100, 1e-9);
    assert_double_equal(dev[2].v[IPW_DF_POWER_W], 100, 1e-9);
    struct ipw_remote_stats st;
    ipw_remote_get_stats(r, 1, &st);
    assert_true(st.readings > 10);
    ipw_remote_close(r);
    assert_int_equal(ipw_test_monitor_stop(&a), 0);
    assert_int_equal(ipw_test_monitor_stop(&b), 0);
    ipw_test_rmtree(dir);
    free(dir);
}

static void test_unreachable(void **state)
{
    (void)state;
    struct ipw_remote_config cfg;
    ipw_remote_config_init(&cfg);
    cfg.connect_timeout_ns = 500 * IPW_NS_PER_MS;
    struct ipw_remote *r = NULL;
    ipw_errbuf eb = {0};
    const char *t1[] = {"127.0.0.1:1"};
    assert_int_not_equal(ipw_remote_open(t1, 1, &cfg, &r, &eb), IPW_OK);
    assert_null(r);
    assert_non_null(strstr(eb.msg, "127.0.0.1:1"));
    const char *t2[] = {"no-port-here"};
    assert_int_equal(ipw_remote_open(t2, 1, &cfg, &r, &eb), IPW_E_INVALID);
    assert_non_null(strstr(eb.msg, "HOST:PORT"));
    assert_int_equal(ipw_remote_open(t2, 0, &cfg, &r, &eb), IPW_E_INVALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_single_monitor),
        cmocka_unit_test(test_monitor_restart),
        cmocka_unit_test(test_unsynchronised_clock),
        cmocka_unit_test(test_two_monitors_summed),
        cmocka_unit_test(test_unreachable),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
