/* Python's and numpy's number formatting and statistics as the original prints them:
 * repr() of a float (shortest round trip), round(x, 2), numpy mean / median / percentile
 * (linear interpolation). Needed so lists like "[(115.0, 313.0)]" and the ms figures come
 * out character for character. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ss.h"

double ss_pyround2(double v)
{
    char b[64];
    snprintf(b, sizeof b, "%.2f", v);
    return strtod(b, NULL);
}

void ss_pyrepr(double v, char *buf, size_t len);

void ipw_ss_pyrepr(double v, char *buf, size_t len)
{
    ss_pyrepr(v, buf, len);
}

void ss_pyrepr(double v, char *buf, size_t len)
{
    if (isnan(v)) {
        snprintf(buf, len, "nan");
        return;
    }
    if (isinf(v)) {
        snprintf(buf, len, v < 0 ? "-inf" : "inf");
        return;
    }
    if (v == 0) {
        snprintf(buf, len, signbit(v) ? "-0.0" : "0.0");
        return;
    }
    char e[64];
    int p;
    for (p = 1; p <= 17; p++) {
        snprintf(e, sizeof e, "%.*e", p - 1, v);
        if (strtod(e, NULL) == v)
            break;
    }
    /* e is d.ddddde[+-]XX: digits and exponent */
    char digits[32];
    int nd = 0;
    const char *q = e;
    bool neg = false;
    if (*q == '-') {
        neg = true;
        q++;
    }
    for (; *q && *q != 'e'; q++)
        if (*q >= '0' && *q <= '9')
            digits[nd++] = *q;
    digits[nd] = '\0';
    int exp = atoi(q + 1);
    while (nd > 1 && digits[nd - 1] == '0')
        digits[--nd] = '\0';
    char out[64];
    size_t w = 0;
    if (neg)
        out[w++] = '-';
    if (exp < -4 || exp >= 16) {
        out[w++] = digits[0];
        if (nd > 1) {
            out[w++] = '.';
            for (int i = 1; i < nd; i++)
                out[w++] = digits[i];
        }
        snprintf(out + w, sizeof out - w, "e%c%02d", exp < 0 ? '-' : '+', exp < 0 ? -exp : exp);
    } else if (exp < 0) {
        out[w++] = '0';
        out[w++] = '.';
        for (int i = 0; i < -exp - 1; i++)
            out[w++] = '0';
        for (int i = 0; i < nd; i++)
            out[w++] = digits[i];
        out[w] = '\0';
    } else {
        for (int i = 0; i <= exp; i++)
            out[w++] = i < nd ? digits[i] : '0';
        out[w++] = '.';
        if (nd > exp + 1)
            for (int i = exp + 1; i < nd; i++)
                out[w++] = digits[i];
        else
            out[w++] = '0';
        out[w] = '\0';
    }
    snprintf(buf, len, "%s", out);
}

static int cmp64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

void ss_stat(int64_t *v, size_t n, struct ipw_ss_stat *st)
{
    memset(st, 0, sizeof *st);
    if (!n)
        return;
    st->present = true;
    qsort(v, n, sizeof *v, cmp64);
    /* integer-valued doubles: the sum is exact below 2^53 whatever numpy's summation order */
    double sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += (double)v[i];
    st->mean_ms = sum / (double)n / 1000000.0;
    double med = n % 2 ? (double)v[n / 2] : ((double)v[n / 2 - 1] + (double)v[n / 2]) / 2.0;
    st->median_ms = med / 1000000.0;
    double vi = 0.99 * (double)(n - 1);
    double prev = floor(vi);
    size_t lo = (size_t)prev, hi = lo + 1 < n ? lo + 1 : n - 1;
    double g = vi - prev, a = (double)v[lo], b = (double)v[hi], d = b - a;
    double p = g >= 0.5 ? b - d * (1.0 - g) : a + d * g;
    st->p99_ms = p / 1000000.0;
}

static uint64_t hmix(int64_t v)
{
    uint64_t h = (uint64_t)v * 0x9E3779B97F4A7C15ULL;
    return h ^ (h >> 29);
}

bool ss_hist_add(struct ss_hist *h, int64_t v)
{
    if (h->cap && h->e[h->last].c && h->e[h->last].k == v) {
        h->e[h->last].c++;
        h->total++;
        return true;
    }
    if ((h->n + 1) * 2 > h->cap) {
        size_t nc = h->cap ? h->cap * 2 : 1024;
        struct ss_hbin *ne = calloc(nc, sizeof *ne);
        if (!ne)
            return false;
        for (size_t i = 0; i < h->cap; i++)
            if (h->e[i].c) {
                size_t j = hmix(h->e[i].k) & (nc - 1);
                while (ne[j].c)
                    j = (j + 1) & (nc - 1);
                ne[j] = h->e[i];
            }
        free(h->e);
        h->e = ne;
        h->cap = nc;
    }
    size_t j = hmix(v) & (h->cap - 1);
    while (h->e[j].c && h->e[j].k != v)
        j = (j + 1) & (h->cap - 1);
    if (!h->e[j].c) {
        h->e[j].k = v;
        h->n++;
    }
    h->e[j].c++;
    h->total++;
    h->last = j;
    return true;
}

void ss_hist_free(struct ss_hist *h)
{
    free(h->e);
    memset(h, 0, sizeof *h);
}

struct kc {
    int64_t k, c;
};

static int cmpkc(const void *a, const void *b)
{
    int64_t x = ((const struct kc *)a)->k, y = ((const struct kc *)b)->k;
    return x < y ? -1 : x > y;
}

/* the i-th smallest (0-based) */
static double nth(const struct kc *v, size_t n, int64_t i)
{
    int64_t acc = 0;
    for (size_t j = 0; j < n; j++) {
        acc += v[j].c;
        if (i < acc)
            return (double)v[j].k;
    }
    return n ? (double)v[n - 1].k : 0;
}

void ss_stat_hist(struct ss_hist *h, struct ipw_ss_stat *st)
{
    memset(st, 0, sizeof *st);
    if (!h->total)
        return;
    struct kc *v = malloc(h->n * sizeof *v);
    if (!v)
        return;
    size_t m = 0;
    __int128 sum = 0;
    for (size_t i = 0; i < h->cap; i++)
        if (h->e[i].c) {
            v[m].k = h->e[i].k;
            v[m++].c = h->e[i].c;
            sum += (__int128)h->e[i].k * h->e[i].c;
        }
    qsort(v, m, sizeof *v, cmpkc);
    int64_t n = h->total;
    st->present = true;
    st->mean_ms = (double)sum / (double)n / 1000000.0;
    double med = n % 2 ? nth(v, m, n / 2) : (nth(v, m, n / 2 - 1) + nth(v, m, n / 2)) / 2.0;
    st->median_ms = med / 1000000.0;
    double vi = 0.99 * (double)(n - 1), prev = floor(vi);
    int64_t lo = (int64_t)prev, hi = lo + 1 < n ? lo + 1 : n - 1;
    double g = vi - prev, a = nth(v, m, lo), b = nth(v, m, hi), d = b - a;
    st->p99_ms = (g >= 0.5 ? b - d * (1.0 - g) : a + d * g) / 1000000.0;
    free(v);
}
