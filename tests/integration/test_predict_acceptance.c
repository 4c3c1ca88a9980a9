/* Issue 14's acceptance check on the measured path (no GPU here): `ipw profile` measures two
 * runs of the scripted LLM server through the fake NVML library and a fake RAPL tree (the
 * production collectors, not the sim client), `ipw simulate calibrate` fits a hardware spec
 * on the first run, and `ipw simulate --from-run` with that spec predicts the second run,
 * whose queries (other prompt lengths, so other answer lengths) the fit never saw. Required:
 * per-query energy within 10 % (median absolute error) and total run energy within 5 %, on
 * the components the run measured (GPU + CPU package + DRAM). The figures are printed.
 *
 * What this does not show (docs/sim-fidelity.md): the fake GPU's power follows a fixed level,
 * not the load, and the server's timing is linear in tokens by construction, so this checks
 * the chain measure → fit → replay and its bookkeeping, not the roofline against a real GPU. */
#include "ipw_test.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fake_config.h"
#include "gpu_test_util.h"
#include "ipw/clock.h"
#include "ipw/predict.h"
#include "ipw/profile.h"
#include "llm_server.h"
#include "rapl_clock.h"

/* A model the bundled specs know; answers as long as the prompt, 20 ms per token (what the
 * roofline gives Llama-3.1-8B decoding alone on an H100 at about 22 % of its bandwidth: slow,
 * so that the scheduling jitter of a loaded test machine stays small beside each gap). */
#define MODEL "llama-3.1-8b"
#define SCRIPT MODEL "=ttft=20ms,itl=20ms,echo_length"
#define GPU_W "80:0.4,300" /* idle during the baseline, then busy */

static struct fake_config g_nvml;

struct run {
    char *dir;
    struct ipw_test_llm_server server;
    struct ipw_test_rapl_clock rapl;
};

static int start(void **state)
{
    struct run *r = calloc(1, sizeof *r);
    *state = r;
    r->dir = ipw_test_mkdtemp("ipw-predict-accept");
    const char *args[] = {"--model", SCRIPT, NULL};
    assert_int_equal(ipw_test_llm_server_start(&r->server, args), 0);
    gpu_script("IPW_FAKE_NVML_CONFIG", 'n', &g_nvml, "devices = 1\nepoch_ns = %lld\ndev0.power = %s\n",
               (long long)ipw_mono_ns(), GPU_W);
    setenv("IPW_NVML_LIBRARY", gpu_fake_lib("nvml/libnvidia-ml.so.1"), 1);
    ipw_test_rapl_clock_start(&r->rapl);
    return 0;
}

static int stop(void **state)
{
    struct run *r = *state;
    ipw_test_llm_server_stop(&r->server);
    ipw_test_rapl_clock_stop(&r->rapl);
    ipw_test_rmtree(r->dir);
    free(r->dir);
    gpu_script_cleanup();
    free(r);
    return 0;
}

/* n prompts of 8..64 words; `salt` picks another set of lengths for the held-out run. */
static void profile(struct run *r, const char *name, int n, int salt, char *run_dir, size_t len)
{
    char sub[4200], *text = calloc(1, (size_t)n * 1200 + 1);
    snprintf(sub, sizeof sub, "%s/%s", r->dir, name);
    size_t at = 0;
    for (int i = 0; i < n; i++) {
        int words = 8 + (i * 37 + salt * 53) % 57;
        at += (size_t)sprintf(text + at, "{\"q\": \"");
        for (int w = 0; w < words; w++)
            at += (size_t)sprintf(text + at, "%sw%d", w ? " " : "", w);
        at += (size_t)sprintf(text + at, "\", \"a\": \"%d\"}\n", i);
    }
    ipw_test_write(r->dir, "prompts.jsonl", text);
    free(text);
    char ds[4300];
    snprintf(ds, sizeof ds, "%s/prompts.jsonl", r->dir);
    json_t *dp = json_pack("{s:s, s:s}", "prompt_field", "q", "answer_field", "a");
    struct ipw_profile_config cfg;
    ipw_profile_config_init(&cfg);
    cfg.client_id = "ollama";
    cfg.model = MODEL;
    cfg.client_base_url = r->server.url;
    cfg.dataset_id = "jsonl";
    cfg.dataset_path = ds;
    cfg.dataset_params = dp;
    cfg.output_dir = sub;
    cfg.concurrency = 1;
    cfg.collector = "nvidia";
    cfg.baseline_ns = 300 * IPW_NS_PER_MS;
    cfg.no_eval = true;
    struct ipw_profile_outcome out;
    ipw_errbuf eb = {0};
    if (ipw_profile_run(&cfg, &out, &eb) != IPW_OK)
        fail_msg("profile %s failed: %s", name, eb.msg);
    assert_int_equal(out.queries_done, (size_t)n);
    assert_int_equal(out.queries_failed, 0);
    snprintf(run_dir, len, "%s", out.run_dir);
    json_decref(dp);
}

static void test_held_out_run_predicted(void **state)
{
    struct run *r = *state;
    char train[4300], held[4300], spec[4400];
    profile(r, "train", 30, 0, train, sizeof train);
    profile(r, "held", 20, 1, held, sizeof held);

    struct ipw_calib_options co = {train, "H100", NULL, 5};
    struct ipw_calib_result cr;
    ipw_errbuf eb = {0};
    if (ipw_calibrate_run(&co, &cr, &eb) != IPW_OK)
        fail_msg("calibrate: %s", eb.msg);
    print_message("calibrated on %zu queries: idle %.1f W, busy %.1f W (bandwidth-bound), "
                  "decode bytes/s efficiency %.3f, fit held-out error %.2f %% (%d-fold)\n",
                  cr.n_used, cr.idle_w, cr.p_bw_w, cr.eff_bw, 100 * cr.cv_median_abs_err,
                  cr.folds);
    snprintf(spec, sizeof spec, "%s/calibrated.json", r->dir);
    assert_int_equal(ipw_predict_write_spec(&cr.spec, "acceptance test", spec, &eb), IPW_OK);

    struct ipw_fromrun_options fo = {held, NULL, spec, NULL, 1, 0, 0, 0};
    struct ipw_fromrun_result fr;
    if (ipw_fromrun(&fo, &fr, &eb) != IPW_OK)
        fail_msg("from-run: %s", eb.msg);
    double total_err = fabs(fr.predicted.total_energy_j - fr.measured.total_energy_j) /
                       fr.measured.total_energy_j;
    /* the accelerator alone is predicted from the calibrated spec and the tokens only; the
     * host's power is the held-out run's own (a what-if swaps the accelerator, not the host),
     * so it is checked on its own as well */
    double ma = 0, pa = 0;
    for (size_t i = 0; i < fr.n; i++) {
        ma += fr.q[i].meas_accel_j;
        pa += fr.q[i].pred_accel_j;
    }
    double accel_total_err = fabs(pa - ma) / ma;
    print_message("held-out run, %zu queries (%s): per-query energy %.2f %% median absolute "
                  "error (accelerator alone %.2f %%), total energy %.1f J measured, %.1f J "
                  "predicted, %.2f %% error (accelerator alone %.2f %%); host power held at "
                  "CPU %.1f W, DRAM %.1f W\n",
                  fr.n, fr.sequential ? "one at a time" : "concurrent", 100 * fr.median_abs_err,
                  100 * fr.median_abs_err_accel, fr.measured.total_energy_j,
                  fr.predicted.total_energy_j, 100 * total_err, 100 * accel_total_err,
                  fr.host_cpu_w, fr.host_dram_w);
    /* the run measured the host beside the GPU: the comparison covers all three */
    assert_int_equal(fr.components, IPW_FROMRUN_ACCEL | IPW_FROMRUN_CPU | IPW_FROMRUN_DRAM);
    assert_true(fr.n == 20 && fr.sequential);
    assert_true(fr.median_abs_err < 0.10);
    assert_true(total_err < 0.05);
    assert_true(fr.median_abs_err_accel < 0.10);
    assert_true(accel_total_err < 0.05);
    ipw_fromrun_result_free(&fr);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_held_out_run_predicted, start, stop),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
