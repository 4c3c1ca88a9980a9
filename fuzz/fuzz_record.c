/* Fuzzes reading a records.jsonl line: parsing and flattening it into a query, then scoring it
 * the way analysis does. */
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "ipw/accuracy.h"
#include "ipw/regression.h"
#include "ipw/run_reader.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *j = json_loadb((const char *)data, size, 0, NULL);
    if (!json_is_object(j)) {
        json_decref(j);
        return 0;
    }
    struct ipw_run_query q;
    ipw_run_query_from_json(j, "m", &q);
    if (!q.problem || !q.reference || !q.response || !q.subject || !q.energy_source)
        abort();
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
