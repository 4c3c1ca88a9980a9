/* Pipeline parallelism (pp_size > 1): where each stage of a batch runs in time. The original
 * cuts a batch's trace into pp_size stages on transformer-block boundaries (vLLM's
 * get_pp_indices: remainder blocks to the stages before the last) and runs stage s on the
 * instance's NPUs s*tp .. s*tp+tp-1. Stage 0 loads the input from host memory and runs the
 * prologue, the last stage runs the head and stores the output; between stages the hidden
 * state goes by a SEND/RECV pair through the analytical network. A stage's NPUs take the
 * next batch only when they are done with the previous one, and start computing when the
 * RECV's data has arrived, so stage s of batch b starts at
 *   max(end of stage s of batch b-1, end of stage s-1 of batch b)
 * where a stage ends when its SEND has arrived (or its store is done). Every number here is
 * known when the batch is scheduled, so the whole timeline is fixed then. */
#include <string.h>

#include "ss.h"

int64_t ss_pp_stage_blocks(int64_t layers, int pp, int s)
{
    /* an even split, the remainder one each to the stages before the last (the second to
     * last first) */
    int64_t n = layers / pp, rem = layers % pp;
    int from_end = pp - s; /* the last stage is 1 */
    return n + (from_end >= 2 && from_end < rem + 2 ? 1 : 0);
}

static int64_t sum64(const int64_t *v, int n)
{
    int64_t t = 0;
    for (int i = 0; i < n; i++)
        t += v[i];
    return t;
}

void ss_pp_stage_times(struct ipw_ss_sim *sim, struct ss_sched *s, struct ss_batch *b,
                       struct ss_power *p)
{
    const struct ss_inst_cfg *c = s->cfg;
    const struct ss_model *m = c->model;
    const struct ss_arch *a = &c->bundle->arch;
    int pp = (int)c->pp;
    int64_t fp = c->fp_bits / 8;
    /* The converter sizes the SEND from the stage's last layer (the end of a block: the
     * hidden state) and the RECV from the next stage's first; ASTRA-Sim's analytical
     * network delivers it after one hop: latency + bytes / bandwidth, truncated to ns. */
    int64_t bytes = 0;
    if (a->nmlp > 0)
        ss_layer_sizes(m, a->mlp[a->nmlp - 1], b->total_len, 0, c->tp, fp, NULL, NULL, &bytes);
    double bpns = sim->c.link_bw * 1073741824.0 / 1e9;
    b->pp_send = (int64_t)(sim->c.link_lat + (double)bytes / bpns);
    int64_t pre = sum64(b->pre, b->npre), blk = sum64(b->blk, b->nblk);
    int64_t post = sum64(b->post, b->npost);
    b->pp_n = pp;
    for (int st = 0; st < pp; st++) {
        int64_t start = st == 0 ? b->start : b->pp_fin[st - 1];
        if (st > 0 && s->stage_free[st] > start)
            start = s->stage_free[st];
        int64_t t = start + ss_pp_stage_blocks(b->layers, pp, st) * blk;
        if (st == 0)
            t += pre;
        t += st == pp - 1 ? post : b->pp_send;
        b->pp_start[st] = start;
        b->pp_fin[st] = t;
        s->stage_free[st] = t;
    }
    b->end = b->pp_fin[pp - 1];
    if (p) {
        /* the original charges total_len x hidden x (pp - 1) bytes: no bytes-per-element
         * factor and one rank's share; --fix-pp-link-bytes charges what the SENDs move */
        double link = (double)b->total_len * (double)m->hidden * (double)(pp - 1);
        if (sim->opt.fix_pp_link_bytes)
            link = (double)bytes * (double)c->tp * (double)(pp - 1);
        ss_power_link(p, c->node, link);
    }
}

/* stage st's node list: [pre] blocks x n [post] (the SEND is the stage's last event) */
static int64_t stage_next(const struct ss_batch *b, int st, int64_t t)
{
    int last = b->pp_n - 1;
    int64_t reps = ss_pp_stage_blocks(b->layers, b->pp_n, st);
    int64_t at = b->pp_start[st];
    if (st > 0 && at >= t)
        return at; /* the RECV completes as the stage starts */
    int64_t ev = ss_seq_next_event(at, b->pre, st == 0 ? b->npre : 0, b->blk, b->nblk, reps,
                                   b->post, st == last ? b->npost : 0, t);
    if (ev == SS_INF && b->pp_fin[st] >= t)
        ev = b->pp_fin[st];
    return ev;
}

int64_t ss_pp_next_event(const struct ss_batch *b, int64_t t)
{
    int64_t best = SS_INF;
    for (int st = 0; st < b->pp_n; st++) {
        if (b->pp_fin[st] < t)
            continue;
        int64_t ev = stage_next(b, st, t);
        if (ev < best)
            best = ev;
    }
    return best;
}

int64_t ss_pp_next_milestone(const struct ss_batch *b, int64_t t)
{
    int64_t best = SS_INF;
    for (int st = 0; st < b->pp_n; st++)
        if (b->pp_fin[st] >= t && b->pp_fin[st] < best)
            best = b->pp_fin[st];
    return best;
}
