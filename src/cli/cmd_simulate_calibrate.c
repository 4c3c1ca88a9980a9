/* `ipw simulate calibrate RUN_DIR [--out HW.json]` (issue 14 item 2): fits a hardware spec
 * to a measured `ipw profile` run (src/sim/predict/calibrate.c), prints the fit with its
 * held-out error and writes the spec the simulator (--hardware-spec) and the sim client
 * (--client-param hardware=HW.json) read. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "ipw/options.h"
#include "ipw/predict.h"

int ipw_cli_simulate_calibrate(int argc, char **argv)
{
    const char *out = NULL, *hw = NULL, *model = NULL;
    long folds = 5;
    struct ipw_option opts[] = {
        {"out", IPW_OPT_STRING, &out, "HW.json", "write the fitted hardware spec here"},
        {"hardware", IPW_OPT_STRING, &hw, "NAME|HW.json",
         "spec to start from (peaks, memory); default: the run's GPU"},
        {"model", IPW_OPT_STRING, &model, "NAME|MODEL.json",
         "model spec; default: the run's model"},
        {"folds", IPW_OPT_INT, &folds, "K", "k of the k-fold held-out error (default 5)", 2, 100},
        IPW_OPT_END};
    struct ipw_command_help help = {
        "ipw simulate calibrate RUN_DIR [--out HW.json] [--hardware NAME] [--folds K]",
        "Fits the roofline efficiencies (prefill FLOP/s, decode bytes/s) and the accelerator's "
        "busy power to a measured ipw profile run by least squares, the idle power from its "
        "baseline, and prints the fit with its error on held-out queries (k-fold). The written "
        "spec drives ipw simulate --hardware-spec and the sim client. Figures from the fit are "
        "modelled (docs/commands/simulate.md).",
        "example:\n  ipw simulate calibrate runs/profile_H10080GB_llama_3_1_8b_ipw --out h100.json"};
    const char *pos[1];
    size_t npos = 0;
    enum ipw_parse_result pr =
        ipw_parse_options(argc, argv, "ipw simulate calibrate", opts, &help, pos, 1, &npos);
    if (pr != IPW_PARSE_OK)
        return pr == IPW_PARSE_HELP ? 0 : 2;
    if (npos != 1) {
        fprintf(stderr, "ipw simulate calibrate: give the run directory (try --help)\n");
        return 2;
    }
    if (out && ipw_cli_check_output_dir("ipw simulate calibrate", "--out", out))
        return 1;
    struct ipw_calib_options o = {pos[0], hw, model, (int)folds};
    struct ipw_calib_result r;
    ipw_errbuf eb = {0};
    if (ipw_calibrate_run(&o, &r, &eb)) {
        fprintf(stderr, "ipw simulate calibrate: %s\n", eb.msg);
        return 1;
    }
    /* a sim-client run's energies are a model's: fitting them calibrates against that model */
    const char *src = r.run_modelled ? "modelled" : "measured";
    printf("calibrated %s for %s from %zu of %zu records of %s\n", r.spec.name, r.model.name,
           r.n_used, r.n_records, pos[0]);
    if (r.run_modelled)
        printf("  note: this run's energies are modelled (sim or cpu-model collector), not "
               "measured; the fit reproduces that model\n");
    printf("  idle power          %.1f W (%s)\n", r.idle_w,
           r.idle_from_baseline ? (r.run_modelled ? "the run's baseline, modelled"
                                                  : "measured baseline")
                                : "the records' idle_power_watts");
    printf("  busy power          %.1f W while bandwidth-bound (decode; fitted)\n", r.p_bw_w);
    if (r.compute_identified)
        printf("                      %.1f W while compute-bound (long prefills; fitted)\n",
               r.p_compute_w);
    printf("  decode bytes/s      %.3f of peak (fitted)\n", r.eff_bw);
    if (r.compute_identified)
        printf("  prefill FLOP/s      %.3f of peak (fitted)\n", r.eff_compute);
    else
        printf("  prefill FLOP/s      %.3f of peak (kept: no query's prefill is compute-bound; "
               "calibrate on longer prompts to fit it)\n", r.eff_compute);
    printf("  latency fit         %.1f %% RMS error over the queries\n", 100 * r.fit_rms_time_err);
    printf("  decode J/token      %.3f ± %.3f %s (sd over queries), %.3f ± %.3f modelled "
           "(sd over %d folds)\n",
           r.decode_j_per_token, r.decode_j_per_token_sd, src, r.pred_decode_j_per_token,
           r.cv_decode_jpt_sd, r.folds);
    printf("  held-out error      per-query energy %.1f %% (median), total energy %.1f %% "
           "(%d-fold)\n", 100 * r.cv_median_abs_err, 100 * r.cv_total_err, r.folds);
    if (out) {
        char note[1200];
        snprintf(note, sizeof note, "calibrated by ipw simulate calibrate from %s (%zu queries, "
                 "energies %s; held-out per-query energy error %.1f %% median, %d-fold); every "
                 "figure below is fitted or kept from the base spec named next", pos[0], r.n_used,
                 src, 100 * r.cv_median_abs_err, r.folds);
        if (ipw_predict_write_spec(&r.spec, note, out, &eb)) {
            fprintf(stderr, "ipw simulate calibrate: %s\n", eb.msg);
            return 1;
        }
        printf("wrote %s (use: ipw simulate --hardware-spec %s, or ipw profile --client sim "
               "--client-param hardware=%s)\n", out, out, out);
    }
    return 0;
}
