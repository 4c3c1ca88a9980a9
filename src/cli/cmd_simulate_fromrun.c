/* `ipw simulate --from-run RUN_DIR --hardware NAME|--hardware-spec HW.json [--tp N]
 * [--arrival-rate R]` (issue 14 item 3): a measured run replayed on other hardware
 * (src/sim/predict/fromrun.c). Prints the predicted figures beside the measured ones, each
 * labelled, and writes them as JSON (default RUN_DIR/prediction_<hardware>.json) where
 * `ipw report` shows them beside the run. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "ipw/fsutil.h"
#include "ipw/options.h"
#include "ipw/predict.h"

static void row(const char *what, const char *unit, double meas, double pred, double scale)
{
    char m[32], p[32], d[32];
    if (isnan(meas))
        snprintf(m, sizeof m, "n/a");
    else
        snprintf(m, sizeof m, "%.4g", meas * scale);
    if (isnan(pred))
        snprintf(p, sizeof p, "n/a");
    else
        snprintf(p, sizeof p, "%.4g", pred * scale);
    if (isnan(meas) || isnan(pred) || meas == 0)
        d[0] = 0;
    else
        snprintf(d, sizeof d, "%+.1f %%", 100 * (pred - meas) / meas);
    printf("  %-26s %-6s %14s %14s %10s\n", what, unit, m, p, d);
}

int ipw_cli_simulate_fromrun(int argc, char **argv)
{
    const char *run = NULL, *hw = NULL, *spec = NULL, *model = NULL, *out = NULL;
    long tp = 1, seqs = 128, seed = 42;
    double rate = 0;
    bool json = false;
    struct ipw_option opts[] = {
        {"from-run", IPW_OPT_STRING, &run, "RUN_DIR", "the ipw profile run to replay"},
        {"hardware", IPW_OPT_STRING, &hw, "NAME", "bundled hardware spec to predict on"},
        {"hardware-spec", IPW_OPT_STRING, &spec, "HW.json",
         "hardware spec file (e.g. from ipw simulate calibrate)"},
        {"tp", IPW_OPT_INT, &tp, "N", "tensor-parallel degree (default 1)", 1, 64},
        {"arrival-rate", IPW_OPT_DOUBLE, &rate, "R",
         "Poisson arrivals at R requests/s instead of the run's own pacing", 1e-6, 1e9},
        {"seed", IPW_OPT_INT, &seed, "N", "seed of those arrivals (default 42)", 0, 1e15},
        {"model", IPW_OPT_STRING, &model, "NAME", "model spec (default: the run's model)"},
        {"max-num-seqs", IPW_OPT_INT, &seqs, "N", "sequences per batch (default 128)", 1, 1e9},
        {"out", IPW_OPT_STRING, &out, "PRED.json",
         "where the prediction goes (default RUN_DIR/prediction_<hardware>.json)"},
        {"json", IPW_OPT_FLAG, &json, NULL, "print the prediction JSON instead of the table"},
        IPW_OPT_END};
    struct ipw_command_help help = {
        "ipw simulate --from-run RUN_DIR --hardware NAME|--hardware-spec HW.json [--tp N] "
        "[--arrival-rate R] [--out PRED.json]",
        "Replays a measured ipw profile run on other hardware: its queries (tokens, arrival "
        "times) are simulated with the roofline model and the accelerator's power, and the "
        "predicted energy per query, J per output token, latency, IPJ and IPW are printed beside "
        "the measured ones (the model and its answers are the same, so is the accuracy). "
        "Predicted figures are modelled, not measured (docs/commands/simulate.md).",
        "example:\n  ipw simulate --from-run runs/profile_RTX4090_llama_3_1_8b_ipw --hardware H100"};
    size_t npos = 0;
    enum ipw_parse_result pr =
        ipw_parse_options(argc, argv, "ipw simulate", opts, &help, NULL, 0, &npos);
    if (pr != IPW_PARSE_OK)
        return pr == IPW_PARSE_HELP ? 0 : 2;
    if (!run || (!hw == !spec)) {
        fprintf(stderr, "ipw simulate: --from-run needs RUN_DIR and one of --hardware NAME or "
                        "--hardware-spec HW.json (try --help)\n");
        return 2;
    }
    if (out && ipw_cli_check_output_dir("ipw simulate", "--out", out))
        return 1;
    struct ipw_fromrun_options o = {run, hw, spec, model, (int)tp, rate,
                                    (unsigned long)seed, seqs};
    struct ipw_fromrun_result r;
    ipw_errbuf eb = {0};
    if (ipw_fromrun(&o, &r, &eb)) {
        fprintf(stderr, "ipw simulate: %s\n", eb.msg);
        return 1;
    }
    json_t *j = ipw_fromrun_json(&r);
    char path[4200];
    if (out)
        snprintf(path, sizeof path, "%s", out);
    else
        snprintf(path, sizeof path, "%s/prediction_%s.json", run, r.hardware);
    char *text = json_dumps(j, JSON_INDENT(2) | JSON_REAL_PRECISION(8));
    int rc = 0;
    if (!text || ipw_write_file_atomic(path, text, strlen(text), &eb)) {
        fprintf(stderr, "ipw simulate: %s\n", text ? eb.msg : "out of memory");
        rc = 1;
    }
    if (json && text) {
        puts(text);
    } else if (!rc) {
        /* a sim-client run's side is a model's figures, not a measurement: say so */
        const char *side = r.run_modelled ? "run, modelled" : "measured";
        printf("what-if of %s (%s, %s on %s) on %d x %s, %zu queries, %s\n", run, r.model,
               r.run_modelled ? "modelled" : "measured", r.measured_hardware, r.tp, r.hardware,
               r.n,
               r.sequential ? "one at a time, as in the run"
               : r.paced    ? "the run's own arrival times"
                            : "Poisson arrivals");
        printf("  %-26s %-6s %14s %14s %10s\n", "", "", side, "predicted", "");
        row("energy per query", "J", r.measured.energy_per_query_j,
            r.predicted.energy_per_query_j, 1);
        row("energy per output token", "J", r.measured.j_per_output_token,
            r.predicted.j_per_output_token, 1);
        row("power per query (mean)", "W", r.measured.power_mean_w, r.predicted.power_mean_w, 1);
        row("latency (mean)", "s", r.measured.latency_mean_s, r.predicted.latency_mean_s, 1);
        row("latency (median)", "s", r.measured.latency_p50_s, r.predicted.latency_p50_s, 1);
        row("time to first token (mean)", "ms", r.measured.ttft_mean_s, r.predicted.ttft_mean_s,
            1e3);
        row("IPJ (accuracy / J)", "1/J", r.measured.ipj, r.predicted.ipj, 1);
        row("IPW (accuracy / W)", "1/W", r.measured.ipw, r.predicted.ipw, 1);
        printf("  accuracy %s (the same answers on either side); per-query energy, predicted vs "
               "%s: %.1f %% median absolute difference\n",
               isnan(r.accuracy) ? "not scored" : "from the run",
               r.run_modelled ? "the run's modelled energy" : "measured", 100 * r.median_abs_err);
        if (r.run_modelled)
            printf("  note: the run's energies are modelled (sim or cpu-model collector), not "
                   "measured; neither column is a measurement\n");
        if (r.components == IPW_FROMRUN_ACCEL)
            printf("  energy compared: the accelerator only (the run's main domain; the run "
                   "has no CPU/DRAM energy beside a GPU)\n");
        else
            printf("  energy compared: accelerator%s%s (host power held at the run's own: CPU "
                   "%.1f W, DRAM %.1f W while queries were in flight); accelerator alone: "
                   "%.1f %% median absolute difference\n",
                   r.components & IPW_FROMRUN_CPU ? " + CPU package" : "",
                   r.components & IPW_FROMRUN_DRAM ? " + DRAM" : "",
                   isnan(r.host_cpu_w) ? 0.0 : r.host_cpu_w,
                   isnan(r.host_dram_w) ? 0.0 : r.host_dram_w, 100 * r.median_abs_err_accel);
        printf("Note: predicted figures are " IPW_SS_ROOF_NOTE ". Written to %s\n", path);
    }
    free(text);
    json_decref(j);
    ipw_fromrun_result_free(&r);
    return rc;
}
