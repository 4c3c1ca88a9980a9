/* The bounded line splitter: lines split across chunks at every position, CRLF split between
 * chunks, lone CR, blank lines, the line limit, and a callback that stops the stream. */
#include "ipw_test.h"

#include <stdlib.h>
#include <string.h>

#include "ipw/chatstream.h"

struct lines {
    char v[64][128];
    int n;
    int stop_at; /* return an error on this line (1-based), 0: never */
};

static ipw_err collect(void *ud, const char *line, size_t len, ipw_errbuf *eb)
{
    struct lines *l = ud;
    if (l->n >= 64 || len >= 128)
        return ipw_fail(eb, IPW_E_RANGE, "test buffer full");
    memcpy(l->v[l->n], line, len);
    l->v[l->n][len] = '\0';
    l->n++;
    if (l->stop_at && l->n == l->stop_at)
        return ipw_fail(eb, IPW_E_CANCELLED, "stopped at line %d", l->n);
    return IPW_OK;
}

static void feed_all(struct ipw_linesplit *ls, struct lines *out, const char *const *chunks)
{
    ipw_errbuf eb;
    for (; *chunks; chunks++)
        assert_int_equal(ipw_linesplit_feed(ls, *chunks, strlen(*chunks), collect, out, &eb),
                         IPW_OK);
    assert_int_equal(ipw_linesplit_finish(ls, collect, out, &eb), IPW_OK);
}

static void test_chunks_and_terminators(void **state)
{
    (void)state;
    struct ipw_linesplit ls;
    struct lines out = {0};
    ipw_linesplit_init(&ls, 0);
    const char *chunks[] = {"ab", "c\nde", "\r", "\nf\r\n", "\n", "g\rh", NULL};
    feed_all(&ls, &out, chunks);
    assert_int_equal(out.n, 6);
    assert_string_equal(out.v[0], "abc");
    assert_string_equal(out.v[1], "de"); /* CR then LF in the next chunk: one terminator */
    assert_string_equal(out.v[2], "f");
    assert_string_equal(out.v[3], ""); /* a real blank line survives */
    assert_string_equal(out.v[4], "g"); /* lone CR ends a line */
    assert_string_equal(out.v[5], "h"); /* unterminated last line handed over at the end */
    ipw_linesplit_free(&ls);
}

/* Every way of cutting a stream into three chunks gives the same lines. */
static void test_every_split_point(void **state)
{
    (void)state;
    const char *text = "data: {\"a\":1}\r\n\r\n: ping\n\ndata: [DONE]\r\n\r\n";
    size_t len = strlen(text);
    struct lines ref = {0};
    struct ipw_linesplit ls;
    ipw_errbuf eb;
    ipw_linesplit_init(&ls, 64);
    assert_int_equal(ipw_linesplit_feed(&ls, text, len, collect, &ref, &eb), IPW_OK);
    assert_int_equal(ipw_linesplit_finish(&ls, collect, &ref, &eb), IPW_OK);
    ipw_linesplit_free(&ls);
    assert_int_equal(ref.n, 6);
    for (size_t i = 0; i <= len; i++)
        for (size_t j = i; j <= len; j++) {
            struct lines got = {0};
            ipw_linesplit_init(&ls, 64);
            assert_int_equal(ipw_linesplit_feed(&ls, text, i, collect, &got, &eb), IPW_OK);
            assert_int_equal(ipw_linesplit_feed(&ls, text + i, j - i, collect, &got, &eb),
                             IPW_OK);
            assert_int_equal(ipw_linesplit_feed(&ls, text + j, len - j, collect, &got, &eb),
                             IPW_OK);
            assert_int_equal(ipw_linesplit_finish(&ls, collect, &got, &eb), IPW_OK);
            ipw_linesplit_free(&ls);
            assert_int_equal(got.n, ref.n);
            for (int k = 0; k < ref.n; k++)
                assert_string_equal(got.v[k], ref.v[k]);
        }
}

static void test_line_limit(void **state)
{
    (void)state;
    struct ipw_linesplit ls;
    struct lines out = {0};
    ipw_errbuf eb;
    ipw_linesplit_init(&ls, 8);
    assert_int_equal(ipw_linesplit_feed(&ls, "12345678\n", 9, collect, &out, &eb), IPW_OK);
    assert_int_equal(out.n, 1);
    assert_int_equal(ipw_linesplit_feed(&ls, "123456789\n", 10, collect, &out, &eb),
                     IPW_E_RANGE);
    assert_non_null(strstr(eb.msg, "8-byte"));
    ipw_linesplit_free(&ls);

    /* the limit also holds for a line growing across chunks */
    ipw_linesplit_init(&ls, 8);
    assert_int_equal(ipw_linesplit_feed(&ls, "12345", 5, collect, &out, &eb), IPW_OK);
    assert_int_equal(ipw_linesplit_feed(&ls, "6789", 4, collect, &out, &eb), IPW_E_RANGE);
    assert_non_null(strstr(eb.msg, "line 1 "));
    ipw_linesplit_free(&ls);
}

static void test_callback_stops(void **state)
{
    (void)state;
    struct ipw_linesplit ls;
    struct lines out = {.stop_at = 2};
    ipw_errbuf eb;
    ipw_linesplit_init(&ls, 0);
    assert_int_equal(ipw_linesplit_feed(&ls, "a\nb\nc\n", 6, collect, &out, &eb),
                     IPW_E_CANCELLED);
    assert_int_equal(out.n, 2);
    assert_string_equal(eb.msg, "stopped at line 2");
    ipw_linesplit_free(&ls);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chunks_and_terminators),
        cmocka_unit_test(test_every_split_point),
        cmocka_unit_test(test_line_limit),
        cmocka_unit_test(test_callback_stops),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
