/* Server-Sent Events as OpenAI-compatible servers send them: events end at blank lines,
 * multi-line data, comments and keep-alives, event:/id:/retry: fields, [DONE], usage, reasoning,
 * errors in the stream, and malformed or over-long events. */
#include "ipw_test.h"

#include <stdlib.h>
#include <string.h>

#include "ipw/chatstream.h"

/* Feeds text line by line (split on '\n') and collects the chunks that are not NONE. */
struct events {
    struct ipw_stream_chunk c[16];
    ipw_err err[16];
    char msg[16][IPW_ERRMSG_MAX];
    int n;
};

static void feed(struct ipw_sse *s, const char *text, struct events *ev, bool finish)
{
    const char *p = text;
    while (*p) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        struct ipw_stream_chunk c;
        ipw_errbuf eb;
        ipw_errbuf_clear(&eb);
        ipw_err e = ipw_sse_feed_line(s, p, len, &c, &eb);
        if (e != IPW_OK || c.kind != IPW_CHUNK_NONE) {
            assert_true(ev->n < 16);
            ev->c[ev->n] = c;
            ev->err[ev->n] = e;
            snprintf(ev->msg[ev->n], IPW_ERRMSG_MAX, "%s", eb.msg);
            ev->n++;
        } else {
            ipw_stream_chunk_clear(&c);
        }
        p = nl ? nl + 1 : p + len;
    }
    if (finish) {
        struct ipw_stream_chunk c;
        ipw_errbuf eb;
        ipw_err e = ipw_sse_finish(s, &c, &eb);
        if (e != IPW_OK || c.kind != IPW_CHUNK_NONE) {
            ev->c[ev->n] = c;
            ev->err[ev->n] = e;
            snprintf(ev->msg[ev->n], IPW_ERRMSG_MAX, "%s", eb.msg);
            ev->n++;
        }
    }
}

static void events_clear(struct events *ev)
{
    for (int i = 0; i < ev->n; i++)
        ipw_stream_chunk_clear(&ev->c[i]);
    ev->n = 0;
}

static void test_openai_stream(void **state)
{
    (void)state;
    struct ipw_sse s;
    struct events ev = {0};
    ipw_sse_init(&s, 0);
    feed(&s,
         "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,"
         "\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"finish_reason\":null}],"
         "\"usage\":null}\n\n"
         "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"}}]}\n\n"
         "data: {\"choices\":[{\"index\":0,\"delta\":{\"reasoning_content\":\"think\"}}]}\n\n"
         "data: {\"choices\":[{\"index\":0,\"delta\":{\"reasoning\":\"more\"}}]}\n\n"
         "data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n"
         "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":3,"
         "\"total_tokens\":15}}\n\n"
         "data: [DONE]\n\n",
         &ev, true);
    assert_int_equal(ev.n, 7);
    for (int i = 0; i < 7; i++) {
        assert_int_equal(ev.err[i], IPW_OK);
        assert_int_equal(ev.c[i].kind, IPW_CHUNK_DATA);
    }
    assert_int_equal(ev.c[0].content_len, 0); /* the role chunk carries no text */
    assert_null(ev.c[0].stats);               /* usage: null is no usage */
    assert_string_equal(ev.c[1].content, "Hi");
    assert_string_equal(ev.c[2].reasoning, "think");
    assert_string_equal(ev.c[3].reasoning, "more");
    assert_string_equal(ev.c[4].finish_reason, "stop");
    assert_false(ev.c[4].done);
    assert_int_equal(ev.c[5].prompt_tokens, 12);
    assert_int_equal(ev.c[5].completion_tokens, 3);
    assert_int_equal(json_integer_value(json_object_get(ev.c[5].stats, "total_tokens")), 15);
    assert_true(ev.c[6].done);
    events_clear(&ev);
    ipw_sse_free(&s);
}

static void test_fields_comments_keepalive(void **state)
{
    (void)state;
    struct ipw_sse s;
    struct events ev = {0};
    ipw_sse_init(&s, 0);
    feed(&s,
         "\xEF\xBB\xBF: opening comment\n"
         "\n"
         ": keep-alive\n"
         "\n\n"
         "retry: 3000\n"
         "event: message\n"
         "id: 7\n"
         "data:{\"choices\":[{\"delta\":\n"
         "data: {\"content\":\"a\\nb\"}}]}\n"
         "unknown: field\n"
         "\n"
         "data\n"
         "\n"
         "data:   \n"
         "\n"
         "data:[DONE] \n"
         "\n",
         &ev, true);
    assert_int_equal(ev.n, 2);
    assert_int_equal(ev.err[0], IPW_OK);
    assert_string_equal(ev.c[0].content, "a\nb"); /* two data: lines joined with '\n' */
    assert_string_equal(s.last_id, "7");
    assert_true(ev.c[1].done);
    events_clear(&ev);
    ipw_sse_free(&s);
}

static void test_errors_in_stream(void **state)
{
    (void)state;
    struct ipw_sse s;
    struct events ev = {0};
    ipw_sse_init(&s, 0);
    feed(&s,
         "data: {\"error\":{\"message\":\"overloaded\",\"type\":\"server_error\"}}\n\n"
         "data: {\"object\":\"error\",\"message\":\"too long\",\"type\":\"BadRequestError\","
         "\"code\":400}\n\n"
         "event: error\ndata: {\"detail\":\"worker died\"}\n\n"
         "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"ok\"}}]}\n\n",
         &ev, true);
    assert_int_equal(ev.n, 4);
    assert_int_equal(ev.c[0].kind, IPW_CHUNK_ERROR);
    assert_string_equal(ev.c[0].error, "overloaded");
    assert_int_equal(ev.c[1].kind, IPW_CHUNK_ERROR);
    assert_string_equal(ev.c[1].error, "too long");
    assert_int_equal(ev.c[2].kind, IPW_CHUNK_ERROR);
    assert_string_equal(ev.c[2].error, "worker died");
    /* the event type does not stick to the next event */
    assert_int_equal(ev.c[3].kind, IPW_CHUNK_DATA);
    assert_string_equal(ev.c[3].content, "ok");
    events_clear(&ev);
    ipw_sse_free(&s);
}

static void test_malformed_and_limits(void **state)
{
    (void)state;
    struct ipw_sse s;
    struct events ev = {0};
    ipw_sse_init(&s, 64);
    feed(&s,
         "data: {\"choices\":[{\"delta\":{\"content\":\"t3\n\n"
         "data: [1,2]\n\n"
         "data: 0123456789012345678901234567890123456789\n"
         "data: 0123456789012345678901234567890123456789\n\n"
         "data: {\"choices\":[{\"index\":1,\"delta\":{\"content\":\"second choice\"}}]}\n\n"
         "data: {\"choices\":[{\"delta\":{\"content\":\"unfinished\"}}]}\n",
         &ev, true);
    assert_int_equal(ev.n, 5);
    assert_int_equal(ev.err[0], IPW_E_PROTOCOL);
    assert_non_null(strstr(ev.msg[0], "malformed event data"));
    assert_non_null(strstr(ev.msg[0], "{\"choices\":[{\"delta\":{\"content\":\"t3"));
    assert_int_equal(ev.err[1], IPW_E_PROTOCOL);
    assert_non_null(strstr(ev.msg[1], "not a JSON object"));
    assert_int_equal(ev.err[2], IPW_E_RANGE); /* the second data: line passes the 64 bytes */
    assert_non_null(strstr(ev.msg[2], "64-byte"));
    /* only choice 0 is measured */
    assert_int_equal(ev.err[3], IPW_OK);
    assert_null(ev.c[3].content);
    /* the event the server never closed is read at the end of the stream */
    assert_int_equal(ev.err[4], IPW_OK);
    assert_string_equal(ev.c[4].content, "unfinished");
    events_clear(&ev);
    ipw_sse_free(&s);
}

static void test_parse_data_directly(void **state)
{
    (void)state;
    struct ipw_stream_chunk c;
    ipw_errbuf eb;
    const char *d = "{\"choices\":[{\"message\":{\"content\":\"whole\"},\"finish_reason\":"
                    "\"stop\"}],\"usage\":{\"prompt_tokens\":1.0,\"completion_tokens\":2}}";
    assert_int_equal(ipw_openai_parse_data(d, strlen(d), "", &c, &eb), IPW_OK);
    assert_string_equal(c.content, "whole");
    assert_int_equal(c.prompt_tokens, 1);
    assert_int_equal(c.completion_tokens, 2);
    ipw_stream_chunk_clear(&c);
    d = "{\"choices\":[{\"text\":\"legacy\"}]}";
    assert_int_equal(ipw_openai_parse_data(d, strlen(d), NULL, &c, &eb), IPW_OK);
    assert_string_equal(c.content, "legacy");
    ipw_stream_chunk_clear(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_openai_stream),
        cmocka_unit_test(test_fields_comments_keepalive),
        cmocka_unit_test(test_errors_in_stream),
        cmocka_unit_test(test_malformed_and_limits),
        cmocka_unit_test(test_parse_data_directly),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
