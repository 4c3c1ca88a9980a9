/* ipw_sort_doubles (a radix sort above 512 values) against a plain stable merge sort written
 * here: the same array bit for bit — -0 and +0 kept in their input order as a stable
 * comparison sort keeps them — over negative, positive, repeated, subnormal and infinite
 * values, and arrays with NaN (left to qsort) still sorted around nothing lost. */
#include "ipw_test.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ipw/stats.h"

static uint64_t rng = 88172645463325252ull;
static uint64_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/* reference: top-down merge sort, stable, x < y as the only comparison */
static void merge_sort(double *v, double *tmp, size_t n)
{
    if (n < 2)
        return;
    size_t h = n / 2;
    merge_sort(v, tmp, h);
    merge_sort(v + h, tmp, n - h);
    size_t i = 0, j = h, k = 0;
    while (i < h && j < n)
        tmp[k++] = v[j] < v[i] ? v[j++] : v[i++];
    while (i < h)
        tmp[k++] = v[i++];
    while (j < n)
        tmp[k++] = v[j++];
    memcpy(v, tmp, n * sizeof *v);
}

static double value(int kind)
{
    uint64_t r = next();
    switch (kind) {
    case 0: return (double)(r >> 11) / 9007199254740992.0 * 10.0; /* latencies */
    case 1: return ((double)(r % 2001) - 1000.0) / 8.0;           /* repeats, both signs */
    case 2: return (r & 1) ? 0.0 : -0.0;
    case 3: {
        double d;
        memcpy(&d, &r, sizeof d); /* any bit pattern but NaN */
        return isnan(d) ? 1.5 : d;
    }
    default: return (r & 3) == 0 ? INFINITY : (r & 3) == 1 ? -INFINITY : 5e-324 * (double)(r >> 60);
    }
}

static void same_as_stable_sort(size_t n, int kinds)
{
    double *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b), *t = malloc(n * sizeof *t);
    assert_non_null(a);
    assert_non_null(b);
    assert_non_null(t);
    for (size_t i = 0; i < n; i++)
        a[i] = b[i] = value((int)(next() % (uint64_t)kinds));
    ipw_sort_doubles(a, n);
    merge_sort(b, t, n);
    for (size_t i = 0; i < n; i++)
        if (memcmp(&a[i], &b[i], sizeof a[i]) != 0)
            fail_msg("n=%zu kinds=%d at %zu: %a, stable sort %a", n, kinds, i, a[i], b[i]);
    free(a);
    free(b);
    free(t);
}

static void test_radix_matches_stable_sort(void **state)
{
    (void)state;
    static const size_t sizes[] = {1, 2, 511, 512, 513, 4096, 100000};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++)
        for (int kinds = 1; kinds <= 5; kinds++)
            same_as_stable_sort(sizes[s], kinds);
}

static void test_signed_zeros_keep_order(void **state)
{
    (void)state;
    enum { N = 1000 };
    double v[N];
    for (int i = 0; i < N; i++)
        v[i] = i % 3 == 0 ? -0.0 : i % 3 == 1 ? 0.0 : 1.0 + i;
    ipw_sort_doubles(v, N);
    /* the zeros first in the order they came (-0, +0, -0, +0, ...), then 3.0, 6.0, ... */
    for (int i = 0; i < 667; i++) {
        assert_true(v[i] == 0.0);
        assert_int_equal(signbit(v[i]) != 0, i % 2 == 0);
    }
    assert_true(v[667] == 3.0);
    assert_true(v[N - 1] == 1.0 + 998);
}

static void test_nan_left_to_qsort(void **state)
{
    (void)state;
    enum { N = 2000 };
    double *v = malloc(N * sizeof *v);
    assert_non_null(v);
    size_t nans = 0;
    for (size_t i = 0; i < N; i++) {
        v[i] = i % 97 == 0 ? NAN : (double)(N - i);
        nans += isnan(v[i]);
    }
    ipw_sort_doubles(v, N);
    size_t got = 0;
    for (size_t i = 0; i < N; i++)
        got += isnan(v[i]);
    assert_int_equal(got, nans); /* nothing lost or invented */
    free(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_radix_matches_stable_sort),
        cmocka_unit_test(test_signed_zeros_keep_order),
        cmocka_unit_test(test_nan_left_to_qsort),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
