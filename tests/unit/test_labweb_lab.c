/* The lab's web API on the real lab (src/labweb/engine_lab.c) over HTTP, with the sim client
 * (modelled, so it runs anywhere): run requests checked field by field before they are queued,
 * a batch whose streamed runs, stored row, totals and exports agree, Remove, estimates equal to
 * the formula, countries and benchmarks, calibration that replaces its benchmark, the model list,
 * and cancel in the middle of a batch keeping the finished runs. */
#include "ipw_test.h"

#include <curl/curl.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ipw/lab.h"
#include "ipw/labweb.h"
#include "ipw/labweb_lab.h"
#include "labweb_http.h"

#define TOKEN "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210"
#define MODEL "llama-3.2-1b"

static char *g_dir;
static struct ipw_labweb *W;
static struct ipw_labweb_lab *L;

static int setup(void **state)
{
    g_dir = ipw_test_mkdtemp("ipw-labweb-lab");
    char db[1200];
    snprintf(db, sizeof db, "%s/lab.db", g_dir);
    struct ipw_labweb_lab_config lc = {.db_path = db, .server_pid = "none"};
    ipw_errbuf eb = {0};
    if (ipw_labweb_lab_open(&lc, &L, &eb) != IPW_OK)
        fail_msg("lab: %s", eb.msg);
    struct ipw_labweb_config wc = {.port = 0, .client = "sim", .model = MODEL, .token = TOKEN};
    if (ipw_labweb_start(&wc, &ipw_labweb_engine_lab, L, &W, &eb) != IPW_OK)
        fail_msg("start: %s", eb.msg);
    lwt_target(ipw_labweb_port(W), TOKEN);
    return 0;
}

static int teardown(void **state)
{
    ipw_labweb_stop(W);
    ipw_labweb_lab_close(L);
    ipw_test_rmtree(g_dir);
    free(g_dir);
    return 0;
}

static json_t *get(const char *path)
{
    struct lwt_resp r = lwt_http("GET", path, NULL, NULL);
    if (r.status != 200)
        fail_msg("GET %s: %ld %s", path, r.status, r.body);
    json_t *j = json_incref(r.json);
    lwt_resp_free(&r);
    return j;
}

static void test_requests_checked_before_queueing(void **state)
{
    struct {
        const char *body, *error;
    } bad[] = {
        {"{\"promt\":\"x\"}", "unknown field \"promt\""},
        {"{\"prompt\":\"\"}", "prompt"},
        {"{\"prompt\":\"x\",\"model\":\"\"}", "\"model\" is empty"},
        {"{\"prompt\":\"x\",\"client\":\"bogus\"}", "unknown client"},
        {"{\"prompt\":\"x\",\"runs\":0}", "runs"},
        {"{\"prompt\":\"x\",\"runs\":1.5}", "whole number"},
        {"{\"prompt\":\"x\",\"temperature\":\"hot\"}", "temperature"},
        {"{\"prompt\":\"x\",\"country\":\"XQ\"}", "XQ"},
        {"{\"prompt\":\"x\",\"country\":\"FR\",\"grid_g_per_kwh\":50}", "not both"},
        {"{\"prompt\":\"x\",\"injections\":\"tools\"}", "injections"},
        {"{\"prompt\":\"x\",\"injections\":[{\"label\":\"t\"}]}", "injection 1"},
        {"{\"prompt\":\"x\",\"baseline_s\":3600}", "baseline_s"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        lwt_expect("POST", "/api/runs", bad[i].body, NULL, 400, bad[i].error);
    /* none of them was queued */
    json_t *q = get("/api/queue");
    assert_true(json_is_null(json_object_get(q, "running")));
    assert_int_equal(json_array_size(json_object_get(q, "queued")), 0);
    assert_int_equal(json_array_size(json_object_get(q, "recent")), 0);
    json_decref(q);
}

static double stream_sum(const char *text, const char *key, int *runs)
{
    double sum = 0;
    *runs = 0;
    for (const char *p = text; (p = strstr(p, "event: run_done\ndata: ")); p++) {
        p += strlen("event: run_done\ndata: ");
        json_t *d = json_loadb(p, strcspn(p, "\n"), 0, NULL);
        assert_non_null(d);
        sum += json_number_value(json_object_get(json_object_get(d, "run"), key));
        (*runs)++;
        json_decref(d);
    }
    return sum;
}

static void test_batch_stored_and_removed(void **state)
{
    char *id = lwt_submit("{\"prompt\":\"What is RAPL?\",\"runs\":3,\"system\":\"Be brief.\","
                          "\"injections\":[{\"label\":\"tools\",\"text\":\"tool: search\"}],"
                          "\"country\":\"FR\"}");
    struct lwt_sse s;
    lwt_sse_start(&s, id, NULL);
    pthread_join(s.th, NULL);
    int runs = 0;
    double total = stream_sum(s.b.p, "total_wh", &runs);
    assert_int_equal(runs, 3);
    assert_true(total > 0);
    assert_non_null(strstr(s.b.p, "event: first_token"));
    assert_non_null(strstr(s.b.p, "event: token"));
    assert_non_null(strstr(s.b.p, "\"state\":\"done\""));

    char path[64];
    snprintf(path, sizeof path, "/api/jobs/%s", id);
    json_t *job = get(path);
    json_int_t batch = json_integer_value(json_object_get(json_object_get(job, "result"),
                                                          "batch_id"));
    assert_true(batch > 0);
    json_decref(job);

    /* the stored row carries the batch's statistics */
    json_t *b = get("/api/batches");
    json_t *row = json_array_get(json_object_get(b, "batches"), 0);
    assert_int_equal(json_integer_value(json_object_get(row, "id")), batch);
    assert_string_equal(json_string_value(json_object_get(row, "model")), MODEL);
    json_t *sum = json_object_get(row, "summary");
    json_t *v0 = json_is_array(json_object_get(sum, "variants"))
                     ? json_array_get(json_object_get(sum, "variants"), 0)
                     : sum;
    json_t *st = json_object_get(v0, "wh_per_1000_etokens");
    assert_int_equal(json_integer_value(json_object_get(st, "n")), 3);
    assert_true(json_number_value(json_object_get(st, "median")) > 0);
    assert_int_equal(json_array_size(json_object_get(st, "median_ci95")), 2);
    json_decref(b);

    /* the session totals are the stored runs' energy, here modelled (sim) and said so */
    json_t *t = get("/api/summary");
    assert_int_equal(json_integer_value(json_object_get(t, "runs")), 3);
    assert_int_equal(json_integer_value(json_object_get(t, "modelled_runs")), 3);
    assert_double_equal(json_number_value(json_object_get(t, "total_wh")), total,
                        1e-12 * total);
    /* carbon at France's intensity from the country table */
    double fr;
    assert_int_equal(ipw_lab_country_intensity("FR", &fr, NULL), IPW_OK);
    assert_double_equal(json_number_value(json_object_get(t, "carbon_g")), total / 1000 * fr,
                        1e-9 * total / 1000 * fr);
    json_decref(t);

    /* exports: one CSV row per run, a JSON array of runs */
    struct lwt_resp r = lwt_http("GET", "/api/export?format=csv", NULL, NULL);
    assert_int_equal(r.status, 200);
    int lines = 0;
    for (const char *p = r.body; *p; p++)
        lines += *p == '\n';
    assert_int_equal(lines, 4);
    assert_non_null(strstr(r.headers, "text/csv"));
    lwt_resp_free(&r);
    json_t *ex = get("/api/export?format=json");
    assert_true(json_is_array(ex));
    assert_int_equal(json_array_size(ex), 3);
    json_decref(ex);

    /* Remove: the batch and its runs leave the store */
    char del[64];
    snprintf(del, sizeof del, "/api/batches/%lld", (long long)batch);
    lwt_expect("DELETE", del, NULL, NULL, 200, NULL);
    lwt_expect("DELETE", del, NULL, NULL, 404, "no batch");
    lwt_expect("DELETE", "/api/batches/abc", NULL, NULL, 404, "numbers");
    t = get("/api/summary");
    assert_int_equal(json_integer_value(json_object_get(t, "runs")), 0);
    json_decref(t);
    free(s.b.p);
    free(id);
}

static void test_tables_and_estimate(void **state)
{
    json_t *c = get("/api/countries");
    assert_double_equal(json_number_value(json_object_get(c, "default_g_per_kwh")), 445, 0);
    assert_true(json_array_size(json_object_get(c, "countries")) > 100);
    json_decref(c);
    json_t *m = get("/api/models?client=sim");
    bool found = false;
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(m, "models"), i, v) found |=
        strcmp(json_string_value(v), MODEL) == 0;
    assert_true(found);
    json_decref(m);

    struct lwt_resp r = lwt_http(
        "POST", "/api/estimate",
        "{\"benchmark\":\"conservative_estimate\",\"input_tokens\":2000,\"output_tokens\":500}",
        NULL);
    assert_int_equal(r.status, 200);
    double wh = 2000 / 1000.0 * 0.25 + 500 / 1000.0 * 1.0;
    assert_double_equal(json_number_value(json_object_get(r.json, "wh")), wh, 1e-15);
    assert_double_equal(json_number_value(json_object_get(r.json, "carbon_g")), wh / 1000 * 445,
                        1e-15);
    assert_true(json_is_true(json_object_get(r.json, "modelled")));
    lwt_resp_free(&r);
    lwt_expect("POST", "/api/estimate",
               "{\"benchmark\":\"no_such\",\"input_tokens\":1,\"output_tokens\":1}", NULL, 404,
               "no_such");
    lwt_expect("POST", "/api/estimate", "{\"benchmark\":\"nvidia_a100\"}", NULL, 400,
               "input_tokens");
}

static int count_named(const char *name)
{
    json_t *b = get("/api/benchmarks");
    int n = 0;
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(b, "benchmarks"), i, v) n +=
        strcmp(json_string_value(json_object_get(v, "name")), name) == 0;
    json_decref(b);
    return n;
}

static void test_calibrate_replaces(void **state)
{
    for (int round = 0; round < 2; round++) {
        struct lwt_resp r = lwt_http("POST", "/api/calibrate", "{\"runs\":2}", NULL);
        assert_int_equal(r.status, 202);
        char *id = strdup(json_string_value(json_object_get(r.json, "id")));
        lwt_resp_free(&r);
        lwt_wait_state(id, "done");
        char path[64];
        snprintf(path, sizeof path, "/api/jobs/%s", id);
        json_t *job = get(path);
        json_t *bench = json_object_get(json_object_get(job, "result"), "benchmark");
        assert_string_equal(json_string_value(json_object_get(bench, "name")),
                            "rapl_calibrated_llama-3.2-1b");
        assert_true(json_number_value(json_object_get(bench, "c_out_wh_per_1000")) > 0);
        assert_true(json_number_value(json_object_get(bench, "c_in_wh_per_1000")) > 0);
        json_decref(job);
        free(id);
        assert_int_equal(count_named("rapl_calibrated_llama-3.2-1b"), 1);
    }
}

static void test_cancel_keeps_finished_runs(void **state)
{
    char *id = lwt_submit("{\"prompt\":\"Count to ten.\",\"runs\":500}");
    char path[64];
    snprintf(path, sizeof path, "/api/jobs/%s", id);
    /* wait for some finished runs, then cancel in the middle */
    for (int i = 0; i < 4000; i++) {
        json_t *j = get(path);
        json_int_t ev = json_integer_value(json_object_get(j, "events"));
        json_decref(j);
        if (ev > 60)
            break;
        usleep(5000);
    }
    snprintf(path, sizeof path, "/api/jobs/%s/cancel", id);
    lwt_expect("POST", path, NULL, NULL, 200, NULL);
    lwt_wait_state(id, "cancelled");
    json_t *t = get("/api/summary");
    json_int_t stored = json_integer_value(json_object_get(t, "runs"));
    json_decref(t);
    assert_true(stored >= 1);
    assert_true(stored < 500);
    free(id);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    setenv("IPW_LOG_LEVEL", "error", 0);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_requests_checked_before_queueing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_batch_stored_and_removed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tables_and_estimate, setup, teardown),
        cmocka_unit_test_setup_teardown(test_calibrate_replaces, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancel_keeps_finished_runs, setup, teardown),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
