/* Reads a run directory (SPEC §3.4) for analysis, one query at a time, so that a million-record
 * run never sits in memory. Records come from a source behind an operations table: records.jsonl
 * today; the Arrow dataset can be added as a second source without touching the analyses. */
#ifndef IPW_RUN_READER_H
#define IPW_RUN_READER_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ipw/err.h"
#include "ipw/scoring.h"

/* A content digest in hex, with its NUL (ipw_run_reader_digest, the analysis stamp). */
#define IPW_DIGEST_HEX 33

/* One query, flattened to what analysis needs. Strings are never NULL ("" when absent) and stay
 * valid until the next ipw_run_reader_next. Numbers are NAN when null, absent or not numbers. */
struct ipw_run_query {
    long line;         /* 1-based line in records.jsonl (0 when the source has no lines) */
    long record_index; /* -1 when absent */
    enum ipw_item_kind kind;
    bool kind_given;   /* false: inferred by ipw_item_kind_infer */
    bool failed;       /* status "failed": counted as failed, never scored */
    const char *error, *problem, *reference, *response, *subject, *energy_source;
    int prior_correct; /* lm_correctness in the record: -1 null, 0 false, 1 true */
    const char *schema; /* the record's "schema" ("ipw.record/1"), "" when absent */
    double input_tokens, output_tokens, total_tokens;
    double energy_j, total_j, active_j, prefill_j, decode_j, idle_w;
    double gpu_j, cpu_j, dram_j; /* per domain; NAN where that domain was not measured */
    double ttft_s, latency_s, decode_s;
    double start_s; /* request_start_time (Unix seconds) */
    double power_avg_w;       /* power_metrics.gpu.per_query_watts.avg */
    double total_power_avg_w; /* power_metrics.gpu.total_watts.avg */
};

/* What summary.json says about the run ("" / NAN where it is silent or missing). */
struct ipw_run_info {
    bool has_summary;
    char model[256], hardware_label[128], dataset[128], dataset_name[256];
    char platform[64], collector[64], client[64], gpu_name[128], cpu_brand[128];
    double generated_at, total_queries;
    /* The energies are modelled, not measured: summary.json's "modelled" (the telemetry
     * source's capability); for runs saved before it, a platform of "sim". */
    bool modelled;
};

/* A source of records. Each call of next gives one record, either as the JSON text of one
 * object (*text, *len; valid until the next call; records.jsonl) or as a parsed object
 * (*record, owned by the caller; for sources that are not JSON text, such as the Arrow
 * dataset), or sets *eof. `line` names the place for messages; *terminated is false for a last
 * line left without its newline (what a crash mid-write leaves). */
struct ipw_run_source_ops {
    const char *name;
    ipw_err (*next)(void *state, const char **text, size_t *len, json_t **record, long *line,
                    bool *terminated, bool *eof, ipw_errbuf *eb);
    ipw_err (*rewind)(void *state, ipw_errbuf *eb);
    void (*close)(void *state);
};

struct ipw_run_reader_options {
    const char *model;     /* which model's answers and metrics; NULL: summary.json's, else the
                              only one the records name */
    bool skip_malformed;   /* warn and go on past malformed lines instead of failing */
    size_t max_line_bytes; /* 0: 64 MiB */
    /* Read records.jsonl once instead of first looking it through for records superseded by
     * a later line (a query run again by --resume): the caller must then check
     * ipw_run_reader_restarted at each eof, because when the log turns out to hold such a
     * record the pass ends there and has to be made again (the reader has found them all and
     * rewound). The digest is then known at the end of the first whole pass. */
    bool single_pass;
};

struct ipw_run_reader;

/* Opens run_dir: checks it is a directory with records.jsonl, reads summary.json if present.
 * Errors say what is wrong with the directory and what to do. */
ipw_err ipw_run_reader_open(const char *run_dir, const struct ipw_run_reader_options *opts,
                            struct ipw_run_reader **out, ipw_errbuf *eb);
/* Next query into *q; *eof at the end. A malformed line is an error naming file:line, unless
 * skip_malformed (or it is a final line cut short without its newline, as a crash leaves it),
 * in which case it is counted and skipped. */
ipw_err ipw_run_reader_next(struct ipw_run_reader *r, struct ipw_run_query *q, bool *eof,
                            ipw_errbuf *eb);
/* True when the eof just given was not the end of the log but, with single_pass, the end of a
 * pass cut short by a superseded record: drop what the pass gathered and read again from the
 * first record (the reader has rewound; this happens at most once). */
bool ipw_run_reader_restarted(const struct ipw_run_reader *r);
/* Back to the first record (for a second pass). */
ipw_err ipw_run_reader_rewind(struct ipw_run_reader *r, ipw_errbuf *eb);
const struct ipw_run_info *ipw_run_reader_info(const struct ipw_run_reader *r);
/* summary.json as loaded (NULL when absent); owned by the reader. */
const json_t *ipw_run_reader_summary(const struct ipw_run_reader *r);
/* The model whose answers are read ("" until known). */
const char *ipw_run_reader_model(const struct ipw_run_reader *r);
const char *ipw_run_reader_dir(const struct ipw_run_reader *r);
/* Malformed lines skipped so far, and the message of the first one ("" when none). */
size_t ipw_run_reader_skipped(const struct ipw_run_reader *r, const char **first_message);
/* Size and XXH3-128 digest (32 hex digits, as `xxhsum -H2` prints it) of records.jsonl as the
 * reader's first pass read it, whole: what an analysis of it was computed from, without reading
 * the file again. False when there is none (an Arrow dataset, a pass cut short, or with
 * single_pass before the first pass has reached the end). */
bool ipw_run_reader_digest(const struct ipw_run_reader *r, uint64_t *bytes,
                           char hex[IPW_DIGEST_HEX]);
void ipw_run_reader_close(struct ipw_run_reader *r);

/* Fills q from one parsed record object (for sources that give objects, and as the reference
 * the fast line scanner is fuzzed against); model as above. */
void ipw_run_query_from_json(const json_t *record, const char *model, struct ipw_run_query *q);

#endif
