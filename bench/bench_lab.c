/* The energy lab's own cost per run: CPU time of the whole process (client, telemetry snapshots,
 * the /proc walk for E_llm, formulas, events, the SQLite insert, the sampler thread) over a
 * batch against the scripted LLM server with a fake RAPL counter, divided by the runs; waiting
 * on the server costs wall time, not CPU. The goal is under 2 ms of CPU per run. Also the pure
 * part alone (derive + JSON + summary). Prints figures; never fails on a time. */
#include "ipw_test.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fake_sysfs.h"
#include "ipw/clock.h"
#include "ipw/lab.h"
#include "llm_server.h"

static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void pure_part(int n)
{
    struct ipw_lab_run *runs = calloc((size_t)n, sizeof *runs);
    double t0 = cpu_s();
    for (int i = 0; i < n; i++) {
        struct ipw_lab_run *r = &runs[i];
        ipw_lab_run_init(r);
        r->have_energy = true;
        r->prefill_wh = 0.001 + 1e-6 * i;
        r->decode_wh = 0.004;
        r->total_wh = r->prefill_wh + r->decode_wh;
        r->cpu_wh = r->total_wh;
        r->idle_watts = 40;
        r->ttft_s = 0.1;
        r->decode_s = 0.4;
        r->latency_s = 0.5;
        r->input_tokens = 30;
        r->output_tokens = 100;
        r->cpu_share_busy = 0.3;
        r->cpu_share_capacity = 0.2;
        ipw_lab_run_derive(r, 445);
        json_t *j = ipw_lab_run_to_json(r);
        json_decref(j);
    }
    double t1 = cpu_s();
    struct ipw_lab_summary s;
    ipw_lab_summarize(runs, (size_t)n, NULL, &s, NULL);
    double t2 = cpu_s();
    printf("pure part: derive + run JSON %.2f us per run; batch summary of %d runs (11 metrics, "
           "bootstrap CIs) %.1f ms\n",
           (t1 - t0) / n * 1e6, n, (t2 - t1) * 1e3);
    free(runs);
}

int main(void)
{
    bool quick = getenv("IPW_BENCH_QUICK") != NULL;
    int n = quick ? 10 : 100;
    pure_part(quick ? 100 : 1000);

    struct ipw_test_llm_server srv;
    const char *args[] = {"--model", "b=ttft=5ms,itl=1ms,tokens=32,prompt_tokens=20", NULL};
    if (ipw_test_llm_server_start(&srv, args) != 0)
        return 1;
    char *dir = ipw_test_mkdtemp("ipw-bench-lab");
    char *sysfs = ipw_fake_sysfs_new();
    ipw_fake_rapl_zone(sysfs, "intel-rapl:0", "package-0", 1000000, IPW_FAKE_RAPL_RANGE);
    setenv("IPW_SYSFS_ROOT", sysfs, 1);
    char db[4200];
    snprintf(db, sizeof db, "%s/lab.db", dir);
    struct ipw_lab_store *store = NULL;
    ipw_errbuf eb = {0};
    struct ipw_lab_engine_config cfg;
    ipw_lab_engine_config_init(&cfg);
    cfg.client = "ollama";
    cfg.base_url = srv.url;
    cfg.model = "b";
    cfg.collector = "rapl";
    cfg.baseline_ns = 0; /* the baseline is waiting, not work */
    if (getenv("BENCH_NO_PID"))
        cfg.server_pid = "none";
    struct ipw_lab_engine *eng = NULL;
    int rc = 1;
    if (ipw_lab_store_open(db, 2000, &store, &eb) == IPW_OK) {
        cfg.store = getenv("BENCH_NO_STORE") ? NULL : store;
        rc = ipw_lab_engine_open(&cfg, &eng, &eb) == IPW_OK ? 0 : 1;
    }
    if (rc) {
        fprintf(stderr, "bench_lab: %s\n", eb.msg);
    } else {
        struct ipw_lab_batch b = {.n_variants = 1, .runs = n};
        snprintf(b.variant[0].name, sizeof b.variant[0].name, "bench");
        b.variant[0].prompt.user = "How much energy does one answer take?";
        struct ipw_lab_batch_result res;
        double c0 = cpu_s();
        int64_t w0 = ipw_mono_ns();
        ipw_err e = ipw_lab_engine_batch(eng, &b, &res, &eb);
        double c1 = cpu_s();
        double wall = (double)(ipw_mono_ns() - w0) / 1e9;
        if (e != IPW_OK)
            fprintf(stderr, "bench_lab: %s\n", eb.msg);
        printf("lab overhead: %.3f ms of CPU per run (%d runs of 32 tokens, %.1f ms wall each; "
               "process tree walked twice a run; goal < 2 ms)\n",
               (c1 - c0) / n * 1e3, n, wall / n * 1e3);
        ipw_lab_batch_result_free(&res);
        rc = e == IPW_OK ? 0 : 1;
    }
    ipw_lab_engine_close(eng);
    ipw_lab_store_close(store);
    ipw_test_llm_server_stop(&srv);
    ipw_test_rmtree(sysfs);
    ipw_test_rmtree(dir);
    free(sysfs);
    free(dir);
    return rc;
}
