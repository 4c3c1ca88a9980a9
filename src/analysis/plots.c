/* Draws the plots with cairo: one layout (title, subtitle, framed axes with "nice" ticks and
 * grid, labelled with units, a legend) rendered to a 2x PNG or to SVG. */
#include <cairo-svg.h>
#include <cairo.h>
#include <dlfcn.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ipw/buf.h"
#include "ipw/fsutil.h"
#include "ipw/plots.h"
#include "ipw/stats.h"

#define W 800.0
#define H 520.0
#define PNG_SCALE 2.0
#define ML 86.0 /* margins: left, right, top, bottom */
#define MR 28.0
#define MT 66.0
#define MB 62.0
#define FONT "DejaVu Sans"
#define KDE_GRID 512

struct axis {
    double lo, hi, step;
    int decimals;
};

/* matplotlib's default blue and red, a dark ink and a light grid */
static void ink(cairo_t *cr) { cairo_set_source_rgb(cr, 0.15, 0.15, 0.17); }
static void muted(cairo_t *cr) { cairo_set_source_rgb(cr, 0.40, 0.40, 0.44); }
static void blue(cairo_t *cr, double a) { cairo_set_source_rgba(cr, 0.122, 0.467, 0.706, a); }
static void red(cairo_t *cr) { cairo_set_source_rgb(cr, 0.839, 0.153, 0.157); }

static double nice_step(double range, int target)
{
    double raw = range / target;
    double mag = pow(10, floor(log10(raw)));
    double f = raw / mag;
    double m = f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7 ? 5 : 10;
    return m * mag;
}

/* Axis covering [lo, hi] with round ends and about `target` ticks; from 0 when the data start
 * near it (counts and energies read best from a zero baseline). */
static struct axis make_axis(double lo, double hi, int target, bool zero_ok)
{
    struct axis a;
    if (!isfinite(lo) || !isfinite(hi)) {
        lo = 0;
        hi = 1;
    }
    /* A range that is empty, or only rounding noise (every query at 238 W, give or take one
     * ulp), gets a visible one: a step below the values' resolution would never advance. */
    double scale = fmax(fabs(lo), fabs(hi));
    if (hi - lo <= scale * 1e-9) {
        double pad = scale > 0 ? scale * 0.1 : 1;
        lo -= pad;
        hi += pad;
    }
    if (zero_ok && lo >= 0 && lo < 0.35 * hi)
        lo = 0;
    double pad = (hi - lo) * 0.04;
    if (lo != 0)
        lo -= pad;
    hi += pad;
    a.step = nice_step(hi - lo, target);
    a.lo = floor(lo / a.step + 1e-9) * a.step;
    a.hi = ceil(hi / a.step - 1e-9) * a.step;
    double l = -log10(a.step);
    a.decimals = a.step >= 1 ? 0 : (int)ceil(l - 1e-9);
    return a;
}

/* A number with thousands separators ("12,000") or fixed decimals. */
static void fmt_num(char *out, size_t size, double v, int decimals)
{
    if (fabs(v) < 0.5 * pow(10, -decimals))
        v = 0; /* no "-0" */
    char tmp[64];
    snprintf(tmp, sizeof tmp, "%.*f", decimals, v);
    char *dot = strchr(tmp, '.');
    size_t int_len = dot ? (size_t)(dot - tmp) : strlen(tmp);
    size_t start = tmp[0] == '-' ? 1 : 0, o = 0;
    for (size_t i = 0; i < strlen(tmp) && o + 2 < size; i++) {
        if (i > start && i < int_len && (int_len - i) % 3 == 0 && int_len - start > 4)
            out[o++] = ',';
        out[o++] = tmp[i];
    }
    out[o] = '\0';
}

static void fmt_count(char *out, size_t size, uint64_t v) { fmt_num(out, size, (double)v, 0); }

/* Coefficients for a legend: 3 significant digits, no exponent for ordinary magnitudes. */
static void fmt_coef(char *out, size_t size, double v)
{
    double a = fabs(v);
    if (a != 0 && (a < 1e-3 || a >= 1e6))
        snprintf(out, size, "%.3g", v);
    else {
        int dec = a == 0 ? 0 : 2 - (int)floor(log10(a));
        if (dec < 0)
            dec = 0;
        snprintf(out, size, "%.*f", dec, v);
    }
}

static void text_at(cairo_t *cr, double x, double y, const char *s, double ax, double ay)
{
    cairo_text_extents_t te;
    cairo_text_extents(cr, s, &te);
    cairo_move_to(cr, x - te.x_advance * ax, y + te.height * ay);
    cairo_show_text(cr, s);
}

static void font(cairo_t *cr, double size, bool bold)
{
    cairo_select_font_face(cr, FONT, CAIRO_FONT_SLANT_NORMAL,
                           bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size(cr, size);
}

struct frame {
    struct axis x, y;
    double x0, x1, y0, y1; /* plot area in canvas units */
};

static double px(const struct frame *f, double v)
{
    return f->x0 + (v - f->x.lo) / (f->x.hi - f->x.lo) * (f->x1 - f->x0);
}
static double py(const struct frame *f, double v)
{
    return f->y1 - (v - f->y.lo) / (f->y.hi - f->y.lo) * (f->y1 - f->y0);
}

/* The dashed vertical line at a distribution's median (histogram and density plots). */
static void median_line(cairo_t *cr, const struct frame *f, double median)
{
    static const double dash[] = {5, 3};
    muted(cr);
    cairo_set_dash(cr, dash, 2, 0);
    cairo_set_line_width(cr, 1.5);
    cairo_move_to(cr, px(f, median), f->y0);
    cairo_line_to(cr, px(f, median), f->y1);
    cairo_stroke(cr);
    cairo_set_dash(cr, NULL, 0, 0);
}

/* Intervals between the first and last tick; make_axis aims at ~6, the cap is a guard. */
static int tick_count(const struct axis *a)
{
    double n = floor((a->hi - a->lo) / a->step + 1e-6);
    return isfinite(n) && n > 0 ? (n > 50 ? 50 : (int)n) : 0;
}

static void draw_frame(cairo_t *cr, const struct frame *f, const char *title,
                       const char *subtitle, const char *xlabel, const char *ylabel)
{
    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_paint(cr);
    ink(cr);
    font(cr, 17, true);
    text_at(cr, f->x0, 26, title, 0, 0);
    muted(cr);
    font(cr, 12, false);
    text_at(cr, f->x0, 46, subtitle, 0, 0);

    /* grid and tick labels */
    cairo_set_line_width(cr, 1);
    font(cr, 11.5, false);
    char buf[64];
    /* ticks by index, bounded, so that no rounding can stall or run away the loop */
    int nx = tick_count(&f->x), ny = tick_count(&f->y);
    for (int i = 0; i <= nx; i++) {
        double v = f->x.lo + i * f->x.step;
        double x = round(px(f, v)) + 0.5;
        cairo_set_source_rgb(cr, 0.91, 0.91, 0.93);
        cairo_move_to(cr, x, f->y0);
        cairo_line_to(cr, x, f->y1);
        cairo_stroke(cr);
        ink(cr);
        cairo_move_to(cr, x, f->y1);
        cairo_line_to(cr, x, f->y1 + 5);
        cairo_stroke(cr);
        fmt_num(buf, sizeof buf, v, f->x.decimals);
        text_at(cr, x, f->y1 + 9, buf, 0.5, 1);
    }
    for (int i = 0; i <= ny; i++) {
        double v = f->y.lo + i * f->y.step;
        double y = round(py(f, v)) + 0.5;
        cairo_set_source_rgb(cr, 0.91, 0.91, 0.93);
        cairo_move_to(cr, f->x0, y);
        cairo_line_to(cr, f->x1, y);
        cairo_stroke(cr);
        ink(cr);
        cairo_move_to(cr, f->x0 - 5, y);
        cairo_line_to(cr, f->x0, y);
        cairo_stroke(cr);
        fmt_num(buf, sizeof buf, v, f->y.decimals);
        text_at(cr, f->x0 - 9, y, buf, 1, 0.5);
    }
    ink(cr);
    cairo_set_line_width(cr, 1.2);
    cairo_rectangle(cr, f->x0, f->y0, f->x1 - f->x0, f->y1 - f->y0);
    cairo_stroke(cr);

    font(cr, 13.5, false);
    text_at(cr, (f->x0 + f->x1) / 2, H - 14, xlabel, 0.5, 0);
    cairo_save(cr);
    cairo_translate(cr, 20, (f->y0 + f->y1) / 2);
    cairo_rotate(cr, -M_PI / 2);
    text_at(cr, 0, 0, ylabel, 0.5, 0);
    cairo_restore(cr);
}

/* A legend box in the plot's upper-left corner: a swatch (line, dot or band) and a label per
 * row. */
struct legend_row {
    int swatch; /* 0 line (red), 1 dot (blue), 2 dashed (grey), 3 band (blue), 4 none */
    char text[192];
};

/* Where a legend of size bw x bh covers the fewest points: the upper corners first, then the
 * lower right. */
static int legend_corner(const struct frame *f, const struct ipw_plot_points *p, double yscale,
                         const struct ipw_ols_fit *fit, double bw, double bh)
{
    int best = 0;
    size_t best_n = (size_t)-1;
    for (int c = 0; c < 3; c++) {
        double bx = c == 0 ? f->x0 + 10 : f->x1 - bw - 10;
        double by = c < 2 ? f->y0 + 10 : f->y1 - bh - 10;
        size_t n = 0;
        for (size_t i = 0; p && i < p->n; i++) {
            double x = px(f, p->x[i]), y = py(f, p->y[i] * yscale);
            n += x > bx - 4 && x < bx + bw + 4 && y > by - 4 && y < by + bh + 4;
        }
        /* the fitted line counts as much as a few points per stretch it hides */
        for (int i = 0; fit && fit->valid && i <= 50; i++) {
            double xv = f->x.lo + (f->x.hi - f->x.lo) * i / 50.0;
            double x = px(f, xv), y = py(f, fit->slope * xv + fit->intercept);
            n += 3 * (x > bx - 4 && x < bx + bw + 4 && y > by - 4 && y < by + bh + 4);
        }
        if (n < best_n) {
            best_n = n;
            best = c;
        }
    }
    return best;
}

static void draw_legend(cairo_t *cr, const struct frame *f, const struct legend_row *rows, int n,
                        const struct ipw_plot_points *avoid, double yscale,
                        const struct ipw_ols_fit *fit, int corner)
{
    font(cr, 12, false);
    double wmax = 0;
    for (int i = 0; i < n; i++) {
        cairo_text_extents_t te;
        cairo_text_extents(cr, rows[i].text, &te);
        wmax = fmax(wmax, te.x_advance);
    }
    double bw = wmax + 44, bh = 10 + 19.0 * n;
    if (corner < 0)
        corner = legend_corner(f, avoid, yscale, fit, bw, bh);
    double bx = corner == 0 ? f->x0 + 10 : f->x1 - bw - 10;
    double by = corner < 2 ? f->y0 + 10 : f->y1 - bh - 10;
    cairo_set_source_rgba(cr, 1, 1, 1, 0.9);
    cairo_rectangle(cr, bx, by, bw, bh);
    cairo_fill_preserve(cr);
    cairo_set_source_rgb(cr, 0.8, 0.8, 0.83);
    cairo_set_line_width(cr, 1);
    cairo_stroke(cr);
    for (int i = 0; i < n; i++) {
        double cy = by + 14 + 19.0 * i;
        switch (rows[i].swatch) {
        case 0:
            red(cr);
            cairo_set_line_width(cr, 2.2);
            cairo_move_to(cr, bx + 8, cy);
            cairo_line_to(cr, bx + 30, cy);
            cairo_stroke(cr);
            break;
        case 1:
            blue(cr, 0.7);
            cairo_arc(cr, bx + 19, cy, 3.4, 0, 2 * M_PI);
            cairo_fill(cr);
            break;
        case 2: {
            static const double dash[] = {5, 3};
            muted(cr);
            cairo_set_dash(cr, dash, 2, 0);
            cairo_set_line_width(cr, 1.5);
            cairo_move_to(cr, bx + 8, cy);
            cairo_line_to(cr, bx + 30, cy);
            cairo_stroke(cr);
            cairo_set_dash(cr, NULL, 0, 0);
            break;
        }
        case 4: /* a note: no swatch */
            break;
        default:
            blue(cr, 0.3);
            cairo_rectangle(cr, bx + 8, cy - 5, 22, 10);
            cairo_fill(cr);
            blue(cr, 1);
            cairo_set_line_width(cr, 2);
            cairo_move_to(cr, bx + 8, cy - 5);
            cairo_line_to(cr, bx + 30, cy - 5);
            cairo_stroke(cr);
        }
        ink(cr);
        text_at(cr, bx + 38, cy, rows[i].text, 0, 0.5);
    }
}

static void no_data(cairo_t *cr, const struct frame *f, const char *why)
{
    muted(cr);
    font(cr, 14, false);
    text_at(cr, (f->x0 + f->x1) / 2, (f->y0 + f->y1) / 2, why, 0.5, 0.5);
}

struct scatter_spec {
    const char *title, *xlabel, *ylabel, *yunit;
    double yscale; /* drawn value = stored value x yscale (seconds -> ms for TTFT) */
};

static const struct scatter_spec specs[IPW_PLOT_SCATTERS] = {
    {"Time to first token vs input tokens", "Input tokens", "Time to first token (ms)", "ms",
     1000},
    {"End-to-end latency vs total tokens", "Total tokens (input + output)",
     "Latency per query (s)", "s", 1},
    {"Energy per query vs total tokens", "Total tokens (input + output)",
     "Energy per query (J)", "J", 1},
    {"Power per query vs total tokens", "Total tokens (input + output)",
     "Power per query: energy / latency (W)", "W", 1},
};

bool ipw_plot_fit_explains(const struct ipw_ols_fit *fit, double xmin, double xmax, char *why,
                           size_t why_size)
{
    if (why_size)
        why[0] = '\0';
    if (!fit->valid)
        return false;
    if (!(fit->r2 >= IPW_PLOT_FIT_MIN_R2)) {
        snprintf(why, why_size, "R\xC2\xB2 = %.2f: tokens explain little of the spread",
                 fit->r2);
        return false;
    }
    double change = fabs(fit->slope) * (xmax - xmin);
    double level = fabs(fit->avg_y);
    if (level > 0 && !(change >= IPW_PLOT_FIT_MIN_CHANGE * level)) {
        snprintf(why, why_size, "flat: the fit changes %.2g%% across the range", 100 * change / level);
        return false;
    }
    return true;
}

static void draw_scatter(cairo_t *cr, const struct ipw_plot_data *d, int k)
{
    const struct ipw_plot_points *p = &d->scatter[k];
    const double sc = specs[k].yscale;
    /* the fit in the drawn unit */
    struct ipw_ols_fit fit = d->fit[k];
    fit.slope *= sc;
    fit.intercept *= sc;
    fit.avg_y *= sc;
    double xmin = INFINITY, xmax = -INFINITY, ymin = INFINITY, ymax = -INFINITY, ysum = 0;
    for (size_t i = 0; i < p->n; i++) {
        xmin = fmin(xmin, p->x[i]);
        xmax = fmax(xmax, p->x[i]);
        ymin = fmin(ymin, p->y[i] * sc);
        ymax = fmax(ymax, p->y[i] * sc);
        ysum += p->y[i] * sc;
    }
    /* A spread that is tiny beside the level (322.00 to 322.02 W) is shown at a scale of at
     * least +-5 % of the level, so noise is not magnified into a trend. */
    double ymean = p->n ? ysum / (double)p->n : NAN;
    if (p->n && isfinite(ymean) && ymax - ymin < 0.1 * fabs(ymean)) {
        ymin = fmin(ymin, ymean - 0.05 * fabs(ymean));
        ymax = fmax(ymax, ymean + 0.05 * fabs(ymean));
    }
    struct frame f = {.x0 = ML, .x1 = W - MR, .y0 = MT, .y1 = H - MB};
    f.x = make_axis(xmin, xmax, 7, true);
    f.y = make_axis(ymin, ymax, 6, k != IPW_PLOT_POWER);
    draw_frame(cr, &f, specs[k].title, d->subtitle, specs[k].xlabel, specs[k].ylabel);
    if (p->n == 0) {
        no_data(cr, &f, "no queries with these measurements");
        return;
    }
    double r = p->n > 2000 ? 2.0 : 3.0, alpha = p->n > 2000 ? 0.35 : 0.55;
    cairo_save(cr);
    /* markers on the frame (a zero energy, say) are drawn whole */
    cairo_rectangle(cr, f.x0 - r, f.y0 - r, f.x1 - f.x0 + 2 * r, f.y1 - f.y0 + 2 * r);
    cairo_clip(cr);
    blue(cr, alpha);
    for (size_t i = 0; i < p->n; i++) {
        cairo_new_sub_path(cr);
        cairo_arc(cr, px(&f, p->x[i]), py(&f, p->y[i] * sc), r, 0, 2 * M_PI);
    }
    cairo_fill(cr);
    cairo_restore(cr);
    char why[128];
    bool draw_fit = ipw_plot_fit_explains(&fit, xmin, xmax, why, sizeof why);
    if (draw_fit) {
        /* only over the data's range: a line extended to 0 tokens would claim a negative
         * energy or latency there that nothing measured */
        cairo_save(cr);
        cairo_rectangle(cr, f.x0, f.y0, f.x1 - f.x0, f.y1 - f.y0);
        cairo_clip(cr);
        red(cr);
        cairo_set_line_width(cr, 2.2);
        cairo_move_to(cr, px(&f, xmin), py(&f, fit.slope * xmin + fit.intercept));
        cairo_line_to(cr, px(&f, xmax), py(&f, fit.slope * xmax + fit.intercept));
        cairo_stroke(cr);
        cairo_restore(cr);
    }

    struct legend_row rows[3];
    int n = 0;
    if (draw_fit) {
        char a[32], b[32];
        fmt_coef(a, sizeof a, fit.slope);
        fmt_coef(b, sizeof b, fabs(fit.intercept));
        rows[n].swatch = 0;
        snprintf(rows[n].text, sizeof rows[n].text,
                 "least squares: %s %s/token, intercept %s%s %s, R\xC2\xB2 = %.2f", a,
                 specs[k].yunit, fit.intercept < 0 ? "\xE2\x88\x92" : "", b, specs[k].yunit,
                 fit.r2);
        n++;
        if (fit.intercept < 0) {
            rows[n].swatch = 4;
            snprintf(rows[n].text, sizeof rows[n].text,
                     "line drawn over the data only: its intercept below 0 is not physical");
            n++;
        }
    } else if (fit.valid) {
        rows[n].swatch = 4;
        snprintf(rows[n].text, sizeof rows[n].text, "no trend line (%s)", why);
        n++;
    }
    char seen[32], kept[32];
    fmt_count(seen, sizeof seen, p->seen);
    fmt_count(kept, sizeof kept, p->n);
    rows[n].swatch = 1;
    if (p->seen > p->n)
        snprintf(rows[n].text, sizeof rows[n].text, "queries (n = %s; %s drawn at random)", seen,
                 kept);
    else
        snprintf(rows[n].text, sizeof rows[n].text, "queries (n = %s)", seen);
    n++;
    draw_legend(cr, &f, rows, n, p, sc, draw_fit ? &fit : NULL, -1);
}

/* A few completions: their counts as bars (Sturges' bins), never a smooth curve they do not
 * support. */
static void draw_histogram(cairo_t *cr, const struct ipw_plot_data *d, const double *sorted,
                           size_t n, double median)
{
    enum { MAX_BINS = 12 };
    double vmin = sorted[0], vmax = sorted[n - 1];
    int bins = (int)ceil(log2((double)n)) + 1;
    if (bins > MAX_BINS)
        bins = MAX_BINS;
    double width = vmax > vmin ? (vmax - vmin) / bins : fmax(1, vmin * 0.1);
    double lo = vmax > vmin ? vmin : vmin - width / 2;
    if (vmax == vmin)
        bins = 1;
    uint64_t count[MAX_BINS] = {0}, cmax = 0;
    for (size_t i = 0; i < n; i++) {
        int b = (int)((sorted[i] - lo) / width);
        b = b < 0 ? 0 : b >= bins ? bins - 1 : b;
        cmax = ++count[b] > cmax ? count[b] : cmax;
    }
    struct frame f = {.x0 = ML, .x1 = W - MR, .y0 = MT, .y1 = H - MB};
    f.x = make_axis(fmax(0, lo - width * 0.5), lo + width * (bins + 0.5), 7, true);
    f.y = make_axis(0, (double)cmax * 1.15, fmin(6, (double)cmax + 1), true);
    if (f.y.step < 1) { /* whole queries */
        f.y.step = 1;
        f.y.decimals = 0;
        f.y.hi = ceil(f.y.hi);
    }
    draw_frame(cr, &f, "Completion tokens per query", d->subtitle, "Completion tokens per query",
               "Queries");
    for (int b = 0; b < bins; b++) {
        if (!count[b])
            continue;
        double x0 = px(&f, lo + b * width), x1 = px(&f, lo + (b + 1) * width);
        blue(cr, 0.55);
        cairo_rectangle(cr, x0 + 1, py(&f, (double)count[b]), x1 - x0 - 2,
                        py(&f, 0) - py(&f, (double)count[b]));
        cairo_fill(cr);
    }
    median_line(cr, &f, median);
    struct legend_row rows[2];
    char cnt[32], med[32];
    fmt_count(cnt, sizeof cnt, n);
    fmt_num(med, sizeof med, median, median == floor(median) ? 0 : 1);
    rows[0].swatch = 3;
    snprintf(rows[0].text, sizeof rows[0].text,
             "histogram of %s %s (too few for a density curve)", cnt,
             n == 1 ? "query" : "queries");
    rows[1].swatch = 2;
    snprintf(rows[1].text, sizeof rows[1].text, "median = %s tokens", med);
    draw_legend(cr, &f, rows, 2, NULL, 1, NULL, 1);
}

static void draw_kde(cairo_t *cr, const struct ipw_plot_data *d)
{
    const char *title = "Distribution of completion tokens";
    struct frame f = {.x0 = ML, .x1 = W - MR, .y0 = MT, .y1 = H - MB};
    size_t n = d->ntokens;
    if (n == 0) {
        f.x = make_axis(0, 1, 7, true);
        f.y = make_axis(0, 1, 6, true);
        draw_frame(cr, &f, title, d->subtitle, "Completion tokens per query",
                   "Density (per token)");
        no_data(cr, &f, "no successful queries with token counts");
        return;
    }
    double *sorted = malloc(n * sizeof *sorted);
    double grid[KDE_GRID], dens[KDE_GRID];
    if (!sorted)
        return;
    memcpy(sorted, d->tokens, n * sizeof *sorted);
    ipw_sort_doubles(sorted, n);
    double vmin = sorted[0], vmax = sorted[n - 1];
    double median = ipw_percentile_sorted(sorted, n, 50);
    if (n < IPW_PLOT_KDE_MIN_N) {
        draw_histogram(cr, d, sorted, n, median);
        free(sorted);
        return;
    }
    /* the bandwidth first, on a tiny grid, to know how far the curve extends */
    double probe = vmin, pd;
    double h = ipw_kde_scott(d->tokens, n, &probe, &pd, 1);
    /* the curve stays on the support: no completion has fewer than 0 tokens or more than the
     * run's max_tokens */
    double lo = fmax(0, vmin - 3 * h), hi = vmax + 3 * h;
    if (isfinite(d->token_cap) && hi > d->token_cap)
        hi = fmax(d->token_cap, vmax);
    for (int i = 0; i < KDE_GRID; i++)
        grid[i] = lo + (hi - lo) * i / (KDE_GRID - 1);
    ipw_kde_scott(d->tokens, n, grid, dens, KDE_GRID);
    double dmax = 0;
    for (int i = 0; i < KDE_GRID; i++)
        dmax = fmax(dmax, dens[i]);
    f.x = make_axis(lo, hi, 7, true);
    f.y = make_axis(0, dmax * 1.08, 6, true);
    draw_frame(cr, &f, title, d->subtitle, "Completion tokens per query", "Density (per token)");
    cairo_save(cr);
    cairo_rectangle(cr, f.x0, f.y0, f.x1 - f.x0, f.y1 - f.y0);
    cairo_clip(cr);
    cairo_move_to(cr, px(&f, grid[0]), py(&f, 0));
    for (int i = 0; i < KDE_GRID; i++)
        cairo_line_to(cr, px(&f, grid[i]), py(&f, dens[i]));
    cairo_line_to(cr, px(&f, grid[KDE_GRID - 1]), py(&f, 0));
    cairo_close_path(cr);
    blue(cr, 0.22);
    cairo_fill(cr);
    for (int i = 0; i < KDE_GRID; i++)
        (i ? cairo_line_to : cairo_move_to)(cr, px(&f, grid[i]), py(&f, dens[i]));
    blue(cr, 1);
    cairo_set_line_width(cr, 2.2);
    cairo_stroke(cr);
    /* a rug of the values, for runs small enough that single queries can be told apart */
    if (n <= 3000) {
        blue(cr, n > 300 ? 0.3 : 0.6);
        cairo_set_line_width(cr, 1);
        for (size_t i = 0; i < n; i++) {
            double x = px(&f, sorted[i]);
            cairo_move_to(cr, x, f.y1);
            cairo_line_to(cr, x, f.y1 - 8);
        }
        cairo_stroke(cr);
    }
    median_line(cr, &f, median);
    cairo_restore(cr);

    struct legend_row rows[2];
    char cnt[32], hb[32], med[32];
    fmt_count(cnt, sizeof cnt, n);
    fmt_coef(hb, sizeof hb, h);
    fmt_num(med, sizeof med, median, median == floor(median) ? 0 : 1);
    rows[0].swatch = 3;
    snprintf(rows[0].text, sizeof rows[0].text,
             "Gaussian KDE, Scott bandwidth h = %s tokens (n = %s), cut at 0%s", hb, cnt,
             isfinite(d->token_cap) ? " and max_tokens" : "");
    rows[1].swatch = 2;
    snprintf(rows[1].text, sizeof rows[1].text, "median = %s tokens", med);
    draw_legend(cr, &f, rows, 2, NULL, 1, NULL, 1);
    free(sorted);
}

static ipw_err draw(cairo_t *cr, const struct ipw_plot_data *d, enum ipw_plot_id id,
                    ipw_errbuf *eb)
{
    if ((unsigned)id >= IPW_PLOT_COUNT)
        return ipw_fail(eb, IPW_E_INVALID, "no plot number %d", (int)id);
    cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND);
    if (id == IPW_PLOT_KDE)
        draw_kde(cr, d);
    else
        draw_scatter(cr, d, (int)id);
    cairo_status_t st = cairo_status(cr);
    if (st != CAIRO_STATUS_SUCCESS)
        return ipw_fail(eb, IPW_E_INTERNAL, "drawing the %s plot failed: %s", ipw_plot_name(id),
                        cairo_status_to_string(st));
    return IPW_OK;
}

/* An SVG of one plot is tens of kilobytes; the bound only stops a runaway drawing. */
#define SVG_MAX ((size_t)64 << 20)

static cairo_status_t to_mem(void *closure, const unsigned char *data, unsigned int len)
{
    return ipw_buf_add(closure, data, len) == IPW_OK ? CAIRO_STATUS_SUCCESS
                                                      : CAIRO_STATUS_NO_MEMORY;
}

ipw_err ipw_plot_svg(const struct ipw_plot_data *d, enum ipw_plot_id id, char **svg, size_t *len,
                     ipw_errbuf *eb)
{
    *svg = NULL;
    struct ipw_buf m;
    ipw_buf_init(&m, SVG_MAX);
    cairo_surface_t *s = cairo_svg_surface_create_for_stream(to_mem, &m, W, H);
    cairo_svg_surface_set_document_unit(s, CAIRO_SVG_UNIT_PX);
    cairo_t *cr = cairo_create(s);
    ipw_err e = draw(cr, d, id, eb);
    cairo_destroy(cr);
    cairo_surface_finish(s);
    cairo_status_t st = cairo_surface_status(s);
    cairo_surface_destroy(s);
    if (e == IPW_OK && (st != CAIRO_STATUS_SUCCESS || ipw_buf_status(&m) != IPW_OK || !m.p))
        e = ipw_fail(eb, IPW_E_NOMEM, "rendering the %s plot as SVG failed: %s%s",
                     ipw_plot_name(id), cairo_status_to_string(st),
                     ipw_buf_status(&m) == IPW_E_RANGE ? " (larger than the 64 MiB bound)" : "");
    if (e != IPW_OK) {
        ipw_buf_free(&m);
        return e;
    }
    return ipw_buf_take(&m, svg, len);
}

static cairo_status_t to_file(void *closure, const unsigned char *data, unsigned int len)
{
    return fwrite(data, 1, len, closure) == len ? CAIRO_STATUS_SUCCESS
                                                : CAIRO_STATUS_WRITE_ERROR;
}

ipw_err ipw_plot_write(const struct ipw_plot_data *d, enum ipw_plot_id id, int format,
                       const char *path, ipw_errbuf *eb)
{
    if (format == IPW_PLOT_SVG) {
        char *svg;
        size_t len;
        ipw_err e = ipw_plot_svg(d, id, &svg, &len, eb);
        if (e != IPW_OK)
            return e;
        e = ipw_write_file_atomic(path, svg, len, eb);
        free(svg);
        return e;
    }
    cairo_surface_t *s =
        cairo_image_surface_create(CAIRO_FORMAT_ARGB32, (int)(W * PNG_SCALE), (int)(H * PNG_SCALE));
    cairo_t *cr = cairo_create(s);
    cairo_scale(cr, PNG_SCALE, PNG_SCALE);
    ipw_err e = draw(cr, d, id, eb);
    cairo_destroy(cr);
    char tmp[4300];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    if (e == IPW_OK) {
        FILE *f = fopen(tmp, "wb");
        if (!f) {
            e = ipw_fail(eb, IPW_E_IO, "cannot write %s: %s", path, strerror(errno));
        } else {
            cairo_status_t st = cairo_surface_write_to_png_stream(s, to_file, f);
            int bad = fflush(f) != 0 || fsync(fileno(f)) != 0;
            bad |= fclose(f) != 0;
            if (st != CAIRO_STATUS_SUCCESS || bad || rename(tmp, path) != 0) {
                unlink(tmp);
                e = ipw_fail(eb, IPW_E_IO, "cannot write %s: %s", path,
                             st != CAIRO_STATUS_SUCCESS ? cairo_status_to_string(st)
                                                        : strerror(errno));
            }
        }
    }
    cairo_surface_destroy(s);
    return e;
}

void ipw_plot_release_fonts(void)
{
    cairo_debug_reset_static_data();
    /* fontconfig (loaded by cairo) keeps its parsed configuration until FcFini; looked up at
     * run time so that ipw does not link fontconfig itself */
    void (*fc_fini)(void) = (void (*)(void))dlsym(RTLD_DEFAULT, "FcFini");
    if (fc_fini)
        fc_fini();
}

ipw_err ipw_plot_run(const char *run_dir, const char *out_dir, int formats, ipw_errbuf *eb)
{
    char dir[4200];
    snprintf(dir, sizeof dir, "%s", out_dir && *out_dir ? out_dir : run_dir);
    if (!out_dir || !*out_dir)
        snprintf(dir, sizeof dir, "%s/plots", run_dir);
    struct ipw_plot_data d;
    ipw_err e = ipw_plot_data_load(run_dir, &d, eb);
    if (e != IPW_OK)
        return e;
    e = ipw_mkdir_p(dir, eb);
    for (int id = 0; id < IPW_PLOT_COUNT && e == IPW_OK; id++) {
        static const struct {
            int flag;
            const char *ext;
        } fm[] = {{IPW_PLOT_PNG, "png"}, {IPW_PLOT_SVG, "svg"}};
        for (size_t k = 0; k < 2 && e == IPW_OK; k++) {
            if (!(formats & fm[k].flag))
                continue;
            char path[4400];
            snprintf(path, sizeof path, "%s/%s.%s", dir, ipw_plot_name((enum ipw_plot_id)id),
                     fm[k].ext);
            e = ipw_plot_write(&d, (enum ipw_plot_id)id, fm[k].flag, path, eb);
        }
    }
    ipw_plot_data_free(&d);
    return e;
}
