/* The Arrow/HuggingFace dataset of a profiling run (SPEC §3.4), rebuilt from its records:
 * data-00000-of-00001.arrow, dataset_info.json and state.json, each replaced atomically. */
#ifndef IPW_RUN_DATASET_H
#define IPW_RUN_DATASET_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ipw/err.h"

/* A node of an Arrow schema; its type is private to src/results/ (results/arrow.h). */
struct ipw_arrow_field;

struct ipw_run_dataset_stats {
    size_t rows;
    size_t models;
    size_t nulled_values;  /* values of an unexpected type written as null (warned) */
    size_t unknown_keys;   /* keys with no column, left out (warned) */
    size_t reused_rows;    /* rows whose batches were copied from the previous file */
    uint64_t arrow_bytes;
    char fingerprint[17];
};

/* The typed ModelMetrics struct of docs/formats/records.md, as a field called name. */
struct ipw_arrow_field *ipw_run_model_metrics_field(const char *name);
/* The run's schema: problem, answer, dataset_metadata (JSON text), subject, model_answers
 * (struct: model -> utf8) and model_metrics (struct: model -> ModelMetrics). */
struct ipw_arrow_field *ipw_run_dataset_schema(const char *const *models, size_t n_models);

/* Rewrites the dataset in run_dir from records (objects as in records.jsonl, any order; rows
 * follow record_index, and of equal indexes the later record wins). The profiler calls this
 * every 100 records and at the end. st may be NULL. */
ipw_err ipw_run_dataset_write(const char *run_dir, json_t *const *records, size_t n,
                              struct ipw_run_dataset_stats *st, ipw_errbuf *eb);
/* The same, streaming from run_dir/records.jsonl: memory stays bounded by one record batch
 * plus 32 bytes per record, whatever the length of the run.
 * Unless final, when the previous Arrow file was built from a prefix of the same log, the
 * records after it are all new record_index values and no new model appeared (the usual case),
 * its record batches are copied as they are and only the new records are converted, appended
 * in record_index order among themselves: a rewrite every 100 records then costs a file copy,
 * not a conversion of the whole run. Records that finished out of order (--concurrency > 1) can
 * thus sit after higher-numbered ones; final (the rewrite at the end of a run) rebuilds from the
 * whole log with every row in record_index order. */
ipw_err ipw_run_dataset_write_from_log(const char *run_dir, bool final,
                                       struct ipw_run_dataset_stats *st, ipw_errbuf *eb);

#endif
