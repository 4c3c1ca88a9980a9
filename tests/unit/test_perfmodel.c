/* The spec files and the roofline/power model: every bundled spec loads; names and served
 * model names resolve; step times, FLOPs and power match values computed by hand for
 * llama-3.1-8b on H100 and llama-3.2-1b on RTX 4090; batching and tensor parallelism follow
 * the documented formulas; bad spec files fail naming file and field; token estimates and
 * output lengths are deterministic. */
#include "ipw_test.h"

#include <stdlib.h>
#include <string.h>

#include "ipw/perfmodel.h"
#include "ipw/sim.h"

static double rel(double a, double b) { return ipw_test_rel_err(a, b); }

static void load_pair(const char *hw_name, const char *model_name, struct ipw_perf *pm)
{
    struct ipw_hw_spec hw;
    struct ipw_model_spec m;
    ipw_errbuf eb = {0};
    if (ipw_hw_spec_load(hw_name, &hw, &eb) != IPW_OK)
        fail_msg("%s", eb.msg);
    if (ipw_model_spec_load(model_name, &m, &eb) != IPW_OK)
        fail_msg("%s", eb.msg);
    if (ipw_perf_init(pm, &hw, &m, NULL, &eb) != IPW_OK)
        fail_msg("%s", eb.msg);
}

static bool in_array(json_t *a, const char *name)
{
    size_t i;
    json_t *v;
    json_array_foreach(a, i, v) if (strcmp(json_string_value(v), name) == 0) return true;
    return false;
}

static void test_bundled_specs(void **state)
{
    (void)state;
    json_t *hw = ipw_hw_spec_names(), *models = ipw_model_spec_names();
    const char *want_hw[] = {"H100",   "A100",   "RTX4090",    "M3-Max",      "L40S",
                             "H200",   "MI300X", "RTXPRO6000", "B200", "CPU-EPYC9654"};
    const char *want_m[] = {"llama-3.1-8b", "llama-3.2-1b", "llama-3.2-3b", "qwen2.5-7b",
                            "llama-3.1-70b"};
    for (size_t i = 0; i < sizeof want_hw / sizeof *want_hw; i++)
        if (!in_array(hw, want_hw[i]))
            fail_msg("hardware %s is not bundled", want_hw[i]);
    for (size_t i = 0; i < sizeof want_m / sizeof *want_m; i++)
        if (!in_array(models, want_m[i]))
            fail_msg("model %s is not bundled", want_m[i]);
    /* each listed name loads, and every model's params agree with its shape to 0.01 % */
    size_t i;
    json_t *v;
    json_array_foreach(hw, i, v)
    {
        struct ipw_hw_spec s;
        ipw_errbuf eb = {0};
        assert_int_equal(ipw_hw_spec_load(json_string_value(v), &s, &eb), IPW_OK);
        assert_true(s.peak_flops_bf16 > 1e12 && s.mem_bw > 1e11 && s.active_w > s.idle_w);
        /* the discrete GPUs carry their SM / CU count (the mixed-batch wave term); the M3
         * Max and the CPU do not (documented fallback: no wave term) */
        assert_true(!strcmp(s.device_type, "discrete") == (s.multiprocessors > 0));
    }
    json_array_foreach(models, i, v)
    {
        struct ipw_model_spec s;
        ipw_errbuf eb = {0};
        assert_int_equal(ipw_model_spec_load(json_string_value(v), &s, &eb), IPW_OK);
        assert_true(rel(ipw_model_spec_arch_params(&s), s.params) < 1e-4);
    }
    assert_int_equal(json_array_size(hw), 10);
    json_decref(hw);
    json_decref(models);
}

static void test_name_lookup(void **state)
{
    (void)state;
    struct {
        const char *arg, *want;
    } hw[] = {{"h100", "H100"},
              {"H100-SXM", "H100"},
              {"NVIDIA H100 80GB HBM3", "H100"},
              {"NVIDIA GeForce RTX 4090", "RTX4090"},
              {"m3 max", "M3-Max"},
              {"mi300x", "MI300X"}};
    for (size_t i = 0; i < sizeof hw / sizeof *hw; i++) {
        struct ipw_hw_spec s;
        ipw_errbuf eb = {0};
        if (ipw_hw_spec_load(hw[i].arg, &s, &eb) != IPW_OK)
            fail_msg("%s: %s", hw[i].arg, eb.msg);
        assert_string_equal(s.name, hw[i].want);
        assert_non_null(strstr(s.origin, "embedded:hardware/"));
    }
    struct {
        const char *served, *want;
    } m[] = {{"llama3.1:8b", "llama-3.1-8b"},
             {"llama3.1", "llama-3.1-8b"},
             {"meta-llama/Llama-3.1-8B-Instruct", "llama-3.1-8b"},
             {"meta-llama/Meta-Llama-3.1-8B-Instruct", "llama-3.1-8b"},
             {"llama3.2:1b", "llama-3.2-1b"},
             {"llama3.2", "llama-3.2-3b"},
             {"Llama-3.2-3B-Instruct", "llama-3.2-3b"},
             {"qwen2.5:7b-instruct-q4_K_M", "qwen2.5-7b"},
             {"Qwen/Qwen2.5-7B-Instruct", "qwen2.5-7b"},
             {"qwen2.5:1.5b", "qwen2.5-1.5b"}};
    for (size_t i = 0; i < sizeof m / sizeof *m; i++) {
        struct ipw_model_spec s;
        if (!ipw_model_spec_match(m[i].served, &s))
            fail_msg("%s matched nothing", m[i].served);
        assert_string_equal(s.name, m[i].want);
        assert_true(ipw_model_spec_matches(&s, m[i].served));
    }
    struct ipw_model_spec s;
    assert_false(ipw_model_spec_match("gpt-4o", &s));
    assert_false(ipw_model_spec_match("llama3.1:405b", &s));
    assert_false(ipw_model_spec_match("", &s));

    ipw_errbuf eb = {0};
    struct ipw_hw_spec h;
    assert_int_equal(ipw_hw_spec_load("H1000", &h, &eb), IPW_E_NOTFOUND);
    assert_non_null(strstr(eb.msg, "H1000"));
    assert_non_null(strstr(eb.msg, "RTX4090")); /* the message lists what exists */
    assert_int_equal(ipw_model_spec_load("gpt-4o", &s, &eb), IPW_E_NOTFOUND);
    assert_non_null(strstr(eb.msg, "llama-3.1-8b"));
}

/* llama-3.1-8b on H100, by hand:
 *   untied embedding 128256 × 4096 = 525,336,576 → active params 8,030,261,248 − that
 *   = 7,504,924,672; weights read per step 2 B × that = 15,009,849,344 B;
 *   KV per token 2 × 32 layers × 8 kv heads × 128 × 2 B = 131,072 B;
 *   attention FLOPs per (query, key) 4 × 32 × 32 heads × 128 = 524,288;
 *   FLOP rate 989.4e12 × 0.6 = 593.64e12 /s; byte rate 3350e9 × 0.8 = 2.68e12 B/s. */
static void test_roofline_h100_llama_8b(void **state)
{
    (void)state;
    struct ipw_perf pm;
    load_pair("H100", "llama-3.1-8b", &pm);
    assert_double_equal(pm.active_params, 7504924672.0, 0);
    assert_double_equal(pm.step_weight_bytes, 15009849344.0, 0);
    assert_double_equal(pm.weight_bytes, 16060522496.0, 0);
    assert_double_equal(pm.kv_bytes_per_token, 131072.0, 0);
    assert_double_equal(pm.attn_flops_coeff, 524288.0, 0);

    /* prefill of 1000 tokens: 2 × 7,504,924,672 × 1000 = 15,009,849,344,000 FLOPs in the
     * matmuls + 524,288 × (1000 × 1001 / 2) = 262,406,144,000 in attention
     * = 15,272,255,488,000 → 15.272e12 / 593.64e12 = 25.7265 ms (compute-bound: the
     * weights alone take 15.01e9 / 2.68e12 = 5.6007 ms) */
    struct ipw_perf_step st;
    ipw_perf_prefill(&pm, 1000, &st);
    assert_double_equal(st.flops, 15272255488000.0, 1);
    assert_true(rel(st.compute_s, 0.025726459618624) < 1e-12);
    assert_true(rel(st.memory_s, 0.005600690053731) < 1e-12);
    assert_true(rel(st.time_s, 0.025726459618624) < 1e-12);
    assert_true(st.compute_bound);
    assert_double_equal(st.util, 0.9, 1e-15); /* compute-bound: power_util_compute_bound */
    assert_true(rel(ipw_hw_power_w(&pm.hw, st.util), 637.0) < 1e-12); /* 70 + 630 × 0.9 */

    /* decode at context 1000: (15,009,849,344 + 1000 × 131,072) B / 2.68e12 = 5.64960 ms;
     * compute (2 × 7,504,924,672 + 524,288 × 1001) / 593.64e12 = 26.17 µs → bandwidth-bound */
    ipw_perf_decode_step(&pm, 1000, &st);
    assert_double_equal(st.bytes, 15140921344.0, 0);
    assert_true(rel(st.time_s, 0.005649597516418) < 1e-12);
    assert_true(rel(st.compute_s, 2.61684887002e-05) < 1e-10);
    assert_false(st.compute_bound);
    assert_double_equal(st.util, 0.4, 1e-15);
    assert_true(rel(ipw_hw_power_w(&pm.hw, st.util), 322.0) < 1e-12); /* 70 + 630 × 0.4 */
    /* achieved bandwidth share = efficiency when bandwidth-bound */
    assert_double_equal(st.frac_memory, 0.8, 1e-12);
}

/* llama-3.2-1b on RTX 4090, by hand: tied embeddings → active = all 1,235,814,400 params;
 * weights 2,471,628,800 B; KV/token 2 × 16 × 8 × 64 × 2 = 32,768 B; attention coefficient
 * 4 × 16 × 32 × 64 = 131,072; FLOP rate 165.2e12 × 0.6 = 99.12e12; bytes 1008e9 × 0.8 =
 * 806.4e9 B/s. */
static void test_roofline_rtx4090_llama_1b(void **state)
{
    (void)state;
    struct ipw_perf pm;
    load_pair("RTX4090", "llama-3.2-1b", &pm);
    assert_double_equal(pm.active_params, 1235814400.0, 0);
    assert_double_equal(pm.kv_bytes_per_token, 32768.0, 0);
    /* prefill 200: 2 × 1,235,814,400 × 200 + 131,072 × 20,100 = 496,960,307,200 FLOPs
     * → 5.01372 ms; weights 2,471,628,800 / 806.4e9 = 3.06502 ms → compute-bound */
    struct ipw_perf_step st;
    ipw_perf_prefill(&pm, 200, &st);
    assert_double_equal(st.flops, 496960307200.0, 1);
    assert_true(rel(st.time_s, 0.005013723841808) < 1e-12);
    assert_true(rel(st.memory_s, 0.003065015873016) < 1e-12);
    assert_double_equal(st.util, 0.9, 1e-15);
    /* a 20-token prefill is bandwidth-bound: the weight read sets the time */
    ipw_perf_prefill(&pm, 20, &st);
    assert_false(st.compute_bound);
    assert_true(rel(st.time_s, 0.003065015873016) < 1e-12);
    /* util = max(0.9 × compute/memory, 0.45) */
    double expect = 0.9 * st.compute_s / st.memory_s;
    assert_double_equal(st.util, expect > 0.45 ? expect : 0.45, 1e-15);
    /* decode at context 500: (2,471,628,800 + 500 × 32,768) / 806.4e9 = 3.08533 ms */
    ipw_perf_decode_step(&pm, 500, &st);
    assert_true(rel(st.time_s, 0.003085333333333) < 1e-12);
    assert_double_equal(st.util, 0.45, 1e-15);
    assert_true(rel(ipw_hw_power_w(&pm.hw, st.util), 20 + 430 * 0.45) < 1e-12);
}

static void test_request_sums_steps(void **state)
{
    (void)state;
    struct ipw_perf pm;
    load_pair("H100", "llama-3.1-8b", &pm);
    struct ipw_perf_request rq;
    ipw_perf_request(&pm, 10, 4, &rq);
    struct ipw_perf_step p, d[3];
    ipw_perf_prefill(&pm, 10, &p);
    for (int j = 0; j < 3; j++)
        ipw_perf_decode_step(&pm, 10 + j, &d[j]); /* token 1 comes from the prefill */
    double dec = d[0].time_s + d[1].time_s + d[2].time_s;
    assert_double_equal(rq.prefill_s, p.time_s, 0);
    assert_true(rel(rq.decode_s, dec) < 1e-15);
    assert_true(rel(rq.total_s, p.time_s + dec) < 1e-15);
    double flops = p.flops + d[0].flops + d[1].flops + d[2].flops;
    assert_true(rel(rq.flops, flops) < 1e-15);
    assert_true(rel(rq.macs, flops / 2) < 1e-15);
    /* FLOPs by hand: 2 × 7,504,924,672 × (10 + 3) + 524,288 × (55 + 11 + 12 + 13) */
    assert_double_equal(rq.flops, 2.0 * 7504924672.0 * 13 + 524288.0 * (55 + 11 + 12 + 13), 1);
    assert_true(rel(rq.prefill_j, ipw_hw_power_w(&pm.hw, p.util) * p.time_s) < 1e-12);
    double dj = 0;
    for (int j = 0; j < 3; j++)
        dj += ipw_hw_power_w(&pm.hw, d[j].util) * d[j].time_s;
    assert_true(rel(rq.decode_j, dj) < 1e-12);
    /* one output token: no decode step at all */
    ipw_perf_request(&pm, 10, 1, &rq);
    assert_double_equal(rq.decode_s, 0, 0);
    assert_double_equal(rq.decode_j, 0, 0);
}

static void test_batch_step(void **state)
{
    (void)state;
    struct ipw_perf pm;
    load_pair("H100", "llama-3.1-8b", &pm);
    /* a chunked-prefill step: 512 prompt tokens of a sequence with 256 already cached, plus
     * three decodes at contexts 100, 200, 300 */
    struct ipw_perf_seq b[] = {{512, 256}, {1, 100}, {1, 200}, {1, 300}};
    struct ipw_perf_step st;
    ipw_perf_step(&pm, b, 4, &st);
    double a = 7504924672.0, c = 524288.0;
    double flops = 2 * a * 515 + c * (512.0 * 256 + 512.0 * 513 / 2) + c * (101 + 201 + 301);
    double bytes = 15009849344.0 + 131072.0 * (256 + 100 + 200 + 300);
    assert_true(rel(st.flops, flops) < 1e-15);
    assert_double_equal(st.bytes, bytes, 0);
    assert_true(rel(st.compute_s, flops / 593.64e12) < 1e-12);
    assert_true(rel(st.memory_s, bytes / 2.68e12) < 1e-12);
    assert_true(rel(st.time_s, st.compute_s > st.memory_s ? st.compute_s : st.memory_s) < 1e-15);
    /* an empty batch costs nothing */
    ipw_perf_step(&pm, NULL, 0, &st);
    assert_double_equal(st.time_s, 0, 0);
    assert_double_equal(st.util, 0, 0);
}

static void test_tensor_parallel(void **state)
{
    (void)state;
    struct ipw_hw_spec hw;
    struct ipw_model_spec m;
    ipw_errbuf eb = {0};
    assert_int_equal(ipw_hw_spec_load("H100", &hw, &eb), IPW_OK);
    assert_int_equal(ipw_model_spec_load("llama-3.1-70b", &m, &eb), IPW_OK);
    struct ipw_perf one, four;
    assert_int_equal(ipw_perf_init(&one, &hw, &m, NULL, &eb), IPW_OK);
    struct ipw_perf_options o = {.tp = 4};
    assert_int_equal(ipw_perf_init(&four, &hw, &m, &o, &eb), IPW_OK);
    /* 141 GB of weights fit four H100s, not one */
    assert_int_equal(ipw_perf_check_fit(&one, 0, &eb), IPW_E_RANGE);
    assert_non_null(strstr(eb.msg, "llama-3.1-70b"));
    assert_int_equal(ipw_perf_check_fit(&four, 8192, &eb), IPW_OK);
    struct ipw_perf_step s1, s4;
    ipw_perf_decode_step(&one, 100, &s1);
    ipw_perf_decode_step(&four, 100, &s4);
    assert_true(rel(s4.memory_s, s1.memory_s / 4) < 1e-12);
    assert_true(rel(s4.compute_s, s1.compute_s / 4) < 1e-12);
    /* two ring all-reduces per layer of 1 token × 8192 × 2 B = 16,384 B: each device sends
     * 2 × 3/4 × 16,384 = 24,576 B per all-reduce; 160 of them over 450e9 B/s */
    assert_double_equal(s4.comm_bytes, 160 * 24576.0, 0);
    assert_true(rel(s4.comm_s, 160 * 24576.0 / 450e9) < 1e-12);
    assert_true(rel(s4.time_s, s4.memory_s + s4.comm_s) < 1e-12);
    o.tp = 3; /* 64 heads do not split three ways */
    assert_int_equal(ipw_perf_init(&four, &hw, &m, &o, &eb), IPW_E_INVALID);
    assert_non_null(strstr(eb.msg, "64"));
    assert_int_equal(ipw_hw_spec_load("M3-Max", &hw, &eb), IPW_OK);
    o.tp = 2; /* no interconnect on a laptop */
    assert_int_equal(ipw_perf_init(&four, &hw, &m, &o, &eb), IPW_E_INVALID);
    assert_non_null(strstr(eb.msg, "interconnect"));
}

static void test_dtypes(void **state)
{
    (void)state;
    struct ipw_hw_spec hw;
    struct ipw_model_spec m;
    ipw_errbuf eb = {0};
    assert_int_equal(ipw_hw_spec_load("H100", &hw, &eb), IPW_OK);
    assert_int_equal(ipw_model_spec_load("llama-3.1-8b", &m, &eb), IPW_OK);
    struct ipw_perf q;
    struct ipw_perf_options o = {.weight_dtype = "int4"};
    assert_int_equal(ipw_perf_init(&q, &hw, &m, &o, &eb), IPW_OK);
    assert_double_equal(q.step_weight_bytes, 7504924672.0 * 0.5, 0);
    assert_double_equal(q.kv_bytes_per_token, 131072.0, 0); /* the KV cache stays 16-bit */
    assert_double_equal(q.peak_flops, 989.4e12, 1);
    o.weight_dtype = "fp8"; /* FP8 weights use the FP8 tensor peak */
    assert_int_equal(ipw_perf_init(&q, &hw, &m, &o, &eb), IPW_OK);
    assert_double_equal(q.peak_flops, 1978.9e12, 1);
    o.kv_dtype = "fp8";
    assert_int_equal(ipw_perf_init(&q, &hw, &m, &o, &eb), IPW_OK);
    assert_double_equal(q.kv_bytes_per_token, 65536.0, 0);
    o.weight_dtype = "float64";
    assert_int_equal(ipw_perf_init(&q, &hw, &m, &o, &eb), IPW_E_INVALID);
    assert_non_null(strstr(eb.msg, "float64"));
    o.weight_dtype = NULL;
    o.kv_dtype = "int4";
    assert_int_equal(ipw_perf_init(&q, &hw, &m, &o, &eb), IPW_E_INVALID);
    double b;
    assert_true(ipw_dtype_bytes("Q4_K_M", &b) && b > 0.6 && b < 0.61);
    assert_false(ipw_dtype_bytes(NULL, &b));
}

/* ---- bad spec files -------------------------------------------------------------------- */

static const char *good_hw =
    "{\"schema\":\"ipw.hardware/1\",\"name\":\"X1\",\"peak_dense_tflops_bf16\":100,"
    "\"memory_bandwidth_gb_s\":1000,\"memory_gib\":16,\"idle_power_w\":10,\"active_power_w\":"
    "100}";

static void expect_hw_error(const char *text, const char *field)
{
    struct ipw_hw_spec hw;
    ipw_errbuf eb = {0};
    if (ipw_hw_spec_parse(text, strlen(text), "my-hw.json", &hw, &eb) != IPW_E_INVALID)
        fail_msg("accepted: %s", text);
    if (!strstr(eb.msg, "my-hw.json") || !strstr(eb.msg, field))
        fail_msg("message '%s' should name my-hw.json and %s", eb.msg, field);
}

static char *with(const char *base, const char *extra)
{
    /* base with its closing brace replaced by ",extra}" */
    size_t n = strlen(base);
    char *s = malloc(n + strlen(extra) + 3);
    memcpy(s, base, n - 1);
    sprintf(s + n - 1, ",%s}", extra);
    return s;
}

static void test_hw_spec_errors(void **state)
{
    (void)state;
    struct ipw_hw_spec hw;
    ipw_errbuf eb = {0};
    assert_int_equal(ipw_hw_spec_parse(good_hw, strlen(good_hw), "ok.json", &hw, &eb), IPW_OK);
    assert_string_equal(hw.display_name, "X1");
    assert_double_equal(hw.eff_compute, 0.6, 0); /* documented defaults */
    assert_double_equal(hw.util_bw, 0.4, 0);
    assert_double_equal(hw.cpu_idle_w, 60, 0);
    assert_int_equal(hw.multiprocessors, 0); /* not given: no per-wave cost */
    assert_double_equal(hw.layer_sharpness, 2, 0);

    expect_hw_error("{\"name\": \"X\", ", "line");
    expect_hw_error("[1,2]", "object");
    expect_hw_error("{\"name\":\"X\",\"peak_dense_tflops_bf16\":100}", "memory_bandwidth_gb_s");
    char *s;
    s = with(good_hw, "\"peak_flops\":3");
    expect_hw_error(s, "peak_flops"); /* a typo is named */
    free(s);
    s = with(good_hw, "\"compute_efficiency\":1.5");
    expect_hw_error(s, "compute_efficiency");
    free(s);
    s = with(good_hw, "\"device_type\":\"tpu\"");
    expect_hw_error(s, "device_type");
    free(s);
    s = with(good_hw, "\"host_cpu\":{\"idle_power_w\":5}");
    expect_hw_error(s, "active_power_w");
    free(s);
    s = with(good_hw, "\"host_cpu\":{\"idle_power_w\":5,\"active_power_w\":50,\"busy\":1}");
    expect_hw_error(s, "busy");
    free(s);
    s = with(good_hw, "\"aliases\":[1]");
    expect_hw_error(s, "aliases");
    free(s);
    s = with(good_hw, "\"multiprocessors\":132.5");
    expect_hw_error(s, "multiprocessors");
    free(s);
    s = with(good_hw, "\"multiprocessors\":0");
    expect_hw_error(s, "multiprocessors");
    free(s);
    s = with(good_hw, "\"layer_roofline\":{\"compute_efficiency\":0.9,\"bandwidth_efficiency\":"
                      "0.9,\"attention_efficiency\":0.5,\"kernel_overhead_us\":2,\"sharpness\":0.5}");
    expect_hw_error(s, "sharpness");
    free(s);
    s = with(good_hw, "\"multiprocessors\":132,\"layer_roofline\":{\"compute_efficiency\":0.9,"
                      "\"bandwidth_efficiency\":0.9,\"attention_efficiency\":0.5,"
                      "\"kernel_overhead_us\":2,\"sharpness\":3}");
    assert_int_equal(ipw_hw_spec_parse(s, strlen(s), "ok.json", &hw, &eb), IPW_OK);
    assert_int_equal(hw.multiprocessors, 132);
    assert_double_equal(hw.layer_sharpness, 3, 0);
    free(s);
    s = with(good_hw, "\"x_rack\":\"b7\"");
    assert_int_equal(ipw_hw_spec_parse(s, strlen(s), "ok.json", &hw, &eb), IPW_OK);
    free(s);
    expect_hw_error("{\"schema\":\"ipw.hardware/9\",\"name\":\"X\"}", "schema");
    expect_hw_error("{\"name\":\"X\",\"peak_dense_tflops_bf16\":100,\"memory_bandwidth_gb_s\":"
                    "1000,\"memory_gib\":16,\"idle_power_w\":100,\"active_power_w\":50}",
                    "active_power_w");
    expect_hw_error("{\"name\":\"X\",\"peak_dense_tflops_bf16\":\"fast\"}",
                    "peak_dense_tflops_bf16");
}

static const char *good_model =
    "{\"name\":\"tiny\",\"params\":%s,\"num_layers\":2,\"hidden_size\":64,"
    "\"num_attention_heads\":4,\"num_kv_heads\":%s,\"intermediate_size\":128,"
    "\"vocab_size\":1000,\"max_context\":512%s}";

static void model_text(char *buf, size_t n, const char *params, const char *kv, const char *extra)
{
    snprintf(buf, n, good_model, params, kv, extra);
}

static void test_model_spec_errors(void **state)
{
    (void)state;
    /* tiny: embed 1000 × 64 × 2 = 128,000; per layer attn 4 × 64 × 64 = 16,384 (kv 4 heads),
     * MLP 3 × 64 × 128 = 24,576, norms 128 → 41,088 × 2 = 82,176; final norm 64 → 210,240 */
    char buf[1024];
    struct ipw_model_spec m;
    ipw_errbuf eb = {0};
    model_text(buf, sizeof buf, "210240", "4", "");
    assert_int_equal(ipw_model_spec_parse(buf, strlen(buf), "tiny.json", &m, &eb), IPW_OK);
    assert_int_equal(m.head_dim, 16);
    assert_double_equal(m.dtype_bytes, 2, 0);

    struct {
        const char *params, *kv, *extra, *field;
    } bad[] = {
        {"300000", "4", "", "params"},                  /* disagrees with the shape */
        {"210240", "3", "", "num_kv_heads"},            /* 3 does not divide 4 */
        {"210240", "4", ",\"dtype\":\"float64\"", "dtype"},
        {"210240", "4", ",\"mlp\":\"moe\"", "mlp"},
        {"210240", "4", ",\"num_experts\":8", "num_experts"},
        {"210240", "4.5", "", "num_kv_heads"},
        {"210240", "4", ",\"tie_word_embeddings\":\"yes\"", "tie_word_embeddings"},
        {"-5", "4", "", "params"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        model_text(buf, sizeof buf, bad[i].params, bad[i].kv, bad[i].extra);
        if (ipw_model_spec_parse(buf, strlen(buf), "tiny.json", &m, &eb) != IPW_E_INVALID)
            fail_msg("accepted %s", buf);
        if (!strstr(eb.msg, "tiny.json") || !strstr(eb.msg, bad[i].field))
            fail_msg("message '%s' should name tiny.json and %s", eb.msg, bad[i].field);
    }
}

static void test_user_spec_files(void **state)
{
    (void)state;
    char *dir = ipw_test_mkdtemp("ipw-spec");
    char buf[1024];
    model_text(buf, sizeof buf, "210240", "4", ",\"aliases\":[\"tiny-chat\"]");
    ipw_test_write(dir, "tiny.json", buf);
    ipw_test_write(dir, "hw.json", good_hw);
    ipw_test_write(dir, "broken.json", "{\"name\": ");
    char path[512];
    struct ipw_model_spec m;
    struct ipw_hw_spec hw;
    ipw_errbuf eb = {0};
    snprintf(path, sizeof path, "%s/tiny.json", dir);
    assert_int_equal(ipw_model_spec_load(path, &m, &eb), IPW_OK);
    assert_string_equal(m.name, "tiny");
    assert_string_equal(m.origin, path);
    snprintf(path, sizeof path, "%s/hw.json", dir);
    assert_int_equal(ipw_hw_spec_load(path, &hw, &eb), IPW_OK);
    assert_string_equal(hw.name, "X1");
    snprintf(path, sizeof path, "%s/broken.json", dir);
    assert_int_equal(ipw_hw_spec_load(path, &hw, &eb), IPW_E_INVALID);
    assert_non_null(strstr(eb.msg, "broken.json"));
    snprintf(path, sizeof path, "%s/missing.json", dir);
    assert_int_not_equal(ipw_model_spec_load(path, &m, &eb), IPW_OK);
    assert_non_null(strstr(eb.msg, "missing.json"));
    ipw_test_rmtree(dir);
    free(dir);
}

/* ---- tokens ---------------------------------------------------------------------------- */

static void test_token_estimate(void **state)
{
    (void)state;
    struct {
        const char *text;
        long want;
    } t[] = {
        {"", 0},
        {"Hello world", 2},
        {"The answer is 42.", 5},
        {"1234567", 3},               /* digits in groups of three */
        {"internationalization", 3},  /* 20 letters: 1 + 19 / 7 */
        {"a\n\n\nb", 3},              /* a newline run is one token */
        {"wait... what?!", 6},        /* "..." merges to 2, "?" and "!" are one each */
        {"\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e", 3}, /* 日本語: one per character */
        {"caf\xc3\xa9 na\xc3\xafve", 2},             /* accented letters stay in words */
        {"\xff\xfe", 2},                             /* stray bytes do not crash */
        {"\xe6\x97", 2},                             /* nor a truncated sequence */
    };
    for (size_t i = 0; i < sizeof t / sizeof *t; i++)
        if (ipw_sim_estimate_tokens(t[i].text) != t[i].want)
            fail_msg("'%s': %ld tokens, expected %ld", t[i].text,
                     ipw_sim_estimate_tokens(t[i].text), t[i].want);
    assert_int_equal(ipw_sim_estimate_tokens(NULL), 0);
    /* template: BOS 1 + assistant header 4 + 5 per message */
    assert_int_equal(ipw_sim_estimate_chat_tokens(NULL, "Hello world"), 1 + 4 + 5 + 2);
    assert_int_equal(ipw_sim_estimate_chat_tokens("Be brief", "Hello world"), 1 + 4 + 10 + 4);
}

static void test_output_tokens(void **state)
{
    (void)state;
    long lo = 16, hi = 1024, mn = hi, mx = 0, below_128 = 0;
    char prompt[64];
    for (int i = 0; i < 2000; i++) {
        snprintf(prompt, sizeof prompt, "question number %d", i);
        long n = ipw_sim_output_tokens(NULL, prompt, 0, lo, hi);
        assert_int_equal(n, ipw_sim_output_tokens(NULL, prompt, 0, lo, hi)); /* deterministic */
        assert_true(n >= lo && n <= hi);
        mn = n < mn ? n : mn;
        mx = n > mx ? n : mx;
        below_128 += n < 128;
    }
    /* log-uniform: the whole range is reached and the median sits near sqrt(16 × 1024) */
    assert_true(mn < 20 && mx > 950);
    assert_true(below_128 > 850 && below_128 < 1150);
    /* the system prompt and the seed both change the length */
    int differ_sys = 0, differ_seed = 0;
    for (int i = 0; i < 50; i++) {
        snprintf(prompt, sizeof prompt, "q%d", i);
        long base = ipw_sim_output_tokens(NULL, prompt, 0, lo, hi);
        differ_sys += ipw_sim_output_tokens("sys", prompt, 0, lo, hi) != base;
        differ_seed += ipw_sim_output_tokens(NULL, prompt, 7, lo, hi) != base;
    }
    assert_true(differ_sys > 40 && differ_seed > 40);
    assert_int_equal(ipw_sim_output_tokens(NULL, "x", 0, 5, 5), 5);
    assert_int_equal(ipw_sim_output_tokens(NULL, "x", 0, 0, -3), 1); /* clamped */
}

static void test_power_clamps(void **state)
{
    (void)state;
    struct ipw_hw_spec hw;
    ipw_errbuf eb = {0};
    assert_int_equal(ipw_hw_spec_load("A100", &hw, &eb), IPW_OK);
    assert_double_equal(ipw_hw_power_w(&hw, 0), 55, 0);
    assert_double_equal(ipw_hw_power_w(&hw, 1), 400, 0);
    assert_double_equal(ipw_hw_power_w(&hw, 7), 400, 0);
    assert_double_equal(ipw_hw_power_w(&hw, -1), 55, 0);
    assert_double_equal(ipw_hw_power_w(&hw, 0.5), 227.5, 1e-12);
    assert_double_equal(ipw_hw_cpu_power_w(&hw, 0), 60, 0);
    assert_double_equal(ipw_hw_cpu_power_w(&hw, 1), 60 + 290 * 0.08, 1e-12);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bundled_specs),
        cmocka_unit_test(test_name_lookup),
        cmocka_unit_test(test_roofline_h100_llama_8b),
        cmocka_unit_test(test_roofline_rtx4090_llama_1b),
        cmocka_unit_test(test_request_sums_steps),
        cmocka_unit_test(test_batch_step),
        cmocka_unit_test(test_tensor_parallel),
        cmocka_unit_test(test_dtypes),
        cmocka_unit_test(test_hw_spec_errors),
        cmocka_unit_test(test_model_spec_errors),
        cmocka_unit_test(test_user_spec_files),
        cmocka_unit_test(test_token_estimate),
        cmocka_unit_test(test_output_tokens),
        cmocka_unit_test(test_power_clamps),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
