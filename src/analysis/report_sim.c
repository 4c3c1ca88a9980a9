/* `ipw report SUMMARY.json` (issue 14 item 5): a simulation shown like a run. Every figure of
 * an `ipw simulate --summary` file is modelled, so every card and table says so with a badge;
 * the figures a run's section leads with (energy per request, per output token, power,
 * latency) are derived here from the summary's totals, each with its exact value in
 * data-value. The plots are the SVGs `ipw simulate --plots` wrote next to the summary. */
#include "analysis/report_sim.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ipw/fsutil.h"
#include "ipw/jsonutil.h"
#include "ipw/report.h"

/* A summary of a million-request run with a power series is a few tens of MiB. */
#define SIM_SUMMARY_MAX ((size_t)256 << 20)
#define SIM_SVG_MAX ((size_t)64 << 20)

#define BADGE " <span class=\"badge\">modelled</span>"

static void esc(struct ipw_buf *b, const char *s)
{
    char *e = ipw_html_escape(s ? s : "");
    ipw_buf_puts(b, e ? e : "");
    free(e);
}

static bool has_clock(const char *path)
{
    json_t *j = NULL;
    bool ok = ipw_json_load_file(path, SIM_SUMMARY_MAX, &j, NULL) == IPW_OK &&
              json_is_integer(json_object_get(j, "total_clock_ns"));
    json_decref(j);
    return ok;
}

bool ipw_report_is_sim(const char *path)
{
    if (!ipw_is_dir(path))
        return ipw_path_exists(path);
    char p[4200];
    snprintf(p, sizeof p, "%s/summary.json", path);
    return ipw_path_exists(p) && has_clock(p);
}

ipw_err ipw_report_sim_load(struct ipw_report_sim *s, const char *path, ipw_errbuf *eb)
{
    memset(s, 0, sizeof *s);
    if (ipw_is_dir(path)) {
        snprintf(s->path, sizeof s->path, "%s/summary.json", path);
        snprintf(s->dir, sizeof s->dir, "%s", path);
    } else {
        snprintf(s->path, sizeof s->path, "%s", path);
        const char *slash = strrchr(path, '/');
        if (slash)
            snprintf(s->dir, sizeof s->dir, "%.*s", (int)(slash - path), path);
        else
            snprintf(s->dir, sizeof s->dir, ".");
    }
    ipw_err e = ipw_json_load_file(s->path, SIM_SUMMARY_MAX, &s->sum, eb);
    if (e != IPW_OK) {
        char why[sizeof eb->msg];
        snprintf(why, sizeof why, "%s", eb->msg);
        e = ipw_fail(eb, e, "%s is neither a run directory nor an `ipw simulate --summary` file "
                     "(%s)", path, why);
    } else if ((!json_is_integer(json_object_get(s->sum, "total_clock_ns")) ||
                        !json_is_integer(json_object_get(s->sum, "requests")))) {
        e = ipw_fail(eb, IPW_E_INVALID,
                     "%s is neither a run directory nor an `ipw simulate --summary` file (no "
                     "total_clock_ns / requests); give a run directory or a simulation summary",
                     s->path);
    }
    if (e != IPW_OK) {
        json_decref(s->sum);
        s->sum = NULL;
    }
    return e;
}

void ipw_report_sim_free(struct ipw_report_sim *s)
{
    json_decref(s->sum);
    s->sum = NULL;
}

void ipw_report_sim_title(struct ipw_buf *b, const struct ipw_report_sim *s)
{
    ipw_buf_puts(b, "simulation ");
    esc(b, s->path);
    const char *pm = ipw_json_get_string(s->sum, "perf_model");
    if (pm) {
        ipw_buf_puts(b, " \xC2\xB7 ");
        esc(b, pm);
        ipw_buf_puts(b, " performance model");
    }
}

/* ---- figures ---------------------------------------------------------------------------- */

struct figures {
    double clock_s, requests, input, generated, energy_j;
    bool power;
    double part[9]; /* base, npu active, standby, idle, cpu, memory, link, nic, storage */
};

static double num(const json_t *o, const char *key)
{
    double v = 0;
    return ipw_json_get_number(o, key, &v) ? v : 0;
}

static void figures(const json_t *sum, struct figures *f)
{
    memset(f, 0, sizeof *f);
    f->clock_s = num(sum, "total_clock_ns") / 1e9;
    f->requests = num(sum, "requests");
    f->input = num(sum, "input_tokens");
    f->generated = num(sum, "generated_tokens");
    f->power = json_is_true(json_object_get(sum, "power_modelled"));
    size_t i;
    json_t *n;
    json_array_foreach(json_object_get(sum, "nodes"), i, n) {
        const json_t *e = json_object_get(n, "energy_j"), *npu = json_object_get(n, "npu_j");
        f->energy_j += num(e, "total");
        static const char *const ek[] = {"base", "cpu", "memory", "link", "nic", "storage"};
        static const int at[] = {0, 4, 5, 6, 7, 8};
        for (int k = 0; k < 6; k++)
            f->part[at[k]] += num(e, ek[k]);
        f->part[1] += num(npu, "active");
        f->part[2] += num(npu, "standby");
        f->part[3] += num(npu, "idle");
    }
}

/* A cell with the exact value in data-value and a rounded one shown; NAN shows n/a. */
static void cell(struct ipw_buf *b, const char *metric, double v, const char *fmt,
                 const char *unit)
{
    ipw_buf_puts(b, "<td class=\"num\" data-metric=\"");
    esc(b, metric);
    if (v != v) {
        ipw_buf_puts(b, "\" data-value=\"null\"><span class=\"na\">n/a</span></td>");
        return;
    }
    char shown[64];
    snprintf(shown, sizeof shown, fmt, v);
    ipw_buf_putf(b, "\" data-value=\"%.17g\">%s%s%s</td>", v, shown, unit[0] ? " " : "", unit);
}

static void card(struct ipw_buf *b, const char *label, const char *metric, double v,
                 const char *fmt, const char *unit)
{
    ipw_buf_puts(b, "<div class=\"card\"><div class=\"label\">");
    esc(b, label);
    ipw_buf_puts(b, BADGE "</div><table><tr>");
    cell(b, metric, v, fmt, unit);
    ipw_buf_puts(b, "</tr></table></div>");
}

static void row(struct ipw_buf *b, const char *label, const char *metric, double v,
                const char *fmt, const char *unit)
{
    ipw_buf_puts(b, "<tr><th scope=\"row\">");
    esc(b, label);
    ipw_buf_puts(b, "</th>");
    cell(b, metric, v, fmt, unit);
    ipw_buf_puts(b, "</tr>\n");
}

static double per(double a, double b)
{
    return b > 0 ? a / b : NAN;
}

static void energy_table(struct ipw_buf *b, const struct figures *f)
{
    static const char *const label[9] = {"base node", "NPU active", "NPU standby",
                                         "NPU idle",  "CPU",        "DRAM",
                                         "link",      "NIC",        "storage"};
    static const char *const metric[9] = {"energy_base_j", "energy_npu_active_j",
                                          "energy_npu_standby_j", "energy_npu_idle_j",
                                          "energy_cpu_j", "energy_memory_j", "energy_link_j",
                                          "energy_nic_j", "energy_storage_j"};
    ipw_buf_puts(b, "<table><caption>Energy by component" BADGE "</caption>\n");
    for (int k = 0; k < 9; k++) {
        ipw_buf_puts(b, "<tr><th scope=\"row\">");
        ipw_buf_puts(b, label[k]);
        ipw_buf_puts(b, "</th>");
        cell(b, metric[k], f->part[k], "%.1f", "J");
        cell(b, "", per(100 * f->part[k], f->energy_j), "%.1f", "%");
        ipw_buf_puts(b, "</tr>\n");
    }
    ipw_buf_puts(b, "<tr><th scope=\"row\">total</th>");
    cell(b, "energy_total_j", f->energy_j, "%.1f", "J");
    ipw_buf_puts(b, "<td></td></tr>\n</table>\n");
}

static void latency_table(struct ipw_buf *b, const json_t *sum)
{
    size_t i;
    json_t *inst;
    json_array_foreach(json_object_get(sum, "instances"), i, inst) {
        ipw_buf_putf(b, "<table><caption>Instance %zu: latency (ms)" BADGE "</caption>\n"
                        "<tr><th></th><th class=\"num\">mean</th><th class=\"num\">median</th>"
                        "<th class=\"num\">p99</th></tr>\n", i);
        static const char *const key[3] = {"ttft_ms", "tpot_ms", "itl_ms"};
        static const char *const label[3] = {"time to first token", "time per output token",
                                             "inter-token latency"};
        for (int k = 0; k < 3; k++) {
            const json_t *st = json_object_get(inst, key[k]);
            ipw_buf_puts(b, "<tr><th scope=\"row\">");
            ipw_buf_puts(b, label[k]);
            ipw_buf_puts(b, "</th>");
            static const char *const stat[3] = {"mean", "median", "p99"};
            for (int m = 0; m < 3; m++) {
                double v = NAN;
                if (json_is_object(st))
                    ipw_json_get_number(st, stat[m], &v);
                char metric[64];
                snprintf(metric, sizeof metric, "instance%zu_%s_%s", i, key[k], stat[m]);
                cell(b, metric, v, "%.2f", "");
            }
            ipw_buf_puts(b, "</tr>\n");
        }
        ipw_buf_puts(b, "</table>\n");
    }
}

/* ---- plots -------------------------------------------------------------------------------- */

void ipw_report_inline_svg(struct ipw_buf *b, const char *svg, const char *prefix)
{
    const char *p = strstr(svg, "<svg");
    if (!p)
        return;
    static const char *const marks[] = {"id=\"", "href=\"#", "url(#"};
    while (*p) {
        const char *next = NULL;
        size_t which = 0;
        for (size_t k = 0; k < 3; k++) {
            const char *m = strstr(p, marks[k]);
            if (m && (!next || m < next)) {
                next = m;
                which = k;
            }
        }
        if (!next) {
            ipw_buf_puts(b, p);
            break;
        }
        size_t ml = strlen(marks[which]);
        ipw_buf_put(b, p, (size_t)(next - p) + ml);
        ipw_buf_puts(b, prefix);
        p = next + ml;
    }
}

static void plots(struct ipw_buf *b, const struct ipw_report_sim *s, size_t no)
{
    static const char *const stem[2] = {"sim_power", "sim_energy"};
    static const char *const caption[2] = {
        "Modelled cluster power per log interval, stacked by component, with the modelled "
        "prompt and generated tokens/s on the right axis.",
        "Modelled energy of the whole run by component (the NPU split into active, standby and "
        "idle)."};
    ipw_buf_puts(b, "<h3>Plots" BADGE "</h3>\n<div class=\"plots\">\n");
    for (int k = 0; k < 2; k++) {
        char path[8400], *svg = NULL;
        snprintf(path, sizeof path, "%s/%s.svg", s->dir, stem[k]);
        ipw_buf_putf(b, "<figure id=\"sim%zu-%s\">", no, stem[k]);
        if (ipw_path_exists(path) && ipw_read_file(path, SIM_SVG_MAX, &svg, NULL, NULL) == IPW_OK) {
            char prefix[32];
            snprintf(prefix, sizeof prefix, "s%zup%d-", no, k);
            ipw_report_inline_svg(b, svg, prefix);
            free(svg);
        } else {
            ipw_buf_puts(b, "<p class=\"na\">plot unavailable: draw it with <code>ipw simulate "
                            "... --plots DIR</code> into the summary's directory</p>");
        }
        ipw_buf_puts(b, "<figcaption>");
        ipw_buf_puts(b, caption[k]);
        ipw_buf_puts(b, "</figcaption></figure>\n");
    }
    ipw_buf_puts(b, "</div>\n");
}

/* What the simulation was made from (summaries written since the inputs block exists):
 * the cluster config, the dataset and each performance model, so a reader sees whether the
 * times came from profiled tables or the roofline and which hardware spec it used. */
static void inputs_table(struct ipw_buf *b, const json_t *sum)
{
    const json_t *in = json_object_get(sum, "inputs"), *pm = json_object_get(sum, "perf_models");
    if (!json_is_object(in) && !json_is_array(pm))
        return;
    ipw_buf_puts(b, "<table class=\"inputs\"><caption>Inputs of this modelled run</caption>\n");
    static const char *const key[] = {"cluster_name", "cluster_config", "dataset"};
    static const char *const label[] = {"cluster", "cluster config", "dataset"};
    for (size_t k = 0; json_is_object(in) && k < 3; k++) {
        const char *v = ipw_json_get_string(in, key[k]);
        if (!v)
            continue;
        ipw_buf_putf(b, "<tr><th>%s</th><td>", label[k]);
        esc(b, v);
        ipw_buf_puts(b, "</td></tr>\n");
    }
    size_t i;
    const json_t *p;
    json_array_foreach(pm, i, p) {
        const char *spec = ipw_json_get_string(p, "spec");
        ipw_buf_puts(b, "<tr><th>performance model</th><td>");
        esc(b, ipw_json_get_string(p, "hardware"));
        ipw_buf_puts(b, " \xC2\xB7 ");
        esc(b, ipw_json_get_string(p, "model"));
        ipw_buf_puts(b, " ");
        esc(b, ipw_json_get_string(p, "variant"));
        ipw_buf_puts(b, ": ");
        esc(b, ipw_json_get_string(p, "kind"));
        if (spec) {
            ipw_buf_puts(b, " ");
            esc(b, spec);
        }
        ipw_buf_puts(b, " (");
        esc(b, ipw_json_get_string(p, "source"));
        ipw_buf_puts(b, ")</td></tr>\n");
    }
    ipw_buf_puts(b, "</table>\n");
}

void ipw_report_sim_section(struct ipw_buf *b, const struct ipw_report_sim *s, size_t no)
{
    struct figures f;
    figures(s->sum, &f);
    double e = f.power ? f.energy_j : NAN;
    ipw_buf_putf(b, "<section class=\"run sim\" id=\"sim%zu\" data-sim=\"%zu\">\n<h2>", no, no);
    ipw_report_sim_title(b, s);
    ipw_buf_puts(b, " <span class=\"badge\">modelled (ipw simulate), not measured</span></h2>\n");
    ipw_buf_puts(b, "<p class=\"note\">");
    esc(b, ipw_json_get_string(s->sum, "note"));
    const char *pn = ipw_json_get_string(s->sum, "perf_note");
    if (pn) {
        ipw_buf_puts(b, "; ");
        esc(b, pn);
    }
    if (!f.power)
        ipw_buf_puts(b, ". The cluster config has no power block, so no energy was modelled");
    ipw_buf_puts(b, ". A simulation has no answers, so accuracy, IPJ and IPW are not shown.</p>\n");
    ipw_buf_puts(b, "<div class=\"cards\">");
    card(b, "energy per request", "energy_per_request_j", per(e, f.requests), "%.4g", "J");
    card(b, "energy per output token", "j_per_output_token", per(e, f.generated), "%.4g",
         "J/token");
    card(b, "average power", "avg_power_w", per(e, f.clock_s), "%.4g", "W");
    card(b, "generation throughput", "gen_tokens_per_s", per(f.generated, f.clock_s), "%.4g",
         "tokens/s");
    const json_t *i0 = json_array_get(json_object_get(s->sum, "instances"), 0);
    double ttft = NAN;
    if (json_is_object(json_object_get(i0, "ttft_ms")))
        ipw_json_get_number(json_object_get(i0, "ttft_ms"), "median", &ttft);
    card(b, "TTFT median (instance 0)", "instance0_ttft_ms_median", ttft, "%.4g", "ms");
    ipw_buf_puts(b, "</div>\n<div class=\"tables\">\n");
    ipw_buf_puts(b, "<table><caption>Requests and throughput" BADGE "</caption>\n");
    row(b, "requests", "requests", f.requests, "%.0f", "");
    row(b, "input tokens", "input_tokens", f.input, "%.0f", "");
    row(b, "generated tokens", "generated_tokens", f.generated, "%.0f", "");
    row(b, "simulated time", "total_clock_s", f.clock_s, "%.3f", "s");
    row(b, "requests per second", "requests_per_s", per(f.requests, f.clock_s), "%.3f", "");
    row(b, "input tokens per second", "input_tokens_per_s", per(f.input, f.clock_s), "%.1f", "");
    row(b, "generated tokens per second", "gen_tokens_per_s", per(f.generated, f.clock_s), "%.1f",
        "");
    row(b, "preemptions", "preemptions", num(s->sum, "preemptions"), "%.0f", "");
    ipw_buf_puts(b, "</table>\n");
    if (f.power)
        energy_table(b, &f);
    latency_table(b, s->sum);
    inputs_table(b, s->sum);
    ipw_buf_puts(b, "</div>\n");
    plots(b, s, no);
    ipw_buf_puts(b, "</section>\n");
}
