/* Ordinary least squares, streamed: each fit keeps running centred sums (Welford's co-moment
 * update), so a million points cost a few doubles and no cancellation. The regressions of
 * `ipw analyze` and the plots' fitted lines use it. */
#ifndef IPW_OLS_H
#define IPW_OLS_H

#include <stdbool.h>
#include <stdint.h>

/* Running sums of one fit: means and centred second moments. */
struct ipw_ols {
    uint64_t n;
    double mx, my, sxx, syy, sxy;
    double first_x;
    bool distinct; /* at least two different x seen */
};

struct ipw_ols_fit {
    uint64_t count;
    bool valid; /* false: fewer than 2 points or fewer than 2 distinct x (slope etc. null) */
    double slope, intercept, r2, avg_y; /* avg_y is NAN only when count == 0 */
};

void ipw_ols_init(struct ipw_ols *o);
/* Non-finite points are ignored. */
void ipw_ols_add(struct ipw_ols *o, double x, double y);
void ipw_ols_fit(const struct ipw_ols *o, struct ipw_ols_fit *fit);

#endif
