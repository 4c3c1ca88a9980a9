/* P/D disaggregation (pd_type "prefill" / "decode"), as the original runs it. New requests go
 * to the non-decode instances. A prefill instance's trace sends each layer's K and V (after
 * qkv_proj) and, at the end, the last layer's output to paired receiver NPUs (the original
 * gives a prefill instance twice its NPUs for them) instead of storing the output to host
 * memory; its batch completes when both its first NPU and the last receiver are done, i.e.
 * when the last transfer has arrived. A finished prefill (its first token produced) moves to a
 * decode instance, which claims KV blocks for it and decodes it from there. */
#include <stdlib.h>

#include "ss.h"

int64_t ss_pd_kv_bytes(const struct ss_inst_cfg *c, const struct ss_batch *b)
{
    /* per layer and rank: K and V of this step's tokens plus, on a request's first step, its
     * prefix-cache hit (the decode side needs that KV too) */
    if (c->pd != SS_PD_PREFILL || b->pd_kv_tokens <= 0)
        return 0;
    int64_t kv_fp = c->kv_fp8 ? 1 : c->fp_bits / 8;
    return 2 * c->model->kv_heads * c->model->head_dim * b->pd_kv_tokens * kv_fp / c->tp;
}

static int64_t send_ns(const struct ss_cluster *cl, int64_t bytes)
{
    /* one hop of the analytical network: latency + bytes / bandwidth, truncated to ns */
    return (int64_t)(cl->link_lat + (double)bytes / (cl->link_bw * 1073741824.0 / 1e9));
}

void ss_pd_prefill_times(struct ipw_ss_sim *sim, struct ss_sched *s, struct ss_batch *b,
                         struct ss_power *p)
{
    const struct ss_inst_cfg *c = s->cfg;
    const struct ss_model *m = c->model;
    const struct ss_arch *a = &c->bundle->arch;
    int64_t fp = c->fp_bits / 8, out = 0;
    if (a->nhead > 0)
        ss_layer_sizes(m, a->head[a->nhead - 1], b->total_len, 0, c->tp, fp, NULL, NULL, &out);
    /* the output goes to the receiver instead of host memory: the store node becomes a send */
    int64_t store = b->npost ? b->post[b->npost - 1] : 0, d_out = send_ns(&sim->c, out);
    if (b->npost)
        b->post[b->npost - 1] = d_out;
    int64_t fin = b->end - store + d_out;
    /* the last layer's K/V send may arrive after the output (a long prefill) */
    int64_t kv = ss_pd_kv_bytes(c, b);
    if (kv > 0 && b->layers > 0) {
        int64_t pre = 0, blk = 0;
        for (int i = 0; i < b->npre; i++)
            pre += b->pre[i];
        for (int i = 0; i < b->nblk; i++)
            blk += b->blk[i];
        int64_t last_kv = b->start + pre + (b->layers - 1) * blk + b->qkv_at + send_ns(&sim->c, kv);
        if (last_kv > fin)
            fin = last_kv;
    }
    b->end = fin;
    s->stage_free[0] = fin;
    if (p) {
        /* the original also charges tokens x hidden + sequences x hidden elements at the end
         * of the trace, on top of the per-layer K/V sends already charged: the transfer
         * counted twice. --fix-pd-link-bytes charges the output send instead. */
        double extra = ((double)b->total_len * (double)m->hidden +
                        (double)b->nreq * (double)m->hidden) * (double)fp;
        if (sim->opt.fix_pd_link_bytes)
            extra = (double)out;
        ss_power_link(p, c->node, extra);
    }
}

ipw_err ss_pd_add_decode(struct ss_sched *s, struct ss_req *r, ipw_errbuf *eb)
{
    /* the decode instance claims blocks for the sequence so far (its own prefix hits count);
     * the KV transfer was charged on the prefill side, so no recall bytes here */
    r->instance = s->idx;
    r->finished = false;
    size_t cap = (size_t)(r->num_reached / s->cfg->block_size) + 1;
    int32_t *hit = malloc(cap * sizeof *hit);
    if (!hit)
        return ipw_fail(eb, IPW_E_NOMEM, "out of memory");
    int64_t lower = 0;
    size_t nhit = ss_kv_computed_blocks(&s->kv, r, hit, cap, &lower);
    int64_t computed = r->num_computed;
    bool ok = ss_kv_allocate(&s->kv, r, 1, hit, nhit, (int64_t)nhit * s->cfg->block_size, lower);
    free(hit);
    if (!ok)
        return ipw_fail(eb, IPW_E_RANGE, "decode instance %d cannot take request %lld: its %lld "
                        "tokens need more KV blocks than the %lld free of %lld (raise "
                        "npu_mem.mem_size or lower the load)", s->idx, (long long)r->id,
                        (long long)r->num_reached, (long long)s->kv.npu.nfree,
                        (long long)s->kv.npu.num_blocks);
    r->num_computed = computed;
    s->kv.recall_bytes = s->kv.write_through_bytes = 0;
    ss_sched_add_running(s, r);
    return s->nrun && s->running[s->nrun - 1] == r
               ? IPW_OK
               : ipw_fail(eb, IPW_E_NOMEM, "out of memory");
}
