/* Internal to the run dataset (run_dataset.c, run_dataset_log.c): building the Arrow file of a
 * run one record at a time into a temporary file that is renamed when complete. */
#ifndef IPW_RESULTS_RUN_BUILD_H
#define IPW_RESULTS_RUN_BUILD_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "results/arrow.h"
#include "ipw/run_dataset.h"

/* Schema metadata key holding {"log_bytes", "log_tail", "rows", "indexes"}: how much of
 * records.jsonl the file was built from and which record_index values (as [first, last]
 * ranges) it holds, so that the next rewrite can reuse its batches. */
#define IPW_RUN_META_KEY "ipw"

struct run_entry {
    int64_t index;
    size_t seq; /* position in the source: the later of equal indexes wins */
    uint64_t off;
    size_t len;
};

struct run_conform {
    size_t nulled, unknown;
    char first_nulled[256], first_unknown[256];
};

struct run_hashing_sink {
    struct ipw_arrow_file_sink file;
    uint64_t h;
};

struct run_build {
    const char *run_dir;
    char path[4096], tmp[4200];
    FILE *f;
    struct run_hashing_sink sink;
    struct ipw_arrow_writer *w;
    struct ipw_arrow_field *schema;
    struct run_conform cs;
    size_t rows, n_models, reused_rows;
};

/* Sorts by record_index and keeps the latest of equal indexes; returns the new count. */
size_t ipw_run_sort_latest(struct run_entry *v, size_t n);
/* Adds the record's model names (keys of model_answers and model_metrics) to a JSON set. */
bool ipw_run_add_models(json_t *set, const json_t *rec);
uint64_t ipw_run_hash_mix(uint64_t h);
ipw_err ipw_run_hashing_write(void *ctx, const void *data, size_t len, ipw_errbuf *eb);

/* Opens the temporary file and writes the schema for the models in the set; ipw_meta (may be
 * NULL) goes under IPW_RUN_META_KEY in the schema's metadata. */
ipw_err ipw_run_build_start(struct run_build *b, const json_t *models, const json_t *ipw_meta,
                            ipw_errbuf *eb);
ipw_err ipw_run_build_add(struct run_build *b, json_t *rec, ipw_errbuf *eb);
/* Ends the stream, renames it into place, writes dataset_info.json and state.json. */
ipw_err ipw_run_build_commit(struct run_build *b, struct ipw_run_dataset_stats *st,
                             ipw_errbuf *eb);
void ipw_run_build_end(struct run_build *b);

#endif
