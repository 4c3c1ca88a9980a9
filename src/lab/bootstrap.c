/* Bootstrap intervals (SPEC §5.3): the 95 % percentile interval of a batch's median and of the
 * difference of two medians, from a fixed-seed generator so a batch always reports the same
 * interval, and the number of runs a target interval width needs. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ipw/lab.h"
#include "ipw/splitmix.h"

/* Uniform in [0, n) without modulo bias. */
static size_t pick(uint64_t *s, size_t n)
{
    uint64_t lim = UINT64_MAX - UINT64_MAX % n;
    uint64_t x;
    do
        x = ipw_splitmix64_next(s);
    while (x >= lim);
    return (size_t)(x % n);
}

/* The k-th smallest of v[0..n) (v is reordered): quickselect, linear on average, where a sort
 * per resample made a 1000-run summary take a second. */
static double select_kth(double *v, size_t n, size_t k)
{
    size_t lo = 0, hi = n - 1;
    while (lo < hi) {
        double pivot = v[lo + (hi - lo) / 2];
        size_t i = lo, j = hi;
        while (i <= j) {
            while (v[i] < pivot)
                i++;
            while (v[j] > pivot)
                j--;
            if (i <= j) {
                double t = v[i];
                v[i] = v[j];
                v[j] = t;
                i++;
                if (j == 0)
                    break;
                j--;
            }
        }
        if (k <= j)
            hi = j;
        else if (k >= i)
            lo = i;
        else
            return v[k];
    }
    return v[k];
}

/* numpy's median: the middle value, or the mean of the two middle ones. */
static double median_inplace(double *v, size_t n)
{
    double hi = select_kth(v, n, n / 2);
    if (n % 2)
        return hi;
    /* after selecting n/2, everything before it is <= it: the largest of those is the other */
    double lo = v[0];
    for (size_t i = 1; i < n / 2; i++)
        if (v[i] > lo)
            lo = v[i];
    return lo + (hi - lo) * 0.5;
}

static double resample_median(const double *v, size_t n, double *tmp, uint64_t *s)
{
    for (size_t i = 0; i < n; i++)
        tmp[i] = v[pick(s, n)];
    return median_inplace(tmp, n);
}

static void ci_of(double *stats, size_t b, struct ipw_lab_ci *out)
{
    ipw_sort_doubles(stats, b);
    out->lo = ipw_percentile_sorted(stats, b, 2.5);
    out->hi = ipw_percentile_sorted(stats, b, 97.5);
}

ipw_err ipw_lab_bootstrap_median_ci(const double *v, size_t n, uint64_t seed,
                                    struct ipw_lab_ci *out, ipw_errbuf *eb)
{
    out->lo = out->hi = NAN;
    if (n < 2)
        return IPW_OK;
    size_t b = IPW_LAB_BOOTSTRAP_RESAMPLES;
    double *tmp = malloc(n * sizeof *tmp), *st = malloc(b * sizeof *st);
    if (!tmp || !st) {
        free(tmp);
        free(st);
        return ipw_fail(eb, IPW_E_NOMEM, "out of memory for the bootstrap of %zu values", n);
    }
    uint64_t s = seed;
    for (size_t i = 0; i < b; i++)
        st[i] = resample_median(v, n, tmp, &s);
    ci_of(st, b, out);
    free(tmp);
    free(st);
    return IPW_OK;
}

ipw_err ipw_lab_median_diff_ci(const double *a, size_t na, const double *b, size_t nb,
                               uint64_t seed, double *diff, struct ipw_lab_ci *out,
                               ipw_errbuf *eb)
{
    out->lo = out->hi = NAN;
    *diff = NAN;
    if (na == 0 || nb == 0)
        return IPW_OK;
    *diff = ipw_percentile(b, nb, 50) - ipw_percentile(a, na, 50);
    if (na < 2 || nb < 2)
        return IPW_OK;
    size_t reps = IPW_LAB_BOOTSTRAP_RESAMPLES;
    double *tmp = malloc((na > nb ? na : nb) * sizeof *tmp), *st = malloc(reps * sizeof *st);
    if (!tmp || !st) {
        free(tmp);
        free(st);
        return ipw_fail(eb, IPW_E_NOMEM, "out of memory for the bootstrap");
    }
    uint64_t s = seed;
    for (size_t i = 0; i < reps; i++) {
        double ma = resample_median(a, na, tmp, &s);
        st[i] = resample_median(b, nb, tmp, &s) - ma;
    }
    ci_of(st, reps, out);
    free(tmp);
    free(st);
    return IPW_OK;
}

long ipw_lab_recommended_runs(size_t n, double median, const struct ipw_lab_ci *ci,
                              double target_pct)
{
    if (n < 2 || !isfinite(median) || median == 0 || !isfinite(ci->lo) || !isfinite(ci->hi) ||
        !(target_pct > 0))
        return 0;
    double half_pct = (ci->hi - ci->lo) / 2.0 / fabs(median) * 100.0;
    /* a hair of slack so that 40.000000000000007 is 40 runs, not 41 */
    double need = ceil((double)n * (half_pct / target_pct) * (half_pct / target_pct) - 1e-9);
    if (need < (double)n)
        need = (double)n;
    if (need > IPW_LAB_MAX_RUNS)
        need = IPW_LAB_MAX_RUNS;
    return (long)need;
}
