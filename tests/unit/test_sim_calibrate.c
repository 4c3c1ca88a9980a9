/* ipw simulate calibrate (issue 14 item 2): a synthetic run generated from known
 * coefficients (idle power, prefill FLOP/s and decode bytes/s efficiencies, busy power in
 * compute- and bandwidth-bound steps) is fitted back within 1 %, the held-out error is ~0,
 * the written spec loads and carries the fit, and bad runs get clear errors. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "ipw/predict.h"

#define IDLE 80.0
#define ETA_C 0.55
#define ETA_B 0.72
#define P_C 610.0
#define P_B 355.0

static char dir[256];

/* Writes a run of n queries on H100 / llama-3.1-8b, times and energies from the model. */
static void write_run(const char *d, int n, bool long_prompts)
{
    mkdir(d, 0755);
    char path[512];
    snprintf(path, sizeof path, "%s/summary.json", d);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "{\"model\":\"llama-3.1-8b\",\"hardware_label\":\"H10080GB\",\"gpu_info\":{\"name\":"
               "\"NVIDIA H100 80GB HBM3\"},\"telemetry\":{\"baseline\":{\"gpu_watts\":%g}}}\n",
            IDLE);
    fclose(f);
    struct ipw_hw_spec hw;
    struct ipw_model_spec m;
    struct ipw_perf pm;
    ipw_errbuf eb = {0};
    assert_int_equal(ipw_hw_spec_load("H100", &hw, &eb), IPW_OK);
    assert_int_equal(ipw_model_spec_load("llama-3.1-8b", &m, &eb), IPW_OK);
    assert_int_equal(ipw_perf_init(&pm, &hw, &m, NULL, &eb), IPW_OK);
    snprintf(path, sizeof path, "%s/records.jsonl", d);
    f = fopen(path, "w");
    assert_non_null(f);
    double t0 = 1.8e9;
    for (int i = 0; i < n; i++) {
        long in = !long_prompts ? 20 + 7 * (i % 11)
                  : i % 3 == 0  ? 1500 + 700 * (i % 7)
                                : 20 + 37 * (i % 11);
        long out = 2 + 29 * (i % 13);
        struct ipw_perf_step st;
        ipw_perf_prefill(&pm, in, &st);
        double c = st.flops / (pm.peak_flops * ETA_C), mem = st.bytes / (hw.mem_bw * ETA_B);
        double tp = fmax(c, mem), pp = c > mem ? P_C : P_B, td = 0;
        for (long j = 0; j + 1 < out; j++) {
            ipw_perf_decode_step(&pm, in + j, &st);
            td += st.bytes / (hw.mem_bw * ETA_B);
        }
        double ep = pp * tp, ed = P_B * td;
        fprintf(f,
                "{\"record_index\":%d,\"status\":\"ok\",\"request_start_time\":%.6f,"
                "\"model_metrics\":{\"llama-3.1-8b\":{\"token_metrics\":{\"input\":%ld,"
                "\"output\":%ld},\"energy_metrics\":{\"per_query_joules\":%.17g,"
                "\"prefill_joules\":%.17g,\"decode_joules\":%.17g,\"idle_power_watts\":%g},"
                "\"latency_metrics\":{\"time_to_first_token_seconds\":%.17g,"
                "\"total_query_seconds\":%.17g,\"decode_seconds\":%.17g}}}}\n",
                i, t0, in, out, ep + ed, ep, ed, IDLE, tp, tp + td, td);
        t0 += tp + td + 0.5;
    }
    fclose(f);
}

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/ipw-test-calib-%d", (int)getpid());
    mkdir(dir, 0755);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static double rel(double a, double b)
{
    return fabs(a - b) / fabs(b);
}

static void test_recovers_coefficients(void **state)
{
    (void)state;
    char run[400];
    snprintf(run, sizeof run, "%s/run", dir);
    write_run(run, 60, true);
    /* not vacuous: every known coefficient is at least 3 % away from the H100 spec's default,
     * so a fit that fell back to the spec would fail the 1 % checks below */
    struct ipw_hw_spec base;
    ipw_errbuf eb = {0};
    assert_int_equal(ipw_hw_spec_load("H100", &base, &eb), IPW_OK);
    assert_true(rel(IDLE, base.idle_w) > 0.03 && rel(ETA_C, base.eff_compute) > 0.03 &&
                rel(ETA_B, base.eff_bw) > 0.03);
    assert_true(rel(P_C, ipw_hw_power_w(&base, base.util_compute)) > 0.03 &&
                rel(P_B, ipw_hw_power_w(&base, base.util_bw)) > 0.03);
    struct ipw_calib_options o = {run, NULL, NULL, 5};
    struct ipw_calib_result r;
    assert_int_equal(ipw_calibrate_run(&o, &r, &eb), IPW_OK);
    printf("fit: idle %.3f W, eta_c %.5f, eta_b %.5f, P_c %.3f W, P_b %.3f W, held-out %.4f %%\n",
           r.idle_w, r.eff_compute, r.eff_bw, r.p_compute_w, r.p_bw_w,
           100 * r.cv_median_abs_err);
    assert_int_equal(r.n_used, 60);
    assert_true(r.idle_from_baseline);
    assert_true(r.compute_identified);
    assert_true(rel(r.idle_w, IDLE) < 0.01);
    assert_true(rel(r.eff_compute, ETA_C) < 0.01);
    assert_true(rel(r.eff_bw, ETA_B) < 0.01);
    assert_true(rel(r.p_compute_w, P_C) < 0.01);
    assert_true(rel(r.p_bw_w, P_B) < 0.01);
    assert_true(r.cv_median_abs_err < 0.01 && r.cv_total_err < 0.01);
    assert_true(rel(r.pred_decode_j_per_token, r.decode_j_per_token) < 0.2);

    /* the written spec loads and puts the fitted powers back */
    char spec[400];
    snprintf(spec, sizeof spec, "%s/h100-cal.json", dir);
    assert_int_equal(ipw_predict_write_spec(&r.spec, "test", spec, &eb), IPW_OK);
    struct ipw_hw_spec hw;
    assert_int_equal(ipw_hw_spec_load(spec, &hw, &eb), IPW_OK);
    assert_true(rel(hw.eff_bw, ETA_B) < 0.01 && rel(hw.eff_compute, ETA_C) < 0.01);
    assert_true(rel(ipw_hw_power_w(&hw, hw.util_bw), P_B) < 0.01);
    assert_true(rel(ipw_hw_power_w(&hw, hw.util_compute), P_C) < 0.01);
    assert_true(rel(hw.idle_w, IDLE) < 0.01);
}

/* Short prompts only: prefill never compute-bound, so eta_c is kept and said to be. */
static void test_short_prompts_keep_compute(void **state)
{
    (void)state;
    char run[400];
    snprintf(run, sizeof run, "%s/short", dir);
    write_run(run, 20, false);
    struct ipw_calib_options o = {run, NULL, NULL, 4};
    struct ipw_calib_result r;
    ipw_errbuf eb = {0};
    assert_int_equal(ipw_calibrate_run(&o, &r, &eb), IPW_OK);
    assert_false(r.compute_identified);
    assert_true(rel(r.eff_compute, 0.6) < 1e-9); /* the H100 spec's */
    assert_true(rel(r.eff_bw, ETA_B) < 0.01);
    assert_true(rel(r.p_bw_w, P_B) < 0.01);
    assert_int_equal(r.folds, 4);
}

static void test_bad_runs(void **state)
{
    (void)state;
    char run[400];
    snprintf(run, sizeof run, "%s/tiny", dir);
    write_run(run, 3, false);
    struct ipw_calib_options o = {run, NULL, NULL, 5};
    struct ipw_calib_result r;
    ipw_errbuf eb = {0};
    assert_int_not_equal(ipw_calibrate_run(&o, &r, &eb), IPW_OK);
    assert_non_null(strstr(eb.msg, "3 usable records"));
    o.hardware = "NoSuchGPU";
    assert_int_not_equal(ipw_calibrate_run(&o, &r, &eb), IPW_OK);
    assert_non_null(strstr(eb.msg, "NoSuchGPU"));
    /* the same run against a slower spec than it ran on: faster than that peak */
    snprintf(run, sizeof run, "%s/run", dir);
    o.run_dir = run;
    o.hardware = "RTX4090";
    assert_int_not_equal(ipw_calibrate_run(&o, &r, &eb), IPW_OK);
    assert_non_null(strstr(eb.msg, "faster than"));
    o.run_dir = "/nonexistent/run";
    o.hardware = NULL;
    assert_int_not_equal(ipw_calibrate_run(&o, &r, &eb), IPW_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_recovers_coefficients),
        cmocka_unit_test(test_short_prompts_keep_compute),
        cmocka_unit_test(test_bad_runs),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
