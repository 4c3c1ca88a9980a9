/* The plots of the predict modes, drawn with cairo as PNG and SVG (issue 14 items 4, 5):
 * the Pareto frontiers of a sweep (energy per output token against throughput and against
 * p99 latency, every point labelled by its parameters, the frontier highlighted). Every
 * title says the figures are modelled. */
#include <cairo.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "ipw/plots.h"
#include "ipw/predict.h"
#include "sim/predict/simplots.h"

#define W 960.0
#define H 600.0

static double nice_tick(double span)
{
    double raw = span / 6, mag = pow(10, floor(log10(raw)));
    double f = raw / mag;
    return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * mag;
}

void ss_plot_text(cairo_t *cr, double x, double y, const char *s, double ax, double size)
{
    cairo_text_extents_t te;
    cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size(cr, size);
    cairo_text_extents(cr, s, &te);
    cairo_move_to(cr, x - ax * te.width, y);
    cairo_show_text(cr, s);
}

void ss_plot_axis_range(double lo, double hi, bool from_zero, double *a, double *b, double *step)
{
    if (!(hi > lo)) {
        double d = fabs(lo) > 0 ? fabs(lo) * 0.1 : 1;
        lo -= d;
        hi += d;
    }
    if (from_zero && lo > 0)
        lo = 0;
    double pad = (hi - lo) * 0.06;
    if (!from_zero || lo < 0)
        lo -= pad;
    hi += pad;
    *step = nice_tick(hi - lo);
    *a = floor(lo / *step) * *step;
    *b = ceil(hi / *step) * *step;
}

void ss_plot_frame(cairo_t *cr, const struct ss_plot_frame *f, const char *title,
                   const char *xl, const char *yl)
{
    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_paint(cr);
    char buf[64];
    cairo_set_line_width(cr, 1);
    for (double v = f->x0; v <= f->x1 + f->xs * 1e-6; v += f->xs) {
        double x = ss_plot_px(f, v);
        cairo_set_source_rgb(cr, 0.9, 0.9, 0.92);
        cairo_move_to(cr, x, f->top);
        cairo_line_to(cr, x, f->top + f->h);
        cairo_stroke(cr);
        cairo_set_source_rgb(cr, 0.3, 0.3, 0.33);
        snprintf(buf, sizeof buf, "%g", v);
        ss_plot_text(cr, x, f->top + f->h + 16, buf, 0.5, 11);
    }
    for (double v = f->y0; !f->no_yticks && v <= f->y1 + f->ys * 1e-6; v += f->ys) {
        double y = ss_plot_py(f, v);
        cairo_set_source_rgb(cr, 0.9, 0.9, 0.92);
        cairo_move_to(cr, f->left, y);
        cairo_line_to(cr, f->left + f->w, y);
        cairo_stroke(cr);
        cairo_set_source_rgb(cr, 0.3, 0.3, 0.33);
        snprintf(buf, sizeof buf, "%g", v);
        ss_plot_text(cr, f->left - 6, y + 4, buf, 1, 11);
    }
    cairo_set_source_rgb(cr, 0.15, 0.15, 0.17);
    cairo_rectangle(cr, f->left, f->top, f->w, f->h);
    cairo_stroke(cr);
    ss_plot_text(cr, f->left + f->w / 2, f->top - 14, title, 0.5, 15);
    ss_plot_text(cr, f->left + f->w / 2, f->top + f->h + 40, xl, 0.5, 12);
    cairo_save(cr);
    cairo_text_extents_t te;
    cairo_set_font_size(cr, 12);
    cairo_text_extents(cr, yl, &te);
    cairo_move_to(cr, f->left - 58, f->top + f->h / 2 + te.width / 2);
    cairo_rotate(cr, -M_PI / 2);
    cairo_show_text(cr, yl);
    cairo_restore(cr);
}

double ss_plot_px(const struct ss_plot_frame *f, double v)
{
    return f->left + (v - f->x0) / (f->x1 - f->x0) * f->w;
}

double ss_plot_py(const struct ss_plot_frame *f, double v)
{
    return f->top + f->h - (v - f->y0) / (f->y1 - f->y0) * f->h;
}

ipw_err ss_plot_write(const char *dir, const char *stem, double w, double h, ss_plot_draw_fn draw,
                      const void *ud, ipw_errbuf *eb)
{
    return ipw_plot_write_pair(dir, stem, w, h, draw, ud, eb);
}

/* ---- the Pareto plots of a sweep ------------------------------------------------------- */

struct pareto {
    const struct ipw_sweep_param *p;
    size_t np;
    const struct ipw_sweep_row *rows;
    size_t n;
    bool latency; /* x = p99 latency (else throughput) */
};

static double xval(const struct pareto *d, const struct ipw_sweep_row *r)
{
    return d->latency ? r->latency_p99_s : r->tok_s;
}

static bool on_front(const struct pareto *d, const struct ipw_sweep_row *r)
{
    return d->latency ? r->pareto_lat : r->pareto_tput;
}

static bool plotted(const struct ipw_sweep_row *r)
{
    return r->ok && isfinite(r->j_per_token) && isfinite(r->tok_s) &&
           isfinite(r->latency_p99_s);
}

/* "seqs=16 tp=2": the parameters' values, names shortened to their last word */
static void point_label(const struct pareto *d, size_t k, char *out, size_t len)
{
    size_t idx[IPW_SWEEP_MAX_PARAMS], w = 0;
    ipw_sweep_point(d->p, d->np, k, idx);
    out[0] = '\0';
    for (size_t i = 0; i < d->np && w < len; i++) {
        const char *nm = strrchr(d->p[i].name, '-');
        nm = nm ? nm + 1 : d->p[i].name;
        int c = snprintf(out + w, len - w, "%s%s=%s", i ? " " : "", nm, d->p[i].values[idx[i]]);
        if (c < 0)
            break;
        w += (size_t)c;
    }
}

static void draw_pareto(cairo_t *cr, const void *ud)
{
    const struct pareto *d = ud;
    double xlo = INFINITY, xhi = -INFINITY, ylo = INFINITY, yhi = -INFINITY;
    size_t m = 0;
    for (size_t k = 0; k < d->n; k++)
        if (plotted(&d->rows[k])) {
            double x = xval(d, &d->rows[k]), y = d->rows[k].j_per_token;
            xlo = fmin(xlo, x);
            xhi = fmax(xhi, x);
            ylo = fmin(ylo, y);
            yhi = fmax(yhi, y);
            m++;
        }
    struct ss_plot_frame f = {.left = 90, .top = 50, .w = W - 130, .h = H - 120};
    const char *title = d->latency ? "Energy per output token vs p99 latency (modelled)"
                                   : "Energy per output token vs throughput (modelled)";
    const char *xl = d->latency ? "p99 request latency (s)" : "throughput (output tokens/s)";
    if (!m) {
        f.x0 = f.y0 = 0;
        f.x1 = f.y1 = 1;
        f.xs = f.ys = 0.2;
        ss_plot_frame(cr, &f, title, xl, "J per output token");
        ss_plot_text(cr, f.left + f.w / 2, f.top + f.h / 2,
                     "no point has an energy (the cluster config has no power block)", 0.5, 13);
        return;
    }
    ss_plot_axis_range(xlo, xhi, false, &f.x0, &f.x1, &f.xs);
    ss_plot_axis_range(ylo, yhi, false, &f.y0, &f.y1, &f.ys);
    ss_plot_frame(cr, &f, title, xl, "J per output token");
    /* the frontier as a line through its points in x order */
    double fx[IPW_SWEEP_MAX_POINTS], fy[IPW_SWEEP_MAX_POINTS];
    size_t nf = 0;
    for (size_t k = 0; k < d->n; k++)
        if (plotted(&d->rows[k]) && on_front(d, &d->rows[k])) {
            fx[nf] = xval(d, &d->rows[k]);
            fy[nf++] = d->rows[k].j_per_token;
        }
    for (size_t i = 1; i < nf; i++)
        for (size_t j = i; j > 0 && fx[j] < fx[j - 1]; j--) {
            double t = fx[j];
            fx[j] = fx[j - 1];
            fx[j - 1] = t;
            t = fy[j];
            fy[j] = fy[j - 1];
            fy[j - 1] = t;
        }
    cairo_set_source_rgba(cr, 0.839, 0.153, 0.157, 0.7);
    cairo_set_line_width(cr, 2);
    for (size_t i = 0; i < nf; i++) {
        if (i == 0)
            cairo_move_to(cr, ss_plot_px(&f, fx[i]), ss_plot_py(&f, fy[i]));
        else
            cairo_line_to(cr, ss_plot_px(&f, fx[i]), ss_plot_py(&f, fy[i]));
    }
    cairo_stroke(cr);
    /* points, then labels placed so that none overlaps another (frontier points first) */
    static double bx[IPW_SWEEP_MAX_POINTS + 1][4];
    size_t nb = 0;
    bx[nb][0] = f.left + 4; /* the legend's corner is taken */
    bx[nb][1] = f.top + 4;
    bx[nb][2] = 430;
    bx[nb++][3] = 34;
    for (int pass = 0; pass < 2; pass++)
        for (size_t k = 0; k < d->n; k++) {
            const struct ipw_sweep_row *r = &d->rows[k];
            bool fr = on_front(d, r);
            if (!plotted(r) || fr != (pass == 0))
                continue;
            double x = ss_plot_px(&f, xval(d, r)), y = ss_plot_py(&f, r->j_per_token);
            if (fr)
                cairo_set_source_rgb(cr, 0.839, 0.153, 0.157);
            else
                cairo_set_source_rgb(cr, 0.45, 0.55, 0.65);
            cairo_arc(cr, x, y, fr ? 5.5 : 4, 0, 2 * M_PI);
            cairo_fill(cr);
            char lab[160];
            point_label(d, k, lab, sizeof lab);
            cairo_text_extents_t te;
            cairo_set_font_size(cr, 10);
            cairo_text_extents(cr, lab, &te);
            bool right = x < f.left + f.w * 0.7;
            double lx = right ? x + 8 : x - 8 - te.width, ly = y - 4, best = ly;
            for (int t = 0; t < 40; t++) {
                double cand = y - 4 + (t % 2 ? 1 : -1) * 12.0 * ((t + 1) / 2);
                bool clash = cand - 10 < f.top || cand > f.top + f.h;
                for (size_t i = 0; i < nb && !clash; i++)
                    clash = lx < bx[i][0] + bx[i][2] && bx[i][0] < lx + te.width &&
                            cand - 10 < bx[i][1] + bx[i][3] && bx[i][1] < cand + 2;
                if (!clash) {
                    best = cand;
                    break;
                }
            }
            if (nb <= IPW_SWEEP_MAX_POINTS) {
                bx[nb][0] = lx;
                bx[nb][1] = best - 10;
                bx[nb][2] = te.width;
                bx[nb++][3] = 12;
            }
            cairo_set_source_rgb(cr, fr ? 0.5 : 0.35, fr ? 0.08 : 0.35, fr ? 0.08 : 0.38);
            if (fabs(best - ly) > 1) { /* a leader from the point to its moved label */
                cairo_set_line_width(cr, 0.6);
                cairo_move_to(cr, x, y);
                cairo_line_to(cr, right ? lx - 2 : lx + te.width + 2, best - 4);
                cairo_stroke(cr);
            }
            ss_plot_text(cr, lx, best, lab, 0, 10);
        }
    /* legend */
    double lx = f.left + 12, ly = f.top + 18;
    cairo_set_source_rgb(cr, 0.839, 0.153, 0.157);
    cairo_arc(cr, lx, ly - 4, 5, 0, 2 * M_PI);
    cairo_fill(cr);
    cairo_set_source_rgb(cr, 0.15, 0.15, 0.17);
    ss_plot_text(cr, lx + 10, ly,
                 d->latency ? "Pareto frontier: no other point has both lower J/token and lower "
                              "p99 latency"
                            : "Pareto frontier: no other point has both lower J/token and higher "
                              "throughput",
                 0, 11);
    cairo_set_source_rgb(cr, 0.45, 0.55, 0.65);
    cairo_arc(cr, lx, ly + 12, 4, 0, 2 * M_PI);
    cairo_fill(cr);
    cairo_set_source_rgb(cr, 0.15, 0.15, 0.17);
    ss_plot_text(cr, lx + 10, ly + 16, "dominated point (another point is better on both axes)",
                 0, 11);
}

ipw_err ipw_sweep_plot(const char *dir, const struct ipw_sweep_param *p, size_t np,
                       const struct ipw_sweep_row *rows, size_t n, ipw_errbuf *eb)
{
    struct pareto d = {p, np, rows, n, false};
    ipw_err e = ss_plot_write(dir, "pareto_throughput", W, H, draw_pareto, &d, eb);
    if (e)
        return e;
    d.latency = true;
    e = ss_plot_write(dir, "pareto_latency", W, H, draw_pareto, &d, eb);
    ipw_plot_release_fonts(); /* cairo's font caches, so that leak checks stay clean */
    return e;
}
