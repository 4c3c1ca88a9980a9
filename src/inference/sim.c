/* The sim client (SPEC §3.6): answers every prompt with a labelled placeholder after the
 * prefill time and at the decode rate that the roofline model gives for a model spec on a
 * hardware spec, and records each request's phases in the shared sim activity state so the
 * sim collector's modelled power follows. Nothing here is measured. docs/sim.md. */
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ipw/buf.h"
#include "ipw/client.h"
#include "ipw/clock.h"
#include "ipw/perfmodel.h"
#include "ipw/published_accuracy.h"
#include "ipw/sim.h"

#define DEFAULT_HARDWARE "H100"
#define DEFAULT_MODEL "llama-3.1-8b"
#define DEFAULT_MAX_TOKENS 4096
#define DEFAULT_OUT_MIN 16
#define DEFAULT_OUT_MAX 1024

struct sim_model {
    struct ipw_perf perf;
    bool usable;
    char why[IPW_ERRMSG_MAX]; /* why not usable */
};

struct sim_client {
    struct ipw_hw_spec hw;
    struct sim_model *models;
    size_t nmodels, models_cap, dflt;
    bool model_forced; /* model= given: it serves every request */
    long max_tokens, out_min, out_max, out_fixed;
    double time_scale;
    uint64_t seed;
    char system[4096]; /* system_prompt/system from the params */
    int handle;
};

/* ---- parameters ------------------------------------------------------------------------- */

static ipw_err param_str(const json_t *params, const char *key, const char **out, ipw_errbuf *eb)
{
    json_t *v = json_object_get(params, key);
    if (!v)
        return IPW_OK;
    if (!json_is_string(v) || !*json_string_value(v))
        return ipw_fail(eb, IPW_E_INVALID,
                        "sim client: --client-param %s must be a non-empty text value", key);
    *out = json_string_value(v);
    return IPW_OK;
}

static ipw_err param_num(const json_t *params, const char *key, double lo, double hi,
                         bool integer, double *out, ipw_errbuf *eb)
{
    json_t *v = json_object_get(params, key);
    if (!v)
        return IPW_OK;
    double x;
    char *end = NULL;
    if (json_is_number(v))
        x = json_number_value(v);
    else if (json_is_string(v) && (x = strtod(json_string_value(v), &end), end && !*end) &&
             end != json_string_value(v))
        ;
    else
        x = NAN;
    if (!isfinite(x) || x < lo || x > hi || (integer && x != floor(x)))
        return ipw_fail(eb, IPW_E_INVALID,
                        "sim client: --client-param %s must be %s from %g to %g", key,
                        integer ? "a whole number" : "a number", lo, hi);
    *out = x;
    return IPW_OK;
}

struct opts {
    const char *hardware, *model, *dtype, *kv_dtype, *system;
    double max_tokens, time_scale, out_min, out_max, out_fixed, seed;
};

static ipw_err parse_params(const json_t *p, struct opts *o, ipw_errbuf *eb)
{
    *o = (struct opts){.max_tokens = DEFAULT_MAX_TOKENS,
                       .time_scale = 1,
                       .out_min = DEFAULT_OUT_MIN,
                       .out_max = DEFAULT_OUT_MAX};
    if (!p)
        return IPW_OK;
    if (!json_is_object(p))
        return ipw_fail(eb, IPW_E_INVALID, "sim client: the client parameters must be an object");
    ipw_err e;
    if ((e = param_str(p, "hardware", &o->hardware, eb)) != IPW_OK ||
        (e = param_str(p, "model", &o->model, eb)) != IPW_OK ||
        (e = param_str(p, "dtype", &o->dtype, eb)) != IPW_OK ||
        (e = param_str(p, "kv_dtype", &o->kv_dtype, eb)) != IPW_OK ||
        (e = param_num(p, "max_tokens", 1, 1e8, true, &o->max_tokens, eb)) != IPW_OK ||
        (e = param_num(p, "time_scale", 0, 1e6, false, &o->time_scale, eb)) != IPW_OK ||
        (e = param_num(p, "output_tokens_min", 1, 1e8, true, &o->out_min, eb)) != IPW_OK ||
        (e = param_num(p, "output_tokens_max", 1, 1e8, true, &o->out_max, eb)) != IPW_OK ||
        (e = param_num(p, "output_tokens", 1, 1e8, true, &o->out_fixed, eb)) != IPW_OK ||
        (e = param_num(p, "seed", -9.007199254740992e15, 9.007199254740992e15, true, &o->seed,
                       eb)) != IPW_OK)
        return e;
    if (o->out_max < o->out_min)
        return ipw_fail(eb, IPW_E_INVALID,
                        "sim client: output_tokens_max (%g) is below output_tokens_min (%g)",
                        o->out_max, o->out_min);
    /* The system prompt counts towards the prompt tokens, as it would on a server. */
    const char *sys = json_string_value(json_object_get(p, "system_prompt"));
    if (!sys)
        sys = json_string_value(json_object_get(p, "system"));
    o->system = sys;
    return IPW_OK;
}

/* ---- open / close ----------------------------------------------------------------------- */

static ipw_err add_model(struct sim_client *sc, const struct ipw_model_spec *m,
                         const struct ipw_perf_options *po)
{
    for (size_t i = 0; i < sc->nmodels; i++)
        if (strcmp(sc->models[i].perf.model.name, m->name) == 0)
            return IPW_OK;
    if (ipw_grow(&sc->models, &sc->models_cap, sc->nmodels + 1, sizeof *sc->models, SIZE_MAX) !=
        IPW_OK)
        return IPW_E_NOMEM;
    struct sim_model *sm = &sc->models[sc->nmodels++];
    memset(sm, 0, sizeof *sm);
    ipw_errbuf eb = {0};
    sm->usable = ipw_perf_init(&sm->perf, &sc->hw, m, po, &eb) == IPW_OK &&
                 ipw_perf_check_fit(&sm->perf, 0, &eb) == IPW_OK;
    if (!sm->usable) {
        snprintf(sm->why, sizeof sm->why, "%s", eb.msg);
        if (!sm->perf.model.name[0])
            sm->perf.model = *m;
    }
    return IPW_OK;
}

static size_t find_model(const struct sim_client *sc, const char *name)
{
    for (size_t i = 0; i < sc->nmodels; i++)
        if (strcmp(sc->models[i].perf.model.name, name) == 0)
            return i;
    return 0;
}

static void sim_close(struct ipw_client *c)
{
    struct sim_client *sc = c->priv;
    if (!sc)
        return;
    if (sc->handle)
        ipw_sim_unregister_client(sc->handle);
    free(sc->models);
    free(sc);
    c->priv = NULL;
}

static ipw_err sim_open(struct ipw_client *c, ipw_errbuf *eb)
{
    if (c->cfg.base_url && c->cfg.base_url[0] && strcmp(c->cfg.base_url, "sim://local") != 0)
        return ipw_fail(eb, IPW_E_INVALID,
                        "the sim client runs in-process and takes no --client-base-url "
                        "(got '%s')",
                        c->cfg.base_url);
    snprintf(c->base_url, sizeof c->base_url, "sim://local");
    struct opts o;
    ipw_err e = parse_params(c->cfg.params, &o, eb);
    if (e != IPW_OK)
        return e;
    struct sim_client *sc = calloc(1, sizeof *sc);
    if (!sc)
        return ipw_fail(eb, IPW_E_NOMEM, "out of memory opening the sim client");
    c->priv = sc;
    sc->max_tokens = (long)o.max_tokens;
    sc->time_scale = o.time_scale;
    sc->out_min = (long)o.out_min;
    sc->out_max = (long)o.out_max;
    sc->out_fixed = (long)o.out_fixed;
    sc->seed = (uint64_t)(int64_t)o.seed;
    snprintf(sc->system, sizeof sc->system, "%s", o.system ? o.system : "");
    if ((e = ipw_hw_spec_load(o.hardware ? o.hardware : DEFAULT_HARDWARE, &sc->hw, eb)) !=
        IPW_OK)
        goto fail;
    struct ipw_perf_options po = {.weight_dtype = o.dtype, .kv_dtype = o.kv_dtype};
    struct ipw_model_spec ms;
    if ((e = ipw_model_spec_load(o.model ? o.model : DEFAULT_MODEL, &ms, eb)) != IPW_OK)
        goto fail;
    sc->model_forced = o.model != NULL;
    if (add_model(sc, &ms, &po) != IPW_OK)
        goto nomem;
    /* Every bundled model is ready for requests that name one ("--model llama3.2:1b"). */
    json_t *names = ipw_model_spec_names();
    size_t i;
    json_t *v;
    json_array_foreach(names, i, v)
    {
        struct ipw_model_spec other;
        if (ipw_model_spec_load(json_string_value(v), &other, NULL) == IPW_OK &&
            add_model(sc, &other, &po) != IPW_OK) {
            json_decref(names);
            goto nomem;
        }
    }
    json_decref(names);
    sc->dflt = find_model(sc, ms.name);
    const struct sim_model *d = &sc->models[sc->dflt];
    if (!d->usable) {
        e = ipw_fail(eb, IPW_E_INVALID, "sim client: %s", d->why);
        goto fail;
    }
    /* a user spec file is announced by its path, so that the collector can load it too */
    bool bundled = strncmp(sc->hw.origin, "embedded:", 9) == 0;
    sc->handle = ipw_sim_register_client(bundled ? sc->hw.name : sc->hw.origin,
                                         d->perf.weight_bytes);
    return IPW_OK;
nomem:
    e = ipw_fail(eb, IPW_E_NOMEM, "out of memory opening the sim client");
fail:
    sim_close(c);
    return e;
}

static ipw_err sim_health(struct ipw_client *c, ipw_errbuf *eb)
{
    (void)c, (void)eb;
    return IPW_OK; /* nothing to reach: the model is in-process */
}

static ipw_err sim_list_models(struct ipw_client *c, json_t **models, ipw_errbuf *eb)
{
    struct sim_client *sc = c->priv;
    json_t *a = json_array();
    if (!a)
        return ipw_fail(eb, IPW_E_NOMEM, "out of memory listing sim models");
    for (size_t i = 0; i < sc->nmodels; i++)
        json_array_append_new(a, json_string(sc->models[i].perf.model.name));
    *models = a;
    return IPW_OK;
}

/* A name serves when model= forces a spec, or when it matches a spec by name or alias
 * ("llama3.1:8b", "meta-llama/Llama-3.1-8B-Instruct"); the spec must fit the hardware. A name
 * matching none is refused here (the profiler asks before measuring), though chat would model it
 * as the default spec. */
static ipw_err sim_check_model(struct ipw_client *c, const char *model, ipw_errbuf *eb)
{
    struct sim_client *sc = c->priv;
    const struct sim_model *sm = NULL;
    if (sc->model_forced)
        sm = &sc->models[sc->dflt];
    for (size_t i = 0; !sm && model && i < sc->nmodels; i++)
        if (ipw_model_spec_matches(&sc->models[i].perf.model, model))
            sm = &sc->models[i];
    if (!sm) {
        char avail[512] = "";
        for (size_t i = 0; i < sc->nmodels; i++) {
            size_t len = strlen(avail);
            snprintf(avail + len, sizeof avail - len, "%s%s", len ? ", " : "",
                     sc->models[i].perf.model.name);
        }
        return ipw_fail(eb, IPW_E_NOTFOUND,
                        "model '%s' matches no model spec of the sim backend (available: %s); "
                        "check --model, or model any name as one of them with --client-param "
                        "model=NAME",
                        model ? model : "", avail);
    }
    if (!sm->usable)
        return ipw_fail(eb, IPW_E_INVALID, "sim: model %s on %s: %s", sm->perf.model.name,
                        sc->hw.name, sm->why);
    return IPW_OK;
}

/* ---- chat ------------------------------------------------------------------------------- */

static ipw_err fail_result(struct ipw_chat_result *res, ipw_err code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static ipw_err fail_result(struct ipw_chat_result *res, ipw_err code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(res->error_msg, sizeof res->error_msg, fmt, ap);
    va_end(ap);
    res->error = code;
    return code;
}

static void sleep_until_scaled(int64_t origin, double modelled_s, double scale)
{
    if (scale > 0)
        ipw_sleep_until_ns(origin + llround(modelled_s * scale * 1e9));
}

static json_t *timings_json(const struct sim_client *sc, const struct sim_model *sm,
                            const struct ipw_chat_request *req, bool matched,
                            const struct ipw_perf_request *plan)
{
    json_t *t = json_object();
    json_object_set_new(t, "modelled", json_true());
    json_object_set_new(t, "backend", json_string("ipw-sim"));
    json_object_set_new(t, "hardware", json_string(sc->hw.name));
    json_object_set_new(t, "model_spec", json_string(sm->perf.model.name));
    if (req->model && *req->model)
        json_object_set_new(t, "model_spec_matched", json_boolean(matched));
    json_object_set_new(t, "weight_dtype", json_string(sm->perf.weight_dtype));
    json_object_set_new(t, "kv_dtype", json_string(sm->perf.kv_dtype));
    json_object_set_new(t, "prompt_tokens", json_integer(plan->input_tokens));
    json_object_set_new(t, "completion_tokens", json_integer(plan->output_tokens));
    json_object_set_new(t, "total_tokens",
                        json_integer(plan->input_tokens + plan->output_tokens));
    json_object_set_new(t, "prompt_tokens_estimated", json_true());
    json_object_set_new(t, "time_scale", json_real(sc->time_scale));
    json_object_set_new(t, "prefill_seconds", json_real(plan->prefill_s));
    json_object_set_new(t, "decode_seconds", json_real(plan->decode_s));
    json_object_set_new(t, "prefill_power_utilisation", json_real(plan->prefill_util));
    json_object_set_new(t, "decode_power_utilisation", json_real(plan->decode_util));
    json_object_set_new(t, "prefill_joules", json_real(plan->prefill_j));
    json_object_set_new(t, "decode_joules", json_real(plan->decode_j));
    json_object_set_new(t, "flops_per_request", json_real(plan->flops));
    json_object_set_new(t, "macs_per_request", json_real(plan->macs));
    return t;
}

/* A conversation's text as one prompt (the model reads all of it at prefill); tool calls count
 * by their arguments. NULL when out of memory (the request then counts as empty). */
static char *joined_messages(const json_t *messages)
{
    struct ipw_buf b;
    ipw_buf_init(&b, (size_t)1 << 30);
    size_t i;
    const json_t *m;
    json_array_foreach(messages, i, m)
    {
        const json_t *c = json_object_get(m, "content");
        ipw_buf_put(&b, json_is_string(c) ? json_string_value(c) : "", json_string_length(c));
        ipw_buf_puts(&b, "\n");
        char *calls = json_dumps(json_object_get(m, "tool_calls"), JSON_COMPACT | JSON_ENCODE_ANY);
        if (calls) {
            ipw_buf_puts(&b, calls);
            ipw_buf_puts(&b, "\n");
            free(calls);
        }
    }
    char *out = NULL;
    if (ipw_buf_take(&b, &out, NULL) != IPW_OK)
        return NULL;
    return out;
}

/* Whether this answer would have been right, modelled: drawn (per item and seed) from the
 * model's published accuracy on the benchmark that stands for the item's kind. Only mcq and
 * exact items with a reference, and only models with a published figure; NULL otherwise (the
 * placeholder then stays unevaluated). */
static json_t *modelled_correctness(const struct sim_client *sc, const char *model,
                                    const struct ipw_chat_request *req)
{
    const char *kind = req->item_kind;
    if (!kind || (strcmp(kind, "mcq") != 0 && strcmp(kind, "exact") != 0) ||
        !req->item_reference || !*req->item_reference)
        return NULL;
    struct ipw_published_accuracy pa;
    if (ipw_published_accuracy_get(model, kind, &pa, NULL) != IPW_OK)
        return NULL;
    json_t *o = json_object();
    json_object_set_new(o, "correct",
                        json_boolean(ipw_modelled_correct(req->prompt, sc->seed, pa.accuracy)));
    json_object_set_new(o, "label", json_string("modelled accuracy"));
    json_object_set_new(o, "probability", json_real(pa.accuracy));
    json_object_set_new(o, "benchmark", json_string(pa.benchmark));
    json_object_set_new(o, "source", json_string(pa.source));
    json_object_set_new(o, "seed", json_integer((json_int_t)sc->seed));
    return o;
}

static ipw_err sim_chat(struct ipw_client *c, const struct ipw_chat_request *req,
                        const struct ipw_stream_events *ev, struct ipw_chat_result *res)
{
    struct sim_client *sc = c->priv;
    static const struct ipw_stream_events no_events = {0};
    if (!ev)
        ev = &no_events;
    memset(res, 0, sizeof *res);
    res->input_tokens = res->output_tokens = -1;
    res->token_source = IPW_TOKENS_SERVER;
    char *content = NULL, *joined = NULL;

    /* which model: model= forces one; else the request's name when it matches a spec */
    size_t idx = sc->dflt;
    bool matched = false;
    if (!sc->model_forced && req->model && *req->model)
        for (size_t i = 0; i < sc->nmodels && !matched; i++)
            if (ipw_model_spec_matches(&sc->models[i].perf.model, req->model)) {
                idx = i;
                matched = true;
            }
    const struct sim_model *sm = &sc->models[idx];
    const struct ipw_perf *pm = &sm->perf;
    if (!sm->usable) {
        fail_result(res, IPW_E_INVALID, "sim: model %s on %s: %s", pm->model.name, sc->hw.name,
                    sm->why);
        goto done;
    }
    const char *system = req->system_prompt ? req->system_prompt : sc->system;
    joined = req->messages ? joined_messages(req->messages) : NULL;
    const char *prompt = joined ? joined : req->prompt ? req->prompt : "";
    long n_in = ipw_sim_estimate_chat_tokens(system, prompt);
    long ctx = pm->model.max_context;
    if (n_in >= ctx) {
        fail_result(res, IPW_E_RANGE,
                    "sim: the prompt's %ld estimated tokens exceed the %ld-token context of %s",
                    n_in, ctx, pm->model.name);
        goto done;
    }
    long want = sc->out_fixed > 0 ? sc->out_fixed
                                  : ipw_sim_output_tokens(system, prompt, sc->seed, sc->out_min,
                                                          sc->out_max);
    long n_out = want;
    if (n_out > sc->max_tokens)
        n_out = sc->max_tokens;
    if (req->max_tokens > 0 && n_out > req->max_tokens)
        n_out = req->max_tokens;
    if (n_out > ctx - n_in)
        n_out = ctx - n_in;
    ipw_errbuf fit = {0};
    if (ipw_perf_check_fit(pm, (double)(n_in + n_out), &fit) != IPW_OK) {
        fail_result(res, IPW_E_RANGE, "sim: %s", fit.msg);
        goto done;
    }
    struct ipw_perf_request plan;
    ipw_perf_request(pm, n_in, n_out, &plan);

    size_t label = strlen(IPW_SIM_RESPONSE_LABEL), filler = strlen(IPW_SIM_FILLER_TOKEN);
    content = malloc(label + (size_t)(n_out - 1) * filler + 1);
    if (!content) {
        fail_result(res, IPW_E_NOMEM, "sim: out of memory for a %ld-token response", n_out);
        goto done;
    }
    memcpy(content, IPW_SIM_RESPONSE_LABEL, label + 1);
    size_t len = label;

    struct ipw_sim_load pre = {plan.prefill_util, plan.prefill_frac_compute,
                               plan.prefill_frac_memory};
    struct ipw_sim_load dec = {plan.decode_util, plan.decode_frac_compute,
                               plan.decode_frac_memory};
    int slot;
    int64_t t0;
    ipw_errbuf beb = {0};
    if (ipw_sim_activity_begin(&pre, pm->weight_bytes, (double)n_in * pm->kv_bytes_per_token,
                               &slot, &t0, &beb) != IPW_OK) {
        fail_result(res, beb.code, "sim: %s", beb.msg);
        goto done;
    }
    res->start_ns = t0;
    if (ev->on_start)
        ev->on_start(ev->ud, t0);
    sleep_until_scaled(t0, plan.prefill_s, sc->time_scale);

    int64_t t1 = ipw_sim_activity_decode(slot, &dec);
    res->first_token_ns = t1;
    if (ev->on_first_token)
        ev->on_first_token(ev->ud, t1);
    if (ev->on_delta)
        ev->on_delta(ev->ud, IPW_SIM_RESPONSE_LABEL, "");
    /* Token j+1 comes out of the decode step that reads the prompt and the j tokens before
     * it; deadlines run from the first token so that lateness never accumulates. */
    double elapsed = 0;
    for (long j = 1; j < n_out; j++) {
        if (ev->should_stop && ev->should_stop(ev->ud)) {
            res->end_ns = ipw_sim_activity_end(slot);
            fail_result(res, IPW_E_CANCELLED, "sim: cancelled while streaming, after %ld tokens",
                        j);
            goto done;
        }
        struct ipw_perf_step st;
        ipw_perf_decode_step(pm, n_in + j - 1, &st);
        elapsed += st.time_s;
        sleep_until_scaled(t1, elapsed, sc->time_scale);
        ipw_sim_activity_kv(slot, (double)(n_in + j) * pm->kv_bytes_per_token);
        memcpy(content + len, IPW_SIM_FILLER_TOKEN, filler + 1);
        len += filler;
        if (ev->on_delta)
            ev->on_delta(ev->ud, IPW_SIM_FILLER_TOKEN, "");
    }
    res->end_ns = ipw_sim_activity_end(slot);

    res->input_tokens = n_in;
    res->output_tokens = n_out;
    res->http_status = 200; /* a completed answer, as a server would report it */
    snprintf(res->finish_reason, sizeof res->finish_reason, "%s",
             n_out < want ? "length" : "stop");
    res->server_timings = timings_json(sc, sm, req, matched, &plan);
    json_t *mc = modelled_correctness(sc, pm->model.name, req);
    if (mc)
        json_object_set_new(res->server_timings, "modelled_correctness", mc);
    res->error = IPW_OK;
done:
    free(joined);
    res->content = content ? content : strdup("");
    res->reasoning = strdup("");
    if (!res->content || !res->reasoning) {
        free(res->content);
        free(res->reasoning);
        res->content = res->reasoning = NULL;
        if (res->error == IPW_OK)
            fail_result(res, IPW_E_NOMEM, "sim: out of memory storing the response");
    }
    return res->error;
}

const struct ipw_client_ops ipw_client_sim = {
    .name = "sim",
    .description = "built-in modelled server (roofline model); energies modelled, not measured",
    .default_base_url = NULL, /* no server: nothing to connect to */
    .open = sim_open,
    .health = sim_health,
    .list_models = sim_list_models,
    .check_model = sim_check_model,
    .chat = sim_chat,
    .close = sim_close,
};
