/* The profiling loop of SPEC §3.2: check the server, start telemetry, take the idle baseline,
 * then run every record on --concurrency worker threads, snapshotting telemetry at request
 * start, first token and end, and appending each finished record durably before the next. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ipw/client.h"
#include "ipw/clock.h"
#include "ipw/dataset.h"
#include "ipw/fsutil.h"
#include "ipw/jsonutil.h"
#include "ipw/log.h"
#include "ipw/perfmodel.h"
#include "ipw/profile.h"
#include "ipw/remote.h"
#include "ipw/sysinfo.h"
#include "ipw/telemetry_session.h"
#include "progress.h"
#include "record_build.h"
#include "run_output.h"
#include "workers.h"

struct runner {
    const struct ipw_profile_config *cfg;
    struct ipw_dataset *ds;
    struct ipw_client *client;
    struct ipw_telemetry_session ts;
    struct ipw_share_ledger *ledger;
    struct ipw_run_output out;
    json_t *gpu_info, *system_info;
    int64_t real_minus_mono; /* to report Unix times of monotonic boundaries */

    struct ipw_run_queue q; /* the record indexes still to run, the stop check */

    pthread_mutex_t lock; /* everything below */
    int consecutive_failures;
    char last_error[IPW_ERRMSG_MAX];
    ipw_err write_error;
    ipw_errbuf write_eb;
    struct ipw_progress progress;
    size_t since_flush;
    double energy_j, total_j;
    size_t failed, measured;

    char served_model[256]; /* the name the server lists for --model (Ollama adds ":latest") */
    json_t *settings;       /* this invocation's settings, copied into every record */
    bool have_perf; /* the model is known to the perf model: FLOPs can be estimated */
    struct ipw_perf perf;

    bool have_idle;
    double idle_w; /* summed over the measured domains */
    struct ipw_energy baseline_w;
    double baseline_s;
};

struct query_ctx {
    struct runner *r;
    uint64_t id;
    bool started, has_first;
    int64_t e_start, e_first;
    int concurrency;
};

static void on_start(void *ud, int64_t ns)
{
    struct query_ctx *q = ud;
    ipw_errbuf eb = {0};
    if (ipw_share_ledger_start(q->r->ledger, q->id, ns, &q->e_start, &q->concurrency, &eb) ==
        IPW_OK)
        q->started = true;
    else
        ipw_warn("record %llu: no energy will be attributed: %s",
                 (unsigned long long)(q->id - 1), eb.msg);
}

static void on_first_token(void *ud, int64_t ns)
{
    struct query_ctx *q = ud;
    if (!q->started)
        return;
    q->e_first = ipw_share_ledger_first_token(q->r->ledger, q->id, ns);
    q->has_first = true;
}

/* The ledger's boundary reading: a snapshot locally, the client's time remotely. */
static int64_t mark_boundary(void *ud, int64_t client_ns)
{
    return ipw_telemetry_session_mark(ud, client_ns);
}

/* Energies and window statistics of one query. Energy and statistics fail independently: a
 * window older than the telemetry buffer (a very long query) loses its power statistics, never
 * its energy, which the ledger divided as the query ran. */
static void attribute(struct runner *r, struct query_ctx *q, int64_t e_end,
                      struct ipw_query_outcome *o)
{
    ipw_errbuf eb = {0};
    if (ipw_telemetry_session_settle(&r->ts, e_end, &eb) != IPW_OK)
        ipw_warn("record %zu: %s", o->record_index, eb.msg);
    struct ipw_query_share sh;
    if (ipw_share_ledger_collect(r->ledger, q->id, &sh, &eb) != IPW_OK) {
        ipw_warn("record %zu: no energy attributed: %s", o->record_index, eb.msg);
        return;
    }
    /* A remote monitor that restarted during the query lost the energy used while it was
     * down (its counters started again from zero): the share would silently count that time
     * as no energy, so the query's energy is unavailable instead, and says why. A stream
     * that only dropped is interpolated from the monitor's counters, which kept counting. */
    enum ipw_remote_gap gap =
        r->ts.remote ? ipw_remote_gap_overlaps(r->ts.remote, q->e_start, e_end) : IPW_REMOTE_NO_GAP;
    if (gap == IPW_REMOTE_GAP_LOST) {
        ipw_warn("record %zu: energy unavailable: the energy monitor restarted during the "
                 "query, so the energy used while it was down is not known",
                 o->record_index);
        return;
    }
    if (gap == IPW_REMOTE_GAP_INTERPOLATED)
        ipw_warn("record %zu: the monitor's stream dropped during the query; its energy is "
                 "interpolated across the gap from the monitor's counters",
                 o->record_index);
    o->have_energy = true;
    o->total = sh.total;
    o->prefill = sh.prefill;
    o->decode = sh.decode;
    o->share_seconds = sh.share_seconds;
    if (sh.why[0])
        ipw_warn("record %zu: energy partly unavailable: %s", o->record_index, sh.why);
    if (ipw_attr_window_stats(&r->ts.src, q->e_start, e_end, &o->win, &eb) != IPW_OK) {
        memset(&o->win, 0, sizeof o->win);
        ipw_warn("record %zu: no power statistics: %s", o->record_index, eb.msg);
    }
}

static void describe(const struct ipw_query_outcome *o, const json_t *rec, char *line, size_t size)
{
    const struct ipw_chat_result *res = o->res;
    if (res->error != IPW_OK) {
        snprintf(line, size, "record %zu failed: %s", o->record_index, res->error_msg);
        return;
    }
    json_t *em = json_object_get(
        json_object_get(json_object_get(rec, "model_metrics"), o->model), "energy_metrics");
    double j = 0, pj = 0, dj = 0;
    bool has_j = ipw_json_get_number(em, "per_query_joules", &j);
    ipw_json_get_number(em, "prefill_joules", &pj);
    ipw_json_get_number(em, "decode_joules", &dj);
    double secs = (double)(res->end_ns - res->start_ns) / 1e9;
    if (has_j)
        snprintf(line, size, "record %zu: %.2f s, %.2f J (prefill %.2f J, decode %.2f J), %ld tokens",
                 o->record_index, secs, j, pj, dj, res->output_tokens);
    else
        snprintf(line, size, "record %zu: %.2f s, energy unavailable, %ld tokens", o->record_index,
                 secs, res->output_tokens);
}

static void finish_query(struct runner *r, struct ipw_query_outcome *o)
{
    ipw_errbuf eb = {0};
    json_t *rec = NULL;
    ipw_err rc = ipw_profile_record_json(o, &rec, &eb);
    char line[512] = "";
    if (rc == IPW_OK)
        describe(o, rec, line, sizeof line);
    double load_s = 0;
    if (json_is_true(json_object_get(rec, "cold_start")) &&
        ipw_json_get_number(rec, "model_load_seconds", &load_s))
        ipw_warn("record %zu includes %.2f s of model load reported by the server (a cold "
                 "model): its latency and energy include the load (flagged cold_start; "
                 "--warmup N sends unmeasured requests first)",
                 o->record_index, load_s);
    bool failed = o->res->error != IPW_OK;
    double j = 0, tj = 0;
    json_t *em = json_object_get(
        json_object_get(json_object_get(rec, "model_metrics"), o->model), "energy_metrics");
    bool measured = ipw_json_get_number(em, "per_query_joules", &j);
    ipw_json_get_number(em, "total_joules", &tj);

    pthread_mutex_lock(&r->lock);
    if (rc == IPW_OK)
        rc = ipw_run_output_append(&r->out, rec, &eb);
    if (rc != IPW_OK) {
        /* the durable log cannot be written: stop rather than measure what cannot be kept,
         * and count nothing that is not on disk */
        if (r->write_error == IPW_OK) {
            r->write_error = rc;
            r->write_eb = eb;
        }
        ipw_run_queue_abort(&r->q);
        pthread_mutex_unlock(&r->lock);
        ipw_warn("record %zu was measured but could not be saved: %s", o->record_index, eb.msg);
        json_decref(rec);
        return;
    }
    if (failed) {
        r->failed++;
        snprintf(r->last_error, sizeof r->last_error, "%s", o->res->error_msg);
        if (++r->consecutive_failures >= IPW_PROFILE_MAX_CONSECUTIVE_FAILURES)
            ipw_run_queue_abort(&r->q);
    } else {
        r->consecutive_failures = 0;
    }
    r->energy_j += j;
    r->total_j += tj;
    r->measured += measured;
    ipw_progress_update(&r->progress, failed, j, line);
    if (++r->since_flush >= IPW_PROFILE_DATASET_FLUSH_EVERY) {
        r->since_flush = 0;
        ipw_errbuf fe = {0};
        if (ipw_run_output_flush_dataset(&r->out, &fe) != IPW_OK)
            ipw_warn("cannot rewrite the Arrow dataset (records.jsonl is intact): %s", fe.msg);
    }
    pthread_mutex_unlock(&r->lock);
    json_decref(rec);
}

static void run_one(struct runner *r, size_t record_index)
{
    const struct ipw_dataset_record *rec = &r->ds->rec[record_index];
    struct query_ctx q = {.r = r, .id = record_index + 1, .concurrency = 1};
    struct ipw_stream_events ev = {.ud = &q, .on_start = on_start, .on_first_token = on_first_token};
    struct ipw_chat_request req = {.model = r->served_model,
                                   .prompt = rec->problem,
                                   .item_kind = rec->kind,
                                   .item_reference = rec->answer};
    struct ipw_chat_result res;
    memset(&res, 0, sizeof res);
    r->client->ops->chat(r->client, &req, &ev, &res);

    struct ipw_query_outcome o;
    memset(&o, 0, sizeof o);
    o.record_index = record_index;
    o.rec = rec;
    o.model = r->cfg->model;
    o.served_model = r->served_model;
    o.settings = r->settings;
    o.res = &res;
    o.main_domain = ipw_sources_main_domain(&r->ts.src);
    o.gpu_info = r->gpu_info;
    o.system_info = r->system_info;
    o.have_idle = r->have_idle;
    o.idle_power_w = r->idle_w;
    o.concurrency = q.concurrency;
    if (q.started) {
        int64_t e_end = ipw_share_ledger_end(r->ledger, q.id, res.end_ns);
        attribute(r, &q, e_end, &o);
        o.e_start = q.e_start;
        o.e_first = q.has_first ? q.e_first : 0;
        o.e_end = e_end;
        o.start_unix = (double)(q.e_start + r->real_minus_mono) / 1e9;
        o.end_unix = (double)(e_end + r->real_minus_mono) / 1e9;
    } else {
        /* the request never left (connection refused, bad URL): nothing to attribute */
        o.start_unix = o.end_unix = (double)ipw_real_ns() / 1e9;
    }
    ipw_profile_estimate_compute(r->have_perf ? &r->perf : NULL, &res, &o.have_compute, &o.flops,
                                 &o.macs);
    finish_query(r, &o);
    ipw_chat_result_free(&res);
}

static bool record_done(void *out, size_t i)
{
    return ipw_run_output_is_done(out, i);
}

static void *worker(void *arg)
{
    struct runner *r = arg;
    size_t index;
    while (ipw_run_queue_take(&r->q, &index))
        run_one(r, index);
    return NULL;
}

/* Unmeasured requests before the baseline, so that loading the model into memory lands on
 * none of the measured queries (a cold Ollama model put 4 s of load into record 0). */
static void warm_up(struct runner *r)
{
    int n = r->cfg->warmup >= 0 ? r->cfg->warmup
                                : (strcmp(r->cfg->client_id, "sim") == 0 ? 0 : 1);
    for (int i = 0; i < n && !ipw_run_queue_stopped(&r->q); i++) {
        struct ipw_chat_request req = {.model = r->served_model,
                                       .prompt = IPW_PROFILE_WARMUP_PROMPT};
        struct ipw_chat_result res;
        memset(&res, 0, sizeof res);
        int64_t t0 = ipw_mono_ns();
        r->client->ops->chat(r->client, &req, NULL, &res);
        if (res.error != IPW_OK)
            ipw_warn("warm-up request %d of %d failed (the run goes on): %s", i + 1, n,
                     res.error_msg);
        else
            ipw_info("warm-up request %d of %d: %.2f s (not measured)", i + 1, n,
                     (double)(ipw_mono_ns() - t0) / 1e9);
        ipw_chat_result_free(&res);
    }
}

/* Mean power per domain with no request in flight (SPEC §3.2 step 2). */
static void take_baseline(struct runner *r)
{
    int64_t dur = r->cfg->baseline_ns;
    if (dur <= 0 || !(r->ts.info.caps & IPW_CAP_ENERGY)) /* nothing to measure: no waiting */
        return;
    ipw_info("measuring the idle baseline for %.1f s (no request in flight)", (double)dur / 1e9);
    int64_t t0 = ipw_telemetry_session_mark(&r->ts, ipw_mono_ns());
    int64_t deadline = t0 + dur;
    while (ipw_mono_ns() < deadline && !ipw_run_queue_stopped(&r->q))
        ipw_sleep_ns(deadline - ipw_mono_ns() > 100 * IPW_NS_PER_MS ? 100 * IPW_NS_PER_MS
                                                                     : deadline - ipw_mono_ns());
    int64_t t1 = ipw_telemetry_session_mark(&r->ts, ipw_mono_ns());
    ipw_errbuf eb = {0};
    if (ipw_telemetry_session_settle(&r->ts, t1, &eb) != IPW_OK ||
        ipw_attr_mean_power(&r->ts.src, t0, t1, &r->baseline_w, &eb) != IPW_OK) {
        ipw_warn("idle baseline unavailable: %s", eb.msg);
        return;
    }
    r->baseline_s = (double)(t1 - t0) / 1e9;
    r->idle_w = 0;
    for (int d = 0; d < IPW_DOMAIN_COUNT; d++)
        if (r->baseline_w.valid & (1u << d))
            r->idle_w += r->baseline_w.joules[d];
    r->have_idle = r->baseline_w.valid != 0;
    if (r->have_idle)
        ipw_info("idle baseline: %.2f W over %.1f s", r->idle_w, r->baseline_s);
}

static ipw_err open_client(struct runner *r, ipw_errbuf *eb)
{
    const struct ipw_profile_config *cfg = r->cfg;
    ipw_err rc = ipw_run_client_open(cfg->client_id, cfg->client_base_url, cfg->client_params,
                                     cfg->connect_timeout_ns, cfg->idle_timeout_ns, cfg->model,
                                     r->served_model, sizeof r->served_model, &r->client, eb);
    if (rc == IPW_OK && strcmp(r->served_model, cfg->model) != 0)
        ipw_info("model '%s' is served as '%s'", cfg->model, r->served_model);
    return rc;
}

ipw_err ipw_profile_run(const struct ipw_profile_config *cfg, struct ipw_profile_outcome *outcome,
                        ipw_errbuf *eb)
{
    struct runner *r = calloc(1, sizeof *r);
    if (!r)
        return ipw_fail(eb, IPW_E_NOMEM, "out of memory starting the profiler");
    memset(outcome, 0, sizeof *outcome);
    r->cfg = cfg;
    r->q.stop_requested = cfg->stop_requested;
    r->settings = ipw_profile_settings_json(cfg);
    pthread_mutex_init(&r->lock, NULL);
    ipw_err rc;

    /* 1. dataset and client, failing early with messages that name the input */
    struct ipw_dataset_options dopt = {.path = cfg->dataset_path,
                                       .params = cfg->dataset_params,
                                       .max_queries = cfg->max_queries,
                                       .seed = cfg->seed,
                                       .seed_given = cfg->seed_given};
    rc = ipw_dataset_load(cfg->dataset_id, &dopt, &r->ds, eb);
    if (rc == IPW_OK && r->ds->n == 0)
        rc = ipw_fail(eb, IPW_E_INVALID, "dataset %s has no usable records", cfg->dataset_id);
    if (rc == IPW_OK)
        rc = open_client(r, eb);

    /* 2. telemetry */
    if (rc == IPW_OK) {
        bool sim = strcmp(cfg->client_id, "sim") == 0;
        struct ipw_telemetry_session_config tc = {
            .monitors = cfg->monitors,
            .n_monitors = cfg->n_monitors,
            .collector = cfg->collector ? cfg->collector : (sim ? "sim" : "auto"),
            .interval_ns = cfg->interval_ns,
            .sim_hardware = json_string_value(json_object_get(cfg->client_params, "hardware")),
            .sim_model = json_string_value(json_object_get(cfg->client_params, "model")),
            .cpu_tdp_w = cfg->cpu_tdp_w,
            .cpu_idle_w = cfg->cpu_idle_w,
        };
        rc = ipw_telemetry_session_open(&tc, &r->ts, eb);
        if (rc == IPW_OK && sim && !(r->ts.info.caps & IPW_CAP_MODELLED))
            ipw_warn("the sim client is measured with the %s collector: its energies are real "
                     "readings of this machine, not the modelled ones",
                     r->ts.platform);
        else if (rc == IPW_OK && sim && !r->ts.local)
            ipw_warn("the sim client runs in this process, where a remote monitor cannot see its "
                     "requests: energies are the monitor's idle model, not these queries' (drop "
                     "--monitor to model them)");
    }
    if (rc == IPW_OK) {
        /* FLOPs per request from the architecture when the served model is a known one (FLOPs do
         * not depend on the hardware; a spec is needed only to set the model up) */
        struct ipw_model_spec ms;
        struct ipw_hw_spec hs;
        if (ipw_model_spec_match(cfg->model, &ms) && ipw_hw_spec_load("H100", &hs, NULL) == IPW_OK &&
            ipw_perf_init(&r->perf, &hs, &ms, NULL, NULL) == IPW_OK)
            r->have_perf = true;
        r->gpu_info = ipw_telemetry_session_gpu_info(&r->ts);
        r->system_info = ipw_telemetry_session_system_info(&r->ts);
        r->real_minus_mono = ipw_real_ns() - ipw_mono_ns();
    }

    /* 3. the run directory: created, resumed or replaced */
    if (rc == IPW_OK) {
        char label[128];
        ipw_hardware_label(r->ts.info.gpu_name, r->ts.sys.cpu_brand, label, sizeof label);
        rc = ipw_run_output_open(&r->out, cfg, r->ds, label, eb);
    }
    if (rc == IPW_OK) {
        ipw_telemetry_session_log_notes(&r->ts);
        snprintf(outcome->run_dir, sizeof outcome->run_dir, "%s", r->out.dir);
        rc = ipw_run_queue_fill(&r->q, r->ds->n, record_done, &r->out, "records", eb);
    }
    if (rc == IPW_OK) {
        size_t done = r->ds->n - r->q.npending;
        ipw_progress_init(&r->progress, cfg->progress_bar, r->ds->n, done);
        rc = ipw_run_output_write_summary(&r->out, cfg, &r->ts, r->ds, r->baseline_s, &r->baseline_w,
                                          false, eb);
    }

    /* 4. baseline, then the queries */
    if (rc == IPW_OK && r->q.npending) {
        warm_up(r);
        take_baseline(r);
        int n = ipw_run_queue_threads(&r->q, cfg->concurrency);
        struct ipw_share_ledger_config lc = {.src = &r->ts.src,
                                             .max_queries = (size_t)n,
                                             .mark = mark_boundary,
                                             .mark_ud = &r->ts,
                                             .deferred = !r->ts.local};
        rc = ipw_share_ledger_create(&lc, &r->ledger, eb);
        if (rc == IPW_OK)
            rc = ipw_run_workers(n, worker, r, "query", eb);
        ipw_progress_finish(&r->progress);
    }

    /* 5. outputs: the dataset and the summary always, whatever stopped the run (once the run
     * directory exists) */
    if (r->out.log) {
        ipw_errbuf fe = {0};
        if (ipw_run_output_write_summary(&r->out, cfg, &r->ts, r->ds, r->baseline_s,
                                         &r->baseline_w, true, &fe) != IPW_OK)
            ipw_warn("cannot write summary.json: %s; records.jsonl is intact — make room and "
                     "run the same command with --resume to write it",
                     fe.msg);
    }
    if (rc == IPW_OK && r->write_error != IPW_OK)
        rc = ipw_fail(eb, r->write_error,
                      "stopped: %s (the records before it are kept; fix that and continue with "
                      "--resume)",
                      r->write_eb.msg);
    if (rc == IPW_OK && r->consecutive_failures >= IPW_PROFILE_MAX_CONSECUTIVE_FAILURES)
        rc = ipw_fail(eb, IPW_E_IO,
                      "stopped after %d failed queries in a row; the last error: %s "
                      "(finished records are kept; fix the cause and rerun with --resume)",
                      r->consecutive_failures, r->last_error);
    if (r->ds) {
        outcome->queries_total = r->ds->n;
        outcome->queries_done = r->progress.done;
    }
    outcome->queries_failed = r->failed;
    outcome->energy_joules = r->energy_j;
    outcome->total_joules = r->total_j;
    outcome->queries_measured = r->measured;
    snprintf(outcome->platform, sizeof outcome->platform, "%s", r->ts.platform);
    outcome->telemetry_caps = r->ts.info.caps;
    outcome->stopped_early = ipw_run_queue_stopped(&r->q);

    ipw_run_output_close(&r->out);
    ipw_telemetry_session_close(&r->ts);
    ipw_client_close(r->client);
    ipw_dataset_free(r->ds);
    json_decref(r->gpu_info);
    json_decref(r->system_info);
    json_decref(r->settings);
    ipw_run_queue_free(&r->q);
    ipw_share_ledger_destroy(r->ledger);
    pthread_mutex_destroy(&r->lock);
    free(r);
    return rc;
}

void ipw_profile_config_init(struct ipw_profile_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->dataset_id = "ipw";
    cfg->output_dir = "./runs/";
    cfg->concurrency = 1;
    cfg->warmup = -1;
    cfg->collector = NULL;
    cfg->interval_ns = 50 * IPW_NS_PER_MS;
    cfg->baseline_ns = 5 * IPW_NS_PER_SEC;
    cfg->connect_timeout_ns = 10 * IPW_NS_PER_SEC;
    cfg->idle_timeout_ns = 300 * IPW_NS_PER_SEC;
    cfg->eval_client = "openai";
}
