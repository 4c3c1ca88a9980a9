/* The lab's web API over real HTTP (libcurl against the server on a loopback port), with a
 * scripted engine whose jobs can be held at a gate, so that the queue, cancel mid-run and two
 * readers of one stream are exact: every route, bad JSON, oversized bodies, wrong token, wrong
 * Origin and Host, unknown and malformed ids, path traversal, the queue bound, resuming a
 * stream, and the non-loopback refusal. The page in a real browser against the real lab is
 * tests/integration/browser/lab_page_check.js. */
#include "ipw_test.h"

#include <curl/curl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ipw/jsonutil.h"
#include "ipw/labweb.h"
#include "labweb/guard.h"
#include "labweb/server.h"
#include "labweb_http.h"

#define TOKEN "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static struct ipw_labweb *W;

/* ---- the scripted engine ------------------------------------------------------------------ */

static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int gate_open;      /* gated jobs wait for this before their tokens */
    int at_gate;        /* a gated job is waiting */
    int cancels;        /* engine cancel() calls */
    json_t *batches;    /* stored rows */
    int next_batch;
} S = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, 0, NULL, 1};

static ipw_err e_models(void *ud, const json_t *q, json_t **out, ipw_errbuf *eb)
{
    const char *base = json_string_value(json_object_get(q, "base_url"));
    if (base && strstr(base, "down"))
        return ipw_fail(eb, IPW_E_IO, "cannot reach %s", base);
    *out = json_pack("{s:[s,s], s:s}", "models", "m1", "m2", "server", base ? base : "");
    return IPW_OK;
}

static ipw_err e_validate(void *ud, const char *kind, const json_t *req, ipw_errbuf *eb)
{
    const char *prompt = json_string_value(json_object_get(req, "prompt"));
    if (strcmp(kind, "run") == 0 && (!prompt || !*prompt))
        return ipw_fail(eb, IPW_E_INVALID, "prompt is missing: give the text to measure");
    json_t *runs = json_object_get(req, "runs");
    if (runs && (!json_is_integer(runs) || json_integer_value(runs) < 1))
        return ipw_fail(eb, IPW_E_INVALID, "runs must be a whole number of at least 1");
    return IPW_OK;
}

static ipw_err e_run_job(void *ud, const char *kind, const json_t *req, ipw_labweb_emit_fn emit,
                         void *ctx, const atomic_int *cancel, json_t **result, ipw_errbuf *eb)
{
    int runs = json_is_integer(json_object_get(req, "runs"))
                   ? (int)json_integer_value(json_object_get(req, "runs"))
                   : 1;
    bool gated = json_is_true(json_object_get(req, "gate"));
    json_t *wh = json_array();
    for (int i = 0; i < runs; i++) {
        emit(ctx, "baseline", json_pack("{s:f, s:f}", "watts", 40.0, "seconds", 0.5));
        emit(ctx, "snapshot", json_pack("{s:s, s:f}", "phase", "start", "joules", 1.0));
        emit(ctx, "first_token", json_pack("{s:f}", "seconds", 0.2));
        if (gated) {
            pthread_mutex_lock(&S.mu);
            S.at_gate = 1;
            pthread_cond_broadcast(&S.cv);
            while (!S.gate_open && !atomic_load(cancel))
                pthread_cond_wait(&S.cv, &S.mu);
            S.at_gate = 0;
            pthread_mutex_unlock(&S.mu);
        }
        if (atomic_load(cancel)) {
            json_decref(wh);
            return ipw_fail(eb, IPW_E_CANCELLED, "cancelled during run %d", i + 1);
        }
        for (int t = 0; t < 5; t++)
            emit(ctx, "token", json_pack("{s:s}", "text", t ? " tok" : "Hello"));
        double v = 0.1 * (i + 1);
        emit(ctx, "metric", json_pack("{s:s, s:f, s:s}", "name", "wh_per_1000_etokens",
                                          "value", v, "unit", "Wh"));
        emit(ctx, "run_done", json_pack("{s:i, s:{s:f}}", "index", i, "run",
                                            "wh_per_1000_etokens", v));
        json_array_append_new(wh, json_real(v));
    }
    pthread_mutex_lock(&S.mu);
    char id[16];
    snprintf(id, sizeof id, "%d", S.next_batch++);
    json_array_insert_new(S.batches, 0, json_pack("{s:s, s:s, s:O}", "id", id, "kind", kind,
                                                  "values", wh));
    pthread_mutex_unlock(&S.mu);
    emit(ctx, "batch_done", json_pack("{s:s, s:i}", "batch_id", id, "runs", runs));
    *result = json_pack("{s:s, s:o}", "batch_id", id, "values", wh);
    return IPW_OK;
}

static void e_cancel(void *ud)
{
    pthread_mutex_lock(&S.mu);
    S.cancels++;
    pthread_cond_broadcast(&S.cv);
    pthread_mutex_unlock(&S.mu);
}

static ipw_err e_estimate(void *ud, const json_t *req, json_t **out, ipw_errbuf *eb)
{
    double in, outt;
    if (!ipw_json_get_number(req, "input_tokens", &in) ||
        !ipw_json_get_number(req, "output_tokens", &outt))
        return ipw_fail(eb, IPW_E_INVALID, "estimate needs input_tokens and output_tokens");
    *out = json_pack("{s:f}", "wh", in / 1000 * 0.25 + outt / 1000 * 1.0);
    return IPW_OK;
}

static ipw_err e_benchmarks(void *ud, json_t **out, ipw_errbuf *eb)
{
    *out = json_pack("{s:[{s:s}]}", "benchmarks", "name", "conservative_estimate");
    return IPW_OK;
}

static ipw_err e_countries(void *ud, json_t **out, ipw_errbuf *eb)
{
    *out = json_pack("{s:[{s:s, s:f}]}", "countries", "code", "FR", "g_per_kwh", 56.0);
    return IPW_OK;
}

static ipw_err e_batches(void *ud, json_t **out, ipw_errbuf *eb)
{
    pthread_mutex_lock(&S.mu);
    *out = json_pack("{s:O}", "batches", S.batches);
    pthread_mutex_unlock(&S.mu);
    return IPW_OK;
}

static ipw_err e_remove(void *ud, const char *id, ipw_errbuf *eb)
{
    pthread_mutex_lock(&S.mu);
    size_t i;
    json_t *b;
    json_array_foreach(S.batches, i, b) if (strcmp(json_string_value(json_object_get(b, "id")),
                                                   id) == 0)
    {
        json_array_remove(S.batches, i);
        pthread_mutex_unlock(&S.mu);
        return IPW_OK;
    }
    pthread_mutex_unlock(&S.mu);
    return ipw_fail(eb, IPW_E_NOTFOUND, "no batch %s", id);
}

static ipw_err e_summary(void *ud, json_t **out, ipw_errbuf *eb)
{
    *out = json_pack("{s:i}", "runs", (int)json_array_size(S.batches));
    return IPW_OK;
}

static ipw_err e_export(void *ud, const char *fmt, char **body, size_t *len, const char **type,
                        ipw_errbuf *eb)
{
    *body = strdup(strcmp(fmt, "csv") == 0 ? "id,wh\n1,0.1\n" : "[]");
    *len = strlen(*body);
    *type = strcmp(fmt, "csv") == 0 ? "text/csv" : "application/json";
    return IPW_OK;
}

static const struct ipw_labweb_engine scripted = {
    "scripted",   e_models,   e_validate, e_run_job, e_cancel, e_estimate, e_benchmarks,
    e_countries,  e_batches,  e_remove,   e_summary, e_export,
};

static void wait_at_gate(void)
{
    pthread_mutex_lock(&S.mu);
    while (!S.at_gate)
        pthread_cond_wait(&S.cv, &S.mu);
    pthread_mutex_unlock(&S.mu);
}

static void set_gate(int open)
{
    pthread_mutex_lock(&S.mu);
    S.gate_open = open;
    pthread_cond_broadcast(&S.cv);
    pthread_mutex_unlock(&S.mu);
}

static int setup(void **state)
{
    S.batches = json_array();
    S.gate_open = 0;
    struct ipw_labweb_config cfg = {.bind = "127.0.0.1", .port = 0, .model = "m1",
                                     .client = "ollama", .max_body = 4096, .token = TOKEN};
    ipw_errbuf eb = {0};
    if (ipw_labweb_start(&cfg, &scripted, NULL, &W, &eb) != IPW_OK)
        fail_msg("start: %s", eb.msg);
    lwt_target(ipw_labweb_port(W), TOKEN);
    return 0;
}

static int teardown(void **state)
{
    set_gate(1);
    ipw_labweb_stop(W);
    W = NULL;
    json_decref(S.batches);
    S.batches = NULL;
    return 0;
}

/* ---- tests ------------------------------------------------------------------------------- */

static void test_page_and_read_routes(void **state)
{
    struct lwt_resp r = lwt_http("GET", "/", NULL, (const char *[]){"-", NULL});
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, TOKEN));
    assert_null(strstr(r.body, "__IPW_TOKEN__"));
    assert_non_null(strstr(r.headers, "Content-Security-Policy: default-src 'none'"));
    assert_non_null(strstr(r.headers, "connect-src 'self'"));
    lwt_resp_free(&r);

    r = lwt_http("GET", "/api/config", NULL, NULL);
    assert_int_equal(r.status, 200);
    assert_string_equal(json_string_value(json_object_get(json_object_get(r.json, "defaults"),
                                                          "model")),
                        "m1");
    assert_null(strstr(r.body, TOKEN)); /* the token is only in the page */
    lwt_resp_free(&r);

    r = lwt_http("GET", "/api/models?base_url=http://x:1", NULL, NULL);
    assert_int_equal(r.status, 200);
    assert_int_equal(json_array_size(json_object_get(r.json, "models")), 2);
    assert_string_equal(json_string_value(json_object_get(r.json, "server")), "http://x:1");
    lwt_resp_free(&r);
    lwt_expect("GET", "/api/models?base_url=http://down:1", NULL, NULL, 500, "down");

    const char *gets[] = {"/api/countries", "/api/benchmarks", "/api/batches", "/api/summary",
                          "/api/queue"};
    for (size_t i = 0; i < sizeof gets / sizeof gets[0]; i++)
        lwt_expect("GET", gets[i], NULL, NULL, 200, NULL);
    lwt_expect("HEAD", "/api/summary", NULL, NULL, 200, NULL);

    r = lwt_http("GET", "/api/export?format=csv", NULL, NULL);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "id,wh\n1,0.1\n");
    assert_non_null(strstr(r.headers, "Content-Type: text/csv"));
    assert_non_null(strstr(r.headers, "attachment; filename=\"ipw-lab.csv\""));
    lwt_resp_free(&r);
    lwt_expect("GET", "/api/export?format=json", NULL, NULL, 200, NULL);
    lwt_expect("GET", "/api/export?format=xml", NULL, NULL, 400, "format=csv");
    lwt_expect("GET", "/api/export", NULL, NULL, 400, "format=csv");

    r = lwt_http("POST", "/api/estimate", "{\"input_tokens\":1000,\"output_tokens\":2000}", NULL);
    assert_int_equal(r.status, 200);
    assert_double_equal(json_number_value(json_object_get(r.json, "wh")), 2.25, 1e-12);
    lwt_resp_free(&r);
    lwt_expect("POST", "/api/estimate", "{\"input_tokens\":1}", NULL, 400, "output_tokens");
}

static void test_run_batch_and_remove(void **state)
{
    char *id = lwt_submit("{\"prompt\":\"hi\",\"runs\":3}");
    struct lwt_sse s;
    lwt_sse_start(&s, id, NULL);
    pthread_join(s.th, NULL);
    assert_int_equal(s.status, 200);
    char names[4096];
    lwt_sse_names(s.b.p, names, sizeof names);
    const char *one = "baseline snapshot first_token token token token token token metric "
                      "run_done";
    char want[4096];
    snprintf(want, sizeof want, "job job %s %s %s batch_done end", one, one, one);
    assert_string_equal(names, want);
    /* ids count up from 1 so a reconnecting browser can resume */
    assert_non_null(strstr(s.b.p, "id: 1\nevent: job\n"));
    free(s.b.p);

    char path[64];
    snprintf(path, sizeof path, "/api/jobs/%s", id);
    struct lwt_resp r = lwt_http("GET", path, NULL, NULL);
    assert_string_equal(json_string_value(json_object_get(r.json, "state")), "done");
    /* the defaults of the command line fill what the request left out */
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(r.json, "request"), "model")), "m1");
    const char *batch = json_string_value(
        json_object_get(json_object_get(r.json, "result"), "batch_id"));
    assert_non_null(batch);
    char del[64];
    snprintf(del, sizeof del, "/api/batches/%s", batch);
    lwt_resp_free(&r);

    r = lwt_http("GET", "/api/batches", NULL, NULL);
    assert_int_equal(json_array_size(json_object_get(r.json, "batches")), 1);
    lwt_resp_free(&r);
    lwt_expect("DELETE", del, NULL, NULL, 200, NULL);
    lwt_expect("DELETE", del, NULL, NULL, 404, "no batch");
    r = lwt_http("GET", "/api/batches", NULL, NULL);
    assert_int_equal(json_array_size(json_object_get(r.json, "batches")), 0);
    lwt_resp_free(&r);

    /* a late reader replays the whole stream; one that resumes gets only what follows */
    struct lwt_sse late, resumed;
    lwt_sse_start(&late, id, NULL);
    lwt_sse_start(&resumed, id, "30");
    pthread_join(late.th, NULL);
    pthread_join(resumed.th, NULL);
    char names2[4096];
    lwt_sse_names(late.b.p, names2, sizeof names2);
    assert_string_equal(names2, want);
    assert_null(strstr(resumed.b.p, "id: 30\n"));
    assert_non_null(strstr(resumed.b.p, "id: 31\n"));
    assert_non_null(strstr(resumed.b.p, "event: end"));
    free(late.b.p);
    free(resumed.b.p);
    free(id);
}

static void test_bad_requests(void **state)
{
    lwt_expect("POST", "/api/runs", "{\"prompt\":", NULL, 400, "not JSON");
    lwt_expect("POST", "/api/runs", "[1,2]", NULL, 400, "JSON object");
    lwt_expect("POST", "/api/runs", "{\"prompt\":\"a\",\"prompt\":\"b\"}", NULL, 400, "not JSON");
    lwt_expect("POST", "/api/runs", "", NULL, 400, "not JSON");
    lwt_expect("POST", "/api/runs", "{\"runs\":2}", NULL, 400, "prompt is missing");
    lwt_expect("POST", "/api/runs", "{\"prompt\":\"x\",\"runs\":0}", NULL, 400, "runs");
    lwt_expect("POST", "/api/estimate", "nul", NULL, 400, "not JSON");

    /* bodies over the bound: announced by Content-Length, and sent chunked */
    char *big = malloc(8192);
    memset(big, ' ', 8191);
    big[0] = '{';
    big[8190] = '}';
    big[8191] = '\0';
    lwt_expect("POST", "/api/runs", big, NULL, 413, "4096");
    lwt_expect("POST", "/api/runs", big, (const char *[]){"Transfer-Encoding: chunked", NULL}, 413,
           "4096");
    free(big);

    /* methods and routes */
    lwt_expect("GET", "/api/runs", NULL, NULL, 405, "not allowed");
    lwt_expect("PUT", "/api/summary", "{}", NULL, 405, "not allowed");
    lwt_expect("GET", "/api/nothing", NULL, NULL, 404, "no such");
    lwt_expect("GET", "/index.php", NULL, NULL, 404, "no such");
}

static void test_guards(void **state)
{
    char good_origin[64], host[64];
    snprintf(good_origin, sizeof good_origin, "Origin: http://127.0.0.1:%d", ipw_labweb_port(W));
    snprintf(host, sizeof host, "Host: localhost:%d", ipw_labweb_port(W));
    const char *body = "{\"input_tokens\":1,\"output_tokens\":1}";

    /* token: missing, wrong, right */
    lwt_expect("POST", "/api/estimate", body, (const char *[]){"-", good_origin, NULL}, 403,
           "X-IPW-Token");
    lwt_expect("POST", "/api/estimate", body,
           (const char *[]){"-", good_origin, "X-IPW-Token: 00", NULL}, 403, "token");
    lwt_expect("POST", "/api/estimate", body,
           (const char *[]){"-", good_origin, "X-IPW-Token: " TOKEN, NULL}, 200, NULL);
    lwt_expect("DELETE", "/api/batches/1", NULL, (const char *[]){"-", NULL}, 403, "token");
    lwt_expect("POST", "/api/jobs/j1/cancel", NULL, (const char *[]){"-", NULL}, 403, "token");

    /* Origin: another site's page, a look-alike, and "null" (sandboxed frames, files) */
    const char *bad_origins[] = {"Origin: http://evil.example", "Origin: http://127.0.0.1:1",
                                 "Origin: https://127.0.0.1", "Origin: null"};
    for (size_t i = 0; i < 4; i++) {
        lwt_expect("POST", "/api/estimate", body,
               (const char *[]){"-", bad_origins[i], "X-IPW-Token: " TOKEN, NULL}, 403,
               "origin");
        lwt_expect("GET", "/api/summary", NULL, (const char *[]){"-", bad_origins[i], NULL}, 403,
               "origin");
    }
    lwt_expect("GET", "/api/summary", NULL,
           (const char *[]){"-", "Sec-Fetch-Site: cross-site", NULL}, 403, "cross-site");

    /* Host: a rebound DNS name is refused even on loopback; localhost is this server */
    lwt_expect("GET", "/", NULL, (const char *[]){"-", "Host: evil.example", NULL}, 403, "Host");
    char wrong_port[64];
    snprintf(wrong_port, sizeof wrong_port, "Host: 127.0.0.1:%d", ipw_labweb_port(W) + 1);
    lwt_expect("GET", "/api/summary", NULL, (const char *[]){"-", wrong_port, NULL}, 403, "Host");
    lwt_expect("GET", "/api/summary", NULL, (const char *[]){"-", host, NULL}, 200, NULL);

    /* unknown and malformed ids; no path reaches a file */
    lwt_expect("GET", "/api/jobs/j999", NULL, NULL, 404, "j999");
    lwt_expect("GET", "/api/jobs/j999/events", NULL, NULL, 404, "j999");
    lwt_expect("POST", "/api/jobs/j999/cancel", NULL, NULL, 404, "j999");
    lwt_expect("DELETE", "/api/batches/999", NULL, NULL, 404, "999");
    lwt_expect("GET", "/api/jobs/a%20b", NULL, NULL, 400, "malformed");
    lwt_expect("GET", "/api/jobs/..", NULL, NULL, 400, "malformed");
    const char *traversal[] = {"/../../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd",
                               "/api/../../../etc/passwd", "//etc/passwd", "/data/web/lab.html"};
    for (size_t i = 0; i < sizeof traversal / sizeof traversal[0]; i++) {
        struct lwt_resp r = lwt_http("GET", traversal[i], NULL, NULL);
        assert_true(r.status == 404 || r.status == 400);
        assert_null(strstr(r.body, "root:"));
        lwt_resp_free(&r);
    }
}

static void test_cancel_mid_run_and_two_readers(void **state)
{
    char *id = lwt_submit("{\"prompt\":\"hi\",\"runs\":2,\"gate\":true}");
    struct lwt_sse a, b;
    lwt_sse_start(&a, id, NULL);
    lwt_sse_start(&b, id, NULL);
    wait_at_gate();
    char path[64];
    snprintf(path, sizeof path, "/api/jobs/%s/cancel", id);
    struct lwt_resp r = lwt_http("POST", path, NULL, NULL);
    assert_int_equal(r.status, 200);
    assert_string_equal(json_string_value(json_object_get(r.json, "state")), "running");
    lwt_resp_free(&r);
    pthread_join(a.th, NULL);
    pthread_join(b.th, NULL);
    /* both readers saw the same stream, ending in a cancel within the first run */
    assert_string_equal(a.b.p, b.b.p);
    char names[1024];
    lwt_sse_names(a.b.p, names, sizeof names);
    assert_string_equal(names, "job job baseline snapshot first_token end");
    assert_non_null(strstr(a.b.p, "\"state\":\"cancelled\""));
    assert_non_null(strstr(a.b.p, "cancelled during run 1"));
    free(a.b.p);
    free(b.b.p);
    lwt_wait_state(id, "cancelled");
    assert_true(S.cancels >= 1);
    /* nothing was stored for the cancelled job */
    r = lwt_http("GET", "/api/batches", NULL, NULL);
    assert_int_equal(json_array_size(json_object_get(r.json, "batches")), 0);
    lwt_resp_free(&r);
    /* cancelling a finished job changes nothing */
    r = lwt_http("POST", path, NULL, NULL);
    assert_string_equal(json_string_value(json_object_get(r.json, "state")), "cancelled");
    lwt_resp_free(&r);
    free(id);
}

static void test_queue(void **state)
{
    char *first = lwt_submit("{\"prompt\":\"a\",\"gate\":true}");
    wait_at_gate();
    char *second = lwt_submit("{\"prompt\":\"b\"}");
    char *third = lwt_submit("{\"prompt\":\"c\"}");
    /* another client sees what runs and what waits, in order */
    struct lwt_resp r = lwt_http("GET", "/api/queue", NULL, NULL);
    assert_int_equal(r.status, 200);
    assert_string_equal(json_string_value(json_object_get(json_object_get(r.json, "running"),
                                                          "id")),
                        first);
    json_t *queued = json_object_get(r.json, "queued");
    assert_int_equal(json_array_size(queued), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(queued, 0), "id")),
                        second);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(queued, 1), "position")),
                     2);
    lwt_resp_free(&r);

    /* a queued job cancelled never runs */
    char path[64];
    snprintf(path, sizeof path, "/api/jobs/%s/cancel", second);
    r = lwt_http("POST", path, NULL, NULL);
    assert_string_equal(json_string_value(json_object_get(r.json, "state")), "cancelled");
    lwt_resp_free(&r);

    /* the queue is bounded */
    char *ids[IPW_LABWEB_MAX_QUEUE];
    int n = 0;
    for (; n < IPW_LABWEB_MAX_QUEUE - 1; n++)
        ids[n] = lwt_submit("{\"prompt\":\"x\"}");
    lwt_expect("POST", "/api/runs", "{\"prompt\":\"y\"}", NULL, 429, "queue");

    set_gate(1);
    lwt_wait_state(first, "done");
    lwt_wait_state(third, "done");
    for (int i = 0; i < n; i++) {
        lwt_wait_state(ids[i], "done");
        free(ids[i]);
    }
    snprintf(path, sizeof path, "/api/jobs/%s", second);
    r = lwt_http("GET", path, NULL, NULL);
    assert_string_equal(json_string_value(json_object_get(r.json, "state")), "cancelled");
    assert_true(json_is_null(json_object_get(r.json, "started_at")));
    lwt_resp_free(&r);
    /* calibrate goes through the same queue */
    r = lwt_http("POST", "/api/calibrate", "{\"runs\":2}", NULL);
    assert_int_equal(r.status, 202);
    assert_string_equal(json_string_value(json_object_get(r.json, "kind")), "calibrate");
    lwt_wait_state(json_string_value(json_object_get(r.json, "id")), "done");
    lwt_resp_free(&r);
    free(first);
    free(second);
    free(third);
}

static void test_remote_bind_refused(void **state)
{
    struct ipw_labweb_config cfg = {.bind = "0.0.0.0", .port = 0};
    struct ipw_labweb *w = NULL;
    ipw_errbuf eb = {0};
    assert_int_equal(ipw_labweb_start(&cfg, &scripted, NULL, &w, &eb), IPW_E_PERM);
    assert_null(w);
    assert_non_null(strstr(eb.msg, "--allow-remote"));
}

/* --allow-remote: the server starts on every address, and a Host that is not a loopback name
 * (the machine's name, as a remote browser sends it) is accepted; the token rule stays. */
static void test_remote_bind_allowed(void **state)
{
    struct ipw_labweb_config cfg = {.bind = "0.0.0.0", .port = 0, .allow_remote = true,
                                     .token = TOKEN};
    struct ipw_labweb *w = NULL;
    ipw_errbuf eb = {0};
    assert_int_equal(ipw_labweb_start(&cfg, &scripted, NULL, &w, &eb), IPW_OK);
    lwt_target(ipw_labweb_port(w), TOKEN);
    char host[64], origin[80];
    snprintf(host, sizeof host, "Host: lab-host.example:%d", ipw_labweb_port(w));
    snprintf(origin, sizeof origin, "Origin: http://lab-host.example:%d", ipw_labweb_port(w));
    lwt_expect("GET", "/api/summary", NULL, (const char *[]){"-", host, NULL}, 200, NULL);
    const char *body = "{\"input_tokens\":1,\"output_tokens\":1}";
    lwt_expect("POST", "/api/estimate", body, (const char *[]){"-", host, origin, NULL}, 403,
               "token");
    lwt_expect("POST", "/api/estimate", body,
               (const char *[]){"-", host, origin, "X-IPW-Token: " TOKEN, NULL}, 200, NULL);
    ipw_labweb_stop(w);
}

static void test_guard_functions(void **state)
{
    assert_true(lw_host_allowed("127.0.0.1:8765", 8765, false));
    assert_true(lw_host_allowed("localhost:8765", 8765, false));
    assert_true(lw_host_allowed("[::1]:8765", 8765, false));
    assert_true(lw_host_allowed("127.0.0.2:8765", 8765, false));
    assert_true(lw_host_allowed("localhost", 80, false));
    assert_false(lw_host_allowed("localhost", 8765, false));
    assert_false(lw_host_allowed("localhost:8766", 8765, false));
    assert_false(lw_host_allowed("evil.example:8765", 8765, false));
    assert_true(lw_host_allowed("lab.example:8765", 8765, true));
    assert_false(lw_host_allowed("lab.example:8765:1", 8765, true));
    assert_false(lw_host_allowed("::1:8765", 8765, false));
    assert_false(lw_host_allowed("[::1", 8765, false));
    assert_false(lw_host_allowed("[]:8765", 8765, false));
    assert_false(lw_host_allowed(":8765", 8765, false));
    assert_false(lw_host_allowed("a b:8765", 8765, true));
    assert_false(lw_host_allowed("localhost:+8765", 8765, false));
    assert_false(lw_host_allowed("", 8765, false));
    assert_false(lw_host_allowed(NULL, 8765, false));

    assert_true(lw_origin_allowed(NULL, "127.0.0.1:1"));
    assert_true(lw_origin_allowed("http://127.0.0.1:1", "127.0.0.1:1"));
    assert_false(lw_origin_allowed("http://127.0.0.1:1", "localhost:1"));
    assert_false(lw_origin_allowed("null", "127.0.0.1:1"));
    assert_false(lw_origin_allowed("http://127.0.0.1:1", NULL));

    char t1[LW_TOKEN_LEN + 1], t2[LW_TOKEN_LEN + 1];
    assert_true(lw_token_new(t1));
    assert_true(lw_token_new(t2));
    assert_int_equal(strlen(t1), LW_TOKEN_LEN);
    assert_string_not_equal(t1, t2);
    assert_true(lw_token_equal(t1, t1));
    assert_false(lw_token_equal(t2, t1));
    assert_false(lw_token_equal("", t1));
    assert_false(lw_token_equal(NULL, t1));

    assert_true(lw_id_valid("j12", 3));
    assert_true(lw_id_valid("rapl_calibrated_llama3.1:8b", 27));
    assert_false(lw_id_valid("..", 2));
    assert_false(lw_id_valid("a/b", 3));
    assert_false(lw_id_valid("", 0));
    assert_false(lw_id_valid("%2e", 3));
}

/* The route table's matcher on its own (what the HTTP tests reach through a server). */
static void test_route_find(void **state)
{
    struct lw_route_match m;
    assert_int_equal(lw_route_find("POST", "/api/jobs/j12/cancel", &m), LW_ROUTE_FOUND);
    assert_string_equal(m.pattern, "/api/jobs/*/cancel");
    assert_string_equal(m.method, "POST");
    assert_string_equal(m.id, "j12");
    assert_int_equal(lw_route_find("HEAD", "/", &m), LW_ROUTE_FOUND);
    assert_string_equal(m.method, "GET");
    assert_string_equal(m.id, "");
    assert_int_equal(lw_route_find("GET", "/api/jobs/j12/cancel", &m), LW_ROUTE_NO_METHOD);
    assert_string_equal(m.pattern, "/api/jobs/*/cancel"); /* the route the 405 is about */
    assert_int_equal(lw_route_find("GET", "/api/jobs/j12", &m), LW_ROUTE_FOUND);
    assert_string_equal(m.pattern, "/api/jobs/*");
    assert_int_equal(lw_route_find("DELETE", "/api/batches/rapl_calibrated_llama3.1:8b", &m),
                     LW_ROUTE_FOUND);
    assert_string_equal(m.id, "rapl_calibrated_llama3.1:8b");
    assert_int_equal(lw_route_find("GET", "/api/jobs/../events", &m), LW_ROUTE_BAD_ID);
    assert_int_equal(m.route, -1);
    assert_int_equal(lw_route_find("GET", "/api/jobs//events", &m), LW_ROUTE_BAD_ID);
    char longid[96] = "/api/jobs/";
    memset(longid + 10, 'a', LW_ID_MAX + 1);
    assert_int_equal(lw_route_find("GET", longid, &m), LW_ROUTE_BAD_ID);
    longid[10 + LW_ID_MAX] = '\0';
    assert_int_equal(lw_route_find("GET", longid, &m), LW_ROUTE_FOUND);
    assert_int_equal(strlen(m.id), LW_ID_MAX);
    assert_int_equal(lw_route_find("GET", "/api/jobs/j1/events/", &m), LW_ROUTE_NONE);
    assert_int_equal(lw_route_find("get", "/api/summary", &m), LW_ROUTE_NO_METHOD);
    assert_int_equal(lw_route_find("GET", "/api/nothing", &m), LW_ROUTE_NONE);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_guard_functions),
        cmocka_unit_test(test_route_find),
        cmocka_unit_test(test_remote_bind_refused),
        cmocka_unit_test(test_remote_bind_allowed),
        cmocka_unit_test_setup_teardown(test_page_and_read_routes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_run_batch_and_remove, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_requests, setup, teardown),
        cmocka_unit_test_setup_teardown(test_guards, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancel_mid_run_and_two_readers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_queue, setup, teardown),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
