/* The Mann-Whitney U test of `ipw lab compare` (SPEC §5.3): exact for small samples without
 * ties (the distribution of U counted), the normal approximation with tie and continuity
 * corrections otherwise. Two-sided. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ipw/lab.h"

#define EXACT_MAX 20

struct ranked {
    double v;
    int group;
};

static int cmp_ranked(const void *x, const void *y)
{
    double a = ((const struct ranked *)x)->v, b = ((const struct ranked *)y)->v;
    return (a > b) - (a < b);
}

/* P(U >= u) under the null for samples of m and n values: counts of rank arrangements by the
 * recurrence f(m, n, u) = f(m-1, n, u-n) + f(m, n-1, u), over all m' <= m, n' <= n. */
static double exact_sf(size_t m, size_t n, double u, ipw_errbuf *eb, ipw_err *rc)
{
    size_t umax = m * n;
    size_t stride_n = umax + 1, stride_m = (n + 1) * stride_n;
    double *f = calloc((m + 1) * stride_m, sizeof *f);
    if (!f) {
        *rc = ipw_fail(eb, IPW_E_NOMEM, "out of memory for the exact Mann-Whitney test");
        return NAN;
    }
#define F(i, j, k) f[(i) * stride_m + (j) * stride_n + (k)]
    for (size_t i = 0; i <= m; i++)
        for (size_t j = 0; j <= n; j++) {
            if (i == 0 || j == 0) {
                F(i, j, 0) = 1;
                continue;
            }
            for (size_t k = 0; k <= i * j; k++) {
                double x = k >= j ? F(i - 1, j, k - j) : 0;
                F(i, j, k) = x + (k <= (i) * (j - 1) ? F(i, j - 1, k) : 0);
            }
        }
    double total = 0, tail = 0;
    for (size_t k = 0; k <= umax; k++) {
        total += F(m, n, k);
        if ((double)k >= u - 1e-9)
            tail += F(m, n, k);
    }
#undef F
    free(f);
    return tail / total;
}

ipw_err ipw_lab_mann_whitney(const double *a, size_t na, const double *b, size_t nb, double *u,
                             double *p, ipw_errbuf *eb)
{
    *u = *p = NAN;
    if (na == 0 || nb == 0)
        return ipw_fail(eb, IPW_E_INVALID, "the Mann-Whitney test needs values in both samples");
    size_t n = na + nb;
    struct ranked *r = malloc(n * sizeof *r);
    double *rank = malloc(n * sizeof *rank);
    if (!r || !rank) {
        free(r);
        free(rank);
        return ipw_fail(eb, IPW_E_NOMEM, "out of memory for the Mann-Whitney test");
    }
    for (size_t i = 0; i < na; i++)
        r[i] = (struct ranked){a[i], 0};
    for (size_t i = 0; i < nb; i++)
        r[na + i] = (struct ranked){b[i], 1};
    qsort(r, n, sizeof *r, cmp_ranked);
    /* mid-ranks for ties, and the tie term sum(t^3 - t) */
    double ties = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j + 1 < n && r[j + 1].v == r[i].v)
            j++;
        double mid = ((double)i + (double)j) / 2.0 + 1.0;
        for (size_t k = i; k <= j; k++)
            rank[k] = mid;
        double t = (double)(j - i + 1);
        ties += t * t * t - t;
        i = j + 1;
    }
    double ra = 0;
    for (size_t i = 0; i < n; i++)
        if (r[i].group == 0)
            ra += rank[i];
    free(r);
    free(rank);
    double mn = (double)na * (double)nb;
    double u1 = ra - (double)na * ((double)na + 1) / 2.0;
    double big = u1 > mn - u1 ? u1 : mn - u1;
    *u = u1;
    ipw_err rc = IPW_OK;
    if (na <= EXACT_MAX && nb <= EXACT_MAX && ties == 0) {
        double sf = exact_sf(na, nb, big, eb, &rc);
        if (rc != IPW_OK)
            return rc;
        *p = 2 * sf;
    } else {
        double nn = (double)n;
        double var = mn / 12.0 * ((nn + 1) - ties / (nn * (nn - 1)));
        if (var <= 0) { /* every value equal: no evidence of a difference */
            *p = 1;
            return IPW_OK;
        }
        double z = (big - mn / 2.0 - 0.5) / sqrt(var);
        *p = erfc(z / sqrt(2.0));
    }
    if (*p > 1)
        *p = 1;
    return IPW_OK;
}
