/* The /proc/meminfo rate limit the monitor uses (ipw_collector_config.meminfo_interval_ns):
 * a value younger than the interval is reused, an older one re-read, 0 reads every time. */
#include <stdlib.h>

#include "ipw/collector.h"
#include "ipw_test.h"

static void write_meminfo(const char *dir, long avail_kb)
{
    char text[256];
    snprintf(text, sizeof text,
             "MemTotal:        1048576 kB\nMemFree:          100000 kB\nMemAvailable:   %ld kB\n",
             avail_kb);
    ipw_test_write(dir, "meminfo", text);
}

static void test_cached_reads(void **state)
{
    (void)state;
    char *dir = ipw_test_mkdtemp("ipw-meminfo");
    write_meminfo(dir, 524288);
    struct ipw_meminfo *m;
    ipw_errbuf eb = {0};
    assert_int_equal(ipw_meminfo_open(dir, &m, &eb), IPW_OK);
    double mb;
    const int64_t t = 1000000000LL, age = 250000000LL;
    assert_int_equal(ipw_meminfo_used_mb_cached(m, t, age, &mb), IPW_OK);
    assert_double_equal(mb, 512, 1e-9);
    write_meminfo(dir, 262144);
    assert_int_equal(ipw_meminfo_used_mb_cached(m, t + age - 1, age, &mb), IPW_OK);
    assert_double_equal(mb, 512, 1e-9); /* still the cached value */
    assert_int_equal(ipw_meminfo_used_mb_cached(m, t + age, age, &mb), IPW_OK);
    assert_double_equal(mb, 768, 1e-9); /* re-read */
    write_meminfo(dir, 524288);
    assert_int_equal(ipw_meminfo_used_mb_cached(m, t + age + 1, 0, &mb), IPW_OK);
    assert_double_equal(mb, 512, 1e-9); /* 0: every call reads */
    ipw_meminfo_close(m);
    ipw_test_rmtree(dir);
    free(dir);
}

/* Through a collector: the default still reads every sample. */
static void test_collector_interval(void **state)
{
    (void)state;
    char *dir = ipw_test_mkdtemp("ipw-meminfo");
    write_meminfo(dir, 524288);
    struct ipw_collector_config cfg;
    ipw_collector_config_init(&cfg);
    cfg.procfs_root = dir;
    assert_true(cfg.meminfo_interval_ns == 0);
    struct ipw_collector *every, *slow;
    ipw_errbuf eb = {0};
    assert_int_equal(ipw_collector_open("null", &cfg, &every, &eb), IPW_OK);
    cfg.meminfo_interval_ns = 3600LL * 1000000000LL;
    assert_int_equal(ipw_collector_open("null", &cfg, &slow, &eb), IPW_OK);
    struct ipw_reading r;
    assert_int_equal(ipw_collector_sample(every, &r, NULL, &eb), IPW_OK);
    assert_double_equal(r.v[IPW_M_CPU_MEM_USED_MB], 512, 1e-9);
    assert_int_equal(ipw_collector_sample(slow, &r, NULL, &eb), IPW_OK);
    assert_double_equal(r.v[IPW_M_CPU_MEM_USED_MB], 512, 1e-9);
    write_meminfo(dir, 262144);
    assert_int_equal(ipw_collector_sample(every, &r, NULL, &eb), IPW_OK);
    assert_double_equal(r.v[IPW_M_CPU_MEM_USED_MB], 768, 1e-9);
    assert_int_equal(ipw_collector_sample(slow, &r, NULL, &eb), IPW_OK);
    assert_true(ipw_reading_has(&r, IPW_M_CPU_MEM_USED_MB));
    assert_double_equal(r.v[IPW_M_CPU_MEM_USED_MB], 512, 1e-9);
    ipw_collector_close(every);
    ipw_collector_close(slow);
    ipw_test_rmtree(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_cached_reads),
                                       cmocka_unit_test(test_collector_interval)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
