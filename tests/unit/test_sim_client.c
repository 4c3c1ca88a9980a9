/* The sim client through its operations table: streaming timing at time_scale 1 and 0.1
 * against the roofline plan (start < first token < end, TTFT ≈ modelled prefill, inter-token
 * gaps ≈ decode steps), deterministic output, the labelled placeholder, max_tokens, model
 * matching, parameter errors, and concurrent chats from several threads. */
#include "ipw_test.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "ipw/client.h"
#include "ipw/clock.h"
#include "ipw/perfmodel.h"
#include "ipw/published_accuracy.h"
#include "ipw/sim.h"

/* The registry (ipw_client_open) lives with the real clients; the ops table is the contract. */
static struct ipw_client *open_sim(const char *params_json, ipw_err *err, ipw_errbuf *eb)
{
    struct ipw_client *c = calloc(1, sizeof *c);
    c->ops = &ipw_client_sim;
    json_t *params = params_json ? json_loads(params_json, 0, NULL) : NULL;
    if (params_json)
        assert_non_null(params);
    c->cfg.params = params;
    snprintf(c->base_url, sizeof c->base_url, "%s", ipw_client_sim.default_base_url);
    ipw_err e = c->ops->open(c, eb);
    if (err)
        *err = e;
    if (e != IPW_OK) {
        json_decref(params);
        free(c);
        return NULL;
    }
    return c;
}

static void close_sim(struct ipw_client *c)
{
    json_t *p = (json_t *)c->cfg.params;
    c->ops->close(c);
    json_decref(p);
    free(c);
}

static void free_result(struct ipw_chat_result *r)
{
    free(r->content);
    free(r->reasoning);
    json_decref(r->server_timings);
    memset(r, 0, sizeof *r);
}

#define MAX_DELTAS 4096

struct trace {
    int64_t start, first;
    int64_t delta_ns[MAX_DELTAS];
    int ndelta;
    char text[65536];
};

static void on_start(void *ud, int64_t t) { ((struct trace *)ud)->start = t; }
static void on_first(void *ud, int64_t t) { ((struct trace *)ud)->first = t; }
static void on_delta(void *ud, const char *content, const char *reasoning)
{
    struct trace *tr = ud;
    assert_non_null(reasoning);
    if (tr->ndelta < MAX_DELTAS)
        tr->delta_ns[tr->ndelta] = ipw_mono_ns();
    tr->ndelta++;
    size_t n = strlen(tr->text);
    snprintf(tr->text + n, sizeof tr->text - n, "%s", content);
}

static struct ipw_stream_events events(struct trace *tr)
{
    memset(tr, 0, sizeof *tr);
    return (struct ipw_stream_events){tr, on_start, on_first, on_delta};
}

static char *words(int n)
{
    char *s = malloc((size_t)n * 5 + 1);
    s[0] = 0;
    for (int i = 0; i < n; i++)
        strcat(s, "word ");
    return s;
}

static void plan_for(const char *hw, const char *model, long n_in, long n_out,
                     struct ipw_perf *pm, struct ipw_perf_request *rq)
{
    struct ipw_hw_spec h;
    struct ipw_model_spec m;
    ipw_errbuf eb = {0};
    assert_int_equal(ipw_hw_spec_load(hw, &h, &eb), IPW_OK);
    assert_int_equal(ipw_model_spec_load(model, &m, &eb), IPW_OK);
    assert_int_equal(ipw_perf_init(pm, &h, &m, NULL, &eb), IPW_OK);
    ipw_perf_request(pm, n_in, n_out, rq);
}

/* One timed chat: llama-3.2-1b on RTX 4090, a 510-token prompt (prefill ≈ 12.8 ms) and 40
 * output tokens (decode steps ≈ 3.08 ms each), at the given time scale. Sleeps never end early,
 * so lower bounds are strict; upper bounds allow for a loaded machine. */
static void timed_chat(double scale)
{
    char params[256];
    snprintf(params, sizeof params,
             "{\"hardware\":\"RTX4090\",\"model\":\"llama-3.2-1b\",\"output_tokens\":40,"
             "\"time_scale\":%g}",
             scale);
    ipw_errbuf eb = {0};
    struct ipw_client *c = open_sim(params, NULL, &eb);
    if (!c)
        fail_msg("%s", eb.msg);
    char *prompt = words(500);
    struct trace tr;
    struct ipw_stream_events ev = events(&tr);
    struct ipw_chat_request req = {"llama-3.2-1b", prompt, NULL};
    struct ipw_chat_result res;
    int64_t before = ipw_mono_ns();
    assert_int_equal(c->ops->chat(c, &req, &ev, &res), IPW_OK);
    int64_t after = ipw_mono_ns();

    long n_in = ipw_sim_estimate_chat_tokens(NULL, prompt);
    assert_int_equal(n_in, 510); /* 500 words + 10 template tokens */
    struct ipw_perf pm;
    struct ipw_perf_request rq;
    plan_for("RTX4090", "llama-3.2-1b", n_in, 40, &pm, &rq);

    assert_int_equal(res.input_tokens, n_in);
    assert_int_equal(res.output_tokens, 40);
    assert_int_equal(res.token_source, IPW_TOKENS_SERVER);
    assert_string_equal(res.finish_reason, "stop");
    assert_true(before <= res.start_ns && res.start_ns < res.first_token_ns &&
                res.first_token_ns < res.end_ns && res.end_ns <= after);
    assert_int_equal(tr.start, res.start_ns);
    assert_int_equal(tr.first, res.first_token_ns);

    double ttft = (double)(res.first_token_ns - res.start_ns) / 1e9;
    double total = (double)(res.end_ns - res.start_ns) / 1e9;
    double want_ttft = rq.prefill_s * scale, want_total = rq.total_s * scale;
    if (ttft < want_ttft - 1e-6 || ttft > want_ttft * 1.25 + 0.02)
        fail_msg("TTFT %.6f s, modelled %.6f s", ttft, want_ttft);
    if (total < want_total - 1e-6 || total > want_total * 1.25 + 0.03)
        fail_msg("total %.6f s, modelled %.6f s", total, want_total);
    /* every token is a delta; the k-th arrives no earlier than its modelled time */
    assert_int_equal(tr.ndelta, 40);
    double elapsed = 0;
    for (int k = 1; k < 40; k++) {
        struct ipw_perf_step st;
        ipw_perf_decode_step(&pm, n_in + k - 1, &st);
        elapsed += st.time_s;
        double at = (double)(tr.delta_ns[k] - res.first_token_ns) / 1e9;
        if (at < elapsed * scale - 1e-6)
            fail_msg("token %d at %.6f s, before its modelled %.6f s", k + 1, at,
                     elapsed * scale);
    }
    /* the streamed text is the response, a labelled placeholder */
    assert_string_equal(tr.text, res.content);
    assert_int_equal(strncmp(res.content, IPW_SIM_RESPONSE_LABEL, strlen(IPW_SIM_RESPONSE_LABEL)),
                     0);
    assert_int_equal(strlen(res.content),
                     strlen(IPW_SIM_RESPONSE_LABEL) + 39 * strlen(IPW_SIM_FILLER_TOKEN));
    assert_string_equal(res.reasoning, "");
    /* the record says it is modelled and carries the plan */
    json_t *st = res.server_timings;
    assert_true(json_is_true(json_object_get(st, "modelled")));
    assert_string_equal(json_string_value(json_object_get(st, "hardware")), "RTX4090");
    assert_string_equal(json_string_value(json_object_get(st, "model_spec")), "llama-3.2-1b");
    assert_double_equal(json_real_value(json_object_get(st, "prefill_seconds")), rq.prefill_s, 0);
    assert_double_equal(json_real_value(json_object_get(st, "flops_per_request")), rq.flops, 0);
    assert_double_equal(json_real_value(json_object_get(st, "time_scale")), scale, 0);
    free_result(&res);
    free(prompt);
    close_sim(c);
}

static void test_timing_real_time(void **state)
{
    (void)state;
    timed_chat(1.0);
}

static void test_timing_scaled(void **state)
{
    (void)state;
    timed_chat(0.1);
}

static void test_deterministic_output(void **state)
{
    (void)state;
    ipw_errbuf eb = {0};
    struct ipw_client *a = open_sim("{\"time_scale\":0}", NULL, &eb);
    struct ipw_client *b = open_sim("{\"time_scale\":0}", NULL, &eb);
    assert_non_null(a);
    assert_non_null(b);
    int distinct = 0;
    long first = -1;
    for (int i = 0; i < 20; i++) {
        char prompt[64];
        snprintf(prompt, sizeof prompt, "What is %d times %d?", i, i + 3);
        struct ipw_chat_request req = {"llama3.1:8b", prompt, NULL};
        struct ipw_chat_result r1, r2;
        assert_int_equal(a->ops->chat(a, &req, NULL, &r1), IPW_OK);
        assert_int_equal(b->ops->chat(b, &req, NULL, &r2), IPW_OK);
        assert_int_equal(r1.output_tokens, r2.output_tokens);
        assert_int_equal(r1.input_tokens, r2.input_tokens);
        assert_string_equal(r1.content, r2.content);
        assert_true(r1.output_tokens >= 16 && r1.output_tokens <= 1024);
        if (first < 0)
            first = r1.output_tokens;
        distinct += r1.output_tokens != first;
        free_result(&r1);
        free_result(&r2);
    }
    assert_true(distinct > 10); /* lengths vary from prompt to prompt */
    close_sim(a);
    close_sim(b);
}

static void test_max_tokens_and_seed(void **state)
{
    (void)state;
    ipw_errbuf eb = {0};
    struct ipw_client *c = open_sim("{\"time_scale\":0,\"max_tokens\":5,"
                                    "\"output_tokens_min\":100,\"output_tokens_max\":200}",
                                    NULL, &eb);
    assert_non_null(c);
    struct ipw_chat_request req = {NULL, "Tell me a long story.", NULL};
    struct ipw_chat_result r;
    assert_int_equal(c->ops->chat(c, &req, NULL, &r), IPW_OK);
    assert_int_equal(r.output_tokens, 5);
    assert_string_equal(r.finish_reason, "length");
    free_result(&r);
    close_sim(c);

    /* a seed changes the lengths, the same seed repeats them */
    struct ipw_client *s1 = open_sim("{\"time_scale\":0,\"seed\":1}", NULL, &eb);
    struct ipw_client *s2 = open_sim("{\"time_scale\":0,\"seed\":2}", NULL, &eb);
    struct ipw_client *s1b = open_sim("{\"time_scale\":0,\"seed\":\"1\"}", NULL, &eb);
    int differ = 0;
    for (int i = 0; i < 10; i++) {
        char prompt[32];
        snprintf(prompt, sizeof prompt, "prompt %d", i);
        struct ipw_chat_request q = {NULL, prompt, NULL};
        struct ipw_chat_result x, y, z;
        assert_int_equal(s1->ops->chat(s1, &q, NULL, &x), IPW_OK);
        assert_int_equal(s2->ops->chat(s2, &q, NULL, &y), IPW_OK);
        assert_int_equal(s1b->ops->chat(s1b, &q, NULL, &z), IPW_OK);
        differ += x.output_tokens != y.output_tokens;
        assert_int_equal(x.output_tokens, z.output_tokens);
        free_result(&x);
        free_result(&y);
        free_result(&z);
    }
    assert_true(differ >= 8);
    close_sim(s1);
    close_sim(s2);
    close_sim(s1b);
}

static void test_model_selection(void **state)
{
    (void)state;
    ipw_errbuf eb = {0};
    struct ipw_client *c = open_sim("{\"time_scale\":0,\"output_tokens\":3}", NULL, &eb);
    assert_non_null(c);
    struct {
        const char *served, *spec;
        bool matched;
    } cases[] = {{"llama3.2:1b", "llama-3.2-1b", true},
                 {"Qwen/Qwen2.5-7B-Instruct", "qwen2.5-7b", true},
                 {"some-private-model", "llama-3.1-8b", false}};
    for (size_t i = 0; i < 3; i++) {
        struct ipw_chat_request req = {cases[i].served, "hi", NULL};
        struct ipw_chat_result r;
        assert_int_equal(c->ops->chat(c, &req, NULL, &r), IPW_OK);
        json_t *st = r.server_timings;
        assert_string_equal(json_string_value(json_object_get(st, "model_spec")), cases[i].spec);
        assert_int_equal(json_is_true(json_object_get(st, "model_spec_matched")),
                         cases[i].matched);
        free_result(&r);
    }
    json_t *models;
    assert_int_equal(c->ops->list_models(c, &models, &eb), IPW_OK);
    assert_true(json_array_size(models) >= 5);
    json_decref(models);
    assert_int_equal(c->ops->health(c, &eb), IPW_OK);
    close_sim(c);

    /* model= serves every request, whatever the request names */
    c = open_sim("{\"time_scale\":0,\"model\":\"llama-3.2-3b\",\"output_tokens\":2}", NULL, &eb);
    assert_non_null(c);
    struct ipw_chat_request req = {"llama3.2:1b", "hi", NULL};
    struct ipw_chat_result r;
    assert_int_equal(c->ops->chat(c, &req, NULL, &r), IPW_OK);
    assert_string_equal(json_string_value(json_object_get(r.server_timings, "model_spec")),
                        "llama-3.2-3b");
    free_result(&r);
    /* a system prompt from the request and from the params both count */
    struct ipw_chat_request with_sys = {NULL, "hi", "You answer briefly"};
    assert_int_equal(c->ops->chat(c, &with_sys, NULL, &r), IPW_OK);
    assert_int_equal(r.input_tokens, ipw_sim_estimate_chat_tokens("You answer briefly", "hi"));
    free_result(&r);
    close_sim(c);
    c = open_sim("{\"time_scale\":0,\"system_prompt\":\"You answer briefly\"}", NULL, &eb);
    struct ipw_chat_request plain = {NULL, "hi", NULL};
    assert_int_equal(c->ops->chat(c, &plain, NULL, &r), IPW_OK);
    assert_int_equal(r.input_tokens, ipw_sim_estimate_chat_tokens("You answer briefly", "hi"));
    free_result(&r);
    close_sim(c);
}

/* What the profiler asks before measuring: aliases serve, unknown names and models that do
 * not fit the hardware are refused with a message naming them, model= serves any name. */
static void test_check_model(void **state)
{
    (void)state;
    ipw_errbuf eb = {0};
    struct ipw_client *c = open_sim("{\"time_scale\":0}", NULL, &eb);
    assert_non_null(c);
    assert_non_null(c->ops->check_model);
    assert_int_equal(c->ops->check_model(c, "llama-3.1-8b", &eb), IPW_OK);
    assert_int_equal(c->ops->check_model(c, "llama3.1:8b", &eb), IPW_OK);
    assert_int_equal(c->ops->check_model(c, "meta-llama/Llama-3.1-8B-Instruct", &eb), IPW_OK);
    assert_int_equal(c->ops->check_model(c, "some-private-model", &eb), IPW_E_NOTFOUND);
    assert_non_null(strstr(eb.msg, "some-private-model"));
    assert_non_null(strstr(eb.msg, "llama-3.2-1b")); /* the available specs are listed */
    assert_non_null(strstr(eb.msg, "model=NAME"));   /* and the way to model any name */
    /* 70B in bfloat16 is ~141 GB: not on one 80 GB H100 */
    assert_int_equal(c->ops->check_model(c, "llama-3.1-70b", &eb), IPW_E_INVALID);
    assert_non_null(strstr(eb.msg, "llama-3.1-70b"));
    assert_non_null(strstr(eb.msg, "H100"));
    close_sim(c);

    c = open_sim("{\"time_scale\":0,\"hardware\":\"H200\"}", NULL, &eb);
    assert_non_null(c);
    assert_int_equal(c->ops->check_model(c, "llama-3.1-70b", &eb), IPW_OK);
    close_sim(c);

    c = open_sim("{\"time_scale\":0,\"model\":\"llama-3.2-1b\"}", NULL, &eb);
    assert_non_null(c);
    assert_int_equal(c->ops->check_model(c, "some-private-model", &eb), IPW_OK);
    close_sim(c);
}

static void expect_open_error(const char *params, const char *needle)
{
    ipw_err e;
    ipw_errbuf eb = {0};
    struct ipw_client *c = open_sim(params, &e, &eb);
    if (c)
        fail_msg("opened with %s", params);
    if (!strstr(eb.msg, needle))
        fail_msg("error '%s' should mention '%s'", eb.msg, needle);
}

static void test_bad_params(void **state)
{
    (void)state;
    expect_open_error("{\"hardware\":\"H1000\"}", "H1000");
    expect_open_error("{\"model\":\"gpt-4o\"}", "gpt-4o");
    expect_open_error("{\"time_scale\":-1}", "time_scale");
    expect_open_error("{\"time_scale\":\"fast\"}", "time_scale");
    expect_open_error("{\"max_tokens\":0}", "max_tokens");
    expect_open_error("{\"max_tokens\":2.5}", "max_tokens");
    expect_open_error("{\"hardware\":7}", "hardware");
    expect_open_error("{\"output_tokens_min\":50,\"output_tokens_max\":10}", "output_tokens_max");
    expect_open_error("{\"dtype\":\"float64\"}", "float64");
    /* 141 GB of weights do not fit a 24 GB card; int4 brings them to 35 GB: still not */
    expect_open_error("{\"hardware\":\"RTX4090\",\"model\":\"llama-3.1-70b\"}", "GB");
    expect_open_error("{\"hardware\":\"RTX4090\",\"model\":\"llama-3.1-70b\",\"dtype\":\"int4\"}",
                      "RTX4090");
}

static void test_request_errors(void **state)
{
    (void)state;
    /* a user spec file with a 64-token context: a long prompt is refused like a server would */
    char *dir = ipw_test_mkdtemp("ipw-simc");
    ipw_test_write(dir, "tiny.json",
                   "{\"name\":\"tiny\",\"params\":210240,\"num_layers\":2,\"hidden_size\":64,"
                   "\"num_attention_heads\":4,\"intermediate_size\":128,\"vocab_size\":1000,"
                   "\"max_context\":64}");
    char params[512];
    snprintf(params, sizeof params, "{\"time_scale\":0,\"model\":\"%s/tiny.json\"}", dir);
    ipw_errbuf eb = {0};
    struct ipw_client *c = open_sim(params, NULL, &eb);
    if (!c)
        fail_msg("%s", eb.msg);
    char *prompt = words(100);
    struct ipw_chat_request req = {NULL, prompt, NULL};
    struct ipw_chat_result r;
    assert_int_equal(c->ops->chat(c, &req, NULL, &r), IPW_E_RANGE);
    assert_int_equal(r.error, IPW_E_RANGE);
    assert_non_null(strstr(r.error_msg, "context"));
    assert_non_null(r.content); /* filled in every case */
    assert_string_equal(r.content, "");
    assert_int_equal(r.output_tokens, -1);
    free_result(&r);
    /* a short prompt fits, and its output is cut at the context */
    struct ipw_chat_request ok = {NULL, "hi", NULL};
    assert_int_equal(c->ops->chat(c, &ok, NULL, &r), IPW_OK);
    assert_true(r.input_tokens + r.output_tokens <= 64);
    json_t *models;
    assert_int_equal(c->ops->list_models(c, &models, &eb), IPW_OK);
    assert_string_equal(json_string_value(json_array_get(models, 0)), "tiny");
    json_decref(models);
    free_result(&r);
    free(prompt);
    close_sim(c);
    ipw_test_rmtree(dir);
    free(dir);
}

struct worker {
    struct ipw_client *c;
    int id;
    int ok;
    struct ipw_chat_result res[3];
};

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    for (int i = 0; i < 3; i++) {
        char prompt[64];
        snprintf(prompt, sizeof prompt, "thread %d question %d", w->id, i);
        struct ipw_chat_request req = {"llama3.2:1b", prompt, NULL};
        if (w->c->ops->chat(w->c, &req, NULL, &w->res[i]) == IPW_OK)
            w->ok++;
    }
    return NULL;
}


/* Item 16 of issue 10: the sim answers mcq and exact items with a modelled correctness drawn
 * from the model's published accuracy, the same per item and seed, at the published rate, and
 * open items (or models without a published figure) not at all. */
static void test_modelled_correctness(void **state)
{
    (void)state;
    struct ipw_published_accuracy pa;
    assert_int_equal(ipw_published_accuracy_get("llama-3.1-8b", "mcq", &pa, NULL), IPW_OK);
    assert_true(pa.accuracy > 0.6 && pa.accuracy < 0.8);
    assert_non_null(strstr(pa.benchmark, "MMLU"));
    assert_non_null(strstr(pa.source, "https://"));
    assert_int_equal(ipw_published_accuracy_get("llama-3.1-8b", "open", &pa, NULL),
                     IPW_E_NOTFOUND);
    assert_int_equal(ipw_published_accuracy_get("nosuch", "mcq", &pa, NULL), IPW_E_NOTFOUND);
    /* every model in the table is one the sim can model */
    static const char *const listed[] = {"llama-3.1-8b", "llama-3.1-70b", "llama-3.2-1b",
                                         "llama-3.2-3b"};
    for (size_t i = 0; i < sizeof listed / sizeof *listed; i++) {
        struct ipw_model_spec ms;
        assert_int_equal(ipw_model_spec_load(listed[i], &ms, NULL), IPW_OK);
        assert_int_equal(ipw_published_accuracy_get(listed[i], "exact", &pa, NULL), IPW_OK);
    }

    ipw_errbuf eb = {0};
    struct ipw_client *a = open_sim("{\"time_scale\":0,\"output_tokens\":1}", NULL, &eb);
    struct ipw_client *a2 = open_sim("{\"time_scale\":0,\"output_tokens\":1}", NULL, &eb);
    struct ipw_client *b = open_sim("{\"time_scale\":0,\"output_tokens\":1,\"seed\":9}", NULL,
                                    &eb);
    assert_non_null(a);
    assert_non_null(b);
    int n = 2000, correct = 0, same = 0, differ = 0;
    for (int i = 0; i < n; i++) {
        char prompt[64];
        snprintf(prompt, sizeof prompt, "Question %d: which option?", i);
        struct ipw_chat_request req = {.model = "llama-3.1-8b", .prompt = prompt,
                                       .item_kind = "mcq", .item_reference = "B"};
        struct ipw_chat_result r1, r2, r3;
        assert_int_equal(a->ops->chat(a, &req, NULL, &r1), IPW_OK);
        assert_int_equal(a2->ops->chat(a2, &req, NULL, &r2), IPW_OK);
        assert_int_equal(b->ops->chat(b, &req, NULL, &r3), IPW_OK);
        const json_t *m1 = json_object_get(r1.server_timings, "modelled_correctness");
        const json_t *m2 = json_object_get(r2.server_timings, "modelled_correctness");
        const json_t *m3 = json_object_get(r3.server_timings, "modelled_correctness");
        assert_non_null(m1);
        assert_string_equal(json_string_value(json_object_get(m1, "label")),
                            "modelled accuracy");
        bool c1 = json_is_true(json_object_get(m1, "correct"));
        correct += c1;
        same += c1 == json_is_true(json_object_get(m2, "correct"));
        differ += c1 != json_is_true(json_object_get(m3, "correct"));
        free_result(&r1);
        free_result(&r2);
        free_result(&r3);
    }
    assert_int_equal(same, n); /* per item and seed: always the same */
    assert_true(differ > n / 5); /* another seed, other draws */
    /* at the published rate: 0.694 +- 4 standard deviations of a binomial over 2000 */
    double rate = (double)correct / n;
    assert_true(rate > 0.694 - 0.042 && rate < 0.694 + 0.042);

    struct ipw_chat_request open_item = {.model = "llama-3.1-8b", .prompt = "Explain.",
                                         .item_kind = "open", .item_reference = "because"};
    struct ipw_chat_request no_kind = {.model = "llama-3.1-8b", .prompt = "Hi"};
    struct ipw_chat_request unlisted = {.model = "qwen2.5-7b", .prompt = "Q?",
                                        .item_kind = "exact", .item_reference = "4"};
    const struct ipw_chat_request *none[] = {&open_item, &no_kind, &unlisted};
    for (size_t i = 0; i < 3; i++) {
        struct ipw_chat_result r;
        assert_int_equal(a->ops->chat(a, none[i], NULL, &r), IPW_OK);
        assert_null(json_object_get(r.server_timings, "modelled_correctness"));
        free_result(&r);
    }
    close_sim(a);
    close_sim(a2);
    close_sim(b);
}

static void test_concurrent_chats(void **state)
{
    (void)state;
    ipw_errbuf eb = {0};
    struct ipw_client *c = open_sim("{\"time_scale\":0.02,\"output_tokens_max\":64}", NULL, &eb);
    assert_non_null(c);
    enum { N = 8 };
    struct worker w[N];
    pthread_t th[N];
    for (int i = 0; i < N; i++) {
        w[i] = (struct worker){.c = c, .id = i};
        assert_int_equal(pthread_create(&th[i], NULL, worker_main, &w[i]), 0);
    }
    for (int i = 0; i < N; i++)
        pthread_join(th[i], NULL);
    struct ipw_perf pm;
    struct ipw_perf_request rq;
    for (int i = 0; i < N; i++) {
        assert_int_equal(w[i].ok, 3);
        for (int k = 0; k < 3; k++) {
            struct ipw_chat_result *r = &w[i].res[k];
            assert_true(r->start_ns < r->first_token_ns && r->first_token_ns <= r->end_ns);
            /* each request keeps its own modelled pace however many run beside it */
            plan_for("H100", "llama-3.2-1b", r->input_tokens, r->output_tokens, &pm, &rq);
            double total = (double)(r->end_ns - r->start_ns) / 1e9;
            assert_true(total >= rq.total_s * 0.02 - 1e-6);
            char prompt[64];
            snprintf(prompt, sizeof prompt, "thread %d question %d", i, k);
            assert_int_equal(r->output_tokens, ipw_sim_output_tokens(NULL, prompt, 0, 16, 64));
            free_result(r);
        }
    }
    /* nothing is left in flight */
    struct ipw_sim_reading sr;
    ipw_sim_activity_read(ipw_mono_ns(), &sr);
    assert_int_equal(sr.prefill + sr.decode, 0);
    assert_false(sr.busy);
    close_sim(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_timing_real_time),
        cmocka_unit_test(test_timing_scaled),
        cmocka_unit_test(test_deterministic_output),
        cmocka_unit_test(test_max_tokens_and_seed),
        cmocka_unit_test(test_model_selection),
        cmocka_unit_test(test_check_model),
        cmocka_unit_test(test_bad_params),
        cmocka_unit_test(test_request_errors),
        cmocka_unit_test(test_concurrent_chats),
        cmocka_unit_test(test_modelled_correctness),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
