/* The plots of one simulation (issue 14 item 5), with cairo as PNG and SVG: the power
 * timeline (the cluster's modelled watts per heartbeat interval stacked by component, with
 * the modelled prompt and generation throughput as lines on a second axis) and the energy
 * breakdown per component with the NPU split into active, standby and idle. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "ipw/fsutil.h"
#include "ipw/plots.h"
#include "ipw/predict.h"
#include "sim/predict/simplots.h"

#define W 960.0
#define H 560.0
#define HP 640.0 /* the power timeline: room for its legend under the axis */

/* Stack order, bottom to top: the constant parts first, the NPU (which moves) on top. */
static const enum ipw_ss_part stack[IPW_SS_NPARTS] = {
    IPW_SS_PART_BASE,     IPW_SS_PART_NIC_STORAGE, IPW_SS_PART_LINK,        IPW_SS_PART_DRAM,
    IPW_SS_PART_CPU,      IPW_SS_PART_NPU_IDLE,    IPW_SS_PART_NPU_STANDBY, IPW_SS_PART_NPU_ACTIVE};

static void part_color(cairo_t *cr, enum ipw_ss_part k)
{
    static const double rgb[IPW_SS_NPARTS][3] = {
        [IPW_SS_PART_BASE] = {0.62, 0.62, 0.64},    [IPW_SS_PART_NPU_ACTIVE] = {0.84, 0.15, 0.16},
        [IPW_SS_PART_NPU_STANDBY] = {0.99, 0.60, 0.35}, [IPW_SS_PART_NPU_IDLE] = {0.98, 0.78, 0.78},
        [IPW_SS_PART_CPU] = {0.36, 0.58, 0.80},     [IPW_SS_PART_DRAM] = {0.45, 0.73, 0.45},
        [IPW_SS_PART_LINK] = {0.66, 0.52, 0.80},    [IPW_SS_PART_NIC_STORAGE] = {0.70, 0.55, 0.45}};
    cairo_set_source_rgb(cr, rgb[k][0], rgb[k][1], rgb[k][2]);
}

/* One throughput series as a step line on the right axis (t1 tokens/s at the top). */
static void tps_line(cairo_t *cr, const struct ss_plot_frame *f, const double *v, size_t n,
                     double dt, double t1)
{
    for (size_t i = 0; i < n; i++) {
        double x = ss_plot_px(f, (double)i * dt), x2 = ss_plot_px(f, (double)(i + 1) * dt);
        double y = f->top + f->h - v[i] / t1 * f->h;
        if (i == 0)
            cairo_move_to(cr, x, y);
        else
            cairo_line_to(cr, x, y);
        cairo_line_to(cr, x2, y);
    }
    cairo_stroke(cr);
}

static void legend_entry(cairo_t *cr, int slot, const char *text, bool line, bool dashed)
{
    /* four columns under the x axis label */
    double x = 40 + (slot % 4) * 225.0, y = HP - 78 + (slot / 4) * 18.0;
    if (line) {
        cairo_set_line_width(cr, 2);
        if (dashed)
            cairo_set_dash(cr, (const double[]){6, 3}, 2, 0);
        cairo_move_to(cr, x, y - 4);
        cairo_line_to(cr, x + 16, y - 4);
        cairo_stroke(cr);
        cairo_set_dash(cr, NULL, 0, 0);
    } else {
        cairo_rectangle(cr, x, y - 9, 16, 10);
        cairo_fill(cr);
    }
    cairo_set_source_rgb(cr, 0.15, 0.15, 0.17);
    ss_plot_text(cr, x + 22, y, text, 0, 11);
}

static void draw_power(cairo_t *cr, const void *ud)
{
    const struct ipw_ss_result *r = ud;
    struct ss_plot_frame f = {.left = 90, .top = 50, .w = W - 190, .h = HP - 190};
    size_t n = r->power_parts_w ? r->n_power : 0, nt = r->n_throughput;
    double dt = r->log_interval, pmax = 0, tmax = 0, mean[IPW_SS_NPARTS] = {0};
    for (size_t i = 0; i < n; i++) {
        double sum = 0;
        for (int k = 0; k < IPW_SS_NPARTS; k++) {
            sum += r->power_parts_w[i][k];
            mean[k] += r->power_parts_w[i][k] / (double)n;
        }
        pmax = fmax(pmax, sum);
    }
    for (size_t i = 0; i < nt; i++)
        tmax = fmax(tmax, fmax(r->prompt_tps[i], r->gen_tps[i]));
    double tend = (double)(n > nt ? n : nt) * dt;
    ss_plot_axis_range(0, tend > 0 ? tend : 1, true, &f.x0, &f.x1, &f.xs);
    if (tend > 0)
        f.x1 = tend; /* the time axis ends with the last interval, not at a padded tick */
    ss_plot_axis_range(0, pmax > 0 ? pmax : 1, true, &f.y0, &f.y1, &f.ys);
    ss_plot_frame(cr, &f, "Cluster power by component and throughput over time (modelled)",
                  "simulated time (s)", "power (W), stacked by component");
    /* each component as a band of steps over the ones below it */
    for (int s = 0; s < IPW_SS_NPARTS; s++) {
        enum ipw_ss_part k = stack[s];
        if (!n)
            break;
        for (size_t i = 0; i < n; i++) {
            double top = 0;
            for (int b = 0; b <= s; b++)
                top += r->power_parts_w[i][stack[b]];
            double x = ss_plot_px(&f, (double)i * dt), x2 = ss_plot_px(&f, (double)(i + 1) * dt);
            if (i == 0)
                cairo_move_to(cr, x, ss_plot_py(&f, top));
            else
                cairo_line_to(cr, x, ss_plot_py(&f, top));
            cairo_line_to(cr, x2, ss_plot_py(&f, top));
        }
        for (size_t i = n; i-- > 0;) {
            double bot = 0;
            for (int b = 0; b < s; b++)
                bot += r->power_parts_w[i][stack[b]];
            cairo_line_to(cr, ss_plot_px(&f, (double)(i + 1) * dt), ss_plot_py(&f, bot));
            cairo_line_to(cr, ss_plot_px(&f, (double)i * dt), ss_plot_py(&f, bot));
        }
        cairo_close_path(cr);
        part_color(cr, k);
        cairo_fill(cr);
    }
    if (!n)
        ss_plot_text(cr, f.left + f.w / 2, f.top + f.h / 2,
                     "no power series (the cluster config has no power block)", 0.5, 13);
    /* throughput on the right axis, as lines over the bands */
    double t0, t1, ts;
    ss_plot_axis_range(0, tmax > 0 ? tmax : 1, true, &t0, &t1, &ts);
    cairo_set_source_rgb(cr, 0.05, 0.05, 0.25);
    cairo_set_dash(cr, (const double[]){6, 3}, 2, 0);
    cairo_set_line_width(cr, 1.6);
    tps_line(cr, &f, r->prompt_tps, nt, dt, t1);
    cairo_set_dash(cr, NULL, 0, 0);
    cairo_set_source_rgb(cr, 0, 0, 0);
    tps_line(cr, &f, r->gen_tps, nt, dt, t1);
    char buf[96];
    cairo_set_source_rgb(cr, 0.3, 0.3, 0.33);
    for (double v = 0; v <= t1 + ts * 1e-6; v += ts) {
        snprintf(buf, sizeof buf, "%g", v);
        ss_plot_text(cr, f.left + f.w + 6, f.top + f.h - v / t1 * f.h + 4, buf, 0, 11);
    }
    cairo_save(cr);
    cairo_text_extents_t te;
    cairo_set_font_size(cr, 12);
    cairo_text_extents(cr, "throughput (tokens/s, lines)", &te);
    cairo_move_to(cr, f.left + f.w + 66, f.top + f.h / 2 + te.width / 2);
    cairo_rotate(cr, -M_PI / 2);
    cairo_show_text(cr, "throughput (tokens/s, lines)");
    cairo_restore(cr);
    /* legend: the bands top to bottom as stacked, with their mean watts, then the lines */
    int slot = 0;
    for (int s = IPW_SS_NPARTS - 1; s >= 0; s--) {
        snprintf(buf, sizeof buf, "%s, mean %.0f W", ipw_ss_part_label(stack[s]), mean[stack[s]]);
        part_color(cr, stack[s]);
        legend_entry(cr, slot++, buf, false, false);
    }
    cairo_set_source_rgb(cr, 0.05, 0.05, 0.25);
    legend_entry(cr, slot++, "prompt tokens/s (right axis)", true, true);
    cairo_set_source_rgb(cr, 0, 0, 0);
    legend_entry(cr, slot++, "generated tokens/s (right axis)", true, false);
}

static void draw_energy(cairo_t *cr, const void *ud)
{
    const struct ipw_ss_result *r = ud;
    double v[IPW_SS_NPARTS] = {0};
    for (size_t i = 0; r->power && i < r->n_nodes; i++) {
        const struct ipw_ss_node_energy *e = &r->nodes[i];
        v[IPW_SS_PART_NPU_ACTIVE] += e->npu_active;
        v[IPW_SS_PART_NPU_STANDBY] += e->npu_standby;
        v[IPW_SS_PART_NPU_IDLE] += e->npu_idle;
        v[IPW_SS_PART_BASE] += e->base_node;
        v[IPW_SS_PART_CPU] += e->cpu;
        v[IPW_SS_PART_DRAM] += e->memory;
        v[IPW_SS_PART_LINK] += e->link;
        v[IPW_SS_PART_NIC_STORAGE] += e->nic + e->storage;
    }
    double total = 0, vmax = 0;
    for (int i = 0; i < IPW_SS_NPARTS; i++) {
        total += v[i];
        vmax = fmax(vmax, v[i]);
    }
    struct ss_plot_frame f = {.left = 140, .top = 50, .w = W - 260, .h = H - 120};
    ss_plot_axis_range(0, vmax > 0 ? vmax / 1000 : 1, true, &f.x0, &f.x1, &f.xs);
    f.y0 = 0;
    f.y1 = IPW_SS_NPARTS;
    f.ys = 1;
    f.no_yticks = true; /* the bars are categories */
    char buf[96];
    snprintf(buf, sizeof buf, "Energy by component (modelled), total %.2f kJ", total / 1000);
    ss_plot_frame(cr, &f, buf, "energy (kJ)", "");
    /* the same order and colours as the power timeline's legend */
    for (int i = 0; i < IPW_SS_NPARTS; i++) {
        enum ipw_ss_part k = stack[IPW_SS_NPARTS - 1 - i];
        double y = f.top + (i + 0.15) * f.h / IPW_SS_NPARTS, h = 0.7 * f.h / IPW_SS_NPARTS;
        double w = (v[k] / 1000 - f.x0) / (f.x1 - f.x0) * f.w;
        part_color(cr, k);
        cairo_rectangle(cr, f.left, y, w, h);
        cairo_fill(cr);
        cairo_set_source_rgb(cr, 0.15, 0.15, 0.17);
        ss_plot_text(cr, f.left - 8, y + h / 2 + 4, ipw_ss_part_label(k), 1, 12);
        snprintf(buf, sizeof buf, "%.2f kJ (%.1f %%)", v[k] / 1000,
                 total > 0 ? 100 * v[k] / total : 0);
        ss_plot_text(cr, f.left + w + 6, y + h / 2 + 4, buf, 0, 11);
    }
    if (!r->power)
        ss_plot_text(cr, f.left + f.w / 2, f.top + f.h / 2,
                     "no energy (the cluster config has no power block)", 0.5, 13);
}

ipw_err ipw_sim_plots(const char *dir, const struct ipw_ss_result *res, ipw_errbuf *eb)
{
    ipw_err e = ipw_mkdir_p(dir, eb);
    if (!e)
        e = ss_plot_write(dir, "sim_power", W, HP, draw_power, res, eb);
    if (!e)
        e = ss_plot_write(dir, "sim_energy", W, H, draw_energy, res, eb);
    ipw_plot_release_fonts(); /* cairo's font caches, so that leak checks stay clean */
    return e;
}
