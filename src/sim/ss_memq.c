/* Weights placed off the NPU (`placement` weights "cpu" or "cxl:<id>"), as the original runs
 * them: its Chakra converter gives each layer whose weights are not LOCAL a weight-load node
 * without parents, so ASTRA-Sim issues every one of them when the batch's workload starts, in
 * layer order; memory nodes take no compute slot. The analytical memory backend serializes
 * the loads per device: one FIFO per node's host memory (REMOTE:<node>, shared with the
 * input load and the output store) and one per CXL device (shared by the whole cluster), each
 * load taking mem_latency + bytes / mem_bw (bandwidth in GB/s read as bytes per ns, both as
 * integers, the quotient truncated). A layer computes when the layer before it is done and its
 * own weights have arrived. The bytes loaded are charged as DRAM energy, as the original's
 * trace generator charges them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ss.h"

struct ss_wloc ss_place_weights(const struct ss_place *pl, const char *name, int64_t block)
{
    /* priority: a layer entry, then the block range holding the layer, then the default */
    for (int i = 0; i < pl->nlayers; i++)
        if (!strcmp(pl->layers[i].name, name) && pl->layers[i].w.kind >= 0)
            return pl->layers[i].w;
    for (int i = 0; block >= 0 && i < pl->nranges; i++)
        if (block >= pl->ranges[i].lo && block <= pl->ranges[i].hi && pl->ranges[i].w.kind >= 0)
            return pl->ranges[i].w;
    if (pl->def.kind >= 0)
        return pl->def;
    return (struct ss_wloc){SS_W_NPU, 0};
}

/* one load through a queue free at *q, issued at t: when it is done */
static int64_t enqueue(int64_t *q, int64_t t, int64_t dur)
{
    int64_t start = *q > t ? *q : t;
    *q = start + dur;
    return *q;
}

ipw_err ss_memq_time(struct ipw_ss_sim *sim, struct ss_sched *s, struct ss_batch *b,
                     const char *const *names, const int64_t *blocks, const int64_t *rows,
                     size_t nrows, int64_t pre_io, int64_t store, struct ss_power *p,
                     ipw_errbuf *eb)
{
    const struct ss_inst_cfg *c = s->cfg;
    const struct ss_cluster *cl = &sim->c;
    int64_t fp = c->fp_bits / 8, t0 = b->start;
    int64_t *done = malloc((nrows ? nrows : 1) * sizeof *done);
    if (!done)
        return ipw_fail(eb, IPW_E_NOMEM, "out of memory");
    /* the kv_load row and the first layer's input go first through the node's host memory
     * (their nodes come first), then every weight load in layer order */
    int64_t *qn = &sim->q_cpu[c->node];
    int64_t input_done = enqueue(qn, t0, pre_io);
    double dram = 0;
    int64_t cpu_bw = (int64_t)cl->nodes[0].cpu_mem_bw, cpu_lat = (int64_t)cl->nodes[c->node].cpu_mem_lat;
    int64_t cxl_bw = (int64_t)cl->cxl_mem_bw, cxl_lat = (int64_t)cl->cxl_mem_lat;
    for (size_t i = 0; i < nrows; i++) {
        done[i] = t0;
        if (!names[i]) /* a TP all-reduce: no weights */
            continue;
        struct ss_wloc w = ss_place_weights(&c->place, names[i], blocks[i]);
        if (w.kind == SS_W_NPU && !c->local_offload)
            continue;
        int64_t wt = 0;
        ss_layer_sizes(c->model, names[i], b->total_len, 0, c->tp, fp, NULL, &wt, NULL);
        if (wt <= 0)
            continue;
        if (w.kind == SS_W_NPU) {
            /* local offloading: the NPU's own memory has no queue (every load is independent) */
            done[i] = t0 + (int64_t)c->npu_mem_lat +
                      (int64_t)((double)wt / (double)(int64_t)c->npu_mem_bw);
            continue;
        }
        dram += (double)wt;
        if (w.kind == SS_W_CPU)
            done[i] = enqueue(qn, t0, cpu_lat + (int64_t)((double)wt / (double)cpu_bw));
        else
            done[i] = enqueue(&sim->q_cxl[w.dev], t0,
                              cxl_lat + (int64_t)((double)wt / (double)cxl_bw));
    }
    int64_t t = input_done;
    for (size_t i = 0; i < nrows; i++)
        t = (done[i] > t ? done[i] : t) + rows[i];
    free(done);
    /* the last layer's output goes back through the node's host memory */
    t = enqueue(qn, t, store);
    /* one node for the whole batch: its inner layer completions are not poll times for
     * other instances (docs/sim-fidelity.md) */
    b->npre = 1;
    b->pre[0] = t - t0;
    b->nblk = b->npost = 0;
    b->layers = 0;
    b->end = t;
    if (p && dram > 0)
        ss_power_dram(p, c->node, dram);
    return IPW_OK;
}

ipw_err ss_memq_setup(struct ipw_ss_sim *sim, ipw_errbuf *eb)
{
    const struct ss_cluster *cl = &sim->c;
    for (int i = 0; i < cl->ninst; i++) {
        const struct ss_inst_cfg *ic = &cl->inst[i];
        const struct ss_place *pl = &ic->place;
        char kp[96];
        if (ic->local_offload && (ic->pp > 1 || ic->pd != SS_PD_NONE || ic->npu_mem_bw < 1)) {
            snprintf(kp, sizeof kp, "nodes[%d].instances[%d]", ic->node, ic->local);
            return ipw_fail(eb, IPW_E_UNSUPPORTED, "%s: %s: enable_local_offloading with %s is "
                            "not simulated; drop it for this instance", cl->path, kp,
                            ic->pp > 1 ? "pp_size > 1" : ic->pd != SS_PD_NONE ? "a pd_type"
                                                                            : "npu_mem.mem_bw < 1");
        }
        if (!pl->off_npu)
            continue;
        snprintf(kp, sizeof kp, "nodes[%d].instances[%d].placement", ic->node, ic->local);
        /* each of these would issue its loads from several NPUs or stages at once */
        const char *why = ic->tp > 1   ? "tp_size > 1"
                          : ic->pp > 1 ? "pp_size > 1"
                          : ic->pd != SS_PD_NONE ? "a pd_type"
                          : ic->dp_group[0]      ? "a dp_group"
                                                 : NULL;
        if (why)
            return ipw_fail(eb, IPW_E_UNSUPPORTED, "%s: %s: weights off the NPU with %s are not "
                            "simulated; keep the weights on \"npu\" or use a single-NPU instance",
                            cl->path, kp, why);
        struct ss_wloc all[SS_PLACE_MAX + 17];
        int n = 0;
        all[n++] = pl->def;
        for (int r = 0; r < pl->nranges; r++)
            all[n++] = pl->ranges[r].w;
        for (int l = 0; l < pl->nlayers; l++)
            all[n++] = pl->layers[l].w;
        for (int k = 0; k < n; k++) {
            if (all[k].kind != SS_W_CXL)
                continue;
            if (cl->cxl_mem_size <= 0)
                return ipw_fail(eb, IPW_E_INVALID, "%s: %s: weights on \"cxl:%d\" need a top-level "
                                "cxl_mem block {mem_size, mem_bw, mem_latency, num_devices}",
                                cl->path, kp, all[k].dev);
            if (all[k].dev >= cl->cxl_devices)
                return ipw_fail(eb, IPW_E_INVALID, "%s: %s: \"cxl:%d\" is not a device of cxl_mem "
                                "(num_devices %d: cxl:0 to cxl:%d)", cl->path, kp, all[k].dev,
                                cl->cxl_devices, cl->cxl_devices - 1);
        }
    }
    sim->q_cpu = calloc((size_t)cl->num_nodes, sizeof *sim->q_cpu);
    sim->q_cxl = calloc((size_t)(cl->cxl_devices > 0 ? cl->cxl_devices : 1), sizeof *sim->q_cxl);
    if (!sim->q_cpu || !sim->q_cxl)
        return ipw_fail(eb, IPW_E_NOMEM, "out of memory");
    return IPW_OK;
}

void ss_memq_reset(struct ipw_ss_sim *sim)
{
    memset(sim->q_cpu, 0, (size_t)sim->c.num_nodes * sizeof *sim->q_cpu);
    memset(sim->q_cxl, 0, (size_t)(sim->c.cxl_devices > 0 ? sim->c.cxl_devices : 1) *
                              sizeof *sim->q_cxl);
}
