/* ipw simulate's rules against values computed by hand (and by an independent script) from
 * the bundled RTXPRO6000 Llama-3.1-8B tables: 1-D interpolation / clamping / extrapolation,
 * the 4-D attention bracket with the nearest-slice fallback, the skew correction, the KV
 * block count, the power formulas on a two-batch timeline and Python's float formatting. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ipw_test.h"

#include "ipw/datadir.h"
#include "sim/ss.h"

static char data_dir[1024];
static struct ss_model model;
static struct ss_bundle bundle;

static int setup(void **state)
{
    (void)state;
    /* ctest names the source tree; run by hand, find the data as the ipw binary does */
    const char *src = getenv("IPW_TEST_SOURCE_DIR");
    char msg[512];
    if (src && *src)
        snprintf(data_dir, sizeof data_dir, "%s/data/sim", src);
    else if (ipw_datadir_find("sim", data_dir, sizeof data_dir, msg, sizeof msg)) {
        fprintf(stderr, "%s\n", msg);
        return -1;
    }
    ipw_errbuf eb = {0};
    if (ss_model_load(data_dir, "meta-llama/Llama-3.1-8B", &model, &eb) ||
        ss_bundle_open(data_dir, "RTXPRO6000", &model, "bf16", &bundle, &eb) ||
        ss_bundle_need_tp(&bundle, 1, "test", "tp", &eb)) {
        fprintf(stderr, "%s\n", eb.msg);
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    ss_bundle_free(&bundle);
    return 0;
}

static int64_t dense(const char *layer, int64_t tokens)
{
    int64_t ns = 0;
    ipw_errbuf eb = {0};
    assert_int_equal(ss_lookup_dense(&bundle, layer, 1, tokens, &ns, &eb), IPW_OK);
    return ns;
}

static void test_dense_rules(void **state)
{
    (void)state;
    /* exact grid point: 36.0 us -> 36000 ns */
    assert_int_equal(dense("qkv_proj", 10), 36000);
    /* between 16 (37.9147 us) and 20: linear, truncated */
    assert_int_equal(dense("qkv_proj", 18), 38319);
    /* below the grid: clamped to tokens = 1 (35.8297 us) */
    assert_int_equal(dense("qkv_proj", 0), 35830);
    /* above 2048: extrapolated from the top two points */
    assert_int_equal(dense("qkv_proj", 2100), 303689);
    /* the 1-D rule itself, by hand: keys 10, 20 -> values 100, 300 */
    int64_t k[] = {10, 20}, v[] = {100, 300};
    assert_int_equal(ss_lookup_1d(k, v, 2, 15), 200);
    assert_int_equal(ss_lookup_1d(k, v, 2, 5), 100);  /* clamp */
    assert_int_equal(ss_lookup_1d(k, v, 2, 25), 400); /* extrapolate */
    assert_int_equal(ss_lookup_1d(k, v, 2, 13), 160);
    int64_t down[] = {50, 10};
    assert_int_equal(ss_lookup_1d(k, down, 2, 40), 1); /* never below 1 ns */
}

static void test_per_sequence(void **state)
{
    (void)state;
    int64_t ns;
    ipw_errbuf eb = {0};
    assert_int_equal(ss_lookup_perseq(&bundle, "lm_head", 1, 1, &ns, &eb), IPW_OK);
    assert_int_equal(ns, 714006);
    assert_int_equal(ss_lookup_perseq(&bundle, "lm_head", 1, 300, &ns, &eb), IPW_OK);
    assert_int_equal(ns, 845073); /* extrapolated past 256 sequences */
}

static int64_t attn(int64_t pc, int64_t kp, int64_t nd, int64_t mean, int64_t mx, int64_t mn)
{
    int64_t ns = 0;
    ipw_errbuf eb = {0};
    assert_int_equal(ss_lookup_attention(&bundle, 1, pc, kp, nd, mean, mx, mn, &ns, &eb), IPW_OK);
    return ns;
}

static void test_attention_bracket(void **state)
{
    (void)state;
    /* a 10-token prefill: between pc 0 and 16; the (0, 0) slice does not exist, so that corner
     * comes from the nearest profiled (pc, nd) pair */
    assert_int_equal(attn(10, 0, 0, 0, 0, 0), 7985);
    /* the reference's 10-token prefill iteration is exactly 10,998,250 ns and its first decode
     * 11,146,817 ns: covered end to end by integration.simulate_reference */
    assert_int_equal(attn(0, 0, 4, 112, 112, 112), 15152);
    assert_int_equal(attn(100, 300, 3, 1000, 1000, 1000), 33971);
    /* beyond every axis: extrapolated */
    assert_int_equal(attn(3000, 0, 300, 20000, 20000, 20000), 26374279);
}

static void test_skew(void **state)
{
    (void)state;
    /* decodes at 16, 16, 16, 400: mean 112, skew rate 0.25, bucket
     * pc=0|n<=4|sr<=40%|kvB<=1k|kp=0 -> alpha 0.1277; t = 15152 + 0.1277 * (18417 - 15152) */
    assert_int_equal(attn(0, 0, 4, 112, 400, 16), 15569);
    double a = ss_skew_alpha(&bundle, &bundle.tabs[0], 0, 4, 0.25, 400, 0);
    assert_true(a > 0.12769 && a < 0.12771);
    /* same kv everywhere: no correction */
    assert_int_equal(attn(0, 0, 4, 400, 400, 400), 18417);
    /* a single decode is never corrected */
    assert_int_equal(attn(0, 0, 1, 10, 10, 10), attn(0, 0, 1, 10, 90, 10));
}

static void test_skew_disabled_bundle(void **state)
{
    (void)state;
    struct ss_bundle b4090;
    ipw_errbuf eb = {0};
    assert_int_equal(ss_bundle_open(data_dir, "RTX4090", &model, "bf16", &b4090, &eb), IPW_OK);
    assert_false(b4090.skew_enabled);
    assert_true(ss_skew_alpha(&b4090, &b4090.tabs[0], 0, 4, 0.25, 400, 0) == 0.0);
    /* TP=2 has no folder there: the error names it and the degrees that exist */
    assert_int_not_equal(ss_bundle_need_tp(&b4090, 2, "cfg.json", "tp_size", &eb), IPW_OK);
    assert_non_null(strstr(eb.msg, "tp2/ does not exist"));
    assert_non_null(strstr(eb.msg, "profiled for this bundle: 1"));
    ss_bundle_free(&b4090);
}

static void test_kv_blocks(void **state)
{
    (void)state;
    /* Llama-3.1-8B bf16 on 96 GB at 0.9: 16,060,522,496 weight bytes, 2 MiB blocks */
    assert_int_equal(ss_model_weight_bytes(&model, 1, 1, 2), 16060522496LL);
    int64_t per_tok = 2 * model.kv_heads * model.head_dim * model.layers * 2;
    int64_t requested = (int64_t)(96 * 1073741824.0 * 0.9);
    assert_int_equal((requested - 16060522496LL) / (per_tok * 16), 36578);

    struct ipw_ss_options o;
    ipw_ss_options_init(&o);
    o.data_dir = data_dir;
    o.cluster_config = "single_node_single_instance.json";
    struct ipw_ss_sim *sim;
    ipw_errbuf eb = {0};
    assert_int_equal(ipw_ss_load(&o, &sim, &eb), IPW_OK);
    assert_int_equal(ipw_ss_kv_blocks(sim, 0), 36578);
    ipw_ss_free(sim);
}

static void test_block_pool(void **state)
{
    (void)state;
    struct ss_kv kv = {0};
    ipw_errbuf eb = {0};
    kv.block_size = 4;
    kv.caching = true;
    assert_int_equal(ss_pool_init(&kv.npu, 8, 4, 100, true, &eb), IPW_OK);
    int32_t toks[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
    struct ss_req a = {0}, b = {0};
    a.id = 1;
    a.toks = toks;
    a.ntoks = 12;
    a.num_reached = 12;
    b = a;
    b.id = 2;
    assert_true(ss_kv_allocate(&kv, &a, 12, NULL, 0, 0, 0));
    assert_int_equal(kv.npu.nfree, 5);
    a.num_computed = 12;
    ss_kv_cache_blocks(&kv, &a, 12);
    /* the same prompt hits, capped at num_tokens - 1 -> 2 full blocks */
    int32_t hit[8];
    int64_t lower = -1;
    size_t n = ss_kv_computed_blocks(&kv, &b, hit, 8, &lower);
    assert_int_equal(n, 2);
    assert_int_equal(lower, 0); /* no lower tier */
    ss_kv_free(&kv, &a);
    assert_int_equal(kv.npu.nfree, 8);
    /* freed blocks keep their hashes and still count as used memory */
    assert_int_equal(ss_pool_used_bytes(&kv.npu), 300);
    free(a.blocks);
    free(a.hashes);
    free(b.hashes);
    ss_pool_free(&kv.npu);
}

/* the bundled power example: P_base = 60 + 35 + (10 + 190 * 0.15) + 2 * 16 + 5 + 20 + 10 */
static void power_example(struct ss_cluster *c, struct ss_node_cfg *node)
{
    memset(c, 0, sizeof *c);
    memset(node, 0, sizeof *node);
    struct ss_power_cfg *p = &node->power;
    p->base_node = 60;
    p->nnpu = 1;
    snprintf(p->npu[0].hardware, sizeof p->npu[0].hardware, "X");
    p->npu[0].idle = 35;
    p->npu[0].standby = 300;
    p->npu[0].active = 600;
    p->npu[0].standby_duration = 18;
    p->npu[0].num_npus = 1;
    p->cpu_idle = 10;
    p->cpu_active = 200;
    p->cpu_util = 0.15;
    p->dram_dimm_size = 32;
    p->dram_idle = 2;
    p->dram_epb = 6;
    p->dram_mem_size = 512;
    p->link_num = 1;
    p->link_idle = 5;
    p->link_epb = 4;
    p->nic_num = 1;
    p->nic_idle = 20;
    p->storage_num = 2;
    p->storage_idle = 5;
    node->has_power = true;
    c->num_nodes = 1;
    c->nodes = node;
}

static void test_power_two_batches(void **state)
{
    (void)state;
    struct ss_cluster c;
    struct ss_node_cfg node;
    power_example(&c, &node);
    struct ss_power pw;
    ipw_errbuf eb = {0};
    assert_int_equal(ss_power_init(&pw, &c, &eb), IPW_OK);
    /* batch 1 computes 10 ms at t = 0 (one layer), batch 2 20 ms at t = 0.5 s; 1e6 bytes of
     * DRAM traffic */
    ss_power_npu_active(&pw, 0, "X", 10000000, 1);
    ss_power_dram(&pw, 0, 1e6);
    /* first heartbeat at 1 s: 200.5 W base + (565 J/s * 0.01 s + 190 * 0.55 * 0.01) + 48e-6 J */
    ss_power_npu_active(&pw, 0, "X", 20000000, 1);
    double w1 = ss_power_current(&pw, 1000000000);
    double expect = 200.5 + 565 * 0.03 + 190 * 0.55 * 0.03 + 6e-12 * 8e6;
    assert_true(w1 > expect - 0.006 && w1 < expect + 0.006);
    /* standby: first poll 1 ms after the last batch ended at 1 s -> 265 W * 1 ms */
    ss_power_standby(&pw, 0, "X", 1001000000, 1000000000, 0, 1);
    double w2 = ss_power_current(&pw, 1002000000);
    assert_true(w2 > 200.5 + 265 * 0.5 - 0.006 && w2 < 200.5 + 265 * 0.5 + 0.006);
    struct ipw_ss_result res = {0};
    struct ipw_ss_node_energy ne;
    res.nodes = &ne;
    ss_power_final(&pw, 2000000000, &res);
    /* NPU: idle 35 W * 2 s + active increments 565 * 0.03 + standby 265 * 0.001 */
    assert_true(ne.npu > 70 + 16.95 + 0.265 - 1e-9 && ne.npu < 70 + 16.95 + 0.265 + 1e-9);
    /* the split: active at full power, standby at full power, idle the rest */
    assert_true(ne.npu_active > 600 * 0.03 - 1e-9 && ne.npu_active < 600 * 0.03 + 1e-9);
    assert_true(ne.npu_standby > 0.3 - 1e-9 && ne.npu_standby < 0.3 + 1e-9);
    assert_true(ne.npu_idle > 35 * (2 - 0.031) - 1e-9 && ne.npu_idle < 35 * (2 - 0.031) + 1e-9);
    ss_power_free(&pw);
}

/* The heartbeat series split by component: each interval's parts add up to the printed
 * watts, and each part is that component's joules over the interval. */
static void test_power_parts(void **state)
{
    (void)state;
    struct ss_cluster c;
    struct ss_node_cfg node;
    power_example(&c, &node);
    struct ss_power pw;
    ipw_errbuf eb = {0};
    assert_int_equal(ss_power_init(&pw, &c, &eb), IPW_OK);
    ss_power_npu_active(&pw, 0, "X", 30000000, 1);
    ss_power_dram(&pw, 0, 1e6);
    double w1 = ss_power_current(&pw, 1000000000);
    ss_power_standby(&pw, 0, "X", 1001000000, 1000000000, 0, 1);
    double w2 = ss_power_current(&pw, 1002000000);
    struct ipw_ss_result res = {0};
    assert_true(ss_power_take_series(&pw, &res));
    assert_int_equal(res.n_power, 2);
    assert_int_equal(res.power_dropped, 0);
    const double(*pp)[IPW_SS_NPARTS] = res.power_parts_w;
    /* interval 1 (1 s): 30 ms active, the rest idle; CPU background plus 55 % while active */
    assert_double_equal(pp[0][IPW_SS_PART_BASE], 60, 1e-9);
    assert_double_equal(pp[0][IPW_SS_PART_NPU_ACTIVE], 600 * 0.03, 1e-9);
    assert_double_equal(pp[0][IPW_SS_PART_NPU_STANDBY], 0, 1e-9);
    assert_double_equal(pp[0][IPW_SS_PART_NPU_IDLE], 35 * 0.97, 1e-9);
    assert_double_equal(pp[0][IPW_SS_PART_CPU], 38.5 + 190 * 0.55 * 0.03, 1e-9);
    assert_double_equal(pp[0][IPW_SS_PART_DRAM], 32 + 6e-12 * 8e6, 1e-9);
    assert_double_equal(pp[0][IPW_SS_PART_LINK], 5, 1e-9);
    assert_double_equal(pp[0][IPW_SS_PART_NIC_STORAGE], 30, 1e-9);
    /* interval 2 (2 ms): 1 ms of standby at 300 W, the other 1 ms idle at 35 W */
    assert_double_equal(pp[1][IPW_SS_PART_NPU_STANDBY], 150, 1e-6);
    assert_double_equal(pp[1][IPW_SS_PART_NPU_IDLE], 17.5, 1e-6);
    assert_double_equal(pp[1][IPW_SS_PART_NPU_ACTIVE], 0, 1e-9);
    double w[2] = {w1, w2};
    for (int i = 0; i < 2; i++) {
        double sum = 0;
        for (int k = 0; k < IPW_SS_NPARTS; k++)
            sum += pp[i][k];
        assert_double_equal(sum, w[i], 0.005 + 1e-9); /* the heartbeat rounds to 0.01 W */
        assert_double_equal(res.power_w[i], w[i], 0);
    }
    assert_string_equal(ipw_ss_part_key(IPW_SS_PART_NIC_STORAGE), "nic_storage");
    assert_string_equal(ipw_ss_part_label(IPW_SS_PART_NPU_IDLE), "NPU idle");
    free(res.power_w);
    free(res.power_parts_w);
    ss_power_free(&pw);
}

static void test_pyrepr(void **state)
{
    (void)state;
    char b[64];
    struct {
        double v;
        const char *s;
    } cases[] = {{115.0, "115.0"}, {0.1, "0.1"},     {712.4, "712.4"},   {1e16, "1e+16"},
                 {1e-05, "1e-05"}, {0.0001, "0.0001"}, {123456.789, "123456.789"},
                 {2.5e-7, "2.5e-07"}, {1.0 / 3, "0.3333333333333333"}, {-3.0, "-3.0"}};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        ipw_ss_pyrepr(cases[i].v, b, sizeof b);
        assert_string_equal(b, cases[i].s);
    }
    assert_true(ss_pyround2(2.675) == 2.67); /* binary 2.67499999... */
    assert_true(ss_pyround2(712.456) == 712.46);
}

static void test_stats(void **state)
{
    (void)state;
    int64_t v[] = {4000000, 1000000, 3000000, 2000000};
    struct ipw_ss_stat st;
    ss_stat(v, 4, &st);
    assert_true(st.mean_ms == 2.5);
    assert_true(st.median_ms == 2.5);
    /* numpy: index 0.99 * 3 = 2.97 between 3 and 4 ms -> 3.97 */
    assert_true(st.p99_ms > 3.9699999 && st.p99_ms < 3.9700001);
}

/* vLLM's get_pp_indices: an even split, the remainder one block each to the stages before
 * the last, the second-to-last first */
static void test_pp_stage_blocks(void **state)
{
    (void)state;
    for (int st = 0; st < 4; st++)
        assert_int_equal(ss_pp_stage_blocks(32, 4, st), 8);
    /* 30 = 4 x 7 + 2: stages 2 and 1 take one more */
    int64_t want30[4] = {7, 8, 8, 7};
    for (int st = 0; st < 4; st++)
        assert_int_equal(ss_pp_stage_blocks(30, 4, st), want30[st]);
    /* 5 = 3 x 1 + 2: stages 1 and 0 */
    int64_t want5[3] = {2, 2, 1};
    for (int st = 0; st < 3; st++)
        assert_int_equal(ss_pp_stage_blocks(5, 3, st), want5[st]);
    assert_int_equal(ss_pp_stage_blocks(32, 1, 0), 32);
}

/* the node walk behind every poll time: pre, a repeated block, post */
static void test_seq_next_event(void **state)
{
    (void)state;
    int64_t pre[2] = {5, 10}, blk[2] = {3, 7}, post[1] = {4};
    /* node ends: 105 115 | 118 125 | 128 135 | 139 */
    assert_int_equal(ss_seq_next_event(100, pre, 2, blk, 2, 2, post, 1, 90), 100);
    assert_int_equal(ss_seq_next_event(100, pre, 2, blk, 2, 2, post, 1, 101), 105);
    assert_int_equal(ss_seq_next_event(100, pre, 2, blk, 2, 2, post, 1, 116), 118);
    assert_int_equal(ss_seq_next_event(100, pre, 2, blk, 2, 2, post, 1, 126), 128);
    assert_int_equal(ss_seq_next_event(100, pre, 2, blk, 2, 2, post, 1, 135), 135);
    assert_int_equal(ss_seq_next_event(100, pre, 2, blk, 2, 2, post, 1, 136), 139);
    assert_int_equal(ss_seq_next_event(100, pre, 2, blk, 2, 2, post, 1, 140), SS_INF);
}

static void test_trace_line(void **state)
{
    (void)state;
    struct ss_req r;
    ipw_errbuf eb = {0};
    const char *ok = "{\"input_toks\": 3, \"output_toks\": 2, \"arrival_time_ns\": 7, "
                     "\"input_tok_ids\": [1, 2, 3], \"output_tok_ids\": [4, 5], \"x\": {\"y\": [1]}}";
    assert_int_equal(ss_trace_parse_line(ok, strlen(ok), "t.jsonl", 4, true, &r, &eb), IPW_OK);
    assert_int_equal(r.input, 3);
    assert_int_equal(r.output, 5); /* input + output_toks */
    assert_int_equal(r.ntoks, 5);
    free(r.toks);
    const char *sess = "{\"session_id\": \"s\", \"arrival_time_ns\": 9, \"sub_requests\": "
                       "[{\"input_toks\": 2, \"output_toks\": 1, \"tool_duration_ns\": 5}, "
                       "{\"input_toks\": 4, \"output_toks\": 2}]}";
    assert_int_equal(ss_trace_parse_line(sess, strlen(sess), "t.jsonl", 1, true, &r, &eb), IPW_OK);
    assert_int_equal(r.arrival, 9);
    assert_int_equal(r.input, 2);
    assert_int_equal(r.tool_ns, 5);
    assert_non_null(r.next_sub);
    assert_int_equal(r.next_sub->input, 4);
    assert_int_equal(r.next_sub->output, 6);
    assert_null(r.next_sub->next_sub);
    ss_req_free(r.next_sub);
    const char *bad = "{\"input_toks\": 3, \"arrival_time_ns\": 7}";
    assert_int_not_equal(ss_trace_parse_line(bad, strlen(bad), "t.jsonl", 4, true, &r, &eb), IPW_OK);
    assert_non_null(strstr(eb.msg, "t.jsonl:4: 'output_toks' is missing"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dense_rules),       cmocka_unit_test(test_per_sequence),
        cmocka_unit_test(test_attention_bracket), cmocka_unit_test(test_skew),
        cmocka_unit_test(test_skew_disabled_bundle), cmocka_unit_test(test_kv_blocks),
        cmocka_unit_test(test_block_pool),        cmocka_unit_test(test_power_two_batches),
        cmocka_unit_test(test_power_parts),
        cmocka_unit_test(test_pyrepr),            cmocka_unit_test(test_stats),
        cmocka_unit_test(test_trace_line),        cmocka_unit_test(test_pp_stage_blocks),
        cmocka_unit_test(test_seq_next_event),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
