/* A run's plots (SPEC §4.4), drawn with cairo as PNG and SVG: TTFT, latency, energy and power
 * against tokens (scatter with the least-squares line) and the distribution of completion
 * tokens (Gaussian kernel density). */
#ifndef IPW_PLOTS_H
#define IPW_PLOTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ipw/err.h"
#include "ipw/ols.h"

enum ipw_plot_id {
    IPW_PLOT_TTFT = 0, /* input tokens vs time to first token */
    IPW_PLOT_LATENCY,  /* total tokens vs latency */
    IPW_PLOT_ENERGY,   /* total tokens vs energy */
    IPW_PLOT_POWER,    /* total tokens vs power */
    IPW_PLOT_KDE,      /* completion tokens, kernel density */
    IPW_PLOT_COUNT
};
#define IPW_PLOT_SCATTERS 4

/* File stem: "ttft", "latency", "energy", "power", "completion_tokens_kde". */
const char *ipw_plot_name(enum ipw_plot_id id);

/* Scatter points kept per plot: runs larger than this are drawn from a uniform sample
 * (reservoir sampling, fixed seed), while the fitted line uses every point. */
#define IPW_PLOT_MAX_POINTS 5000

struct ipw_plot_points {
    double *x, *y;
    size_t n;       /* points kept (<= IPW_PLOT_MAX_POINTS) */
    uint64_t seen;  /* points offered */
};

struct ipw_plot_data {
    struct ipw_plot_points scatter[IPW_PLOT_SCATTERS];
    struct ipw_ols_fit fit[IPW_PLOT_SCATTERS];
    double *tokens; /* completion tokens of every successful query, for the density */
    size_t ntokens, tokens_cap;
    char subtitle[512]; /* "model · hardware · dataset" */
    char energy_source[32]; /* of the records: counter | integrated | modeled | mixed | "" */
    double token_cap; /* max_tokens of the run (summary.json), NAN when unknown: the density's
                         upper bound */
    uint64_t rng;
};

/* Whether a fitted line explains something worth drawing: R² of at least
 * IPW_PLOT_FIT_MIN_R2, and a fitted change across [xmin, xmax] of at least
 * IPW_PLOT_FIT_MIN_CHANGE of |avg_y|. When not, why (one phrase for the legend) is filled. */
#define IPW_PLOT_FIT_MIN_R2 0.3
#define IPW_PLOT_FIT_MIN_CHANGE 0.02
bool ipw_plot_fit_explains(const struct ipw_ols_fit *fit, double xmin, double xmax, char *why,
                           size_t why_size);

/* Below this many completion-token counts the distribution is drawn as a histogram: a kernel
 * density of a handful of points is a bell curve the data do not have. */
#define IPW_PLOT_KDE_MIN_N 30

/* Reads run_dir's records (one streaming pass) and its analysis/regression.json when present
 * (else the fits are computed from the records). */
ipw_err ipw_plot_data_load(const char *run_dir, struct ipw_plot_data *d, ipw_errbuf *eb);
void ipw_plot_data_free(struct ipw_plot_data *d);

/* Offers one point to a scatter (used by ipw_plot_data_load and tests). */
ipw_err ipw_plot_points_add(struct ipw_plot_data *d, int scatter, double x, double y,
                            ipw_errbuf *eb);

/* Gaussian KDE with Scott's bandwidth h = s · n^(-1/5) (s the sample standard deviation, as
 * scipy.stats.gaussian_kde): fills density[i] at grid[i] for m points; returns h (NAN and
 * zeros when n == 0). Exact for n <= 20000, binned (linear binning, 4096 bins) above. */
double ipw_kde_scott(const double *v, size_t n, const double *grid, double *density, size_t m);

enum { IPW_PLOT_PNG = 1, IPW_PLOT_SVG = 2 };

/* Writes one plot to path (atomically); format is IPW_PLOT_PNG or IPW_PLOT_SVG. */
ipw_err ipw_plot_write(const struct ipw_plot_data *d, enum ipw_plot_id id, int format,
                       const char *path, ipw_errbuf *eb);
/* One plot as an SVG document in memory (*svg is malloc'd, NUL-terminated). */
ipw_err ipw_plot_svg(const struct ipw_plot_data *d, enum ipw_plot_id id, char **svg, size_t *len,
                     ipw_errbuf *eb);
/* Releases cairo's font caches (fontconfig patterns); call once at the end of a program that
 * drew plots, with no drawing in progress, so that leak checkers see a clean exit. */
void ipw_plot_release_fonts(void);

/* Every plot of run_dir into out_dir (NULL: run_dir/plots) in the formats asked for. */
ipw_err ipw_plot_run(const char *run_dir, const char *out_dir, int formats, ipw_errbuf *eb);

#endif
