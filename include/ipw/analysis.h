/* `ipw analyze` as a library call: scores a run's answers (locally, and with the LLM judge when
 * one is configured), computes the figures of merit and the regressions, and writes them to
 * RUN_DIR/analysis/ (docs/formats/analysis.md). The profiler calls it at the end of a run. */
#ifndef IPW_ANALYSIS_H
#define IPW_ANALYSIS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "ipw/err.h"
#include "ipw/judge.h"

/* The figures of merit of a run (src/analysis/accuracy.c computes them in one streaming
 * pass); NAN (written as null) where a figure is undefined. */
struct ipw_accuracy_result {
    uint64_t total, correct, incorrect, unevaluated, failed, failed_queries, failed_evaluations;
    uint64_t total_scored;
    /* of the unevaluated, the sim backend's placeholder answers (the caller counts them: the
     * accumulator does not see the responses) */
    uint64_t unevaluated_modelled;
    /* of the scored, verdicts the sim backend modelled from published accuracies: when
     * nonzero, accuracy, IPJ and IPW are a "modelled accuracy", never a measured one */
    uint64_t modelled_scored;
    double accuracy;
    double ipj, ipw, avg_energy_j, avg_power_w;
    double run_avg_energy_j, run_avg_power_w; /* over every successful query */
    uint64_t run_energy_samples;
    uint64_t energy_samples, power_samples, imputed_energy, nonpositive_energy, missing_energy;
    uint64_t run_imputed_energy; /* of every successful query (energy per query), imputed */
    uint64_t derived_power_samples, metric_power_samples;
    double ipj_total, ipw_total, avg_total_energy_j, avg_total_power_w;
    uint64_t total_energy_samples, total_power_samples, total_imputed_energy;
    double ipj_active, ipw_active, avg_active_energy_j, avg_active_power_w;
    uint64_t active_energy_samples, active_power_samples;
    double energy_accuracy, power_accuracy; /* accuracy among the queries in each mean */
    /* prefill / decode split */
    uint64_t phase_samples;
    double prefill_energy_j, decode_energy_j, prefill_share, avg_prefill_j, avg_decode_j;
    double prefill_j_per_input_token, decode_j_per_output_token;
    double avg_ttft_s, avg_decode_s;
    /* latency over successful queries */
    uint64_t latency_samples;
    double latency_avg_s, latency_p50_s, latency_p95_s, ttft_p50_s, ttft_p95_s;
    double input_tokens, output_tokens, output_tokens_per_joule;
    uint64_t by_kind[3][4];
};

struct ipw_analyze_options {
    const char *analysis;  /* "accuracy", "regression" or "all" (NULL: all) */
    const char *model;     /* whose answers; NULL: summary.json's model */
    struct ipw_judge_config judge; /* judge.base_url NULL or "": no judge */
    bool judge_all;        /* also judge mcq and exact items (the judge's verdict wins) */
    bool rejudge;          /* ask the judge again instead of reusing cached verdicts */
    bool skip_malformed;   /* skip malformed record lines with a warning instead of failing */
    int (*should_stop)(void); /* polled; may be NULL */
};

struct ipw_analyze_result {
    char model[256];
    uint64_t records;
    bool wrote_accuracy, wrote_regression;
    struct ipw_accuracy_result accuracy;
    bool judge_used;
    struct ipw_judge_stats judge;
    uint64_t judge_cache_hits;
    bool judge_refused; /* the endpoint refused the key: judged items are counted failed */
    uint64_t warnings;
    char warning_text[2048]; /* those warnings, one per line (cut short when longer) */
    uint64_t modelled_energy; /* queries whose energy the sim backend modelled (not measured) */
};

void ipw_analyze_options_init(struct ipw_analyze_options *o);

/* Runs the analyses on run_dir. Errors: the directory is missing or not a run, the run has no
 * records, a record line is malformed (file:line), an output cannot be written, or a stop was
 * requested. res (may be NULL) receives the figures. */
ipw_err ipw_analyze_run(const char *run_dir, const struct ipw_analyze_options *opts,
                        struct ipw_analyze_result *res, ipw_errbuf *eb);

/* What an analysis is computed from: {"file", "bytes", "xxh3_128"} of the run's records.jsonl
 * (else its Arrow dataset; xxh3_128 is the hex `xxhsum -H2` prints). accuracy.json and regression.json carry it as "source" (plus
 * "records", the count analysed). */
ipw_err ipw_analysis_source(const char *run_dir, json_t **out, ipw_errbuf *eb);
/* The same stamp from a digest already taken (the run reader's first pass). */
json_t *ipw_analysis_stamp(const char *file, uint64_t bytes, const char *digest_hex);
/* Whether an analysis document (accuracy.json, regression.json) was computed from the run's
 * records as they are now; why (when not) says what differs. A document without a stamp is
 * not current. */
bool ipw_analysis_current(const char *run_dir, const json_t *doc, char *why, size_t why_size);

/* Per-query records are written inline in accuracy.json's data.records up to this many
 * queries; scores.jsonl always has them. */
#define IPW_ANALYSIS_INLINE_RECORDS_MAX 50000

#endif
