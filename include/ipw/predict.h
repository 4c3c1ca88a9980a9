/* ipw simulate's predict modes (issue 14): calibrate a hardware spec from a measured run,
 * turn a run into a simulator trace and predict it on other hardware, parameter sweeps with
 * their Pareto frontier, and the plots of a simulation. Every number these functions produce
 * is modelled or predicted, never measured; the callers label them so.
 * Docs: docs/commands/simulate.md, docs/sim-fidelity.md. */
#ifndef IPW_PREDICT_H
#define IPW_PREDICT_H

#include <stdbool.h>
#include <stddef.h>

#include "ipw/err.h"
#include "ipw/perfmodel.h"
#include "ipw/servesim.h"

/* ---- calibrate ------------------------------------------------------------------------- */

struct ipw_calib_options {
    const char *run_dir;
    const char *hardware; /* base spec (peaks) by name or path; NULL: from the run's GPU name */
    const char *model;    /* model spec; NULL: from summary.json's model */
    int folds;            /* k of the k-fold held-out error; 0: 5 */
};

/* One fit: what the least squares gave and how well it predicts held-out queries. */
struct ipw_calib_result {
    struct ipw_hw_spec spec;    /* the base spec with the fitted figures in place */
    struct ipw_model_spec model;
    size_t n_records, n_used;   /* records read, records with the times and energies needed */
    double idle_w;              /* from the run's idle baseline */
    bool idle_from_baseline;    /* false: the records' idle_power_watts */
    double eff_compute, eff_bw; /* fitted (eff_compute kept from the base spec when no
                                   query's prefill is compute-bound) */
    bool compute_identified;
    double p_compute_w, p_bw_w; /* fitted accelerator power in compute- / bandwidth-bound steps */
    double decode_j_per_token, decode_j_per_token_sd; /* measured, mean and sd over queries */
    double pred_decode_j_per_token;                   /* the fit's, over the same queries */
    int folds;
    double cv_median_abs_err;   /* held-out per-query energy, median |pred − meas| / meas */
    double cv_total_err;        /* held-out total energy, |Σpred − Σmeas| / Σmeas */
    double cv_decode_jpt_sd;    /* sd over folds of the fitted decode J/token */
    double fit_rms_time_err;    /* relative RMS error of the fitted per-query latency */
};

ipw_err ipw_calibrate_run(const struct ipw_calib_options *o, struct ipw_calib_result *res,
                          ipw_errbuf *eb);

/* Writes spec as an ipw.hardware/1 file (atomically) with `note` as its first source line. */
ipw_err ipw_predict_write_spec(const struct ipw_hw_spec *spec, const char *note, const char *path,
                               ipw_errbuf *eb);

#endif
