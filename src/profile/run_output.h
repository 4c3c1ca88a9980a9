/* The run directory a profiling run writes (SPEC §3.4): records.jsonl (durable, resumable),
 * the HuggingFace Arrow dataset rebuilt from it, and summary.json. */
#ifndef IPW_PROFILE_RUN_OUTPUT_H
#define IPW_PROFILE_RUN_OUTPUT_H

#include <jansson.h>
#include <stdbool.h>

#include "ipw/client.h"
#include "ipw/dataset.h"
#include "ipw/profile.h"
#include "ipw/telemetry_session.h"

#include "ipw/perfmodel.h"
#include "ipw/records.h"

struct ipw_run_output {
    char dir[4096];
    char records_path[4200];
    char hardware_label[128];
    struct ipw_records_log *log;
    struct ipw_records_done done; /* record_index values already finished (resume) */
    int lock_fd;                  /* flock on the run directory: one profiler per run */
    bool locked;
    json_t *prev_baseline; /* the resumed run's telemetry.baseline, kept if none is taken now */
    json_t *settings_history; /* --resume-anyway: every settings object the run was made with */
};

/* Create (or resume, or replace) <output_dir>/profile_<hw>_<model>_<dataset>/. */
ipw_err ipw_run_output_open(struct ipw_run_output *o, const struct ipw_profile_config *cfg,
                            const struct ipw_dataset *ds, const char *hardware_label,
                            ipw_errbuf *eb);
bool ipw_run_output_is_done(const struct ipw_run_output *o, size_t record_index);
/* Append one record and fsync it. */
ipw_err ipw_run_output_append(struct ipw_run_output *o, const json_t *record, ipw_errbuf *eb);
/* Rewrite data-00000-of-00001.arrow, dataset_info.json and state.json from records.jsonl. */
ipw_err ipw_run_output_flush_dataset(struct ipw_run_output *o, ipw_errbuf *eb);
/* summary.json; totals are recomputed from records.jsonl so a resumed run counts everything. */
ipw_err ipw_run_output_write_summary(struct ipw_run_output *o, const struct ipw_profile_config *cfg,
                                     const struct ipw_telemetry_session *ts,
                                     const struct ipw_dataset *ds, double baseline_s,
                                     const struct ipw_energy *baseline_w, bool final,
                                     ipw_errbuf *eb);
void ipw_run_output_close(struct ipw_run_output *o);

/* The run's totals, streamed from records.jsonl: each record_index once (a later line
 * supersedes), n_records = the size of the run's sample; memory is a few numbers per record. */
struct ipw_profile_totals;
ipw_err ipw_profile_totals_read(const char *records_path, const char *model, size_t n_records,
                                struct ipw_profile_totals **out, ipw_errbuf *eb);
size_t ipw_profile_totals_queries(const struct ipw_profile_totals *t);
void ipw_profile_totals_free(struct ipw_profile_totals *t);

/* The settings that change what is measured or generated (client URL and parameters,
 * concurrency, monitors, collector, sampling period, baseline): a resume must match them. */
json_t *ipw_profile_settings_json(const struct ipw_profile_config *cfg);

/* summary.json's object (run_output.c writes it; summary.c builds it). */
json_t *ipw_profile_summary_json(const struct ipw_run_output *o, const struct ipw_profile_config *cfg,
                                 const struct ipw_telemetry_session *ts,
                                 const struct ipw_dataset *ds, double baseline_s,
                                 const struct ipw_energy *baseline_w,
                                 const struct ipw_profile_totals *totals);

/* FLOPs and MACs of a request: the server's own figures (the sim client reports them), else
 * the perf model's estimate from the model's architecture when pm is non-NULL; have = false
 * when neither is available (compute_metrics stay null). */
void ipw_profile_estimate_compute(const struct ipw_perf *pm, const struct ipw_chat_result *res,
                                  bool *have, double *flops, double *macs);

#endif
