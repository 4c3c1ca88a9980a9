/* summary.json's totals, streamed from records.jsonl: each query counted once (a rerun after
 * --resume supersedes its failed record), nulls left out, records outside the sample ignored. */
#include "ipw_test.h"

#include <stdlib.h>
#include <string.h>

#include "profile/run_output.h"

static const char *records =
    "{\"record_index\":0,\"status\":\"ok\",\"request_start_time\":100.0,"
    "\"request_end_time\":101.5,\"model_metrics\":{\"m\":{\"energy_metrics\":{"
    "\"per_query_joules\":10,\"total_joules\":12,\"active_joules\":5},\"token_metrics\":{"
    "\"input\":3,\"output\":4},\"latency_metrics\":{\"total_query_seconds\":1.5}}}}\n"
    "{\"record_index\":1,\"status\":\"failed\",\"error\":\"HTTP 500\",\"request_start_time\":102,"
    "\"request_end_time\":102.1,\"model_metrics\":{\"m\":{\"energy_metrics\":{"
    "\"per_query_joules\":2,\"total_joules\":3,\"active_joules\":1},\"token_metrics\":{"
    "\"input\":3,\"output\":0},\"latency_metrics\":{\"total_query_seconds\":0.1}}}}\n"
    "{\"record_index\":2,\"status\":\"ok\",\"request_start_time\":103,\"request_end_time\":104,"
    "\"model_metrics\":{\"m\":{\"energy_metrics\":{\"per_query_joules\":null,"
    "\"total_joules\":null,\"active_joules\":null},\"token_metrics\":{\"input\":5,"
    "\"output\":6},\"latency_metrics\":{\"total_query_seconds\":1}}}}\n"
    "{\"record_index\":7,\"status\":\"ok\",\"model_metrics\":{\"m\":{\"energy_metrics\":{"
    "\"per_query_joules\":1000}}}}\n"
    /* the rerun of record 1, after a --resume */
    "{\"record_index\":1,\"status\":\"ok\",\"request_start_time\":200,\"request_end_time\":202,"
    "\"model_metrics\":{\"m\":{\"energy_metrics\":{\"per_query_joules\":7,\"total_joules\":8,"
    "\"active_joules\":4},\"token_metrics\":{\"input\":3,\"output\":9},\"latency_metrics\":{"
    "\"total_query_seconds\":2}}}}\n";

static void test_totals(void **state)
{
    (void)state;
    char *dir = ipw_test_mkdtemp("ipw-summary");
    ipw_test_write(dir, "records.jsonl", records);
    char path[4200];
    snprintf(path, sizeof path, "%s/records.jsonl", dir);
    struct ipw_profile_totals *t;
    ipw_errbuf eb = {0};
    assert_int_equal(ipw_profile_totals_read(path, "m", 3, &t, &eb), IPW_OK);
    assert_int_equal(ipw_profile_totals_queries(t), 3);

    struct ipw_run_output o;
    memset(&o, 0, sizeof o);
    snprintf(o.dir, sizeof o.dir, "%s", dir);
    struct ipw_profile_config cfg;
    ipw_profile_config_init(&cfg);
    cfg.client_id = "ollama";
    cfg.model = "m";
    struct ipw_telemetry_session ts;
    memset(&ts, 0, sizeof ts);
    struct ipw_energy baseline = {0};
    json_t *s = ipw_profile_summary_json(&o, &cfg, &ts, NULL, 0, &baseline, t);
    json_t *tot = json_object_get(s, "totals");
    assert_double_equal(json_number_value(json_object_get(tot, "energy_joules")), 17, 1e-12);
    assert_double_equal(json_number_value(json_object_get(tot, "total_joules")), 20, 1e-12);
    assert_double_equal(json_number_value(json_object_get(tot, "active_joules")), 9, 1e-12);
    assert_int_equal(json_integer_value(json_object_get(tot, "input_tokens")), 11);
    assert_int_equal(json_integer_value(json_object_get(tot, "output_tokens")), 19);
    assert_double_equal(json_number_value(json_object_get(tot, "query_seconds")), 4.5, 1e-12);
    assert_double_equal(json_number_value(json_object_get(tot, "duration_s")), 102, 1e-9);
    assert_int_equal(json_integer_value(json_object_get(tot, "completed_queries")), 3);
    assert_int_equal(json_integer_value(json_object_get(tot, "failed_queries")), 0);
    /* record 2 answered without energy: the sums above leave it out, and say so */
    assert_int_equal(json_integer_value(json_object_get(tot, "queries_without_energy")), 1);
    json_decref(s);
    ipw_profile_totals_free(t);

    /* no log yet: zero queries, null energies */
    snprintf(path, sizeof path, "%s/missing.jsonl", dir);
    assert_int_equal(ipw_profile_totals_read(path, "m", 3, &t, &eb), IPW_OK);
    assert_int_equal(ipw_profile_totals_queries(t), 0);
    s = ipw_profile_summary_json(&o, &cfg, &ts, NULL, 0, &baseline, t);
    assert_true(json_is_null(json_object_get(json_object_get(s, "totals"), "energy_joules")));
    json_decref(s);
    ipw_profile_totals_free(t);
    ipw_test_rmtree(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_totals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
