/* summary.json (SPEC §3.4): the original's keys, then ours (telemetry, totals). Totals are
 * recomputed from the records themselves so that a resumed run reports all of its queries. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "ipw/jsonutil.h"
#include "ipw/version.h"
#include "run_output.h"

struct totals {
    double energy, total, active, query_seconds;
    bool has_energy, has_total, has_active;
    long long in_tokens, out_tokens;
    size_t queries, failed;
    double first_start, last_end;
};

static void add_record(struct totals *t, const json_t *rec, const char *model)
{
    t->queries++;
    const char *status = ipw_json_get_string(rec, "status");
    if (status && strcmp(status, "ok") != 0)
        t->failed++;
    const json_t *mm = json_object_get(json_object_get(rec, "model_metrics"), model);
    const json_t *em = json_object_get(mm, "energy_metrics");
    const json_t *tm = json_object_get(mm, "token_metrics");
    const json_t *lm = json_object_get(mm, "latency_metrics");
    double v;
    if (ipw_json_get_number(em, "per_query_joules", &v)) {
        t->energy += v;
        t->has_energy = true;
    }
    if (ipw_json_get_number(em, "total_joules", &v)) {
        t->total += v;
        t->has_total = true;
    }
    if (ipw_json_get_number(em, "active_joules", &v)) {
        t->active += v;
        t->has_active = true;
    }
    if (ipw_json_get_number(tm, "input", &v))
        t->in_tokens += (long long)v;
    if (ipw_json_get_number(tm, "output", &v))
        t->out_tokens += (long long)v;
    if (ipw_json_get_number(lm, "total_query_seconds", &v))
        t->query_seconds += v;
    if (ipw_json_get_number(rec, "request_start_time", &v) && (t->first_start == 0 || v < t->first_start))
        t->first_start = v;
    if (ipw_json_get_number(rec, "request_end_time", &v) && v > t->last_end)
        t->last_end = v;
}

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

json_t *ipw_profile_summary_json(const struct ipw_run_output *o, const struct ipw_profile_config *cfg,
                                 const struct ipw_telemetry_session *ts,
                                 const struct ipw_dataset *ds, double baseline_s,
                                 const struct ipw_energy *baseline_w, const json_t *records)
{
    struct totals t = {0};
    size_t i;
    json_t *rec;
    json_array_foreach(records, i, rec) add_record(&t, rec, cfg->model);

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
    json_object_set_new(s, "totals", tot);
    return s;
}
