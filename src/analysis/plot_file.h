/* Writing one cairo drawing as dir/stem.png and dir/stem.svg, each atomically (a temporary
 * file, fsync, rename), so that a reader never sees half a plot. Shared by every plot that is
 * drawn with a callback (agent turns, the simulator's plots). */
#ifndef IPW_ANALYSIS_PLOT_FILE_H
#define IPW_ANALYSIS_PLOT_FILE_H

#include <cairo.h>

#include "ipw/err.h"

typedef void (*ipw_plot_draw_fn)(cairo_t *cr, const void *ud);

ipw_err ipw_plot_write_pair(const char *dir, const char *stem, double w, double h,
                            ipw_plot_draw_fn draw, const void *ud, ipw_errbuf *eb);

#endif
