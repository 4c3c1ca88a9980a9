/* Ordinary least squares of latency, energy and power on token counts (SPEC §4.3), streamed:
 * each fit keeps running centred sums (Welford's co-moment update), so a million points cost
 * a few doubles and no cancellation. */
#ifndef IPW_REGRESSION_H
#define IPW_REGRESSION_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "ipw/run_reader.h"

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

enum ipw_reg_id {
    IPW_REG_INPUT_TTFT = 0,
    IPW_REG_TOTAL_ENERGY,
    IPW_REG_TOTAL_LATENCY,
    IPW_REG_TOTAL_POWER,
    IPW_REG_TOTAL_POWER_LOG,
    IPW_REG_OUTPUT_DECODE_ENERGY,
    IPW_REG_INPUT_PREFILL_ENERGY,
    IPW_REG_COUNT
};

/* "input_tokens_vs_ttft", ... (the keys of regression.json). */
const char *ipw_regression_name(enum ipw_reg_id id);
/* The point a query gives to a fit, false when it gives none (failed query, a missing or
 * non-finite value, zero power, or ln of a non-positive token count). */
bool ipw_regression_point(enum ipw_reg_id id, const struct ipw_run_query *q, double *x,
                          double *y);

struct ipw_regression {
    struct ipw_ols fit[IPW_REG_COUNT];
    uint64_t samples; /* successful queries seen */
    uint64_t zero_energy, zero_power, zero_ttft, zero_latency, zero_output, zero_input,
        zero_total;
};

void ipw_regression_init(struct ipw_regression *r);
void ipw_regression_add(struct ipw_regression *r, const struct ipw_run_query *q);
/* The whole analysis/regression.json object: {analysis, summary, warnings, data{regressions}}. */
json_t *ipw_regression_json(const struct ipw_regression *r);
/* Reads the fits back from a regression.json object (for plots); false when id is absent. */
bool ipw_regression_fit_from_json(const json_t *doc, enum ipw_reg_id id, struct ipw_ols_fit *f);

#endif
