/* Fuzzes reading a records.jsonl line, differentially: the fast line scanner must accept
 * exactly what jansson accepts as an object and flatten it exactly as the jansson path
 * (ipw_run_query_from_json) does; then the query is fed to the accumulators. */
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/accuracy.h"
#include "analysis/record_scan.h"
#include "analysis/regression.h"
#include "ipw/run_reader.h"

/* bit for bit: -0.0 and 0.0 differ (jansson reads "-0" as the integer 0) */
static void same_num(double a, double b)
{
    if (!(memcmp(&a, &b, sizeof a) == 0 || (isnan(a) && isnan(b))))
        abort();
}

static void same_str(const char *a, const char *b)
{
    if (strcmp(a, b) != 0)
        abort();
}

static void compare(const struct ipw_run_query *a, const struct ipw_run_query *b)
{
    if (a->record_index != b->record_index || a->kind != b->kind ||
        a->kind_given != b->kind_given || a->failed != b->failed ||
        a->prior_correct != b->prior_correct)
        abort();
    same_str(a->error, b->error);
    same_str(a->problem, b->problem);
    same_str(a->reference, b->reference);
    same_str(a->response, b->response);
    same_str(a->subject, b->subject);
    same_str(a->energy_source, b->energy_source);
    same_str(a->schema, b->schema);
    same_num(a->start_s, b->start_s);
    same_num(a->input_tokens, b->input_tokens);
    same_num(a->output_tokens, b->output_tokens);
    same_num(a->total_tokens, b->total_tokens);
    same_num(a->energy_j, b->energy_j);
    same_num(a->total_j, b->total_j);
    same_num(a->active_j, b->active_j);
    same_num(a->prefill_j, b->prefill_j);
    same_num(a->decode_j, b->decode_j);
    same_num(a->idle_w, b->idle_w);
    same_num(a->ttft_s, b->ttft_s);
    same_num(a->latency_s, b->latency_s);
    same_num(a->decode_s, b->decode_s);
    same_num(a->power_avg_w, b->power_avg_w);
    same_num(a->total_power_avg_w, b->total_power_avg_w);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *j = json_loadb((const char *)data, size, 0, NULL);
    /* jansson passes over NUL bytes between tokens where the scanner (rightly) refuses them:
     * compare acceptance only on NUL-free input */
    bool parity = memchr(data, 0, size) == NULL;
    struct ipw_scan_arena arena = {0};
    struct ipw_run_query fast;
    struct ipw_scan_result res;
    const char *models[] = {"m", "", "llama-3.1-8b-instruct"};
    for (size_t k = 0; k < 3; k++) {
        bool ok = ipw_record_scan((const char *)data, size, models[k], &arena, &fast, &res);
        if (parity && ok != json_is_object(j))
            abort();
        if (parity && !ok && (j != NULL) != res.not_object)
            abort();
        if (ok && json_is_object(j)) {
            struct ipw_run_query slow;
            ipw_run_query_from_json(j, models[k], &slow);
            compare(&fast, &slow);
        }
    }
    ipw_scan_arena_free(&arena);
    if (!json_is_object(j)) {
        json_decref(j);
        return 0;
    }
    struct ipw_run_query q;
    ipw_run_query_from_json(j, "m", &q);
    struct ipw_regression reg;
    ipw_regression_init(&reg);
    ipw_regression_add(&reg, &q);
    json_decref(ipw_regression_json(&reg));
    struct ipw_accuracy acc;
    ipw_accuracy_init(&acc);
    struct ipw_acc_query aq = {.kind = q.kind, .verdict = IPW_VERDICT_CORRECT,
                               .query_failed = q.failed, .energy_j = q.energy_j,
                               .total_j = q.total_j, .active_j = q.active_j,
                               .latency_s = q.latency_s, .power_w = q.power_avg_w,
                               .total_power_w = q.total_power_avg_w, .prefill_j = q.prefill_j,
                               .decode_j = q.decode_j, .ttft_s = q.ttft_s, .decode_s = q.decode_s,
                               .input_tokens = q.input_tokens, .output_tokens = q.output_tokens};
    ipw_accuracy_add(&acc, &aq, NULL, NULL);
    struct ipw_accuracy_result r;
    ipw_accuracy_finish(&acc, &r);
    json_decref(ipw_accuracy_summary_json(&r, "m"));
    ipw_accuracy_free(&acc);
    json_decref(j);
    return 0;
}
