/* `ipw run`: a task set through an agent, on the profiler's measurement core. Tasks run on
 * --concurrency threads; each finished task is appended to traces.jsonl and records.jsonl and
 * fsync'd before the next starts, so a crash loses no finished task and --resume continues;
 * the Arrow dataset and summary.json are rebuilt from the logs. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "ipw/agent.h"
#include "ipw/client.h"
#include "ipw/clock.h"
#include "ipw/fsutil.h"
#include "ipw/log.h"
#include "ipw/profile.h"
#include "ipw/records.h"
#include "ipw/run_dataset.h"
#include "ipw/sysinfo.h"
#include "ipw/telemetry_session.h"
#include "ipw/version.h"
#include "loop.h"
#include "profile/workers.h"
#include "record.h"

#define DATASET_FLUSH_EVERY 10

struct run {
    const struct ipw_agent_run_config *cfg;
    struct ipw_agent_taskset ts;
    struct ipw_client *client;
    char served[512]; /* the model's name as the server knows it */
    struct ipw_telemetry_session tel;
    bool tel_open;
    struct ipw_share_ledger *ledger;
    struct ipw_agent_loop_config lc;
    char dir[4096], traces[4200], records[4200];
    struct ipw_records_log *tlog, *rlog;
    int lock_fd;
    struct ipw_records_done done;
    struct ipw_run_queue q; /* the task indexes still to run, the stop check */
    pthread_mutex_t lock;
    size_t finished, resolved, failed, since_flush;
    double energy;
    ipw_err write_error;
    char write_msg[IPW_ERRMSG_MAX];
};

void ipw_agent_run_config_init(struct ipw_agent_run_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->agent = "react";
    cfg->dataset_id = IPW_AGENT_BUILTIN;
    cfg->concurrency = 1;
    cfg->max_turns = 30;
    cfg->task_timeout_ns = 600 * IPW_NS_PER_SEC;
    cfg->sandbox = IPW_SANDBOX_BWRAP;
    ipw_sandbox_limits_default(&cfg->limits);
    cfg->script = IPW_SCRIPT_SOLVE;
    cfg->output_dir = "./runs/";
    cfg->interval_ns = 50 * IPW_NS_PER_MS;
    cfg->connect_timeout_ns = 10 * IPW_NS_PER_SEC;
    cfg->idle_timeout_ns = 300 * IPW_NS_PER_SEC;
}

static const char *energy_source(const struct run *r)
{
    return r->tel.info.caps & IPW_CAP_MODELLED ? "modeled" : "counter";
}

static void settle(void *ud, int64_t t)
{
    ipw_errbuf eb = {0};
    if (ipw_telemetry_session_settle(ud, t, &eb) != IPW_OK)
        ipw_warn("%s", eb.msg);
}

static int64_t mark(void *ud, int64_t client_ns) { return ipw_telemetry_session_mark(ud, client_ns); }

static void finish_task(struct run *r, size_t index, json_t *trace)
{
    const struct ipw_agent_task *task = &r->ts.task[index];
    json_object_set_new(trace, "record_index", json_integer((json_int_t)index));
    json_object_set_new(trace, "task_index", json_integer((json_int_t)index));
    json_object_set_new(trace, "agent", json_string(r->cfg->agent));
    json_object_set_new(trace, "model", json_string(r->cfg->model));
    json_object_set_new(trace, "instruction", json_string(task->instruction));
    json_object_set_new(trace, "energy_source", json_string(energy_source(r)));
    if (task->kind == IPW_TASK_QA) {
        json_object_set_new(trace, "answer", json_string(task->answer));
        json_object_set_new(trace, "item_kind", json_string(task->item_kind));
    }
    json_t *rec = ipw_agent_record_from_trace(trace, r->cfg->model, energy_source(r));
    bool resolved = json_is_true(json_object_get(trace, "resolved"));
    const char *stop = json_string_value(json_object_get(trace, "stop_reason"));
    double e = json_number_value(json_object_get(trace, "energy_joules"));
    pthread_mutex_lock(&r->lock);
    ipw_errbuf eb = {0};
    /* the trace first: it is the resume key; a record missing behind it is rebuilt */
    ipw_err rc = ipw_records_append(r->tlog, trace, &eb);
    if (rc == IPW_OK)
        rc = ipw_records_append(r->rlog, rec, &eb);
    if (rc != IPW_OK) {
        if (r->write_error == IPW_OK) {
            r->write_error = rc;
            snprintf(r->write_msg, sizeof r->write_msg, "%s", eb.msg);
        }
        ipw_run_queue_abort(&r->q);
    } else {
        r->finished++;
        r->resolved += resolved;
        r->failed += json_is_string(json_object_get(rec, "error"));
        r->energy += isfinite(e) ? e : 0;
        const json_t *verdict = json_object_get(trace, "resolved");
        ipw_info("task %s: %s after %lld turn(s), %s, %.3f J", task->id, stop ? stop : "?",
                 (long long)json_integer_value(json_object_get(trace, "n_turns")),
                 json_is_null(verdict) ? "not judged"
                 : resolved            ? "resolved"
                                       : "not resolved",
                 isfinite(e) ? e : 0.0);
        if (++r->since_flush >= DATASET_FLUSH_EVERY) {
            r->since_flush = 0;
            ipw_errbuf fe = {0};
            if (ipw_run_dataset_write_from_log(r->dir, false, NULL, &fe) != IPW_OK)
                ipw_warn("cannot rewrite the Arrow dataset (the logs are intact): %s", fe.msg);
        }
    }
    pthread_mutex_unlock(&r->lock);
    json_decref(rec);
}

static bool task_done(void *done, size_t i)
{
    return ipw_records_done_has(done, (int64_t)i);
}

static void *worker(void *arg)
{
    struct run *r = arg;
    size_t index;
    while (ipw_run_queue_take(&r->q, &index)) {
        struct ipw_agent_meter m;
        ipw_agent_meter_init(&m, r->ledger, index);
        if (r->tel_open && !r->tel.local) {
            m.settle = settle;
            m.settle_ud = &r->tel;
        }
        json_t *trace = NULL;
        ipw_errbuf eb = {0};
        if (ipw_agent_loop_run(&r->lc, &r->ts.task[index], &m, &trace, &eb) != IPW_OK) {
            ipw_warn("task %s could not run: %s", r->ts.task[index].id, eb.msg);
            pthread_mutex_lock(&r->lock);
            if (r->write_error == IPW_OK) {
                r->write_error = eb.code;
                snprintf(r->write_msg, sizeof r->write_msg, "%s", eb.msg);
            }
            pthread_mutex_unlock(&r->lock);
            ipw_run_queue_abort(&r->q);
            break;
        }
        finish_task(r, index, trace);
        json_decref(trace);
    }
    return NULL;
}

static ipw_err open_client(struct run *r, ipw_errbuf *eb)
{
    const struct ipw_agent_run_config *cfg = r->cfg;
    /* the sim agent's moves are short: model replies of 8-64 tokens unless told otherwise */
    json_t *params = cfg->client_params ? json_deep_copy(cfg->client_params) : json_object();
    bool free_length = !json_object_get(params, "output_tokens") &&
                       !json_object_get(params, "output_tokens_min") &&
                       !json_object_get(params, "output_tokens_max");
    if (strcmp(cfg->client_id, "sim") == 0 && free_length &&
        strcmp(cfg->agent, "replay") == 0) {
        /* a replayed turn is as long as recorded: the request's own limit decides */
        json_object_set_new(params, "output_tokens", json_integer(100000000));
        if (!json_object_get(params, "max_tokens"))
            json_object_set_new(params, "max_tokens", json_integer(100000000));
    } else if (strcmp(cfg->client_id, "sim") == 0 && free_length) {
        json_object_set_new(params, "output_tokens_min", json_integer(8));
        json_object_set_new(params, "output_tokens_max", json_integer(64));
    }
    ipw_err rc = ipw_run_client_open(cfg->client_id, cfg->client_base_url, params,
                                     cfg->connect_timeout_ns, cfg->idle_timeout_ns, cfg->model,
                                     r->served, sizeof r->served, &r->client, eb);
    json_decref(params);
    return rc;
}

static ipw_err lock_dir(struct run *r, ipw_errbuf *eb)
{
    r->lock_fd = open(r->traces, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (r->lock_fd < 0)
        return ipw_fail(eb, IPW_E_IO, "cannot open %s: %s", r->traces, strerror(errno));
    if (flock(r->lock_fd, LOCK_EX | LOCK_NB) != 0)
        return ipw_fail(eb, IPW_E_EXISTS,
                        "another ipw run is writing %s; wait for it to finish", r->dir);
    return IPW_OK;
}

/* A finished trace must be the same task at the same position, else two task sets mix. */
struct same {
    const struct ipw_agent_taskset *ts;
    int64_t bad;
};

static ipw_err check_trace(void *ctx, json_t *rec, int64_t index, size_t line, uint64_t off,
                           size_t len, ipw_errbuf *eb)
{
    (void)line, (void)off, (void)len, (void)eb;
    struct same *s = ctx;
    const char *id = json_string_value(json_object_get(rec, "task_id"));
    if (s->bad < 0 && ((uint64_t)index >= s->ts->n || !id || strcmp(id, s->ts->task[index].id)))
        s->bad = index;
    return IPW_OK;
}

/* records.jsonl lacks a task that traces.jsonl has (a crash between the two appends). */
struct rebuild {
    struct run *r;
    const struct ipw_records_done *have;
};

static ipw_err rebuild_record(void *ctx, json_t *trace, int64_t index, size_t line, uint64_t off,
                              size_t len, ipw_errbuf *eb)
{
    (void)line, (void)off, (void)len;
    struct rebuild *b = ctx;
    if (ipw_records_done_has(b->have, index))
        return IPW_OK;
    json_t *rec = ipw_agent_record_from_trace(
        trace, b->r->cfg->model, json_string_value(json_object_get(trace, "energy_source")));
    ipw_err e = ipw_records_append(b->r->rlog, rec, eb);
    json_decref(rec);
    return e;
}

static ipw_err open_output(struct run *r, const char *label, ipw_errbuf *eb)
{
    const struct ipw_agent_run_config *cfg = r->cfg;
    char slug[256], name[600];
    ipw_model_slug(cfg->model, slug, sizeof slug);
    snprintf(name, sizeof name, "run_%s_%s_%s_%s", cfg->agent, label, slug, r->ts.id);
    ipw_err e = ipw_path_join(r->dir, sizeof r->dir, cfg->output_dir, name, eb);
    if (e != IPW_OK)
        return e;
    snprintf(r->traces, sizeof r->traces, "%s/%s", r->dir, IPW_AGENT_TRACES_FILE);
    snprintf(r->records, sizeof r->records, "%s/%s", r->dir, IPW_RECORDS_FILE);
    bool exists = ipw_path_exists(r->dir);
    if (exists && !cfg->resume && !cfg->overwrite)
        return ipw_fail(eb, IPW_E_EXISTS,
                        "%s already exists: continue it with --resume, or replace it with "
                        "--overwrite",
                        r->dir);
    if (exists && cfg->overwrite && (e = ipw_remove_tree(r->dir, eb)) != IPW_OK)
        return e;
    if ((e = ipw_mkdir_p(r->dir, eb)) != IPW_OK || (e = lock_dir(r, eb)) != IPW_OK)
        return e;
    bool resume = exists && cfg->resume;
    if (resume) {
        struct same s = {&r->ts, -1};
        e = ipw_records_scan(r->traces, check_trace, &s, NULL, eb);
        if (e == IPW_OK && s.bad >= 0)
            return ipw_fail(eb, IPW_E_INVALID,
                            "cannot resume %s: its task %lld is not task %lld of this task set "
                            "(a different --dataset, --max-queries or --seed?); repeat the "
                            "original command, or use --overwrite",
                            r->dir, (long long)s.bad, (long long)s.bad);
    }
    if (e == IPW_OK)
        e = ipw_records_open(r->traces, true, &r->tlog, NULL, eb);
    if (e == IPW_OK)
        e = ipw_records_open(r->records, resume, &r->rlog, NULL, eb);
    if (e == IPW_OK && resume) {
        struct ipw_records_done have = {0};
        e = ipw_records_finished(r->records, false, &have, NULL, eb);
        struct rebuild b = {r, &have};
        if (e == IPW_OK)
            e = ipw_records_scan(r->traces, rebuild_record, &b, NULL, eb);
        ipw_records_done_free(&have);
    }
    if (e == IPW_OK)
        e = ipw_records_finished(r->traces, false, &r->done, NULL, eb);
    return e;
}

/* ---- summary.json ------------------------------------------------------------------------- */

struct sums {
    size_t tasks, resolved, failed, turns;
    double energy, total, llm, between, wall, tool_s;
    long long in, out;
};

static void addn(double *a, const json_t *o, const char *k)
{
    const json_t *v = json_object_get(o, k);
    if (json_is_number(v))
        *a += json_number_value(v);
}

static ipw_err sum_trace(void *ctx, json_t *t, int64_t index, size_t line, uint64_t off,
                         size_t len, ipw_errbuf *eb)
{
    (void)index, (void)line, (void)off, (void)len, (void)eb;
    struct sums *s = ctx;
    s->tasks++;
    s->resolved += json_is_true(json_object_get(t, "resolved"));
    s->failed += json_is_string(json_object_get(t, "error"));
    s->turns += (size_t)json_integer_value(json_object_get(t, "n_turns"));
    addn(&s->energy, t, "energy_joules");
    addn(&s->total, t, "total_joules");
    addn(&s->llm, t, "llm_joules");
    addn(&s->between, t, "between_joules");
    addn(&s->wall, t, "wall_seconds");
    addn(&s->tool_s, t, "tool_seconds");
    s->in += json_integer_value(json_object_get(t, "input_tokens"));
    s->out += json_integer_value(json_object_get(t, "output_tokens"));
    return IPW_OK;
}

static ipw_err write_summary(struct run *r, const char *label, ipw_errbuf *eb)
{
    const struct ipw_agent_run_config *cfg = r->cfg;
    struct sums s = {0};
    ipw_err e = ipw_records_scan(r->traces, sum_trace, &s, NULL, eb);
    if (e != IPW_OK)
        return e;
    json_t *run_cfg = json_pack(
        "{s:s, s:s, s:s, s:o, s:o, s:s, s:o, s:i, s:i, s:f, s:s, s:s, s:o, s:s}", "agent",
        cfg->agent, "client_id", cfg->client_id, "model", cfg->model, "client_base_url",
        cfg->client_base_url ? json_string(cfg->client_base_url) : json_null(), "client_params",
        cfg->client_params ? json_deep_copy(cfg->client_params) : json_object(), "dataset_id",
        r->ts.id, "max_queries", cfg->max_tasks > 0 ? json_integer(cfg->max_tasks) : json_null(),
        "concurrency", cfg->concurrency, "max_turns", cfg->max_turns, "task_timeout_s",
        (double)cfg->task_timeout_ns / 1e9, "sandbox", ipw_sandbox_kind_name(cfg->sandbox),
        "output_dir", cfg->output_dir, "seed",
        cfg->seed_given ? json_integer((json_int_t)cfg->seed) : json_null(), "sim_script",
        cfg->script == IPW_SCRIPT_SOLVE ? "solve" : cfg->script == IPW_SCRIPT_FAIL ? "fail" : "loop");
    json_t *totals = json_pack(
        "{s:f, s:f, s:f, s:f, s:I, s:I, s:f, s:f, s:I, s:I, s:I, s:I}", "energy_joules", s.energy,
        "total_joules", s.total, "llm_joules", s.llm, "between_joules", s.between, "input_tokens",
        (json_int_t)s.in, "output_tokens", (json_int_t)s.out, "duration_s", s.wall,
        "tool_seconds", s.tool_s, "turns", (json_int_t)s.turns, "tasks", (json_int_t)s.tasks,
        "resolved", (json_int_t)s.resolved, "failed_queries", (json_int_t)s.failed);
    json_t *sum = json_pack(
        "{s:s, s:s, s:o, s:s, s:s, s:s, s:I, s:I, s:I, s:{s:s}, s:o, s:{s:s, s:s, s:f, s:s}, "
        "s:s, s:b, s:o, s:o}",
        "model", cfg->model, "kind", "agent", "run_config", run_cfg, "dataset", r->ts.id,
        "dataset_name", r->ts.name, "hardware_label", label, "generated_at",
        (json_int_t)time(NULL), "total_queries", (json_int_t)r->ts.n, "tasks_done",
        (json_int_t)s.tasks, "versions", "ipw", IPW_VERSION, "totals", totals, "telemetry",
        "platform", r->tel.platform, "collector", r->tel.collector_name, "interval_ms",
        (double)r->tel.interval_ns / 1e6, "monitors", r->tel.monitors_desc, "energy_source",
        energy_source(r), "modelled", (r->tel.info.caps & IPW_CAP_MODELLED) != 0, "gpu_info",
        ipw_telemetry_session_gpu_info(&r->tel), "system_info",
        ipw_telemetry_session_system_info(&r->tel));
    char *text = sum ? json_dumps(sum, JSON_INDENT(2)) : NULL;
    json_decref(sum);
    if (!text)
        return ipw_fail(eb, IPW_E_NOMEM, "out of memory writing summary.json");
    char path[4300];
    snprintf(path, sizeof path, "%s/summary.json", r->dir);
    e = ipw_write_file_atomic(path, text, strlen(text), eb);
    free(text);
    return e;
}

/* ---- the run -------------------------------------------------------------------------------- */

static ipw_err start(struct run *r, char *label, size_t label_size, ipw_errbuf *eb)
{
    const struct ipw_agent_run_config *cfg = r->cfg;
    bool terminus = strcmp(cfg->agent, "terminus") == 0;
    bool replay = strcmp(cfg->agent, "replay") == 0;
    if (!terminus && !replay && strcmp(cfg->agent, "react") != 0)
        return ipw_fail(eb, IPW_E_INVALID, "unknown agent '%s': use react or terminus",
                        cfg->agent);
    if (replay != (cfg->dataset_id && strcmp(cfg->dataset_id, "agentic") == 0))
        return ipw_fail(eb, IPW_E_INVALID,
                        "recorded sessions (--dataset agentic) are replayed by ipw profile; "
                        "ipw run takes task sets");
    ipw_err e = ipw_agent_tasks_load(cfg->dataset_id, cfg->dataset_path, cfg->max_tasks,
                                     cfg->seed, cfg->seed_given, &r->ts, eb);
    if (e == IPW_OK && !replay) /* a replay runs no tool */
        e = ipw_sandbox_probe(cfg->sandbox, eb);
    if (e == IPW_OK)
        e = open_client(r, eb);
    if (e != IPW_OK)
        return e;
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
    if ((e = ipw_telemetry_session_open(&tc, &r->tel, eb)) != IPW_OK)
        return e;
    r->tel_open = true;
    ipw_hardware_label(r->tel.info.gpu_name, r->tel.sys.cpu_brand, label, (unsigned)label_size);
    if ((e = open_output(r, label, eb)) != IPW_OK)
        return e;
    ipw_telemetry_session_log_notes(&r->tel);
    if ((e = ipw_run_queue_fill(&r->q, r->ts.n, task_done, &r->done, "tasks", eb)) != IPW_OK)
        return e;
    int n = cfg->concurrency > 0 ? cfg->concurrency : 1;
    struct ipw_share_ledger_config lc = {.src = &r->tel.src,
                                         .max_queries = 3 * (size_t)n, /* gap, call, next gap */
                                         .mark = mark,
                                         .mark_ud = &r->tel,
                                         .deferred = !r->tel.local};
    if ((e = ipw_share_ledger_create(&lc, &r->ledger, eb)) != IPW_OK)
        return e;
    r->lc = (struct ipw_agent_loop_config){
        .kind = terminus ? IPW_AGENT_TERMINUS : IPW_AGENT_REACT,
        .client = r->client,
        .model = r->served[0] ? r->served : cfg->model,
        .max_turns = cfg->max_turns,
        .task_timeout_ns = cfg->task_timeout_ns,
        .sandbox = cfg->sandbox,
        .limits = &cfg->limits,
        .scripted = sim,
        .script = cfg->script,
        .main_domain = ipw_sources_main_domain(&r->tel.src),
        .src = &r->tel.src,
        .window_check = n == 1 && r->tel.local,
    };
    return write_summary(r, label, eb);
}

ipw_err ipw_agent_run(const struct ipw_agent_run_config *cfg, struct ipw_agent_run_outcome *out,
                      ipw_errbuf *eb)
{
    memset(out, 0, sizeof *out);
    struct run *r = calloc(1, sizeof *r);
    if (!r)
        return ipw_fail(eb, IPW_E_NOMEM, "out of memory starting the run");
    r->cfg = cfg;
    r->q.stop_requested = cfg->stop_requested;
    r->lock_fd = -1;
    pthread_mutex_init(&r->lock, NULL);
    char label[128] = "UNKNOWN_HW";
    ipw_err e = start(r, label, sizeof label, eb);
    if (e == IPW_OK && r->q.npending) {
        int n = ipw_run_queue_threads(&r->q, cfg->concurrency);
        e = ipw_run_workers(n > 256 ? 256 : n, worker, r, "task", eb);
    }
    if (r->tlog) {
        ipw_errbuf fe = {0};
        struct ipw_run_dataset_stats st;
        if (ipw_records_count(r->rlog) &&
            ipw_run_dataset_write_from_log(r->dir, true, &st, &fe) != IPW_OK)
            ipw_warn("cannot write the Arrow dataset (the logs are intact): %s", fe.msg);
        if (write_summary(r, label, &fe) != IPW_OK)
            ipw_warn("cannot write summary.json: %s", fe.msg);
    }
    if (e == IPW_OK && r->write_error != IPW_OK)
        e = ipw_fail(eb, r->write_error,
                     "stopped: %s (finished tasks are kept; fix that and continue with --resume)",
                     r->write_msg);
    snprintf(out->run_dir, sizeof out->run_dir, "%s", r->dir);
    out->tasks_total = r->ts.n;
    out->tasks_done = r->ts.n - r->q.npending + r->finished;
    out->resolved = r->resolved;
    out->failed = r->failed;
    out->energy_joules = r->energy;
    snprintf(out->platform, sizeof out->platform, "%s", r->tel.platform);
    out->telemetry_caps = r->tel.info.caps;
    out->stopped_early = ipw_run_queue_stopped(&r->q);

    if (r->tlog)
        ipw_records_close(r->tlog);
    if (r->rlog)
        ipw_records_close(r->rlog);
    if (r->lock_fd >= 0)
        close(r->lock_fd);
    ipw_records_done_free(&r->done);
    ipw_share_ledger_destroy(r->ledger);
    if (r->tel_open)
        ipw_telemetry_session_close(&r->tel);
    ipw_client_close(r->client);
    ipw_agent_tasks_free(&r->ts);
    ipw_run_queue_free(&r->q);
    pthread_mutex_destroy(&r->lock);
    free(r);
    return e;
}
