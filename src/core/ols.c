/* Ordinary least squares, streamed (ipw/ols.h). The sums are centred as they accumulate
 * (Welford), slope = Sxy / Sxx, intercept = ȳ − slope·x̄, R² = Sxy² / (Sxx·Syy) (1 when y is
 * constant, as the original tool reports it). */
#include "ipw/ols.h"

#include <math.h>
#include <string.h>

void ipw_ols_init(struct ipw_ols *o) { memset(o, 0, sizeof *o); }

void ipw_ols_add(struct ipw_ols *o, double x, double y)
{
    if (!isfinite(x) || !isfinite(y))
        return;
    if (o->n == 0)
        o->first_x = x;
    else if (x != o->first_x)
        o->distinct = true;
    o->n++;
    double dx = x - o->mx;
    double dy = y - o->my;
    o->mx += dx / (double)o->n;
    o->my += dy / (double)o->n;
    /* co-moment updates: old deviation times new deviation */
    o->sxx += dx * (x - o->mx);
    o->syy += dy * (y - o->my);
    o->sxy += dx * (y - o->my);
}

void ipw_ols_fit(const struct ipw_ols *o, struct ipw_ols_fit *f)
{
    f->count = o->n;
    f->avg_y = o->n ? o->my : NAN;
    f->slope = f->intercept = f->r2 = NAN;
    f->valid = o->n >= 2 && o->distinct && o->sxx > 0;
    if (!f->valid)
        return;
    f->slope = o->sxy / o->sxx;
    f->intercept = o->my - f->slope * o->mx;
    if (o->syy > 0) {
        double r2 = (o->sxy / o->sxx) * (o->sxy / o->syy);
        f->r2 = r2 > 1 ? 1 : (r2 < 0 ? 0 : r2);
    } else {
        f->r2 = 1.0;
    }
}
