/* Small cairo helpers shared by the predict modes' plots (src/sim/predict/simplots.c and
 * simtimeline.c): a frame with gridded axes over any range, text, and writing a drawing as
 * PNG and SVG. */
#ifndef IPW_SS_SIMPLOTS_H
#define IPW_SS_SIMPLOTS_H

#include <cairo.h>
#include <stdbool.h>

#include "ipw/err.h"

struct ss_plot_frame {
    double left, top, w, h;     /* the plot area in pixels */
    double x0, x1, xs, y0, y1, ys; /* ranges and tick steps */
    bool no_yticks;                /* categories on the y axis: no grid, no numbers */
};

#include "analysis/plot_file.h"

typedef ipw_plot_draw_fn ss_plot_draw_fn;

void ss_plot_text(cairo_t *cr, double x, double y, const char *s, double ax, double size);
/* A padded range with a round tick step. */
void ss_plot_axis_range(double lo, double hi, bool from_zero, double *a, double *b, double *step);
/* White background, grid, ticks, frame, title and axis labels. */
void ss_plot_frame(cairo_t *cr, const struct ss_plot_frame *f, const char *title,
                   const char *xl, const char *yl);
double ss_plot_px(const struct ss_plot_frame *f, double v);
double ss_plot_py(const struct ss_plot_frame *f, double v);
/* dir/stem.png and dir/stem.svg, each written atomically. */
ipw_err ss_plot_write(const char *dir, const char *stem, double w, double h, ss_plot_draw_fn draw,
                      const void *ud, ipw_errbuf *eb);

#endif
