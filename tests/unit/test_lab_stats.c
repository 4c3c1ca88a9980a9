/* The lab's statistics against numpy and an independent enumeration: batch summaries (mean,
 * median, population std, p5/p95 linear, CV) to 1e-12, the bootstrap CI (fixed seed, so
 * repeatable; it must bracket the median), the Mann-Whitney p-value exact and asymptotic, the
 * difference of medians, the recommended run count, and the verdict of a comparison. */
#include "ipw_test.h"

#include <math.h>
#include <string.h>

#include "ipw/lab.h"

static const double V[] = {0.1123, 0.0987, 0.1311, 0.1045, 0.1202, 0.0999, 0.15,
                           0.1101, 0.1077, 0.125,  0.0931, 0.1188, 0.1034};
#define NV (sizeof V / sizeof V[0])

static void rel(double got, double want)
{
    if (!(fabs(got - want) <= 1e-12 * fabs(want)))
        fail_msg("%.17g, numpy %.17g", got, want);
}

static void test_summary_matches_numpy(void **state)
{
    (void)state;
    struct ipw_lab_stat st;
    assert_int_equal(ipw_lab_stat_compute(V, NV, &st, NULL), IPW_OK);
    /* numpy: v.mean(), np.median(v), v.std(), np.percentile(v, 5/95), v.std()/v.mean() */
    rel(st.s.avg, 0x1.d0acea0a04fa6p-4);
    rel(st.s.median, 0x1.c2f837b4a233ap-4);
    rel(st.s.std, 0x1.e929adc0f5050p-7);
    rel(st.s.p5, 0x1.8b19a415f45e1p-4);
    rel(st.s.p95, 0x1.1bf9c62a1b5c7p-3);
    rel(st.s.cv, 0x1.0d7d99ed57906p-3);
    assert_true(st.median_ci.lo <= st.s.median && st.s.median <= st.median_ci.hi);
    assert_true(st.median_ci.lo < st.median_ci.hi);
    struct ipw_lab_stat again;
    ipw_lab_stat_compute(V, NV, &again, NULL);
    assert_double_equal(again.median_ci.lo, st.median_ci.lo, 0); /* fixed seed */
    assert_double_equal(again.median_ci.hi, st.median_ci.hi, 0);
    struct ipw_lab_stat one;
    ipw_lab_stat_compute(V, 1, &one, NULL);
    assert_true(isnan(one.median_ci.lo));
}

static void test_mann_whitney(void **state)
{
    (void)state;
    double u, p;
    /* no ties, small: exact, checked by enumerating all C(11,5) splits */
    double a[] = {1.1, 2.3, 0.7, 3.1, 1.9}, b[] = {2.5, 3.3, 4.0, 2.8, 3.6, 5.1};
    assert_int_equal(ipw_lab_mann_whitney(a, 5, b, 6, &u, &p, NULL), IPW_OK);
    assert_double_equal(u, 2.0, 0);
    rel(p, 0x1.1bb4a4046ed29p-6);
    /* ties: normal approximation with tie and continuity corrections */
    double c[] = {1, 2, 2, 3, 4, 5, 5, 6}, d[] = {3, 4, 4, 5, 6, 7, 7, 8, 9};
    assert_int_equal(ipw_lab_mann_whitney(c, 8, d, 9, &u, &p, NULL), IPW_OK);
    assert_double_equal(u, 14.0, 0);
    rel(p, 0x1.30407d717927fp-5);
    /* the same samples: no difference */
    assert_int_equal(ipw_lab_mann_whitney(a, 5, a, 5, &u, &p, NULL), IPW_OK);
    assert_true(p > 0.9);
    double e[] = {1, 1, 1}, f[] = {1, 1};
    assert_int_equal(ipw_lab_mann_whitney(e, 3, f, 2, &u, &p, NULL), IPW_OK);
    assert_double_equal(p, 1, 0);
    assert_int_equal(ipw_lab_mann_whitney(e, 0, f, 2, &u, &p, NULL), IPW_E_INVALID);
}

static void test_median_diff_and_runs(void **state)
{
    (void)state;
    double a[] = {1.0, 1.1, 0.9, 1.05, 0.95, 1.02, 0.98, 1.01};
    double b[] = {1.5, 1.6, 1.4, 1.55, 1.45, 1.52, 1.48, 1.51};
    double diff;
    struct ipw_lab_ci ci;
    assert_int_equal(ipw_lab_median_diff_ci(a, 8, b, 8, 7, &diff, &ci, NULL), IPW_OK);
    assert_double_equal(diff, 1.505 - 1.005, 1e-12);
    assert_true(ci.lo > 0.3 && ci.hi < 0.7 && ci.lo <= diff && diff <= ci.hi);
    /* half-width 10 % of the median after 10 runs; 5 % needs four times as many */
    struct ipw_lab_ci w = {0.9, 1.1};
    assert_int_equal(ipw_lab_recommended_runs(10, 1.0, &w, 5), 40);
    assert_int_equal(ipw_lab_recommended_runs(10, 1.0, &w, 20), 10); /* reached already */
    assert_int_equal(ipw_lab_recommended_runs(1, 1.0, &w, 5), 0);
}

static struct ipw_lab_run mk(const char *variant, double wh, long out)
{
    struct ipw_lab_run r;
    ipw_lab_run_init(&r);
    snprintf(r.variant, sizeof r.variant, "%s", variant);
    r.have_energy = true;
    r.prefill_wh = wh / 4;
    r.decode_wh = wh - wh / 4;
    r.total_wh = wh;
    r.output_tokens = out;
    r.input_tokens = 10;
    r.latency_s = 1;
    ipw_lab_run_derive(&r, 445);
    return r;
}

static void test_summarize_and_compare(void **state)
{
    (void)state;
    struct ipw_lab_run runs[20];
    for (int i = 0; i < 10; i++) {
        runs[2 * i] = mk("bare", 0.010 + 0.0001 * i, 100);
        runs[2 * i + 1] = mk("tools", 0.012 + 0.0001 * i, 100);
    }
    snprintf(runs[5].error, sizeof runs[5].error, "broken stream");
    struct ipw_lab_summary s;
    assert_int_equal(ipw_lab_summarize(runs, 20, "tools", &s, NULL), IPW_OK);
    assert_int_equal(s.runs, 9);
    assert_int_equal(s.failed, 1);
    assert_int_equal(s.stat[IPW_LAB_M_TOTAL_WH].s.n, 9);
    json_t *j = ipw_lab_summary_to_json(&s);
    assert_non_null(json_object_get(json_object_get(j, "wh_per_1000_etokens"), "median_ci95"));
    json_decref(j);
    struct ipw_lab_comparison c;
    assert_int_equal(ipw_lab_compare(runs, 20, "bare", "tools", IPW_LAB_M_WH_PER_1000_ETOKENS,
                                     &c, NULL),
                     IPW_OK);
    assert_true(c.diff > 0.015 && c.diff < 0.025);
    assert_true(c.p < 0.01);
    assert_non_null(strstr(c.verdict, "tools costs +"));
    assert_non_null(strstr(c.verdict, "95 % CI"));
    assert_int_equal(ipw_lab_compare(runs, 20, "bare", "bare", IPW_LAB_M_WH_PER_1000_ETOKENS, &c,
                                     NULL),
                     IPW_OK);
    assert_non_null(strstr(c.verdict, "no clear difference"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_summary_matches_numpy),
        cmocka_unit_test(test_mann_whitney),
        cmocka_unit_test(test_median_diff_and_runs),
        cmocka_unit_test(test_summarize_and_compare),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
