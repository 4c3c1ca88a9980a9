/* Least squares: exact lines, known data, edge cases (too few points, one distinct x,
 * constant y), numerical care with large offsets, and which queries give points. */
#include "ipw_test.h"

#include <math.h>
#include <string.h>

#include "analysis/regression.h"

static void test_exact_line(void **state)
{
    (void)state;
    struct ipw_ols o;
    ipw_ols_init(&o);
    for (int i = 0; i < 10; i++)
        ipw_ols_add(&o, i, 3.0 * i + 2.0);
    struct ipw_ols_fit f;
    ipw_ols_fit(&o, &f);
    assert_true(f.valid);
    assert_int_equal(f.count, 10);
    assert_double_equal(f.slope, 3, 1e-12);
    assert_double_equal(f.intercept, 2, 1e-12);
    assert_double_equal(f.r2, 1, 1e-12);
    assert_double_equal(f.avg_y, 15.5, 1e-12);
}

static void test_known_fit(void **state)
{
    (void)state;
    /* x = 1..5, y = 2,4,5,4,5: slope 0.6, intercept 2.2, r2 = 0.6 (worked by hand) */
    const double y[] = {2, 4, 5, 4, 5};
    struct ipw_ols o;
    ipw_ols_init(&o);
    for (int i = 0; i < 5; i++)
        ipw_ols_add(&o, i + 1, y[i]);
    ipw_ols_add(&o, NAN, 1);      /* ignored */
    ipw_ols_add(&o, 1, INFINITY); /* ignored */
    struct ipw_ols_fit f;
    ipw_ols_fit(&o, &f);
    assert_int_equal(f.count, 5);
    assert_double_equal(f.slope, 0.6, 1e-14);
    assert_double_equal(f.intercept, 2.2, 1e-14);
    assert_double_equal(f.r2, 0.6, 1e-14);
    assert_double_equal(f.avg_y, 4, 1e-14);
}

static void test_edges(void **state)
{
    (void)state;
    struct ipw_ols o;
    struct ipw_ols_fit f;
    ipw_ols_init(&o);
    ipw_ols_fit(&o, &f);
    assert_false(f.valid);
    assert_int_equal(f.count, 0);
    assert_true(isnan(f.avg_y));
    ipw_ols_add(&o, 1, 5);
    ipw_ols_fit(&o, &f);
    assert_false(f.valid);
    assert_double_equal(f.avg_y, 5, 0);
    ipw_ols_add(&o, 1, 7); /* two points, one distinct x */
    ipw_ols_fit(&o, &f);
    assert_false(f.valid);
    assert_int_equal(f.count, 2);
    assert_double_equal(f.avg_y, 6, 0);
    /* constant y: a perfect (flat) fit */
    ipw_ols_init(&o);
    ipw_ols_add(&o, 1, 4);
    ipw_ols_add(&o, 2, 4);
    ipw_ols_add(&o, 3, 4);
    ipw_ols_fit(&o, &f);
    assert_true(f.valid);
    assert_double_equal(f.slope, 0, 0);
    assert_double_equal(f.intercept, 4, 0);
    assert_double_equal(f.r2, 1, 0);
}

/* Naive sums (Σx², Σxy) lose every digit here; centred sums keep them. */
static void test_large_offset(void **state)
{
    (void)state;
    struct ipw_ols o;
    ipw_ols_init(&o);
    const double base = 1e9;
    for (int i = 0; i < 1000; i++) {
        double x = base + i * 0.001;
        ipw_ols_add(&o, x, 2.0 * (x - base) + 1.0 + ((i % 2) ? 1e-6 : -1e-6));
    }
    struct ipw_ols_fit f;
    ipw_ols_fit(&o, &f);
    assert_true(f.valid);
    assert_double_equal(f.slope, 2.0, 1e-4);
    assert_true(f.r2 > 0.999999);
}

static struct ipw_run_query query(double in, double out, double ttft, double lat, double joules,
                                  double watts)
{
    struct ipw_run_query q;
    memset(&q, 0, sizeof q);
    q.input_tokens = in;
    q.output_tokens = out;
    q.total_tokens = in + out;
    q.ttft_s = ttft;
    q.latency_s = lat;
    q.energy_j = joules;
    q.power_avg_w = watts;
    q.prefill_j = joules * 0.1;
    q.decode_j = joules * 0.9;
    q.total_j = q.active_j = q.idle_w = q.decode_s = q.total_power_avg_w = NAN;
    return q;
}

static void test_points_and_json(void **state)
{
    (void)state;
    struct ipw_regression r;
    ipw_regression_init(&r);
    struct ipw_run_query q1 = query(100, 50, 0.1, 1.0, 100, 100);
    struct ipw_run_query q2 = query(200, 100, 0.2, 2.0, 200, 0); /* energy/latency beats 0 W */
    struct ipw_run_query q3 = query(300, 150, 0.3, 3.0, 300, 120);
    struct ipw_run_query q4 = query(400, 200, 0.4, 4.0, 400, 130);
    q4.failed = true; /* failed queries give no points */
    struct ipw_run_query q5 = query(0, 0, 0, 0.1, 1, NAN); /* ln 0: no log point */
    double x, y;
    /* issue 10 item 4: per-query power is energy / latency (SPEC §4.2), not the sampled
     * window's mean, which holds a boundary sample from before the query */
    assert_true(ipw_regression_point(IPW_REG_TOTAL_POWER, &q2, &x, &y));
    assert_double_equal(y, 100, 1e-12);
    struct ipw_run_query demo = query(10, 20, 0.1, 0.5, 161, 271);
    assert_true(ipw_regression_point(IPW_REG_TOTAL_POWER, &demo, &x, &y));
    assert_double_equal(y, 322, 1e-12);
    struct ipw_run_query idle = query(10, 20, 0.1, 0.5, 0, 0); /* no energy, 0 W: left out */
    assert_false(ipw_regression_point(IPW_REG_TOTAL_POWER, &idle, &x, &y));
    struct ipw_run_query window_only = query(10, 20, 0.1, 0.5, NAN, 90);
    assert_true(ipw_regression_point(IPW_REG_TOTAL_POWER, &window_only, &x, &y));
    assert_double_equal(y, 90, 1e-12);
    assert_true(ipw_regression_point(IPW_REG_TOTAL_POWER_LOG, &q1, &x, &y));
    assert_double_equal(x, log(150), 1e-15);
    assert_true(ipw_regression_point(IPW_REG_TOTAL_POWER, &q5, &x, &y)); /* 1 J / 0.1 s */
    assert_double_equal(y, 10, 1e-12);
    assert_false(ipw_regression_point(IPW_REG_TOTAL_POWER_LOG, &q5, &x, &y));
    assert_false(ipw_regression_point(IPW_REG_INPUT_TTFT, &q4, &x, &y));
    struct ipw_run_query *qs[] = {&q1, &q2, &q3, &q4, &q5};
    for (size_t i = 0; i < 5; i++)
        ipw_regression_add(&r, qs[i]);
    json_t *doc = ipw_regression_json(&r);
    const json_t *regs = json_object_get(json_object_get(doc, "data"), "regressions");
    assert_int_equal(json_object_size(regs), IPW_REG_COUNT);
    const json_t *ttft = json_object_get(regs, "input_tokens_vs_ttft");
    assert_int_equal(json_integer_value(json_object_get(ttft, "count")), 4);
    assert_double_equal(json_real_value(json_object_get(ttft, "slope")), 0.001, 1e-12);
    const json_t *plog = json_object_get(regs, "total_tokens_vs_power_log");
    assert_int_equal(json_integer_value(json_object_get(plog, "count")), 3);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(doc, "summary"),
                                                        "total_samples")),
                     4);
    struct ipw_ols_fit f;
    assert_true(ipw_regression_fit_from_json(doc, IPW_REG_TOTAL_ENERGY, &f));
    assert_true(f.valid);
    /* q5 is off the line: compare with a plain two-pass computation */
    const double ex[] = {150, 300, 450, 0}, ey[] = {100, 200, 300, 1};
    double mx = 0, my = 0, sxy = 0, sxx = 0;
    for (int i = 0; i < 4; i++) {
        mx += ex[i] / 4;
        my += ey[i] / 4;
    }
    for (int i = 0; i < 4; i++) {
        sxy += (ex[i] - mx) * (ey[i] - my);
        sxx += (ex[i] - mx) * (ex[i] - mx);
    }
    assert_double_equal(f.slope, sxy / sxx, 1e-12);
    assert_double_equal(f.intercept, my - sxy / sxx * mx, 1e-10);
    json_decref(doc);

    /* too few points: nulls and a warning */
    ipw_regression_init(&r);
    ipw_regression_add(&r, &q1);
    doc = ipw_regression_json(&r);
    regs = json_object_get(json_object_get(doc, "data"), "regressions");
    assert_true(json_is_null(json_object_get(json_object_get(regs, "total_tokens_vs_energy"),
                                             "slope")));
    assert_true(json_array_size(json_object_get(doc, "warnings")) >= IPW_REG_COUNT);
    json_decref(doc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exact_line),   cmocka_unit_test(test_known_fit),
        cmocka_unit_test(test_edges),        cmocka_unit_test(test_large_offset),
        cmocka_unit_test(test_points_and_json),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
