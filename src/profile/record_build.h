/* Builds one records.jsonl object (docs/formats/records.md) from a finished query's
 * measurements. Pure: no I/O, so it is unit-tested on exact inputs. */
#ifndef IPW_PROFILE_RECORD_BUILD_H
#define IPW_PROFILE_RECORD_BUILD_H

#include <jansson.h>
#include <stdbool.h>

#include "ipw/attribution.h"
#include "ipw/client.h"
#include "ipw/dataset.h"
#include "ipw/jsonutil.h"

struct ipw_query_outcome {
    size_t record_index;
    const struct ipw_dataset_record *rec;
    const char *model;        /* --model: the key of model_answers / model_metrics */
    const char *served_model; /* the name the server served it under (NULL: the same) */
    const json_t *settings;   /* what it was measured and generated with (copied; may be NULL) */
    const struct ipw_chat_result *res;
    double start_unix, end_unix;
    int64_t e_start, e_first, e_end; /* energy boundaries, CLOCK_MONOTONIC ns (0: none) */
    ipw_domain main_domain;
    bool have_energy; /* attribution ran (false when telemetry failed for this query) */
    struct ipw_energy total, prefill, decode;
    double share_seconds; /* this query's share of wall time (= duration when alone) */
    struct ipw_window_stats win;
    bool have_idle;
    double idle_power_w; /* summed over the domains total_joules covers */
    const json_t *gpu_info, *system_info; /* copied */
    int concurrency;
    bool have_compute;
    double flops, macs;
};

/* The record of q in *out (the caller owns it). An allocation failure anywhere in it fails the
 * whole record (IPW_E_NOMEM, *out NULL): a record is never written with fields missing. */
ipw_err ipw_profile_record_json(const struct ipw_query_outcome *q, json_t **out, ipw_errbuf *eb);

/* JSON {"avg","max","median","min"} of a summary (nulls when it holds no value); failures are
 * kept in jb. */
json_t *ipw_summary_stats_json(struct ipw_jb *jb, const struct ipw_summary *s);

#endif
