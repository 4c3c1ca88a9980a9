/* The openai and vllm clients against the scripted server over real sockets: event-stream
 * answers, usage, reasoning fields, parameters reaching the request, URL joining, timestamps,
 * every scripted failure, health and models, and the API key: sent as a bearer token and
 * absent from every message and log line. */
#include "ipw_test.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ipw/client.h"
#include "ipw/clock.h"
#include "ipw/fsutil.h"
#include "ipw/log.h"
#include "client_fixture.h"
#include "llm_server.h"

#define KEY "sk-test-SECRET-0123456789abcdef"
#define WRONG_KEY "sk-wrong-SECRET-fedcba9876543210"

static struct ipw_test_llm_server g_srv;

static int setup(void **state)
{
    (void)state;
    const char *args[] = {"--model", "Qwen/Qwen3-8B=ttft=200ms,itl=25ms,tokens=20,prompt_tokens=9",
                          NULL};
    return ipw_test_llm_server_start(&g_srv, args);
}

static int teardown(void **state)
{
    (void)state;
    ipw_test_llm_server_stop(&g_srv);
    return 0;
}

static ipw_err try_open(struct ipw_test_client *f, const char *client, const char *base,
                        const char *const *kv, size_t n, const char *key, ipw_errbuf *eb)
{
    return ipw_test_client_try_open(f, client, base, kv, n, key, 10 * IPW_NS_PER_SEC, eb);
}

static void open_with(struct ipw_test_client *f, const char *client, const char *base,
                      const char *const *kv, size_t n, const char *key)
{
    ipw_test_client_open(f, client, base, kv, n, key, 10 * IPW_NS_PER_SEC);
}

static ipw_err ask(struct ipw_test_client *f, const char *model, struct ipw_chat_result *res,
                   struct ipw_test_evlog *log)
{
    return ipw_test_client_ask(f, model, "Name a prime number.", res, log);
}

static void test_basic_answer(void **state)
{
    (void)state;
    struct ipw_test_client f;
    open_with(&f, "vllm", g_srv.url, NULL, 0, NULL);
    struct ipw_chat_result res;
    struct ipw_test_evlog log = {0};
    assert_int_equal(ask(&f, "test", &res, &log), IPW_OK);
    assert_string_equal(res.content, "t1 t2 t3 t4 t5 t6 t7 t8 ");
    assert_int_equal(res.http_status, 200);
    assert_string_equal(res.finish_reason, "stop");
    assert_int_equal(res.token_source, IPW_TOKENS_SERVER);
    assert_int_equal(res.input_tokens, 4);
    assert_int_equal(res.output_tokens, 8);
    assert_int_equal(json_integer_value(json_object_get(res.server_timings, "total_tokens")), 12);
    assert_int_equal(log.starts, 1);
    assert_int_equal(log.firsts, 1);
    assert_int_equal(log.deltas, 8); /* the empty role chunk is not a delta */
    ipw_chat_result_free(&res);
    ipw_test_client_close(&f);
}

static void test_v1_is_not_doubled(void **state)
{
    (void)state;
    char base[128];
    snprintf(base, sizeof base, "%s/v1/", g_srv.url);
    struct ipw_test_client f;
    open_with(&f, "openai", base, NULL, 0, NULL);
    assert_non_null(strstr(f.c->base_url, "/v1"));
    struct ipw_chat_result res;
    ipw_errbuf eb;
    assert_int_equal(ask(&f, "test", &res, NULL), IPW_OK);
    ipw_chat_result_free(&res);
    assert_int_equal(f.c->ops->health(f.c, &eb), IPW_OK);
    json_t *reqs = ipw_test_llm_server_requests(&g_srv);
    size_t n = json_array_size(reqs);
    assert_true(n >= 2);
    assert_string_equal(
        json_string_value(json_object_get(json_array_get(reqs, n - 2), "path")),
        "/v1/chat/completions");
    assert_string_equal(json_string_value(json_object_get(json_array_get(reqs, n - 1), "path")),
                        "/v1/models");
    json_decref(reqs);
    ipw_test_client_close(&f);
}

static void test_timestamps_follow_the_script(void **state)
{
    (void)state;
    struct ipw_test_client f;
    open_with(&f, "vllm", g_srv.url, NULL, 0, NULL);
    struct ipw_chat_result res;
    struct ipw_test_evlog log = {0};
    assert_int_equal(ask(&f, "Qwen/Qwen3-8B", &res, &log), IPW_OK);
    assert_true(res.start_ns < res.first_token_ns && res.first_token_ns < res.end_ns);
    assert_true(log.start_ns == res.start_ns && log.first_ns == res.first_token_ns);
    /* the role chunk arrives at once; the first token only after the scripted 200 ms */
    int64_t ttft = res.first_token_ns - res.start_ns;
    assert_true(ttft >= 200 * IPW_NS_PER_MS);
    assert_true(ttft < 600 * IPW_NS_PER_MS);
    int64_t decode = res.end_ns - res.first_token_ns;
    /* the server keeps every gap >= 25 ms, so start -> end holds at least 200 + 19 x 25 ms;
     * first -> end can lose a little when this process reads the first token late */
    assert_true(res.end_ns - res.start_ns >= (200 + 19 * 25) * IPW_NS_PER_MS);
    assert_true(decode >= (19 * 25 - 100) * IPW_NS_PER_MS);
    assert_true(decode < (19 * 25 + 600) * IPW_NS_PER_MS);
    assert_int_equal(res.input_tokens, 9);
    assert_int_equal(res.output_tokens, 20);
    ipw_chat_result_free(&res);
    ipw_test_client_close(&f);
}

static void test_reasoning_fields(void **state)
{
    (void)state;
    struct ipw_test_client f;
    open_with(&f, "vllm", g_srv.url, NULL, 0, NULL);
    const char *models[] = {"test,tokens=4,reasoning=2",
                            "test,tokens=4,reasoning=2,reasoning_field=reasoning"};
    for (int i = 0; i < 2; i++) {
        struct ipw_chat_result res;
        struct ipw_test_evlog log = {0};
        assert_int_equal(ask(&f, models[i], &res, &log), IPW_OK);
        assert_string_equal(res.reasoning, "r1 r2 ");
        assert_string_equal(res.content, "t3 t4 ");
        assert_int_equal(log.firsts, 1);
        assert_int_equal(log.deltas, 4);
        ipw_chat_result_free(&res);
    }
    ipw_test_client_close(&f);
}

static void test_params_reach_the_request(void **state)
{
    (void)state;
    struct ipw_test_client f;
    const char *kv[] = {"max_tokens=5",
                        "temperature=0.7",
                        "top_p=0.95",
                        "seed=7",
                        "stop=[\"END\"]",
                        "system=You are terse.",
                        "repetition_penalty=1.1",
                        "chat_template_kwargs={\"enable_thinking\":false}",
                        "stream_options={\"continuous_usage_stats\":true}",
                        "connect_timeout=3s"};
    open_with(&f, "vllm", g_srv.url, kv, sizeof kv / sizeof kv[0], NULL);
    struct ipw_chat_result res;
    assert_int_equal(ask(&f, "test", &res, NULL), IPW_OK);
    assert_int_equal(res.output_tokens, 5);
    assert_string_equal(res.finish_reason, "length");
    ipw_chat_result_free(&res);
    json_t *b = ipw_test_llm_server_last_body(&g_srv, "/v1/chat/completions");
    assert_int_equal(json_integer_value(json_object_get(b, "max_tokens")), 5);
    assert_double_equal(json_real_value(json_object_get(b, "temperature")), 0.7, 1e-12);
    assert_double_equal(json_real_value(json_object_get(b, "top_p")), 0.95, 1e-12);
    assert_int_equal(json_integer_value(json_object_get(b, "seed")), 7);
    assert_string_equal(json_string_value(json_array_get(json_object_get(b, "stop"), 0)), "END");
    assert_double_equal(json_real_value(json_object_get(b, "repetition_penalty")), 1.1, 1e-12);
    assert_true(json_is_false(
        json_object_get(json_object_get(b, "chat_template_kwargs"), "enable_thinking")));
    assert_true(json_is_true(json_object_get(b, "stream")));
    json_t *so = json_object_get(b, "stream_options");
    assert_true(json_is_true(json_object_get(so, "include_usage")));
    assert_true(json_is_true(json_object_get(so, "continuous_usage_stats")));
    assert_null(json_object_get(b, "connect_timeout"));
    assert_null(json_object_get(b, "system"));
    json_t *m0 = json_array_get(json_object_get(b, "messages"), 0);
    assert_string_equal(json_string_value(json_object_get(m0, "role")), "system");
    assert_string_equal(json_string_value(json_object_get(m0, "content")), "You are terse.");
    json_decref(b);
    ipw_test_client_close(&f);

    /* max_completion_tokens replaces the default max_tokens */
    const char *kv2[] = {"max_completion_tokens=7"};
    open_with(&f, "vllm", g_srv.url, kv2, 1, NULL);
    assert_int_equal(ask(&f, "test,tokens=9", &res, NULL), IPW_OK);
    assert_int_equal(res.output_tokens, 7);
    ipw_chat_result_free(&res);
    b = ipw_test_llm_server_last_body(&g_srv, "/v1/chat/completions");
    assert_int_equal(json_integer_value(json_object_get(b, "max_completion_tokens")), 7);
    assert_null(json_object_get(b, "max_tokens"));
    json_decref(b);
    ipw_test_client_close(&f);

    open_with(&f, "vllm", g_srv.url, NULL, 0, NULL);
    assert_int_equal(ask(&f, "test", &res, NULL), IPW_OK);
    ipw_chat_result_free(&res);
    b = ipw_test_llm_server_last_body(&g_srv, "/v1/chat/completions");
    assert_int_equal(json_integer_value(json_object_get(b, "max_tokens")), 4096);
    assert_int_equal(json_array_size(json_object_get(b, "messages")), 1);
    json_decref(b);
    ipw_test_client_close(&f);
}

static void test_wire_variants(void **state)
{
    (void)state;
    struct ipw_test_client f;
    open_with(&f, "vllm", g_srv.url, NULL, 0, NULL);
    const char *models[] = {"test,split,tokens=10", "test,crlf,tokens=10",
                            "test,comments,tokens=10", "test,multiline,tokens=10",
                            "test,split,crlf,comments,multiline,tokens=10"};
    for (size_t i = 0; i < sizeof models / sizeof models[0]; i++) {
        struct ipw_chat_result res;
        struct ipw_test_evlog log = {0};
        if (ask(&f, models[i], &res, &log) != IPW_OK)
            fail_msg("%s: %s", models[i], res.error_msg);
        assert_string_equal(res.content, "t1 t2 t3 t4 t5 t6 t7 t8 t9 t10 ");
        assert_int_equal(res.output_tokens, 10);
        assert_int_equal(res.token_source, IPW_TOKENS_SERVER);
        assert_int_equal(log.deltas, 10);
        ipw_chat_result_free(&res);
    }
    ipw_test_client_close(&f);
}

static void test_failures(void **state)
{
    (void)state;
    struct ipw_test_client f;
    open_with(&f, "vllm", g_srv.url, NULL, 0, NULL);
    struct {
        const char *model;
        ipw_err code;
        const char *msg1, *msg2;
        long out_tokens;
        enum ipw_token_source src;
    } cases[] = {
        {"test,malformed=3", IPW_E_PROTOCOL, "malformed event data from the server",
         "1 malformed line(s) in all", 8, IPW_TOKENS_SERVER},
        {"test,error=500", IPW_E_IO, "answered HTTP 500", "scripted HTTP 500", 0,
         IPW_TOKENS_ESTIMATED},
        {"nosuch-model", IPW_E_NOTFOUND, "model 'nosuch-model' is not served at",
         "The model `nosuch-model` does not exist.", 0, IPW_TOKENS_ESTIMATED},
        {"test,disconnect=3", IPW_E_LOST, "stream ended before completion after 3 tokens",
         "closed before the response was complete", 3, IPW_TOKENS_ESTIMATED},
        {"test,no_done", IPW_E_LOST, "stream ended before completion after 8 tokens",
         "without \"data: [DONE]\"", 8, IPW_TOKENS_ESTIMATED},
        {"test,stream_error=2", IPW_E_IO, "reported an error after 2 tokens",
         "scripted failure after 2 tokens", 2, IPW_TOKENS_ESTIMATED},
        {"test,error=422", IPW_E_INVALID, "rejected the request", "max_completion_tokens", 0,
         IPW_TOKENS_ESTIMATED},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct ipw_chat_result res;
        ipw_err e = ask(&f, cases[i].model, &res, NULL);
        if (e != cases[i].code || !strstr(res.error_msg, cases[i].msg1) ||
            !strstr(res.error_msg, cases[i].msg2))
            fail_msg("%s: got %s: %s", cases[i].model, ipw_err_name(e), res.error_msg);
        assert_int_equal(res.output_tokens, cases[i].out_tokens);
        assert_int_equal(res.token_source, cases[i].src);
        ipw_chat_result_free(&res);
    }
    /* no usage chunk: counts are estimated and marked so */
    struct ipw_chat_result res;
    assert_int_equal(ask(&f, "test,no_usage,tokens=6", &res, NULL), IPW_OK);
    assert_int_equal(res.token_source, IPW_TOKENS_ESTIMATED);
    assert_int_equal(res.output_tokens, 6);
    assert_int_equal(res.input_tokens, (long)((strlen("Name a prime number.") + 3) / 4));
    assert_null(res.server_timings);
    ipw_chat_result_free(&res);
    ipw_test_client_close(&f);
}

/* A server that keeps the response open after its end marker does not hold the query up. */
static void test_end_marker_ends_the_query(void **state)
{
    (void)state;
    struct ipw_test_client f;
    const char *kv[] = {"idle_timeout=5s"};
    open_with(&f, "vllm", g_srv.url, kv, 1, NULL);
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
    open_with(&f, "vllm", g_srv.url, NULL, 0, NULL);
    assert_int_equal(f.c->ops->health(f.c, &eb), IPW_OK);
    json_t *models;
    assert_int_equal(f.c->ops->list_models(f.c, &models, &eb), IPW_OK);
    assert_int_equal(json_array_size(models), 2);
    assert_string_equal(json_string_value(json_array_get(models, 1)), "Qwen/Qwen3-8B");
    json_decref(models);
    ipw_test_client_close(&f);

    open_with(&f, "vllm", NULL, NULL, 0, NULL);
    assert_string_equal(f.c->base_url, "http://127.0.0.1:8000");
    ipw_test_client_close(&f);
    open_with(&f, "vllm", "http://127.0.0.1:9", NULL, 0, NULL);
    assert_int_equal(f.c->ops->health(f.c, &eb), IPW_E_IO);
    assert_non_null(strstr(eb.msg, "cannot reach the vllm server at http://127.0.0.1:9"));
    ipw_test_client_close(&f);
}

static void test_openai_default_needs_a_key(void **state)
{
    (void)state;
    struct ipw_test_client f;
    ipw_errbuf eb;
    assert_int_equal(try_open(&f, "openai", NULL, NULL, 0, NULL, &eb), IPW_E_PERM);
    assert_non_null(strstr(eb.msg, "https://api.openai.com/v1"));
    assert_non_null(strstr(eb.msg, "OPENAI_API_KEY"));
    open_with(&f, "openai", NULL, NULL, 0, KEY);
    assert_string_equal(f.c->base_url, "https://api.openai.com/v1");
    ipw_test_client_close(&f);
}

static void test_api_key_env(void **state)
{
    (void)state;
    unsetenv("IPW_API_KEY");
    unsetenv("OPENAI_API_KEY");
    assert_null(ipw_client_api_key_from_env());
    setenv("OPENAI_API_KEY", "from-openai", 1);
    assert_string_equal(ipw_client_api_key_from_env(), "from-openai");
    setenv("IPW_API_KEY", "from-ipw", 1);
    assert_string_equal(ipw_client_api_key_from_env(), "from-ipw");
    setenv("IPW_API_KEY", "", 1);
    assert_string_equal(ipw_client_api_key_from_env(), "from-openai");
    unsetenv("IPW_API_KEY");
    unsetenv("OPENAI_API_KEY");
}

/* Runs fn with stderr going to a file and logging at trace level; returns what was written. */
static char *capture_stderr(void (*fn)(void *), void *arg)
{
    char *dir = ipw_test_mkdtemp("ipw-stderr");
    char path[1100];
    snprintf(path, sizeof path, "%s/stderr.txt", dir);
    fflush(stderr);
    int saved = dup(2);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(fd, 2);
    close(fd);
    ipw_log_level old = ipw_log_get_level();
    ipw_log_set_level(IPW_LOG_TRACE);
    fn(arg);
    ipw_log_set_level(old);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    char *text = NULL;
    size_t len;
    assert_int_equal(ipw_read_file(path, 1 << 20, &text, &len, NULL), IPW_OK);
    ipw_test_rmtree(dir);
    free(dir);
    return text;
}

struct key_run {
    const char *url;
    char msgs[4][IPW_ERRMSG_MAX];
    ipw_err codes[4];
};

static void key_calls(void *arg)
{
    struct key_run *k = arg;
    struct ipw_test_client f;
    struct ipw_chat_result res;
    ipw_errbuf eb;
    /* right key */
    open_with(&f, "vllm", k->url, NULL, 0, KEY);
    k->codes[0] = ask(&f, "test", &res, NULL);
    snprintf(k->msgs[0], IPW_ERRMSG_MAX, "%s", res.error_msg);
    ipw_chat_result_free(&res);
    ipw_test_client_close(&f);
    /* wrong key: the server repeats it in its error body */
    open_with(&f, "vllm", k->url, NULL, 0, WRONG_KEY);
    k->codes[1] = ask(&f, "test", &res, NULL);
    snprintf(k->msgs[1], IPW_ERRMSG_MAX, "%s", res.error_msg);
    ipw_chat_result_free(&res);
    k->codes[2] = f.c->ops->health(f.c, &eb);
    snprintf(k->msgs[2], IPW_ERRMSG_MAX, "%s", eb.msg);
    json_t *models = NULL;
    k->codes[3] = f.c->ops->list_models(f.c, &models, &eb);
    snprintf(k->msgs[3], IPW_ERRMSG_MAX, "%s", eb.msg);
    json_decref(models);
    ipw_test_client_close(&f);
}

static void test_api_key_is_bearer_and_never_shown(void **state)
{
    (void)state;
    struct ipw_test_llm_server keyed;
    const char *args[] = {"--api-key", KEY, NULL};
    assert_int_equal(ipw_test_llm_server_start(&keyed, args), 0);
    struct key_run k = {.url = keyed.url};
    char *err_text = capture_stderr(key_calls, &k);
    assert_int_equal(k.codes[0], IPW_OK);
    assert_int_equal(k.codes[1], IPW_E_PERM);
    assert_int_equal(k.codes[2], IPW_E_PERM);
    assert_int_equal(k.codes[3], IPW_E_PERM);
    assert_non_null(strstr(k.msgs[1], "HTTP 401"));
    assert_non_null(strstr(k.msgs[1], "Incorrect API key provided: [redacted]"));
    assert_non_null(strstr(k.msgs[2], "[redacted]"));
    for (int i = 0; i < 4; i++) {
        assert_null(strstr(k.msgs[i], KEY));
        assert_null(strstr(k.msgs[i], WRONG_KEY));
        assert_null(strstr(k.msgs[i], "SECRET"));
    }
    /* the trace log saw the queries, but never a key */
    assert_non_null(strstr(err_text, "POST http://127.0.0.1:"));
    assert_null(strstr(err_text, "SECRET"));
    free(err_text);
    /* the server did get the bearer token */
    json_t *reqs = ipw_test_llm_server_requests(&keyed);
    assert_string_equal(
        json_string_value(json_object_get(json_array_get(reqs, 0), "authorization")),
        "Bearer " KEY);
    json_decref(reqs);
    ipw_test_llm_server_stop(&keyed);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_basic_answer),
        cmocka_unit_test(test_v1_is_not_doubled),
        cmocka_unit_test(test_timestamps_follow_the_script),
        cmocka_unit_test(test_reasoning_fields),
        cmocka_unit_test(test_params_reach_the_request),
        cmocka_unit_test(test_wire_variants),
        cmocka_unit_test(test_failures),
        cmocka_unit_test(test_end_marker_ends_the_query),
        cmocka_unit_test(test_health_and_models),
        cmocka_unit_test(test_openai_default_needs_a_key),
        cmocka_unit_test(test_api_key_env),
        cmocka_unit_test(test_api_key_is_bearer_and_never_shown),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
