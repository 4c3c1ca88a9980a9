/* The regressions of `ipw analyze` (SPEC §4.3): latency, energy and power on token counts,
 * each a streamed fit of ipw/ols.h. Private to src/analysis/ (and its tests); the plots read
 * the fits back from regression.json (ipw_regression_fit_from_json). */
#ifndef IPW_ANALYSIS_REGRESSION_H
#define IPW_ANALYSIS_REGRESSION_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "ipw/ols.h"
#include "ipw/run_reader.h"

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
