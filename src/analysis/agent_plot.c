/* Draws the per-turn curve of an agent run with cairo: on the left the mean energy of each
 * turn index (the LLM call's prefill and decode, and the tool time after it, stacked); on the
 * right the context each call read (mean input tokens) against its prefill energy, one point
 * per turn index, so context growth and prefill cost can be read together. */
#include "agent_plot.h"

#include <cairo.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "ipw/fsutil.h"
#include "plot_file.h"

#define W 960.0
#define H 420.0

struct panel {
    double x0, y0, w, h;  /* plot area in pixels */
    double xmax, ymax;    /* data ranges from 0 */
};

static double tick(double max)
{
    double raw = max / 5, mag = pow(10, floor(log10(raw)));
    double f = raw / mag;
    return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * mag;
}

static void label(cairo_t *cr, double x, double y, const char *s, double ax, double size)
{
    cairo_text_extents_t te;
    cairo_set_font_size(cr, size);
    cairo_text_extents(cr, s, &te);
    cairo_move_to(cr, x - ax * te.width, y);
    cairo_show_text(cr, s);
}

static void axes(cairo_t *cr, struct panel *p, const char *title, const char *xl,
                 const char *yl, bool xticks)
{
    double ts = tick(p->ymax > 0 ? p->ymax : 1);
    p->ymax = ceil((p->ymax > 0 ? p->ymax : 1) / ts) * ts;
    cairo_set_source_rgb(cr, 0.15, 0.15, 0.17);
    cairo_set_line_width(cr, 1);
    cairo_rectangle(cr, p->x0, p->y0, p->w, p->h);
    cairo_stroke(cr);
    char buf[64];
    for (double v = 0; v <= p->ymax * 1.0001; v += ts) {
        double y = p->y0 + p->h - v / p->ymax * p->h;
        snprintf(buf, sizeof buf, "%g", v);
        label(cr, p->x0 - 6, y + 4, buf, 1, 11);
    }
    double xs = tick(p->xmax > 0 ? p->xmax : 1);
    if (xs < 1)
        xs = 1;
    for (double v = 0; xticks && v <= p->xmax * 1.0001; v += xs) {
        double x = p->x0 + v / (p->xmax > 0 ? p->xmax : 1) * p->w;
        snprintf(buf, sizeof buf, "%g", v);
        label(cr, x, p->y0 + p->h + 16, buf, 0.5, 11);
    }
    label(cr, p->x0 + p->w / 2, p->y0 - 12, title, 0.5, 14);
    label(cr, p->x0 + p->w / 2, p->y0 + p->h + 36, xl, 0.5, 12);
    cairo_save(cr);
    cairo_move_to(cr, p->x0 - 50, p->y0 + p->h / 2);
    cairo_rotate(cr, -M_PI / 2);
    cairo_text_extents_t te;
    cairo_set_font_size(cr, 12);
    cairo_text_extents(cr, yl, &te);
    cairo_rel_move_to(cr, -te.width / 2, 0);
    cairo_show_text(cr, yl);
    cairo_restore(cr);
}

static double v0(double v) { return isfinite(v) ? v : 0; }

static void draw(cairo_t *cr, const struct ipw_agent_analysis *a)
{
    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_paint(cr);
    cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
    const char *unit = a->modelled ? "energy (J, modelled)" : "energy (J)";
    /* left: stacked mean energy per turn index */
    struct panel l = {80, 50, 370, 300, (double)a->n_curve, 0};
    for (size_t i = 0; i < a->n_curve; i++) {
        double e = v0(a->curve[i].llm_j) + v0(a->curve[i].between_j);
        if (e > l.ymax)
            l.ymax = e;
    }
    axes(cr, &l, "energy per turn (mean over tasks)", "turn index", unit, false);
    double bw = l.w / (a->n_curve ? (double)a->n_curve : 1);
    size_t every = a->n_curve > 20 ? (a->n_curve + 19) / 20 : 1;
    for (size_t i = 0; i < a->n_curve; i += every) {
        char buf[32];
        snprintf(buf, sizeof buf, "%zu", i);
        label(cr, l.x0 + (i + 0.5) * bw, l.y0 + l.h + 16, buf, 0.5, 11);
    }
    for (size_t i = 0; i < a->n_curve; i++) {
        const struct ipw_agent_turn_point *p = &a->curve[i];
        double parts[3] = {v0(p->prefill_j), v0(p->llm_j) - v0(p->prefill_j), v0(p->between_j)};
        double rgb[3][3] = {{0.839, 0.153, 0.157}, {0.122, 0.467, 0.706}, {0.6, 0.6, 0.6}};
        double base = 0;
        for (int k = 0; k < 3; k++) {
            double hpx = parts[k] / l.ymax * l.h;
            cairo_set_source_rgb(cr, rgb[k][0], rgb[k][1], rgb[k][2]);
            cairo_rectangle(cr, l.x0 + i * bw + bw * 0.15, l.y0 + l.h - base - hpx, bw * 0.7, hpx);
            cairo_fill(cr);
            base += hpx;
        }
    }
    const char *keys[3] = {"prefill", "decode", "tools / between calls"};
    double rgbk[3][3] = {{0.839, 0.153, 0.157}, {0.122, 0.467, 0.706}, {0.6, 0.6, 0.6}};
    for (int k = 0; k < 3; k++) {
        cairo_set_source_rgb(cr, rgbk[k][0], rgbk[k][1], rgbk[k][2]);
        cairo_rectangle(cr, l.x0 + 8 + k * 120, l.y0 + l.h + 50, 10, 10);
        cairo_fill(cr);
        cairo_set_source_rgb(cr, 0.15, 0.15, 0.17);
        label(cr, l.x0 + 22 + k * 120, l.y0 + l.h + 59, keys[k], 0, 11);
    }
    /* right: context read by each call against its prefill energy */
    struct panel r = {560, 50, 370, 300, 0, 0};
    for (size_t i = 0; i < a->n_curve; i++) {
        if (v0(a->curve[i].input_tokens) > r.xmax)
            r.xmax = v0(a->curve[i].input_tokens);
        if (v0(a->curve[i].prefill_j) > r.ymax)
            r.ymax = v0(a->curve[i].prefill_j);
    }
    axes(cr, &r, "context growth vs prefill energy", "input tokens of the call (mean)",
         a->modelled ? "prefill energy (J, modelled)" : "prefill energy (J)", true);
    cairo_set_source_rgb(cr, 0.839, 0.153, 0.157);
    bool first = true;
    for (size_t i = 0; i < a->n_curve; i++) {
        if (!isfinite(a->curve[i].input_tokens) || !isfinite(a->curve[i].prefill_j))
            continue;
        double x = r.x0 + a->curve[i].input_tokens / (r.xmax > 0 ? r.xmax : 1) * r.w;
        double y = r.y0 + r.h - a->curve[i].prefill_j / r.ymax * r.h;
        if (first)
            cairo_move_to(cr, x, y);
        else
            cairo_line_to(cr, x, y);
        first = false;
    }
    cairo_set_line_width(cr, 1.5);
    cairo_stroke(cr);
    for (size_t i = 0; i < a->n_curve; i++) {
        if (!isfinite(a->curve[i].input_tokens) || !isfinite(a->curve[i].prefill_j))
            continue;
        double x = r.x0 + a->curve[i].input_tokens / (r.xmax > 0 ? r.xmax : 1) * r.w;
        double y = r.y0 + r.h - a->curve[i].prefill_j / r.ymax * r.h;
        cairo_arc(cr, x, y, 3.5, 0, 2 * M_PI);
        cairo_fill(cr);
    }
}

static void draw_cb(cairo_t *cr, const void *ud)
{
    draw(cr, ud);
}

ipw_err ipw_agent_plot_write(const char *run_dir, const struct ipw_agent_analysis *a,
                             ipw_errbuf *eb)
{
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/plots", run_dir);
    ipw_err e = ipw_mkdir_p(dir, eb);
    if (e == IPW_OK)
        e = ipw_plot_write_pair(dir, "agent_turns", W, H, draw_cb, a, eb);
    return e;
}
