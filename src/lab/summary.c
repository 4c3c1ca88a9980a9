/* Batch statistics and comparisons (SPEC §5.3): per metric the mean, median, population std,
 * p5/p95 (numpy's linear interpolation), CV and the median's bootstrap CI; between two variants
 * the difference of medians with its CI, the Mann-Whitney p-value and a plain verdict. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ipw/jsonutil.h"
#include "ipw/lab.h"

static const char *const metric_names[IPW_LAB_M_COUNT] = {
    "wh_per_1000_etokens", "total_wh", "total_active_wh", "prefill_wh", "decode_wh", "e_llm_wh",
    "ttft_s", "decode_s", "latency_s", "input_tokens", "output_tokens"};

const char *ipw_lab_metric_name(enum ipw_lab_metric m)
{
    return (unsigned)m < IPW_LAB_M_COUNT ? metric_names[m] : "?";
}

static double tokens(long t) { return t >= 0 ? (double)t : NAN; }

double ipw_lab_metric_value(const struct ipw_lab_run *r, enum ipw_lab_metric m)
{
    switch (m) {
    case IPW_LAB_M_WH_PER_1000_ETOKENS: return r->wh_per_1000_etokens;
    case IPW_LAB_M_TOTAL_WH: return r->total_wh;
    case IPW_LAB_M_TOTAL_ACTIVE_WH: return r->total_active_wh;
    case IPW_LAB_M_PREFILL_WH: return r->prefill_wh;
    case IPW_LAB_M_DECODE_WH: return r->decode_wh;
    case IPW_LAB_M_E_LLM_WH: return r->e_llm_wh;
    case IPW_LAB_M_TTFT_S: return r->ttft_s;
    case IPW_LAB_M_DECODE_S: return r->decode_s;
    case IPW_LAB_M_LATENCY_S: return r->latency_s;
    case IPW_LAB_M_INPUT_TOKENS: return tokens(r->input_tokens);
    case IPW_LAB_M_OUTPUT_TOKENS: return tokens(r->output_tokens);
    default: return NAN;
    }
}

ipw_err ipw_lab_stat_compute(const double *v, size_t n, struct ipw_lab_stat *out, ipw_errbuf *eb)
{
    ipw_summarize(v, n, &out->s);
    return ipw_lab_bootstrap_median_ci(v, n, IPW_LAB_BOOTSTRAP_SEED, &out->median_ci, eb);
}

static bool in_variant(const struct ipw_lab_run *r, const char *variant)
{
    return !r->error[0] && (!variant || strcmp(r->variant, variant) == 0);
}

/* The finite values of metric m over the successful runs of variant. */
static size_t gather(const struct ipw_lab_run *runs, size_t n, const char *variant,
                     enum ipw_lab_metric m, double *out)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (!in_variant(&runs[i], variant))
            continue;
        double x = ipw_lab_metric_value(&runs[i], m);
        if (isfinite(x))
            out[k++] = x;
    }
    return k;
}

ipw_err ipw_lab_summarize(const struct ipw_lab_run *runs, size_t n, const char *variant,
                          struct ipw_lab_summary *out, ipw_errbuf *eb)
{
    memset(out, 0, sizeof *out);
    snprintf(out->variant, sizeof out->variant, "%s", variant ? variant : "");
    out->injection_overhead_tokens = -1;
    double *v = malloc((n ? n : 1) * sizeof *v);
    if (!v)
        return ipw_fail(eb, IPW_E_NOMEM, "out of memory summarising %zu runs", n);
    for (size_t i = 0; i < n; i++) {
        if (variant && strcmp(runs[i].variant, variant) != 0)
            continue;
        if (runs[i].error[0]) {
            out->failed++;
            continue;
        }
        out->runs++;
        out->injection_overhead_tokens = runs[i].injection_overhead_tokens;
    }
    ipw_err rc = IPW_OK;
    for (int m = 0; m < IPW_LAB_M_COUNT && rc == IPW_OK; m++) {
        size_t k = gather(runs, n, variant, (enum ipw_lab_metric)m, v);
        rc = ipw_lab_stat_compute(v, k, &out->stat[m], eb);
    }
    free(v);
    return rc;
}

static json_t *num(double v) { return ipw_json_real_or_null(v, isfinite(v)); }

json_t *ipw_lab_summary_to_json(const struct ipw_lab_summary *s)
{
    json_t *o = json_object();
    if (s->variant[0])
        json_object_set_new(o, "variant", json_string(s->variant));
    json_object_set_new(o, "runs", json_integer((json_int_t)s->runs));
    json_object_set_new(o, "failed", json_integer((json_int_t)s->failed));
    json_object_set_new(o, "injection_overhead_tokens",
                        s->injection_overhead_tokens >= 0
                            ? json_integer(s->injection_overhead_tokens)
                            : json_null());
    for (int m = 0; m < IPW_LAB_M_COUNT; m++) {
        const struct ipw_lab_stat *st = &s->stat[m];
        json_t *j = json_object();
        json_object_set_new(j, "n", json_integer((json_int_t)st->s.n));
        json_object_set_new(j, "mean", num(st->s.avg));
        json_object_set_new(j, "median", num(st->s.median));
        json_object_set_new(j, "std", num(st->s.std));
        json_object_set_new(j, "p5", num(st->s.p5));
        json_object_set_new(j, "p95", num(st->s.p95));
        json_object_set_new(j, "cv", num(st->s.cv));
        json_object_set_new(j, "min", num(st->s.min));
        json_object_set_new(j, "max", num(st->s.max));
        json_object_set_new(j, "median_ci95", json_pack("[o, o]", num(st->median_ci.lo),
                                                        num(st->median_ci.hi)));
        json_object_set_new(o, ipw_lab_metric_name((enum ipw_lab_metric)m), j);
    }
    return o;
}

ipw_err ipw_lab_compare(const struct ipw_lab_run *runs, size_t n, const char *a, const char *b,
                        enum ipw_lab_metric metric, struct ipw_lab_comparison *out,
                        ipw_errbuf *eb)
{
    memset(out, 0, sizeof *out);
    snprintf(out->a, sizeof out->a, "%s", a);
    snprintf(out->b, sizeof out->b, "%s", b);
    out->metric = metric;
    out->median_a = out->median_b = out->diff = out->u = out->p = NAN;
    out->diff_ci.lo = out->diff_ci.hi = NAN;
    double *va = malloc((n ? n : 1) * sizeof *va), *vb = malloc((n ? n : 1) * sizeof *vb);
    if (!va || !vb) {
        free(va);
        free(vb);
        return ipw_fail(eb, IPW_E_NOMEM, "out of memory comparing variants");
    }
    size_t na = gather(runs, n, a, metric, va), nb = gather(runs, n, b, metric, vb);
    ipw_err rc = IPW_OK;
    const char *what = ipw_lab_metric_name(metric);
    if (na == 0 || nb == 0) {
        snprintf(out->verdict, sizeof out->verdict,
                 "no comparison: %s has no measured %s", na == 0 ? a : b, what);
        goto done;
    }
    out->median_a = ipw_percentile(va, na, 50);
    out->median_b = ipw_percentile(vb, nb, 50);
    rc = ipw_lab_median_diff_ci(va, na, vb, nb, IPW_LAB_BOOTSTRAP_SEED, &out->diff, &out->diff_ci,
                                eb);
    if (rc == IPW_OK)
        rc = ipw_lab_mann_whitney(va, na, vb, nb, &out->u, &out->p, eb);
    if (rc != IPW_OK)
        goto done;
    bool clear = isfinite(out->diff_ci.lo) && (out->diff_ci.lo > 0 || out->diff_ci.hi < 0) &&
                 out->p < 0.05;
    char ci[128] = "";
    if (isfinite(out->diff_ci.lo))
        snprintf(ci, sizeof ci, "95 %% CI %+.4g…%+.4g, ", out->diff_ci.lo, out->diff_ci.hi);
    snprintf(out->verdict, sizeof out->verdict,
             "%s %s %+.4g %s against %s (%sp = %.3g)%s", b,
             !clear ? "differs by" : out->diff > 0 ? "costs" : "saves", out->diff, what, a, ci,
             out->p, clear ? "" : ": no clear difference at these run counts");
done:
    free(va);
    free(vb);
    return rc;
}

json_t *ipw_lab_comparison_to_json(const struct ipw_lab_comparison *c)
{
    return json_pack("{s:s, s:s, s:s, s:o, s:o, s:o, s:[o, o], s:o, s:o, s:s}", "a", c->a, "b",
                     c->b, "metric", ipw_lab_metric_name(c->metric), "median_a", num(c->median_a),
                     "median_b", num(c->median_b), "diff_of_medians", num(c->diff),
                     "diff_ci95", num(c->diff_ci.lo), num(c->diff_ci.hi), "mann_whitney_u",
                     num(c->u), "p_value", num(c->p), "verdict", c->verdict);
}
