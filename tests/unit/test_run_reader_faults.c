/* The run reader under allocation failure (fault injection): a query that --resume ran again
 * appears twice in records.jsonl, and the reader must never count it twice — not even when the
 * memory for finding the superseded line cannot be had. Every allocation our code makes
 * (malloc, calloc, realloc, wrapped at link time: -Wl,--wrap, see tests/CMakeLists.txt) is
 * failed in turn; each time the reader either fails with an error or reads each query once. */
#include "ipw_test.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "ipw/run_reader.h"

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);

static long countdown = -1; /* allocations left before the one that fails; -1: none fails */
static bool injected;

static bool fail_now(void)
{
    if (countdown < 0)
        return false;
    if (countdown-- == 0) {
        injected = true;
        return true;
    }
    return false;
}

void *__wrap_malloc(size_t n) { return fail_now() ? NULL : __real_malloc(n); }
void *__wrap_calloc(size_t n, size_t size) { return fail_now() ? NULL : __real_calloc(n, size); }
void *__wrap_realloc(void *p, size_t n) { return fail_now() ? NULL : __real_realloc(p, n); }

/* Records 1 and 2 failed and were run again by --resume (their later lines are the records);
 * the last line is torn by a crash. Four queries in all. */
static const char *resumed =
    "{\"record_index\":0,\"problem\":\"a\",\"status\":\"ok\",\"model_answers\":{\"m\":\"x\"}}\n"
    "{\"record_index\":1,\"problem\":\"b\",\"status\":\"failed\",\"error\":\"HTTP 500\"}\n"
    "{\"problem\":\"c\",\"record_index\":2,\"status\":\"failed\",\"error\":\"timeout\"}\n"
    "{\"record_index\":3,\"problem\":\"d\",\"status\":\"ok\",\"model_answers\":{\"m\":\"y\"}}\n"
    "{\"record_index\":1,\"problem\":\"b\",\"status\":\"ok\",\"model_answers\":{\"m\":\"z\"}}\n"
    "{\"status\":\"ok\",\"record_index\":2,\"problem\":\"c\",\"model_answers\":{\"m\":\"w\"}}\n"
    "{\"record_index\":0,\"problem\":\"a\",\"sta";

/* Opens and reads the run with the n-th allocation failing; returns whether it read to the
 * end. A query seen twice fails the test. */
static bool read_with_fault(const char *dir, long n)
{
    struct ipw_run_reader *r = NULL;
    int seen[4] = {0};
    size_t count = 0;
    bool whole = false;
    injected = false;
    countdown = n;
    ipw_err e = ipw_run_reader_open(dir, NULL, &r, NULL);
    while (e == IPW_OK) {
        struct ipw_run_query q;
        bool eof = false;
        e = ipw_run_reader_next(r, &q, &eof, NULL);
        if (e != IPW_OK)
            break;
        if (eof) {
            whole = true;
            break;
        }
        if (q.record_index >= 0 && q.record_index < 4)
            seen[q.record_index]++;
        count++;
    }
    countdown = -1;
    ipw_run_reader_close(r);
    for (int i = 0; i < 4; i++)
        assert_true(seen[i] <= 1); /* never counted twice, whatever failed */
    if (whole) {
        assert_int_equal(count, 4);
        for (int i = 0; i < 4; i++)
            assert_int_equal(seen[i], 1);
    }
    return whole;
}

static void test_resumed_query_never_counted_twice(void **state)
{
    (void)state;
    char *dir = ipw_test_mkdtemp("ipw-reader-faults");
    ipw_test_write(dir, "records.jsonl", resumed);
    assert_true(read_with_fault(dir, -1)); /* no fault: the four queries, once each */
    long n = 0;
    size_t failed_runs = 0;
    for (; n < 100000; n++) {
        bool whole = read_with_fault(dir, n);
        if (!injected) {
            assert_true(whole);
            break; /* every allocation of a whole read has been failed once */
        }
        failed_runs += !whole;
    }
    assert_true(n > 3);          /* the reader allocates: the faults did hit it */
    assert_true(failed_runs > 0); /* and some of them stopped it, loudly */
    ipw_test_rmtree(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_resumed_query_never_counted_twice),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
