/* Sweeps (issue 14 item 4): --sweep parsing and its errors, the grid order, Pareto
 * membership on a hand-made set of points, and the CSV's columns. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "ipw/predict.h"

static void test_parse(void **state)
{
    (void)state;
    struct ipw_sweep_param p[2];
    ipw_errbuf eb = {0};
    assert_int_equal(ipw_sweep_param_parse("max-num-seqs=8,16,32", &p[0], &eb), IPW_OK);
    assert_int_equal(p[0].n, 3);
    assert_string_equal(p[0].values[2], "32");
    assert_int_equal(ipw_sweep_param_parse("tp=1,2", &p[1], &eb), IPW_OK);
    size_t n, idx[2];
    assert_int_equal(ipw_sweep_size(p, 2, &n, &eb), IPW_OK);
    assert_int_equal(n, 6);
    ipw_sweep_point(p, 2, 3, idx); /* the last parameter varies fastest */
    assert_int_equal(idx[0], 1);
    assert_int_equal(idx[1], 1);
    static const char *const bad[] = {"max-num-seqs", "=1,2", "colour=1,2", "max-num-seqs=8,,16",
                                      "max-num-seqs=8.5", "enable-chunked-prefill=2", "tp=0",
                                      "npu-memory-utilization=1.5", "block-size=-16"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (ipw_sweep_param_parse(bad[i], &p[0], &eb) == IPW_OK)
            fail_msg("'%s' was accepted", bad[i]);
    assert_int_equal(ipw_sweep_param_parse("npu-memory-utilization=0.5,0.9", &p[0], &eb), IPW_OK);
    /* the message names the rule of the parameter given, not tp's */
    assert_int_not_equal(ipw_sweep_param_parse("max-num-seqs=8,abc", &p[0], &eb), IPW_OK);
    assert_string_equal(eb.msg, "--sweep max-num-seqs: 'abc' is not a whole number");
    assert_int_not_equal(ipw_sweep_param_parse("tp=0", &p[0], &eb), IPW_OK);
    assert_string_equal(eb.msg, "--sweep tp: '0' is not a whole number, at least 1");
}

static struct ipw_sweep_row row(double tok_s, double jpt, double p99)
{
    struct ipw_sweep_row r;
    memset(&r, 0, sizeof r);
    r.ok = true;
    r.tok_s = tok_s;
    r.j_per_token = jpt;
    r.latency_p99_s = p99;
    for (int i = 0; i < 7; i++)
        r.energy[i] = 1;
    return r;
}

static void test_pareto(void **state)
{
    (void)state;
    struct ipw_sweep_row r[6] = {
        row(100, 1.0, 10), /* dominated by 1 for throughput; lowest p99 latency */
        row(200, 0.8, 12), /* frontier in both */
        row(150, 0.9, 20), /* dominated by 1 in both */
        row(300, 1.2, 30), /* frontier for throughput (highest), dominated for latency */
        row(90, 0.7, 50),  /* lowest energy: frontier in both */
        row(200, 0.8, 12), /* equal to 1: neither dominates the other */
    };
    r[5].ok = true;
    struct ipw_sweep_row failed = row(1000, 0.1, 1);
    failed.ok = false;
    struct ipw_sweep_row all[7];
    memcpy(all, r, sizeof r);
    all[6] = failed;
    ipw_sweep_pareto(all, 7);
    bool tput[] = {false, true, false, true, true, true, false};
    bool lat[] = {true, true, false, false, true, true, false};
    for (int i = 0; i < 7; i++) {
        if (all[i].pareto_tput != tput[i])
            fail_msg("point %d: throughput frontier %d", i, all[i].pareto_tput);
        if (all[i].pareto_lat != lat[i])
            fail_msg("point %d: latency frontier %d", i, all[i].pareto_lat);
    }
}

static void test_csv(void **state)
{
    (void)state;
    struct ipw_sweep_param p;
    ipw_errbuf eb = {0};
    assert_int_equal(ipw_sweep_param_parse("max-num-seqs=8,16", &p, &eb), IPW_OK);
    struct ipw_sweep_row r[2] = {row(100, 1.0, 10), row(0, 0, 0)};
    r[1].ok = false;
    snprintf(r[1].error, sizeof r[1].error, "a \"bad\" point");
    ipw_sweep_pareto(r, 2);
    char path[64];
    snprintf(path, sizeof path, "/tmp/ipw-test-sweep-%d.csv", (int)getpid());
    assert_int_equal(ipw_sweep_write_csv(path, &p, 1, r, 2, &eb), IPW_OK);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char line[4096];
    assert_non_null(fgets(line, sizeof line, f));
    assert_non_null(strstr(line, "point,max-num-seqs,status,perf_model,requests"));
    assert_non_null(strstr(line, "ttft_p50_ms,ttft_p99_ms,tpot_p50_ms,tpot_p99_ms"));
    assert_non_null(strstr(line, "j_per_output_token,avg_power_w"));
    assert_non_null(strstr(line, "npu_active_j,npu_standby_j,npu_idle_j"));
    assert_non_null(strstr(line, "pareto_energy_throughput,pareto_energy_p99_latency\n"));
    int cols = 1;
    for (char *c = line; *c; c++)
        cols += *c == ',';
    assert_non_null(fgets(line, sizeof line, f));
    assert_true(!strncmp(line, "0,8,modelled,table,", 19));
    int c0 = 1;
    for (char *c = line; *c; c++)
        c0 += *c == ',';
    assert_int_equal(c0, cols);
    assert_true(strstr(line, ",1,1\n") != NULL); /* alone: on both frontiers */
    assert_non_null(fgets(line, sizeof line, f));
    assert_non_null(strstr(line, "1,16,\"failed: a \"\"bad\"\" point\""));
    fclose(f);
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_pareto),
        cmocka_unit_test(test_csv),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
