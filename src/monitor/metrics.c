/* Prometheus text exposition (format 0.0.4) of the monitor's state: every family gets # HELP
 * and # TYPE, counters end in _total, units are base units (joules, watts, bytes, seconds,
 * ratios), so that `promtool check metrics` is clean. */
#include "monitor/metrics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ipw/buf.h"
#include "ipw/decimal.h"
#include "ipw/version.h"

/* Label values escape backslash, double quote and newline. */
static void esc(const char *in, char *out, size_t size)
{
    size_t o = 0;
    for (; *in && o + 2 < size; in++) {
        if (*in == '\\' || *in == '"') {
            out[o++] = '\\';
            out[o++] = *in;
        } else if (*in == '\n') {
            out[o++] = '\\';
            out[o++] = 'n';
        } else {
            out[o++] = *in;
        }
    }
    out[o] = '\0';
}

/* Plain appends rather than a format string: the text is rebuilt for every new reading a
 * scrape sees, so its cost is most of a scrape's. */
static void family(struct ipw_buf *b, const char *name, const char *type, const char *help)
{
    ipw_buf_puts(b, "# HELP ");
    ipw_buf_puts(b, name);
    ipw_buf_put(b, " ", 1);
    ipw_buf_puts(b, help);
    ipw_buf_puts(b, "\n# TYPE ");
    ipw_buf_puts(b, name);
    ipw_buf_put(b, " ", 1);
    ipw_buf_puts(b, type);
    ipw_buf_put(b, "\n", 1);
}

/* Whole numbers below 2^53 (counters, byte counts) in decimal digits; anything else as the
 * shortest of %.15g and %.17g that reads back as the same double. */
static void fmt_value(double v, char *out, size_t size)
{
    if (v >= 0 && v < 9007199254740992.0 && v == (double)(uint64_t)v &&
        size >= IPW_INT64_DECIMAL) {
        ipw_int64_decimal((int64_t)v, out);
        return;
    }
    snprintf(out, size, "%.15g", v);
    if (strtod(out, NULL) != v)
        snprintf(out, size, "%.17g", v);
}

static void sample(struct ipw_buf *b, const char *name, const char *labels, double v)
{
    char num[40];
    fmt_value(v, num, sizeof num);
    ipw_buf_puts(b, name);
    if (labels && *labels) {
        ipw_buf_put(b, "{", 1);
        ipw_buf_puts(b, labels);
        ipw_buf_put(b, "}", 1);
    }
    ipw_buf_put(b, " ", 1);
    ipw_buf_puts(b, num);
    ipw_buf_put(b, "\n", 1);
}

static void one(struct ipw_buf *b, const char *name, const char *type, const char *help, double v)
{
    family(b, name, type, help);
    sample(b, name, NULL, v);
}

/* A family with one sample per label value, for the metrics that are valid in this reading. */
struct labelled {
    const char *label;
    ipw_metric metric;
    double scale;
};

static void labelled_family(struct ipw_buf *b, const struct ipw_reading *r, const char *name,
                            const char *type, const char *help, const char *key,
                            const struct labelled *items, size_t n)
{
    bool any = false;
    for (size_t i = 0; i < n; i++)
        any = any || ipw_reading_has(r, items[i].metric);
    if (!any)
        return;
    family(b, name, type, help);
    for (size_t i = 0; i < n; i++) {
        if (!ipw_reading_has(r, items[i].metric))
            continue;
        char labels[64];
        snprintf(labels, sizeof labels, "%s=\"%s\"", key, items[i].label);
        sample(b, name, labels, r->v[items[i].metric] * items[i].scale);
    }
}

static void device_family(struct ipw_buf *b, const struct ipw_metrics_view *v, const char *name,
                          const char *type, const char *help, enum ipw_device_field f,
                          double scale)
{
    bool any = false;
    for (unsigned i = 0; i < v->ndev; i++)
        any = any || ipw_device_has(&v->dev[i], f);
    if (!any)
        return;
    family(b, name, type, help);
    for (unsigned i = 0; i < v->ndev; i++) {
        if (!ipw_device_has(&v->dev[i], f))
            continue;
        char uuid[200], dname[260], labels[600];
        esc(v->info->dev[i].uuid, uuid, sizeof uuid);
        esc(v->info->dev[i].name, dname, sizeof dname);
        snprintf(labels, sizeof labels, "index=\"%u\",uuid=\"%s\",name=\"%s\"",
                 v->info->dev[i].index, uuid, dname);
        sample(b, name, labels, v->dev[i].v[f] * scale);
    }
}

void ipw_metrics_render_into(const struct ipw_metrics_view *v, struct ipw_buf *b)
{
    ipw_metrics_render_fixed(v, b);
    ipw_metrics_render_changing(v, b);
}

void ipw_metrics_render_fixed(const struct ipw_metrics_view *v, struct ipw_buf *b)
{
    char platform[40], host[520], brand[260], gpu[260], labels[1200];
    esc(v->info->platform, platform, sizeof platform);
    esc(v->si ? v->si->host_name : "", host, sizeof host);
    esc(v->si ? v->si->cpu_brand : "", brand, sizeof brand);
    esc(v->info->gpu_name, gpu, sizeof gpu);
    snprintf(labels, sizeof labels,
             "platform=\"%s\",version=\"%s\",host=\"%s\",cpu_brand=\"%s\",gpu=\"%s\"", platform,
             IPW_VERSION, host, brand, gpu);
    family(b, "ipw_monitor_info", "gauge", "The energy monitor's collector and host (always 1).");
    sample(b, "ipw_monitor_info", labels, 1);
    one(b, "ipw_monitor_start_time_seconds", "gauge",
        "Unix time at which the monitor started.", (double)v->start_real_ns / 1e9);
    one(b, "ipw_monitor_sample_interval_seconds", "gauge",
        "Sampling period of the shared sampler.", (double)v->interval_ns / 1e9);
}

void ipw_metrics_render_changing(const struct ipw_metrics_view *v, struct ipw_buf *b)
{
    const double mib = 1048576.0;
    one(b, "ipw_monitor_samples_total", "counter", "Readings taken by the sampler.",
        (double)v->st.samples);
    one(b, "ipw_monitor_sample_failures_total", "counter",
        "Sampler ticks on which the collector failed (values unavailable).",
        (double)v->ss.failures);
    one(b, "ipw_monitor_missed_ticks_total", "counter",
        "Sampler ticks skipped because sampling fell behind.",
        (double)(v->ss.missed_ticks + v->st.missed_ticks));
    one(b, "ipw_monitor_dropped_readings_total", "counter",
        "Readings that slow streams lost (their oldest) instead of delaying others.",
        (double)v->st.dropped);
    one(b, "ipw_monitor_readings_sent_total", "counter",
        "Readings delivered to StreamTelemetry clients.", (double)v->st.sent);
    one(b, "ipw_monitor_streams", "gauge", "StreamTelemetry streams open now.",
        (double)v->st.streams_open);
    one(b, "ipw_monitor_streams_opened_total", "counter", "StreamTelemetry streams opened.",
        (double)v->st.streams_total);
    one(b, "ipw_monitor_connections", "gauge", "gRPC (HTTP/2) connections open now.",
        (double)v->st.connections_open);
    one(b, "ipw_monitor_protocol_errors_total", "counter",
        "Connections closed for a malformed HTTP/2 preface or frame.",
        (double)v->st.protocol_errors);

    if (v->have_reading) {
        const struct ipw_reading *r = &v->r;
        one(b, "ipw_monitor_last_sample_timestamp_seconds", "gauge",
            "Unix time of the newest reading.", (double)r->real_ns / 1e9);
        static const struct labelled energy[] = {{"gpu", IPW_M_GPU_ENERGY_J, 1},
                                                 {"cpu", IPW_M_CPU_ENERGY_J, 1},
                                                 {"dram", IPW_M_DRAM_ENERGY_J, 1},
                                                 {"ane", IPW_M_ANE_ENERGY_J, 1}};
        labelled_family(b, r, "ipw_energy_joules_total", "counter",
                        "Energy used since the monitor started, per domain.", "domain", energy,
                        4);
        static const struct labelled power[] = {{"gpu", IPW_M_GPU_POWER_W, 1},
                                                {"cpu", IPW_M_CPU_POWER_W, 1},
                                                {"dram", IPW_M_DRAM_POWER_W, 1},
                                                {"ane", IPW_M_ANE_POWER_W, 1}};
        labelled_family(b, r, "ipw_power_watts", "gauge", "Power draw now, per domain.",
                        "domain", power, 4);
        if (ipw_reading_has(r, IPW_M_TEMPERATURE_C))
            one(b, "ipw_temperature_celsius", "gauge",
                "Accelerator temperature (average over devices).", r->v[IPW_M_TEMPERATURE_C]);
        static const struct labelled mem[] = {{"gpu", IPW_M_GPU_MEM_USED_MB, mib},
                                              {"cpu", IPW_M_CPU_MEM_USED_MB, mib}};
        labelled_family(b, r, "ipw_memory_used_bytes", "gauge",
                        "Memory in use: GPU memory (summed over devices) and host memory.",
                        "kind", mem, 2);
        static const struct labelled memt[] = {{"gpu", IPW_M_GPU_MEM_TOTAL_MB, mib}};
        labelled_family(b, r, "ipw_memory_total_bytes", "gauge", "GPU memory in total.",
                        "kind", memt, 1);
        static const struct labelled util[] = {
            {"gpu_compute", IPW_M_GPU_UTIL_PCT, 0.01},
            {"gpu_memory_bandwidth", IPW_M_GPU_MEMBW_UTIL_PCT, 0.01},
            {"gpu_tensor_core", IPW_M_GPU_TENSOR_UTIL_PCT, 0.01}};
        labelled_family(b, r, "ipw_utilization_ratio", "gauge",
                        "Accelerator utilization as a ratio from 0 to 1.", "kind", util, 3);
        device_family(b, v, "ipw_gpu_energy_joules_total", "counter",
                      "Energy of one GPU since the monitor started.", IPW_DF_ENERGY_J, 1);
        device_family(b, v, "ipw_gpu_power_watts", "gauge", "Power draw of one GPU now.",
                      IPW_DF_POWER_W, 1);
        device_family(b, v, "ipw_gpu_temperature_celsius", "gauge", "Temperature of one GPU.",
                      IPW_DF_TEMPERATURE_C, 1);
        device_family(b, v, "ipw_gpu_memory_used_bytes", "gauge", "Memory in use on one GPU.",
                      IPW_DF_MEM_USED_MB, mib);
        device_family(b, v, "ipw_gpu_memory_total_bytes", "gauge", "Memory of one GPU.",
                      IPW_DF_MEM_TOTAL_MB, mib);
        device_family(b, v, "ipw_gpu_utilization_ratio", "gauge",
                      "Compute utilization of one GPU, 0 to 1.", IPW_DF_UTIL_PCT, 0.01);
    }
}

char *ipw_metrics_render(const struct ipw_metrics_view *v)
{
    struct ipw_buf b;
    ipw_buf_init(&b, IPW_METRICS_TEXT_MAX);
    ipw_metrics_render_into(v, &b);
    char *text;
    return ipw_buf_take(&b, &text, NULL) == IPW_OK ? text : NULL;
}
