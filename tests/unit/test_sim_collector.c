/* The sim collector through a real sampler: opened only by name, marked as modelled; idle
 * energy is idle power × time; a query's snapshot-bounded energies equal the analytic
 * integral of the modelled power to 1e-9 relative (prefill + decode = total), also for
 * overlapping queries under the "heaviest request sets the power" rule; readings stamped
 * before a transition integrate exactly; GPU memory follows weights and KV cache. */
#include "ipw_test.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "ipw/client.h"
#include "ipw/clock.h"
#include "ipw/collector.h"
#include "telemetry/collector_priv.h"
#include "ipw/perfmodel.h"
#include "ipw/sampler.h"
#include "ipw/sim.h"

#define REL 1e-9

static struct ipw_collector *open_collector(const char *hw)
{
    struct ipw_collector_config cfg;
    ipw_collector_config_init(&cfg);
    cfg.sim_hardware = hw;
    struct ipw_collector *c;
    ipw_errbuf eb = {0};
    if (ipw_collector_open("sim", &cfg, &c, &eb) != IPW_OK)
        fail_msg("%s", eb.msg);
    return c;
}

static struct ipw_sampler *start_sampler(struct ipw_collector *c)
{
    struct ipw_sampler_config sc;
    ipw_sampler_config_init(&sc);
    sc.interval_ns = 5 * IPW_NS_PER_MS;
    struct ipw_sampler *s;
    ipw_errbuf eb = {0};
    assert_int_equal(ipw_sampler_create(c, &sc, &s, &eb), IPW_OK);
    assert_int_equal(ipw_sampler_start(s, &eb), IPW_OK);
    return s;
}

static struct ipw_reading snap(struct ipw_sampler *s)
{
    struct ipw_reading r;
    ipw_errbuf eb = {0};
    if (ipw_sampler_snapshot(s, &r, &eb) != IPW_OK)
        fail_msg("%s", eb.msg);
    return r;
}

static struct ipw_energy between(struct ipw_sampler *s, int64_t t0, int64_t t1)
{
    struct ipw_energy e;
    ipw_errbuf eb = {0};
    if (ipw_sampler_energy_between(s, t0, t1, &e, &eb) != IPW_OK)
        fail_msg("%s", eb.msg);
    return e;
}

static void expect_rel(double got, double want, const char *what)
{
    if (ipw_test_rel_err(got, want) > REL)
        fail_msg("%s: %.17g J, analytic %.17g J (rel %.3g)", what, got, want,
                 ipw_test_rel_err(got, want));
}

static struct ipw_client *open_client(const char *params_json)
{
    struct ipw_client *c = calloc(1, sizeof *c);
    c->ops = &ipw_client_sim;
    c->cfg.params = json_loads(params_json, 0, NULL);
    ipw_errbuf eb = {0};
    if (c->ops->open(c, &eb) != IPW_OK)
        fail_msg("%s", eb.msg);
    return c;
}

static void close_client(struct ipw_client *c)
{
    json_t *p = (json_t *)c->cfg.params;
    c->ops->close(c);
    json_decref(p);
    free(c);
}

static void free_result(struct ipw_chat_result *r)
{
    free(r->content);
    free(r->reasoning);
    json_decref(r->server_timings);
}

static void test_only_by_name(void **state)
{
    (void)state;
    for (const struct ipw_collector_ops *const *p = ipw_collector_auto_order(); *p; p++)
        assert_ptr_not_equal(*p, &ipw_collector_sim);
    assert_ptr_equal(ipw_collector_lookup("sim"), &ipw_collector_sim);

    struct ipw_collector *c = open_collector("A100");
    assert_string_equal(ipw_collector_name(c), "sim");
    assert_int_equal(c->info.main_domain, IPW_DOMAIN_GPU);
    assert_string_equal(c->info.gpu_name, "Simulated A100 SXM 80GB");
    assert_string_equal(c->info.gpu_backend, "sim");
    assert_non_null(strstr(c->info.gpu_vendor, "simulated"));
    assert_non_null(strstr(c->info.notes, "nothing is measured"));
    assert_null(c->cpu_companion); /* no real RAPL mixed into modelled figures */
    assert_int_equal(c->info.ndev, 1);
    assert_double_equal(c->info.dev[0].mem_total_mb, 80 * 1024.0, 1e-9);
    ipw_collector_close(c);

    struct ipw_collector_config cfg;
    ipw_collector_config_init(&cfg);
    cfg.sim_hardware = "TPUv9";
    ipw_errbuf eb = {0};
    assert_int_not_equal(ipw_collector_open("sim", &cfg, &c, &eb), IPW_OK);
    assert_non_null(strstr(eb.msg, "TPUv9"));
}

static void test_idle_energy(void **state)
{
    (void)state;
    struct ipw_collector *c = open_collector("H100");
    struct ipw_sampler *s = start_sampler(c);
    struct ipw_reading r0 = snap(s);
    ipw_sleep_ns(120 * IPW_NS_PER_MS);
    struct ipw_reading r1 = snap(s);
    double dt = (double)(r1.mono_ns - r0.mono_ns) / 1e9;
    struct ipw_energy e = between(s, r0.mono_ns, r1.mono_ns);
    assert_true(e.exact[IPW_DOMAIN_GPU] && e.exact[IPW_DOMAIN_CPU]);
    expect_rel(e.joules[IPW_DOMAIN_GPU], 70.0 * dt, "idle GPU");
    expect_rel(e.joules[IPW_DOMAIN_CPU], 60.0 * dt, "idle CPU");
    assert_int_equal(e.source[IPW_DOMAIN_GPU], IPW_ENERGY_MODELED);
    assert_double_equal(r1.v[IPW_M_GPU_POWER_W], 70, 0);
    assert_double_equal(r1.v[IPW_M_CPU_POWER_W], 60, 0);
    assert_int_equal(r1.power_source, IPW_POWER_MODELED);
    assert_false(ipw_reading_has(&r1, IPW_M_TEMPERATURE_C)); /* not modelled, not invented */
    assert_double_equal(r1.v[IPW_M_GPU_UTIL_PCT], 0, 0);
    /* the collector's own energy starts at zero when it opens and only grows */
    assert_true(r0.v[IPW_M_GPU_ENERGY_J] >= 0);
    assert_true(r1.v[IPW_M_GPU_ENERGY_J] > r0.v[IPW_M_GPU_ENERGY_J]);
    ipw_sampler_stop(s);
    ipw_sampler_destroy(s);
    ipw_collector_close(c);
}

/* Snapshots at the query's boundaries, the way the profiler takes them. */
struct bounds {
    struct ipw_sampler *s;
    struct ipw_reading at_start, at_first;
    double mem_first_mb;
};

static void cb_start(void *ud, int64_t t)
{
    (void)t;
    struct bounds *b = ud;
    b->at_start = snap(b->s);
}

static void cb_first(void *ud, int64_t t)
{
    (void)t;
    struct bounds *b = ud;
    b->at_first = snap(b->s);
    b->mem_first_mb = b->at_first.v[IPW_M_GPU_MEM_USED_MB];
}

static void test_query_energy_exact(void **state)
{
    (void)state;
    struct ipw_client *cl = open_client(
        "{\"hardware\":\"H100\",\"model\":\"llama-3.1-8b\",\"output_tokens\":30}");
    struct ipw_collector *c = open_collector(NULL); /* takes the client's hardware */
    assert_string_equal(c->info.gpu_name, "Simulated H100 SXM 80GB");
    struct ipw_sampler *s = start_sampler(c);
    struct bounds b = {.s = s};
    struct ipw_stream_events ev = {&b, cb_start, cb_first, NULL};
    struct ipw_chat_request req = {"llama3.1:8b", "Explain the roofline model in one line.", NULL};
    struct ipw_chat_result res;
    assert_int_equal(cl->ops->chat(cl, &req, &ev, &res), IPW_OK);
    struct ipw_reading at_end = snap(s);

    /* the utilisations the client used, from the same model */
    struct ipw_hw_spec hw;
    struct ipw_model_spec m;
    struct ipw_perf pm;
    struct ipw_perf_request rq;
    ipw_errbuf eb = {0};
    assert_int_equal(ipw_hw_spec_load("H100", &hw, &eb), IPW_OK);
    assert_int_equal(ipw_model_spec_load("llama-3.1-8b", &m, &eb), IPW_OK);
    assert_int_equal(ipw_perf_init(&pm, &hw, &m, NULL, &eb), IPW_OK);
    ipw_perf_request(&pm, res.input_tokens, res.output_tokens, &rq);

    /* transitions t0 (prefill), t1 (decode), tE (idle); snapshots s0 >= t0, s1 >= t1, s2 >= tE */
    double t0 = (double)res.start_ns, t1 = (double)res.first_token_ns, tE = (double)res.end_ns;
    double s0 = (double)b.at_start.mono_ns, s1 = (double)b.at_first.mono_ns,
           s2 = (double)at_end.mono_ns;
    assert_true(t0 <= s0 && s0 <= t1 && t1 <= s1 && s1 <= tE && tE <= s2);
    double up = rq.prefill_util, ud = rq.decode_util, dP = hw.active_w - hw.idle_w;
    double pre = (hw.idle_w * (s1 - s0) + dP * (up * (t1 - s0) + ud * (s1 - t1))) / 1e9;
    double dec = (hw.idle_w * (s2 - s1) + dP * ud * (tE - s1)) / 1e9;
    double cpu = (hw.cpu_idle_w * (s2 - s0) +
                  (hw.cpu_active_w - hw.cpu_idle_w) * hw.cpu_busy_util * (tE - s0)) /
                 1e9;

    struct ipw_energy e_pre = between(s, b.at_start.mono_ns, b.at_first.mono_ns);
    struct ipw_energy e_dec = between(s, b.at_first.mono_ns, at_end.mono_ns);
    struct ipw_energy e_all = between(s, b.at_start.mono_ns, at_end.mono_ns);
    assert_true(e_all.exact[IPW_DOMAIN_GPU]);
    expect_rel(e_pre.joules[IPW_DOMAIN_GPU], pre, "prefill");
    expect_rel(e_dec.joules[IPW_DOMAIN_GPU], dec, "decode");
    expect_rel(e_all.joules[IPW_DOMAIN_GPU], pre + dec, "query");
    expect_rel(e_pre.joules[IPW_DOMAIN_GPU] + e_dec.joules[IPW_DOMAIN_GPU],
               e_all.joules[IPW_DOMAIN_GPU], "prefill + decode = total");
    expect_rel(e_all.joules[IPW_DOMAIN_CPU], cpu, "CPU");
    /* the power at each boundary is the modelled phase power */
    assert_double_equal(b.at_start.v[IPW_M_GPU_POWER_W], ipw_hw_power_w(&hw, up), 1e-9);
    assert_double_equal(b.at_first.v[IPW_M_GPU_POWER_W], ipw_hw_power_w(&hw, ud), 1e-9);
    assert_double_equal(at_end.v[IPW_M_GPU_POWER_W], hw.idle_w, 0);
    assert_double_equal(b.at_first.v[IPW_M_GPU_UTIL_PCT], 100, 0);
    /* the phases last at least their modelled durations (sleeps never end early), so the
     * modelled energy of each phase is a lower bound of what the collector integrates */
    assert_true(t1 - t0 >= rq.prefill_s * 1e9 - 1e3 && tE - t1 >= rq.decode_s * 1e9 - 1e3);
    double missed = ipw_hw_power_w(&hw, up) * (s0 - t0) / 1e9; /* before the first snapshot */
    assert_true(e_pre.joules[IPW_DOMAIN_GPU] >= rq.prefill_j * (1 - 1e-9) - missed);
    /* memory: weights + the prompt's KV cache at the first token; weights alone after */
    double weights_mb = pm.weight_bytes / 1048576.0;
    assert_double_equal(b.mem_first_mb,
                        weights_mb + (double)res.input_tokens * pm.kv_bytes_per_token / 1048576.0,
                        1e-6);
    assert_double_equal(at_end.v[IPW_M_GPU_MEM_USED_MB], weights_mb, 1e-6);

    free_result(&res);
    ipw_sampler_stop(s);
    ipw_sampler_destroy(s);
    ipw_collector_close(c);
    close_client(cl);
}

/* A client on a user hardware file: a collector opened without a name models the same file;
 * one opened on other hardware says the two disagree. */
static void test_follows_client_hardware_file(void **state)
{
    (void)state;
    char *dir = ipw_test_mkdtemp("ipw-simcol");
    ipw_test_write(dir, "npu.json",
                   "{\"name\":\"NPU-7\",\"display_name\":\"NPU 7 16GB\","
                   "\"peak_dense_tflops_bf16\":50,\"memory_bandwidth_gb_s\":500,"
                   "\"memory_gib\":16,\"idle_power_w\":5,\"active_power_w\":75}");
    char params[512];
    snprintf(params, sizeof params, "{\"time_scale\":0,\"hardware\":\"%s/npu.json\"}", dir);
    struct ipw_client *cl = open_client(params);
    struct ipw_collector *c = open_collector(NULL);
    assert_string_equal(c->info.gpu_name, "Simulated NPU 7 16GB");
    assert_null(strstr(c->info.notes, "do not match"));
    ipw_collector_close(c);
    c = open_collector("H100");
    assert_non_null(strstr(c->info.notes, "do not match"));
    ipw_collector_close(c);
    close_client(cl);
    ipw_test_rmtree(dir);
    free(dir);
}

/* Two overlapping queries: the GPU draws the power of the heavier phase in flight. */
struct job {
    struct ipw_client *c;
    const char *prompt;
    int64_t delay_ns;
    struct ipw_chat_result res;
};

static void *job_main(void *arg)
{
    struct job *j = arg;
    ipw_sleep_ns(j->delay_ns);
    struct ipw_chat_request req = {NULL, j->prompt, NULL};
    assert_int_equal(j->c->ops->chat(j->c, &req, NULL, &j->res), IPW_OK);
    return NULL;
}

static double util_at(double t, const struct job *j, const struct ipw_perf_request *rq)
{
    if (t < (double)j->res.start_ns || t >= (double)j->res.end_ns)
        return 0;
    return t < (double)j->res.first_token_ns ? rq->prefill_util : rq->decode_util;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void test_overlapping_queries(void **state)
{
    (void)state;
    /* 8B on an A100 with a long prompt: prefill ~50 ms, decode steps ~10 ms */
    struct ipw_client *cl =
        open_client("{\"hardware\":\"A100\",\"model\":\"llama-3.1-8b\",\"output_tokens\":8}");
    struct ipw_collector *c = open_collector("A100");
    struct ipw_sampler *s = start_sampler(c);
    char *long_prompt = malloc(4 * 2000 + 1);
    long_prompt[0] = 0;
    for (int i = 0; i < 2000; i++)
        strcat(long_prompt, "tok ");
    struct job jobs[2] = {{cl, long_prompt, 0, {0}},
                          {cl, "short question", 20 * IPW_NS_PER_MS, {0}}};
    struct ipw_reading a = snap(s);
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        pthread_create(&th[i], NULL, job_main, &jobs[i]);
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    struct ipw_reading z = snap(s);

    struct ipw_hw_spec hw;
    struct ipw_model_spec m;
    struct ipw_perf pm;
    struct ipw_perf_request rq[2];
    ipw_errbuf eb = {0};
    assert_int_equal(ipw_hw_spec_load("A100", &hw, &eb), IPW_OK);
    assert_int_equal(ipw_model_spec_load("llama-3.1-8b", &m, &eb), IPW_OK);
    assert_int_equal(ipw_perf_init(&pm, &hw, &m, NULL, &eb), IPW_OK);
    for (int i = 0; i < 2; i++)
        ipw_perf_request(&pm, jobs[i].res.input_tokens, jobs[i].res.output_tokens, &rq[i]);
    assert_true(rq[0].prefill_util > rq[0].decode_util); /* compute-bound vs bandwidth-bound */

    /* ∫ max(u1, u2) dt over the piecewise-constant breakpoints */
    double bp[8] = {(double)a.mono_ns, (double)z.mono_ns};
    int n = 2;
    for (int i = 0; i < 2; i++) {
        bp[n++] = (double)jobs[i].res.start_ns;
        bp[n++] = (double)jobs[i].res.first_token_ns;
        bp[n++] = (double)jobs[i].res.end_ns;
    }
    qsort(bp, (size_t)n, sizeof *bp, cmp_double);
    double integral = 0;
    for (int k = 0; k + 1 < n; k++) {
        double mid = 0.5 * (bp[k] + bp[k + 1]);
        double u0 = util_at(mid, &jobs[0], &rq[0]), u1 = util_at(mid, &jobs[1], &rq[1]);
        integral += (u0 > u1 ? u0 : u1) * (bp[k + 1] - bp[k]);
    }
    double want = (hw.idle_w * (double)(z.mono_ns - a.mono_ns) +
                   (hw.active_w - hw.idle_w) * integral) /
                  1e9;
    struct ipw_energy e = between(s, a.mono_ns, z.mono_ns);
    expect_rel(e.joules[IPW_DOMAIN_GPU], want, "overlapping queries");
    /* the overlap is real: the second query started before the first ended */
    assert_true(jobs[1].res.start_ns < jobs[0].res.end_ns);

    for (int i = 0; i < 2; i++)
        free_result(&jobs[i].res);
    free(long_prompt);
    ipw_sampler_stop(s);
    ipw_sampler_destroy(s);
    ipw_collector_close(c);
    close_client(cl);
}

/* A reading stamped before a transition that another thread records first must integrate as
 * of its own time: the sampler takes timestamps before it calls the collector. */
static void test_reading_before_transition(void **state)
{
    (void)state;
    struct ipw_sim_reading before, again;
    int64_t t = ipw_mono_ns();
    ipw_sim_activity_read(t, &before);
    struct ipw_sim_load load = {0.9, 0.5, 0.2};
    int slot;
    int64_t t_begin;
    ipw_errbuf eb = {0};
    ipw_sleep_ns(2 * IPW_NS_PER_MS);
    assert_int_equal(ipw_sim_activity_begin(&load, 1e9, 0, &slot, &t_begin, &eb), IPW_OK);
    assert_true(t_begin > t);
    ipw_sleep_ns(2 * IPW_NS_PER_MS);
    ipw_sim_activity_read(t, &again);
    assert_true(again.exact);
    assert_double_equal(again.util_ns, before.util_ns, 0);
    assert_double_equal(again.busy_ns, before.busy_ns, 0);
    assert_false(again.busy);
    /* and after it, the new rate holds from the transition on */
    int64_t t2 = ipw_mono_ns();
    struct ipw_sim_reading after;
    ipw_sim_activity_read(t2, &after);
    assert_true(after.busy);
    assert_double_equal(after.util_ns - before.util_ns, 0.9 * (double)(t2 - t_begin), 1e-3);
    assert_int_equal(after.prefill, 1);
    assert_double_equal(after.frac_compute, 0.5, 0);
    int64_t t_end = ipw_sim_activity_end(slot);
    struct ipw_sim_reading done;
    ipw_sim_activity_read(t_end + 1000, &done);
    assert_double_equal(done.util_ns - before.util_ns, 0.9 * (double)(t_end - t_begin), 1e-3);
    assert_int_equal(done.prefill + done.decode, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_only_by_name),
        cmocka_unit_test(test_idle_energy),
        cmocka_unit_test(test_query_energy_exact),
        cmocka_unit_test(test_follows_client_hardware_file),
        cmocka_unit_test(test_overlapping_queries),
        cmocka_unit_test(test_reading_before_transition),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
