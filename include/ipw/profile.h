/* The profiler (SPEC §3): sends a dataset's prompts to an inference server while measuring,
 * attributes energy to each query and phase, and leaves a run directory behind. */
#ifndef IPW_PROFILE_H
#define IPW_PROFILE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ipw/attribution.h"
#include "ipw/err.h"

#define IPW_PROFILE_MAX_CONSECUTIVE_FAILURES 5
#define IPW_PROFILE_DATASET_FLUSH_EVERY 100
/* A server-reported model load at least this long makes a record a cold start (flagged). */
#define IPW_PROFILE_COLD_LOAD_S 0.25
/* What a warm-up request asks: short, so it loads the model without much else. */
#define IPW_PROFILE_WARMUP_PROMPT "Reply with the single word OK."


struct ipw_profile_config {
    const char *client_id;       /* ollama | openai | vllm | sim */
    const char *model;
    const char *client_base_url; /* NULL: the client's default */
    const json_t *client_params; /* typed --client-param object (borrowed) */
    const char *const *client_param_strings; /* as given, for summary.json */
    size_t n_client_param_strings;
    const char *dataset_id;
    const char *dataset_path;
    const json_t *dataset_params;
    long max_queries; /* <= 0: all */
    uint64_t seed;
    bool seed_given;
    const char *output_dir; /* parent directory, default ./runs/ */
    const char *run_name;   /* the run directory's name; NULL: ipw_run_dir_name's */
    bool resume, overwrite;
    bool resume_anyway; /* resume although measuring/generation settings changed */
    int concurrency;             /* >= 1 */
    int warmup;                  /* unmeasured requests before the baseline; < 0: 1 for a
                                    real server, 0 for sim */
    const char *monitors[IPW_MAX_SOURCES]; /* "local" or HOST:PORT */
    size_t n_monitors;
    const char *collector;       /* local collector: auto | nvidia | ... | sim */
    double cpu_tdp_w, cpu_idle_w; /* cpu-model coefficients (--cpu-tdp/--cpu-idle); 0: default */
    int64_t interval_ns;         /* sampling period */
    int64_t baseline_ns;         /* idle baseline duration; 0 = none */
    int64_t connect_timeout_ns, idle_timeout_ns;
    bool no_eval;
    const char *eval_client, *eval_base_url, *eval_model;
    bool progress_bar; /* a live bar (terminal) instead of one log line per query */
    /* polled between queries; returns true when the user asked to stop (Ctrl-C) */
    int (*stop_requested)(void);
};

struct ipw_profile_outcome {
    char run_dir[4096];
    size_t queries_total;   /* in this run's sample */
    size_t queries_done;    /* finished now, including earlier (resumed) ones */
    size_t queries_failed;
    double energy_joules;   /* main domain, this invocation */
    double total_joules;
    size_t queries_measured; /* this invocation's queries that got an energy */
    char platform[32];      /* the telemetry's platform */
    unsigned telemetry_caps; /* its enum ipw_collector_cap bits (IPW_CAP_MODELLED: modelled) */
    bool stopped_early;     /* by the user or by consecutive failures */
};

void ipw_profile_config_init(struct ipw_profile_config *cfg);

/* Runs the whole flow of SPEC §3.2. Returns IPW_OK when every query was attempted (failed
 * queries are recorded, not fatal); an error when the run could not start or was stopped by
 * consecutive failures (the message names the last error). */
ipw_err ipw_profile_run(const struct ipw_profile_config *cfg, struct ipw_profile_outcome *out,
                        ipw_errbuf *eb);

/* Run directory naming (SPEC §3.4): profile_<hardware-label>_<model-slug>_<dataset-id>; a jsonl
 * dataset adds its file's stem, a non-ASCII or very long model name a hash of the name. */
void ipw_model_slug(const char *model, char *out, size_t size);
void ipw_run_dir_name(const char *hardware_label, const char *model, const char *dataset_id,
                      const char *dataset_path, char *out, size_t size);
/* A --run-name must be one path component: no '/', not "." or "..", no control characters. */
ipw_err ipw_run_name_check(const char *name, ipw_errbuf *eb);

#endif
