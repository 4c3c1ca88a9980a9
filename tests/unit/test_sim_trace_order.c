/* ipw simulate's trace reader. A trace whose arrivals are not in order: as the original, the
 * requests are numbered in file order (a session takes one id per sub-request), the first
 * --num-reqs lines are taken, and they are handed out by arrival time with ties in file
 * order (a stable sort); a sorted file is streamed without an index. And the token-id
 * scanner's word-at-a-time path against every number length and its fallbacks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "sim/ss.h"

static char path[64];

static void write_trace(const char *text)
{
    snprintf(path, sizeof path, "/tmp/ipw-trace-order-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
}

/* Reads the whole trace; arrivals and ids in the order handed out. */
static size_t read_all(long limit, int64_t *arr, int64_t *ids, size_t cap, bool *indexed)
{
    struct ss_trace t;
    ipw_errbuf eb = {0};
    assert_int_equal(ss_trace_open(&t, path, limit, false, &eb), IPW_OK);
    *indexed = t.order != NULL;
    size_t n = 0;
    while (t.ahead) {
        assert_true(n < cap);
        arr[n] = t.ahead->arrival;
        ids[n++] = t.ahead->id;
        ss_req_free(t.ahead);
        t.ahead = NULL;
        assert_int_equal(ss_trace_advance(&t, &eb), IPW_OK);
    }
    ss_trace_close(&t);
    return n;
}

static const char *unsorted =
    "{\"input_toks\": 4, \"output_toks\": 3, \"arrival_time_ns\": 50, \"input_tok_ids\": [1,2,3,4]}\n"
    "{\"session_id\": \"s\", \"arrival_time_ns\": 5, \"sub_requests\": [{\"input_toks\": 2, "
    "\"output_toks\": 1, \"tool_duration_ns\": 9}, {\"input_toks\": 3, \"output_toks\": 1}]}\n"
    "\n"
    "{\"input_toks\": 4, \"output_toks\": 3, \"arrival_time_ns\": 5}\n"
    "{\"input_toks\": 4, \"output_toks\": 3, \"arrival_time_ns\": 20}\n";

static void test_unsorted_file(void **state)
{
    (void)state;
    write_trace(unsorted);
    int64_t arr[8], ids[8];
    bool indexed;
    /* ids in file order: line 1 -> 0, the session -> 1 and 2, line 4 -> 3, line 5 -> 4;
     * handed out by arrival, the two arrivals at 5 ns in file order */
    assert_int_equal(read_all(0, arr, ids, 8, &indexed), 4);
    assert_true(indexed);
    const int64_t want_arr[] = {5, 5, 20, 50}, want_ids[] = {1, 3, 4, 0};
    for (int i = 0; i < 4; i++) {
        assert_int_equal(arr[i], want_arr[i]);
        assert_int_equal(ids[i], want_ids[i]);
    }
    /* --num-reqs 2 takes the first two lines of the file, then sorts them */
    assert_int_equal(read_all(2, arr, ids, 8, &indexed), 2);
    assert_int_equal(arr[0], 5);
    assert_int_equal(ids[0], 1);
    assert_int_equal(arr[1], 50);
    assert_int_equal(ids[1], 0);
    unlink(path);
}

static void test_sorted_file_streams(void **state)
{
    (void)state;
    write_trace("{\"input_toks\": 4, \"output_toks\": 3, \"arrival_time_ns\": 5}\n"
                "{\"input_toks\": 4, \"output_toks\": 3, \"arrival_time_ns\": 5}\n"
                "{\"input_toks\": 4, \"output_toks\": 3, \"arrival_time_ns\": 7}\n");
    int64_t arr[8], ids[8];
    bool indexed;
    assert_int_equal(read_all(0, arr, ids, 8, &indexed), 3);
    assert_false(indexed);
    for (int i = 0; i < 3; i++)
        assert_int_equal(ids[i], i);
    unlink(path);
}

static void test_bad_line_found_by_the_skim(void **state)
{
    (void)state;
    write_trace("{\"input_toks\": 4, \"output_toks\": 3, \"arrival_time_ns\": 50}\n"
                "{\"input_toks\": 4, \"output_toks\": 3, \"arrival_time_ns\": 5}\n"
                "{\"input_toks\": 4, \"arrival_time_ns\": 5, \"input_tok_ids\": [1,2\n");
    struct ss_trace t;
    ipw_errbuf eb = {0};
    assert_int_not_equal(ss_trace_open(&t, path, 0, false, &eb), IPW_OK);
    assert_non_null(strstr(eb.msg, ":3: unterminated token id list"));
    ss_trace_close(&t);
    unlink(path);
}

static void test_token_ids(void **state)
{
    (void)state;
    /* 1 to 10 digits (the word path takes up to 7 with 8 bytes in view, the byte loop the
     * rest and the line's tail), tabs and newlines as separators, and a list ending the line */
    const char *line = "{\"input_toks\": 14, \"output_toks\": 1, \"arrival_time_ns\": 0, "
                       "\"input_tok_ids\": [0, 7,12, 123, 1234, 12345, 123456, 1234567, 12345678, "
                       "123456789, 2147483647, 99\t, 5\n,8], \"output_tok_ids\": [4000321]}";
    const int32_t want[] = {0,        7,         12,         123, 1234, 12345, 123456, 1234567,
                            12345678, 123456789, 2147483647, 99,  5,    8,     4000321};
    struct ss_req r;
    ipw_errbuf eb = {0};
    assert_int_equal(ss_trace_parse_line(line, strlen(line), "t.jsonl", 1, true, &r, &eb), IPW_OK);
    assert_int_equal(r.ntoks, 15);
    for (size_t i = 0; i < 15; i++)
        assert_int_equal(r.toks[i], want[i]);
    free(r.toks);
    const char *bad = "{\"input_toks\": 1, \"output_toks\": 1, \"arrival_time_ns\": 0, "
                      "\"input_tok_ids\": [12a4567, 1]}";
    assert_int_not_equal(ss_trace_parse_line(bad, strlen(bad), "t.jsonl", 2, true, &r, &eb), IPW_OK);
    assert_non_null(strstr(eb.msg, "t.jsonl:2:"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unsorted_file),
        cmocka_unit_test(test_sorted_file_streams),
        cmocka_unit_test(test_bad_line_found_by_the_skim),
        cmocka_unit_test(test_token_ids),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
