/* Statistics used across analysis, the lab and the profiler (SPEC §4.5): Welford mean and
 * variance, numpy-compatible percentiles (linear interpolation), summaries. */
#ifndef IPW_STATS_H
#define IPW_STATS_H

#include <stddef.h>
#include <stdint.h>

struct ipw_welford {
    uint64_t n;
    double mean, m2, min, max;
};

void ipw_welford_init(struct ipw_welford *w);
void ipw_welford_add(struct ipw_welford *w, double x);
/* Population (ddof 0) when sample == 0, else sample (ddof 1). NaN when undefined. */
double ipw_welford_std(const struct ipw_welford *w, int sample);

/* p in [0,100]; v sorted ascending; numpy's default "linear" method. NaN when n == 0. */
double ipw_percentile_sorted(const double *v, size_t n, double p);
/* Sorts a copy; NaN on n == 0 or allocation failure. */
double ipw_percentile(const double *v, size_t n, double p);
void ipw_sort_doubles(double *v, size_t n);

struct ipw_summary {
    size_t n;
    double avg, min, max, median, std /* population */, p5, p95, cv /* std/mean */;
};
/* Summary of v (unsorted; not modified). Returns -1 when n == 0 (fields NaN). */
int ipw_summarize(const double *v, size_t n, struct ipw_summary *out);

#endif
