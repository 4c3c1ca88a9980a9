/* The lab's engine (SPEC §5.2-5.3): opens the inference client and the telemetry once, then
 * runs batches of live runs, one at a time. Each run: idle baseline, counter snapshots at
 * request start, first token and end (the same synchronous snapshots as `ipw profile`),
 * the server's process-tree CPU time at the same instants, optionally Scaphandre; then the
 * figures of lab/formulas.c, the store, and the events a command line or a web page shows. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "analysis/sha256.h"
#include "ipw/chatstream.h"
#include "ipw/client.h"
#include "ipw/clock.h"
#include "ipw/lab.h"
#include "ipw/log.h"
#include "engine_priv.h"
#include "scaph_poll.h"

#define MAX_CONSECUTIVE_FAILURES 5


/* One run in flight: what the stream callbacks fill. */
struct run_ctx {
    struct ipw_lab_engine *e;
    const char *variant;
    int index;
    bool started, has_first;
    int64_t t_start, t_first;
    struct ipw_lab_cpu_snapshot cpu0;
    bool cpu_ok;
    int64_t start_unix_us; /* wall clock at the start, for NVML's sample timestamps */
};

static void emit(struct ipw_lab_engine *e, const struct ipw_lab_event *ev)
{
    if (e->cfg.on_event)
        e->cfg.on_event(e->cfg.event_ud, ev);
}

static void emit_log(struct ipw_lab_engine *e, const char *variant, int index, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void emit_log(struct ipw_lab_engine *e, const char *variant, int index, const char *fmt, ...)
{
    char text[IPW_ERRMSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    struct ipw_lab_event ev = {.kind = IPW_LAB_EV_LOG, .variant = variant, .run_index = index,
                               .text = text};
    emit(e, &ev);
}

static void emit_metric(struct run_ctx *c, const char *name, double v, const char *unit)
{
    struct ipw_lab_event ev = {.kind = IPW_LAB_EV_METRIC, .variant = c->variant,
                               .run_index = c->index, .name = name, .value = v, .unit = unit};
    emit(c->e, &ev);
}

const char *ipw_lab_event_name(enum ipw_lab_event_kind k)
{
    static const char *const names[] = {"baseline", "snapshot", "first_token", "token", "metric",
                                        "run_done", "batch_done", "error", "progress", "log"};
    return (unsigned)k < sizeof names / sizeof names[0] ? names[k] : "?";
}

void ipw_lab_engine_config_init(struct ipw_lab_engine_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->max_tokens = 1000;
    cfg->temperature = NAN;
    cfg->seed = -1;
    cfg->interval_ns = 50 * IPW_NS_PER_MS;
    cfg->baseline_ns = 500 * IPW_NS_PER_MS;
    cfg->server_pid = "auto";
    cfg->grid_g_per_kwh = IPW_LAB_DEFAULT_GRID_G_PER_KWH;
    cfg->connect_timeout_ns = 10 * IPW_NS_PER_SEC;
    cfg->idle_timeout_ns = 300 * IPW_NS_PER_SEC;
}

/* Sum of the domains in `mask` (joules -> Wh); NaN when the mask is empty. */
static double wh_of(const struct ipw_energy *en, uint32_t mask)
{
    if (!mask)
        return NAN;
    double j = 0;
    for (int d = 0; d < IPW_DOMAIN_COUNT; d++)
        if (mask & (1u << d))
            j += en->joules[d];
    return j / 3600.0;
}

/* The cumulative energy at a boundary, for the live log. */
static double cumulative_j(struct ipw_lab_engine *e, int64_t t)
{
    struct ipw_energy en;
    ipw_errbuf eb = {0};
    if (ipw_attr_energy_at(&e->ts.src, t, &en, &eb) != IPW_OK || !en.valid)
        return NAN;
    return wh_of(&en, en.valid) * 3600.0;
}

static int64_t mark(struct run_ctx *c, int64_t client_ns, const char *phase)
{
    int64_t t = ipw_telemetry_session_mark(&c->e->ts, client_ns);
    struct ipw_lab_event ev = {.kind = IPW_LAB_EV_SNAPSHOT, .variant = c->variant,
                               .run_index = c->index, .phase = phase, .mono_ns = t,
                               .value = c->e->ts.local ? cumulative_j(c->e, t) : NAN};
    emit(c->e, &ev);
    return t;
}

static void on_start(void *ud, int64_t ns)
{
    struct run_ctx *c = ud;
    c->t_start = mark(c, ns, "start");
    c->started = true;
    c->start_unix_us = ipw_real_ns() / 1000;
    if (c->e->tree) {
        ipw_errbuf eb = {0};
        c->cpu_ok = ipw_lab_proctree_snapshot(c->e->tree, &c->cpu0, &eb) == IPW_OK;
        if (!c->cpu_ok)
            emit_log(c->e, c->variant, c->index, "E_llm: %s", eb.msg);
    }
}

static void on_first_token(void *ud, int64_t ns)
{
    struct run_ctx *c = ud;
    if (!c->started)
        return;
    c->t_first = mark(c, ns, "first_token");
    c->has_first = true;
    struct ipw_lab_event ev = {.kind = IPW_LAB_EV_FIRST_TOKEN, .variant = c->variant,
                               .run_index = c->index,
                               .value = (double)(c->t_first - c->t_start) / 1e9};
    emit(c->e, &ev);
}

static void on_delta(void *ud, const char *content, const char *reasoning)
{
    struct run_ctx *c = ud;
    if (!c->e->cfg.on_event)
        return;
    if (reasoning && *reasoning) {
        struct ipw_lab_event ev = {.kind = IPW_LAB_EV_TOKEN, .variant = c->variant,
                                   .run_index = c->index, .text = reasoning, .thinking = true};
        emit(c->e, &ev);
    }
    if (content && *content) {
        struct ipw_lab_event ev = {.kind = IPW_LAB_EV_TOKEN, .variant = c->variant,
                                   .run_index = c->index, .text = content};
        emit(c->e, &ev);
    }
}

static bool should_stop(void *ud)
{
    struct run_ctx *c = ud;
    return atomic_load(&c->e->cancel);
}

/* Idle baseline: mean power per domain over cfg.baseline with nothing in flight. Which domains
 * enter idle_watts is decided after the run, from the domains its energy sums. */
static bool take_baseline(struct ipw_lab_engine *e, struct run_ctx *c, struct ipw_energy *w)
{
    int64_t dur = e->cfg.baseline_ns;
    if (dur <= 0)
        return false;
    int64_t t0 = ipw_telemetry_session_mark(&e->ts, ipw_mono_ns());
    int64_t deadline = t0 + dur;
    while (ipw_mono_ns() < deadline && !atomic_load(&e->cancel)) {
        int64_t left = deadline - ipw_mono_ns();
        ipw_sleep_ns(left > 50 * IPW_NS_PER_MS ? 50 * IPW_NS_PER_MS : left);
    }
    int64_t t1 = ipw_telemetry_session_mark(&e->ts, ipw_mono_ns());
    ipw_errbuf eb = {0};
    if (ipw_telemetry_session_settle(&e->ts, t1, &eb) != IPW_OK ||
        ipw_attr_mean_power(&e->ts.src, t0, t1, w, &eb) != IPW_OK || !w->valid) {
        emit_log(e, c->variant, c->index, "idle baseline unavailable: %s",
                 eb.msg[0] ? eb.msg : "no domain measured");
        return false;
    }
    struct ipw_lab_event ev = {.kind = IPW_LAB_EV_BASELINE, .variant = c->variant,
                               .run_index = c->index, .value = wh_of(w, w->valid) * 3600.0,
                               .seconds = (double)(t1 - t0) / 1e9, .mono_ns = t1};
    emit(e, &ev);
    return true;
}

static void hash_prompt(const char *system, const char *user, char out[65])
{
    struct ipw_sha256 s;
    uint8_t d[32];
    ipw_sha256_init(&s);
    if (system) {
        ipw_sha256_update(&s, system, strlen(system));
        ipw_sha256_update(&s, "\n\n", 2);
    }
    ipw_sha256_update(&s, user, strlen(user));
    ipw_sha256_final(&s, d);
    ipw_sha256_hex(d, out);
}

/* Ollama's prompt_eval_duration + eval_duration, in s; NaN when absent. */
static double server_eval_seconds(const json_t *timings)
{
    json_t *pe = json_object_get(timings, "prompt_eval_duration");
    json_t *ev = json_object_get(timings, "eval_duration");
    if (!json_is_number(pe) && !json_is_number(ev))
        return NAN;
    return ((json_is_number(pe) ? json_number_value(pe) : 0) +
            (json_is_number(ev) ? json_number_value(ev) : 0)) /
           1e9;
}

/* Energies of the three windows, over the domains the total measured. */
static void fill_energy(struct ipw_lab_engine *e, struct run_ctx *c, int64_t t_end,
                        struct ipw_lab_run *r, const struct ipw_energy *base, bool have_base)
{
    ipw_errbuf eb = {0};
    if (ipw_telemetry_session_settle(&e->ts, t_end, &eb) != IPW_OK) {
        emit_log(e, c->variant, c->index, "energy unavailable: %s", eb.msg);
        return;
    }
    int64_t t_first = c->has_first ? c->t_first : c->t_start; /* no token: all prefill */
    struct ipw_energy pre, dec, tot;
    if (ipw_attr_energy(&e->ts.src, c->t_start, t_end, &tot, &eb) != IPW_OK ||
        ipw_attr_energy(&e->ts.src, c->t_start, t_first, &pre, &eb) != IPW_OK ||
        ipw_attr_energy(&e->ts.src, t_first, t_end, &dec, &eb) != IPW_OK || !tot.valid) {
        emit_log(e, c->variant, c->index, "energy unavailable: %s",
                 eb.msg[0] ? eb.msg : "no domain measured over the run");
        return;
    }
    uint32_t mask = tot.valid & pre.valid & dec.valid;
    r->have_energy = mask != 0;
    if (!r->have_energy)
        return;
    r->total_wh = wh_of(&tot, mask);
    r->prefill_wh = wh_of(&pre, mask);
    r->decode_wh = wh_of(&dec, mask);
    r->cpu_wh = wh_of(&tot, mask & (1u << IPW_DOMAIN_CPU));
    r->gpu_wh = wh_of(&tot, mask & (1u << IPW_DOMAIN_GPU));
    ipw_domain main = ipw_sources_main_domain(&e->ts.src);
    ipw_domain src_dom = (mask & (1u << main)) ? main : (ipw_domain)__builtin_ctz(mask);
    snprintf(r->energy_source, sizeof r->energy_source, "%s",
             ipw_energy_source_name((ipw_energy_source)tot.source[src_dom]));
    /* the baseline over exactly these domains; one missing means no comparable baseline */
    if (have_base && (base->valid & mask) == mask)
        r->idle_watts = wh_of(base, mask) * 3600.0;
}

static void fill_tokens(struct ipw_lab_engine *e, struct ipw_lab_run *r,
                        const struct ipw_chat_result *res, const char *system, const char *user,
                        long bare_tokens, bool bare_from_server)
{
    r->input_tokens = res->input_tokens;
    r->output_tokens = res->output_tokens;
    r->tokens_estimated = res->token_source == IPW_TOKENS_ESTIMATED;
    r->server_eval_s = server_eval_seconds(res->server_timings);
    if (!system) {
        r->injection_overhead_tokens = 0;
        r->overhead_estimated = false;
    } else if (bare_from_server && !r->tokens_estimated && r->input_tokens >= 0) {
        long d = r->input_tokens - bare_tokens;
        r->injection_overhead_tokens = d > 0 ? d : 0;
    } else {
        long d = ipw_lab_estimate_prompt_tokens(system, user) -
                 ipw_lab_estimate_prompt_tokens(NULL, user);
        r->injection_overhead_tokens = d > 0 ? d : 0;
        r->overhead_estimated = true;
    }
    (void)e;
}

static void describe_answer(struct ipw_lab_run *r, const struct ipw_chat_result *res)
{
    const char *t = res->content && *res->content ? res->content : res->reasoning;
    ipw_stream_clean(r->answer_excerpt, sizeof r->answer_excerpt, t ? t : "", t ? strlen(t) : 0);
}

static void emit_figures(struct run_ctx *c, const struct ipw_lab_run *r)
{
    emit_metric(c, "prefill_wh", r->prefill_wh, "Wh");
    emit_metric(c, "decode_wh", r->decode_wh, "Wh");
    emit_metric(c, "total_wh", r->total_wh, "Wh");
    emit_metric(c, "closure_error_wh", r->closure_error_wh, "Wh");
    emit_metric(c, "idle_watts", r->idle_watts, "W");
    emit_metric(c, "prefill_active_wh", r->prefill_active_wh, "Wh");
    emit_metric(c, "decode_active_wh", r->decode_active_wh, "Wh");
    emit_metric(c, "total_active_wh", r->total_active_wh, "Wh");
    emit_metric(c, "wh_per_1000_etokens", r->wh_per_1000_etokens, "Wh");
    emit_metric(c, "e_llm_wh", r->e_llm_wh, "Wh");
    emit_metric(c, "m_eff_wh", r->m_eff_wh, "Wh");
    emit_metric(c, "carbon_g", r->carbon_g, "g");
}

/* The tree's share of the GPU over the run, from the collector's per-process utilisation
 * (NVML); left NaN where the collector has none, said once per run in the log. */
static void gpu_share(struct ipw_lab_engine *e, struct run_ctx *c, struct ipw_lab_run *r)
{
    if (!e->ts.local || !e->ts.collector ||
        !(ipw_collector_info(e->ts.collector)->caps & IPW_CAP_PROCESS_GPU_SHARE))
        return;
    size_t n;
    const int *pids = ipw_lab_proctree_pids(e->tree, &n);
    ipw_errbuf eb = {0};
    double share;
    if (ipw_collector_process_gpu_share(e->ts.collector, c->start_unix_us, pids, n, &share,
                                        &eb) == IPW_OK)
        r->gpu_share = share;
    else
        emit_log(e, c->variant, c->index, "E_llm: no GPU share: %s", eb.msg);
}

/* One live run of one variant. Fills r in every case (r->error when it failed). */
static void run_one(struct ipw_lab_engine *e, const struct ipw_lab_variant *v, int index,
                    long bare_tokens, bool bare_from_server, struct ipw_lab_run *r)
{
    ipw_lab_run_init(r);
    snprintf(r->variant, sizeof r->variant, "%s", v->name);
    snprintf(r->model, sizeof r->model, "%s", e->model);
    snprintf(r->client, sizeof r->client, "%s", e->cfg.client);
    snprintf(r->collector, sizeof r->collector, "%s", e->ts.collector_name);
    r->batch_index = index;
    r->started_unix_ns = ipw_real_ns();
    char *system = NULL;
    ipw_errbuf eb = {0};
    if (ipw_lab_compose_system(&v->prompt, &system, &eb) != IPW_OK) {
        snprintf(r->error, sizeof r->error, "%s", eb.msg);
        return;
    }
    hash_prompt(system, v->prompt.user, r->prompt_sha256);

    struct run_ctx c = {.e = e, .variant = v->name, .index = index};
    struct ipw_energy base;
    memset(&base, 0, sizeof base);
    bool have_base = take_baseline(e, &c, &base);
    struct lab_scaph_poller *scaph = NULL;
    if (e->scaph_url[0] && lab_scaph_start(e->scaph_url, e->scaph_match,
                                           IPW_LAB_SCAPH_MIN_POLL_NS, &scaph, &eb) != IPW_OK) {
        emit_log(e, v->name, index, "Scaphandre not used for this run: %s", eb.msg);
        scaph = NULL;
    }

    struct ipw_stream_events ev = {.ud = &c,
                                   .on_start = on_start,
                                   .on_first_token = on_first_token,
                                   .on_delta = on_delta,
                                   .should_stop = should_stop};
    struct ipw_chat_request req = {.model = e->model, .prompt = v->prompt.user,
                                   .system_prompt = system};
    struct ipw_chat_result res;
    memset(&res, 0, sizeof res);
    e->client->ops->chat(e->client, &req, &ev, &res);
    int64_t t_end = c.started ? mark(&c, res.end_ns, "end") : 0;
    struct ipw_lab_cpu_snapshot cpu1;
    if (c.cpu_ok && ipw_lab_proctree_snapshot(e->tree, &cpu1, &eb) == IPW_OK) {
        ipw_lab_cpu_shares(&c.cpu0, &cpu1, &r->cpu_share_busy, &r->cpu_share_capacity);
        gpu_share(e, &c, r);
    }
    if (scaph) {
        double j;
        int polls;
        if (lab_scaph_stop(scaph, &j, &polls, &eb) == IPW_OK && polls > 0)
            r->scaph_wh = j / 3600.0;
        else if (eb.msg[0])
            emit_log(e, v->name, index, "Scaphandre: %s", eb.msg);
    }

    if (c.started) {
        r->latency_s = (double)(t_end - c.t_start) / 1e9;
        r->ttft_s = c.has_first ? (double)(c.t_first - c.t_start) / 1e9 : NAN;
        r->decode_s = c.has_first ? (double)(t_end - c.t_first) / 1e9 : NAN;
        if (res.error == IPW_OK)
            fill_energy(e, &c, t_end, r, &base, have_base);
    }
    if (res.error != IPW_OK) {
        snprintf(r->error, sizeof r->error, "%s", res.error_msg);
    } else {
        fill_tokens(e, r, &res, system, v->prompt.user, bare_tokens, bare_from_server);
        describe_answer(r, &res);
    }
    ipw_lab_run_derive(r, e->cfg.grid_g_per_kwh);
    if (!r->error[0])
        emit_figures(&c, r);
    ipw_chat_result_free(&res);
    free(system);
}

/* The bare prompt's token count from the server (a 1-token request), for the injection
 * overhead; false when the server gives no count (the overhead is then estimated). */
static bool measure_bare(struct ipw_lab_engine *e, const char *user, long *tokens)
{
    if (!e->probe)
        return false;
    struct ipw_chat_request req = {.model = e->model, .prompt = user};
    struct ipw_chat_result res;
    memset(&res, 0, sizeof res);
    struct ipw_stream_events ev = {0};
    e->probe->ops->chat(e->probe, &req, &ev, &res);
    bool ok = res.error == IPW_OK && res.token_source == IPW_TOKENS_SERVER && res.input_tokens >= 0;
    *tokens = res.input_tokens;
    ipw_chat_result_free(&res);
    return ok;
}

static ipw_err store_run(struct ipw_lab_engine *e, int64_t batch, const struct ipw_lab_run *r,
                         const struct ipw_lab_variant *v, ipw_errbuf *eb)
{
    if (!e->cfg.store)
        return IPW_OK;
    char *system = NULL;
    ipw_lab_compose_system(&v->prompt, &system, NULL);
    size_t n = (system ? strlen(system) + 2 : 0) + strlen(v->prompt.user) + 1;
    char *text = malloc(n);
    ipw_err rc = IPW_E_NOMEM;
    if (text) {
        snprintf(text, n, "%s%s%s", system ? system : "", system ? "\n\n" : "", v->prompt.user);
        rc = ipw_lab_store_add_run(e->cfg.store, batch, r, text, NULL, eb);
    } else {
        ipw_fail(eb, rc, "out of memory saving a run");
    }
    free(text);
    free(system);
    return rc;
}

static json_t *batch_summary_json(const struct ipw_lab_batch *b, const struct ipw_lab_run *runs,
                                  size_t n)
{
    json_t *o = json_object(), *vars = json_array();
    for (size_t i = 0; i < b->n_variants; i++) {
        struct ipw_lab_summary s;
        if (ipw_lab_summarize(runs, n, b->variant[i].name, &s, NULL) == IPW_OK)
            json_array_append_new(vars, ipw_lab_summary_to_json(&s));
    }
    json_object_set_new(o, "variants", vars);
    return o;
}

ipw_err ipw_lab_engine_batch(struct ipw_lab_engine *e, const struct ipw_lab_batch *b,
                             struct ipw_lab_batch_result *res, ipw_errbuf *eb)
{
    memset(res, 0, sizeof *res);
    if (b->n_variants == 0 || b->n_variants > IPW_LAB_MAX_VARIANTS || b->runs < 1 ||
        (size_t)b->runs * b->n_variants > IPW_LAB_MAX_RUNS)
        return ipw_fail(eb, IPW_E_INVALID,
                        "a batch needs 1 to %d variants and 1 to %d runs in all (got %zu x %d)",
                        IPW_LAB_MAX_VARIANTS, IPW_LAB_MAX_RUNS, b->n_variants, b->runs);
    for (size_t i = 0; i < b->n_variants; i++)
        if (!b->variant[i].prompt.user || !*b->variant[i].prompt.user)
            return ipw_fail(eb, IPW_E_INVALID, "variant '%s' has an empty prompt",
                            b->variant[i].name);
    bool expected = false;
    if (!atomic_compare_exchange_strong(&e->busy, &expected, true))
        return ipw_fail(eb, IPW_E_EXISTS, "a batch is already running; wait for it or cancel it");
    atomic_store(&e->cancel, false);
    size_t total = (size_t)b->runs * b->n_variants;
    res->runs = calloc(total, sizeof *res->runs);
    ipw_err rc = res->runs ? IPW_OK : ipw_fail(eb, IPW_E_NOMEM, "out of memory for %zu runs", total);
    if (rc == IPW_OK && e->cfg.store)
        rc = ipw_lab_store_begin_batch(e->cfg.store, b->kind ? b->kind : "run", e->model,
                                       e->cfg.client, (int)total, &res->batch_id, eb);
    /* the bare prompt's count, once per batch (variants share the user prompt or not: once
     * per distinct user prompt would be exact; the first variant's is what compare needs) */
    long bare = -1;
    bool bare_ok = false;
    for (size_t i = 0; rc == IPW_OK && i < b->n_variants; i++) {
        char *sys = NULL;
        ipw_lab_compose_system(&b->variant[i].prompt, &sys, NULL);
        if (sys) {
            bare_ok = measure_bare(e, b->variant[0].prompt.user, &bare);
            free(sys);
            break;
        }
    }
    int failures = 0;
    int64_t t_begin = ipw_mono_ns();
    char last_error[IPW_ERRMSG_MAX] = "";
    for (int k = 0; rc == IPW_OK && k < b->runs; k++) {
        for (size_t vi = 0; rc == IPW_OK && vi < b->n_variants; vi++) {
            if (atomic_load(&e->cancel)) {
                rc = ipw_fail(eb, IPW_E_CANCELLED, "cancelled after %zu of %zu runs", res->n,
                              total);
                break;
            }
            double eta = res->n ? (double)(ipw_mono_ns() - t_begin) / 1e9 / (double)res->n *
                                      (double)(total - res->n)
                                : NAN;
            struct ipw_lab_event pe = {.kind = IPW_LAB_EV_PROGRESS, .run_index = (int)res->n,
                                       .variant = b->variant[vi].name, .runs_done = (int)res->n,
                                       .runs_total = (int)total, .eta_s = eta};
            emit(e, &pe);
            struct ipw_lab_run *r = &res->runs[res->n];
            run_one(e, &b->variant[vi], k, bare, bare_ok, r);
            res->n++;
            ipw_errbuf seb = {0};
            if (store_run(e, res->batch_id, r, &b->variant[vi], &seb) != IPW_OK) {
                rc = ipw_fail(eb, seb.code, "the run finished but could not be saved: %s",
                              seb.msg);
                break;
            }
            if (r->error[0]) {
                struct ipw_lab_event ee = {.kind = IPW_LAB_EV_ERROR, .variant = r->variant,
                                           .run_index = k, .text = r->error, .run = r};
                emit(e, &ee);
                snprintf(last_error, sizeof last_error, "%s", r->error);
                if (atomic_load(&e->cancel))
                    rc = ipw_fail(eb, IPW_E_CANCELLED, "cancelled during run %zu of %zu",
                                  res->n, total);
                else if (++failures >= MAX_CONSECUTIVE_FAILURES)
                    rc = ipw_fail(eb, IPW_E_IO, "stopped after %d failed runs in a row: %s",
                                  failures, last_error);
                continue;
            }
            failures = 0;
            struct ipw_lab_event de = {.kind = IPW_LAB_EV_RUN_DONE, .variant = r->variant,
                                       .run_index = k, .run = r};
            emit(e, &de);
        }
    }
    if (e->cfg.store && res->batch_id > 0) {
        json_t *sum = batch_summary_json(b, res->runs, res->n);
        ipw_errbuf seb = {0};
        if (ipw_lab_store_end_batch(e->cfg.store, res->batch_id, sum, &seb) != IPW_OK && rc == IPW_OK)
            rc = ipw_fail(eb, seb.code, "%s", seb.msg);
        json_decref(sum);
    }
    struct ipw_lab_event be = {.kind = IPW_LAB_EV_BATCH_DONE, .run_index = -1,
                               .runs_done = (int)res->n, .runs_total = (int)total};
    emit(e, &be);
    atomic_store(&e->busy, false);
    return rc;
}

void ipw_lab_batch_result_free(struct ipw_lab_batch_result *r)
{
    free(r->runs);
    r->runs = NULL;
    r->n = 0;
}

void ipw_lab_engine_cancel(struct ipw_lab_engine *e) { atomic_store(&e->cancel, true); }
bool ipw_lab_engine_busy(const struct ipw_lab_engine *e)
{
    return atomic_load(&((struct ipw_lab_engine *)e)->busy);
}
const char *ipw_lab_engine_collector(const struct ipw_lab_engine *e) { return e->ts.collector_name; }

ipw_err ipw_lab_engine_models(struct ipw_lab_engine *e, json_t **models, ipw_errbuf *eb)
{
    *models = NULL;
    if (!e->client->ops->list_models)
        return ipw_fail(eb, IPW_E_UNSUPPORTED, "the %s client cannot list models",
                        e->cfg.client);
    return e->client->ops->list_models(e->client, models, eb);
}
