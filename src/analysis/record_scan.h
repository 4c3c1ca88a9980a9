/* A validating JSON scanner that flattens one records.jsonl line straight into an
 * ipw_run_query, without building a document: the hot path of analysing a million-record run.
 * It accepts exactly the JSON that jansson accepts (checked by a differential fuzz target) and
 * fills the query exactly as ipw_run_query_from_json does. Not a public interface. */
#ifndef IPW_ANALYSIS_RECORD_SCAN_H
#define IPW_ANALYSIS_RECORD_SCAN_H

#include <stdbool.h>
#include <stddef.h>

#include "ipw/run_reader.h"

/* Decoded strings live here; reused from line to line. */
struct ipw_scan_arena {
    char *p;
    size_t cap;
};

struct ipw_scan_result {
    size_t error_offset;     /* byte offset of a syntax error */
    char error[96];          /* what is wrong, when the scan fails */
    const char *first_model; /* first key of model_answers (else of model_metrics), or NULL */
    bool many_models;        /* more than one distinct key there */
    bool model_found;        /* the model asked for is a key of model_answers or model_metrics */
    bool not_object;         /* valid JSON, but not an object */
};

/* Scans line[0, len) and fills q for model (NULL or "": the only model, as
 * ipw_run_query_from_json). Returns false when the line is not valid JSON or not an object,
 * with the reason in res. Strings in q point into arena until the next call. */
bool ipw_record_scan(const char *line, size_t len, const char *model,
                     struct ipw_scan_arena *arena, struct ipw_run_query *q,
                     struct ipw_scan_result *res);
void ipw_scan_arena_free(struct ipw_scan_arena *a);

#endif
