/* The RAPL collector on fake sysfs trees: which zones are found and counted (no double counting
 * of sub-zones, mmio duplicates or psys), energies exactly as the counters moved, wraps,
 * resets, power over a minimum span, AMD hwmon, the interval warning, and a real EACCES. */
#include "ipw_test.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fake_sysfs.h"
#include "ipw/clock.h"
#include "ipw/collector.h"
#include "telemetry/collector_priv.h"
#include "telemetry/rapl.h"
#include "unpriv.h"

static struct ipw_collector *open_rapl(const char *root, int interval_ms, ipw_errbuf *eb)
{
    struct ipw_collector_config cfg;
    ipw_collector_config_init(&cfg);
    cfg.sysfs_root = root;
    cfg.interval_ms = interval_ms;
    struct ipw_collector *c = NULL;
    if (ipw_collector_open("rapl", &cfg, &c, eb) != IPW_OK)
        return NULL;
    return c;
}

static const struct ipw_rapl_zone *find_zone(const struct ipw_rapl_zone *z, size_t n,
                                             const char *id)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(z[i].id, id) == 0)
            return &z[i];
    return NULL;
}

static void sample_ok(struct ipw_collector *c, struct ipw_reading *r)
{
    ipw_errbuf eb = {0};
    ipw_err e = ipw_collector_sample(c, r, NULL, &eb);
    if (e != IPW_OK)
        fail_msg("sample failed: %s", eb.msg);
}

static void test_discovery(void **state)
{
    (void)state;
    char *root = ipw_fake_sysfs_new();
    ipw_fake_rapl_standard(root);
    ipw_errbuf eb = {0};
    struct ipw_collector *c = open_rapl(root, 50, &eb);
    if (!c)
        fail_msg("open failed: %s", eb.msg);
    assert_string_equal(c->info.platform, "rapl");
    assert_int_equal(c->info.main_domain, IPW_DOMAIN_CPU);
    assert_string_equal(ipw_rapl_source(c), "powercap");
    assert_string_equal(c->info.notes, "");

    struct ipw_rapl_zone z[IPW_RAPL_MAX_ZONES];
    size_t n = ipw_rapl_zones(c, z, IPW_RAPL_MAX_ZONES);
    assert_int_equal(n, 7); /* the mmio duplicate is not among them */
    static const struct {
        const char *id, *name;
        enum ipw_rapl_role role;
        bool counted;
    } want[] = {
        {"intel-rapl:0", "package-0", IPW_RAPL_PACKAGE, true},
        {"intel-rapl:0:0", "core", IPW_RAPL_SUBZONE, false},
        {"intel-rapl:0:1", "dram", IPW_RAPL_DRAM, true},
        {"intel-rapl:1", "package-1", IPW_RAPL_PACKAGE, true},
        {"intel-rapl:1:0", "core", IPW_RAPL_SUBZONE, false},
        {"intel-rapl:1:1", "dram", IPW_RAPL_DRAM, true},
        {"intel-rapl:2", "psys", IPW_RAPL_PSYS, true},
    };
    for (size_t i = 0; i < n; i++) {
        /* sorted by zone number, parents before their sub-zones */
        assert_string_equal(z[i].id, want[i].id);
        assert_string_equal(z[i].name, want[i].name);
        assert_int_equal(z[i].role, want[i].role);
        assert_int_equal(z[i].counted, want[i].counted);
        assert_true(z[i].max_range_uj == IPW_FAKE_RAPL_RANGE);
        assert_double_equal(z[i].safe_interval_s, 262143.32885 / 500.0, 1e-9);
    }
    assert_null(find_zone(z, n, "intel-rapl-mmio:0"));
    ipw_collector_close(c);
    ipw_test_rmtree(root);
    free(root);
}

/* Every counter moves by a different amount; only packages make CPU and only dram zones make
 * DRAM, to the microjoule. */
static void test_energies_exact_no_double_counting(void **state)
{
    (void)state;
    char *root = ipw_fake_sysfs_new();
    ipw_fake_rapl_standard(root);
    ipw_errbuf eb = {0};
    struct ipw_collector *c = open_rapl(root, 50, &eb);
    assert_non_null(c);
    struct ipw_reading r;
    sample_ok(c, &r);
    assert_true(ipw_reading_has(&r, IPW_M_CPU_ENERGY_J));
    assert_double_equal(r.v[IPW_M_CPU_ENERGY_J], 0.0, 0);
    assert_double_equal(r.v[IPW_M_DRAM_ENERGY_J], 0.0, 0);

    ipw_fake_rapl_set(root, "intel-rapl:0", 1000000 + 1234567);
    ipw_fake_rapl_set(root, "intel-rapl:0:0", 400000 + 999999);  /* inside package 0 */
    ipw_fake_rapl_set(root, "intel-rapl:0:1", 300000 + 111);
    ipw_fake_rapl_set(root, "intel-rapl:1", 2000000 + 2000001);
    ipw_fake_rapl_set(root, "intel-rapl:1:0", 500000 + 888888);  /* inside package 1 */
    ipw_fake_rapl_set(root, "intel-rapl:1:1", 700000 + 222);
    ipw_fake_rapl_set(root, "intel-rapl:2", 9000000 + 5000000); /* platform: kept apart */
    ipw_fake_rapl_set(root, "intel-rapl-mmio:0", 1000000 + 777777);
    sample_ok(c, &r);
    assert_double_equal(r.v[IPW_M_CPU_ENERGY_J], (1234567 + 2000001) / 1e6, 0);
    assert_double_equal(r.v[IPW_M_DRAM_ENERGY_J], (111 + 222) / 1e6, 0);
    assert_int_equal(r.energy_source[IPW_DOMAIN_CPU], IPW_ENERGY_COUNTER);
    assert_int_equal(r.energy_source[IPW_DOMAIN_DRAM], IPW_ENERGY_COUNTER);
    assert_false(ipw_reading_has(&r, IPW_M_GPU_ENERGY_J));

    struct ipw_rapl_zone z[IPW_RAPL_MAX_ZONES];
    size_t n = ipw_rapl_zones(c, z, IPW_RAPL_MAX_ZONES);
    assert_double_equal(find_zone(z, n, "intel-rapl:2")->energy_j, 5.0, 0);
    assert_double_equal(find_zone(z, n, "intel-rapl:0")->energy_j, 1.234567, 0);
    assert_double_equal(find_zone(z, n, "intel-rapl:0:0")->energy_j, 0.0, 0);

    /* cumulative and monotonic over further moves */
    ipw_fake_rapl_set(root, "intel-rapl:0", 1000000 + 1234567 + 10);
    sample_ok(c, &r);
    assert_double_equal(r.v[IPW_M_CPU_ENERGY_J], (1234567 + 2000001 + 10) / 1e6, 0);
    ipw_collector_close(c);
    ipw_test_rmtree(root);
    free(root);
}

static void test_wrap(void **state)
{
    (void)state;
    char *root = ipw_fake_sysfs_new();
    const uint64_t range = 1000000000; /* 1 kJ */
    ipw_fake_rapl_zone(root, "intel-rapl:0", "package-0", 999000000, range);
    ipw_fake_rapl_zone(root, "intel-rapl:0:0", "dram", 5, range);
    ipw_errbuf eb = {0};
    struct ipw_collector *c = open_rapl(root, 50, &eb);
    assert_non_null(c);
    struct ipw_reading r;
    ipw_fake_rapl_set(root, "intel-rapl:0", 999500000);
    sample_ok(c, &r);
    assert_double_equal(r.v[IPW_M_CPU_ENERGY_J], 0.5, 0);
    /* the test rewrites the counter past its range: it restarts from zero */
    ipw_fake_rapl_set(root, "intel-rapl:0", 400000);
    /* dram steps back by 2 uJ: read as a wrap that would be the whole 1 kJ range within one
     * 50 ms tick (20 kW), which no DRAM draws: a glitch, counted as no energy, not a wrap */
    ipw_fake_rapl_set(root, "intel-rapl:0:0", 3);
    sample_ok(c, &r);
    assert_double_equal(r.v[IPW_M_CPU_ENERGY_J], (500000 + (range - 999500000) + 400000) / 1e6,
                        0);
    assert_double_equal(r.v[IPW_M_DRAM_ENERGY_J], 0, 0);
    ipw_fake_rapl_set(root, "intel-rapl:0", 400001);
    sample_ok(c, &r);
    assert_double_equal(r.v[IPW_M_CPU_ENERGY_J], 1.400001, 0);
    struct ipw_rapl_zone z[4];
    size_t n = ipw_rapl_zones(c, z, 4);
    assert_int_equal(n, 2);
    assert_int_equal(z[0].wraps, 1);
    assert_int_equal(z[1].wraps, 0);
    assert_double_equal(z[0].safe_interval_s, 2.0, 1e-12); /* 1 kJ at 500 W */
    ipw_collector_close(c);
    ipw_test_rmtree(root);
    free(root);
}

/* Fault: a counter that jumps forward by more than any CPU could draw since the last read
 * (50 kJ in one 50 ms tick: 1 MW) adds nothing for that interval, with a warning; the counter
 * is followed from its new value, so the ticks after it count as before. */
static void test_counter_jump(void **state)
{
    (void)state;
    char *root = ipw_fake_sysfs_new();
    ipw_fake_rapl_zone(root, "intel-rapl:0", "package-0", 1000000, IPW_FAKE_RAPL_RANGE);
    ipw_errbuf eb = {0};
    struct ipw_collector *c = open_rapl(root, 50, &eb);
    assert_non_null(c);
    struct ipw_reading r;
    ipw_fake_rapl_set(root, "intel-rapl:0", 2000000);
    sample_ok(c, &r);
    assert_double_equal(r.v[IPW_M_CPU_ENERGY_J], 1.0, 0);
    ipw_fake_rapl_set(root, "intel-rapl:0", 50002000000); /* +50 kJ at once */
    sample_ok(c, &r);
    printf("counter jumped by 50 kJ in one tick: the user sees energy %.6f J (unchanged), "
           "and a warning on stderr\n", r.v[IPW_M_CPU_ENERGY_J]);
    assert_double_equal(r.v[IPW_M_CPU_ENERGY_J], 1.0, 0);
    ipw_fake_rapl_set(root, "intel-rapl:0", 50003000000);
    sample_ok(c, &r);
    assert_double_equal(r.v[IPW_M_CPU_ENERGY_J], 2.0, 0);
    ipw_collector_close(c);
    ipw_test_rmtree(root);
    free(root);
}

/* Without max_energy_range_uj a drop cannot be a known wrap: the interval's energy is lost, not
 * invented, and counting goes on from the new value. */
static void test_reset_without_range(void **state)
{
    (void)state;
    char *root = ipw_fake_sysfs_new();
    ipw_fake_rapl_zone(root, "intel-rapl:0", "package-0", 5000000, 0);
    ipw_errbuf eb = {0};
    struct ipw_collector *c = open_rapl(root, 50, &eb);
    assert_non_null(c);
    struct ipw_reading r;
    ipw_fake_rapl_set(root, "intel-rapl:0", 6000000);
    sample_ok(c, &r);
    assert_double_equal(r.v[IPW_M_CPU_ENERGY_J], 1.0, 0);
    ipw_fake_rapl_set(root, "intel-rapl:0", 100);
    sample_ok(c, &r);
    assert_double_equal(r.v[IPW_M_CPU_ENERGY_J], 1.0, 0);
    ipw_fake_rapl_set(root, "intel-rapl:0", 350);
    sample_ok(c, &r);
    assert_double_equal(r.v[IPW_M_CPU_ENERGY_J], 1.00025, 0);
    ipw_collector_close(c);
    ipw_test_rmtree(root);
    free(root);
}

static void test_power_derivation(void **state)
{
    (void)state;
    char *root = ipw_fake_sysfs_new();
    ipw_fake_rapl_zone(root, "intel-rapl:0", "package-0", 0, IPW_FAKE_RAPL_RANGE);
    ipw_fake_rapl_zone(root, "intel-rapl:0:0", "dram", 0, IPW_FAKE_RAPL_RANGE);
    ipw_errbuf eb = {0};
    int64_t t_open = ipw_mono_ns();
    struct ipw_collector *c = open_rapl(root, 50, &eb);
    assert_non_null(c);
    struct ipw_reading r;
    /* right after open there is no span of 10 ms to divide by: no power rather than noise */
    sample_ok(c, &r);
    if (ipw_mono_ns() - t_open < IPW_RAPL_MIN_POWER_SPAN_NS)
        assert_false(ipw_reading_has(&r, IPW_M_CPU_POWER_W));

    ipw_sleep_ns(30 * IPW_NS_PER_MS);
    int64_t a0 = ipw_mono_ns();
    sample_ok(c, &r);
    int64_t b0 = ipw_mono_ns();
    assert_true(ipw_reading_has(&r, IPW_M_CPU_POWER_W));
    assert_double_equal(r.v[IPW_M_CPU_POWER_W], 0.0, 0);
    assert_int_equal(r.power_source, IPW_POWER_DERIVED);

    ipw_sleep_ns(40 * IPW_NS_PER_MS);
    ipw_fake_rapl_set(root, "intel-rapl:0", 2000000);  /* 2 J */
    ipw_fake_rapl_set(root, "intel-rapl:0:0", 500000); /* 0.5 J */
    int64_t a1 = ipw_mono_ns();
    sample_ok(c, &r);
    int64_t b1 = ipw_mono_ns();
    /* the collector's own read times lie in [a0, b0] and [a1, b1] */
    double lo = 2.0 / ((double)(b1 - a0) / 1e9), hi = 2.0 / ((double)(a1 - b0) / 1e9);
    double p = r.v[IPW_M_CPU_POWER_W];
    if (!(p >= lo && p <= hi))
        fail_msg("CPU power %.6f W outside [%.6f, %.6f]", p, lo, hi);
    assert_double_equal(r.v[IPW_M_DRAM_POWER_W] / p, 0.25, 1e-12);

    /* a snapshot microseconds after that tick: the power is still over >= 10 ms, not 1 J/us */
    ipw_fake_rapl_set(root, "intel-rapl:0", 3000000);
    sample_ok(c, &r);
    int64_t b2 = ipw_mono_ns();
    p = r.v[IPW_M_CPU_POWER_W];
    assert_true(ipw_reading_has(&r, IPW_M_CPU_POWER_W));
    /* The base is the newest read >= 10 ms old: the 30 ms sample (3 J since), or, if this
     * thread was descheduled for 10 ms, the previous one (1 J since). Either way the span is
     * at least 10 ms, so at most 3 J / 10 ms. */
    double hi2 = 3.0 / ((double)IPW_RAPL_MIN_POWER_SPAN_NS / 1e9);
    double lo2 = fmin(3.0 / ((double)(b2 - a0) / 1e9), 1.0 / ((double)(b2 - a1) / 1e9));
    if (!(p > 0 && p <= hi2 && p >= lo2))
        fail_msg("snapshot power %.3f W not over a span of >= 10 ms", p);
    ipw_collector_close(c);
    ipw_test_rmtree(root);
    free(root);
}

/* A counter that cannot be parsed fails that tick only; state is untouched, so no energy jumps
 * when it reads again. */
static void corrupt(const char *root, const char *zone)
{
    /* in place: the collector holds the file open */
    FILE *f = fopen(ipw_fake_rapl_path(root, zone), "r+");
    assert_non_null(f);
    fputs("oops\n", f);
    fclose(f);
}

static void test_bad_counter_tick(void **state)
{
    (void)state;
    char *root = ipw_fake_sysfs_new();
    ipw_fake_rapl_zone(root, "intel-rapl:0", "package-0", 1000, IPW_FAKE_RAPL_RANGE);
    ipw_fake_rapl_zone(root, "intel-rapl:1", "package-1", 1000, IPW_FAKE_RAPL_RANGE);
    ipw_errbuf eb = {0};
    struct ipw_collector *c = open_rapl(root, 50, &eb);
    assert_non_null(c);
    corrupt(root, "intel-rapl:1");
    ipw_fake_rapl_set(root, "intel-rapl:0", 9000);
    struct ipw_reading r;
    ipw_errbuf se = {0};
    assert_int_equal(ipw_collector_sample(c, &r, NULL, &se), IPW_E_IO);
    assert_non_null(strstr(se.msg, "intel-rapl:1/energy_uj"));
    assert_non_null(strstr(se.msg, "not a number"));
    assert_false(ipw_reading_has(&r, IPW_M_CPU_ENERGY_J));
    assert_true(ipw_reading_has(&r, IPW_M_CPU_MEM_USED_MB)); /* the rest of the tick survives */
    assert_int_equal(c->failures, 1);
    ipw_fake_rapl_set(root, "intel-rapl:1", 1500);
    sample_ok(c, &r);
    assert_double_equal(r.v[IPW_M_CPU_ENERGY_J], (8000 + 500) / 1e6, 0);
    ipw_collector_close(c);
    ipw_test_rmtree(root);
    free(root);
}

/* A failing package file leaves DRAM energy read, and the reverse; the failing role's energy
 * resumes from its counter (the gap counted, no jump warning), with nothing invented meanwhile. */
static void test_failing_file_spares_other_role(void **state)
{
    (void)state;
    char *root = ipw_fake_sysfs_new();
    ipw_fake_rapl_zone(root, "intel-rapl:0", "package-0", 1000000, IPW_FAKE_RAPL_RANGE);
    ipw_fake_rapl_zone(root, "intel-rapl:0:0", "dram", 1000000, IPW_FAKE_RAPL_RANGE);
    ipw_errbuf eb = {0};
    struct ipw_collector *c = open_rapl(root, 50, &eb);
    assert_non_null(c);
    struct ipw_reading r;
    ipw_errbuf se = {0};

    corrupt(root, "intel-rapl:0");
    for (int i = 1; i <= 3; i++) {
        ipw_fake_rapl_set(root, "intel-rapl:0:0", 1000000 + 100000 * i);
        assert_int_equal(ipw_collector_sample(c, &r, NULL, &se), IPW_E_IO);
        assert_non_null(strstr(se.msg, "intel-rapl:0/energy_uj"));
        assert_false(ipw_reading_has(&r, IPW_M_CPU_ENERGY_J));
        assert_int_equal(r.energy_source[IPW_DOMAIN_CPU], IPW_ENERGY_NONE);
        assert_true(ipw_reading_has(&r, IPW_M_DRAM_ENERGY_J));
        assert_double_equal(r.v[IPW_M_DRAM_ENERGY_J], 0.1 * i, 1e-12);
    }
    ipw_fake_rapl_set(root, "intel-rapl:0", 1000000 + 7000000); /* 7 J during the failure */
    sample_ok(c, &r);
    assert_double_equal(r.v[IPW_M_CPU_ENERGY_J], 7.0, 0);
    assert_double_equal(r.v[IPW_M_DRAM_ENERGY_J], 0.3, 1e-12);

    corrupt(root, "intel-rapl:0:0");
    ipw_fake_rapl_set(root, "intel-rapl:0", 1000000 + 8000000);
    assert_int_equal(ipw_collector_sample(c, &r, NULL, &se), IPW_E_IO);
    assert_non_null(strstr(se.msg, "intel-rapl:0:0/energy_uj"));
    assert_double_equal(r.v[IPW_M_CPU_ENERGY_J], 8.0, 0);
    assert_false(ipw_reading_has(&r, IPW_M_DRAM_ENERGY_J));
    assert_false(ipw_reading_has(&r, IPW_M_DRAM_POWER_W));

    corrupt(root, "intel-rapl:0");
    assert_int_equal(ipw_collector_sample(c, &r, NULL, &se), IPW_E_IO);
    assert_false(ipw_reading_has(&r, IPW_M_CPU_ENERGY_J)); /* nothing read: nothing set */
    assert_false(ipw_reading_has(&r, IPW_M_DRAM_ENERGY_J));
    ipw_collector_close(c);
    ipw_test_rmtree(root);
    free(root);
}

static void test_dies_and_top_level_dram(void **state)
{
    (void)state;
    char *root = ipw_fake_sysfs_new();
    ipw_fake_rapl_zone(root, "intel-rapl:0", "package-0-die-0", 10, IPW_FAKE_RAPL_RANGE);
    ipw_fake_rapl_zone(root, "intel-rapl:1", "package-0-die-1", 20, IPW_FAKE_RAPL_RANGE);
    ipw_fake_rapl_zone(root, "intel-rapl:2", "dram", 30, IPW_FAKE_RAPL_RANGE);
    ipw_fake_rapl_zone(root, "intel-rapl:3", "mystery", 40, IPW_FAKE_RAPL_RANGE);
    ipw_errbuf eb = {0};
    struct ipw_collector *c = open_rapl(root, 50, &eb);
    assert_non_null(c);
    ipw_fake_rapl_set(root, "intel-rapl:0", 110);
    ipw_fake_rapl_set(root, "intel-rapl:1", 220);
    ipw_fake_rapl_set(root, "intel-rapl:2", 330);
    ipw_fake_rapl_set(root, "intel-rapl:3", 440);
    struct ipw_reading r;
    sample_ok(c, &r);
    assert_double_equal(r.v[IPW_M_CPU_ENERGY_J], 300e-6, 1e-18);
    assert_double_equal(r.v[IPW_M_DRAM_ENERGY_J], 300e-6, 1e-18);
    struct ipw_rapl_zone z[8];
    size_t n = ipw_rapl_zones(c, z, 8);
    assert_int_equal(n, 4);
    assert_int_equal(find_zone(z, n, "intel-rapl:3")->role, IPW_RAPL_OTHER);
    assert_false(find_zone(z, n, "intel-rapl:3")->counted);
    ipw_collector_close(c);
    ipw_test_rmtree(root);
    free(root);
}

static void test_interval_warning(void **state)
{
    (void)state;
    char *root = ipw_fake_sysfs_new();
    /* 10 kJ range: 20 s at 500 W */
    ipw_fake_rapl_zone(root, "intel-rapl:0", "package-0", 0, 10000000000ULL);
    ipw_errbuf eb = {0};
    struct ipw_collector *c = open_rapl(root, 5000, &eb);
    assert_non_null(c);
    assert_string_equal(c->info.notes, "");
    ipw_collector_close(c);
    c = open_rapl(root, 30000, &eb); /* an ipw telemetry --interval 30s */
    assert_non_null(c);
    assert_non_null(strstr(c->info.notes, "intel-rapl:0"));
    assert_non_null(strstr(c->info.notes, "too long"));
    ipw_collector_close(c);
    ipw_test_rmtree(root);
    free(root);
}

static void test_missing_powercap(void **state)
{
    (void)state;
    char *root = ipw_fake_sysfs_new();
    ipw_errbuf eb = {0};
    assert_null(open_rapl(root, 50, &eb));
    assert_int_equal(eb.code, IPW_E_NOTFOUND);
    assert_non_null(strstr(eb.msg, "class/powercap"));
    assert_non_null(strstr(eb.msg, "hwmon"));
    /* only the mmio interface: no package zone of our own */
    ipw_fake_rapl_zone(root, "intel-rapl-mmio:0", "package-0", 1, IPW_FAKE_RAPL_RANGE);
    assert_null(open_rapl(root, 50, &eb));
    assert_non_null(strstr(eb.msg, "no RAPL package zone"));
    ipw_test_rmtree(root);
    free(root);
}

static void test_amd_hwmon(void **state)
{
    (void)state;
    char *root = ipw_fake_sysfs_new();
    ipw_fake_hwmon_amd(root, 3, "zenergy", 4, 2, 1000);
    ipw_test_write(root, "class/hwmon/hwmon0/name", "k10temp\n");
    ipw_errbuf eb = {0};
    struct ipw_collector *c = open_rapl(root, 50, &eb);
    if (!c)
        fail_msg("open failed: %s", eb.msg);
    assert_string_equal(ipw_rapl_source(c), "hwmon");
    struct ipw_rapl_zone z[8];
    size_t n = ipw_rapl_zones(c, z, 8);
    assert_int_equal(n, 2); /* the sockets; the cores are inside them */
    assert_string_equal(z[0].id, "hwmon3/energy5");
    assert_string_equal(z[0].name, "Esocket0");
    assert_string_equal(z[1].name, "Esocket1");
    assert_int_equal(z[0].role, IPW_RAPL_PACKAGE);
    ipw_fake_hwmon_set(root, 3, 1, 900000);  /* a core: not added */
    ipw_fake_hwmon_set(root, 3, 5, 1001000); /* socket 0: +1 J */
    ipw_fake_hwmon_set(root, 3, 6, 3001000); /* socket 1: +3 J */
    struct ipw_reading r;
    sample_ok(c, &r);
    assert_double_equal(r.v[IPW_M_CPU_ENERGY_J], 4.0, 0);
    assert_false(ipw_reading_has(&r, IPW_M_DRAM_ENERGY_J));
    ipw_collector_close(c);
    ipw_test_rmtree(root);
    free(root);
}

/* ---- permissions: really denied, as an unprivileged user ------------------------------- */

static void open_forced(void *ud, FILE *out)
{
    struct ipw_collector_config cfg;
    ipw_collector_config_init(&cfg);
    cfg.sysfs_root = ud;
    struct ipw_collector *c = NULL;
    ipw_errbuf eb = {0};
    ipw_err e = ipw_collector_open("rapl", &cfg, &c, &eb);
    fprintf(out, "code=%d\nmsg=%s\n", (int)e, e == IPW_OK ? "" : eb.msg);
    if (e == IPW_OK) {
        fprintf(out, "source=%s\nnotes=%s\n", ipw_rapl_source(c), c->info.notes);
        ipw_collector_close(c);
    }
}

static void test_eacces_message(void **state)
{
    (void)state;
    char *root = ipw_fake_sysfs_new();
    ipw_fake_rapl_standard(root);
    ipw_fake_rapl_chmod(root, "intel-rapl:0", 0400);
    ipw_fake_rapl_chmod(root, "intel-rapl:0:1", 0400);
    ipw_fake_rapl_chmod(root, "intel-rapl:1", 0400);
    ipw_fake_rapl_chmod(root, "intel-rapl:1:1", 0400);
    ipw_fake_rapl_chmod(root, "intel-rapl:2", 0400);
    char out[4096];
    int st = ipw_test_unprivileged(open_forced, root, out, sizeof out);
    assert_int_equal(st, 0);
    char want[256];
    snprintf(want, sizeof want, "code=%d\n", IPW_E_PERM);
    if (!strstr(out, want))
        fail_msg("expected a permission error, got: %s", out);
    assert_non_null(strstr(out, "/class/powercap/intel-rapl:0/energy_uj: permission denied"));
    assert_non_null(strstr(out, "run the monitor as root"));
    assert_non_null(strstr(out, "udev rule"));
    assert_non_null(strstr(out, "chmod o+r"));

    /* ... while zenergy, readable by anyone, takes over with a note saying why */
    ipw_fake_hwmon_amd(root, 1, "zenergy", 2, 1, 77);
    st = ipw_test_unprivileged(open_forced, root, out, sizeof out);
    assert_int_equal(st, 0);
    if (!strstr(out, "code=0\n") || !strstr(out, "source=hwmon"))
        fail_msg("expected zenergy to open, got: %s", out);
    assert_non_null(strstr(out, "powercap unusable"));
    assert_non_null(strstr(out, "permission denied"));
    ipw_test_rmtree(root);
    free(root);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_discovery),
        cmocka_unit_test(test_energies_exact_no_double_counting),
        cmocka_unit_test(test_wrap),
        cmocka_unit_test(test_counter_jump),
        cmocka_unit_test(test_reset_without_range),
        cmocka_unit_test(test_power_derivation),
        cmocka_unit_test(test_bad_counter_tick),
        cmocka_unit_test(test_failing_file_spares_other_role),
        cmocka_unit_test(test_dies_and_top_level_dram),
        cmocka_unit_test(test_interval_warning),
        cmocka_unit_test(test_missing_powercap),
        cmocka_unit_test(test_amd_hwmon),
        cmocka_unit_test(test_eacces_message),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
