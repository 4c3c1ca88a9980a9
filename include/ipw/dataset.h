/* Datasets: the built-in ipw set, MMLU-Pro, SuperGPQA and generic JSONL, all producing the same
 * records (SPEC §3.7). */
#ifndef IPW_DATASET_H
#define IPW_DATASET_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ipw/err.h"

struct ipw_dataset_record {
    size_t dataset_index; /* position in the source (0-based) */
    char *problem;        /* the exact prompt to send */
    char *answer;         /* reference answer; "" when none */
    char *subject;
    char kind[8];         /* "mcq", "exact" or "open" */
    json_t *metadata;     /* the source row plus extras (dataset_metadata); owned */
};

struct ipw_dataset {
    char id[32];    /* "ipw", "mmlu-pro", "supergpqa", "jsonl" */
    char name[256]; /* for summaries: "ipw (built-in)", or the file's name */
    size_t n;
    struct ipw_dataset_record *rec;
    size_t source_rows;  /* rows read before sampling */
    size_t skipped_rows; /* malformed rows skipped (each reported with file:line) */
    json_t *warnings;    /* the first IPW_DATASET_MAX_WARNINGS of those reports (strings) */
};

#define IPW_DATASET_MAX_WARNINGS 100

struct ipw_dataset_options {
    const char *path;       /* --dataset-path; required for mmlu-pro/supergpqa/jsonl */
    const json_t *params;   /* --dataset-param K=V (prompt_field, answer_field, ...) */
    long max_queries;       /* <= 0: all */
    uint64_t seed;
    bool seed_given;        /* sample max_queries at random with seed, else the first N */
    bool strict;            /* a malformed row is fatal instead of skipped */
};

/* The registry, derived from the presets (datasets/dataset.c): the ids, NULL-terminated
 * (--dataset's choices); "ipw, mmlu-pro, supergpqa or jsonl" for messages; the id used when
 * none is given; one line about an id (NULL when unknown). */
const char *const *ipw_dataset_choices(void);
const char *ipw_dataset_choices_text(void);
const char *ipw_dataset_default(void);
const char *ipw_dataset_description(const char *id);

ipw_err ipw_dataset_load(const char *id, const struct ipw_dataset_options *opt,
                         struct ipw_dataset **out, ipw_errbuf *eb);
void ipw_dataset_free(struct ipw_dataset *ds);

/* Turns one source row into a record exactly as loading the dataset `id` does (tests,
 * fuzzers, other readers). The row may be normalised in place (an options cell parsed into a
 * list); rec->metadata is left NULL. On error rec is cleared and eb says what is wrong with
 * the row (without file or line). params as in ipw_dataset_options. */
ipw_err ipw_dataset_convert_row(const char *id, const json_t *params, json_t *row,
                                struct ipw_dataset_record *rec, ipw_errbuf *eb);
void ipw_dataset_record_clear(struct ipw_dataset_record *rec);

/* The reproducible sample behind --max-queries N --seed S: k distinct positions out of
 * [0, total), ascending, drawn by a partial Fisher-Yates shuffle driven by splitmix64(seed)
 * (docs/datasets.md gives the exact steps). k > total is clamped. Returns the count, or 0 when
 * out of memory. *out is malloc'd. */
size_t ipw_dataset_sample_indices(size_t total, size_t k, uint64_t seed, size_t **out);

#endif
