/* The plots of one simulation (issue 14 item 5), with cairo as PNG and SVG: the power
 * timeline (the cluster's modelled watts per heartbeat interval, as the original's log
 * prints them, over the modelled prompt and generation throughput on a second axis) and the
 * energy breakdown per component with the NPU split into active, standby and idle. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "ipw/fsutil.h"
#include "ipw/plots.h"
#include "ipw/predict.h"
#include "sim/predict/simplots.h"

#define W 960.0
#define H 560.0

static void draw_power(cairo_t *cr, const void *ud)
{
    const struct ipw_ss_result *r = ud;
    struct ss_plot_frame f = {.left = 90, .top = 50, .w = W - 190, .h = H - 120};
    size_t n = r->n_power, nt = r->n_throughput;
    double dt = r->log_interval, pmax = 0, tmax = 0;
    for (size_t i = 0; i < n; i++)
        pmax = fmax(pmax, r->power_w[i]);
    for (size_t i = 0; i < nt; i++)
        tmax = fmax(tmax, r->prompt_tps[i] + r->gen_tps[i]);
    double tend = (double)(n > nt ? n : nt) * dt;
    ss_plot_axis_range(0, tend > 0 ? tend : 1, true, &f.x0, &f.x1, &f.xs);
    /* head room above the highest interval for the legend */
    ss_plot_axis_range(0, pmax > 0 ? pmax * 1.3 : 1, true, &f.y0, &f.y1, &f.ys);
    ss_plot_frame(cr, &f, "Cluster power and throughput over time (modelled)",
                  "simulated time (s)", "power (W)");
    /* throughput: stacked prompt + generation bars on the right axis */
    double t0, t1, ts;
    ss_plot_axis_range(0, tmax > 0 ? tmax : 1, true, &t0, &t1, &ts);
    for (size_t i = 0; i < nt; i++) {
        double x = ss_plot_px(&f, (double)i * dt), x2 = ss_plot_px(&f, (double)(i + 1) * dt);
        double yb = f.top + f.h, hp = r->prompt_tps[i] / t1 * f.h, hg = r->gen_tps[i] / t1 * f.h;
        cairo_set_source_rgba(cr, 0.173, 0.627, 0.173, 0.30);
        cairo_rectangle(cr, x, yb - hg, x2 - x, hg);
        cairo_fill(cr);
        cairo_set_source_rgba(cr, 1.0, 0.498, 0.055, 0.30);
        cairo_rectangle(cr, x, yb - hg - hp, x2 - x, hp);
        cairo_fill(cr);
    }
    char buf[64];
    cairo_set_source_rgb(cr, 0.3, 0.3, 0.33);
    for (double v = 0; v <= t1 + ts * 1e-6; v += ts) {
        snprintf(buf, sizeof buf, "%g", v);
        ss_plot_text(cr, f.left + f.w + 6, f.top + f.h - v / t1 * f.h + 4, buf, 0, 11);
    }
    cairo_save(cr);
    cairo_move_to(cr, f.left + f.w + 62, f.top + f.h / 2 + 60);
    cairo_rotate(cr, -M_PI / 2);
    cairo_set_font_size(cr, 12);
    cairo_show_text(cr, "throughput (tokens/s)");
    cairo_restore(cr);
    /* power: a step line, each interval's average */
    cairo_set_source_rgb(cr, 0.122, 0.467, 0.706);
    cairo_set_line_width(cr, 2);
    for (size_t i = 0; i < n; i++) {
        double x = ss_plot_px(&f, (double)i * dt), x2 = ss_plot_px(&f, (double)(i + 1) * dt),
               y = ss_plot_py(&f, r->power_w[i]);
        if (i == 0)
            cairo_move_to(cr, x, y);
        else
            cairo_line_to(cr, x, y);
        cairo_line_to(cr, x2, y);
    }
    cairo_stroke(cr);
    if (!n)
        ss_plot_text(cr, f.left + f.w / 2, f.top + f.h / 2,
                     "no power series (the cluster config has no power block)", 0.5, 13);
    /* legend */
    double lx = f.left + 12, ly = f.top + 18;
    cairo_set_source_rgb(cr, 0.122, 0.467, 0.706);
    cairo_rectangle(cr, lx, ly - 8, 14, 3);
    cairo_fill(cr);
    cairo_set_source_rgb(cr, 0.15, 0.15, 0.17);
    ss_plot_text(cr, lx + 20, ly, "power, interval average (left axis)", 0, 11);
    cairo_set_source_rgba(cr, 1.0, 0.498, 0.055, 0.5);
    cairo_rectangle(cr, lx, ly + 6, 14, 10);
    cairo_fill(cr);
    cairo_set_source_rgb(cr, 0.15, 0.15, 0.17);
    ss_plot_text(cr, lx + 20, ly + 15, "prompt tokens/s (right axis)", 0, 11);
    cairo_set_source_rgba(cr, 0.173, 0.627, 0.173, 0.5);
    cairo_rectangle(cr, lx, ly + 21, 14, 10);
    cairo_fill(cr);
    cairo_set_source_rgb(cr, 0.15, 0.15, 0.17);
    ss_plot_text(cr, lx + 20, ly + 30, "generated tokens/s (right axis)", 0, 11);
}

static void draw_energy(cairo_t *cr, const void *ud)
{
    const struct ipw_ss_result *r = ud;
    static const char *const names[] = {"NPU active", "NPU standby", "NPU idle", "base node",
                                        "CPU",        "memory",      "link",     "NIC + storage"};
    double v[8] = {0};
    for (size_t i = 0; r->power && i < r->n_nodes; i++) {
        const struct ipw_ss_node_energy *e = &r->nodes[i];
        v[0] += e->npu_active;
        v[1] += e->npu_standby;
        v[2] += e->npu_idle;
        v[3] += e->base_node;
        v[4] += e->cpu;
        v[5] += e->memory;
        v[6] += e->link;
        v[7] += e->nic + e->storage;
    }
    double total = 0, vmax = 0;
    for (int i = 0; i < 8; i++) {
        total += v[i];
        vmax = fmax(vmax, v[i]);
    }
    struct ss_plot_frame f = {.left = 140, .top = 50, .w = W - 260, .h = H - 120};
    ss_plot_axis_range(0, vmax > 0 ? vmax / 1000 : 1, true, &f.x0, &f.x1, &f.xs);
    f.y0 = 0;
    f.y1 = 8;
    f.ys = 1;
    f.no_yticks = true; /* the bars are categories */
    ss_plot_frame(cr, &f, "Energy by component (modelled)", "energy (kJ)", "");
    char buf[96];
    for (int i = 0; i < 8; i++) {
        double y = f.top + (i + 0.15) * f.h / 8, h = 0.7 * f.h / 8;
        double w = (v[i] / 1000 - f.x0) / (f.x1 - f.x0) * f.w;
        if (i < 3)
            cairo_set_source_rgb(cr, 0.839, 0.153 + 0.2 * i, 0.157 + 0.2 * i);
        else
            cairo_set_source_rgb(cr, 0.45, 0.55, 0.65);
        cairo_rectangle(cr, f.left, y, w, h);
        cairo_fill(cr);
        cairo_set_source_rgb(cr, 0.15, 0.15, 0.17);
        ss_plot_text(cr, f.left - 8, y + h / 2 + 4, names[i], 1, 12);
        snprintf(buf, sizeof buf, "%.2f kJ (%.1f %%)", v[i] / 1000,
                 total > 0 ? 100 * v[i] / total : 0);
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
        e = ss_plot_write(dir, "sim_power", W, H, draw_power, res, eb);
    if (!e)
        e = ss_plot_write(dir, "sim_energy", W, H, draw_energy, res, eb);
    ipw_plot_release_fonts(); /* cairo's font caches, so that leak checks stay clean */
    return e;
}
