/* The exact 128-bit conversions of core/decimal.c against the C library they stand in for:
 * ipw_decimal_to_double against strtod on random digit strings of 1 to 19 digits with 0 to 21
 * decimals (and the halfway cases that decide ties), ipw_double_digits against printf's "%.*e"
 * on random doubles of every binade in range, and its round-trip answer against strtod. */
#include "ipw_test.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ipw/decimal.h"

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static uint64_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static void check_parse(uint64_t m, int k)
{
    char text[64];
    /* m / 10^k as text: digits with the point k places from the right */
    char digits[32];
    int n = snprintf(digits, sizeof digits, "%llu", (unsigned long long)m);
    if (k >= n)
        snprintf(text, sizeof text, "0.%0*d%s", k - n, 0, digits);
    else
        snprintf(text, sizeof text, "%.*s.%s", n - k, digits, digits + n - k);
    if (k >= n && k - n == 0)
        snprintf(text, sizeof text, "0.%s", digits);
    double want = strtod(text, NULL), got;
    if (!ipw_decimal_to_double(m, k, &got))
        return; /* out of range: the caller uses strtod */
    if (memcmp(&got, &want, sizeof got) != 0)
        fail_msg("%s: %a, strtod %a", text, got, want);
}

static void test_parse_matches_strtod(void **state)
{
    (void)state;
    int answered = 0;
    for (int i = 0; i < 400000; i++) {
        int nd = 1 + (int)(next() % 19);
        uint64_t m = next() % 10000000000000000000ull;
        uint64_t lim = 1;
        for (int d = 0; d < nd; d++)
            lim *= 10;
        m %= lim;
        int k = (int)(next() % 22);
        double v;
        answered += ipw_decimal_to_double(m, k, &v);
        check_parse(m, k);
    }
    assert_true(answered > 390000);
    /* ties and near-ties: 2^53 + 1 and neighbours, scaled by powers of ten */
    for (uint64_t base = 9007199254740990ull; base < 9007199254741000ull; base++)
        for (int z = 0; z <= 3; z++) {
            uint64_t m = base;
            for (int d = 0; d < z; d++)
                m *= 10;
            for (int k = 0; k <= 21; k++)
                check_parse(m, k);
        }
    /* a 17-digit shortest form of every binade from 1e-5 to 1e15 */
    for (int i = 0; i < 200000; i++) {
        double v = ldexp((double)(next() >> 11) / 9007199254740992.0 + 0.5, (int)(next() % 67) - 17);
        char t[40];
        snprintf(t, sizeof t, "%.17g", v);
        char *dot = strchr(t, '.');
        if (!dot || strchr(t, 'e'))
            continue;
        uint64_t m = 0;
        int k = 0;
        for (char *c = t; *c; c++)
            if (*c != '.') {
                m = m * 10 + (uint64_t)(*c - '0');
                if (c > dot)
                    k++;
            }
        check_parse(m, k);
    }
    double z;
    assert_true(ipw_decimal_to_double(0, 5, &z) && z == 0.0 && !signbit(z));
    assert_false(ipw_decimal_to_double(1, 22, &z));
}

static void check_digits(double v, int p)
{
    uint64_t digits;
    int exp10;
    bool rt;
    if (!ipw_double_digits(v, p, &digits, &exp10, &rt))
        return;
    char want[48], got[48];
    snprintf(want, sizeof want, "%.*e", p - 1, v);
    char d[24];
    snprintf(d, sizeof d, "%llu", (unsigned long long)digits);
    if (p > 1)
        snprintf(got, sizeof got, "%c.%se%c%02d", d[0], d + 1, exp10 < 0 ? '-' : '+',
                 abs(exp10));
    else
        snprintf(got, sizeof got, "%ce%c%02d", d[0], exp10 < 0 ? '-' : '+', abs(exp10));
    if (strcmp(got, want) != 0)
        fail_msg("%a at %d digits: %s, printf %s", v, p, got, want);
    bool back = strtod(want, NULL) == v;
    if (back != rt)
        fail_msg("%a at %d digits (%s): round trip %d, strtod says %d", v, p, want, rt, back);
}

static void test_digits_match_printf(void **state)
{
    (void)state;
    int answered = 0;
    for (int i = 0; i < 300000; i++) {
        /* random mantissa, exponents over the whole range done here and a little beyond */
        double v = ldexp((double)(next() >> 11) / 9007199254740992.0 + 0.5, (int)(next() % 100) - 22);
        int p = 15 + (int)(next() % 3);
        check_digits(v, p);
        uint64_t dg;
        int ex;
        bool rt;
        answered += ipw_double_digits(v, p, &dg, &ex, &rt);
        if (i % 8 == 0)
            check_digits(v, 1 + (int)(next() % 17));
    }
    assert_true(answered > 200000);
    /* values written with few digits (exact halves at 15 and 16 digits are left to printf),
     * powers of two (the narrow gap below), powers of ten, and decimal-looking values */
    for (int e = -19; e <= 73; e++)
        for (int p = 1; p <= 17; p++) {
            check_digits(ldexp(1.0, e), p);
            check_digits(nextafter(ldexp(1.0, e), 0), p);
            check_digits(nextafter(ldexp(1.0, e), INFINITY), p);
        }
    for (int e = -6; e <= 22; e++)
        for (int p = 1; p <= 17; p++) {
            double t = pow(10, e);
            check_digits(t, p);
            check_digits(nextafter(t, 0), p);
            check_digits(nextafter(t, INFINITY), p);
        }
    for (int i = 0; i < 100000; i++) {
        double v = (double)(next() % 100000000) / 1000.0;
        check_digits(v, 15);
        check_digits(v, 16);
        check_digits(v, 17);
    }
    uint64_t dg;
    int ex;
    bool rt;
    assert_false(ipw_double_digits(0.0, 17, &dg, &ex, &rt));
    assert_false(ipw_double_digits(-1.0, 17, &dg, &ex, &rt));
    assert_false(ipw_double_digits(NAN, 17, &dg, &ex, &rt));
    assert_false(ipw_double_digits(1e30, 17, &dg, &ex, &rt));
    assert_true(ipw_double_digits(0.1, 17, &dg, &ex, &rt));
    assert_true(dg == 10000000000000001ull && ex == -1 && rt);
    assert_true(ipw_double_digits(0.1, 16, &dg, &ex, &rt));
    assert_true(dg == 1000000000000000ull && ex == -1 && rt);
}

/* ipw_int64_decimal against printf's "%lld": the extremes, every power of ten and its
 * neighbours, and random values of every width. */
static void check_int(int64_t v)
{
    char want[32], got[IPW_INT64_DECIMAL];
    int n = snprintf(want, sizeof want, "%lld", (long long)v);
    assert_int_equal(ipw_int64_decimal(v, got), n);
    assert_string_equal(got, want);
}

static void test_int64_matches_printf(void **state)
{
    (void)state;
    check_int(0);
    check_int(INT64_MAX);
    check_int(INT64_MIN);
    for (int64_t p = 1; p <= INT64_MAX / 10; p *= 10)
        for (int64_t d = -1; d <= 1; d++) {
            check_int(p + d);
            check_int(-(p + d));
        }
    for (int i = 0; i < 100000; i++) {
        int64_t v = (int64_t)next();
        check_int(v >> (next() % 63));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_matches_strtod),
        cmocka_unit_test(test_digits_match_printf),
        cmocka_unit_test(test_int64_matches_printf),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
