/* The CPU power model's pieces (src/telemetry/cpu_table.c, cpu_load.c): the TDP table reader
 * and its errors, model-name matching against the shipped table, /proc/stat parsing and the
 * busy share, and the load curve. */
#include "ipw_test.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "telemetry/cpu_model.h"

static struct ipw_cpu_table *parse(const char *text, ipw_errbuf *eb)
{
    struct ipw_cpu_table *t = NULL;
    ipw_cpu_table_parse(text, strlen(text), "t.csv", &t, eb);
    return t;
}

static void test_table_reader(void **state)
{
    (void)state;
    ipw_errbuf eb = {0};
    struct ipw_cpu_table *t = parse("Name,TDP\nAMD EPYC 9654,360.0\n\"Intel Core i5+8400  (9M "
                                    "Cache, up to 4.00 GHz)\",65\r\n\nIntel Xeon E5-2620 v3,85\n",
                                    &eb);
    assert_non_null(t);
    assert_int_equal(ipw_cpu_table_rows(t), 3);
    double tdp = 0;
    assert_string_equal(ipw_cpu_table_match(t, "AMD EPYC 9654 96-Core Processor", &tdp),
                        "AMD EPYC 9654");
    assert_true(tdp == 360.0);
    ipw_cpu_table_free(t);

    static const struct {
        const char *text, *msg;
    } bad[] = {
        {"Model,Watts\nx 1,2\n", "t.csv line 1: expected the header 'Name,TDP'"},
        {"Name,TDP\nIntel Celeron 1000A,27.29.5\n", "t.csv line 2: TDP '27.29.5' is not a wattage"},
        {"Name,TDP\nAMD EPYC 9654\n", "t.csv line 2: expected 'name,TDP watts'"},
        {"Name,TDP\n\"unterminated,3\n", "t.csv line 2: expected 'name,TDP watts'"},
        {"Name,TDP\nA,1,2\n", "t.csv line 2: expected 'name,TDP watts'"},
        {"Name,TDP\n", "t.csv has no rows"},
        {"Name,TDP\nx 1,-5\n", "t.csv line 2: TDP '-5' is not a wattage"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ipw_errbuf e2 = {0};
        assert_null(parse(bad[i].text, &e2));
        assert_string_equal(e2.msg, bad[i].msg);
    }
    /* a line over the limit is refused, not cut */
    char *longl = malloc(IPW_CPU_TABLE_MAX_LINE + 32);
    assert_non_null(longl);
    strcpy(longl, "Name,TDP\n");
    memset(longl + 9, 'x', IPW_CPU_TABLE_MAX_LINE);
    strcpy(longl + 9 + IPW_CPU_TABLE_MAX_LINE, ",5\n");
    ipw_errbuf e3 = {0};
    assert_null(parse(longl, &e3));
    assert_non_null(strstr(e3.msg, "line 2: longer than"));
    free(longl);
}

static void test_match_shipped_table(void **state)
{
    (void)state;
    struct ipw_cpu_table *t = NULL;
    ipw_errbuf eb = {0};
    assert_int_equal(ipw_cpu_table_load(&t, &eb), IPW_OK);
    assert_true(ipw_cpu_table_rows(t) > 4000);
    static const struct {
        const char *cpuinfo, *entry;
        double tdp;
    } cases[] = {
        {"Intel(R) Xeon(R) CPU E5-2620 v3 @ 2.40GHz", "Intel Xeon E5-2620 v3", 85},
        {"Intel(R) Xeon(R) CPU E3-1240 V2 @ 3.40GHz", "Intel Xeon E3-1240 v2", 69},
        {"AMD EPYC 8024P 8-Core Processor", "AMD EPYC 8024P", 90}, /* not 8024PN */
        {"AMD Ryzen Threadripper 1950X 16-Core Processor", "AMD Ryzen Threadripper 1950X", 180},
        {"Intel(R) Core(TM) i7-1185G7 @ 3.00GHz", "Intel Core i7-1185G7", 28}, /* not ...G7E */
        {"Intel(R) Xeon(R) Platinum 8480+", "Intel Xeon Platinum 8480+", 350},
        {"AMD EPYC 9654 96-Core Processor", "AMD EPYC 9654", 360},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        double tdp = 0;
        const char *e = ipw_cpu_table_match(t, cases[i].cpuinfo, &tdp);
        assert_non_null(e);
        assert_string_equal(e, cases[i].entry);
        assert_true(fabs(tdp - cases[i].tdp) < 1e-9);
    }
    /* no model number: no guess */
    assert_null(ipw_cpu_table_match(t, "AMD EPYC", NULL));
    assert_null(ipw_cpu_table_match(t, "Intel(R) Xeon(R) Processor", NULL));
    assert_null(ipw_cpu_table_match(t, "", NULL));
    assert_null(ipw_cpu_table_match(t, NULL, NULL));
    ipw_cpu_table_free(t);
}

static void test_procstat(void **state)
{
    (void)state;
    struct ipw_cpu_times a, b;
    ipw_errbuf eb = {0};
    const char *s1 = "cpu  100 10 50 800 40 5 5 7 3 0\ncpu0 1 2 3 4\n";
    assert_int_equal(ipw_procstat_parse(s1, strlen(s1), &a, &eb), IPW_OK);
    assert_int_equal(a.busy, 100 + 10 + 50 + 5 + 5); /* steal and guest left out */
    assert_int_equal(a.idle, 800 + 40);
    const char *s2 = "cpu  200 10 100 900 40 5 5 9 3 0\n";
    assert_int_equal(ipw_procstat_parse(s2, strlen(s2), &b, &eb), IPW_OK);
    assert_true(fabs(ipw_cpu_busy_share(&a, &b) - 150.0 / 250.0) < 1e-12);
    assert_true(ipw_cpu_busy_share(&a, &a) < 0); /* no tick */
    assert_true(ipw_cpu_busy_share(&b, &a) < 0); /* went backwards */
    /* old kernels: four fields */
    const char *s3 = "cpu 1 2 3 4\n";
    assert_int_equal(ipw_procstat_parse(s3, strlen(s3), &a, &eb), IPW_OK);
    assert_int_equal(a.busy, 6);
    const char *badv[] = {"intr 5\n", "cpu 1 2 3\n", "cpu 1 x 3 4\n", ""};
    for (size_t i = 0; i < 4; i++) {
        ipw_errbuf e2 = {0};
        assert_int_not_equal(ipw_procstat_parse(badv[i], strlen(badv[i]), &a, &e2), IPW_OK);
        assert_non_null(strstr(e2.msg, "/proc/stat"));
    }
}

static void test_load_curve(void **state)
{
    (void)state;
    struct ipw_cpu_power_model m = {.tdp_w = 100, .idle_w = 5, .full_w = 70, .packages = 2};
    assert_true(fabs(ipw_cpu_model_power(&m, 0) - 10) < 1e-12);
    assert_true(fabs(ipw_cpu_model_power(&m, 0.5) - 75) < 1e-12);
    assert_true(fabs(ipw_cpu_model_power(&m, 1) - 140) < 1e-12);
    assert_true(fabs(ipw_cpu_model_power(&m, 7) - 140) < 1e-12); /* clamped */
    assert_true(fabs(ipw_cpu_model_power(&m, -1) - 10) < 1e-12);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table_reader),
        cmocka_unit_test(test_match_shipped_table),
        cmocka_unit_test(test_procstat),
        cmocka_unit_test(test_load_curve),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
