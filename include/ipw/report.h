/* `ipw report`: one self-contained HTML page (inline CSS and SVG, no scripts, no network) with
 * each run's summary, accuracy, IPJ/IPW, phase split, latency, regressions and plots, and a
 * side-by-side comparison when there are several runs. */
#ifndef IPW_REPORT_H
#define IPW_REPORT_H

#include <stddef.h>

#include "ipw/err.h"

/* Writes the report of n runs to out_path (atomically). A run without analysis/accuracy.json or
 * regression.json is analysed first (locally, without a judge), which writes those files. */
ipw_err ipw_report_write(const char *const *run_dirs, size_t n, const char *out_path,
                         ipw_errbuf *eb);

/* Appends text to a buffer with &, <, >, " and ' escaped (exposed for tests). Returns a
 * malloc'd string. */
char *ipw_html_escape(const char *text);

#endif
