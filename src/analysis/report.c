/* The HTML report: every run's analysis files and plots folded into one page that needs nothing
 * else (inline CSS, inline SVG with ids made unique per plot, no scripts). Every text that comes
 * from a run is HTML-escaped; every number carries its exact value in data-value so that tests
 * (and scripts) can check it against accuracy.json. */
#include "ipw/report.h"

#include "analysis/regression.h"
#include "analysis/report_predict.h"
#include "analysis/report_sim.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ipw/analysis.h"
#include "ipw/buf.h"
#include "ipw/fsutil.h"
#include "ipw/jsonutil.h"
#include "ipw/log.h"
#include "ipw/plots.h"
#include "ipw/run_reader.h"
#include "ipw/version.h"

#define ANALYSIS_MAX (512u << 20)

/* The page is a few megabytes; the bound only stops runaway input. */
#define REPORT_MAX ((size_t)1 << 30)

static void put_esc(struct ipw_buf *b, const char *s)
{
    for (const char *p = s ? s : ""; *p; p++) {
        switch (*p) {
        case '&': ipw_buf_puts(b, "&amp;"); break;
        case '<': ipw_buf_puts(b, "&lt;"); break;
        case '>': ipw_buf_puts(b, "&gt;"); break;
        case '"': ipw_buf_puts(b, "&quot;"); break;
        case '\'': ipw_buf_puts(b, "&#39;"); break;
        default: ipw_buf_put(b, p, 1);
        }
    }
}

char *ipw_html_escape(const char *text)
{
    struct ipw_buf b;
    ipw_buf_init(&b, REPORT_MAX);
    put_esc(&b, text);
    char *out;
    return ipw_buf_take(&b, &out, NULL) == IPW_OK ? out : NULL;
}

/* ---- one run ----------------------------------------------------------------------------- */

struct run_view {
    const char *dir;
    struct ipw_run_info info;
    char model[256];
    json_t *acc, *reg;
    const json_t *summary; /* accuracy.json's summary */
    struct ipw_plot_data plots;
    bool have_plots;
};

/* An analysis written before the run grew is recomputed, never shown (with a note why). */
static bool is_current(const char *dir, const char *path)
{
    json_t *doc = NULL;
    char why[256] = "";
    bool ok = ipw_json_load_file(path, ANALYSIS_MAX, &doc, NULL) == IPW_OK &&
              ipw_analysis_current(dir, doc, why, sizeof why);
    json_decref(doc);
    if (!ok)
        ipw_info("%s is out of date (%s): analysing the run again", path,
                 why[0] ? why : "unreadable");
    return ok;
}

static ipw_err ensure_analysis(const char *dir, ipw_errbuf *eb)
{
    char acc[4200], reg[4200];
    snprintf(acc, sizeof acc, "%s/analysis/accuracy.json", dir);
    snprintf(reg, sizeof reg, "%s/analysis/regression.json", dir);
    bool have_acc = ipw_path_exists(acc) && is_current(dir, acc);
    bool have_reg = ipw_path_exists(reg) && is_current(dir, reg);
    if (have_acc && have_reg)
        return IPW_OK;
    struct ipw_analyze_options o;
    ipw_analyze_options_init(&o);
    o.analysis = !have_acc && !have_reg ? "all" : !have_acc ? "accuracy" : "regression";
    return ipw_analyze_run(dir, &o, NULL, eb);
}

static ipw_err load_run(struct run_view *v, const char *dir, ipw_errbuf *eb)
{
    memset(v, 0, sizeof *v);
    v->dir = dir;
    struct ipw_run_reader *r;
    ipw_err e = ipw_run_reader_open(dir, NULL, &r, eb);
    if (e != IPW_OK)
        return e;
    v->info = *ipw_run_reader_info(r);
    ipw_run_reader_close(r);
    e = ensure_analysis(dir, eb);
    char path[4200];
    if (e == IPW_OK) {
        snprintf(path, sizeof path, "%s/analysis/accuracy.json", dir);
        e = ipw_json_load_file(path, ANALYSIS_MAX, &v->acc, eb);
    }
    if (e == IPW_OK) {
        snprintf(path, sizeof path, "%s/analysis/regression.json", dir);
        e = ipw_json_load_file(path, ANALYSIS_MAX, &v->reg, eb);
    }
    if (e == IPW_OK) {
        v->summary = json_object_get(v->acc, "summary");
        if (!json_is_object(v->summary))
            e = ipw_fail(eb, IPW_E_INVALID,
                         "%s/analysis/accuracy.json has no summary; run `ipw analyze %s` again",
                         dir, dir);
    }
    if (e == IPW_OK) {
        const char *m = ipw_json_get_string(v->summary, "model");
        snprintf(v->model, sizeof v->model, "%s", m && *m ? m : v->info.model);
        e = ipw_plot_data_load(dir, &v->plots, eb);
        v->have_plots = e == IPW_OK;
    }
    if (e != IPW_OK)
        ipw_err_prefix(eb, "report of %s", dir);
    return e;
}

static void free_run(struct run_view *v)
{
    json_decref(v->acc);
    json_decref(v->reg);
    if (v->have_plots)
        ipw_plot_data_free(&v->plots);
}

/* ---- numbers --------------------------------------------------------------------------------- */

enum fmt { F_PCT, F_SIG, F_COUNT, F_J, F_W, F_S, F_TOK, F_JTOK };

struct metric {
    const char *key, *label;
    enum fmt fmt;
};

/* 4 significant digits, but whole numbers with thousands separators from 10,000 up (no
 * exponent where a reader expects joules or tokens). */
static void sig4(char *out, size_t size, double v)
{
    if (fabs(v) < 1e4 || fabs(v) >= 1e15) {
        snprintf(out, size, "%.4g", v);
        return;
    }
    char tmp[32];
    snprintf(tmp, sizeof tmp, "%.0f", v);
    size_t start = tmp[0] == '-' ? 1 : 0, len = strlen(tmp), o = 0;
    for (size_t i = 0; i < len && o + 2 < size; i++) {
        if (i > start && (len - i) % 3 == 0)
            out[o++] = ',';
        out[o++] = tmp[i];
    }
    out[o] = '\0';
}

static void format_value(char *out, size_t size, double v, enum fmt f)
{
    char n[48];
    switch (f) {
    case F_PCT: snprintf(out, size, "%.2f %%", v * 100); break;
    case F_SIG: sig4(out, size, v); break;
    case F_COUNT:
    case F_TOK: sig4(out, size, round(v)); break;
    case F_J: sig4(n, sizeof n, v); snprintf(out, size, "%s J", n); break;
    case F_W: sig4(n, sizeof n, v); snprintf(out, size, "%s W", n); break;
    case F_S: snprintf(out, size, "%.3f s", v); break;
    case F_JTOK: sig4(n, sizeof n, v); snprintf(out, size, "%s J/token", n); break;
    }
}

/* <td data-metric=... data-value=...>formatted</td>; the value is exact (%.17g). */
static void value_cell(struct ipw_buf *b, const json_t *obj, const char *key, enum fmt f,
                       const char *extra_attr, bool best)
{
    const json_t *j = json_object_get(obj, key);
    ipw_buf_putf(b, "<td class=\"num%s\" data-metric=\"", best ? " best" : "");
    put_esc(b, key);
    ipw_buf_puts(b, "\"");
    if (extra_attr)
        ipw_buf_puts(b, extra_attr);
    if (json_is_number(j)) {
        char shown[64];
        format_value(shown, sizeof shown, json_number_value(j), f);
        ipw_buf_putf(b, " data-value=\"%.17g\">", json_number_value(j));
        put_esc(b, shown);
    } else {
        ipw_buf_puts(b, " data-value=\"null\"><span class=\"na\">n/a</span>");
    }
    ipw_buf_puts(b, "</td>");
}

static const struct metric accuracy_rows[] = {
    {"accuracy", "Accuracy (correct / scored)", F_PCT},
    {"correct", "Correct", F_COUNT},
    {"incorrect", "Incorrect", F_COUNT},
    {"unevaluated", "Unevaluated (not scored)", F_COUNT},
    {"failed", "Failed (queries + judgings)", F_COUNT},
    {"failed_queries", "Failed queries", F_COUNT},
    {"failed_evaluations", "Failed judgings", F_COUNT},
    {"total_scored", "Scored", F_COUNT},
    {"total_queries", "Queries", F_COUNT},
};

static const struct metric efficiency_rows[] = {
    {"intelligence_per_joule", "Intelligence per joule (IPJ, main domain)", F_SIG},
    {"intelligence_per_watt", "Intelligence per watt (IPW, main domain)", F_SIG},
    {"avg_energy_joules_all_queries", "Energy per query (main domain, all successful queries)",
     F_J},
    {"avg_power_watts_all_queries", "Power per query (main domain, all successful queries)", F_W},
    {"energy_sample_count_all_queries", "Successful queries in those two means", F_COUNT},
    {"imputed_energy_count_all_queries", "... of which energy imputed as power \xC3\x97 latency",
     F_COUNT},
    {"avg_per_query_energy_joules", "Energy per scored query (main domain)", F_J},
    {"avg_per_query_power_watts", "Power per scored query (main domain)", F_W},
    {"energy_sample_count", "Scored queries in the scored energy mean (IPJ)", F_COUNT},
    {"power_sample_count", "Scored queries in the scored power mean (IPW)", F_COUNT},
    {"imputed_energy_count", "... of which energy imputed as power \xC3\x97 latency", F_COUNT},
    {"ipj_total", "IPJ, all measured domains", F_SIG},
    {"ipw_total", "IPW, all measured domains", F_SIG},
    {"avg_per_query_total_energy_joules", "Energy per scored query, all domains", F_J},
    {"avg_per_query_total_power_watts", "Power per scored query, all domains", F_W},
    {"ipj_active", "IPJ above idle", F_SIG},
    {"ipw_active", "IPW above idle", F_SIG},
    {"avg_per_query_active_energy_joules", "Energy per scored query above idle", F_J},
    {"avg_per_query_active_power_watts", "Power per scored query above idle", F_W},
    {"output_tokens_per_joule", "Output tokens per joule", F_SIG},
};

static const struct metric phase_rows[] = {
    {"prefill_energy_joules", "Prefill energy (all queries)", F_J},
    {"decode_energy_joules", "Decode energy (all queries)", F_J},
    {"prefill_energy_share", "Prefill share of energy", F_PCT},
    {"avg_prefill_energy_joules", "Prefill energy per query", F_J},
    {"avg_decode_energy_joules", "Decode energy per query", F_J},
    {"prefill_joules_per_input_token", "Prefill energy per input token", F_JTOK},
    {"decode_joules_per_output_token", "Decode energy per output token", F_JTOK},
    {"avg_ttft_seconds", "Mean time to first token", F_S},
    {"avg_decode_seconds", "Mean decode time", F_S},
};

static const struct metric latency_rows[] = {
    {"avg_latency_seconds", "Mean latency", F_S},
    {"latency_p50_seconds", "Latency p50", F_S},
    {"latency_p95_seconds", "Latency p95", F_S},
    {"ttft_p50_seconds", "Time to first token p50", F_S},
    {"ttft_p95_seconds", "Time to first token p95", F_S},
    {"input_tokens", "Input tokens (all queries)", F_TOK},
    {"output_tokens", "Output tokens (all queries)", F_TOK},
};

static void metric_table(struct ipw_buf *b, const char *title, const struct metric *rows, size_t n,
                         const json_t *summary)
{
    ipw_buf_puts(b, "<table class=\"metrics\"><caption>");
    put_esc(b, title);
    ipw_buf_puts(b, "</caption><tbody>\n");
    for (size_t i = 0; i < n; i++) {
        ipw_buf_puts(b, "<tr><th scope=\"row\">");
        put_esc(b, rows[i].label);
        ipw_buf_puts(b, "</th>");
        value_cell(b, summary, rows[i].key, rows[i].fmt, NULL, false);
        ipw_buf_puts(b, "</tr>\n");
    }
    ipw_buf_puts(b, "</tbody></table>\n");
}

/* ---- run sections ---------------------------------------------------------------------------- */

static void run_title(struct ipw_buf *b, const struct run_view *v)
{
    put_esc(b, v->model);
    if (v->info.hardware_label[0]) {
        ipw_buf_puts(b, " on ");
        put_esc(b, v->info.hardware_label);
    }
    if (v->info.dataset[0]) {
        ipw_buf_puts(b, " \xC2\xB7 ");
        put_esc(b, v->info.dataset);
    }
}

static bool modelled(const struct run_view *v)
{
    return v->info.modelled || strcmp(v->info.client, "sim") == 0 ||
           strcmp(v->plots.energy_source, "modeled") == 0;
}

/* The sim's verdicts drawn from published accuracies: accuracy, IPJ and IPW are modelled. */
static bool modelled_accuracy(const struct run_view *v)
{
    const char *basis = ipw_json_get_string(v->summary, "accuracy_basis");
    return basis && strcmp(basis, "modelled accuracy") == 0;
}

static void meta_row(struct ipw_buf *b, const char *label, const char *value)
{
    if (!value || !*value)
        return;
    ipw_buf_puts(b, "<dt>");
    put_esc(b, label);
    ipw_buf_puts(b, "</dt><dd>");
    put_esc(b, value);
    ipw_buf_puts(b, "</dd>");
}

static void card(struct ipw_buf *b, const char *label, const json_t *summary, const char *key,
                 enum fmt f)
{
    ipw_buf_puts(b, "<div class=\"card\"><div class=\"label\">");
    put_esc(b, label);
    ipw_buf_puts(b, "</div><table><tr>");
    value_cell(b, summary, key, f, NULL, false);
    ipw_buf_puts(b, "</tr></table></div>");
}

static void regression_table(struct ipw_buf *b, const json_t *reg)
{
    const json_t *regs = json_object_get(json_object_get(reg, "data"), "regressions");
    ipw_buf_puts(b, "<table class=\"grid\"><caption>Least-squares fits (y = slope \xC2\xB7 x + "
              "intercept)</caption><thead><tr><th>fit</th><th class=\"num\">points</th>"
              "<th class=\"num\">slope</th><th class=\"num\">intercept</th>"
              "<th class=\"num\">R\xC2\xB2</th><th class=\"num\">mean y</th></tr></thead>"
              "<tbody>\n");
    for (int i = 0; i < IPW_REG_COUNT; i++) {
        const char *name = ipw_regression_name((enum ipw_reg_id)i);
        const json_t *o = json_object_get(regs, name);
        ipw_buf_puts(b, "<tr><th scope=\"row\"><code>");
        put_esc(b, name);
        ipw_buf_puts(b, "</code></th>");
        static const char *const fields[] = {"count", "slope", "intercept", "r2", "avg_y"};
        char attr[160];
        snprintf(attr, sizeof attr, " data-reg=\"%s\"", name);
        for (size_t k = 0; k < 5; k++)
            value_cell(b, o, fields[k], k == 0 ? F_COUNT : F_SIG, attr, false);
        ipw_buf_puts(b, "</tr>\n");
    }
    ipw_buf_puts(b, "</tbody></table>\n");
}

/* Accuracy per item kind (data.by_kind of accuracy.json). */
static void kinds_table(struct ipw_buf *b, const json_t *acc)
{
    const json_t *kinds = json_object_get(json_object_get(acc, "data"), "by_kind");
    if (!json_is_object(kinds) || json_object_size(kinds) == 0)
        return;
    ipw_buf_puts(b, "<table class=\"grid\"><caption>By kind of item</caption><thead><tr><th>kind</th>"
              "<th class=\"num\">correct</th><th class=\"num\">incorrect</th>"
              "<th class=\"num\">unevaluated</th><th class=\"num\">failed</th>"
              "<th class=\"num\">accuracy</th></tr></thead><tbody>\n");
    const char *kind;
    const json_t *o;
    json_object_foreach((json_t *)kinds, kind, o)
    {
        ipw_buf_puts(b, "<tr><th scope=\"row\">");
        put_esc(b, kind);
        ipw_buf_puts(b, "</th>");
        static const char *const cols[] = {"correct", "incorrect", "unevaluated", "failed"};
        for (size_t i = 0; i < 4; i++) {
            double v = 0;
            ipw_json_get_number(o, cols[i], &v);
            ipw_buf_putf(b, "<td class=\"num\">%.0f</td>", v);
        }
        double a;
        if (ipw_json_get_number(o, "accuracy", &a))
            ipw_buf_putf(b, "<td class=\"num\">%.2f %%</td>", a * 100);
        else
            ipw_buf_puts(b, "<td class=\"num\"><span class=\"na\">n/a</span></td>");
        ipw_buf_puts(b, "</tr>\n");
    }
    ipw_buf_puts(b, "</tbody></table>\n");
}

static void warnings_list(struct ipw_buf *b, const json_t *acc, const json_t *reg)
{
    const json_t *lists[] = {json_object_get(acc, "warnings"), json_object_get(reg, "warnings")};
    size_t total = json_array_size(lists[0]) + json_array_size(lists[1]);
    if (!total)
        return;
    ipw_buf_puts(b, "<details class=\"warnings\"><summary>");
    ipw_buf_putf(b, "%zu warning%s", total, total == 1 ? "" : "s");
    ipw_buf_puts(b, "</summary><ul>");
    for (size_t l = 0; l < 2; l++) {
        size_t i;
        const json_t *w;
        json_array_foreach(lists[l], i, w)
        {
            ipw_buf_puts(b, "<li>");
            put_esc(b, json_string_value(w));
            ipw_buf_puts(b, "</li>");
        }
    }
    ipw_buf_puts(b, "</ul></details>\n");
}

static void judge_note(struct ipw_buf *b, const json_t *acc, const struct run_view *v)
{
    if (strcmp(v->info.client, "sim") == 0) {
        if (modelled_accuracy(v))
            ipw_buf_puts(b, "<p class=\"note\"><strong>Modelled accuracy.</strong> The sim backend "
                      "generates no real answers: whether each multiple-choice and exact answer "
                      "would have been right is drawn (per item and seed) from the model's "
                      "published benchmark accuracy (data/accuracy/published.json, with "
                      "sources); open answers stay unevaluated. Accuracy, IPJ and IPW here are "
                      "therefore modelled, and every energy is modelled, not measured.</p>\n");
        else
            ipw_buf_puts(b, "<p class=\"note\">The sim backend answers with a labelled placeholder: "
                      "nothing is scored, and every energy is modelled, not measured.</p>\n");
        return;
    }
    const json_t *j = json_object_get(json_object_get(acc, "data"), "judge");
    if (!json_is_true(json_object_get(j, "enabled"))) {
        ipw_buf_puts(b, "<p class=\"note\">Open-ended answers were not judged (no judge configured): "
                  "they are counted as unevaluated, never guessed.</p>\n");
        return;
    }
    ipw_buf_puts(b, "<p class=\"note\">Judge: <code>");
    put_esc(b, ipw_json_get_string(j, "model"));
    ipw_buf_puts(b, "</code> at <code>");
    put_esc(b, ipw_json_get_string(j, "endpoint"));
    double judged = 0, failed = 0, hits = 0;
    ipw_json_get_number(j, "judged", &judged);
    ipw_json_get_number(j, "failed", &failed);
    ipw_json_get_number(j, "cache_hits", &hits);
    ipw_buf_putf(b, "</code>; %.0f verdicts this run, %.0f from the cache, %.0f failed.</p>\n",
              judged, hits, failed);
}

static const char *const captions[IPW_PLOT_COUNT] = {
    "Time to first token against input tokens, with the least-squares line.",
    "End-to-end latency against total tokens, with the least-squares line.",
    "Energy per query (main domain) against total tokens, with the least-squares line.",
    "Average power during each query against total tokens (zero readings left out).",
    /* parenthesised: one caption split over two lines, not a missing comma (clang warns) */
    ("Distribution of completion tokens: Gaussian kernel density with Scott's bandwidth (ticks "
     "along the axis mark the queries of runs up to 3,000)."),
};

static void plots_section(struct ipw_buf *b, const struct run_view *v, size_t run_no)
{
    ipw_buf_puts(b, "<h3>Plots</h3>\n<div class=\"plots\">\n");
    for (int id = 0; id < IPW_PLOT_COUNT; id++) {
        char *svg = NULL;
        size_t len;
        ipw_buf_putf(b, "<figure id=\"run%zu-%s\">", run_no, ipw_plot_name((enum ipw_plot_id)id));
        if (v->have_plots && ipw_plot_svg(&v->plots, (enum ipw_plot_id)id, &svg, &len, NULL) ==
                                 IPW_OK) {
            char prefix[32];
            snprintf(prefix, sizeof prefix, "r%zup%d-", run_no, id);
            ipw_report_inline_svg(b, svg, prefix);
            free(svg);
        } else {
            ipw_buf_puts(b, "<p class=\"na\">plot unavailable</p>");
        }
        ipw_buf_puts(b, "<figcaption>");
        put_esc(b, captions[id]);
        ipw_buf_puts(b, "</figcaption></figure>\n");
    }
    ipw_buf_puts(b, "</div>\n");
}

static void format_time(char *out, size_t size, double unix_s)
{
    if (!isfinite(unix_s)) {
        out[0] = '\0';
        return;
    }
    time_t t = (time_t)unix_s;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, size, "%Y-%m-%d %H:%M UTC", &tm);
}

static void run_section(struct ipw_buf *b, const struct run_view *v, size_t run_no)
{
    ipw_buf_putf(b, "<section class=\"run\" id=\"run%zu\" data-run=\"%zu\">\n<h2>", run_no, run_no);
    run_title(b, v);
    if (modelled(v))
        ipw_buf_puts(b, " <span class=\"badge\">modelled energy (sim)</span>");
    ipw_buf_puts(b, "</h2>\n<dl class=\"meta\">");
    meta_row(b, "run directory", v->dir);
    meta_row(b, "model", v->model);
    meta_row(b, "hardware", v->info.hardware_label);
    meta_row(b, "GPU", v->info.gpu_name);
    meta_row(b, "CPU", v->info.cpu_brand);
    meta_row(b, "dataset", v->info.dataset_name[0] ? v->info.dataset_name : v->info.dataset);
    meta_row(b, "client", v->info.client);
    char collector[160] = "";
    if (v->info.platform[0] || v->info.collector[0])
        snprintf(collector, sizeof collector, "%s%s%s", v->info.platform,
                 v->info.platform[0] && v->info.collector[0] ? " / " : "", v->info.collector);
    meta_row(b, "telemetry", collector);
    meta_row(b, "energy source", v->plots.energy_source);
    char when[64];
    format_time(when, sizeof when, v->info.generated_at);
    meta_row(b, "profiled", when);
    ipw_buf_puts(b, "</dl>\n");
    double measured = 0;
    if (!modelled(v) &&
        (!ipw_json_get_number(v->summary, "energy_sample_count_all_queries", &measured) ||
         measured == 0))
        /* one sentence, first, so that no reader hunts for why every energy is n/a */
        ipw_buf_puts(b, "<p class=\"note nopower\"><strong>No energy was measured in this run:"
                        "</strong> no power or energy counter was readable where it ran (the null "
                        "collector), so every energy and IPJ/IPW figure is n/a; run "
                        "<code>energy-monitor</code> as root and profile with <code>--monitor "
                        "HOST:PORT</code>, or make RAPL readable (docs/collectors/rapl.md).</p>\n");
    ipw_buf_puts(b, "<div class=\"cards\">");
    bool ma = modelled_accuracy(v);
    card(b, ma ? "modelled accuracy" : "accuracy", v->summary, "accuracy", F_PCT);
    card(b, ma ? "IPJ (modelled accuracy)" : "intelligence per joule", v->summary,
         "intelligence_per_joule", F_SIG);
    card(b, ma ? "IPW (modelled accuracy)" : "intelligence per watt", v->summary,
         "intelligence_per_watt", F_SIG);
    card(b, "energy per query", v->summary, "avg_energy_joules_all_queries", F_J);
    card(b, "latency p50", v->summary, "latency_p50_seconds", F_S);
    ipw_buf_puts(b, "</div>\n");
    judge_note(b, v->acc, v);
    ipw_buf_puts(b, "<div class=\"tables\">\n");
    metric_table(b, ma ? "Accuracy (modelled accuracy)" : "Accuracy", accuracy_rows,
                 sizeof accuracy_rows / sizeof accuracy_rows[0], v->summary);
    metric_table(b, ma ? "Intelligence per joule and per watt (modelled accuracy)"
                       : "Intelligence per joule and per watt",
                 efficiency_rows,
                 sizeof efficiency_rows / sizeof efficiency_rows[0], v->summary);
    metric_table(b, "Prefill and decode", phase_rows, sizeof phase_rows / sizeof phase_rows[0],
                 v->summary);
    metric_table(b, "Latency and tokens", latency_rows,
                 sizeof latency_rows / sizeof latency_rows[0], v->summary);
    ipw_buf_puts(b, "</div>\n");
    kinds_table(b, v->acc);
    regression_table(b, v->reg);
    warnings_list(b, v->acc, v->reg);
    ipw_report_predictions(b, v->dir);
    plots_section(b, v, run_no);
    ipw_buf_puts(b, "</section>\n");
}

/* ---- comparison ------------------------------------------------------------------------------- */

static const struct metric compare_cols[] = {
    {"accuracy", "accuracy", F_PCT},
    {"intelligence_per_joule", "IPJ", F_SIG},
    {"intelligence_per_watt", "IPW", F_SIG},
    {"avg_energy_joules_all_queries", "J / query", F_J},
    {"avg_power_watts_all_queries", "W / query", F_W},
    {"prefill_energy_share", "prefill share", F_PCT},
    {"latency_p50_seconds", "p50 latency", F_S},
    {"latency_p95_seconds", "p95 latency", F_S},
    {"total_queries", "queries", F_COUNT},
};

/* Equal up to rounding noise: two runs at 322 W and 322.0000000001 W are a tie. */
static bool same_value(double a, double b)
{
    return fabs(a - b) <= 1e-9 * fmax(fabs(a), fabs(b));
}

static void comparison(struct ipw_buf *b, const struct run_view *v, size_t n)
{
    size_t ncols = sizeof compare_cols / sizeof compare_cols[0];
    /* The best value per column: highest accuracy/IPJ/IPW, lowest energy and latency. A
     * modelled (sim) run is compared only with modelled runs and a measured one only with
     * measured ones: a model's numbers "winning" over a measurement would mean nothing. */
    double best[2][sizeof compare_cols / sizeof compare_cols[0]];
    bool all_tied[2][sizeof compare_cols / sizeof compare_cols[0]];
    size_t in_group[2] = {0, 0};
    for (size_t i = 0; i < n; i++)
        in_group[modelled(&v[i])]++;
    for (int g = 0; g < 2; g++) {
        for (size_t c = 0; c < ncols; c++) {
            best[g][c] = NAN;
            all_tied[g][c] = true;
            bool higher = c < 3, lower = c == 3 || c == 4 || c == 6 || c == 7;
            for (size_t i = 0; i < n && (higher || lower); i++) {
                double x;
                if ((int)modelled(&v[i]) != g ||
                    !ipw_json_get_number(v[i].summary, compare_cols[c].key, &x))
                    continue;
                if (!isnan(best[g][c]) && !same_value(x, best[g][c]))
                    all_tied[g][c] = false;
                if (isnan(best[g][c]) || (higher && x > best[g][c]) || (lower && x < best[g][c]))
                    best[g][c] = x;
            }
        }
    }
    ipw_buf_puts(b, "<section id=\"comparison\"><h2>Comparison</h2>\n<div class=\"scroll\"><table "
              "class=\"grid compare\"><thead><tr><th>run</th><th>model</th><th>hardware</th>"
              "<th>dataset</th>");
    for (size_t c = 0; c < ncols; c++) {
        ipw_buf_puts(b, "<th class=\"num\">");
        put_esc(b, compare_cols[c].label);
        ipw_buf_puts(b, "</th>");
    }
    ipw_buf_puts(b, "</tr></thead><tbody>\n");
    for (size_t i = 0; i < n; i++) {
        int g = modelled(&v[i]);
        ipw_buf_putf(b, "<tr data-run=\"%zu\"%s><td><a href=\"#run%zu\">%zu</a></td><td>", i + 1,
                  g ? " data-modelled=\"1\"" : "", i + 1, i + 1);
        put_esc(b, v[i].model);
        if (g)
            ipw_buf_puts(b, modelled_accuracy(&v[i])
                          ? " <span class=\"badge\">sim: modelled energy and accuracy</span>"
                          : " <span class=\"badge\">sim: modelled energy</span>");
        ipw_buf_puts(b, "</td><td>");
        put_esc(b, v[i].info.hardware_label[0] ? v[i].info.hardware_label : "unknown");
        ipw_buf_puts(b, "</td><td>");
        put_esc(b, v[i].info.dataset[0] ? v[i].info.dataset : "unknown");
        ipw_buf_puts(b, "</td>");
        char attr[48];
        snprintf(attr, sizeof attr, " data-run=\"%zu\"", i + 1);
        for (size_t c = 0; c < ncols; c++) {
            /* bold every run at its group's best value, none when they all share it */
            double x;
            bool bold = in_group[g] > 1 && !all_tied[g][c] && !isnan(best[g][c]) &&
                        ipw_json_get_number(v[i].summary, compare_cols[c].key, &x) &&
                        same_value(x, best[g][c]);
            value_cell(b, v[i].summary, compare_cols[c].key, compare_cols[c].fmt, attr, bold);
        }
        ipw_buf_puts(b, "</tr>\n");
    }
    ipw_buf_puts(b, "</tbody></table></div><p class=\"note\">Bold: the best run in each column "
              "(highest accuracy, IPJ and IPW; lowest energy, power and latency), among the "
              "measured runs and, separately, among the modelled (sim) runs: a modelled run is "
              "never ranked against a measured one. IPJ = accuracy / mean energy per query; "
              "IPW = accuracy / mean power per query.</p></section>\n");
}

static const char css[] =
    ":root{--ink:#1d1d22;--muted:#5f6068;--line:#dcdce2;--soft:#f4f4f7;--accent:#1f77b4}"
    "*{box-sizing:border-box}"
    "body{margin:0;font:15px/1.5 system-ui,-apple-system,'Segoe UI',Roboto,'DejaVu Sans',"
    "sans-serif;color:var(--ink);background:#fff}"
    "main{max-width:1180px;margin:0 auto;padding:24px 28px 60px}"
    "header h1{font-size:26px;margin:0 0 4px}header p{margin:0;color:var(--muted)}"
    "h2{font-size:21px;margin:36px 0 10px;padding-top:14px;border-top:2px solid var(--line)}"
    "h3{font-size:16px;margin:26px 0 8px}"
    "code{font:13px/1.4 'DejaVu Sans Mono',Menlo,Consolas,monospace}"
    ".badge{display:inline-block;font-size:12px;font-weight:600;padding:1px 8px;"
    "border-radius:10px;background:#fff3cd;color:#7a5b00;vertical-align:middle}"
    "dl.meta{display:grid;grid-template-columns:max-content 1fr;gap:2px 16px;margin:8px 0 16px;"
    "color:var(--muted)}dl.meta dt{font-weight:600}dl.meta dd{margin:0;overflow-wrap:anywhere}"
    ".cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(170px,1fr));gap:12px;"
    "margin:12px 0}"
    ".card{border:1px solid var(--line);border-radius:8px;padding:10px 14px;background:var(--soft)}"
    ".card .label{color:var(--muted);font-size:13px}.card table{border:0;margin:0}"
    ".card td{font-size:22px;font-weight:650;padding:0;border:0;text-align:left}"
    ".tables{display:grid;grid-template-columns:repeat(auto-fit,minmax(340px,1fr));gap:8px 28px;"
    "align-items:start}"
    "table{border-collapse:collapse;margin:10px 0;width:100%}"
    "caption{text-align:left;font-weight:650;padding:4px 0}"
    "th,td{padding:4px 8px;border-bottom:1px solid var(--line);text-align:left;"
    "vertical-align:top}"
    "th[scope=row]{font-weight:normal;color:var(--muted)}"
    "td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}"
    "table.grid thead th{background:var(--soft);font-weight:650;white-space:nowrap}"
    "table.compare{font-size:13px}table.compare th,table.compare td{padding:4px 6px}"
    "table.grid td.num,table.grid th.num{text-align:right}"
    "td.best{font-weight:700}"
    ".na{color:#9a9aa2}"
    ".scroll{overflow-x:auto}"
    ".note{color:var(--muted);font-size:13.5px}"
    "details.warnings{margin:12px 0;padding:8px 12px;background:#fff8e6;border:1px solid "
    "#f0deb0;border-radius:6px}details.warnings summary{cursor:pointer;font-weight:600}"
    ".plots{display:flex;flex-direction:column;align-items:center;gap:18px}"
    "figure{margin:0;width:100%;max-width:880px;border:1px solid var(--line);border-radius:8px;"
    "padding:8px;background:#fff}"
    "figure svg{display:block;width:100%;height:auto}"
    "figcaption{color:var(--muted);font-size:13px;padding:4px 6px 0}"
    "footer{margin-top:40px;color:var(--muted);font-size:13px}"
    "@media print{figure{break-inside:avoid}}";

static void page_title(struct ipw_buf *b, const struct run_view *v, size_t n,
                       const struct ipw_report_sim *sim, size_t ns)
{
    if (n == 1 && ns == 0)
        run_title(b, &v[0]);
    else if (n == 0 && ns == 1)
        ipw_report_sim_title(b, &sim[0]);
    else if (ns == 0)
        ipw_buf_putf(b, "%zu runs compared", n);
    else
        ipw_buf_putf(b, "%zu run%s and %zu simulation%s (modelled)", n, n == 1 ? "" : "s", ns,
                     ns == 1 ? "" : "s");
}

static void page(struct ipw_buf *b, const struct run_view *v, size_t n,
                 const struct ipw_report_sim *sim, size_t ns)
{
    ipw_buf_puts(b, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
              "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
              "<meta name=\"generator\" content=\"ipw " IPW_VERSION "\">\n"
              "<link rel=\"icon\" href=\"data:,\">\n<title>ipw report: ");
    page_title(b, v, n, sim, ns);
    ipw_buf_puts(b, "</title>\n<style>");
    ipw_buf_puts(b, css);
    ipw_buf_puts(b, "</style>\n</head>\n<body>\n<main>\n<header><h1>Intelligence per joule and per "
              "watt</h1><p>");
    page_title(b, v, n, sim, ns);
    char now[64];
    format_time(now, sizeof now, (double)time(NULL));
    ipw_buf_putf(b, " \xC2\xB7 report written %s by ipw %s</p></header>\n", now, IPW_VERSION);
    if (n > 1)
        comparison(b, v, n);
    for (size_t i = 0; i < n; i++)
        run_section(b, &v[i], i + 1);
    for (size_t i = 0; i < ns; i++)
        ipw_report_sim_section(b, &sim[i], i + 1);
    ipw_buf_puts(b, "<footer>");
    if (n > 0)
        ipw_buf_puts(b, "accuracy = correct / (correct + incorrect); unevaluated and failed "
              "queries are counted but not scored. IPJ = accuracy / mean energy of the scored "
              "queries with energy &gt; 0 (an energy of 0 with a power P and a latency L counts "
              "as P \xC3\x97 L). IPW = accuracy / mean power, a query's power being energy / "
              "latency, else its window's average power. Latency percentiles interpolate "
              "linearly between order statistics. ");
    if (ns > 0)
        ipw_buf_puts(b, "A simulation's figures come from its summary: energy per request = "
              "modelled total energy / requests, per output token = / generated tokens, average "
              "power = / simulated time; latency statistics are numpy's (mean, median, linear "
              "99th percentile), as ipw simulate prints them.");
    ipw_buf_puts(b, "</footer>\n</main>\n</body>\n</html>\n");
}

ipw_err ipw_report_write(const char *const *run_dirs, size_t n, const char *out_path,
                         ipw_errbuf *eb)
{
    if (n == 0)
        return ipw_fail(eb, IPW_E_INVALID, "no run directory given");
    struct run_view *v = calloc(n, sizeof *v);
    struct ipw_report_sim *sim = calloc(n, sizeof *sim);
    if (!v || !sim) {
        free(v);
        free(sim);
        return ipw_fail(eb, IPW_E_NOMEM, "out of memory");
    }
    ipw_err e = IPW_OK;
    size_t nr = 0, ns = 0;
    /* runs and simulation summaries in the order given, each kind shown in its own sections */
    for (size_t i = 0; i < n && e == IPW_OK; i++) {
        if (ipw_report_is_sim(run_dirs[i])) {
            e = ipw_report_sim_load(&sim[ns], run_dirs[i], eb);
            ns += e == IPW_OK;
        } else {
            e = load_run(&v[nr], run_dirs[i], eb);
            nr++; /* load_run leaves a view that free_run can release even on failure */
        }
    }
    if (e == IPW_OK) {
        struct ipw_buf b;
        ipw_buf_init(&b, REPORT_MAX);
        page(&b, v, nr, sim, ns);
        if (ipw_buf_status(&b) == IPW_E_RANGE)
            e = ipw_fail(eb, IPW_E_RANGE, "the report would be larger than %zu MiB; report fewer "
                         "runs at once", REPORT_MAX >> 20);
        else if (ipw_buf_status(&b) != IPW_OK)
            e = ipw_fail(eb, IPW_E_NOMEM, "out of memory building the report");
        else
            e = ipw_write_file_atomic(out_path, b.p, b.len, eb);
        ipw_buf_free(&b);
    }
    for (size_t i = 0; i < nr; i++)
        free_run(&v[i]);
    for (size_t i = 0; i < ns; i++)
        ipw_report_sim_free(&sim[i]);
    free(v);
    free(sim);
    return e;
}
