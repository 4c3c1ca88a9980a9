/* Ollama NDJSON lines: content and thinking deltas, the final line's counts and durations,
 * in-stream errors, /api/generate's shape, and malformed lines reported with a safe excerpt. */
#include "ipw_test.h"

#include <stdlib.h>
#include <string.h>

#include "ipw/chatstream.h"

static ipw_err parse(const char *line, struct ipw_stream_chunk *c, ipw_errbuf *eb)
{
    ipw_errbuf_clear(eb);
    return ipw_ndjson_parse_line(line, strlen(line), c, eb);
}

static void test_deltas(void **state)
{
    (void)state;
    struct ipw_stream_chunk c;
    ipw_errbuf eb;
    assert_int_equal(parse("{\"model\":\"m\",\"created_at\":\"x\",\"message\":{\"role\":"
                           "\"assistant\",\"content\":\"Hel\"},\"done\":false}",
                           &c, &eb),
                     IPW_OK);
    assert_int_equal(c.kind, IPW_CHUNK_DATA);
    assert_int_equal(c.content_len, 3);
    assert_memory_equal(c.content, "Hel", 3);
    assert_null(c.reasoning);
    assert_false(c.done);
    assert_null(c.stats);
    assert_int_equal(c.prompt_tokens, -1);
    ipw_stream_chunk_clear(&c);

    assert_int_equal(parse("{\"message\":{\"role\":\"assistant\",\"content\":\"\","
                           "\"thinking\":\"hmm\"},\"done\":false}",
                           &c, &eb),
                     IPW_OK);
    assert_int_equal(c.content_len, 0);
    assert_string_equal(c.reasoning, "hmm");
    ipw_stream_chunk_clear(&c);

    /* an escaped NUL inside the text is kept, with its length */
    assert_int_equal(parse("{\"message\":{\"content\":\"a\\u0000b\"},\"done\":false}", &c, &eb),
                     IPW_OK);
    assert_int_equal(c.content_len, 3);
    assert_memory_equal(c.content, "a\0b", 3);
    ipw_stream_chunk_clear(&c);

    /* /api/generate puts the text at the top level */
    assert_int_equal(parse("{\"response\":\" world\",\"thinking\":\"t\",\"done\":false}", &c,
                           &eb),
                     IPW_OK);
    assert_string_equal(c.content, " world");
    assert_string_equal(c.reasoning, "t");
    ipw_stream_chunk_clear(&c);

    assert_int_equal(parse("   \t", &c, &eb), IPW_OK);
    assert_int_equal(c.kind, IPW_CHUNK_NONE);
    ipw_stream_chunk_clear(&c);
}

static void test_final_line(void **state)
{
    (void)state;
    struct ipw_stream_chunk c;
    ipw_errbuf eb;
    assert_int_equal(
        parse("{\"model\":\"llama3.2\",\"created_at\":\"2025-01-01T00:00:00Z\",\"message\":"
              "{\"role\":\"assistant\",\"content\":\"\"},\"done_reason\":\"length\",\"done\":true,"
              "\"total_duration\":5191566416,\"load_duration\":2154458,\"prompt_eval_count\":26,"
              "\"prompt_eval_duration\":383809000,\"eval_count\":298,\"eval_duration\":"
              "4799921000}",
              &c, &eb),
        IPW_OK);
    assert_true(c.done);
    assert_string_equal(c.finish_reason, "length");
    assert_int_equal(c.prompt_tokens, 26);
    assert_int_equal(c.completion_tokens, 298);
    assert_non_null(c.stats);
    assert_int_equal(json_object_size(c.stats), 6);
    assert_int_equal(json_integer_value(json_object_get(c.stats, "total_duration")), 5191566416LL);
    assert_int_equal(json_integer_value(json_object_get(c.stats, "load_duration")), 2154458);
    assert_int_equal(json_integer_value(json_object_get(c.stats, "prompt_eval_duration")),
                     383809000);
    assert_int_equal(json_integer_value(json_object_get(c.stats, "eval_duration")), 4799921000LL);
    ipw_stream_chunk_clear(&c);

    /* older Ollama omits prompt_eval_count for a cached prompt; bad values are not counts */
    assert_int_equal(parse("{\"done\":true,\"eval_count\":-4,\"prompt_eval_duration\":1.5e3}", &c,
                           &eb),
                     IPW_OK);
    assert_true(c.done);
    assert_int_equal(c.prompt_tokens, -1);
    assert_int_equal(c.completion_tokens, -1);
    assert_int_equal(json_object_size(c.stats), 1);
    assert_int_equal(json_integer_value(json_object_get(c.stats, "prompt_eval_duration")), 1500);
    ipw_stream_chunk_clear(&c);
}

static void test_error_line(void **state)
{
    (void)state;
    struct ipw_stream_chunk c;
    ipw_errbuf eb;
    assert_int_equal(parse("{\"error\":\"model 'x' not found\"}", &c, &eb), IPW_OK);
    assert_int_equal(c.kind, IPW_CHUNK_ERROR);
    assert_string_equal(c.error, "model 'x' not found");
    ipw_stream_chunk_clear(&c);
    assert_int_equal(parse("{\"error\":{\"message\":\"out of memory\"}}", &c, &eb), IPW_OK);
    assert_int_equal(c.kind, IPW_CHUNK_ERROR);
    assert_string_equal(c.error, "out of memory");
    ipw_stream_chunk_clear(&c);
    /* "error": null is no error */
    assert_int_equal(parse("{\"error\":null,\"message\":{\"content\":\"x\"}}", &c, &eb), IPW_OK);
    assert_int_equal(c.kind, IPW_CHUNK_DATA);
    ipw_stream_chunk_clear(&c);
}

static void test_malformed(void **state)
{
    (void)state;
    struct ipw_stream_chunk c;
    ipw_errbuf eb;
    assert_int_equal(parse("{\"message\":{\"content\":\"t3 \"", &c, &eb), IPW_E_PROTOCOL);
    assert_non_null(strstr(eb.msg, "malformed NDJSON line"));
    assert_non_null(strstr(eb.msg, "{\"message\":{\"content\":\"t3 \""));
    assert_null(c.root);
    const char *not_objects[] = {"[1,2]", "42", "\"text\"", "null", "data: {}"};
    for (size_t i = 0; i < sizeof not_objects / sizeof not_objects[0]; i++) {
        assert_int_equal(parse(not_objects[i], &c, &eb), IPW_E_PROTOCOL);
        assert_null(c.root);
    }

    /* a long line is cut short; control bytes and broken UTF-8 are escaped: the message is one
     * line of valid UTF-8 that fits the buffer */
    char line[2000];
    memset(line, 'x', sizeof line - 1);
    line[sizeof line - 1] = '\0';
    line[0] = '{';
    line[5] = '\x01';
    line[6] = '\n';
    line[7] = (char)0xC3; /* a lead byte without its continuation */
    assert_int_equal(parse(line, &c, &eb), IPW_E_PROTOCOL);
    assert_true(strlen(eb.msg) < 400);
    assert_non_null(strstr(eb.msg, "\\x01"));
    assert_non_null(strstr(eb.msg, "\\x0A"));
    assert_non_null(strstr(eb.msg, "\\xC3"));
    assert_non_null(strstr(eb.msg, "\xE2\x80\xA6")); /* the ellipsis of a cut excerpt */
    json_t *s = json_string(eb.msg);
    assert_non_null(s); /* valid UTF-8, so it can go into a JSON record */
    json_decref(s);

    /* a multi-byte character is never cut in half */
    char out[64];
    ipw_stream_excerpt(out, sizeof out, "\xC3\xA9\xC3\xA9\xC3\xA9", 6, 3);
    assert_string_equal(out, "\"\xC3\xA9\xE2\x80\xA6\"");
}

/* jansson's own error text quotes the bytes near the error: they must be cleaned too (found by
 * fuzzing) */
static void test_malformed_invalid_utf8_near_error(void **state)
{
    (void)state;
    struct ipw_stream_chunk c;
    ipw_errbuf eb;
    assert_int_equal(parse("{\"model\"\xff\xff\xff:\"x\"}", &c, &eb), IPW_E_PROTOCOL);
    json_t *s = json_string(eb.msg);
    assert_non_null(s);
    json_decref(s);
    char msg[16] = "abc\xE2\x80";
    ipw_stream_utf8_fix(msg);
    assert_string_equal(msg, "abc");
    char mid[16] = "a\xFF" "b\xC3\xA9";
    ipw_stream_utf8_fix(mid);
    assert_string_equal(mid, "a?b\xC3\xA9");
}

static void test_error_text_shapes(void **state)
{
    (void)state;
    char out[128];
    struct {
        const char *body, *want;
    } cases[] = {
        {"{\"error\":\"boom\"}", "boom"},
        {"{\"error\":{\"message\":\"bad key\",\"type\":\"invalid_request_error\"}}", "bad key"},
        {"{\"object\":\"error\",\"message\":\"The model `x` does not exist.\",\"code\":404}",
         "The model `x` does not exist."},
        {"{\"detail\":\"Not Found\"}", "Not Found"},
        {"{\"detail\":[{\"loc\":[\"body\"],\"msg\":\"field required\"}]}", "field required"},
        {"Internal Server Error\n", "Internal Server Error "},
        {"{\"error\":\"two\\nlines\"}", "two lines"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ipw_stream_error_text(cases[i].body, strlen(cases[i].body), out, sizeof out);
        assert_string_equal(out, cases[i].want);
    }
    ipw_stream_error_text(NULL, 0, out, sizeof out);
    assert_string_equal(out, "(empty body)");
    char big[1000];
    memset(big, 'e', sizeof big);
    ipw_stream_error_text(big, sizeof big, out, sizeof out);
    assert_true(strlen(out) < sizeof out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_deltas),          cmocka_unit_test(test_final_line),
        cmocka_unit_test(test_error_line),      cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_malformed_invalid_utf8_near_error),
        cmocka_unit_test(test_error_text_shapes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
