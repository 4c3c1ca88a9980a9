/* The web layer's engine backed by the lab (ipw/labweb_lab.h): a job request (JSON from the
 * page) becomes one ipw_lab_engine batch; the lab's events become the stream's events; reads
 * go to the lab's store. Two store handles: one that only the job thread writes through, one
 * for the page's reads (WAL lets them work side by side, as the CLI and the page do). */
#include "ipw/labweb_lab.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ipw/client.h"
#include "ipw/jsonutil.h"
#include "ipw/lab.h"

#define LW_BUSY_TIMEOUT_MS 5000
#define LW_CALIBRATE_PROMPT "Explain how transformers work in machine learning in 3 sentences."

struct ipw_labweb_lab {
    struct ipw_labweb_lab_config cfg;
    struct ipw_lab_store *jobs_store; /* the job thread's */
    struct ipw_lab_store *read_store; /* the connections', under mu */
    pthread_mutex_t mu;
    struct ipw_lab_engine *running; /* under mu: the engine of the job in flight */
};

/* ---- requests ------------------------------------------------------------------------------- */

struct job_req {
    const char *client, *base_url, *model, *collector, *name;
    long max_tokens, seed;
    double temperature, grid, baseline_s;
    struct ipw_lab_batch batch;
};

static const char *const known_keys[] = {
    "client", "base_url", "model", "collector", "prompt", "system", "context", "injections",
    "runs", "max_tokens", "temperature", "seed", "baseline_s", "country", "grid_g_per_kwh",
    "name", NULL};

static ipw_err get_str(const json_t *req, const char *key, bool required, const char **out,
                       ipw_errbuf *eb)
{
    json_t *v = json_object_get(req, key);
    *out = NULL;
    if (!v || json_is_null(v)) {
        if (required)
            return ipw_fail(eb, IPW_E_INVALID, "\"%s\" is missing", key);
        return IPW_OK;
    }
    if (!json_is_string(v))
        return ipw_fail(eb, IPW_E_INVALID, "\"%s\" must be a string", key);
    *out = json_string_value(v);
    if (required && !**out)
        return ipw_fail(eb, IPW_E_INVALID, "\"%s\" is empty", key);
    return IPW_OK;
}

static ipw_err get_num(const json_t *req, const char *key, double lo, double hi, bool integer,
                       double *out, ipw_errbuf *eb)
{
    json_t *v = json_object_get(req, key);
    if (!v || json_is_null(v))
        return IPW_OK;
    if (!json_is_number(v) || (integer && !json_is_integer(v)))
        return ipw_fail(eb, IPW_E_INVALID, "\"%s\" must be %s", key,
                        integer ? "a whole number" : "a number");
    double d = json_number_value(v);
    if (!(d >= lo && d <= hi))
        return ipw_fail(eb, IPW_E_INVALID, "\"%s\" is %g; it must be within %g..%g", key, d, lo,
                        hi);
    *out = d;
    return IPW_OK;
}

/* Checks every field and fills r with views into req (which must outlive r). */
static ipw_err parse_req(const char *kind, const json_t *req, struct job_req *r, ipw_errbuf *eb)
{
    memset(r, 0, sizeof *r);
    bool calibrate = strcmp(kind, "calibrate") == 0;
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)req, k, v) {
        bool known = false;
        for (size_t i = 0; known_keys[i] && !known; i++)
            known = strcmp(known_keys[i], k) == 0;
        if (!known)
            return ipw_fail(eb, IPW_E_INVALID, "unknown field \"%s\" (docs/lab-api.md lists "
                                               "the fields of a run)",
                            k);
    }
    ipw_err e;
    const char *prompt, *system, *context, *country;
    if ((e = get_str(req, "client", false, &r->client, eb)) ||
        (e = get_str(req, "base_url", false, &r->base_url, eb)) ||
        (e = get_str(req, "model", true, &r->model, eb)) ||
        (e = get_str(req, "collector", false, &r->collector, eb)) ||
        (e = get_str(req, "prompt", !calibrate, &prompt, eb)) ||
        (e = get_str(req, "system", false, &system, eb)) ||
        (e = get_str(req, "context", false, &context, eb)) ||
        (e = get_str(req, "country", false, &country, eb)) ||
        (e = get_str(req, "name", false, &r->name, eb)))
        return e;
    if (!r->client)
        r->client = "ollama";
    if (!ipw_client_lookup(r->client))
        return ipw_fail(eb, IPW_E_INVALID, "unknown client \"%s\": use %s", r->client,
                        ipw_client_choices_text());
    if (!prompt || !*prompt) {
        if (!calibrate)
            return ipw_fail(eb, IPW_E_INVALID, "\"prompt\" is empty: type the text to measure");
        prompt = LW_CALIBRATE_PROMPT;
    }
    double runs = calibrate ? 10 : 1, max_tokens = 1000, seed = -1;
    r->temperature = NAN;
    r->baseline_s = -1;
    r->grid = IPW_LAB_DEFAULT_GRID_G_PER_KWH;
    double grid = -1;
    if ((e = get_num(req, "runs", 1, IPW_LAB_MAX_RUNS, true, &runs, eb)) ||
        (e = get_num(req, "max_tokens", 1, 1000000, true, &max_tokens, eb)) ||
        (e = get_num(req, "temperature", 0, 100, false, &r->temperature, eb)) ||
        (e = get_num(req, "seed", 0, 2147483647.0, true, &seed, eb)) ||
        (e = get_num(req, "baseline_s", 0, 60, false, &r->baseline_s, eb)) ||
        (e = get_num(req, "grid_g_per_kwh", 0, 5000, false, &grid, eb)))
        return e;
    if (country && *country && grid >= 0)
        return ipw_fail(eb, IPW_E_INVALID, "give \"country\" or \"grid_g_per_kwh\", not both");
    if (country && *country) {
        if ((e = ipw_lab_country_intensity(country, &r->grid, eb)) != IPW_OK)
            return e == IPW_E_NOTFOUND ? IPW_E_INVALID : e;
    } else if (grid >= 0) {
        r->grid = grid;
    }
    r->max_tokens = (long)max_tokens;
    r->seed = (long)seed;

    struct ipw_lab_variant *var = &r->batch.variant[0];
    snprintf(var->name, sizeof var->name, "%s", calibrate ? "calibrate" : "web");
    var->prompt.user = prompt;
    var->prompt.system = system && *system ? system : NULL;
    var->prompt.context = context && *context ? context : NULL;
    json_t *inj = json_object_get(req, "injections");
    if (inj && !json_is_null(inj)) {
        if (!json_is_array(inj) || json_array_size(inj) > IPW_LAB_MAX_INJECT)
            return ipw_fail(eb, IPW_E_INVALID, "\"injections\" must be a list of at most %d "
                                               "{\"label\", \"text\"} objects",
                            IPW_LAB_MAX_INJECT);
        size_t i;
        json_array_foreach(inj, i, v) {
            const char *label = NULL, *text = NULL;
            if (!json_is_object(v) || get_str(v, "label", false, &label, eb) != IPW_OK ||
                get_str(v, "text", true, &text, eb) != IPW_OK)
                return ipw_fail(eb, IPW_E_INVALID, "injection %zu needs a \"text\" (and may "
                                                   "have a \"label\")",
                                i + 1);
            var->prompt.inject[i].label = label && *label ? label : "injection";
            var->prompt.inject[i].text = text;
        }
        var->prompt.n_inject = json_array_size(inj);
    }
    r->batch.n_variants = 1;
    r->batch.runs = (int)runs;
    r->batch.kind = calibrate ? "calibrate" : "run";
    return IPW_OK;
}

static ipw_err lab_validate(void *ud, const char *kind, const json_t *request, ipw_errbuf *eb)
{
    struct job_req r;
    if (strcmp(kind, "run") != 0 && strcmp(kind, "calibrate") != 0)
        return ipw_fail(eb, IPW_E_INVALID, "unknown job kind \"%s\"", kind);
    return parse_req(kind, request, &r, eb);
}

/* ---- jobs ------------------------------------------------------------------------------------- */

struct relay {
    ipw_labweb_emit_fn emit;
    void *ctx;
};

static json_t *num_or_null(double v) { return ipw_json_real_or_null(v, isfinite(v)); }

/* The lab's events, as the stream's (docs/lab-api.md, "Events"). */
static void on_event(void *ud, const struct ipw_lab_event *ev)
{
    struct relay *rl = ud;
    json_t *d = json_object();
    json_object_set_new(d, "run_index", json_integer(ev->run_index));
    if (ev->variant)
        json_object_set_new(d, "variant", json_string(ev->variant));
    const char *type = ipw_lab_event_name(ev->kind);
    switch (ev->kind) {
    case IPW_LAB_EV_BASELINE:
        json_object_set_new(d, "watts", num_or_null(ev->value));
        json_object_set_new(d, "seconds", num_or_null(ev->seconds));
        break;
    case IPW_LAB_EV_SNAPSHOT:
        json_object_set_new(d, "phase", json_string(ev->phase ? ev->phase : ""));
        json_object_set_new(d, "joules", num_or_null(ev->value));
        break;
    case IPW_LAB_EV_FIRST_TOKEN:
        json_object_set_new(d, "seconds", num_or_null(ev->value));
        break;
    case IPW_LAB_EV_TOKEN:
        json_object_set_new(d, "text", ipw_json_string_lossy(ev->text));
        json_object_set_new(d, "thinking", json_boolean(ev->thinking));
        break;
    case IPW_LAB_EV_METRIC:
        json_object_set_new(d, "name", json_string(ev->name ? ev->name : ""));
        json_object_set_new(d, "value", num_or_null(ev->value));
        json_object_set_new(d, "unit", json_string(ev->unit ? ev->unit : ""));
        break;
    case IPW_LAB_EV_RUN_DONE:
        if (ev->run)
            json_object_set_new(d, "run", ipw_lab_run_to_json(ev->run));
        break;
    case IPW_LAB_EV_BATCH_DONE:
        /* sent once the batch returns, with its summary and stored id */
        json_decref(d);
        return;
    case IPW_LAB_EV_ERROR:
    case IPW_LAB_EV_LOG:
        json_object_set_new(d, "text", ipw_json_string_lossy(ev->text));
        break;
    case IPW_LAB_EV_PROGRESS:
        json_object_set_new(d, "runs_done", json_integer(ev->runs_done));
        json_object_set_new(d, "runs_total", json_integer(ev->runs_total));
        json_object_set_new(d, "eta_s", num_or_null(ev->eta_s));
        break;
    }
    rl->emit(rl->ctx, type, d);
}

static void set_running(struct ipw_labweb_lab *l, struct ipw_lab_engine *eng)
{
    pthread_mutex_lock(&l->mu);
    l->running = eng;
    pthread_mutex_unlock(&l->mu);
}

static void lab_cancel(void *ud)
{
    struct ipw_labweb_lab *l = ud;
    pthread_mutex_lock(&l->mu);
    if (l->running)
        ipw_lab_engine_cancel(l->running);
    pthread_mutex_unlock(&l->mu);
}

/* Calibration: the benchmark from the batch's runs, stored (replacing one of the same name). */
static ipw_err store_calibration(struct ipw_labweb_lab *l, const struct job_req *r,
                                 const struct ipw_lab_batch_result *res, json_t **out,
                                 ipw_errbuf *eb)
{
    struct ipw_lab_benchmark b;
    ipw_err e = ipw_lab_calibrate_benchmark(res->runs, res->n, r->model, r->name, &b, eb);
    if (e == IPW_OK)
        e = ipw_lab_store_put_benchmark(l->jobs_store, &b, eb);
    if (e == IPW_OK)
        *out = ipw_lab_benchmark_to_json(&b);
    return e;
}

static ipw_err lab_run_job(void *ud, const char *kind, const json_t *request,
                           ipw_labweb_emit_fn emit, void *emit_ctx, const atomic_int *cancel,
                           json_t **result, ipw_errbuf *eb)
{
    struct ipw_labweb_lab *l = ud;
    struct job_req r;
    ipw_err e = parse_req(kind, request, &r, eb);
    if (e != IPW_OK)
        return e;
    struct relay rl = {emit, emit_ctx};
    struct ipw_lab_engine_config cfg;
    ipw_lab_engine_config_init(&cfg);
    cfg.client = r.client;
    cfg.base_url = r.base_url;
    cfg.model = r.model;
    cfg.max_tokens = r.max_tokens;
    cfg.temperature = r.temperature;
    cfg.seed = r.seed;
    cfg.collector = r.collector ? r.collector : l->cfg.collector;
    cfg.monitors = l->cfg.monitors;
    cfg.n_monitors = l->cfg.n_monitors;
    if (l->cfg.server_pid)
        cfg.server_pid = l->cfg.server_pid;
    if (r.baseline_s >= 0)
        cfg.baseline_ns = (int64_t)(r.baseline_s * 1e9);
    else if (l->cfg.baseline_ns > 0)
        cfg.baseline_ns = l->cfg.baseline_ns;
    cfg.grid_g_per_kwh = r.grid;
    cfg.on_event = on_event;
    cfg.event_ud = &rl;
    cfg.store = l->jobs_store;

    struct ipw_lab_engine *eng = NULL;
    if ((e = ipw_lab_engine_open(&cfg, &eng, eb)) != IPW_OK)
        return e;
    set_running(l, eng);
    if (atomic_load(cancel)) /* a cancel that came while the engine was opening */
        ipw_lab_engine_cancel(eng);
    struct ipw_lab_batch_result res = {0};
    e = ipw_lab_engine_batch(eng, &r.batch, &res, eb);
    set_running(l, NULL);
    ipw_lab_engine_close(eng);

    json_t *summary = json_null();
    struct ipw_lab_summary sum;
    ipw_errbuf seb = {0};
    if (res.n > 0 && ipw_lab_summarize(res.runs, res.n, NULL, &sum, &seb) == IPW_OK)
        summary = ipw_lab_summary_to_json(&sum);
    *result = json_pack("{s:I, s:I, s:o}", "batch_id", (json_int_t)res.batch_id, "runs",
                        (json_int_t)res.n, "summary", summary);
    emit(emit_ctx, "batch_done",
         json_pack("{s:I, s:I, s:i, s:O}", "batch_id", (json_int_t)res.batch_id, "runs_done",
                   (json_int_t)res.n, "runs_total", r.batch.runs, "summary", summary));
    if (e == IPW_OK && strcmp(kind, "calibrate") == 0) {
        json_t *bench = NULL;
        e = store_calibration(l, &r, &res, &bench, eb);
        if (e == IPW_OK)
            json_object_set_new(*result, "benchmark", bench);
    }
    ipw_lab_batch_result_free(&res);
    return e;
}

/* ---- reads ---------------------------------------------------------------------------------- */

static ipw_err lab_models(void *ud, const json_t *query, json_t **out, ipw_errbuf *eb)
{
    const char *name = ipw_json_get_string(query, "client");
    struct ipw_client_config cc = {0};
    cc.base_url = ipw_json_get_string(query, "base_url");
    cc.api_key = ipw_client_api_key_from_env();
    cc.connect_timeout_ns = 3000000000LL;
    cc.idle_timeout_ns = 10000000000LL;
    struct ipw_client *c = NULL;
    ipw_err e = ipw_client_open(name ? name : "ollama", &cc, &c, eb);
    if (e != IPW_OK)
        return e;
    json_t *models = NULL;
    e = c->ops->list_models(c, &models, eb);
    if (e == IPW_OK)
        *out = json_pack("{s:o, s:s, s:s}", "models", models, "server", c->base_url, "client",
                         c->ops->name);
    ipw_client_close(c);
    return e;
}

static ipw_err lab_estimate(void *ud, const json_t *req, json_t **out, ipw_errbuf *eb)
{
    struct ipw_labweb_lab *l = ud;
    const char *bench, *country;
    double in = -1, outt = -1, grid = -1, g = IPW_LAB_DEFAULT_GRID_G_PER_KWH;
    ipw_err e;
    if ((e = get_str(req, "benchmark", true, &bench, eb)) ||
        (e = get_str(req, "country", false, &country, eb)) ||
        (e = get_num(req, "input_tokens", 0, 1e12, false, &in, eb)) ||
        (e = get_num(req, "output_tokens", 0, 1e12, false, &outt, eb)) ||
        (e = get_num(req, "grid_g_per_kwh", 0, 5000, false, &grid, eb)))
        return e;
    if (in < 0 || outt < 0)
        return ipw_fail(eb, IPW_E_INVALID, "estimate needs \"input_tokens\" and "
                                           "\"output_tokens\"");
    if (country && *country && grid >= 0)
        return ipw_fail(eb, IPW_E_INVALID, "give \"country\" or \"grid_g_per_kwh\", not both");
    if (country && *country) {
        if ((e = ipw_lab_country_intensity(country, &g, eb)) != IPW_OK)
            return e == IPW_E_NOTFOUND ? IPW_E_INVALID : e;
    } else if (grid >= 0) {
        g = grid;
    }
    struct ipw_lab_benchmark b;
    pthread_mutex_lock(&l->mu);
    e = ipw_lab_benchmark_find(l->read_store, bench, &b, eb);
    pthread_mutex_unlock(&l->mu);
    if (e != IPW_OK)
        return e;
    *out = ipw_lab_estimate_to_json(&b, (long)in, (long)outt, g);
    return IPW_OK;
}

static ipw_err lab_benchmarks(void *ud, json_t **out, ipw_errbuf *eb)
{
    struct ipw_labweb_lab *l = ud;
    const struct ipw_lab_benchmark *builtin;
    size_t nb, ns = 0;
    struct ipw_lab_benchmark *stored = NULL;
    ipw_err e = ipw_lab_builtin_benchmarks(&builtin, &nb, eb);
    if (e != IPW_OK)
        return e;
    pthread_mutex_lock(&l->mu);
    e = ipw_lab_store_benchmarks(l->read_store, &stored, &ns, eb);
    pthread_mutex_unlock(&l->mu);
    if (e != IPW_OK)
        return e;
    json_t *arr = json_array();
    for (size_t i = 0; i < ns; i++) /* calibrated ones first: they are this machine's */
        json_array_append_new(arr, ipw_lab_benchmark_to_json(&stored[i]));
    for (size_t i = 0; i < nb; i++)
        json_array_append_new(arr, ipw_lab_benchmark_to_json(&builtin[i]));
    free(stored);
    *out = json_pack("{s:o}", "benchmarks", arr);
    return IPW_OK;
}

static ipw_err lab_countries(void *ud, json_t **out, ipw_errbuf *eb)
{
    const struct ipw_lab_country *c;
    size_t n;
    ipw_err e = ipw_lab_countries(&c, &n, eb);
    if (e != IPW_OK)
        return e;
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, json_pack("{s:s, s:s, s:f, s:i}", "code", c[i].code, "name",
                                             c[i].name, "g_per_kwh", c[i].g_per_kwh, "year",
                                             c[i].year));
    *out = json_pack("{s:o, s:f}", "countries", arr, "default_g_per_kwh",
                     IPW_LAB_DEFAULT_GRID_G_PER_KWH);
    return IPW_OK;
}

static ipw_err lab_batches(void *ud, json_t **out, ipw_errbuf *eb)
{
    struct ipw_labweb_lab *l = ud;
    json_t *rows = NULL;
    pthread_mutex_lock(&l->mu);
    ipw_err e = ipw_lab_store_batches(l->read_store, 200, &rows, eb);
    pthread_mutex_unlock(&l->mu);
    if (e != IPW_OK)
        return e;
    *out = json_pack("{s:o}", "batches", rows);
    return IPW_OK;
}

static ipw_err lab_remove_batch(void *ud, const char *id, ipw_errbuf *eb)
{
    struct ipw_labweb_lab *l = ud;
    char *end;
    long long n = strtoll(id, &end, 10);
    if (*end != '\0' || n <= 0)
        return ipw_fail(eb, IPW_E_NOTFOUND, "no batch '%s' (batch ids are numbers)", id);
    pthread_mutex_lock(&l->mu);
    ipw_err e = ipw_lab_store_remove_batch(l->read_store, (int64_t)n, eb);
    pthread_mutex_unlock(&l->mu);
    return e;
}

static ipw_err lab_summary(void *ud, json_t **out, ipw_errbuf *eb)
{
    struct ipw_labweb_lab *l = ud;
    struct ipw_lab_totals t;
    pthread_mutex_lock(&l->mu);
    ipw_err e = ipw_lab_store_totals(l->read_store, &t, eb);
    pthread_mutex_unlock(&l->mu);
    if (e != IPW_OK)
        return e;
    double per1k = t.output_tokens > 0 ? t.total_wh / (double)t.output_tokens * 1000.0 : NAN;
    *out = json_pack("{s:I, s:I, s:o, s:o, s:o, s:I, s:I, s:o}", "runs", (json_int_t)t.runs,
                     "modelled_runs", (json_int_t)t.modelled_runs, "total_wh", num_or_null(t.total_wh), "active_wh", num_or_null(t.active_wh),
                     "carbon_g", num_or_null(t.carbon_g), "input_tokens",
                     (json_int_t)t.input_tokens, "output_tokens", (json_int_t)t.output_tokens,
                     "wh_per_1000_etokens", num_or_null(per1k));
    return IPW_OK;
}

static ipw_err lab_export(void *ud, const char *format, char **body, size_t *len,
                          const char **type, ipw_errbuf *eb)
{
    struct ipw_labweb_lab *l = ud;
    char *p = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&p, &n);
    if (!f)
        return ipw_fail(eb, IPW_E_NOMEM, "out of memory exporting the lab's store");
    pthread_mutex_lock(&l->mu);
    ipw_err e = ipw_lab_export(l->read_store, format, f, eb);
    pthread_mutex_unlock(&l->mu);
    if (fclose(f) != 0 && e == IPW_OK)
        e = ipw_fail(eb, IPW_E_NOMEM, "out of memory exporting the lab's store");
    if (e != IPW_OK) {
        free(p);
        return e;
    }
    *body = p;
    *len = n;
    *type = strcmp(format, "csv") == 0 ? "text/csv; charset=utf-8" : "application/json";
    return IPW_OK;
}

const struct ipw_labweb_engine ipw_labweb_engine_lab = {
    .name = "lab",
    .models = lab_models,
    .validate = lab_validate,
    .run_job = lab_run_job,
    .cancel = lab_cancel,
    .estimate = lab_estimate,
    .benchmarks = lab_benchmarks,
    .countries = lab_countries,
    .batches = lab_batches,
    .remove_batch = lab_remove_batch,
    .summary = lab_summary,
    .export_store = lab_export,
};

ipw_err ipw_labweb_lab_open(const struct ipw_labweb_lab_config *cfg, struct ipw_labweb_lab **out,
                            ipw_errbuf *eb)
{
    *out = NULL;
    struct ipw_labweb_lab *l = calloc(1, sizeof *l);
    if (!l)
        return ipw_fail(eb, IPW_E_NOMEM, "out of memory opening the lab");
    l->cfg = *cfg;
    pthread_mutex_init(&l->mu, NULL);
    ipw_err e = ipw_lab_store_open(cfg->db_path, LW_BUSY_TIMEOUT_MS, &l->jobs_store, eb);
    if (e == IPW_OK)
        e = ipw_lab_store_open(cfg->db_path, LW_BUSY_TIMEOUT_MS, &l->read_store, eb);
    if (e != IPW_OK) {
        ipw_labweb_lab_close(l);
        return e;
    }
    *out = l;
    return IPW_OK;
}

void ipw_labweb_lab_close(struct ipw_labweb_lab *l)
{
    if (!l)
        return;
    ipw_lab_store_close(l->jobs_store);
    ipw_lab_store_close(l->read_store);
    pthread_mutex_destroy(&l->mu);
    free(l);
}
