/* What the plots draw: a bounded uniform sample of each scatter (reservoir sampling), the
 * fitted lines, the completion-token counts, and the Gaussian kernel density estimate. */
#include <math.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/regression.h"
#include "ipw/analysis.h"
#include "ipw/buf.h"
#include "ipw/fsutil.h"
#include "ipw/jsonutil.h"
#include "ipw/log.h"
#include "ipw/plots.h"
#include "ipw/run_reader.h"
#include "ipw/stats.h"

#define KDE_EXACT_MAX 20000
#define KDE_BINS 4096

static const enum ipw_reg_id scatter_reg[IPW_PLOT_SCATTERS] = {
    IPW_REG_INPUT_TTFT, IPW_REG_TOTAL_LATENCY, IPW_REG_TOTAL_ENERGY, IPW_REG_TOTAL_POWER};

const char *ipw_plot_name(enum ipw_plot_id id)
{
    static const char *const names[IPW_PLOT_COUNT] = {"ttft", "latency", "energy", "power",
                                                      "completion_tokens_kde"};
    return (unsigned)id < IPW_PLOT_COUNT ? names[id] : "unknown";
}

static uint64_t next_rand(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

ipw_err ipw_plot_points_add(struct ipw_plot_data *d, int k, double x, double y, ipw_errbuf *eb)
{
    struct ipw_plot_points *p = &d->scatter[k];
    if (!p->x) {
        p->x = malloc(IPW_PLOT_MAX_POINTS * sizeof *p->x);
        p->y = malloc(IPW_PLOT_MAX_POINTS * sizeof *p->y);
        if (!p->x || !p->y)
            return ipw_fail(eb, IPW_E_NOMEM, "out of memory collecting plot points");
    }
    p->seen++;
    if (p->n < IPW_PLOT_MAX_POINTS) {
        p->x[p->n] = x;
        p->y[p->n] = y;
        p->n++;
        return IPW_OK;
    }
    /* algorithm R: the i-th point replaces a kept one with probability max/i */
    uint64_t j = next_rand(&d->rng) % p->seen;
    if (j < IPW_PLOT_MAX_POINTS) {
        p->x[j] = x;
        p->y[j] = y;
    }
    return IPW_OK;
}

static ipw_err add_token(struct ipw_plot_data *d, double v, ipw_errbuf *eb)
{
    if (ipw_grow(&d->tokens, &d->tokens_cap, d->ntokens + 1, sizeof *d->tokens, SIZE_MAX) !=
        IPW_OK)
        return ipw_fail(eb, IPW_E_NOMEM, "out of memory collecting token counts");
    d->tokens[d->ntokens++] = v;
    return IPW_OK;
}

void ipw_plot_data_free(struct ipw_plot_data *d)
{
    for (int k = 0; k < IPW_PLOT_SCATTERS; k++) {
        free(d->scatter[k].x);
        free(d->scatter[k].y);
    }
    free(d->tokens);
    memset(d, 0, sizeof *d);
}

/* The run's max_tokens (--client-param, default 4096 for our runs): no completion is longer,
 * so the density stops there. NAN for a run without our summary.json. */
static double run_max_tokens(const char *run_dir)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/summary.json", run_dir);
    json_t *s = NULL;
    if (!ipw_path_exists(path) || ipw_json_load_file(path, 64u << 20, &s, NULL) != IPW_OK)
        return NAN;
    const json_t *pc = json_object_get(s, "profiler_config");
    const json_t *mt = json_object_get(json_object_get(pc, "client_params"), "max_tokens");
    double v = NAN;
    if (json_is_number(mt))
        v = json_number_value(mt);
    else if (json_is_string(mt))
        v = strtod(json_string_value(mt), NULL);
    else if (pc)
        v = 4096; /* the profiler's default */
    json_decref(s);
    return v > 0 ? v : NAN;
}

ipw_err ipw_plot_data_load(const char *run_dir, struct ipw_plot_data *d, ipw_errbuf *eb)
{
    memset(d, 0, sizeof *d);
    d->rng = 0x9E3779B97F4A7C15ull;
    d->token_cap = NAN;
    struct ipw_run_reader *r;
    ipw_err e = ipw_run_reader_open(run_dir, NULL, &r, eb);
    if (e != IPW_OK)
        return e;
    struct ipw_regression reg;
    ipw_regression_init(&reg);
    uint64_t n = 0;
    for (;;) {
        struct ipw_run_query q;
        bool eof;
        e = ipw_run_reader_next(r, &q, &eof, eb);
        if (e != IPW_OK || eof)
            break;
        n++;
        ipw_regression_add(&reg, &q);
        if (*q.energy_source && strcmp(d->energy_source, q.energy_source) != 0)
            snprintf(d->energy_source, sizeof d->energy_source, "%s",
                     d->energy_source[0] ? "mixed" : q.energy_source);
        for (int k = 0; k < IPW_PLOT_SCATTERS && e == IPW_OK; k++) {
            double x, y;
            if (ipw_regression_point(scatter_reg[k], &q, &x, &y))
                e = ipw_plot_points_add(d, k, x, y, eb);
        }
        if (e == IPW_OK && !q.failed && isfinite(q.output_tokens) && q.output_tokens >= 0)
            e = add_token(d, q.output_tokens, eb);
        if (e != IPW_OK)
            break;
    }
    if (e == IPW_OK && n == 0)
        e = ipw_fail(eb, IPW_E_NOTFOUND, "%s/records.jsonl has no records; nothing to plot",
                     run_dir);
    if (e == IPW_OK) {
        char path[4200];
        snprintf(path, sizeof path, "%s/analysis/regression.json", run_dir);
        json_t *doc = NULL;
        if (ipw_path_exists(path) && ipw_json_load_file(path, 16u << 20, &doc, NULL) != IPW_OK)
            doc = NULL;
        char why[256];
        if (doc && !ipw_analysis_current(run_dir, doc, why, sizeof why)) {
            /* fits of fewer records than the plot draws: recomputed from the records */
            ipw_info("not using %s: %s; the fits are computed from the records", path, why);
            json_decref(doc);
            doc = NULL;
        }
        for (int k = 0; k < IPW_PLOT_SCATTERS; k++)
            if (!doc || !ipw_regression_fit_from_json(doc, scatter_reg[k], &d->fit[k]))
                ipw_ols_fit(&reg.fit[scatter_reg[k]], &d->fit[k]);
        json_decref(doc);
        d->token_cap = run_max_tokens(run_dir);
        const struct ipw_run_info *info = ipw_run_reader_info(r);
        const char *model = ipw_run_reader_model(r);
        /* a plot travels alone (papers, slides): a modelled run says so on the plot itself */
        bool modelled = strcmp(d->energy_source, "modeled") == 0 ||
                        info->modelled || strcmp(info->client, "sim") == 0;
        snprintf(d->subtitle, sizeof d->subtitle, "%s%s%s%s%s%s", model,
                 info->hardware_label[0] ? " \xC2\xB7 " : "", info->hardware_label,
                 info->dataset[0] ? " \xC2\xB7 " : "", info->dataset,
                 modelled ? " \xC2\xB7 modelled (sim), not measured" : "");
    }
    ipw_run_reader_close(r);
    if (e != IPW_OK)
        ipw_plot_data_free(d);
    return e;
}

static const double INV_SQRT_2PI = 0.39894228040143267794;

double ipw_kde_scott(const double *v, size_t n, const double *grid, double *density, size_t m)
{
    for (size_t i = 0; i < m; i++)
        density[i] = 0;
    if (n == 0)
        return NAN;
    struct ipw_welford w;
    ipw_welford_init(&w);
    for (size_t i = 0; i < n; i++)
        ipw_welford_add(&w, v[i]);
    double s = n > 1 ? ipw_welford_std(&w, 1) : 0;
    double h = s * pow((double)n, -0.2);
    if (!(h > 0))
        h = fmax(1.0, fabs(w.mean) * 0.05); /* all equal: a narrow bump, not a division by 0 */
    double norm = INV_SQRT_2PI / (h * (double)n);
    if (n <= KDE_EXACT_MAX) {
        for (size_t i = 0; i < m; i++) {
            double sum = 0;
            for (size_t k = 0; k < n; k++) {
                double z = (grid[i] - v[k]) / h;
                if (z > -8 && z < 8)
                    sum += exp(-0.5 * z * z);
            }
            density[i] = sum * norm;
        }
        return h;
    }
    /* linear binning: each value splits its weight between the two nearest bin centres */
    double lo = w.min - 4 * h, hi = w.max + 4 * h;
    double delta = (hi - lo) / (KDE_BINS - 1);
    double *bins = calloc(KDE_BINS, sizeof *bins);
    if (!bins)
        return NAN;
    for (size_t k = 0; k < n; k++) {
        double pos = (v[k] - lo) / delta;
        size_t b = (size_t)pos;
        if (b >= KDE_BINS - 1)
            b = KDE_BINS - 2;
        double f = pos - (double)b;
        bins[b] += 1 - f;
        bins[b + 1] += f;
    }
    for (size_t i = 0; i < m; i++) {
        double sum = 0;
        double c = (grid[i] - lo) / delta;
        long from = (long)floor(c - 8 * h / delta), to = (long)ceil(c + 8 * h / delta);
        if (from < 0)
            from = 0;
        if (to > KDE_BINS - 1)
            to = KDE_BINS - 1;
        for (long b = from; b <= to; b++) {
            if (bins[b] == 0)
                continue;
            double z = (grid[i] - (lo + (double)b * delta)) / h;
            sum += bins[b] * exp(-0.5 * z * z);
        }
        density[i] = sum * norm;
    }
    free(bins);
    return h;
}
