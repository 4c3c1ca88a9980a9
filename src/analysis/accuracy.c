/* Accuracy, intelligence per joule and per watt (SPEC §4.2), streamed query by query.
 * accuracy = correct / (correct + incorrect); IPJ = accuracy / mean energy of scored queries with
 * energy > 0 (an energy of 0 with a power P and latency L becomes P × L); IPW = accuracy / mean
 * power, a query's power being energy / latency when both > 0, else its window average. */
#include "accuracy.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ipw/buf.h"
#include "ipw/jsonutil.h"

static bool pos(double v) { return isfinite(v) && v > 0; }

void ipw_accuracy_init(struct ipw_accuracy *a)
{
    memset(a, 0, sizeof *a);
    struct ipw_acc_basis *b[] = {&a->main, &a->all, &a->active, &a->run};
    for (size_t i = 0; i < sizeof b / sizeof b[0]; i++) {
        ipw_welford_init(&b[i]->energy);
        ipw_welford_init(&b[i]->power);
    }
    ipw_welford_init(&a->ttft);
    ipw_welford_init(&a->decode_s);
}

void ipw_accuracy_free(struct ipw_accuracy *a)
{
    free(a->latencies.v);
    free(a->ttfts.v);
    a->latencies = a->ttfts = (struct ipw_acc_series){0};
}

static ipw_err push(struct ipw_acc_series *s, double v, ipw_errbuf *eb)
{
    if (ipw_grow(&s->v, &s->cap, s->n + 1, sizeof *s->v, SIZE_MAX) != IPW_OK)
        return ipw_fail(eb, IPW_E_NOMEM, "out of memory keeping %zu latencies", s->n);
    s->v[s->n++] = v;
    return IPW_OK;
}

/* Adds a scored query to one basis. allow_zero: the active basis, where 0 J above idle is a
 * measurement, not a missing one. */
static void basis_add(struct ipw_acc_basis *b, bool correct, double energy, double power,
                      double latency, bool allow_zero, struct ipw_acc_used *used)
{
    bool lat_ok = pos(latency);
    double e = NAN;
    bool imputed = false;
    if (pos(energy) || (allow_zero && isfinite(energy) && energy == 0)) {
        e = energy;
    } else if (isfinite(energy) && !allow_zero) {
        b->nonpositive_energy++;
        if (pos(power) && lat_ok && pos(power * latency)) {
            e = power * latency;
            imputed = true;
            b->imputed++;
            b->imputed_sum += e;
        }
    } else if (!isfinite(energy) && !allow_zero && pos(power) && lat_ok) {
        /* no energy reading at all: the same imputation from power and latency */
        e = power * latency;
        imputed = true;
        b->imputed++;
        b->imputed_sum += e;
    }
    if (!isnan(e)) {
        ipw_welford_add(&b->energy, e);
        if (correct)
            b->correct_with_energy++;
    } else {
        b->missing_energy++;
    }
    double p = NAN;
    bool derived = false;
    if (!isnan(e) && lat_ok && (allow_zero ? e >= 0 : e > 0) && isfinite(e / latency)) {
        p = e / latency;
        derived = true;
        b->derived_power++;
    } else if (pos(power)) {
        p = power;
        b->metric_power++;
    } else if (isfinite(power)) {
        b->nonpositive_power++;
    }
    if (!isnan(p)) {
        ipw_welford_add(&b->power, p);
        if (correct)
            b->correct_with_power++;
    }
    if (used) {
        used->energy_j = e;
        used->power_w = p;
        used->imputed = imputed;
        used->power_derived = derived;
    }
}

ipw_err ipw_accuracy_add(struct ipw_accuracy *a, const struct ipw_acc_query *q,
                         struct ipw_acc_used *used, ipw_errbuf *eb)
{
    if (used)
        *used = (struct ipw_acc_used){NAN, NAN, false, false};
    a->total++;
    enum ipw_verdict v = q->query_failed ? IPW_VERDICT_FAILED : q->verdict;
    if ((unsigned)q->kind < 3 && (unsigned)v < 4)
        a->by_kind[q->kind][v]++;
    if (q->query_failed) {
        a->failed_queries++;
        return IPW_OK;
    }
    switch (v) {
    case IPW_VERDICT_CORRECT: a->correct++; break;
    case IPW_VERDICT_INCORRECT: a->incorrect++; break;
    case IPW_VERDICT_FAILED: a->failed_evaluations++; break;
    case IPW_VERDICT_UNEVALUATED: a->unevaluated++; break;
    }
    if (v == IPW_VERDICT_CORRECT || v == IPW_VERDICT_INCORRECT) {
        bool ok = v == IPW_VERDICT_CORRECT;
        basis_add(&a->main, ok, q->energy_j, q->power_w, q->latency_s, false, used);
        basis_add(&a->all, ok, q->total_j, q->total_power_w, q->latency_s, false, NULL);
        basis_add(&a->active, ok, q->active_j, NAN, q->latency_s, true, NULL);
    }

    /* run-wide figures over every successful query, scored or not */
    a->ok_queries++;
    basis_add(&a->run, false, q->energy_j, q->power_w, q->latency_s, false, NULL);
    if (isfinite(q->input_tokens))
        a->input_tokens += q->input_tokens;
    if (isfinite(q->output_tokens))
        a->output_tokens += q->output_tokens;
    if (pos(q->energy_j))
        a->energy_sum += q->energy_j;
    if (isfinite(q->prefill_j) && isfinite(q->decode_j) && q->prefill_j >= 0 &&
        q->decode_j >= 0) {
        a->phase_n++;
        a->prefill_sum += q->prefill_j;
        a->decode_sum += q->decode_j;
        if (isfinite(q->input_tokens))
            a->phase_input_tokens += q->input_tokens;
        if (isfinite(q->output_tokens))
            a->phase_output_tokens += q->output_tokens;
    }
    if (isfinite(q->ttft_s) && q->ttft_s >= 0) {
        ipw_welford_add(&a->ttft, q->ttft_s);
        ipw_err e = push(&a->ttfts, q->ttft_s, eb);
        if (e != IPW_OK)
            return e;
    }
    if (isfinite(q->decode_s) && q->decode_s >= 0)
        ipw_welford_add(&a->decode_s, q->decode_s);
    if (pos(q->latency_s))
        return push(&a->latencies, q->latency_s, eb);
    return IPW_OK;
}

static double ratio(double num, double den)
{
    return isfinite(num) && isfinite(den) && den > 0 ? num / den : NAN;
}

static double mean_or_nan(const struct ipw_welford *w) { return w->n ? w->mean : NAN; }

/* The median and 95th percentile of a series without disturbing it: one sorted copy for both. */
static void p50_p95(const struct ipw_acc_series *s, double *p50, double *p95)
{
    *p50 = *p95 = NAN;
    double *c = s->n ? malloc(s->n * sizeof *c) : NULL;
    if (!c)
        return;
    memcpy(c, s->v, s->n * sizeof *c);
    ipw_sort_doubles(c, s->n);
    *p50 = ipw_percentile_sorted(c, s->n, 50);
    *p95 = ipw_percentile_sorted(c, s->n, 95);
    free(c);
}

void ipw_accuracy_finish(const struct ipw_accuracy *a, struct ipw_accuracy_result *r)
{
    memset(r, 0, sizeof *r);
    r->total = a->total;
    r->correct = a->correct;
    r->incorrect = a->incorrect;
    r->unevaluated = a->unevaluated;
    r->failed_queries = a->failed_queries;
    r->failed_evaluations = a->failed_evaluations;
    r->failed = a->failed_queries + a->failed_evaluations;
    r->total_scored = a->correct + a->incorrect;
    r->accuracy = r->total_scored ? (double)a->correct / (double)r->total_scored : NAN;
    memcpy(r->by_kind, a->by_kind, sizeof r->by_kind);

    r->avg_energy_j = mean_or_nan(&a->main.energy);
    r->avg_power_w = mean_or_nan(&a->main.power);
    r->run_avg_energy_j = mean_or_nan(&a->run.energy);
    r->run_avg_power_w = mean_or_nan(&a->run.power);
    r->run_energy_samples = a->run.energy.n;
    r->run_imputed_energy = a->run.imputed;
    r->ipj = ratio(r->accuracy, r->avg_energy_j);
    r->ipw = ratio(r->accuracy, r->avg_power_w);
    r->energy_samples = a->main.energy.n;
    r->power_samples = a->main.power.n;
    r->imputed_energy = a->main.imputed;
    r->nonpositive_energy = a->main.nonpositive_energy;
    r->missing_energy = a->main.missing_energy;
    r->derived_power_samples = a->main.derived_power;
    r->metric_power_samples = a->main.metric_power;
    r->energy_accuracy = ratio((double)a->main.correct_with_energy, (double)a->main.energy.n);
    r->power_accuracy = ratio((double)a->main.correct_with_power, (double)a->main.power.n);

    r->avg_total_energy_j = mean_or_nan(&a->all.energy);
    r->avg_total_power_w = mean_or_nan(&a->all.power);
    r->ipj_total = ratio(r->accuracy, r->avg_total_energy_j);
    r->ipw_total = ratio(r->accuracy, r->avg_total_power_w);
    r->total_energy_samples = a->all.energy.n;
    r->total_power_samples = a->all.power.n;
    r->total_imputed_energy = a->all.imputed;

    r->avg_active_energy_j = mean_or_nan(&a->active.energy);
    r->avg_active_power_w = mean_or_nan(&a->active.power);
    r->ipj_active = ratio(r->accuracy, r->avg_active_energy_j);
    r->ipw_active = ratio(r->accuracy, r->avg_active_power_w);
    r->active_energy_samples = a->active.energy.n;
    r->active_power_samples = a->active.power.n;

    r->phase_samples = a->phase_n;
    r->prefill_energy_j = a->phase_n ? a->prefill_sum : NAN;
    r->decode_energy_j = a->phase_n ? a->decode_sum : NAN;
    r->prefill_share = ratio(a->prefill_sum, a->prefill_sum + a->decode_sum);
    r->avg_prefill_j = ratio(a->prefill_sum, (double)a->phase_n);
    r->avg_decode_j = ratio(a->decode_sum, (double)a->phase_n);
    r->prefill_j_per_input_token = ratio(a->prefill_sum, a->phase_input_tokens);
    r->decode_j_per_output_token = ratio(a->decode_sum, a->phase_output_tokens);
    r->avg_ttft_s = mean_or_nan(&a->ttft);
    r->avg_decode_s = mean_or_nan(&a->decode_s);

    r->latency_samples = a->latencies.n;
    struct ipw_welford lw;
    ipw_welford_init(&lw);
    for (size_t i = 0; i < a->latencies.n; i++)
        ipw_welford_add(&lw, a->latencies.v[i]);
    r->latency_avg_s = mean_or_nan(&lw);
    p50_p95(&a->latencies, &r->latency_p50_s, &r->latency_p95_s);
    p50_p95(&a->ttfts, &r->ttft_p50_s, &r->ttft_p95_s);
    r->input_tokens = a->input_tokens;
    r->output_tokens = a->output_tokens;
    r->output_tokens_per_joule = ratio(a->output_tokens, a->energy_sum);
}

static json_t *real(double v) { return ipw_json_real_or_null(v, true); }

json_t *ipw_accuracy_summary_json(const struct ipw_accuracy_result *r, const char *model)
{
    json_t *s = json_object();
    json_object_set_new(s, "model", json_string(model ? model : ""));
    json_object_set_new(s, "correct", json_integer((json_int_t)r->correct));
    json_object_set_new(s, "incorrect", json_integer((json_int_t)r->incorrect));
    json_object_set_new(s, "unevaluated", json_integer((json_int_t)r->unevaluated));
    json_object_set_new(s, "failed", json_integer((json_int_t)r->failed));
    json_object_set_new(s, "failed_queries", json_integer((json_int_t)r->failed_queries));
    json_object_set_new(s, "failed_evaluations",
                        json_integer((json_int_t)r->failed_evaluations));
    json_object_set_new(s, "total_queries", json_integer((json_int_t)r->total));
    json_object_set_new(s, "total_scored", json_integer((json_int_t)r->total_scored));
    json_object_set_new(s, "accuracy", real(r->accuracy));
    /* "measured" (scored answers) or "modelled accuracy" (the sim's verdicts drawn from
     * published accuracies): IPJ and IPW inherit the label */
    json_object_set_new(s, "accuracy_basis",
                        json_string(r->modelled_scored ? "modelled accuracy" : "measured"));
    json_object_set_new(s, "modelled_scored", json_integer((json_int_t)r->modelled_scored));
    json_object_set_new(s, "intelligence_per_joule", real(r->ipj));
    json_object_set_new(s, "intelligence_per_watt", real(r->ipw));
    json_object_set_new(s, "avg_per_query_energy_joules", real(r->avg_energy_j));
    json_object_set_new(s, "avg_per_query_power_watts", real(r->avg_power_w));
    json_object_set_new(s, "avg_energy_joules_all_queries", real(r->run_avg_energy_j));
    json_object_set_new(s, "avg_power_watts_all_queries", real(r->run_avg_power_w));
    json_object_set_new(s, "energy_sample_count_all_queries",
                        json_integer((json_int_t)r->run_energy_samples));
    json_object_set_new(s, "energy_sample_count", json_integer((json_int_t)r->energy_samples));
    json_object_set_new(s, "power_sample_count", json_integer((json_int_t)r->power_samples));
    json_object_set_new(s, "imputed_energy_count", json_integer((json_int_t)r->imputed_energy));
    json_object_set_new(s, "imputed_energy_count_all_queries",
                        json_integer((json_int_t)r->run_imputed_energy));
    json_object_set_new(s, "ipj_total", real(r->ipj_total));
    json_object_set_new(s, "ipw_total", real(r->ipw_total));
    json_object_set_new(s, "avg_per_query_total_energy_joules", real(r->avg_total_energy_j));
    json_object_set_new(s, "avg_per_query_total_power_watts", real(r->avg_total_power_w));
    json_object_set_new(s, "ipj_active", real(r->ipj_active));
    json_object_set_new(s, "ipw_active", real(r->ipw_active));
    json_object_set_new(s, "avg_per_query_active_energy_joules", real(r->avg_active_energy_j));
    json_object_set_new(s, "avg_per_query_active_power_watts", real(r->avg_active_power_w));
    json_object_set_new(s, "prefill_energy_joules", real(r->prefill_energy_j));
    json_object_set_new(s, "decode_energy_joules", real(r->decode_energy_j));
    json_object_set_new(s, "prefill_energy_share", real(r->prefill_share));
    json_object_set_new(s, "avg_prefill_energy_joules", real(r->avg_prefill_j));
    json_object_set_new(s, "avg_decode_energy_joules", real(r->avg_decode_j));
    json_object_set_new(s, "prefill_joules_per_input_token", real(r->prefill_j_per_input_token));
    json_object_set_new(s, "decode_joules_per_output_token", real(r->decode_j_per_output_token));
    json_object_set_new(s, "phase_sample_count", json_integer((json_int_t)r->phase_samples));
    json_object_set_new(s, "avg_ttft_seconds", real(r->avg_ttft_s));
    json_object_set_new(s, "avg_decode_seconds", real(r->avg_decode_s));
    json_object_set_new(s, "avg_latency_seconds", real(r->latency_avg_s));
    json_object_set_new(s, "latency_p50_seconds", real(r->latency_p50_s));
    json_object_set_new(s, "latency_p95_seconds", real(r->latency_p95_s));
    json_object_set_new(s, "ttft_p50_seconds", real(r->ttft_p50_s));
    json_object_set_new(s, "ttft_p95_seconds", real(r->ttft_p95_s));
    json_object_set_new(s, "latency_sample_count", json_integer((json_int_t)r->latency_samples));
    json_object_set_new(s, "input_tokens", real(r->input_tokens));
    json_object_set_new(s, "output_tokens", real(r->output_tokens));
    json_object_set_new(s, "output_tokens_per_joule", real(r->output_tokens_per_joule));
    return s;
}

json_t *ipw_accuracy_data_json(const struct ipw_accuracy_result *r)
{
    json_t *d = json_object();
    json_t *kinds = json_object();
    for (int k = 0; k < 3; k++) {
        const uint64_t *c = r->by_kind[k];
        uint64_t n = c[0] + c[1] + c[2] + c[3];
        if (!n)
            continue;
        json_t *o = json_object();
        json_object_set_new(o, "correct", json_integer((json_int_t)c[IPW_VERDICT_CORRECT]));
        json_object_set_new(o, "incorrect", json_integer((json_int_t)c[IPW_VERDICT_INCORRECT]));
        json_object_set_new(o, "unevaluated",
                            json_integer((json_int_t)c[IPW_VERDICT_UNEVALUATED]));
        json_object_set_new(o, "failed", json_integer((json_int_t)c[IPW_VERDICT_FAILED]));
        uint64_t scored = c[IPW_VERDICT_CORRECT] + c[IPW_VERDICT_INCORRECT];
        json_object_set_new(o, "accuracy",
                            real(scored ? (double)c[IPW_VERDICT_CORRECT] / (double)scored : NAN));
        json_object_set_new(kinds, ipw_item_kind_name((enum ipw_item_kind)k), o);
    }
    json_object_set_new(d, "by_kind", kinds);

    json_t *eff = json_object();
    json_t *en = json_object();
    json_object_set_new(en, "avg", real(r->avg_energy_j));
    json_object_set_new(en, "count", json_integer((json_int_t)r->energy_samples));
    json_object_set_new(en, "accuracy", real(r->energy_accuracy));
    json_object_set_new(en, "nonpositive_values", json_integer((json_int_t)r->nonpositive_energy));
    json_object_set_new(en, "imputed_count", json_integer((json_int_t)r->imputed_energy));
    json_object_set_new(en, "missing_count", json_integer((json_int_t)r->missing_energy));
    json_object_set_new(eff, "energy", en);
    json_t *pw = json_object();
    json_object_set_new(pw, "avg", real(r->avg_power_w));
    json_object_set_new(pw, "count", json_integer((json_int_t)r->power_samples));
    json_object_set_new(pw, "accuracy", real(r->power_accuracy));
    json_object_set_new(pw, "derived_power_samples",
                        json_integer((json_int_t)r->derived_power_samples));
    json_object_set_new(pw, "power_metric_samples",
                        json_integer((json_int_t)r->metric_power_samples));
    json_object_set_new(eff, "power", pw);
    json_t *tot = json_object();
    json_object_set_new(tot, "energy_count", json_integer((json_int_t)r->total_energy_samples));
    json_object_set_new(tot, "power_count", json_integer((json_int_t)r->total_power_samples));
    json_object_set_new(tot, "imputed_count", json_integer((json_int_t)r->total_imputed_energy));
    json_object_set_new(eff, "total", tot);
    json_t *act = json_object();
    json_object_set_new(act, "energy_count", json_integer((json_int_t)r->active_energy_samples));
    json_object_set_new(act, "power_count", json_integer((json_int_t)r->active_power_samples));
    json_object_set_new(eff, "active", act);
    json_object_set_new(d, "efficiency", eff);
    return d;
}


void ipw_accuracy_warnings(const struct ipw_accuracy_result *r, const char *model, json_t *arr)
{
    uint64_t modelled = r->unevaluated_modelled < r->unevaluated ? r->unevaluated_modelled
                                                                   : r->unevaluated;
    if (r->modelled_scored)
        ipw_json_append_fmt(arr, "modelled accuracy: the sim backend modelled the correctness of "
                                 "%llu %s of model '%s' from its published benchmark accuracy "
                                 "(data/accuracy/published.json); accuracy, IPJ and IPW are "
                                 "modelled, not measured",
                            (unsigned long long)r->modelled_scored,
                            r->modelled_scored == 1 ? "answer" : "answers", model);
    if (modelled)
        ipw_json_append_fmt(arr, "the sim backend answered %llu %s of model '%s' with a "
                                 "placeholder it cannot score (open items, or no published "
                                 "accuracy for the model): unevaluated",
                            (unsigned long long)modelled, modelled == 1 ? "query" : "queries",
                            model);
    if (r->unevaluated > modelled)
        ipw_json_append_fmt(arr, "%llu %s of model '%s' %s unevaluated (open answers need a judge: "
                                 "--eval-base-url and --eval-model)",
                            (unsigned long long)(r->unevaluated - modelled),
                            r->unevaluated - modelled == 1 ? "query" : "queries", model,
                            r->unevaluated - modelled == 1 ? "is" : "are");
    if (r->failed_queries)
        ipw_json_append_fmt(arr, "%llu queries failed during profiling and are not scored",
             (unsigned long long)r->failed_queries);
    if (r->failed_evaluations)
        ipw_json_append_fmt(arr, "%llu queries could not be judged (judge errors after retries); re-run "
                  "analyze to retry them",
             (unsigned long long)r->failed_evaluations);
    if (r->total_scored == 0)
        ipw_json_append_fmt(arr, "no query was scored, so accuracy, IPJ and IPW are undefined");
    if (r->total_scored && r->energy_samples == 0)
        ipw_json_append_fmt(arr, "no scored query has a positive energy; intelligence_per_joule unavailable");
    if (r->total_scored && r->power_samples == 0)
        ipw_json_append_fmt(arr, "no scored query has a power; intelligence_per_watt unavailable");
    if (r->imputed_energy)
        ipw_json_append_fmt(arr, "imputed the energy of %llu queries as window power x latency (no positive "
                  "energy reading)",
             (unsigned long long)r->imputed_energy);
    if (r->run_imputed_energy > r->imputed_energy)
        ipw_json_append_fmt(arr, "imputed the energy of %llu of all successful queries as window power x "
                                 "latency for \"energy per query\" (no positive energy reading)",
                            (unsigned long long)r->run_imputed_energy);
    if (r->missing_energy)
        ipw_json_append_fmt(arr, "left out of the energy mean %llu scored queries with no positive energy and "
                  "no power and latency to impute it from",
             (unsigned long long)r->missing_energy);
}
