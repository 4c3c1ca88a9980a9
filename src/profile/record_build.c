/* Per-query record assembly: the original's ModelMetrics names and nesting plus our fields. */
#include "record_build.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "ipw/jsonutil.h"
#include "ipw/records.h"
#include "ipw/profile.h"

json_t *ipw_summary_stats_json(struct ipw_jb *jb, const struct ipw_summary *s)
{
    bool ok = s->n > 0;
    json_t *o = json_object();
    ipw_jb_set(jb, o, "avg", ipw_json_real_or_null(s->avg, ok));
    ipw_jb_set(jb, o, "max", ipw_json_real_or_null(s->max, ok));
    ipw_jb_set(jb, o, "median", ipw_json_real_or_null(s->median, ok));
    ipw_jb_set(jb, o, "min", ipw_json_real_or_null(s->min, ok));
    return o;
}

static json_t *domain_j(const struct ipw_energy *e, ipw_domain d, bool have)
{
    return ipw_json_real_or_null(e->joules[d], have && (e->valid & (1u << d)));
}

static json_t *energy_metrics(struct ipw_jb *jb, const struct ipw_query_outcome *q, bool has_first)
{
    json_t *o = json_object();
    ipw_domain m = q->main_domain;
    bool have = q->have_energy;
    bool main_ok = have && (q->total.valid & (1u << m));
    double total = 0;
    bool total_ok = false;
    for (int d = 0; d < IPW_DOMAIN_COUNT; d++) {
        if (have && (q->total.valid & (1u << d))) {
            total += q->total.joules[d];
            total_ok = true;
        }
    }
    ipw_jb_set(jb, o, "per_query_joules", domain_j(&q->total, m, have));
    ipw_jb_set(jb, o, "total_joules", ipw_json_real_or_null(total, total_ok));
    ipw_jb_set(jb, o, "gpu_joules", domain_j(&q->total, IPW_DOMAIN_GPU, have));
    ipw_jb_set(jb, o, "cpu_joules", domain_j(&q->total, IPW_DOMAIN_CPU, have));
    ipw_jb_set(jb, o, "dram_joules", domain_j(&q->total, IPW_DOMAIN_DRAM, have));
    if (has_first) {
        ipw_jb_set(jb, o, "prefill_joules", domain_j(&q->prefill, m, have));
        ipw_jb_set(jb, o, "decode_joules", domain_j(&q->decode, m, have));
    } else {
        /* no token ever came: the whole window was spent before the first token */
        ipw_jb_set(jb, o, "prefill_joules", domain_j(&q->total, m, have));
        ipw_jb_set(jb, o, "decode_joules", ipw_json_real_or_null(0.0, main_ok));
    }
    if (total_ok && q->have_idle) {
        double active = total - q->idle_power_w * q->share_seconds;
        ipw_jb_set(jb, o, "active_joules", json_real(active > 0 ? active : 0));
    } else {
        ipw_jb_set(jb, o, "active_joules", json_null());
    }
    ipw_jb_set(jb, o, "idle_power_watts", ipw_json_real_or_null(q->idle_power_w, q->have_idle));
    ipw_jb_set(jb, o, "energy_source",
                        main_ok ? json_string(ipw_energy_source_name(
                                      (ipw_energy_source)q->total.source[m]))
                                : json_null());
    return o;
}

static json_t *latency_metrics(struct ipw_jb *jb, const struct ipw_chat_result *r, long out_tokens,
                               bool has_first)
{
    json_t *o = json_object();
    double total = r->end_ns > r->start_ns ? (double)(r->end_ns - r->start_ns) / 1e9 : 0;
    bool tot_ok = r->end_ns > r->start_ns;
    ipw_jb_set(jb, o, "per_token_ms",
                        ipw_json_real_or_null(total * 1000.0 / (double)out_tokens,
                                              tot_ok && out_tokens > 0));
    ipw_jb_set(jb, o, "throughput_tokens_per_sec",
                        ipw_json_real_or_null((double)out_tokens / total,
                                              tot_ok && total > 0 && out_tokens >= 0));
    ipw_jb_set(jb, o, "time_to_first_token_seconds",
                        ipw_json_real_or_null((double)(r->first_token_ns - r->start_ns) / 1e9,
                                              has_first));
    ipw_jb_set(jb, o, "total_query_seconds", ipw_json_real_or_null(total, tot_ok));
    ipw_jb_set(jb, o, "decode_seconds",
                        ipw_json_real_or_null((double)(r->end_ns - r->first_token_ns) / 1e9,
                                              has_first && r->end_ns >= r->first_token_ns));
    return o;
}

static json_t *int_or_null(long v) { return v >= 0 ? json_integer(v) : json_null(); }

static json_t *record(struct ipw_jb *jb, const struct ipw_query_outcome *q)
{
    const struct ipw_chat_result *r = q->res;
    const struct ipw_dataset_record *rec = q->rec;
    bool has_first = r->first_token_ns > 0;
    json_t *o = json_object();
    ipw_jb_set(jb, o, "schema", json_string(IPW_RECORD_SCHEMA));
    ipw_jb_set(jb, o, "record_index", json_integer((json_int_t)q->record_index));
    ipw_jb_set(jb, o, "dataset_index", json_integer((json_int_t)rec->dataset_index));
    ipw_jb_set(jb, o, "problem", ipw_json_string_lossy(rec->problem));
    ipw_jb_set(jb, o, "answer", ipw_json_string_lossy(rec->answer));
    ipw_jb_set(jb, o, "subject", ipw_json_string_lossy(rec->subject));
    ipw_jb_set(jb, o, "kind", json_string(rec->kind));
    ipw_jb_set(jb, o, "dataset_metadata",
                        rec->metadata ? json_deep_copy(rec->metadata) : json_object());
    ipw_jb_set(jb, o, "request_start_time", json_real(q->start_unix));
    ipw_jb_set(jb, o, "request_end_time", json_real(q->end_unix));

    const char *content = r->content ? r->content : "";
    json_t *answers = json_object();
    ipw_jb_set(jb, answers, q->model, ipw_json_string_lossy(content));
    ipw_jb_set(jb, o, "model_answers", answers);

    json_t *mm = json_object();
    json_t *cm = json_object();
    ipw_jb_set(jb, cm, "flops_per_request", ipw_json_real_or_null(q->flops, q->have_compute));
    ipw_jb_set(jb, cm, "macs_per_request", ipw_json_real_or_null(q->macs, q->have_compute));
    ipw_jb_set(jb, mm, "compute_metrics", cm);
    ipw_jb_set(jb, mm, "energy_metrics", energy_metrics(jb, q, has_first));
    ipw_jb_set(jb, mm, "latency_metrics", latency_metrics(jb, r, r->output_tokens, has_first));
    json_t *mem = json_object();
    ipw_jb_set(jb, mem, "cpu_mb", ipw_summary_stats_json(jb, &q->win.cpu_mem_mb));
    ipw_jb_set(jb, mem, "gpu_mb", ipw_summary_stats_json(jb, &q->win.gpu_mem_mb));
    ipw_jb_set(jb, mm, "memory_metrics", mem);
    json_t *pw = json_object(), *gpu = json_object(), *cpu = json_object();
    ipw_jb_set(jb, gpu, "per_query_watts", ipw_summary_stats_json(jb, &q->win.main_power));
    ipw_jb_set(jb, gpu, "total_watts", ipw_summary_stats_json(jb, &q->win.total_power));
    ipw_jb_set(jb, cpu, "per_query_watts", ipw_summary_stats_json(jb, &q->win.cpu_power));
    ipw_jb_set(jb, pw, "gpu", gpu);
    ipw_jb_set(jb, pw, "cpu", cpu);
    ipw_jb_set(jb, mm, "power_metrics", pw);
    ipw_jb_set(jb, mm, "temperature_metrics", ipw_summary_stats_json(jb, &q->win.temperature_c));
    json_t *tok = json_object();
    ipw_jb_set(jb, tok, "input", int_or_null(r->input_tokens));
    ipw_jb_set(jb, tok, "output", int_or_null(r->output_tokens));
    ipw_jb_set(jb, tok, "total",
                        r->input_tokens >= 0 && r->output_tokens >= 0
                            ? json_integer(r->input_tokens + r->output_tokens)
                            : json_null());
    ipw_jb_set(jb, mm, "token_metrics", tok);
    ipw_jb_set(jb, mm, "gpu_info", q->gpu_info ? json_deep_copy(q->gpu_info) : json_null());
    ipw_jb_set(jb, mm, "system_info",
                        q->system_info ? json_deep_copy(q->system_info) : json_null());
    /* null (scored later by ipw analyze) unless a modelled backend modelled it: the sim's
     * "modelled accuracy" verdict, whose details stay in server_timings.modelled_correctness */
    const json_t *mc = json_object_get(
        json_object_get(r->server_timings, "modelled_correctness"), "correct");
    ipw_jb_set(jb, mm, "lm_correctness", json_is_boolean(mc) ? json_boolean(json_is_true(mc))
                                                             : json_null());
    ipw_jb_set(jb, mm, "lm_response", ipw_json_string_lossy(content));
    json_t *metrics = json_object();
    ipw_jb_set(jb, metrics, q->model, mm);
    ipw_jb_set(jb, o, "model_metrics", metrics);

    bool ok = r->error == IPW_OK;
    ipw_jb_set(jb, o, "status", json_string(ok ? "ok" : "failed"));
    ipw_jb_set(jb, o, "error", ok ? json_null() : ipw_json_string_lossy(r->error_msg));
    ipw_jb_set(jb, o, "http_status", r->http_status > 0 ? json_integer(r->http_status)
                                                             : json_null());
    if (r->reasoning && r->reasoning[0])
        ipw_jb_set(jb, o, "reasoning", ipw_json_string_lossy(r->reasoning));
    ipw_jb_set(jb, o, "token_count_source",
                        json_string(r->token_source == IPW_TOKENS_SERVER ? "server" : "estimated"));
    ipw_jb_set(jb, o, "server_timings",
                        r->server_timings ? json_deep_copy(r->server_timings) : json_null());
    ipw_jb_set(jb, o, "concurrency", json_integer(q->concurrency));
    ipw_jb_set(jb, o, "served_model", json_string(q->served_model ? q->served_model : q->model));
    if (q->settings)
        ipw_jb_set(jb, o, "settings", json_deep_copy(q->settings));
    /* a load the server reports (Ollama's load_duration, ns) inside a measured query */
    double load_ns = 0;
    if (ipw_json_get_number(r->server_timings, "load_duration", &load_ns) && load_ns >= 0) {
        ipw_jb_set(jb, o, "model_load_seconds", json_real(load_ns / 1e9));
        ipw_jb_set(jb, o, "cold_start", json_boolean(load_ns / 1e9 >= IPW_PROFILE_COLD_LOAD_S));
    }
    /* the instants energy was cut at, on this host's monotonic clock: with a telemetry trace
     * of the same boot they let anyone recompute the attribution */
    json_t *tw = json_object();
    ipw_jb_set(jb, tw, "clock", json_string("monotonic"));
    ipw_jb_set(jb, tw, "start_ns", q->e_start ? json_integer(q->e_start) : json_null());
    ipw_jb_set(jb, tw, "first_token_ns", q->e_first ? json_integer(q->e_first) : json_null());
    ipw_jb_set(jb, tw, "end_ns", q->e_end ? json_integer(q->e_end) : json_null());
    ipw_jb_set(jb, o, "telemetry_window", tw);
    return o;
}

ipw_err ipw_profile_record_json(const struct ipw_query_outcome *q, json_t **out, ipw_errbuf *eb)
{
    struct ipw_jb jb = {0};
    json_t *o = record(&jb, q);
    char what[64];
    snprintf(what, sizeof what, "the record of query %zu", q->record_index);
    ipw_err e = ipw_jb_finish(&jb, eb, what);
    if (e != IPW_OK) {
        json_decref(o);
        o = NULL;
    }
    *out = o;
    return e;
}
