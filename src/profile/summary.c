/* summary.json (SPEC §3.4): the original's keys, then ours (telemetry, totals). Totals are
 * recomputed from the records themselves so that a resumed run reports all of its queries. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "ipw/fsutil.h"
#include "ipw/jsonutil.h"
#include "ipw/log.h"
#include "ipw/records.h"
#include "ipw/version.h"
#include "run_output.h"

/* What summary.json needs of one record. */
struct row {
    double energy, total, active, seconds, start, end;
    long long in_tokens, out_tokens;
    bool present, failed, has_energy, has_total, has_active, has_start, has_end;
};

struct ipw_profile_totals {
    double energy, total, active, query_seconds;
    bool has_energy, has_total, has_active;
    long long in_tokens, out_tokens;
    size_t queries, failed;
    size_t without_energy; /* answered, but their energy is unavailable (a monitor gap, ...) */
    double first_start, last_end;
};

struct scan {
    struct row *rows; /* by record_index; a later line overwrites (a rerun supersedes) */
    size_t n;
    const char *model;
    size_t beyond; /* records whose index is not in the run's sample */
};

static ipw_err take_record(void *ctx, json_t *rec, int64_t index, size_t line, uint64_t offset,
                           size_t len, ipw_errbuf *eb)
{
    (void)line, (void)offset, (void)len, (void)eb;
    struct scan *sc = ctx;
    if ((uint64_t)index >= sc->n) {
        sc->beyond++;
        return IPW_OK;
    }
    struct row *r = &sc->rows[index];
    memset(r, 0, sizeof *r);
    r->present = true;
    const char *status = ipw_json_get_string(rec, "status");
    r->failed = status && strcmp(status, "ok") != 0;
    const json_t *mm = json_object_get(json_object_get(rec, "model_metrics"), sc->model);
    const json_t *em = json_object_get(mm, "energy_metrics");
    const json_t *tm = json_object_get(mm, "token_metrics");
    const json_t *lm = json_object_get(mm, "latency_metrics");
    r->has_energy = ipw_json_get_number(em, "per_query_joules", &r->energy);
    r->has_total = ipw_json_get_number(em, "total_joules", &r->total);
    r->has_active = ipw_json_get_number(em, "active_joules", &r->active);
    double v;
    if (ipw_json_get_number(tm, "input", &v))
        r->in_tokens = (long long)v;
    if (ipw_json_get_number(tm, "output", &v))
        r->out_tokens = (long long)v;
    ipw_json_get_number(lm, "total_query_seconds", &r->seconds);
    r->has_start = ipw_json_get_number(rec, "request_start_time", &r->start);
    r->has_end = ipw_json_get_number(rec, "request_end_time", &r->end);
    return IPW_OK;
}

static void add_row(struct ipw_profile_totals *t, const struct row *r)
{
    t->queries++;
    if (r->failed)
        t->failed++;
    if (r->has_energy) {
        t->energy += r->energy;
        t->has_energy = true;
    } else if (!r->failed) {
        t->without_energy++;
    }
    if (r->has_total) {
        t->total += r->total;
        t->has_total = true;
    }
    if (r->has_active) {
        t->active += r->active;
        t->has_active = true;
    }
    t->in_tokens += r->in_tokens;
    t->out_tokens += r->out_tokens;
    t->query_seconds += r->seconds;
    if (r->has_start && (t->first_start == 0 || r->start < t->first_start))
        t->first_start = r->start;
    if (r->has_end && r->end > t->last_end)
        t->last_end = r->end;
}

ipw_err ipw_profile_totals_read(const char *records_path, const char *model, size_t n_records,
                                struct ipw_profile_totals **out, ipw_errbuf *eb)
{
    *out = NULL;
    struct ipw_profile_totals *t = calloc(1, sizeof *t);
    struct scan sc = {calloc(n_records ? n_records : 1, sizeof(struct row)), n_records, model, 0};
    if (!t || !sc.rows) {
        free(t);
        free(sc.rows);
        return ipw_fail(eb, IPW_E_NOMEM, "out of memory summing %zu records", n_records);
    }
    /* streamed: a long run's log is never held in memory at once */
    ipw_err rc = ipw_path_exists(records_path)
                     ? ipw_records_scan(records_path, take_record, &sc, NULL, eb)
                     : IPW_OK;
    for (size_t i = 0; rc == IPW_OK && i < sc.n; i++)
        if (sc.rows[i].present)
            add_row(t, &sc.rows[i]);
    if (sc.beyond)
        ipw_warn("%s: %zu records are not in this run's sample and are left out of the totals",
                 records_path, sc.beyond);
    free(sc.rows);
    if (rc != IPW_OK) {
        free(t);
        return rc;
    }
    *out = t;
    return IPW_OK;
}

size_t ipw_profile_totals_queries(const struct ipw_profile_totals *t)
{
    return t->queries;
}

void ipw_profile_totals_free(struct ipw_profile_totals *t) { free(t); }

/* Parameters as recorded: secrets never reach a file, whatever key the user chose. */
static json_t *redacted(const json_t *params)
{
    json_t *o = json_object();
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)params, k, v)
    {
        bool secret = strcasestr(k, "key") || strcasestr(k, "token") || strcasestr(k, "secret") ||
                      strcasestr(k, "password") || strcasestr(k, "authorization");
        /* max_tokens is a generation parameter, not a secret */
        if (strcasestr(k, "max_tokens") || strcasestr(k, "max_completion_tokens"))
            secret = false;
        json_object_set_new(o, k, secret ? json_string("<redacted>") : json_deep_copy(v));
    }
    return o;
}

json_t *ipw_profile_settings_json(const struct ipw_profile_config *cfg)
{
    json_t *o = json_object();
    json_object_set_new(o, "client_base_url",
                        cfg->client_base_url ? json_string(cfg->client_base_url) : json_null());
    json_object_set_new(o, "client_params",
                        cfg->client_params ? redacted(cfg->client_params) : json_object());
    json_object_set_new(o, "concurrency", json_integer(cfg->concurrency));
    json_t *mons = json_array();
    for (size_t i = 0; i < cfg->n_monitors; i++)
        json_array_append_new(mons, json_string(cfg->monitors[i]));
    if (!cfg->n_monitors)
        json_array_append_new(mons, json_string("local"));
    json_object_set_new(o, "monitors", mons);
    json_object_set_new(o, "collector", json_string(cfg->collector ? cfg->collector : "auto"));
    json_object_set_new(o, "interval_ms", json_integer(cfg->interval_ns / 1000000));
    json_object_set_new(o, "baseline_seconds", json_real((double)cfg->baseline_ns / 1e9));
    return o;
}

json_t *ipw_profile_summary_json(const struct ipw_run_output *o, const struct ipw_profile_config *cfg,
                                 const struct ipw_telemetry_session *ts,
                                 const struct ipw_dataset *ds, double baseline_s,
                                 const struct ipw_energy *baseline_w,
                                 const struct ipw_profile_totals *totals)
{
    const struct ipw_profile_totals t = *totals;

    json_t *s = json_object();
    json_object_set_new(s, "model", json_string(cfg->model));
    json_t *pc = json_object();
    json_object_set_new(pc, "dataset_id", json_string(cfg->dataset_id));
    json_object_set_new(pc, "client_id", json_string(cfg->client_id));
    json_object_set_new(pc, "client_base_url",
                        cfg->client_base_url ? json_string(cfg->client_base_url) : json_null());
    json_object_set_new(pc, "dataset_params",
                        cfg->dataset_params ? redacted(cfg->dataset_params) : json_object());
    json_object_set_new(pc, "client_params",
                        cfg->client_params ? redacted(cfg->client_params) : json_object());
    json_object_set_new(pc, "model", json_string(cfg->model));
    json_object_set_new(pc, "output_dir", json_string(cfg->output_dir));
    json_object_set_new(pc, "max_queries",
                        cfg->max_queries > 0 ? json_integer(cfg->max_queries) : json_null());
    json_t *ap = json_object();
    json_object_set_new(ap, "dataset_path",
                        cfg->dataset_path ? json_string(cfg->dataset_path) : json_null());
    json_object_set_new(ap, "seed", cfg->seed_given ? json_integer((json_int_t)cfg->seed)
                                                    : json_null());
    json_object_set_new(ap, "concurrency", json_integer(cfg->concurrency));
    json_object_set_new(ap, "interval_ms", json_integer(cfg->interval_ns / 1000000));
    json_object_set_new(ap, "baseline_seconds", json_real((double)cfg->baseline_ns / 1e9));
    json_object_set_new(pc, "additional_parameters", ap);
    json_object_set_new(s, "profiler_config", pc);
    /* what was measured and generated with; a run resumed with --resume-anyway lists every
     * set it ran with (each record names its own in "settings") */
    json_object_set_new(s, "settings", ipw_profile_settings_json(cfg));
    if (o->settings_history)
        json_object_set_new(s, "settings_history", json_deep_copy(o->settings_history));
    json_object_set_new(s, "dataset", json_string(ds ? ds->name : cfg->dataset_id));
    json_object_set_new(s, "dataset_name", json_string(cfg->dataset_id));
    json_object_set_new(s, "hardware_label", json_string(o->hardware_label));
    json_object_set_new(s, "generated_at", json_integer((json_int_t)time(NULL)));
    json_object_set_new(s, "total_queries", json_integer((json_int_t)(ds ? ds->n : 0)));
    json_object_set_new(s, "system_info", ipw_telemetry_session_system_info(ts));
    json_object_set_new(s, "gpu_info", ipw_telemetry_session_gpu_info(ts));
    json_object_set_new(s, "output_dir", json_string(o->dir));
    json_t *ver = json_object();
    json_object_set_new(ver, "ipw", json_string(IPW_VERSION));
    json_object_set_new(s, "versions", ver);

    json_t *tel = json_object();
    json_object_set_new(tel, "platform", json_string(ts->platform));
    json_object_set_new(tel, "collector", json_string(ts->collector_name));
    json_object_set_new(tel, "interval_ms", json_integer(ts->interval_ns / 1000000));
    json_object_set_new(tel, "monitors", json_string(ts->monitors_desc));
    json_t *bl = json_object();
    json_object_set_new(bl, "duration_s", json_real(baseline_s));
    static const char *const names[IPW_DOMAIN_COUNT] = {"gpu_watts", "cpu_watts", "dram_watts",
                                                        "ane_watts"};
    for (int d = 0; d < IPW_DOMAIN_COUNT; d++)
        json_object_set_new(bl, names[d],
                            ipw_json_real_or_null(baseline_w->joules[d],
                                                  baseline_s > 0 && (baseline_w->valid & (1u << d))));
    if (baseline_s <= 0 && o->prev_baseline) {
        /* a resumed run that measured no baseline now keeps the one it started with */
        json_decref(bl);
        bl = json_deep_copy(o->prev_baseline);
    }
    json_object_set_new(tel, "baseline", bl);
    json_object_set_new(s, "telemetry", tel);
    /* what the source can do, saved so that readers never guess it from the platform's name
     * (an agent run's summary says the same) */
    json_object_set_new(s, "modelled", json_boolean((ts->info.caps & IPW_CAP_MODELLED) != 0));

    json_t *tot = json_object();
    json_object_set_new(tot, "energy_joules", ipw_json_real_or_null(t.energy, t.has_energy));
    json_object_set_new(tot, "total_joules", ipw_json_real_or_null(t.total, t.has_total));
    json_object_set_new(tot, "active_joules", ipw_json_real_or_null(t.active, t.has_active));
    json_object_set_new(tot, "input_tokens", json_integer(t.in_tokens));
    json_object_set_new(tot, "output_tokens", json_integer(t.out_tokens));
    json_object_set_new(tot, "duration_s",
                        ipw_json_real_or_null(t.last_end - t.first_start, t.last_end > 0));
    json_object_set_new(tot, "query_seconds", json_real(t.query_seconds));
    json_object_set_new(tot, "completed_queries", json_integer((json_int_t)t.queries));
    json_object_set_new(tot, "failed_queries", json_integer((json_int_t)t.failed));
    /* the energy sums leave these queries out: a reader must not take them for the run's */
    json_object_set_new(tot, "queries_without_energy", json_integer((json_int_t)t.without_energy));
    json_object_set_new(s, "totals", tot);
    return s;
}
