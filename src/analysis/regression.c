/* Least-squares fits over a run's queries (the fits themselves: core's ipw/ols.h): which
 * points each regression takes, and regression.json. */
#include "regression.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "ipw/jsonutil.h"

const char *ipw_regression_name(enum ipw_reg_id id)
{
    static const char *const names[IPW_REG_COUNT] = {
        "input_tokens_vs_ttft",          "total_tokens_vs_energy",
        "total_tokens_vs_latency",       "total_tokens_vs_power",
        "total_tokens_vs_power_log",     "output_tokens_vs_decode_energy",
        "input_tokens_vs_prefill_energy",
    };
    return (unsigned)id < IPW_REG_COUNT ? names[id] : "unknown";
}

/* A query's power as SPEC §4.2 defines it (and IPW uses): its energy / its latency when both
 * are positive, else the sampled window's average. The window's samples include a boundary
 * reading from before the query, so their mean is only context (it drew 271-314 W for queries
 * that each ran at exactly 322 W, with a trend that was not there). */
static double query_power(const struct ipw_run_query *q)
{
    if (isfinite(q->energy_j) && q->energy_j > 0 && isfinite(q->latency_s) && q->latency_s > 0)
        return q->energy_j / q->latency_s;
    if (isfinite(q->power_avg_w))
        return q->power_avg_w;
    return NAN;
}

bool ipw_regression_point(enum ipw_reg_id id, const struct ipw_run_query *q, double *x,
                          double *y)
{
    if (q->failed)
        return false;
    double px = NAN, py = NAN;
    switch (id) {
    case IPW_REG_INPUT_TTFT: px = q->input_tokens; py = q->ttft_s; break;
    case IPW_REG_TOTAL_ENERGY: px = q->total_tokens; py = q->energy_j; break;
    case IPW_REG_TOTAL_LATENCY: px = q->total_tokens; py = q->latency_s; break;
    case IPW_REG_TOTAL_POWER:
    case IPW_REG_TOTAL_POWER_LOG:
        px = q->total_tokens;
        py = query_power(q);
        if (py == 0)
            return false; /* zeros excluded: an idle window, not a measurement of load */
        if (id == IPW_REG_TOTAL_POWER_LOG)
            px = px > 0 ? log(px) : NAN;
        break;
    case IPW_REG_OUTPUT_DECODE_ENERGY: px = q->output_tokens; py = q->decode_j; break;
    case IPW_REG_INPUT_PREFILL_ENERGY: px = q->input_tokens; py = q->prefill_j; break;
    case IPW_REG_COUNT: return false;
    }
    if (!isfinite(px) || !isfinite(py))
        return false;
    *x = px;
    *y = py;
    return true;
}

void ipw_regression_init(struct ipw_regression *r)
{
    memset(r, 0, sizeof *r);
    for (int i = 0; i < IPW_REG_COUNT; i++)
        ipw_ols_init(&r->fit[i]);
}

void ipw_regression_add(struct ipw_regression *r, const struct ipw_run_query *q)
{
    if (q->failed)
        return;
    r->samples++;
    r->zero_energy += q->energy_j == 0;
    r->zero_power += query_power(q) == 0;
    r->zero_ttft += q->ttft_s == 0;
    r->zero_latency += q->latency_s == 0;
    r->zero_output += q->output_tokens == 0;
    r->zero_input += q->input_tokens == 0;
    r->zero_total += q->total_tokens == 0;
    for (int i = 0; i < IPW_REG_COUNT; i++) {
        double x, y;
        if (ipw_regression_point((enum ipw_reg_id)i, q, &x, &y))
            ipw_ols_add(&r->fit[i], x, y);
    }
}


json_t *ipw_regression_json(const struct ipw_regression *r)
{
    json_t *doc = json_object(), *warnings = json_array(), *regs = json_object();
    for (int i = 0; i < IPW_REG_COUNT; i++) {
        struct ipw_ols_fit f;
        ipw_ols_fit(&r->fit[i], &f);
        json_t *o = json_object();
        json_object_set_new(o, "count", json_integer((json_int_t)f.count));
        json_object_set_new(o, "slope", ipw_json_real_or_null(f.slope, f.valid));
        json_object_set_new(o, "intercept", ipw_json_real_or_null(f.intercept, f.valid));
        json_object_set_new(o, "r2", ipw_json_real_or_null(f.r2, f.valid));
        json_object_set_new(o, "avg_y", ipw_json_real_or_null(f.avg_y, f.count > 0));
        json_object_set_new(regs, ipw_regression_name((enum ipw_reg_id)i), o);
        if (!f.valid)
            ipw_json_append_fmt(warnings, "%s: %s, so no fit", ipw_regression_name((enum ipw_reg_id)i),
                 f.count < 2 ? "fewer than 2 points" : "fewer than 2 distinct x values");
    }
    const struct {
        uint64_t n;
        const char *what;
    } zeros[] = {
        {r->zero_energy, "per-query energy"}, {r->zero_power, "per-query power (left out)"},
        {r->zero_ttft, "TTFT"},               {r->zero_latency, "latency"},
        {r->zero_output, "output-token"},     {r->zero_input, "input-token"},
        {r->zero_total, "total-token"},
    };
    for (size_t i = 0; i < sizeof zeros / sizeof zeros[0]; i++)
        if (zeros[i].n)
            ipw_json_append_fmt(warnings, "%llu %s samples equal 0", (unsigned long long)zeros[i].n,
                 zeros[i].what);
    json_object_set_new(doc, "analysis", json_string("regression"));
    json_t *summary = json_object();
    json_object_set_new(summary, "total_samples", json_integer((json_int_t)r->samples));
    json_object_set_new(doc, "summary", summary);
    json_object_set_new(doc, "warnings", warnings);
    json_t *data = json_object();
    json_object_set_new(data, "regressions", regs);
    json_object_set_new(doc, "data", data);
    return doc;
}

bool ipw_regression_fit_from_json(const json_t *doc, enum ipw_reg_id id, struct ipw_ols_fit *f)
{
    const json_t *o = json_object_get(
        json_object_get(json_object_get(doc, "data"), "regressions"), ipw_regression_name(id));
    if (!json_is_object(o))
        return false;
    double v;
    f->count = ipw_json_get_number(o, "count", &v) && v >= 0 ? (uint64_t)v : 0;
    f->valid = ipw_json_get_number(o, "slope", &f->slope) &&
               ipw_json_get_number(o, "intercept", &f->intercept);
    if (!ipw_json_get_number(o, "r2", &f->r2))
        f->r2 = NAN;
    if (!ipw_json_get_number(o, "avg_y", &f->avg_y))
        f->avg_y = NAN;
    if (!f->valid)
        f->slope = f->intercept = NAN;
    return true;
}
