/* Exact decimal <-> binary conversions in 128-bit integers (include/ipw/decimal.h). glibc's
 * strtod and printf take big-number paths for 16- and 17-digit numbers (the form records and
 * scores files hold): on a 1M-record analysis they were a fifth of the CPU. Here a number's
 * digits and its binary value are related by one exact 128-bit product or quotient; anything
 * outside that range (or an exact tie for printf) is left to the C library by answering false. */
#include "ipw/decimal.h"

#include <string.h>

__extension__ typedef unsigned __int128 u128;

static const uint64_t p10[20] = {1ull,
                                 10ull,
                                 100ull,
                                 1000ull,
                                 10000ull,
                                 100000ull,
                                 1000000ull,
                                 10000000ull,
                                 100000000ull,
                                 1000000000ull,
                                 10000000000ull,
                                 100000000000ull,
                                 1000000000000ull,
                                 10000000000000ull,
                                 100000000000000ull,
                                 1000000000000000ull,
                                 10000000000000000ull,
                                 100000000000000000ull,
                                 1000000000000000000ull,
                                 10000000000000000000ull};

static u128 pow10_128(int k) { return k <= 19 ? p10[k] : (u128)p10[19] * p10[k - 19]; }

static int bitlen64(uint64_t x) { return x ? 64 - __builtin_clzll(x) : 0; }

static int bitlen128(u128 x)
{
    uint64_t hi = (uint64_t)(x >> 64);
    return hi ? 64 + bitlen64(hi) : bitlen64((uint64_t)x);
}

/* mant * 2^e2 with mant in [2^52, 2^53) as a normal double; false when out of range */
static bool make_double(uint64_t mant, int e2, double *out)
{
    int be = e2 + 52 + 1023;
    if (be < 1 || be > 2046)
        return false;
    uint64_t bits = (uint64_t)be << 52 | (mant & ((1ull << 52) - 1));
    memcpy(out, &bits, sizeof *out);
    return true;
}

bool ipw_decimal_to_double(uint64_t m, int k, double *out)
{
    if (m == 0) {
        *out = 0.0;
        return true;
    }
    if (k < 0 || k > 21)
        return false;
    u128 d = pow10_128(k);
    int bm = bitlen64(m), bd = bitlen128(d);
    /* shift so that the quotient has 55 or 56 bits: 53 kept, the rest and the remainder round */
    int s = 55 + bd - bm;
    if (s < 0 || bm + s > 127)
        return false;
    u128 n = (u128)m << s;
    u128 q = n / d;
    bool sticky = n % d != 0;
    int drop = bitlen128(q) - 53; /* 2 or 3 */
    uint64_t mant = (uint64_t)(q >> drop);
    uint64_t rest = (uint64_t)q & ((1ull << drop) - 1), half = 1ull << (drop - 1);
    if (rest > half || (rest == half && (sticky || (mant & 1))))
        mant++;
    int e2 = drop - s;
    if (mant == 1ull << 53) {
        mant >>= 1;
        e2++;
    }
    return make_double(mant, e2, out);
}

bool ipw_double_digits(double v, int p, uint64_t *digits, int *exp10, bool *round_trips)
{
    if (!(v >= 1e-6 && v < 0x1p74) || p < 1 || p > 17)
        return false;
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    int be = (int)(bits >> 52);
    uint64_t mant = (bits & ((1ull << 52) - 1)) | 1ull << 52;
    int e2 = be - 1023 - 52; /* v = mant * 2^e2 exactly */
    /* v in [10^x, 10^(x+1)): log10(v) lies in [est, est + 0.302), so floor(est) is x or x - 1 */
    double est = (double)(e2 + 52) * 0.30102999566398120;
    int x = (int)est - (est < (int)est);
    for (int tries = 0; tries < 2; tries++, x++) {
        /* v * 10^sc = num / den exactly, both integers; sc puts p digits before the point */
        int sc = p - 1 - x;
        u128 num = mant, den = 1;
        if (e2 >= 0)
            num <<= e2; /* e2 <= 21 in range */
        else
            den <<= -e2; /* -e2 <= 72 in range */
        u128 scale = pow10_128(sc >= 0 ? sc : -sc); /* |sc| <= 22 in range */
        if (sc >= 0) {
            if (bitlen128(num) + bitlen128(scale) > 126)
                return false;
            num *= scale;
        } else {
            if (bitlen128(den) + bitlen128(scale) > 126)
                return false;
            den *= scale;
        }
        u128 q = num / den, r = num % den;
        if (q >= p10[p])
            continue; /* x was one too low */
        if (q < p10[p - 1])
            return false; /* not reached: x is never too high */
        if (bitlen128(den) + 57 > 126)
            return false; /* c * den below must fit */
        /* round to p digits, halves up; an exact half is printf's to decide */
        if (2 * r == den)
            return false;
        uint64_t c = (uint64_t)q + (2 * r > den);
        /* Does c read back as v? strtod rounds to the nearest double: within half the gap to
         * v's neighbour. In the units of num that gap is 2^e2 * 10^sc * den = num / mant. Below
         * a power of two the neighbour is half as far (not for the smallest normal). */
        u128 cd = (u128)c * den;
        bool below = cd < num;
        u128 diff = below ? num - cd : cd - num;
        u128 unit = num / mant;
        u128 lhs = below && mant == 1ull << 52 && be > 1 ? 4 * diff : 2 * diff;
        *round_trips = lhs < unit || (lhs == unit && (mant & 1) == 0);
        *exp10 = x;
        if (c == p10[p]) { /* rounding carried into one more digit */
            c = p10[p - 1];
            (*exp10)++;
        }
        *digits = c;
        return true;
    }
    return false;
}

size_t ipw_int64_decimal(int64_t v, char out[IPW_INT64_DECIMAL])
{
    char tmp[IPW_INT64_DECIMAL];
    size_t n = 0;
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    do {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    size_t w = 0;
    if (v < 0)
        out[w++] = '-';
    while (n)
        out[w++] = tmp[--n];
    out[w] = '\0';
    return w;
}
