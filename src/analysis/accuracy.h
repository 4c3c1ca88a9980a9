/* Accuracy and the figures of merit (SPEC §4.2): intelligence per joule (IPJ) and per watt
 * (IPW) on three energy bases, the prefill/decode split and latency percentiles. Queries are
 * added one at a time, so a run of any size is summarised in one streaming pass. Private to
 * src/analysis/ (and its tests); the finished figures, struct ipw_accuracy_result, are public
 * in ipw/analysis.h, where `ipw analyze` returns them. */
#ifndef IPW_ANALYSIS_ACCURACY_H
#define IPW_ANALYSIS_ACCURACY_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "ipw/analysis.h"
#include "ipw/err.h"
#include "ipw/scoring.h"
#include "ipw/stats.h"

/* One query as the figures see it; NAN marks an unknown number. */
struct ipw_acc_query {
    enum ipw_item_kind kind;
    enum ipw_verdict verdict;
    bool query_failed;        /* the query itself failed (counted apart from failed judging) */
    double energy_j;          /* per_query_joules: the main domain */
    double total_j;           /* all measured domains */
    double active_j;          /* above the idle baseline */
    double latency_s;         /* total_query_seconds */
    double power_w;           /* main-domain window average (power_metrics.gpu.per_query_watts) */
    double total_power_w;     /* all-domain window average (power_metrics.gpu.total_watts) */
    double prefill_j, decode_j, ttft_s, decode_s, input_tokens, output_tokens;
};

/* What the figures used for one query on the main basis (for the per-query scores file). */
struct ipw_acc_used {
    double energy_j; /* NAN when the query did not enter the energy mean */
    double power_w;  /* NAN when it did not enter the power mean */
    bool imputed;    /* energy = power × latency */
    bool power_derived; /* power = energy / latency (else the window average) */
};

/* One energy basis: the running means behind its IPJ and IPW. */
struct ipw_acc_basis {
    struct ipw_welford energy, power;
    uint64_t imputed, nonpositive_energy, missing_energy, derived_power, metric_power, nonpositive_power;
    uint64_t correct_with_energy, correct_with_power;
    double imputed_sum;
};

struct ipw_acc_series {
    double *v;
    size_t n, cap;
};

struct ipw_accuracy {
    uint64_t total, correct, incorrect, unevaluated, failed_queries, failed_evaluations;
    uint64_t by_kind[3][4]; /* [kind][verdict] */
    struct ipw_acc_basis main, all, active;
    /* energy and power over every successful query, scored or not (a run with nothing to score
     * — sim, or open items without a judge — still has an energy per query) */
    struct ipw_acc_basis run;
    /* prefill/decode split over successful queries that have both phases */
    uint64_t phase_n;
    double prefill_sum, decode_sum, phase_input_tokens, phase_output_tokens;
    struct ipw_welford ttft, decode_s;
    struct ipw_acc_series latencies, ttfts; /* for percentiles */
    double input_tokens, output_tokens, energy_sum;
    uint64_t ok_queries;
};

void ipw_accuracy_init(struct ipw_accuracy *a);
/* Adds one query; used (may be NULL) says what entered the main-basis means. IPW_E_NOMEM when
 * the latency series cannot grow. */
ipw_err ipw_accuracy_add(struct ipw_accuracy *a, const struct ipw_acc_query *q,
                         struct ipw_acc_used *used, ipw_errbuf *eb);
void ipw_accuracy_finish(const struct ipw_accuracy *a, struct ipw_accuracy_result *r);
void ipw_accuracy_free(struct ipw_accuracy *a);

/* The "summary" object of analysis/accuracy.json (docs/formats/analysis.md). */
json_t *ipw_accuracy_summary_json(const struct ipw_accuracy_result *r, const char *model);
/* Per-kind counts and the per-basis details for accuracy.json's "data". */
json_t *ipw_accuracy_data_json(const struct ipw_accuracy_result *r);
/* Human-readable warnings about what the figures left out, appended to arr. */
void ipw_accuracy_warnings(const struct ipw_accuracy_result *r, const char *model, json_t *arr);

#endif
