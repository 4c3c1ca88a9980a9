/* The report's section for a simulation (issue 14 item 5): an `ipw simulate --summary` JSON,
 * given as the file or as a directory holding it as summary.json, shown like a run with every
 * figure marked modelled; and the SVG inlining the run sections share with it. */
#ifndef IPW_REPORT_SIM_H
#define IPW_REPORT_SIM_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "ipw/buf.h"
#include "ipw/err.h"

struct ipw_report_sim {
    char path[4200]; /* the summary file */
    char dir[4200];  /* where its plots (sim_power.svg, sim_energy.svg) may be */
    json_t *sum;
};

/* Is path a simulation summary: a regular file, or a directory whose summary.json has
 * total_clock_ns (a run directory's summary.json has not)? */
bool ipw_report_is_sim(const char *path);

/* Reads the summary; a file that is not one is an error naming it. */
ipw_err ipw_report_sim_load(struct ipw_report_sim *s, const char *path, ipw_errbuf *eb);
void ipw_report_sim_free(struct ipw_report_sim *s);

/* A one-line title ("simulation summary.json (modelled)"), HTML-escaped. */
void ipw_report_sim_title(struct ipw_buf *b, const struct ipw_report_sim *s);
/* The section: cards, throughput and latency, energy by component, plots. */
void ipw_report_sim_section(struct ipw_buf *b, const struct ipw_report_sim *s, size_t no);

/* The SVG with the XML declaration dropped and every id prefixed, so that the glyph and clip
 * ids of different plots cannot collide inside one HTML document. */
void ipw_report_inline_svg(struct ipw_buf *b, const char *svg, const char *prefix);

#endif
