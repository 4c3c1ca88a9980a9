/* ipw simulate's predict modes (issue 14): calibrate a hardware spec from a measured run,
 * turn a run into a simulator trace and predict it on other hardware, parameter sweeps with
 * their Pareto frontier, and the plots of a simulation. Every number these functions produce
 * is modelled or predicted, never measured; the callers label them so.
 * Docs: docs/commands/simulate.md, docs/sim-fidelity.md. */
#ifndef IPW_PREDICT_H
#define IPW_PREDICT_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

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
    bool run_modelled;          /* the run's energies came from a model (the sim or cpu-model
                                   collector), so the fit reproduces a model, not a meter */
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

/* ---- what-if of a measured run --------------------------------------------------------- */

struct ipw_fromrun_options {
    const char *run_dir;
    const char *hardware;      /* bundled spec name; or */
    const char *hardware_spec; /* a spec file (e.g. from calibrate) */
    const char *model;         /* model spec; NULL: the run's */
    int tp;                    /* tensor-parallel degree (1) */
    double arrival_rate;       /* > 0: Poisson arrivals at this rate (req/s) replace the run's */
    unsigned long seed;        /* for those arrivals */
    long max_num_seqs;         /* the simulator's batch limit (128) */
};

/* Figures of one side (measured or predicted) over the queries both have. */
struct ipw_fromrun_side {
    double energy_per_query_j, j_per_output_token, latency_mean_s, latency_p50_s, ttft_mean_s,
        power_mean_w, total_energy_j, ipj, ipw;
};

/* The energy components a what-if compares: the accelerator always; the host CPU package and
 * DRAM when every replayed query of the run measured them beside a GPU main domain. */
enum {
    IPW_FROMRUN_ACCEL = 1,
    IPW_FROMRUN_CPU = 2,
    IPW_FROMRUN_DRAM = 4
};

struct ipw_fromrun_query {
    double meas_j, pred_j; /* the components compared, summed */
    double meas_accel_j, pred_accel_j;
    double meas_latency_s, pred_latency_s, meas_ttft_s, pred_ttft_s;
    long input_tokens, output_tokens;
};

struct ipw_fromrun_result {
    char hardware[IPW_SPEC_NAME_MAX], measured_hardware[128], model[IPW_SPEC_NAME_MAX];
    int tp;
    bool paced;              /* the run's own pacing, not --arrival-rate */
    bool sequential;         /* the run had one query at a time, and so has the replay */
    double arrival_rate;
    bool run_modelled;       /* the run's "measured" side came from a model (sim, cpu-model
                                collector): outputs call it the run's modelled figures */
    size_t n;                /* queries simulated (usable records) */
    struct ipw_fromrun_query *q;
    double accuracy;         /* the run's correct / scored (NAN when nothing is scored) */
    long scored;
    struct ipw_fromrun_side measured, predicted;
    unsigned components;     /* IPW_FROMRUN_* compared (meas_j / pred_j sum them) */
    double host_cpu_w, host_dram_w; /* the run's host power while queries were in flight */
    double median_abs_err;   /* per-query energy (components compared), predicted vs measured */
    double median_abs_err_accel; /* the same, accelerator only */
    double sim_seconds;      /* simulated clock */
    double sim_npu_j;        /* the simulator's NPU energy over the whole clock */
};

/* Turns the run into a trace, simulates it on the hardware with the roofline model and a
 * power block from the spec, and gives each query the accelerators' busy power over the time
 * it was in flight, shared equally among the queries in flight (as ipw profile --concurrency
 * does). Where the run measured the host CPU and DRAM beside the GPU, they are compared too:
 * the host is not swapped, so its power while queries are in flight is the run's own (its
 * CPU / DRAM joules over the time any query was in flight), shared the same way. */
ipw_err ipw_fromrun(const struct ipw_fromrun_options *o, struct ipw_fromrun_result *res,
                    ipw_errbuf *eb);
void ipw_fromrun_result_free(struct ipw_fromrun_result *res);
/* The result as JSON (caller decrefs): every predicted figure under "predicted", labelled. */
json_t *ipw_fromrun_json(const struct ipw_fromrun_result *res);

/* ---- sweeps ------------------------------------------------------------------------------ */

#define IPW_SWEEP_MAX_PARAMS 8
#define IPW_SWEEP_MAX_VALUES 64
#define IPW_SWEEP_MAX_POINTS 4096

/* One --sweep PARAM=V1,V2,...: a simulate flag name (max-num-seqs, max-num-batched-tokens,
 * block-size, long-prefill-token-threshold, npu-memory-utilization, enable-chunked-prefill,
 * enable-prefix-caching, tp) and its values as given. */
struct ipw_sweep_param {
    char name[48];
    char values[IPW_SWEEP_MAX_VALUES][32];
    size_t n;
};

/* Parses "name=v1,v2,..." (names and values checked: numbers, or 0/1 for the switches). */
ipw_err ipw_sweep_param_parse(const char *arg, struct ipw_sweep_param *out, ipw_errbuf *eb);
/* The number of grid points (the product of the value counts); IPW_E_RANGE past the maximum. */
ipw_err ipw_sweep_size(const struct ipw_sweep_param *p, size_t n, size_t *points, ipw_errbuf *eb);
/* The value index of each parameter at grid point k (the last parameter varies fastest). */
void ipw_sweep_point(const struct ipw_sweep_param *p, size_t n, size_t k, size_t *idx);

/* What one grid point gave (NAN where the run had no power block). */
struct ipw_sweep_row {
    bool ok;
    char error[256];
    double requests, total_s, tok_s, req_s, ttft_p50_ms, ttft_p99_ms, tpot_p50_ms,
        tpot_p99_ms, latency_p99_s, j_per_token, avg_power_w;
    double energy[7]; /* base, npu, cpu, memory, link, nic, storage (J) */
    double energy_total_j, npu_active_j, npu_standby_j, npu_idle_j;
    bool roofline;
    bool pareto_tput, pareto_lat; /* on the frontier of J/token vs throughput, vs p99 latency */
};

/* Fills a row from a point's --summary JSON and per-request CSV. */
ipw_err ipw_sweep_row_read(const char *summary_path, const char *csv_path,
                           struct ipw_sweep_row *row, ipw_errbuf *eb);
/* Marks the Pareto frontiers over the ok rows with energy: minimal J per output token with
 * maximal throughput, and with minimal p99 latency (non-dominated points). */
void ipw_sweep_pareto(struct ipw_sweep_row *rows, size_t n);
/* The CSV: a header and one row per point (the parameters' values first). */
ipw_err ipw_sweep_write_csv(const char *path, const struct ipw_sweep_param *p, size_t np,
                            const struct ipw_sweep_row *rows, size_t n, ipw_errbuf *eb);
/* The two Pareto plots (PNG and SVG each) in dir: pareto_throughput.* and pareto_latency.*. */
ipw_err ipw_sweep_plot(const char *dir, const struct ipw_sweep_param *p, size_t np,
                       const struct ipw_sweep_row *rows, size_t n, ipw_errbuf *eb);

/* ---- plots of one simulation ------------------------------------------------------------ */

/* dir/sim_power.{png,svg}: the cluster's modelled power per heartbeat interval with the prompt
 * and generation throughput on a second axis; dir/sim_energy.{png,svg}: the energy breakdown
 * per component, the NPU split into active, standby and idle. */
ipw_err ipw_sim_plots(const char *dir, const struct ipw_ss_result *res, ipw_errbuf *eb);

#endif
