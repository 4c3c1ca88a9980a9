/* Per-query record assembly: the original's ModelMetrics names and nesting plus our fields. */
#include "record_build.h"

#include <math.h>
#include <string.h>

#include "ipw/jsonutil.h"

json_t *ipw_summary_stats_json(const struct ipw_summary *s)
{
    bool ok = s->n > 0;
    json_t *o = json_object();
    json_object_set_new(o, "avg", ipw_json_real_or_null(s->avg, ok));
    json_object_set_new(o, "max", ipw_json_real_or_null(s->max, ok));
    json_object_set_new(o, "median", ipw_json_real_or_null(s->median, ok));
    json_object_set_new(o, "min", ipw_json_real_or_null(s->min, ok));
    return o;
}

static json_t *domain_j(const struct ipw_energy *e, ipw_domain d, bool have)
{
    return ipw_json_real_or_null(e->joules[d], have && (e->valid & (1u << d)));
}

static json_t *energy_metrics(const struct ipw_query_outcome *q, bool has_first)
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
    json_object_set_new(o, "per_query_joules", domain_j(&q->total, m, have));
    json_object_set_new(o, "total_joules", ipw_json_real_or_null(total, total_ok));
    json_object_set_new(o, "gpu_joules", domain_j(&q->total, IPW_DOMAIN_GPU, have));
    json_object_set_new(o, "cpu_joules", domain_j(&q->total, IPW_DOMAIN_CPU, have));
    json_object_set_new(o, "dram_joules", domain_j(&q->total, IPW_DOMAIN_DRAM, have));
    if (has_first) {
        json_object_set_new(o, "prefill_joules", domain_j(&q->prefill, m, have));
        json_object_set_new(o, "decode_joules", domain_j(&q->decode, m, have));
    } else {
        /* no token ever came: the whole window was spent before the first token */
        json_object_set_new(o, "prefill_joules", domain_j(&q->total, m, have));
        json_object_set_new(o, "decode_joules", ipw_json_real_or_null(0.0, main_ok));
    }
    if (total_ok && q->have_idle) {
        double active = total - q->idle_power_w * q->share_seconds;
        json_object_set_new(o, "active_joules", json_real(active > 0 ? active : 0));
    } else {
        json_object_set_new(o, "active_joules", json_null());
    }
    json_object_set_new(o, "idle_power_watts", ipw_json_real_or_null(q->idle_power_w, q->have_idle));
    json_object_set_new(o, "energy_source",
                        main_ok ? json_string(ipw_energy_source_name(
                                      (ipw_energy_source)q->total.source[m]))
                                : json_null());
    return o;
}

static json_t *latency_metrics(const struct ipw_chat_result *r, long out_tokens, bool has_first)
{
    json_t *o = json_object();
    double total = r->end_ns > r->start_ns ? (double)(r->end_ns - r->start_ns) / 1e9 : 0;
    bool tot_ok = r->end_ns > r->start_ns;
    json_object_set_new(o, "per_token_ms",
                        ipw_json_real_or_null(total * 1000.0 / (double)out_tokens,
                                              tot_ok && out_tokens > 0));
    json_object_set_new(o, "throughput_tokens_per_sec",
                        ipw_json_real_or_null((double)out_tokens / total,
                                              tot_ok && total > 0 && out_tokens >= 0));
    json_object_set_new(o, "time_to_first_token_seconds",
                        ipw_json_real_or_null((double)(r->first_token_ns - r->start_ns) / 1e9,
                                              has_first));
    json_object_set_new(o, "total_query_seconds", ipw_json_real_or_null(total, tot_ok));
    json_object_set_new(o, "decode_seconds",
                        ipw_json_real_or_null((double)(r->end_ns - r->first_token_ns) / 1e9,
                                              has_first && r->end_ns >= r->first_token_ns));
    return o;
}

static json_t *int_or_null(long v) { return v >= 0 ? json_integer(v) : json_null(); }

json_t *ipw_profile_record_json(const struct ipw_query_outcome *q)
{
    const struct ipw_chat_result *r = q->res;
    const struct ipw_dataset_record *rec = q->rec;
    bool has_first = r->first_token_ns > 0;
    json_t *o = json_object();
    json_object_set_new(o, "record_index", json_integer((json_int_t)q->record_index));
    json_object_set_new(o, "dataset_index", json_integer((json_int_t)rec->dataset_index));
    json_object_set_new(o, "problem", ipw_json_string_lossy(rec->problem));
    json_object_set_new(o, "answer", ipw_json_string_lossy(rec->answer));
    json_object_set_new(o, "subject", ipw_json_string_lossy(rec->subject));
    json_object_set_new(o, "kind", json_string(rec->kind));
    json_object_set_new(o, "dataset_metadata",
                        rec->metadata ? json_deep_copy(rec->metadata) : json_object());
    json_object_set_new(o, "request_start_time", json_real(q->start_unix));
    json_object_set_new(o, "request_end_time", json_real(q->end_unix));

    const char *content = r->content ? r->content : "";
    json_t *answers = json_object();
    json_object_set_new(answers, q->model, ipw_json_string_lossy(content));
    json_object_set_new(o, "model_answers", answers);

    json_t *mm = json_object();
    json_t *cm = json_object();
    json_object_set_new(cm, "flops_per_request", ipw_json_real_or_null(q->flops, q->have_compute));
    json_object_set_new(cm, "macs_per_request", ipw_json_real_or_null(q->macs, q->have_compute));
    json_object_set_new(mm, "compute_metrics", cm);
    json_object_set_new(mm, "energy_metrics", energy_metrics(q, has_first));
    json_object_set_new(mm, "latency_metrics", latency_metrics(r, r->output_tokens, has_first));
    json_t *mem = json_object();
    json_object_set_new(mem, "cpu_mb", ipw_summary_stats_json(&q->win.cpu_mem_mb));
    json_object_set_new(mem, "gpu_mb", ipw_summary_stats_json(&q->win.gpu_mem_mb));
    json_object_set_new(mm, "memory_metrics", mem);
    json_t *pw = json_object(), *gpu = json_object(), *cpu = json_object();
    json_object_set_new(gpu, "per_query_watts", ipw_summary_stats_json(&q->win.main_power));
    json_object_set_new(gpu, "total_watts", ipw_summary_stats_json(&q->win.total_power));
    json_object_set_new(cpu, "per_query_watts", ipw_summary_stats_json(&q->win.cpu_power));
    json_object_set_new(pw, "gpu", gpu);
    json_object_set_new(pw, "cpu", cpu);
    json_object_set_new(mm, "power_metrics", pw);
    json_object_set_new(mm, "temperature_metrics", ipw_summary_stats_json(&q->win.temperature_c));
    json_t *tok = json_object();
    json_object_set_new(tok, "input", int_or_null(r->input_tokens));
    json_object_set_new(tok, "output", int_or_null(r->output_tokens));
    json_object_set_new(tok, "total",
                        r->input_tokens >= 0 && r->output_tokens >= 0
                            ? json_integer(r->input_tokens + r->output_tokens)
                            : json_null());
    json_object_set_new(mm, "token_metrics", tok);
    json_object_set_new(mm, "gpu_info", q->gpu_info ? json_deep_copy(q->gpu_info) : json_null());
    json_object_set_new(mm, "system_info",
                        q->system_info ? json_deep_copy(q->system_info) : json_null());
    json_object_set_new(mm, "lm_correctness", json_null());
    json_object_set_new(mm, "lm_response", ipw_json_string_lossy(content));
    json_t *metrics = json_object();
    json_object_set_new(metrics, q->model, mm);
    json_object_set_new(o, "model_metrics", metrics);

    bool ok = r->error == IPW_OK;
    json_object_set_new(o, "status", json_string(ok ? "ok" : "failed"));
    json_object_set_new(o, "error", ok ? json_null() : ipw_json_string_lossy(r->error_msg));
    json_object_set_new(o, "http_status", r->http_status > 0 ? json_integer(r->http_status)
                                                             : json_null());
    if (r->reasoning && r->reasoning[0])
        json_object_set_new(o, "reasoning", ipw_json_string_lossy(r->reasoning));
    json_object_set_new(o, "token_count_source",
                        json_string(r->token_source == IPW_TOKENS_SERVER ? "server" : "estimated"));
    json_object_set_new(o, "server_timings",
                        r->server_timings ? json_deep_copy(r->server_timings) : json_null());
    json_object_set_new(o, "concurrency", json_integer(q->concurrency));
    json_object_set_new(o, "served_model",
                        json_string(q->served_model ? q->served_model : q->model));
    /* the instants energy was cut at, on this host's monotonic clock: with a telemetry trace
     * of the same boot they let anyone recompute the attribution */
    json_t *tw = json_object();
    json_object_set_new(tw, "clock", json_string("monotonic"));
    json_object_set_new(tw, "start_ns", q->e_start ? json_integer(q->e_start) : json_null());
    json_object_set_new(tw, "first_token_ns", q->e_first ? json_integer(q->e_first) : json_null());
    json_object_set_new(tw, "end_ns", q->e_end ? json_integer(q->e_end) : json_null());
    json_object_set_new(o, "telemetry_window", tw);
    return o;
}
