/* The serving simulator's roofline model against the bundled profile tables (issue 14
 * item 1): for the RTX PRO 6000 and RTX 4090 Llama-3.1-8B bundles it prints the per-layer
 * error over each table's own grid and the per-iteration error over a grid of batches
 * (prefill chunk x prefilled context x decode requests x decode context), naming every
 * batch outside 15 %, and requires every batch within 15 % (the bar) and a mean
 * error of at most 8 %. A held-out check fits the mixed-batch constants on one card and
 * requires the other card within 15 % on 90 % of its grid (figures: docs/sim-fidelity.md).
 * Also: a model without an architecture file or a bundle simulates on any spec. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sim/predict/roof.h"
#include "ipw/datadir.h"
#include "sim/ss.h"

static char data_dir[1024];

struct err_acc {
    double sum, max, n;
};

static void acc(struct err_acc *a, double model, double table)
{
    double e = fabs(model - table) / table;
    a->sum += e;
    a->n += 1;
    if (e > a->max)
        a->max = e;
}

struct pair {
    struct ss_model m;
    struct ss_bundle tab, roof;
};

static void open_pair(const char *hw, struct pair *p)
{
    ipw_errbuf eb = {0};
    if (ss_model_load(data_dir, "meta-llama/Llama-3.1-8B", &p->m, &eb) ||
        ss_bundle_open(data_dir, hw, &p->m, "bf16", &p->tab, &eb) ||
        ss_bundle_need_tp(&p->tab, 1, "test", "tp", &eb) ||
        ss_roof_bundle_open(data_dir, hw, NULL, &p->m, "bf16", &p->roof, &eb))
        fail_msg("%s", eb.msg);
    assert_true(p->roof.roof->hw.layer_fitted);
}

static void close_pair(struct pair *p)
{
    ss_bundle_free(&p->tab);
    ss_bundle_free(&p->roof);
}

static int64_t roof_ns(const struct pair *p, const char *layer, const struct ss_roof_batch *x)
{
    return ss_roof_layer_ns(p->roof.roof, &p->m, layer, 1, 2, 2, x);
}

/* One iteration with the original's layer sum (embedding, L x block, head), from the
 * tables or from the roofline. */
static double iteration(struct pair *p, bool roof, const struct ss_roof_batch *x)
{
    const struct ss_arch *a = &p->tab.arch;
    ipw_errbuf eb = {0};
    const char(*parts[5])[32] = {a->prologue, a->pre_attn, a->post_attn, a->mlp, a->head};
    int counts[5] = {a->nprologue, a->npre, a->npost, a->nmlp, a->nhead};
    double total = 0;
    for (int pi = 0; pi < 5; pi++)
        for (int i = 0; i < counts[pi]; i++) {
            const char *name = parts[pi][i];
            int64_t ns = 0;
            enum ss_cat cat = ss_arch_category(a, name, NULL);
            if (roof)
                ns = roof_ns(p, name, x);
            else if (cat == SS_CAT_ATTN)
                assert_int_equal(ss_lookup_attention(&p->tab, 1, x->pc, x->kp, x->nd, x->kd_mean,
                                                     x->kd_mean, x->kd_mean, &ns, &eb),
                                 IPW_OK);
            else if (cat == SS_CAT_PERSEQ)
                assert_int_equal(ss_lookup_perseq(&p->tab, name, 1, x->seqs, &ns, &eb), IPW_OK);
            else
                assert_int_equal(ss_lookup_dense(&p->tab, name, 1, x->total_len, &ns, &eb),
                                 IPW_OK);
            total += (double)ns * (pi >= 1 && pi <= 3 ? (double)p->m.layers : 1.0);
        }
    return total;
}

/* Was the attention kernel of this batch measured (the profiler skips what does not fit in
 * memory; the lookup then falls back to the nearest slice, which is no reference)? */
static bool measured(const struct ss_attn *t, int64_t pc, int64_t kp, int64_t nd, int64_t kd)
{
    for (size_t s = 0; s < t->nslices; s++) {
        const struct ss_attn_slice *sl = &t->slices[s];
        if (sl->pc != pc || sl->nd != nd)
            continue;
        for (size_t r = 0; r < sl->n; r++)
            if (sl->kp[r] == kp)
                for (size_t k = 0; k < sl->rows[r].n; k++)
                    if (sl->rows[r].kd[k] == kd)
                        return true;
    }
    return false;
}

/* The per-iteration grid: prefill chunk x its context x decode requests x their context,
 * restricted to the batches whose attention the profiler measured; the tables' iteration
 * time of each batch is computed once. */
#define GRID_MAX 512
struct grid {
    struct ss_roof_batch x[GRID_MAX];
    double table_ns[GRID_MAX];
    size_t n;
};

static void build_grid(struct pair *p, struct grid *g)
{
    static const int64_t pcs[] = {0, 16, 64, 256, 512, 1024, 2048};
    static const int64_t kps[] = {0, 1024};
    static const int64_t nds[] = {0, 1, 4, 16, 64, 128, 256};
    static const int64_t kds[] = {128, 1024, 4096};
    g->n = 0;
    for (size_t a = 0; a < 7; a++)
        for (size_t b = 0; b < 2; b++)
            for (size_t c = 0; c < 7; c++)
                for (size_t d = 0; d < 3; d++) {
                    int64_t pc = pcs[a], kp = pc ? kps[b] : 0, nd = nds[c], kd = nd ? kds[d] : 0;
                    if ((!pc && !nd) || (!pc && b) || (!nd && d) ||
                        !measured(&p->tab.tabs[0].attn, pc, kp, nd, kd))
                        continue;
                    assert_true(g->n < GRID_MAX);
                    struct ss_roof_batch x = {pc + nd, (pc > 0) + nd, pc, kp, nd, kd};
                    g->x[g->n] = x;
                    g->table_ns[g->n++] = iteration(p, false, &x);
                }
}

struct grid_err {
    struct err_acc it, dec, pre, mix;
    size_t within;
    struct ss_roof_batch worst;
    double worst_t, worst_r;
};

/* The roofline's per-iteration error over the grid with the mixed-batch constants mx;
 * verbose prints each batch outside 15 %. */
static void grid_eval(struct pair *p, const struct grid *g, const struct ss_roof_mixed *mx,
                      bool verbose, struct grid_err *e)
{
    memset(e, 0, sizeof *e);
    struct ss_roof_mixed keep = p->roof.roof->mixed;
    p->roof.roof->mixed = *mx;
    for (size_t i = 0; i < g->n; i++) {
        const struct ss_roof_batch *x = &g->x[i];
        double tm = g->table_ns[i], rm = iteration(p, true, x), err = fabs(rm - tm) / tm;
        if (err > e->it.max) {
            e->worst = *x;
            e->worst_t = tm;
            e->worst_r = rm;
        }
        acc(&e->it, rm, tm);
        acc(!x->pc ? &e->dec : !x->nd ? &e->pre : &e->mix, rm, tm);
        if (err <= 0.15)
            e->within++;
        else if (verbose)
            printf("  outside 15 %%: chunk %lld on %lld, %lld decodes at %lld: tables %.2f ms, "
                   "roofline %.2f ms (%+.1f %%)\n", (long long)x->pc, (long long)x->kp,
                   (long long)x->nd, (long long)x->kd_mean, tm / 1e6, rm / 1e6,
                   100 * (rm - tm) / tm);
    }
    p->roof.roof->mixed = keep;
}

static void check_hw(const char *hw)
{
    struct pair p;
    open_pair(hw, &p);
    struct ss_tptab *t = &p.tab.tabs[0];
    assert_int_equal(t->tp, 1);
    printf("roofline vs %s Llama-3.1-8B bf16 tp1 tables (per-layer error over each table's grid)\n",
           hw);
    for (size_t i = 0; i < t->ndense; i++) {
        struct err_acc e = {0};
        for (size_t k = 0; k < t->dense[i].n; k++) {
            struct ss_roof_batch x = {t->dense[i].keys[k], 1, 0, 0, 0, 0};
            acc(&e, (double)roof_ns(&p, t->dense[i].name, &x), (double)t->dense[i].vals[k]);
        }
        printf("  %-16s mean %5.1f %%  max %5.1f %%  (%zu points)\n", t->dense[i].name,
               100 * e.sum / e.n, 100 * e.max, t->dense[i].n);
    }
    for (size_t i = 0; i < t->nperseq; i++) {
        struct err_acc e = {0};
        for (size_t k = 0; k < t->perseq[i].n; k++) {
            struct ss_roof_batch x = {t->perseq[i].keys[k], t->perseq[i].keys[k], 0, 0, 0, 0};
            acc(&e, (double)roof_ns(&p, t->perseq[i].name, &x), (double)t->perseq[i].vals[k]);
        }
        printf("  %-16s mean %5.1f %%  max %5.1f %%  (%zu points)\n", t->perseq[i].name,
               100 * e.sum / e.n, 100 * e.max, t->perseq[i].n);
    }
    struct err_acc ea = {0};
    size_t na = 0;
    for (size_t s = 0; s < t->attn.nslices; s++) {
        const struct ss_attn_slice *sl = &t->attn.slices[s];
        for (size_t r = 0; r < sl->n; r++)
            for (size_t k = 0; k < sl->rows[r].n; k++) {
                int64_t kp = sl->kp[r], kd = sl->rows[r].kd[k];
                if (sl->pc == 0 && sl->nd == 0)
                    continue;
                struct ss_roof_batch x = {sl->pc + sl->nd, (sl->pc > 0) + sl->nd, sl->pc, kp,
                                          sl->nd, kd};
                acc(&ea, (double)roof_ns(&p, "attention", &x), (double)sl->rows[r].v[k]);
                na++;
            }
    }
    printf("  %-16s mean %5.1f %%  max %5.1f %%  (%zu points)\n", "attention", 100 * ea.sum / ea.n,
           100 * ea.max, na);

    struct grid g;
    build_grid(&p, &g);
    struct grid_err ge;
    grid_eval(&p, &g, &p.roof.roof->mixed, true, &ge);
    printf("  per iteration: mean %.1f %%, max %.1f %% over %zu measured batches (decode-only mean "
           "%.1f max %.1f; prefill-only mean %.1f max %.1f; mixed mean %.1f max %.1f)\n",
           100 * ge.it.sum / ge.it.n, 100 * ge.it.max, g.n, 100 * ge.dec.sum / ge.dec.n,
           100 * ge.dec.max, 100 * ge.pre.sum / ge.pre.n, 100 * ge.pre.max,
           100 * ge.mix.sum / ge.mix.n, 100 * ge.mix.max);
    printf("  worst batch: prefill chunk %lld on %lld tokens, %lld decodes at %lld tokens: "
           "tables %.3f ms, roofline %.3f ms\n",
           (long long)ge.worst.pc, (long long)ge.worst.kp, (long long)ge.worst.nd,
           (long long)ge.worst.kd_mean, ge.worst_t / 1e6, ge.worst_r / 1e6);
    printf("  %zu of %zu batches (%.1f %%) within 15 %%\n", ge.within, g.n,
           100.0 * (double)ge.within / (double)g.n);
    /* every batch: the tightest (docs/sim-fidelity.md) are the RTX 4090's batches on either
     * side of its GEMMs' 256 -> 272-token tile step, 14.9 % */
    assert_int_equal(ge.within, g.n);
    assert_true(ge.it.sum / ge.it.n <= 0.08);
    close_pair(&p);
}

/* Held out: the mixed-batch constants (card-independent in the model) fitted on one card's
 * grid by a coarse search, then checked on the other card's; printed with the defaults' and
 * the fitted constants' figures on both, so the transfer from card to card is visible. */
static void fit_mixed(struct pair *p, const struct grid *g, struct ss_roof_mixed *best)
{
    static const double reads[] = {1.5, 1.75, 2.0, 2.25, 2.5};
    static const double share[] = {1.0 / 48, 1.0 / 56, 1.0 / 64, 1.0 / 72, 1.0 / 80};
    static const double full[] = {0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95, 1.0};
    static const double wave_kib[] = {64, 128, 192, 256};
    double best_score = INFINITY;
    for (size_t i = 0; i < 5 * 5 * 8 * 4; i++) {
        struct ss_roof_mixed mx;
        ss_roof_mixed_defaults(&mx);
        mx.kv_reads = reads[i / 160];
        mx.stream_share = share[i / 32 % 5];
        mx.full_reads_share = full[i / 4 % 8];
        mx.wave_bytes = wave_kib[i % 4] * 1024;
        struct grid_err e;
        grid_eval(p, g, &mx, false, &e);
        /* fewest batches outside 15 %, then the lowest mean error */
        double score = (double)(g->n - e.within) + e.it.sum / e.it.n;
        if (score < best_score) {
            best_score = score;
            *best = mx;
        }
    }
}

static void test_held_out(void **state)
{
    (void)state;
    static const char *const hw[2] = {"RTXPRO6000", "RTX4090"};
    struct pair p[2];
    struct grid g[2];
    for (int i = 0; i < 2; i++) {
        open_pair(hw[i], &p[i]);
        build_grid(&p[i], &g[i]);
    }
    size_t held_within = 0, held_n = 0;
    for (int fit = 0; fit < 2; fit++) {
        struct ss_roof_mixed mx;
        fit_mixed(&p[fit], &g[fit], &mx);
        int other = 1 - fit;
        struct grid_err own, held;
        grid_eval(&p[fit], &g[fit], &mx, false, &own);
        grid_eval(&p[other], &g[other], &mx, false, &held);
        printf("held out: mixed-batch constants fitted on %s (KV reads %.2f, stream 1/%.0f, "
               "full reads %.2f of the query heads, wave %.0f KiB): %s %zu/%zu within 15 %% "
               "(mean %.1f %%, max %.1f %%); held-out %s %zu/%zu (mean %.1f %%, max %.1f %%)\n",
               hw[fit], mx.kv_reads, 1 / mx.stream_share, mx.full_reads_share,
               mx.wave_bytes / 1024, hw[fit],
               own.within, g[fit].n, 100 * own.it.sum / own.it.n, 100 * own.it.max, hw[other],
               held.within, g[other].n, 100 * held.it.sum / held.it.n, 100 * held.it.max);
        held_within += held.within;
        held_n += g[other].n;
    }
    /* the held-out cards stay within 15 % on most of the grid (395 of 420 today); the
     * misses are the 128-decode, 4k batches whose L2 effect the full-read share carries */
    assert_true((double)held_within >= 0.90 * (double)held_n);
    for (int i = 0; i < 2; i++)
        close_pair(&p[i]);
}

static void test_rtxpro6000(void **state)
{
    (void)state;
    check_hw("RTXPRO6000");
}

static void test_rtx4090(void **state)
{
    (void)state;
    check_hw("RTX4090");
}

/* A Qwen2 config with no architecture file and no bundle, on an unprofiled H100: the llama
 * layer sequence; decode of one sequence is bandwidth-bound, so its time follows the weights. */
static void test_unprofiled_model(void **state)
{
    (void)state;
    struct ss_model m = {0};
    snprintf(m.name, sizeof m.name, "test/qwen-like");
    snprintf(m.model_type, sizeof m.model_type, "qwen2");
    m.hidden = 3584;
    m.layers = 28;
    m.heads = 28;
    m.kv_heads = 4;
    m.head_dim = 128;
    m.vocab = 152064;
    m.ffn = 18944;
    m.max_pos = 32768;
    struct ss_bundle b;
    ipw_errbuf eb = {0};
    assert_int_equal(ss_roof_bundle_open(data_dir, "H100", NULL, &m, "bf16", &b, &eb), IPW_OK);
    assert_true(b.roof->built_in_arch);
    assert_int_equal(b.arch.npre, 4);
    assert_int_equal(ss_arch_category(&b.arch, "lm_head", NULL), SS_CAT_PERSEQ);
    struct ss_roof_batch x = {1, 1, 0, 0, 1, 100};
    double fl, by;
    ss_roof_layer_work(&m, "gate_up_proj", 1, 2, 2, &x, &fl, &by);
    assert_true(fabs(by - (3584.0 * 2 * 18944 * 2 + (3584.0 + 2 * 18944) * 2)) < 1);
    int64_t ns = ss_roof_layer_ns(b.roof, &m, "gate_up_proj", 1, 2, 2, &x);
    double want = by / (3350e9 * b.roof->hw.layer_eff_bw) * 1e9 + b.roof->overhead_ns;
    assert_true(fabs((double)ns - want) <= 1.0);
    ss_bundle_free(&b);
    snprintf(m.model_type, sizeof m.model_type, "gpt_bigcode");
    assert_int_not_equal(ss_roof_bundle_open(data_dir, "H100", NULL, &m, "bf16", &b, &eb), IPW_OK);
    assert_non_null(strstr(eb.msg, "gpt_bigcode"));
    assert_int_not_equal(ss_roof_bundle_open(data_dir, "NoSuchGPU", NULL, &m, "bf16", &b, &eb),
                         IPW_OK);
    assert_non_null(strstr(eb.msg, "NoSuchGPU"));
}

int main(void)
{
    /* ctest names the source tree; run by hand, find the data as the ipw binary does */
    const char *src = getenv("IPW_TEST_SOURCE_DIR");
    char msg[512];
    if (src && *src)
        snprintf(data_dir, sizeof data_dir, "%s/data/sim", src);
    else if (ipw_datadir_find("sim", data_dir, sizeof data_dir, msg, sizeof msg)) {
        fprintf(stderr, "%s\n", msg);
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rtxpro6000),
        cmocka_unit_test(test_rtx4090),
        cmocka_unit_test(test_held_out),
        cmocka_unit_test(test_unprofiled_model),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
