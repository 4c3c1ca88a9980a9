/* Figures of merit: the SPEC §4.2 check vector, energy imputation, the three energy bases,
 * failed and unevaluated queries, the phase split and latency percentiles. */
#include "ipw_test.h"

#include <math.h>
#include <string.h>

#include "analysis/accuracy.h"

static struct ipw_acc_query q_make(enum ipw_verdict v, double joules, double seconds)
{
    struct ipw_acc_query q;
    memset(&q, 0, sizeof q);
    q.kind = IPW_KIND_MCQ;
    q.verdict = v;
    q.energy_j = joules;
    q.latency_s = seconds;
    q.total_j = q.active_j = q.power_w = q.total_power_w = NAN;
    q.prefill_j = q.decode_j = q.ttft_s = q.decode_s = q.input_tokens = q.output_tokens = NAN;
    return q;
}

static void finish(struct ipw_accuracy *a, struct ipw_accuracy_result *r)
{
    ipw_accuracy_finish(a, r);
    ipw_accuracy_free(a);
}

/* An unscored query leaves IPJ alone but counts in the run-wide energy and power per query. */
static void test_unscored_queries_count_in_run_means(void **state)
{
    (void)state;
    struct ipw_accuracy a;
    ipw_accuracy_init(&a);
    struct ipw_acc_query q1 = q_make(IPW_VERDICT_CORRECT, 10, 2);
    struct ipw_acc_query q2 = q_make(IPW_VERDICT_INCORRECT, 20, 4);
    struct ipw_acc_query q3 = q_make(IPW_VERDICT_UNEVALUATED, 60, 3);
    assert_int_equal(ipw_accuracy_add(&a, &q1, NULL, NULL), IPW_OK);
    assert_int_equal(ipw_accuracy_add(&a, &q2, NULL, NULL), IPW_OK);
    assert_int_equal(ipw_accuracy_add(&a, &q3, NULL, NULL), IPW_OK);
    struct ipw_accuracy_result r;
    finish(&a, &r);
    assert_double_equal(r.ipj, 1.0 / 30.0, 1e-15);
    assert_double_equal(r.run_avg_energy_j, 30, 1e-12);
    assert_double_equal(r.run_avg_power_w, (5 + 5 + 20) / 3.0, 1e-12);
    assert_int_equal(r.run_energy_samples, 3);
}

/* SPEC §4.2: (correct, 10 J, 2 s) and (wrong, 20 J, 4 s) -> accuracy 0.5, IPJ 1/30, IPW 0.1. */
static void test_check_vector(void **state)
{
    (void)state;
    struct ipw_accuracy a;
    ipw_accuracy_init(&a);
    struct ipw_acc_query q1 = q_make(IPW_VERDICT_CORRECT, 10, 2);
    struct ipw_acc_query q2 = q_make(IPW_VERDICT_INCORRECT, 20, 4);
    assert_int_equal(ipw_accuracy_add(&a, &q1, NULL, NULL), IPW_OK);
    assert_int_equal(ipw_accuracy_add(&a, &q2, NULL, NULL), IPW_OK);
    struct ipw_accuracy_result r;
    finish(&a, &r);
    assert_double_equal(r.accuracy, 0.5, 1e-15);
    assert_double_equal(r.ipj, 1.0 / 30.0, 1e-15);
    assert_double_equal(r.ipw, 0.1, 1e-15);
    assert_double_equal(r.avg_energy_j, 15, 1e-12);
    assert_double_equal(r.avg_power_w, 5, 1e-12);
    assert_int_equal(r.energy_samples, 2);
    assert_int_equal(r.power_samples, 2);
    assert_int_equal(r.derived_power_samples, 2);
    assert_int_equal(r.imputed_energy, 0);
    assert_int_equal(r.total_scored, 2);
}

static void test_imputation(void **state)
{
    (void)state;
    struct ipw_accuracy a;
    ipw_accuracy_init(&a);
    /* 0 J with a 50 W window over 2 s -> 100 J; null energy with 30 W over 1 s -> 30 J */
    struct ipw_acc_query q1 = q_make(IPW_VERDICT_CORRECT, 0, 2);
    q1.power_w = 50;
    struct ipw_acc_query q2 = q_make(IPW_VERDICT_CORRECT, NAN, 1);
    q2.power_w = 30;
    /* 0 J and no power: left out of both means */
    struct ipw_acc_query q3 = q_make(IPW_VERDICT_INCORRECT, 0, 3);
    /* positive energy but no latency: energy counts, power falls back to the window's */
    struct ipw_acc_query q4 = q_make(IPW_VERDICT_INCORRECT, 20, NAN);
    q4.power_w = 40;
    struct ipw_acc_used u1, u3, u4;
    ipw_accuracy_add(&a, &q1, &u1, NULL);
    ipw_accuracy_add(&a, &q2, NULL, NULL);
    ipw_accuracy_add(&a, &q3, &u3, NULL);
    ipw_accuracy_add(&a, &q4, &u4, NULL);
    assert_true(u1.imputed);
    assert_double_equal(u1.energy_j, 100, 0);
    assert_double_equal(u1.power_w, 50, 1e-12);
    assert_true(isnan(u3.energy_j));
    assert_true(isnan(u3.power_w));
    assert_false(u4.power_derived);
    assert_double_equal(u4.power_w, 40, 0);
    struct ipw_accuracy_result r;
    finish(&a, &r);
    assert_double_equal(r.accuracy, 0.5, 0);
    assert_int_equal(r.imputed_energy, 2);
    assert_int_equal(r.nonpositive_energy, 2);
    assert_int_equal(r.missing_energy, 1);
    assert_int_equal(r.energy_samples, 3);
    assert_double_equal(r.avg_energy_j, 50, 1e-12); /* (100 + 30 + 20) / 3 */
    assert_double_equal(r.ipj, 0.5 / 50, 1e-15);
    assert_int_equal(r.power_samples, 3);            /* 50, 30, 40 */
    assert_double_equal(r.avg_power_w, 40, 1e-12);
    assert_double_equal(r.ipw, 0.5 / 40, 1e-15);
    assert_int_equal(r.derived_power_samples, 2);
    assert_int_equal(r.metric_power_samples, 1);
    json_t *w = json_array();
    ipw_accuracy_warnings(&r, "m", w);
    bool saw_imputed = false;
    for (size_t i = 0; i < json_array_size(w); i++)
        saw_imputed |= strstr(json_string_value(json_array_get(w, i)), "imputed") != NULL;
    assert_true(saw_imputed);
    json_decref(w);
}

static void test_bases_and_counts(void **state)
{
    (void)state;
    struct ipw_accuracy a;
    ipw_accuracy_init(&a);
    struct ipw_acc_query q1 = q_make(IPW_VERDICT_CORRECT, 10, 2);
    q1.total_j = 16;
    q1.active_j = 6;
    struct ipw_acc_query q2 = q_make(IPW_VERDICT_INCORRECT, 20, 4);
    q2.total_j = 32;
    q2.active_j = 0; /* no energy above idle: still a measurement */
    struct ipw_acc_query q3 = q_make(IPW_VERDICT_UNEVALUATED, 99, 9);
    q3.kind = IPW_KIND_OPEN;
    struct ipw_acc_query q4 = q_make(IPW_VERDICT_CORRECT, 5, 1);
    q4.query_failed = true;
    struct ipw_acc_query q5 = q_make(IPW_VERDICT_FAILED, 7, 1);
    q5.kind = IPW_KIND_OPEN;
    struct ipw_acc_query *all[] = {&q1, &q2, &q3, &q4, &q5};
    for (size_t i = 0; i < 5; i++)
        ipw_accuracy_add(&a, all[i], NULL, NULL);
    struct ipw_accuracy_result r;
    finish(&a, &r);
    assert_int_equal(r.total, 5);
    assert_int_equal(r.correct, 1);
    assert_int_equal(r.incorrect, 1);
    assert_int_equal(r.unevaluated, 1);
    assert_int_equal(r.failed_queries, 1);
    assert_int_equal(r.failed_evaluations, 1);
    assert_int_equal(r.failed, 2);
    assert_double_equal(r.accuracy, 0.5, 0);
    /* only the two scored queries enter the means */
    assert_double_equal(r.ipj, 1.0 / 30, 1e-15);
    assert_double_equal(r.ipj_total, 0.5 / 24, 1e-15);
    assert_double_equal(r.ipw_total, 0.5 / 8, 1e-15);
    assert_double_equal(r.avg_active_energy_j, 3, 1e-15);
    assert_double_equal(r.ipj_active, 0.5 / 3, 1e-15);
    assert_double_equal(r.avg_active_power_w, 1.5, 1e-15); /* (3 + 0) / 2 */
    assert_int_equal(r.by_kind[IPW_KIND_MCQ][IPW_VERDICT_FAILED], 1);
    assert_int_equal(r.by_kind[IPW_KIND_OPEN][IPW_VERDICT_FAILED], 1);
    assert_int_equal(r.by_kind[IPW_KIND_OPEN][IPW_VERDICT_UNEVALUATED], 1);
}

static void test_nothing_scored(void **state)
{
    (void)state;
    struct ipw_accuracy a;
    ipw_accuracy_init(&a);
    struct ipw_acc_query q = q_make(IPW_VERDICT_UNEVALUATED, 10, 1);
    ipw_accuracy_add(&a, &q, NULL, NULL);
    struct ipw_accuracy_result r;
    finish(&a, &r);
    assert_true(isnan(r.accuracy));
    assert_true(isnan(r.ipj));
    assert_true(isnan(r.ipw));
    json_t *s = ipw_accuracy_summary_json(&r, "m");
    assert_true(json_is_null(json_object_get(s, "accuracy")));
    assert_true(json_is_null(json_object_get(s, "intelligence_per_joule")));
    assert_int_equal(json_integer_value(json_object_get(s, "unevaluated")), 1);
    json_decref(s);
}

static void test_phases_latency(void **state)
{
    (void)state;
    struct ipw_accuracy a;
    ipw_accuracy_init(&a);
    for (int i = 1; i <= 5; i++) {
        struct ipw_acc_query q = q_make(IPW_VERDICT_CORRECT, 10 * i, i);
        q.prefill_j = i;
        q.decode_j = 9 * i;
        q.input_tokens = 100;
        q.output_tokens = 10 * i;
        q.ttft_s = 0.1 * i;
        ipw_accuracy_add(&a, &q, NULL, NULL);
    }
    struct ipw_accuracy_result r;
    finish(&a, &r);
    assert_double_equal(r.prefill_energy_j, 15, 1e-12);
    assert_double_equal(r.decode_energy_j, 135, 1e-12);
    assert_double_equal(r.prefill_share, 0.1, 1e-15);
    assert_double_equal(r.prefill_j_per_input_token, 15.0 / 500, 1e-15);
    assert_double_equal(r.decode_j_per_output_token, 135.0 / 150, 1e-15);
    /* numpy: percentile([1,2,3,4,5], 50) = 3, 95 -> 4.8 */
    assert_double_equal(r.latency_p50_s, 3, 1e-12);
    assert_double_equal(r.latency_p95_s, 4.8, 1e-12);
    assert_double_equal(r.ttft_p95_s, 0.48, 1e-12);
    assert_double_equal(r.output_tokens_per_joule, 150.0 / 150, 1e-12);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_check_vector),
        cmocka_unit_test(test_unscored_queries_count_in_run_means),   cmocka_unit_test(test_imputation),
        cmocka_unit_test(test_bases_and_counts), cmocka_unit_test(test_nothing_scored),
        cmocka_unit_test(test_phases_latency),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
