/* Exact conversions between decimal digits and doubles for the ranges records and analysis
 * files use, done in 128-bit integers instead of strtod/printf's big-number arithmetic. Each
 * function answers false outside its range; the caller then uses the C library as before. */
#ifndef IPW_DECIMAL_H
#define IPW_DECIMAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* m / 10^k rounded to the nearest double (ties to even), as strtod rounds the same digits.
 * False when k > 21, or the result would be subnormal or overflow. */
bool ipw_decimal_to_double(uint64_t m, int k, double *out);

/* The digits of finite v > 0 rounded to p significant digits (1 <= p <= 17), as printf's "%.*e"
 * rounds them: v ~ digits * 10^(exp10 - p + 1), digits in [10^(p-1), 10^p). *round_trips: the
 * digits read back (strtod) as v. False outside the range done exactly here (v < 1e-6, v >= 2^74,
 * subnormal) and when the digits dropped are exactly half a unit (printf's own tie rule decides). */
bool ipw_double_digits(double v, int p, uint64_t *digits, int *exp10, bool *round_trips);

/* Room for any int64_t in decimal, its sign and a NUL. */
#define IPW_INT64_DECIMAL 21

/* v in decimal digits as printf's "%lld" writes them, NUL-terminated; returns the length (the
 * callers format millions of integers, where printf's cost showed). */
size_t ipw_int64_decimal(int64_t v, char out[IPW_INT64_DECIMAL]);

#endif
