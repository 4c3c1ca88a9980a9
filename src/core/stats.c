/* Welford's running mean/variance and numpy-compatible percentiles. */
#include "ipw/stats.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void ipw_welford_init(struct ipw_welford *w)
{
    memset(w, 0, sizeof *w);
    w->min = INFINITY;
    w->max = -INFINITY;
}

void ipw_welford_add(struct ipw_welford *w, double x)
{
    w->n++;
    double d = x - w->mean;
    w->mean += d / (double)w->n;
    w->m2 += d * (x - w->mean);
    if (x < w->min)
        w->min = x;
    if (x > w->max)
        w->max = x;
}

double ipw_welford_std(const struct ipw_welford *w, int sample)
{
    if (w->n == 0 || (sample && w->n < 2))
        return NAN;
    return sqrt(w->m2 / (double)(w->n - (sample ? 1 : 0)));
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

void ipw_sort_doubles(double *v, size_t n) { qsort(v, n, sizeof *v, cmp_double); }

double ipw_percentile_sorted(const double *v, size_t n, double p)
{
    if (n == 0)
        return NAN;
    if (p <= 0)
        return v[0];
    if (p >= 100)
        return v[n - 1];
    double pos = p / 100.0 * (double)(n - 1);
    size_t lo = (size_t)floor(pos);
    size_t hi = lo + 1 < n ? lo + 1 : lo;
    double frac = pos - (double)lo;
    return v[lo] + (v[hi] - v[lo]) * frac;
}

double ipw_percentile(const double *v, size_t n, double p)
{
    if (n == 0)
        return NAN;
    double *c = malloc(n * sizeof *c);
    if (!c)
        return NAN;
    memcpy(c, v, n * sizeof *c);
    ipw_sort_doubles(c, n);
    double r = ipw_percentile_sorted(c, n, p);
    free(c);
    return r;
}

int ipw_summarize(const double *v, size_t n, struct ipw_summary *out)
{
    out->n = n;
    if (n == 0) {
        out->avg = out->min = out->max = out->median = out->std = out->p5 = out->p95 = out->cv =
            NAN;
        return -1;
    }
    struct ipw_welford w;
    ipw_welford_init(&w);
    for (size_t i = 0; i < n; i++)
        ipw_welford_add(&w, v[i]);
    double *c = malloc(n * sizeof *c);
    if (!c)
        return -1;
    memcpy(c, v, n * sizeof *c);
    ipw_sort_doubles(c, n);
    out->avg = w.mean;
    out->min = w.min;
    out->max = w.max;
    out->median = ipw_percentile_sorted(c, n, 50);
    out->p5 = ipw_percentile_sorted(c, n, 5);
    out->p95 = ipw_percentile_sorted(c, n, 95);
    out->std = ipw_welford_std(&w, 0);
    out->cv = w.mean != 0 ? out->std / w.mean : NAN;
    free(c);
    return 0;
}
