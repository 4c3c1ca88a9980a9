/* `ipw analyze` as a library call: scores a run's answers (locally, and with the LLM judge when
 * one is configured), computes the figures of merit and the regressions, and writes them to
 * RUN_DIR/analysis/ (docs/formats/analysis.md). The profiler calls it at the end of a run. */
#ifndef IPW_ANALYSIS_H
#define IPW_ANALYSIS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "ipw/accuracy.h"
#include "ipw/err.h"
#include "ipw/judge.h"

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

/* What an analysis is computed from: {"file", "bytes", "sha256"} of the run's records.jsonl
 * (else its Arrow dataset). accuracy.json and regression.json carry it as "source" (plus
 * "records", the count analysed). */
ipw_err ipw_analysis_source(const char *run_dir, json_t **out, ipw_errbuf *eb);
/* The same stamp from a digest already taken (the run reader's first pass). */
json_t *ipw_analysis_stamp(const char *file, uint64_t bytes, const char *sha256_hex);
/* Whether an analysis document (accuracy.json, regression.json) was computed from the run's
 * records as they are now; why (when not) says what differs. A document without a stamp is
 * not current. */
bool ipw_analysis_current(const char *run_dir, const json_t *doc, char *why, size_t why_size);

/* Per-query records are written inline in accuracy.json's data.records up to this many
 * queries; scores.jsonl always has them. */
#define IPW_ANALYSIS_INLINE_RECORDS_MAX 50000

#endif
