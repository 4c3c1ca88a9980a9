/* core/buf: appends, the hard limit, the sticky error, allocation failure (a request no
 * allocator can satisfy), take/consume, and the array grow helper. */
#include "ipw_test.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ipw/buf.h"

/* Under ASan an impossible allocation must return NULL (as libc's does), not abort. */
const char *__asan_default_options(void);
const char *__asan_default_options(void) { return "allocator_may_return_null=1"; }

static void test_appends(void **state)
{
    (void)state;
    struct ipw_buf b;
    ipw_buf_init(&b, 1 << 20);
    assert_string_equal(ipw_buf_str(&b), "");
    assert_int_equal(ipw_buf_addstr(&b, "energy "), IPW_OK);
    assert_int_equal(ipw_buf_addf(&b, "%d J in %.1f s", 42, 1.5), IPW_OK);
    assert_int_equal(ipw_buf_add(&b, "!xyz", 1), IPW_OK);
    assert_string_equal(ipw_buf_str(&b), "energy 42 J in 1.5 s!");
    assert_int_equal(b.len, strlen("energy 42 J in 1.5 s!"));
    /* printf output longer than what is allocated grows the buffer */
    char big[5000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    assert_int_equal(ipw_buf_addf(&b, "<%s>", big), IPW_OK);
    assert_int_equal(b.len, 21 + 5001);
    assert_int_equal(b.p[21], '<');
    assert_int_equal(b.p[b.len - 1], '>');
    assert_int_equal(b.p[b.len], '\0');
    ipw_buf_consume(&b, 7);
    assert_memory_equal(ipw_buf_str(&b), "42 J", 4);
    ipw_buf_truncate(&b, 4);
    assert_string_equal(ipw_buf_str(&b), "42 J");
    ipw_buf_consume(&b, 100);
    assert_string_equal(ipw_buf_str(&b), "");
    ipw_buf_free(&b);
    assert_null(b.p);
    assert_int_equal(b.max, 1 << 20);
}

static void test_limit_is_sticky(void **state)
{
    (void)state;
    struct ipw_buf b;
    ipw_buf_init(&b, 10);
    assert_int_equal(ipw_buf_addstr(&b, "0123456789"), IPW_OK); /* exactly the limit */
    assert_true(b.cap <= 11);
    ipw_buf_reset(&b);
    assert_int_equal(ipw_buf_addstr(&b, "01234"), IPW_OK);
    assert_int_equal(ipw_buf_addstr(&b, "567890"), IPW_E_RANGE);
    assert_string_equal(ipw_buf_str(&b), "01234"); /* the failed append left nothing */
    /* sticky: even an append that would fit now fails, and so does printf */
    assert_int_equal(ipw_buf_addstr(&b, "5"), IPW_E_RANGE);
    assert_int_equal(ipw_buf_addf(&b, "%d", 5), IPW_E_RANGE);
    assert_int_equal(ipw_buf_status(&b), IPW_E_RANGE);
    char *out = (char *)1;
    size_t len = 9;
    assert_int_equal(ipw_buf_take(&b, &out, &len), IPW_E_RANGE);
    assert_null(out);
    assert_int_equal(len, 0);
    /* printf past the limit, from an empty buffer */
    ipw_buf_init(&b, 4);
    assert_int_equal(ipw_buf_addf(&b, "%s", "12345"), IPW_E_RANGE);
    assert_string_equal(ipw_buf_str(&b), "");
    ipw_buf_reset(&b); /* reset clears the error for reuse */
    assert_int_equal(ipw_buf_addf(&b, "%s", "1234"), IPW_OK);
    assert_string_equal(ipw_buf_str(&b), "1234");
    ipw_buf_free(&b);
}

static void test_sticky_puts_checked_once(void **state)
{
    (void)state;
    struct ipw_buf b;
    ipw_buf_init(&b, 8);
    ipw_buf_puts(&b, "abc");
    ipw_buf_putf(&b, "%d", 12);
    assert_int_equal(ipw_buf_status(&b), IPW_OK);
    ipw_buf_put(&b, "defghij", 7); /* over the limit */
    ipw_buf_puts(&b, "k");         /* would fit, but the error is sticky */
    assert_int_equal(ipw_buf_status(&b), IPW_E_RANGE);
    assert_string_equal(ipw_buf_str(&b), "abc12");
    ipw_buf_free(&b);

    ipw_buf_init(&b, 100);
    ipw_buf_puts(&b, "whole");
    char *out;
    size_t len;
    assert_int_equal(ipw_buf_take(&b, &out, &len), IPW_OK);
    assert_string_equal(out, "whole");
    assert_int_equal(len, 5);
    assert_null(b.p);
    free(out);
    /* taking an empty buffer gives "", never NULL */
    assert_int_equal(ipw_buf_take(&b, &out, NULL), IPW_OK);
    assert_string_equal(out, "");
    free(out);
}

static void test_allocation_failure(void **state)
{
    (void)state;
    struct ipw_buf b;
    ipw_buf_init(&b, SIZE_MAX / 2);
    assert_int_equal(ipw_buf_addstr(&b, "kept"), IPW_OK);
    /* no allocator gives a quarter of the address space */
    assert_int_equal(ipw_buf_reserve(&b, SIZE_MAX / 4), IPW_E_NOMEM);
    assert_string_equal(ipw_buf_str(&b), "kept");
    assert_int_equal(ipw_buf_addstr(&b, "x"), IPW_E_NOMEM); /* sticky */
    char *out;
    assert_int_equal(ipw_buf_take(&b, &out, NULL), IPW_E_NOMEM);
    assert_null(out);
    assert_null(b.p); /* freed */
}

static void test_reserve_commit(void **state)
{
    (void)state;
    struct ipw_buf b;
    ipw_buf_init(&b, 64);
    assert_int_equal(ipw_buf_reserve(&b, 5), IPW_OK);
    memcpy(b.p + b.len, "hello", 5);
    ipw_buf_commit(&b, 5);
    assert_string_equal(ipw_buf_str(&b), "hello");
    assert_int_equal(ipw_buf_reserve(&b, 60), IPW_E_RANGE);
    ipw_buf_free(&b);
}

static void test_grow(void **state)
{
    (void)state;
    int *v = NULL;
    size_t cap = 0;
    assert_int_equal(ipw_grow(&v, &cap, 1, sizeof *v, 100), IPW_OK);
    assert_int_equal(cap, 16);
    v[0] = 7;
    assert_int_equal(ipw_grow(&v, &cap, 17, sizeof *v, 100), IPW_OK);
    assert_int_equal(cap, 32);
    assert_int_equal(v[0], 7);
    assert_int_equal(ipw_grow(&v, &cap, 70, sizeof *v, 100), IPW_OK);
    assert_int_equal(cap, 100); /* doubled to 128, capped at the limit */
    assert_int_equal(ipw_grow(&v, &cap, 101, sizeof *v, 100), IPW_E_RANGE);
    assert_int_equal(ipw_grow(&v, &cap, 50, sizeof *v, 100), IPW_OK); /* already room */
    assert_int_equal(cap, 100);
    /* an impossible allocation leaves the array as it was */
    assert_int_equal(ipw_grow(&v, &cap, SIZE_MAX / 8, sizeof *v, SIZE_MAX), IPW_E_NOMEM);
    assert_int_equal(cap, 100);
    assert_int_equal(v[0], 7);
    /* an element count whose byte size overflows */
    assert_int_equal(ipw_grow(&v, &cap, SIZE_MAX / 2, sizeof *v, SIZE_MAX), IPW_E_RANGE);
    free(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_appends),
        cmocka_unit_test(test_limit_is_sticky),
        cmocka_unit_test(test_sticky_puts_checked_once),
        cmocka_unit_test(test_allocation_failure),
        cmocka_unit_test(test_reserve_commit),
        cmocka_unit_test(test_grow),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
