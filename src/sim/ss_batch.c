/* What one batch costs: the per-layer latencies from the profile tables summed over the
 * architecture's layer sequence (one transformer block replayed num_hidden_layers times),
 * plus the transfers ASTRA-Sim adds (the first layer's input loaded from host memory, the
 * last layer's output stored back, TP all-reduces after o_proj and down_proj through the
 * analytical network), and the energy the original charges when it generates the trace. */
#include <stdlib.h>
#include <string.h>

#include "sim/predict/roof.h"
#include "ss.h"

struct bctx {
    int64_t total_len, lm_head_len, pc, kp, nd, kd_mean, kd_max, kd_min;
};

static void batch_ctx(const struct ss_batch *b, struct bctx *x)
{
    memset(x, 0, sizeof *x);
    x->total_len = b->total_len;
    x->lm_head_len = (int64_t)b->nreq;
    int64_t kd_sum = 0;
    bool first = true;
    for (size_t i = 0; i < b->nreq; i++) {
        int64_t before = b->reqs[i]->sched_tokens;
        if (b->sched[i] > 1) {
            x->pc += b->sched[i];
            x->kp += before;
        } else {
            x->nd++;
            kd_sum += before;
            if (first || before > x->kd_max)
                x->kd_max = before;
            if (first || before < x->kd_min)
                x->kd_min = before;
            first = false;
        }
    }
    x->kd_mean = x->nd ? kd_sum / x->nd : 0;
    /* DP padding: lm_head and the sampler see every padded sequence; a DP dummy is one decode
     * at kv 1 (ss_dp.c) */
    if (b->dummy) {
        x->nd = 1;
        x->kd_mean = x->kd_max = x->kd_min = 1;
        x->lm_head_len = 1;
    }
    x->lm_head_len += b->dp_pad;
}

/* ASTRA-Sim's memory model: latency + bytes / bandwidth, GB/s taken as bytes per ns. */
static int64_t mem_time(double lat_ns, double bw_gbs, int64_t bytes)
{
    if (bytes <= 0)
        return 0;
    return (int64_t)lat_ns + (int64_t)((double)bytes / bw_gbs);
}

/* Ring all-reduce through the analytical network: 2(N-1) steps of S/N bytes, each costing
 * the link latency plus the bytes at link_bw (GB/s as 2^30 bytes / 1e9 ns). */
static int64_t allreduce_time(const struct ss_cluster *c, int64_t n, int64_t bytes)
{
    if (n <= 1 || bytes <= 0)
        return 0;
    double bpns = c->link_bw * 1073741824.0 / 1e9;
    double step = c->link_lat + ((double)bytes / (double)n) / bpns;
    return (int64_t)(2.0 * (double)(n - 1) * step);
}

struct acc {
    int64_t lat[64];
    int nlat;
    double link_bytes;
};

static ipw_err layer(struct ipw_ss_sim *sim, struct ss_sched *s, const struct bctx *x,
                     const char *name, int64_t *ns, ipw_errbuf *eb)
{
    struct ss_inst_cfg *c = s->cfg;
    (void)sim;
    if (c->bundle->roof) {
        enum ss_cat rc = ss_arch_category(&c->bundle->arch, name, NULL);
        if (rc != SS_CAT_NONE) {
            struct ss_roof_batch rb = {x->total_len, x->lm_head_len, x->pc, x->kp, x->nd, x->kd_mean};
            *ns = ss_roof_layer_ns(c->bundle->roof, c->model, name, c->tp, c->fp_bits / 8,
                                   c->kv_fp8 ? 1 : c->fp_bits / 8, &rb);
            return IPW_OK;
        }
    }
    int k;
    for (k = 0; k < s->nplan; k++)
        if (s->plan[k].name == name)
            break;
    if (k == s->nplan) {
        if (s->nplan == 64)
            return ipw_fail(eb, IPW_E_RANGE, "more than 64 distinct layers");
        s->plan[k].name = name;
        s->plan[k].cat = ss_arch_category(&c->bundle->arch, name, NULL);
        s->plan[k].tab = s->plan[k].cat == SS_CAT_DENSE || s->plan[k].cat == SS_CAT_PERSEQ
                             ? ss_table_for(c->bundle, name, (int)c->tp,
                                            s->plan[k].cat == SS_CAT_PERSEQ)
                             : NULL;
        s->nplan++;
    }
    const struct ss_tab1d *tab = s->plan[k].tab;
    switch (s->plan[k].cat) {
    case SS_CAT_PERSEQ:
        if (!tab)
            return ss_lookup_perseq(c->bundle, name, (int)c->tp, x->lm_head_len, ns, eb);
        *ns = ss_lookup_1d(tab->keys, tab->vals, tab->n, x->lm_head_len);
        return IPW_OK;
    case SS_CAT_ATTN:
        return ss_lookup_attention(c->bundle, (int)c->tp, x->pc, x->kp, x->nd, x->kd_mean,
                                   x->kd_max, x->kd_min, ns, eb);
    case SS_CAT_DENSE:
        if (!tab)
            return ss_lookup_dense(c->bundle, name, (int)c->tp, x->total_len, ns, eb);
        *ns = ss_lookup_1d(tab->keys, tab->vals, tab->n, x->total_len);
        return IPW_OK;
    default:
        return ipw_fail(eb, IPW_E_INVALID, "layer '%s' is not in the architecture catalogue", name);
    }
}

int64_t ss_seq_next_event(int64_t at, const int64_t *pre, int npre, const int64_t *blk, int nblk,
                          int64_t reps, const int64_t *post, int npost, int64_t t)
{
    int64_t rel = t - at, off = 0;
    if (rel <= 0)
        return at;
    for (int i = 0; i < npre; i++)
        if ((off += pre[i]) >= rel)
            return at + off;
    int64_t sum = 0;
    for (int i = 0; i < nblk; i++)
        sum += blk[i];
    if (sum > 0 && reps > 0 && rel <= off + sum * reps) {
        /* the block in which rel falls, then the node within it */
        int64_t base = off + (rel - off - 1) / sum * sum;
        for (int i = 0; i < nblk; i++)
            if ((base += blk[i]) >= rel)
                return at + base;
        return at + base; /* unreachable: the block's end is >= rel */
    }
    off += sum * reps;
    for (int i = 0; i < npost; i++)
        if ((off += post[i]) >= rel)
            return at + off;
    return SS_INF;
}

int64_t ss_batch_next_event(const struct ss_batch *b, int64_t t)
{
    if (b->ev) { /* PIM batches: their node completions, in time order */
        size_t lo = 0, hi = b->nev;
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            if (b->ev[mid] < t)
                lo = mid + 1;
            else
                hi = mid;
        }
        return lo < b->nev && b->ev[lo] < b->end ? b->ev[lo] : b->end;
    }
    int64_t ev = ss_seq_next_event(b->start, b->pre, b->npre, b->blk, b->nblk, b->layers, b->post,
                                   b->npost, t);
    return ev < b->end ? ev : b->end;
}

ipw_err ss_layer_time(struct ipw_ss_sim *sim, struct ss_sched *s, const struct ss_shape *x,
                      const char *name, int64_t *ns, ipw_errbuf *eb)
{
    struct bctx b = {x->total_len, x->lm_head_len, x->pc, x->kp, x->nd, x->kd_mean, x->kd_max,
                     x->kd_min};
    return layer(sim, s, &b, name, ns, eb);
}

/* weights off the NPU: the layer durations in execution order, re-timed through the memory
 * queues (ss_memq.c) */
static ipw_err off_npu(struct ipw_ss_sim *sim, struct ss_sched *s, struct ss_batch *b,
                       const char *const *blk_name, const int64_t *blk_t, int nblk,
                       const int64_t *head_ns, struct ss_power *p, ipw_errbuf *eb)
{
    const struct ss_arch *a = &s->cfg->bundle->arch;
    int64_t layers = b->layers;
    size_t nrows = (size_t)a->nprologue + (size_t)nblk * (size_t)layers + (size_t)a->nhead;
    const char **names = malloc(nrows * sizeof *names);
    int64_t *blocks = malloc(nrows * sizeof *blocks), *rows = malloc(nrows * sizeof *rows);
    if (!names || !blocks || !rows) {
        free(names);
        free(blocks);
        free(rows);
        return ipw_fail(eb, IPW_E_NOMEM, "out of memory");
    }
    size_t k = 0;
    int pi = 0;
    int64_t pre_io = 0;
    if (b->load)
        pre_io += b->pre[pi++]; /* the kv_load row */
    pre_io += b->pre[pi++];     /* the first layer's input */
    for (int i = 0; i < a->nprologue; i++, k++) {
        names[k] = a->prologue[i];
        blocks[k] = -1;
        rows[k] = b->pre[pi++];
    }
    for (int64_t l = 0; l < layers; l++)
        for (int i = 0; i < nblk; i++, k++) {
            names[k] = blk_name[i];
            blocks[k] = l;
            rows[k] = blk_t[i];
        }
    for (int i = 0; i < a->nhead; i++, k++) {
        names[k] = a->head[i];
        blocks[k] = -1;
        rows[k] = head_ns[i];
    }
    ipw_err e = ss_memq_time(sim, s, b, names, blocks, rows, nrows, pre_io, b->post[b->npost - 1],
                             p, eb);
    free(names);
    free(blocks);
    free(rows);
    return e;
}

ipw_err ss_batch_latency(struct ipw_ss_sim *sim, struct ss_sched *s, struct ss_batch *b,
                         struct ss_power *p, ipw_errbuf *eb)
{
    struct ss_inst_cfg *c = s->cfg;
    b->ev = NULL;
    b->nev = 0;
    if (c->attn_offloading) /* decode attention on the PIM channels: ss_pim.c */
        return ss_pim_batch_latency(sim, s, b, p, eb);
    const struct ss_arch *a = &c->bundle->arch;
    const struct ss_node_cfg *node = &sim->c.nodes[c->node];
    const struct ss_model *m = c->model;
    int64_t fp = c->fp_bits / 8;
    struct bctx x;
    batch_ctx(b, &x);
    ipw_err e;
    int64_t t = 0, ns;
    b->npre = b->nblk = b->npost = 0;
    b->layers = m->layers;
    if (b->load) { /* kv_load row: from the node's host memory, before everything else */
        b->pre[b->npre++] = mem_time(node->cpu_mem_lat, sim->c.nodes[0].cpu_mem_bw, b->load);
        t += b->pre[0];
    }

    /* prologue: the first layer's input comes from host memory */
    for (int i = 0; i < a->nprologue; i++) {
        if (i == 0) {
            int64_t in = 0;
            ss_layer_sizes(m, a->prologue[i], x.total_len, 0, c->tp, fp, &in, NULL, NULL);
            b->pre[b->npre++] = mem_time(node->cpu_mem_lat, sim->c.nodes[0].cpu_mem_bw, in);
            t += b->pre[b->npre - 1];
        }
        if ((e = layer(sim, s, &x, a->prologue[i], &ns, eb)))
            return e;
        t += ns;
        b->pre[b->npre++] = ns;
        if (p)
            ss_power_npu_active(p, c->node, c->hardware, ns, c->tp);
    }

    /* one transformer block, replayed for every layer */
    struct acc blk = {0};
    int64_t blk_t[64];
    const char *blk_name[64];
    int nblk = 0;
    const char(*parts[3])[32] = {a->pre_attn, a->post_attn, a->mlp};
    int counts[3] = {a->npre, a->npost, a->nmlp};
    for (int pi = 0; pi < 3; pi++)
        for (int i = 0; i < counts[pi]; i++) {
            const char *name = parts[pi][i];
            if (!strcmp(name, "attention") && x.pc == 0 && x.nd == 0)
                continue;
            if ((e = layer(sim, s, &x, name, &ns, eb)))
                return e;
            blk.lat[blk.nlat++] = ns;
            blk_name[nblk] = name;
            blk_t[nblk++] = ns;
            if (!strcmp(name, "qkv_proj") && c->pd == SS_PD_PREFILL) {
                /* P/D: this layer's K and V go to the receiver (point to point: once) */
                blk.link_bytes += (double)ss_pd_kv_bytes(c, b);
                for (int k = 0; k < nblk; k++)
                    b->qkv_at += blk_t[k];
            }
            if (c->tp > 1 && (!strcmp(name, "o_proj") || !strcmp(name, "down_proj"))) {
                int64_t out = 0;
                ss_layer_sizes(m, name, x.total_len, 0, c->tp, fp, NULL, NULL, &out);
                blk_name[nblk] = NULL;
                blk_t[nblk++] = allreduce_time(&sim->c, c->tp, out);
                /* total_ring_data: 2 (N - 1) * S / N bytes cross the links */
                blk.link_bytes += 2.0 * (double)(c->tp - 1) * ((double)out / (double)c->tp);
            }
            if (nblk >= 62 || blk.nlat >= 62)
                return ipw_fail(eb, IPW_E_RANGE, "a transformer block has too many layers");
        }
    memcpy(b->blk, blk_t, (size_t)nblk * sizeof *blk_t);
    b->nblk = nblk;
    int64_t blk_sum = 0; /* integer sums: once times layers is the per-layer sum exactly */
    for (int i = 0; i < nblk; i++)
        blk_sum += blk_t[i];
    if (m->layers > 0)
        t += blk_sum * m->layers;
    if (p) /* energy in floating point: charged layer by layer, in the original's order */
        for (int64_t l = 0; l < m->layers; l++) {
            ss_power_dram(p, c->node, 0);
            ss_power_link(p, c->node, blk.link_bytes);
            for (int i = 0; i < blk.nlat; i++)
                ss_power_npu_active(p, c->node, c->hardware, blk.lat[i], c->tp);
        }

    /* head: the last layer's output goes back to host memory */
    int64_t head_ns[SS_ARCH_MAX];
    for (int i = 0; i < a->nhead; i++) {
        if ((e = layer(sim, s, &x, a->head[i], &ns, eb)))
            return e;
        head_ns[i] = ns;
        t += ns;
        b->post[b->npost++] = ns;
        if (i == a->nhead - 1) {
            int64_t out = 0;
            ss_layer_sizes(m, a->head[i], x.total_len, 0, c->tp, fp, NULL, NULL, &out);
            b->post[b->npost++] = mem_time(node->cpu_mem_lat, sim->c.nodes[0].cpu_mem_bw, out);
            t += b->post[b->npost - 1];
        }
    }
    if (p) {
        for (int i = 0; i < a->nhead; i++)
            ss_power_npu_active(p, c->node, c->hardware, head_ns[i], c->tp);
        if (b->load)
            ss_power_dram(p, c->node, (double)b->load);
    }
    if (c->place.off_npu || c->local_offload)
        return off_npu(sim, s, b, blk_name, blk_t, nblk, head_ns, p, eb);
    b->end = b->start + t;
    return IPW_OK;
}
