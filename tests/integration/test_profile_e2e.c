/* ipw profile end to end, in process: the scripted LLM server over real sockets, the fake NVML
 * library (two GPUs with a known square-wave power) and a fake RAPL tree whose counters a
 * thread advances along a known power. Each query's recorded energies must match the analytic
 * integral over its own boundaries: per query and per phase within 1 %, alone and under
 * --concurrency (where the shares must also add up to the device energy). */
#include "ipw_test.h"

#include <stdlib.h>
#include <string.h>

#include "fake_config.h"
#include "gpu_test_util.h"
#include "ipw/clock.h"
#include "ipw/client.h"
#include "ipw/profile.h"
#include "ipw/records.h"
#include "llm_server.h"
#include "rapl_clock.h"

#define MODEL "e2e"
/* TTFT 150 ms, then 12 tokens 25 ms apart: ~0.45 s per query, with the GPU power toggling
 * every 130 ms so that every phase boundary lands somewhere on a slope of the counter. */
#define SCRIPT MODEL "=ttft=150ms,itl=25ms,tokens=12,prompt_tokens=9"
#define CPU_W IPW_TEST_RAPL_CLOCK_CPU_W
#define DRAM_W IPW_TEST_RAPL_CLOCK_DRAM_W

static struct fake_config g_nvml;

static char *write_dataset(const char *dir, int n)
{
    char *text = calloc(1, 8192);
    for (int i = 0; i < n; i++) {
        char line[256];
        snprintf(line, sizeof line, "{\"q\": \"question number %d?\", \"a\": \"%d\"}\n", i, i);
        strcat(text, line);
    }
    ipw_test_write(dir, "prompts.jsonl", text);
    free(text);
    char *path = malloc(4096);
    snprintf(path, 4096, "%s/prompts.jsonl", dir);
    return path;
}

struct run {
    char *dir;
    struct ipw_test_llm_server server;
    struct ipw_test_rapl_clock rapl;
    json_t *records;
};

static int start(void **state)
{
    struct run *r = calloc(1, sizeof *r);
    *state = r;
    r->dir = ipw_test_mkdtemp("ipw-profile-e2e");
    const char *args[] = {"--model", SCRIPT, NULL};
    assert_int_equal(ipw_test_llm_server_start(&r->server, args), 0);
    /* GPU power: a 100/300 W square wave of 130 ms half-periods on GPU 0, 60/250 W on GPU 1 */
    char w0[512] = "", w1[512] = "";
    for (int k = 0; k < 31; k++) {
        char seg[32];
        snprintf(seg, sizeof seg, "%s%d:0.13", k ? "," : "", k % 2 ? 300 : 100);
        strcat(w0, seg);
        snprintf(seg, sizeof seg, "%s%d:0.13", k ? "," : "", k % 2 ? 60 : 250);
        strcat(w1, seg);
    }
    strcat(w0, ",180");
    strcat(w1, ",120");
    int64_t epoch = ipw_mono_ns();
    gpu_script("IPW_FAKE_NVML_CONFIG", 'n', &g_nvml,
               "devices = 2\nepoch_ns = %lld\ndev0.power = %s\ndev1.power = %s\n",
               (long long)epoch, w0, w1);
    setenv("IPW_NVML_LIBRARY", gpu_fake_lib("nvml/libnvidia-ml.so.1"), 1);
    ipw_test_rapl_clock_start(&r->rapl);
    return 0;
}

static void profile(struct run *r, int n, int concurrency)
{
    char *ds = write_dataset(r->dir, n);
    json_t *dp = json_pack("{s:s, s:s}", "prompt_field", "q", "answer_field", "a");
    struct ipw_profile_config cfg;
    ipw_profile_config_init(&cfg);
    cfg.client_id = "ollama";
    cfg.model = MODEL;
    cfg.client_base_url = r->server.url;
    cfg.dataset_id = "jsonl";
    cfg.dataset_path = ds;
    cfg.dataset_params = dp;
    cfg.output_dir = r->dir;
    cfg.concurrency = concurrency;
    cfg.collector = "nvidia";
    cfg.baseline_ns = 300 * IPW_NS_PER_MS;
    cfg.no_eval = true;
    struct ipw_profile_outcome out;
    ipw_errbuf eb = {0};
    ipw_err rc = ipw_profile_run(&cfg, &out, &eb);
    if (rc != IPW_OK)
        fail_msg("profile failed: %s", eb.msg);
    assert_int_equal(out.queries_done, (size_t)n);
    assert_int_equal(out.queries_failed, 0);
    char path[4300];
    snprintf(path, sizeof path, "%s/records.jsonl", out.run_dir);
    assert_int_equal(ipw_records_load(path, &r->records, NULL, &eb), IPW_OK);
    assert_int_equal(json_array_size(r->records), (size_t)n);
    json_decref(dp);
    free(ds);
}

static int stop(void **state)
{
    struct run *r = *state;
    ipw_test_llm_server_stop(&r->server);
    json_decref(r->records);
    ipw_test_rapl_clock_stop(&r->rapl);
    ipw_test_rmtree(r->dir);
    free(r->dir);
    gpu_script_cleanup();
    free(r);
    return 0;
}

static double metric(const json_t *rec, const char *group, const char *key)
{
    const json_t *g = json_object_get(
        json_object_get(json_object_get(rec, "model_metrics"), MODEL), group);
    const json_t *v = json_object_get(g, key);
    if (!json_is_number(v))
        fail_msg("%s.%s is not a number", group, key);
    return json_number_value(v);
}

static int64_t window(const json_t *rec, const char *key)
{
    return json_integer_value(json_object_get(json_object_get(rec, "telemetry_window"), key));
}

static void check_close(const char *what, size_t i, double got, double truth, double rel,
                        double abs_tol)
{
    double err = got - truth;
    if (err < 0)
        err = -err;
    print_message("record %zu %-14s %10.4f J  truth %10.4f J  error %.3f %%\n", i, what, got,
                  truth, truth ? 100 * err / truth : 0);
    if (err > rel * truth + abs_tol)
        fail_msg("record %zu %s: %.6f J recorded, %.6f J true (error %.3f %%)", i, what, got,
                 truth, 100 * err / truth);
}

static void test_energy_matches_truth_alone(void **state)
{
    struct run *r = *state;
    profile(r, 4, 1);
    size_t i;
    json_t *rec;
    json_array_foreach(r->records, i, rec)
    {
        int64_t t0 = window(rec, "start_ns"), t1 = window(rec, "first_token_ns"),
                t2 = window(rec, "end_ns");
        assert_true(t0 > 0 && t1 > t0 && t2 > t1);
        double total = gpu_truth_energy(&g_nvml, 2, t0, t2);
        check_close("per_query", i, metric(rec, "energy_metrics", "per_query_joules"), total,
                    0.01, 0);
        check_close("prefill", i, metric(rec, "energy_metrics", "prefill_joules"),
                    gpu_truth_energy(&g_nvml, 2, t0, t1), 0.01, 0);
        check_close("decode", i, metric(rec, "energy_metrics", "decode_joules"),
                    gpu_truth_energy(&g_nvml, 2, t1, t2), 0.01, 0);
        if (metric(rec, "energy_metrics", "prefill_joules") +
                metric(rec, "energy_metrics", "decode_joules") !=
            metric(rec, "energy_metrics", "per_query_joules"))
            fail_msg("record %zu: prefill + decode != per_query_joules", i);
        /* the companion's counters: written every 0.5 ms, so 1 ms of slack at each end */
        double secs = (double)(t2 - t0) / 1e9;
        check_close("cpu", i, metric(rec, "energy_metrics", "cpu_joules"), CPU_W * secs, 0.01,
                    2e-3 * CPU_W);
        check_close("dram", i, metric(rec, "energy_metrics", "dram_joules"), DRAM_W * secs, 0.01,
                    2e-3 * DRAM_W);
        double ttft = metric(rec, "latency_metrics", "time_to_first_token_seconds");
        assert_true(ttft >= 0.15 && ttft < 0.5);
        assert_int_equal((int)metric(rec, "token_metrics", "output"), 12);
        assert_string_equal(json_string_value(json_object_get(
                                json_object_get(json_object_get(json_object_get(rec,
                                                                                "model_metrics"),
                                                                MODEL),
                                                "energy_metrics"),
                                "energy_source")),
                            "counter");
    }
}

static void test_concurrent_shares_add_up(void **state)
{
    struct run *r = *state;
    profile(r, 6, 3);
    /* the union of the query windows, and the device energy over it */
    int64_t iv[6][2];
    size_t n = json_array_size(r->records);
    double shares = 0;
    int overlapped_at_start = 0;
    for (size_t i = 0; i < n; i++) {
        const json_t *rec = json_array_get(r->records, i);
        iv[i][0] = window(rec, "start_ns");
        iv[i][1] = window(rec, "end_ns");
        shares += metric(rec, "energy_metrics", "per_query_joules");
        /* the phases are cut from the same shares: they add up exactly, not approximately */
        double pq = metric(rec, "energy_metrics", "per_query_joules");
        if (metric(rec, "energy_metrics", "prefill_joules") +
                metric(rec, "energy_metrics", "decode_joules") != pq)
            fail_msg("record %zu: prefill + decode != per_query_joules", i);
        if (json_integer_value(json_object_get(rec, "concurrency")) > 1)
            overlapped_at_start = 1;
    }
    assert_true(overlapped_at_start);
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++)
            if (iv[j][0] < iv[i][0]) {
                int64_t a = iv[i][0], b = iv[i][1];
                iv[i][0] = iv[j][0], iv[i][1] = iv[j][1];
                iv[j][0] = a, iv[j][1] = b;
            }
    double device = 0;
    int64_t cur0 = iv[0][0], cur1 = iv[0][1];
    int overlapped = 0;
    for (size_t i = 1; i <= n; i++) {
        if (i < n && iv[i][0] <= cur1) {
            overlapped = 1;
            if (iv[i][1] > cur1)
                cur1 = iv[i][1];
            continue;
        }
        device += gpu_truth_energy(&g_nvml, 2, cur0, cur1);
        if (i < n) {
            cur0 = iv[i][0];
            cur1 = iv[i][1];
        }
    }
    assert_true(overlapped);
    check_close("sum of shares", 0, shares, device, 0.01, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_energy_matches_truth_alone, start, stop),
        cmocka_unit_test_setup_teardown(test_concurrent_shares_add_up, start, stop),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
