/* The judge's pure parts: endpoint URLs, verdict parsing (strict and robust), the request body,
 * cache keys (SHA-256 test vectors), and the cache file (round trip, damaged lines, claims). */
#include "ipw_test.h"

#include <stdlib.h>
#include <string.h>

#include "analysis/sha256.h"
#include "ipw/judge.h"

static void test_endpoint(void **state)
{
    (void)state;
    char url[256];
    struct {
        const char *base, *want;
    } cases[] = {
        {"https://api.openai.com/v1", "https://api.openai.com/v1/chat/completions"},
        {"https://api.openai.com/v1/", "https://api.openai.com/v1/chat/completions"},
        {"http://127.0.0.1:8000", "http://127.0.0.1:8000/v1/chat/completions"},
        {"http://127.0.0.1:8000/", "http://127.0.0.1:8000/v1/chat/completions"},
        {"http://h:1/v1/chat/completions", "http://h:1/v1/chat/completions"},
        {"https://generativelanguage.googleapis.com/v1beta/openai/",
         "https://generativelanguage.googleapis.com/v1beta/openai/chat/completions"},
        {"HTTP://Host:9/api", "HTTP://Host:9/api/chat/completions"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        assert_int_equal(ipw_judge_endpoint(cases[i].base, url, sizeof url, NULL), IPW_OK);
        assert_string_equal(url, cases[i].want);
    }
    ipw_errbuf eb = {0};
    assert_int_equal(ipw_judge_endpoint("ftp://x/v1", url, sizeof url, &eb), IPW_E_INVALID);
    assert_non_null(strstr(eb.msg, "http"));
    assert_int_equal(ipw_judge_endpoint("api.openai.com", url, sizeof url, NULL), IPW_E_INVALID);
    assert_int_equal(ipw_judge_endpoint("http://", url, sizeof url, NULL), IPW_E_INVALID);
    assert_int_equal(ipw_judge_endpoint("", url, sizeof url, NULL), IPW_E_INVALID);
    assert_int_equal(ipw_judge_endpoint("http://h/v1", url, 10, NULL), IPW_E_RANGE);
    char shown[256];
    ipw_judge_url_for_display("https://bob:s3cret@proxy:8443/v1/chat/completions", shown,
                              sizeof shown);
    assert_string_equal(shown, "https://proxy:8443/v1/chat/completions");
    ipw_judge_url_for_display("http://h/v1/a@b", shown, sizeof shown);
    assert_string_equal(shown, "http://h/v1/a@b");
}

static void test_verdicts(void **state)
{
    (void)state;
    struct {
        const char *text;
        int want;
    } cases[] = {
        {"{\"correct\": true}", 1},
        {"{\"correct\": false}", 0},
        {"  {\"correct\":true}\n", 1},
        {"```json\n{\"correct\": false}\n```", 0},
        {"The response matches.\n\n{\"correct\": true}", 1},
        {"{\"correct\": false} ... on reflection {\"correct\": true}", 1},
        {"{\"is_correct\": true}", 1},
        {"{\"verdict\": \"INCORRECT\"}", 0},
        {"{\"correct\": \"yes\"}", 1},
        {"Verdict: CORRECT", 1},
        {"The answer agrees.\nFinal verdict: **INCORRECT**", 0},
        {"INCORRECT.", 0},
        {"correct", 1},
        {"<think>is it {\"correct\": true}?</think>{\"correct\": false}", 0},
        {"<think>hmm</think>\nNot correct", 0},
        /* malformed */
        {"", -1},
        {"I think the response is probably right but I am not sure.", -1},
        {"{\"correct\": null}", -1},
        {"{\"score\": 1}", -1},
        {"{\"correct\": tru", -1},
        {"The response is correct, although the reasoning is incorrect", -1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int got = ipw_judge_parse_verdict(cases[i].text);
        if (got != cases[i].want)
            fail_msg("case %zu \"%s\": got %d, want %d", i, cases[i].text, got, cases[i].want);
    }
    assert_int_equal(ipw_judge_parse_verdict(NULL), -1);
    const char *body = "{\"choices\":[{\"message\":{\"role\":\"assistant\",\"content\":"
                       "\"{\\\"correct\\\": true}\"}}]}";
    assert_int_equal(ipw_judge_parse_completion(body, strlen(body)), 1);
    const char *nocontent = "{\"choices\":[{\"message\":{\"role\":\"assistant\"}}]}";
    assert_int_equal(ipw_judge_parse_completion(nocontent, strlen(nocontent)), -1);
    assert_int_equal(ipw_judge_parse_completion("<html>", 6), -1);
}

static void test_request(void **state)
{
    (void)state;
    json_t *req = ipw_judge_request("gpt-test", "What is 2+2?", "4", "It is 4.");
    assert_non_null(req);
    assert_string_equal(json_string_value(json_object_get(req, "model")), "gpt-test");
    assert_true(json_is_false(json_object_get(req, "stream")));
    json_t *msgs = json_object_get(req, "messages");
    assert_int_equal(json_array_size(msgs), 2);
    const char *user = json_string_value(json_object_get(json_array_get(msgs, 1), "content"));
    assert_non_null(strstr(user, "Question:\n<<<\nWhat is 2+2?\n>>>"));
    assert_non_null(strstr(user, "Reference answer:\n<<<\n4\n>>>"));
    assert_non_null(strstr(user, "Model response:\n<<<\nIt is 4.\n>>>"));
    json_decref(req);

    /* a huge response is cut in the middle, keeping its end, on UTF-8 boundaries */
    size_t n = 100000;
    char *big = malloc(n + 1);
    for (size_t i = 0; i < n; i += 2) {
        big[i] = (char)0xC3; /* "é" repeated */
        big[i + 1] = (char)0xA9;
    }
    memcpy(big + n - 12, "FINAL: 42 ok", 12);
    big[n] = '\0';
    req = ipw_judge_request("m", "q", "42", big);
    assert_non_null(req); /* json_string would fail on broken UTF-8 */
    user = json_string_value(
        json_object_get(json_array_get(json_object_get(req, "messages"), 1), "content"));
    assert_true(strlen(user) < 30000);
    assert_non_null(strstr(user, "characters cut"));
    assert_non_null(strstr(user, "FINAL: 42 ok"));
    json_decref(req);
    free(big);
}

/* The vectors of FIPS 180-4 and a million 'a' in uneven pieces, on the current path. */
static void sha256_vectors(void)
{
    struct {
        const char *in, *hex;
    } v[] = {
        {"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
        {"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
        {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
         "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
    };
    for (size_t i = 0; i < 3; i++) {
        struct ipw_sha256 s;
        uint8_t d[32];
        char hex[65];
        ipw_sha256_init(&s);
        ipw_sha256_update(&s, v[i].in, strlen(v[i].in));
        ipw_sha256_final(&s, d);
        ipw_sha256_hex(d, hex);
        assert_string_equal(hex, v[i].hex);
    }
    /* a million 'a', fed in uneven pieces */
    struct ipw_sha256 s;
    ipw_sha256_init(&s);
    char chunk[997];
    memset(chunk, 'a', sizeof chunk);
    size_t left = 1000000;
    while (left) {
        size_t k = left < sizeof chunk ? left : sizeof chunk;
        ipw_sha256_update(&s, chunk, k);
        left -= k;
    }
    uint8_t d[32];
    char hex[65];
    ipw_sha256_final(&s, d);
    ipw_sha256_hex(d, hex);
    assert_string_equal(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

static void test_sha256(void **state)
{
    (void)state;
    /* the CPU's SHA instructions where there are some, then the portable rounds */
    bool ni = ipw_sha256_accelerated(true);
    sha256_vectors();
    assert_false(ipw_sha256_accelerated(false));
    sha256_vectors();
    /* both paths agree on every length around the block boundaries */
    unsigned char buf[300];
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (unsigned char)(i * 131 + 7);
    for (size_t n = 0; n <= sizeof buf; n++) {
        char a[65], b[65];
        uint8_t d[32];
        struct ipw_sha256 s;
        for (int pass = 0; pass < 2; pass++) {
            ipw_sha256_accelerated(pass == 0);
            ipw_sha256_init(&s);
            ipw_sha256_update(&s, buf, n);
            ipw_sha256_final(&s, d);
            ipw_sha256_hex(d, pass == 0 ? a : b);
        }
        assert_string_equal(a, b);
    }
    ipw_sha256_accelerated(true);
    print_message("sha256: %s\n", ni ? "SHA instructions and portable rounds" : "portable only");

    char k1[65], k2[65], k3[65];
    ipw_judge_key("m", "q", "a", "r", k1);
    ipw_judge_key("m", "q", "a", "r", k2);
    ipw_judge_key("m", "qa", "", "r", k3); /* field boundaries matter */
    assert_string_equal(k1, k2);
    assert_string_not_equal(k1, k3);
    ipw_judge_key("m2", "q", "a", "r", k3);
    assert_string_not_equal(k1, k3);
}

static void test_cache(void **state)
{
    (void)state;
    char *dir = ipw_test_mkdtemp("ipw-judge-cache");
    char path[512];
    snprintf(path, sizeof path, "%s/judge_cache.jsonl", dir);
    struct ipw_judge_cache *c;
    assert_int_equal(ipw_judge_cache_open(path, &c, NULL), IPW_OK);
    char keys[800][65];
    for (int i = 0; i < 800; i++) { /* past 70% of 1024 slots: the table grows */
        ipw_judge_key("m", "q", "a", (char[16]){(char)('a' + i % 26), (char)('a' + i / 26 % 26),
                                                 (char)('a' + i / 676), 0},
                      keys[i]);
        assert_int_equal(ipw_judge_cache_get(c, keys[i]), IPW_JUDGE_MISSING);
        assert_int_equal(ipw_judge_cache_put(c, keys[i], i % 3 == 0, "judge-x", NULL), IPW_OK);
    }
    char other[65];
    ipw_judge_key("m", "q", "a", "never", other);
    assert_true(ipw_judge_cache_claim(c, other));
    assert_false(ipw_judge_cache_claim(c, other));
    assert_false(ipw_judge_cache_claim(c, keys[0]));
    assert_int_equal(ipw_judge_cache_get(c, other), IPW_JUDGE_PENDING);
    ipw_judge_cache_mark_failed(c, other);
    assert_int_equal(ipw_judge_cache_get(c, other), IPW_JUDGE_FAILED);
    assert_int_equal(ipw_judge_cache_put(c, "zz", true, "j", NULL), IPW_E_INVALID);
    ipw_judge_cache_close(c);

    /* reload: verdicts back, the failure forgotten; a damaged line skipped */
    FILE *f = fopen(path, "a");
    fputs("{\"key\": \"abc\", \"correct\": true}\nnot json\n\n", f);
    fclose(f);
    assert_int_equal(ipw_judge_cache_open(path, &c, NULL), IPW_OK);
    assert_int_equal(ipw_judge_cache_damaged_lines(c), 2);
    for (int i = 0; i < 800; i++)
        assert_int_equal(ipw_judge_cache_get(c, keys[i]),
                         i % 3 == 0 ? IPW_JUDGE_CORRECT : IPW_JUDGE_INCORRECT);
    assert_int_equal(ipw_judge_cache_get(c, other), IPW_JUDGE_MISSING);
    assert_int_equal(ipw_judge_cache_size(c), 800);
    ipw_judge_cache_close(c);
    ipw_test_rmtree(dir);
    free(dir);
}

static void test_pool_config(void **state)
{
    (void)state;
    struct ipw_judge_config cfg = {.base_url = "http://127.0.0.1:9", .model = NULL};
    struct ipw_judge_pool *p;
    ipw_errbuf eb = {0};
    assert_int_equal(ipw_judge_pool_start(&cfg, NULL, &p, &eb), IPW_E_INVALID);
    assert_non_null(strstr(eb.msg, "--eval-model"));
    cfg.model = "m";
    cfg.base_url = "nonsense";
    assert_int_equal(ipw_judge_pool_start(&cfg, NULL, &p, &eb), IPW_E_INVALID);
}

/* Against a closed port: every request fails to connect, is retried, and ends as a failure in
 * the cache's memory (never written). */
static void test_pool_unreachable(void **state)
{
    (void)state;
    char *dir = ipw_test_mkdtemp("ipw-judge-pool");
    char path[512];
    snprintf(path, sizeof path, "%s/judge_cache.jsonl", dir);
    struct ipw_judge_cache *c;
    assert_int_equal(ipw_judge_cache_open(path, &c, NULL), IPW_OK);
    struct ipw_judge_config cfg = {.base_url = "http://127.0.0.1:9/v1", .model = "m",
                                   .api_key = "sk-unit-secret", .concurrency = 2,
                                   .max_attempts = 2, .backoff_ms = 1, .timeout_ms = 2000,
                                   .connect_timeout_ms = 500};
    struct ipw_judge_pool *p;
    assert_int_equal(ipw_judge_pool_start(&cfg, c, &p, NULL), IPW_OK);
    char k1[65], k2[65];
    ipw_judge_key("m", "q1", "a", "r", k1);
    ipw_judge_key("m", "q2", "a", "r", k2);
    assert_int_equal(ipw_judge_pool_submit(p, k1, "q1", "a", "r", NULL), IPW_OK);
    assert_int_equal(ipw_judge_pool_submit(p, k1, "q1", "a", "r", NULL), IPW_OK); /* deduped */
    assert_int_equal(ipw_judge_pool_submit(p, k2, "q2", "a", "r", NULL), IPW_OK);
    struct ipw_judge_stats st;
    assert_int_equal(ipw_judge_pool_finish(p, &st, NULL), IPW_OK);
    assert_int_equal(st.submitted, 2);
    assert_int_equal(st.failed, 2);
    assert_int_equal(st.judged, 0);
    assert_int_equal(st.requests, 4);
    assert_int_equal(st.retries, 2);
    assert_non_null(strstr(st.first_error, "127.0.0.1:9"));
    assert_null(strstr(st.first_error, "sk-unit-secret"));
    assert_int_equal(ipw_judge_cache_get(c, k1), IPW_JUDGE_FAILED);
    ipw_judge_cache_close(c);
    ipw_test_rmtree(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_endpoint), cmocka_unit_test(test_verdicts),
        cmocka_unit_test(test_request),  cmocka_unit_test(test_sha256),
        cmocka_unit_test(test_cache),    cmocka_unit_test(test_pool_config),
        cmocka_unit_test(test_pool_unreachable),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
