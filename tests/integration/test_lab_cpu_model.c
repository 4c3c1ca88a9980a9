/* ipw lab under the cpu-model collector (issue 16): on a machine without counters the CPU
 * package energy is modelled from the load, and E_llm is the server's process tree's CPU share
 * of that modelled energy. A fake /proc (IPW_PROCFS_ROOT: stat, cpuinfo, meminfo) that a thread
 * keeps at 50 % busy on 2 CPUs drives the model — with --cpu-tdp 100 --cpu-idle 10 the package
 * draws 10 + (70 - 10) x 0.5 = 40 W — and the lab reads the machine's idle time there too,
 * while the tree is the real scripted server whose child burns exactly 1 s of CPU per request
 * (its processes are in the real /proc). Checked: energy_source modeled, the modelled CPU
 * energy 40 W x latency, the capacity share (1 s + the server's own time) / (2 CPUs x
 * latency), the busy share that over the fake machine's busy half, and E_llm = share x the
 * modelled energy for both conventions. */
#include "ipw_test.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ipw/clock.h"
#include "ipw/lab.h"
#include "llm_server.h"
#include "proc_usage.h"

#define RUNS 2
#define NCPU 2
#define TDP_W 100.0
#define IDLE_W 10.0
#define SHARE 0.5
/* 10 + (0.70 x 100 - 10) x 0.5 */
#define MODEL_W (IDLE_W + (0.70 * TDP_W - IDLE_W) * SHARE)
#define BURN_S 1.0
#define SCRIPT "cm=ttft=250ms,itl=50ms,tokens=24,prompt_tokens=17,burn=1000ms"

static char *g_proc;
static atomic_bool g_stop;
static double g_busy, g_idle;

/* The whole file replaced at once, as a reader must never see half of it. */
static void write_stat(void)
{
    char text[256], tmp[4200], path[4200];
    long b = (long)g_busy, i = (long)g_idle;
    snprintf(text, sizeof text,
             "cpu  %ld 0 0 %ld 0 0 0 0 0 0\ncpu0 %ld 0 0 %ld 0 0 0 0 0 0\n"
             "cpu1 %ld 0 0 %ld 0 0 0 0 0 0\nintr 0\n",
             b, i, b / 2, i / 2, b - b / 2, i - i / 2);
    ipw_test_write(g_proc, ".stat", text);
    snprintf(tmp, sizeof tmp, "%s/.stat", g_proc);
    snprintf(path, sizeof path, "%s/stat", g_proc);
    rename(tmp, path);
}

/* Ticks follow the wall clock (not a count of loop turns), so a thread the loaded machine
 * schedules late still keeps the fake machine at 2 CPUs x elapsed. */
static void *advance(void *arg)
{
    (void)arg;
    double hz = (double)sysconf(_SC_CLK_TCK);
    int64_t last = ipw_mono_ns();
    while (!atomic_load(&g_stop)) {
        ipw_sleep_ns(10 * IPW_NS_PER_MS);
        int64_t now = ipw_mono_ns();
        double ticks = NCPU * hz * (double)(now - last) / 1e9;
        last = now;
        g_busy += ticks * SHARE;
        g_idle += ticks * (1 - SHARE);
        write_stat();
    }
    return NULL;
}

/* the server's own CPU time at each run's start and end snapshot */
static int g_server_pid, g_run = -1;
static double g_self[RUNS][2];

static void on_event(void *ud, const struct ipw_lab_event *ev)
{
    (void)ud;
    if (ev->kind == IPW_LAB_EV_PROGRESS)
        g_run++;
    if (ev->kind != IPW_LAB_EV_SNAPSHOT || g_run < 0 || g_run >= RUNS)
        return;
    if (strcmp(ev->phase, "start") == 0)
        g_self[g_run][0] = ipw_test_proc_self_cpu_s(g_server_pid);
    else if (strcmp(ev->phase, "end") == 0)
        g_self[g_run][1] = ipw_test_proc_self_cpu_s(g_server_pid);
}

static void near(const char *what, int k, double got, double want, double rel)
{
    double err = fabs(got - want) / want;
    print_message("run %d %-22s %.6g  expected %.6g  error %.2f %%\n", k, what, got, want,
                  100 * err);
    if (!(err <= rel))
        fail_msg("run %d %s: %.6g, expected %.6g (%.2f %%)", k, what, got, want, 100 * err);
}

static void test_e_llm_of_modelled_power(void **state)
{
    (void)state;
    struct ipw_test_llm_server server;
    const char *args[] = {"--model", SCRIPT, NULL};
    assert_int_equal(ipw_test_llm_server_start(&server, args), 0);
    g_server_pid = server.pid;
    g_proc = ipw_test_mkdtemp("ipw-lab-cpumodel");
    ipw_test_write(g_proc, "cpuinfo",
                   "processor\t: 0\nmodel name\t: Test CPU 9000\nphysical id\t: 0\n\n"
                   "processor\t: 1\nmodel name\t: Test CPU 9000\nphysical id\t: 0\n\n");
    ipw_test_write(g_proc, "meminfo", "MemTotal:       8388608 kB\nMemFree: 1000 kB\n"
                                      "MemAvailable:   4194304 kB\n");
    write_stat();
    char *sysfs = ipw_test_mkdtemp("ipw-lab-cpumodel-sys");
    setenv("IPW_PROCFS_ROOT", g_proc, 1);
    setenv("IPW_SYSFS_ROOT", sysfs, 1);
    setenv("IPW_NVML_LIBRARY", "/nonexistent/libnvidia-ml.so.1", 1);
    setenv("IPW_ROCM_SMI_LIBRARY", "/nonexistent/librocm_smi64.so", 1);
    pthread_t th;
    atomic_store(&g_stop, false);
    pthread_create(&th, NULL, advance, NULL);

    struct ipw_lab_engine_config cfg;
    ipw_lab_engine_config_init(&cfg);
    cfg.client = "ollama";
    cfg.base_url = server.url;
    cfg.model = "cm";
    cfg.collector = "cpu-model";
    cfg.cpu_tdp_w = TDP_W;
    cfg.cpu_idle_w = IDLE_W;
    cfg.server_pid = "auto";
    cfg.procfs_root = "/proc"; /* the server's processes are real; the machine is the fake */
    cfg.baseline_ns = 200 * IPW_NS_PER_MS;
    cfg.on_event = on_event;
    struct ipw_lab_engine *eng;
    ipw_errbuf eb = {0};
    if (ipw_lab_engine_open(&cfg, &eng, &eb) != IPW_OK)
        fail_msg("open: %s", eb.msg);
    assert_string_equal(ipw_lab_engine_collector(eng), "cpu-model");
    struct ipw_lab_batch b = {.n_variants = 1, .runs = RUNS};
    snprintf(b.variant[0].name, sizeof b.variant[0].name, "bare");
    b.variant[0].prompt.user = "How much energy does this take without a counter?";
    struct ipw_lab_batch_result res;
    if (ipw_lab_engine_batch(eng, &b, &res, &eb) != IPW_OK)
        fail_msg("batch: %s", eb.msg);
    assert_int_equal(res.n, RUNS);
    for (int k = 0; k < RUNS; k++) {
        const struct ipw_lab_run *r = &res.runs[k];
        if (r->error[0])
            fail_msg("run %d: %s", k, r->error);
        assert_string_equal(r->energy_source, "modeled");
        assert_int_equal(r->e_llm_source, IPW_LAB_E_LLM_PROCTREE);
        /* the model at 50 % busy over the run (the sampler integrates the same curve) */
        near("modelled CPU power W", k, r->cpu_wh * 3600 / r->latency_s, MODEL_W, 0.03);
        double server_s = g_self[k][1] - g_self[k][0];
        double cap = (BURN_S + server_s) / (NCPU * r->latency_s);
        near("capacity share", k, r->cpu_share_capacity, cap, 0.05);
        near("busy share", k, r->cpu_share_busy, fmin(cap / SHARE, 1.0), 0.05);
        assert_double_equal(r->e_llm_wh, r->cpu_share_busy * r->cpu_wh, 1e-15);
        assert_double_equal(r->e_llm_capacity_wh, r->cpu_share_capacity * r->cpu_wh, 1e-15);
        print_message("run %d E_llm %.6f Wh (busy share) / %.6f Wh (capacity share) of %.6f Wh "
                      "modelled CPU energy\n", k, r->e_llm_wh, r->e_llm_capacity_wh, r->cpu_wh);
    }
    ipw_lab_batch_result_free(&res);
    ipw_lab_engine_close(eng);
    atomic_store(&g_stop, true);
    pthread_join(th, NULL);
    ipw_test_llm_server_stop(&server);
    ipw_test_rmtree(g_proc);
    free(g_proc);
    ipw_test_rmtree(sysfs);
    free(sysfs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_e_llm_of_modelled_power),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
