/* The ollama client against the scripted server over real sockets: text and thinking, the
 * final counts and durations, parameters reaching the request, timestamps against the scripted
 * timing, every scripted failure, health and models, timeouts, and concurrent queries. */
#include "ipw_test.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "ipw/client.h"
#include "ipw/clock.h"
#include "client_fixture.h"
#include "llm_server.h"

static struct ipw_test_llm_server g_srv;

static int setup(void **state)
{
    (void)state;
    const char *args[] = {"--model", "llama-test:1b=ttft=200ms,itl=25ms,tokens=20,prompt_tokens=12",
                          NULL};
    return ipw_test_llm_server_start(&g_srv, args);
}

static int teardown(void **state)
{
    (void)state;
    ipw_test_llm_server_stop(&g_srv);
    return 0;
}

/* the ollama client at base, with the parameters kv */
static void open_with(struct ipw_test_client *f, const char *base, const char *const *kv,
                      size_t n, int64_t idle_ns)
{
    ipw_test_client_open(f, "ollama", base, kv, n, NULL, idle_ns);
}

static ipw_err ask(struct ipw_test_client *f, const char *model, struct ipw_chat_result *res,
                   struct ipw_test_evlog *log)
{
    ipw_err e = ipw_test_client_ask(f, model, "What is two plus two?", res, log);
    if (log) /* every NDJSON delta the client reports carries text */
        assert_int_equal(log->empty_deltas, 0);
    return e;
}

static void test_basic_answer(void **state)
{
    (void)state;
    struct ipw_test_client f;
    open_with(&f, g_srv.url, NULL, 0, 10 * IPW_NS_PER_SEC);
    struct ipw_chat_result res;
    struct ipw_test_evlog log = {0};
    assert_int_equal(ask(&f, "test", &res, &log), IPW_OK);
    assert_string_equal(res.content, "t1 t2 t3 t4 t5 t6 t7 t8 ");
    assert_string_equal(res.reasoning, "");
    assert_int_equal(res.http_status, 200);
    assert_string_equal(res.finish_reason, "stop");
    assert_int_equal(res.token_source, IPW_TOKENS_SERVER);
    assert_int_equal(res.input_tokens, 5); /* the server counts the prompt's words */
    assert_int_equal(res.output_tokens, 8);
    assert_string_equal(res.error_msg, "");
    assert_int_equal(log.starts, 1);
    assert_int_equal(log.firsts, 1);
    assert_int_equal(log.deltas, 8);
    const char *keys[] = {"prompt_eval_count", "eval_count",    "prompt_eval_duration",
                          "eval_duration",     "load_duration", "total_duration"};
    for (size_t i = 0; i < 6; i++)
        assert_non_null(json_object_get(res.server_timings, keys[i]));
    ipw_chat_result_free(&res);
    ipw_test_client_close(&f);
}

static void test_timestamps_follow_the_script(void **state)
{
    (void)state;
    struct ipw_test_client f;
    open_with(&f, g_srv.url, NULL, 0, 10 * IPW_NS_PER_SEC);
    struct ipw_chat_result res;
    struct ipw_test_evlog log = {0};
    assert_int_equal(ask(&f, "llama-test:1b", &res, &log), IPW_OK);
    assert_true(res.start_ns > 0);
    assert_true(res.start_ns < res.first_token_ns);
    assert_true(res.first_token_ns < res.end_ns);
    assert_true(log.start_ns == res.start_ns);
    assert_true(log.first_ns == res.first_token_ns);
    int64_t ttft = res.first_token_ns - res.start_ns;
    int64_t decode = res.end_ns - res.first_token_ns;
    /* the server waits 200 ms after the request, then 19 gaps of 25 ms */
    assert_true(ttft >= 200 * IPW_NS_PER_MS);
    assert_true(ttft < 600 * IPW_NS_PER_MS);
    /* the server keeps every gap >= 25 ms, so start -> end holds at least 200 + 19 x 25 ms;
     * first -> end can lose a little when this process reads the first token late */
    assert_true(res.end_ns - res.start_ns >= (200 + 19 * 25) * IPW_NS_PER_MS);
    assert_true(decode >= (19 * 25 - 100) * IPW_NS_PER_MS);
    assert_true(decode < (19 * 25 + 600) * IPW_NS_PER_MS);
    assert_int_equal(res.input_tokens, 12);
    assert_int_equal(res.output_tokens, 20);
    json_t *t = res.server_timings;
    assert_int_equal(json_integer_value(json_object_get(t, "prompt_eval_duration")),
                     200 * IPW_NS_PER_MS);
    assert_int_equal(json_integer_value(json_object_get(t, "eval_duration")),
                     19 * 25 * IPW_NS_PER_MS);
    assert_int_equal(json_integer_value(json_object_get(t, "total_duration")),
                     (200 + 19 * 25) * IPW_NS_PER_MS);
    ipw_chat_result_free(&res);
    ipw_test_client_close(&f);
}

static void test_thinking(void **state)
{
    (void)state;
    struct ipw_test_client f;
    open_with(&f, g_srv.url, NULL, 0, 10 * IPW_NS_PER_SEC);
    struct ipw_chat_result res;
    struct ipw_test_evlog log = {0};
    assert_int_equal(ask(&f, "test,tokens=5,reasoning=3,ttft=50ms", &res, &log), IPW_OK);
    assert_string_equal(res.reasoning, "r1 r2 r3 ");
    assert_string_equal(res.content, "t4 t5 ");
    /* the first thinking token is the first token */
    assert_int_equal(log.firsts, 1);
    assert_true(res.first_token_ns - res.start_ns >= 50 * IPW_NS_PER_MS);
    assert_int_equal(log.deltas, 5);
    ipw_chat_result_free(&res);
    ipw_test_client_close(&f);
}

static void test_params_reach_the_request(void **state)
{
    (void)state;
    struct ipw_test_client f;
    const char *kv[] = {"max_tokens=5",      "temperature=0.25",      "top_p=0.9",
                        "seed=42",           "stop=[\"\\n\\n\",\"###\"]", "num_ctx=8192",
                        "system_prompt=Be brief.", "mirostat=2",     "keep_alive=5m",
                        "think=false",       "idle_timeout=20s"};
    open_with(&f, g_srv.url, kv, sizeof kv / sizeof kv[0], 10 * IPW_NS_PER_SEC);
    struct ipw_chat_result res;
    assert_int_equal(ask(&f, "test", &res, NULL), IPW_OK);
    /* the server honours num_predict: 5 of 8 tokens, finish "length" */
    assert_int_equal(res.output_tokens, 5);
    assert_string_equal(res.finish_reason, "length");
    ipw_chat_result_free(&res);

    json_t *body = ipw_test_llm_server_last_body(&g_srv, "/api/chat");
    assert_non_null(body);
    json_t *o = json_object_get(body, "options");
    assert_int_equal(json_integer_value(json_object_get(o, "num_predict")), 5);
    assert_double_equal(json_real_value(json_object_get(o, "temperature")), 0.25, 1e-12);
    assert_double_equal(json_real_value(json_object_get(o, "top_p")), 0.9, 1e-12);
    assert_int_equal(json_integer_value(json_object_get(o, "seed")), 42);
    assert_string_equal(json_string_value(json_array_get(json_object_get(o, "stop"), 0)), "\n\n");
    assert_string_equal(json_string_value(json_array_get(json_object_get(o, "stop"), 1)), "###");
    assert_int_equal(json_integer_value(json_object_get(o, "num_ctx")), 8192);
    assert_int_equal(json_integer_value(json_object_get(o, "mirostat")), 2); /* unknown: passed */
    assert_null(json_object_get(o, "max_tokens"));
    assert_null(json_object_get(o, "keep_alive"));
    assert_null(json_object_get(o, "idle_timeout")); /* client-side keys never go out */
    assert_null(json_object_get(body, "idle_timeout"));
    assert_null(json_object_get(o, "system_prompt"));
    assert_string_equal(json_string_value(json_object_get(body, "keep_alive")), "5m");
    assert_true(json_is_false(json_object_get(body, "think")));
    assert_true(json_is_true(json_object_get(body, "stream")));
    assert_string_equal(json_string_value(json_object_get(body, "model")), "test");
    json_t *msgs = json_object_get(body, "messages");
    assert_int_equal(json_array_size(msgs), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(msgs, 0), "role")),
                        "system");
    assert_string_equal(json_string_value(json_object_get(json_array_get(msgs, 0), "content")),
                        "Be brief.");
    assert_string_equal(json_string_value(json_object_get(json_array_get(msgs, 1), "content")),
                        "What is two plus two?");
    json_decref(body);

    /* a request's own system prompt wins over the parameter */
    struct ipw_chat_request req = {.model = "test", .prompt = "p", .system_prompt = "Own."};
    assert_int_equal(f.c->ops->chat(f.c, &req, NULL, &res), IPW_OK);
    ipw_chat_result_free(&res);
    body = ipw_test_llm_server_last_body(&g_srv, "/api/chat");
    msgs = json_object_get(body, "messages");
    assert_string_equal(json_string_value(json_object_get(json_array_get(msgs, 0), "content")),
                        "Own.");
    json_decref(body);
    ipw_test_client_close(&f);
}

static void test_default_max_tokens_and_options_object(void **state)
{
    (void)state;
    struct ipw_test_client f;
    const char *kv[] = {"options={\"num_ctx\":4096,\"temperature\":1}", "temperature=0"};
    open_with(&f, g_srv.url, kv, 2, 10 * IPW_NS_PER_SEC);
    struct ipw_chat_result res;
    assert_int_equal(ask(&f, "test", &res, NULL), IPW_OK);
    ipw_chat_result_free(&res);
    json_t *body = ipw_test_llm_server_last_body(&g_srv, "/api/chat");
    json_t *o = json_object_get(body, "options");
    assert_int_equal(json_integer_value(json_object_get(o, "num_predict")), 4096);
    assert_int_equal(json_integer_value(json_object_get(o, "num_ctx")), 4096);
    assert_int_equal(json_integer_value(json_object_get(o, "temperature")), 0); /* key wins */
    assert_int_equal(json_array_size(json_object_get(body, "messages")), 1); /* no system */
    json_decref(body);
    ipw_test_client_close(&f);
}

static void test_wire_variants(void **state)
{
    (void)state;
    struct ipw_test_client f;
    open_with(&f, g_srv.url, NULL, 0, 10 * IPW_NS_PER_SEC);
    const char *models[] = {"test,split,tokens=10", "test,crlf,tokens=10",
                            "test,comments,tokens=10", "test,split,crlf,comments,tokens=10"};
    for (size_t i = 0; i < 4; i++) {
        struct ipw_chat_result res;
        struct ipw_test_evlog log = {0};
        ipw_err e = ask(&f, models[i], &res, &log);
        if (e != IPW_OK)
            fail_msg("%s: %s", models[i], res.error_msg);
        assert_string_equal(res.content, "t1 t2 t3 t4 t5 t6 t7 t8 t9 t10 ");
        assert_int_equal(res.output_tokens, 10);
        assert_int_equal(log.deltas, 10);
        ipw_chat_result_free(&res);
    }
    ipw_test_client_close(&f);
}

static void test_failures(void **state)
{
    (void)state;
    struct ipw_test_client f;
    open_with(&f, g_srv.url, NULL, 0, 10 * IPW_NS_PER_SEC);
    struct {
        const char *model;
        ipw_err code;
        const char *msg1, *msg2;
        long out_tokens;
        enum ipw_token_source src;
    } cases[] = {
        {"test,malformed=3", IPW_E_PROTOCOL, "line 3 of the stream: malformed NDJSON line",
         "{\"model\":\"test,malformed=3\"", 8, IPW_TOKENS_SERVER},
        {"test,error=500", IPW_E_IO, "answered HTTP 500", "scripted HTTP 500", 0,
         IPW_TOKENS_ESTIMATED},
        {"nosuch:7b", IPW_E_NOTFOUND, "model 'nosuch:7b' not found on http://127.0.0.1:",
         "pull it with `ollama pull nosuch:7b`", 0, IPW_TOKENS_ESTIMATED},
        {"test,disconnect=3", IPW_E_LOST, "stream ended before completion after 3 tokens",
         "closed before the response was complete", 3, IPW_TOKENS_ESTIMATED},
        {"test,no_done", IPW_E_LOST, "stream ended before completion after 8 tokens",
         "without a line with \"done\": true", 8, IPW_TOKENS_ESTIMATED},
        {"test,stream_error=2", IPW_E_IO, "reported an error after 2 tokens",
         "scripted failure after 2 tokens", 2, IPW_TOKENS_ESTIMATED},
        {"test,bogus=1", IPW_E_INVALID, "HTTP 400", "unknown scripted behaviour 'bogus'", 0,
         IPW_TOKENS_ESTIMATED},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct ipw_chat_result res;
        ipw_err e = ask(&f, cases[i].model, &res, NULL);
        if (e != cases[i].code || !strstr(res.error_msg, cases[i].msg1) ||
            !strstr(res.error_msg, cases[i].msg2))
            fail_msg("%s: got %s: %s", cases[i].model, ipw_err_name(e), res.error_msg);
        assert_int_equal(res.error, e);
        assert_int_equal(res.output_tokens, cases[i].out_tokens);
        assert_int_equal(res.token_source, cases[i].src);
        assert_non_null(res.content);
        assert_true(res.end_ns >= res.start_ns);
        ipw_chat_result_free(&res);
    }
    ipw_test_client_close(&f);
}

static void test_malformed_keeps_the_rest(void **state)
{
    (void)state;
    struct ipw_test_client f;
    open_with(&f, g_srv.url, NULL, 0, 10 * IPW_NS_PER_SEC);
    struct ipw_chat_result res;
    assert_int_equal(ask(&f, "test,malformed=3", &res, NULL), IPW_E_PROTOCOL);
    /* the broken third token is lost, the rest and the server's counts are kept */
    assert_string_equal(res.content, "t1 t2 t4 t5 t6 t7 t8 ");
    assert_int_equal(res.output_tokens, 8);
    assert_non_null(strstr(res.error_msg, "1 malformed line(s) in all"));
    assert_true(strlen(res.error_msg) < IPW_ERRMSG_MAX);
    ipw_chat_result_free(&res);
    ipw_test_client_close(&f);
}

static void test_no_usage_is_estimated(void **state)
{
    (void)state;
    struct ipw_test_client f;
    open_with(&f, g_srv.url, NULL, 0, 10 * IPW_NS_PER_SEC);
    struct ipw_chat_result res;
    assert_int_equal(ask(&f, "test,no_usage,tokens=6", &res, NULL), IPW_OK);
    assert_int_equal(res.token_source, IPW_TOKENS_ESTIMATED);
    assert_int_equal(res.output_tokens, 6);                          /* one per delta */
    assert_int_equal(res.input_tokens, (long)((strlen("What is two plus two?") + 3) / 4));
    ipw_chat_result_free(&res);
    ipw_test_client_close(&f);
}

/* A server that keeps the response open after its end marker does not hold the query up. */
static void test_end_marker_ends_the_query(void **state)
{
    (void)state;
    struct ipw_test_client f;
    const char *kv[] = {"idle_timeout=5s"};
    open_with(&f, g_srv.url, kv, 1, 10 * IPW_NS_PER_SEC);
    struct ipw_chat_result res;
    int64_t t0 = ipw_mono_ns();
    assert_int_equal(ask(&f, "test,tokens=3,linger=30s", &res, NULL), IPW_OK);
    assert_true(ipw_mono_ns() - t0 < 3 * IPW_NS_PER_SEC);
    assert_int_equal(res.output_tokens, 3);
    ipw_chat_result_free(&res);
    ipw_test_client_close(&f);
}

static void test_health_and_models(void **state)
{
    (void)state;
    struct ipw_test_client f;
    ipw_errbuf eb;
    open_with(&f, g_srv.url, NULL, 0, 10 * IPW_NS_PER_SEC);
    assert_int_equal(f.c->ops->health(f.c, &eb), IPW_OK);
    json_t *models = NULL;
    assert_int_equal(f.c->ops->list_models(f.c, &models, &eb), IPW_OK);
    assert_int_equal(json_array_size(models), 2);
    assert_string_equal(json_string_value(json_array_get(models, 0)), "test");
    assert_string_equal(json_string_value(json_array_get(models, 1)), "llama-test:1b");
    json_decref(models);
    ipw_test_client_close(&f);

    /* nothing listening: a clear message naming the URL, quickly */
    open_with(&f, "127.0.0.1:9/", NULL, 0, 10 * IPW_NS_PER_SEC);
    assert_string_equal(f.c->base_url, "http://127.0.0.1:9");
    int64_t t0 = ipw_mono_ns();
    assert_int_equal(f.c->ops->health(f.c, &eb), IPW_E_IO);
    assert_true(ipw_mono_ns() - t0 < 3 * IPW_NS_PER_SEC);
    assert_non_null(strstr(eb.msg, "cannot reach Ollama at http://127.0.0.1:9"));
    assert_non_null(strstr(eb.msg, "ollama serve"));
    struct ipw_chat_result res;
    assert_int_equal(ask(&f, "test", &res, NULL), IPW_E_IO);
    assert_non_null(strstr(res.error_msg, "cannot connect to http://127.0.0.1:9/api/chat"));
    assert_int_equal(res.http_status, 0);
    assert_int_equal(res.first_token_ns, 0);
    ipw_chat_result_free(&res);
    ipw_test_client_close(&f);
}

static void test_idle_timeout(void **state)
{
    (void)state;
    struct ipw_test_client f;
    open_with(&f, g_srv.url, NULL, 0, 400 * IPW_NS_PER_MS);
    struct ipw_chat_result res;
    int64_t t0 = ipw_mono_ns();
    assert_int_equal(ask(&f, "test,stall=30s,stall_after=2,tokens=5", &res, NULL),
                     IPW_E_TIMEOUT);
    int64_t took = ipw_mono_ns() - t0;
    assert_true(took >= 400 * IPW_NS_PER_MS && took < 3 * IPW_NS_PER_SEC);
    assert_non_null(strstr(res.error_msg, "gave up after 2 tokens"));
    assert_non_null(strstr(res.error_msg, "idle timeout"));
    assert_string_equal(res.content, "t1 t2 ");
    ipw_chat_result_free(&res);
    ipw_test_client_close(&f);
}

static void test_bad_parameters(void **state)
{
    (void)state;
    const char *bad[][1] = {{"stream=false"}, {"max_tokens=lots"}, {"model=x"},
                            {"options=[1]"},  {"idle_timeout=soon"}, {"system_prompt=[1,2]"}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        json_t *params;
        ipw_errbuf eb;
        assert_int_equal(ipw_params_parse(bad[i], 1, &params, &eb), IPW_OK);
        struct ipw_client_config cfg = {.base_url = g_srv.url, .params = params};
        struct ipw_client *c = NULL;
        assert_int_equal(ipw_client_open("ollama", &cfg, &c, &eb), IPW_E_INVALID);
        assert_null(c);
        assert_true(strlen(eb.msg) > 10);
        json_decref(params);
    }
}

struct worker {
    struct ipw_client *c;
    int id;
    ipw_err e;
    char content[256];
};

static void *work(void *arg)
{
    struct worker *w = arg;
    char model[64];
    snprintf(model, sizeof model, "test,tokens=%d,itl=2ms", 5 + w->id);
    struct ipw_chat_request req = {.model = model, .prompt = "go"};
    struct ipw_chat_result res;
    w->e = w->c->ops->chat(w->c, &req, NULL, &res);
    snprintf(w->content, sizeof w->content, "%s", res.content ? res.content : "");
    ipw_chat_result_free(&res);
    return NULL;
}

static void test_concurrent_queries(void **state)
{
    (void)state;
    struct ipw_test_client f;
    open_with(&f, g_srv.url, NULL, 0, 10 * IPW_NS_PER_SEC);
    struct worker w[6];
    pthread_t th[6];
    for (int i = 0; i < 6; i++) {
        w[i] = (struct worker){.c = f.c, .id = i};
        pthread_create(&th[i], NULL, work, &w[i]);
    }
    for (int i = 0; i < 6; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(w[i].e, IPW_OK);
        /* each answer has its own length: no crossed streams */
        int words = 0;
        for (const char *p = w[i].content; *p; p++)
            words += *p == ' ';
        assert_int_equal(words, 5 + i);
    }
    ipw_test_client_close(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_basic_answer),
        cmocka_unit_test(test_timestamps_follow_the_script),
        cmocka_unit_test(test_thinking),
        cmocka_unit_test(test_params_reach_the_request),
        cmocka_unit_test(test_default_max_tokens_and_options_object),
        cmocka_unit_test(test_wire_variants),
        cmocka_unit_test(test_failures),
        cmocka_unit_test(test_malformed_keeps_the_rest),
        cmocka_unit_test(test_no_usage_is_estimated),
        cmocka_unit_test(test_end_marker_ends_the_query),
        cmocka_unit_test(test_health_and_models),
        cmocka_unit_test(test_idle_timeout),
        cmocka_unit_test(test_bad_parameters),
        cmocka_unit_test(test_concurrent_queries),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
