/* Loading a simulation: options, cluster config, models, profile bundles (with the TP
 * degrees each instance needs) and one scheduler with its KV pool per instance. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ipw/datadir.h"
#include "sim/predict/roof.h"
#include "ss.h"

ipw_err ss_inst_resolve(const struct ss_cluster *cl, int idx, struct ss_inst_cfg *ic, char *variant,
                        size_t vlen, ipw_errbuf *eb);

void ipw_ss_options_init(struct ipw_ss_options *o)
{
    memset(o, 0, sizeof *o);
    o->cluster_config = "configs/cluster/single_node_single_instance.json";
    o->kv_cache_dtype = "auto";
    o->block_size = 16;
    o->max_num_seqs = 128;
    o->max_num_batched_tokens = 2048;
    o->npu_memory_utilization = 0.9;
    o->enable_chunked_prefill = true;
    o->enable_prefix_caching = true;
    o->reserve_full_isl = true;
    o->log_interval = 1.0;
}

static struct ss_model *find_model(struct ipw_ss_sim *s, const char *name, ipw_errbuf *eb)
{
    for (int i = 0; i < s->nmodels; i++)
        if (!strcmp(s->models[i].name, name))
            return &s->models[i];
    if (s->nmodels == 8) {
        ipw_fail(eb, IPW_E_RANGE, "more than 8 distinct models in one cluster");
        return NULL;
    }
    if (ss_model_load(s->data_dir, name, &s->models[s->nmodels], eb))
        return NULL;
    return &s->models[s->nmodels++];
}

static struct ss_bundle *find_bundle(struct ipw_ss_sim *s, const char *hw, struct ss_model *m,
                                     const char *variant, ipw_errbuf *eb)
{
    for (int i = 0; i < s->nbundles; i++)
        if (!strcmp(s->bundles[i].hardware, hw) && !strcmp(s->bundles[i].variant, variant) &&
            strstr(s->bundles[i].root, m->name))
            return &s->bundles[i];
    if (s->nbundles == 8) {
        ipw_fail(eb, IPW_E_RANGE, "more than 8 distinct profile bundles in one cluster");
        return NULL;
    }
    struct ss_bundle *b = &s->bundles[s->nbundles];
    /* no profile bundle: the roofline model stands in (issue 14), unless its spec is unknown
     * too; --perf-model roofline or --hardware-spec skip the tables */
    bool forced = s->opt.perf_roofline || s->opt.hardware_spec;
    ipw_errbuf tab = {0};
    if (forced || ss_bundle_open(s->data_dir, hw, m, variant, b, &tab)) {
        /* a bundle for this hardware and model that lacks the dtype variant stays an error
         * (docs/sim-fidelity.md: --dtype float16 with the bf16 bundle) */
        char dir[SS_PATH * 2];
        snprintf(dir, sizeof dir, "%s/profiler/perf/%s/%s", s->data_dir, hw, m->name);
        struct stat st;
        if (!forced && (tab.code != IPW_E_NOTFOUND || stat(dir, &st) == 0)) {
            if (eb)
                *eb = tab;
            return NULL;
        }
        ss_bundle_free(b);
        ipw_errbuf rf = {0};
        if (ss_roof_bundle_open(s->data_dir, hw, s->opt.hardware_spec, m, variant, b, &rf)) {
            if (forced && eb)
                *eb = rf;
            else
                ipw_fail(eb, IPW_E_NOTFOUND, "%s; nor can the roofline model stand in: %s",
                         tab.msg, rf.msg);
            return NULL;
        }
    }
    return &s->bundles[s->nbundles++];
}

/* build_prefix_pool: 256-token blocks (a multiple of the NPU block) of full-cluster KV bytes */
static ipw_err new_pool(struct ipw_ss_sim *s, double capacity_gb, const struct ss_inst_cfg *ic,
                        struct ss_pool **out, ipw_errbuf *eb)
{
    int64_t bs = ic->block_size, chunk = (256 / bs) * bs;
    if (chunk < bs)
        chunk = bs;
    int64_t kv_fp = ic->kv_fp8 ? 1 : ic->fp_bits / 8;
    int64_t per_tok = 2 * ic->model->kv_heads * ic->model->head_dim * ic->model->layers * kv_fp;
    int64_t bytes = per_tok * chunk;
    int64_t n = (int64_t)(capacity_gb * 1073741824.0 / (double)bytes);
    if (n < 1)
        return ipw_fail(eb, IPW_E_INVALID, "%s: %.2f GB of prefix storage is not enough for one "
                        "%lld-token chunk (%.2f MB)", s->c.path, capacity_gb, (long long)chunk,
                        (double)bytes / 1048576.0);
    struct ss_pool *p = &s->pools[s->npools];
    ipw_err e = ss_pool_init(p, n, chunk, bytes, true, eb);
    if (e)
        return e;
    s->npools++;
    *out = p;
    return IPW_OK;
}

/* The lower prefix tier: per instance, or shared per node (CPU) / cluster (CXL) with
 * --enable-prefix-sharing, as the original builds it. */
static ipw_err lower_tiers(struct ipw_ss_sim *s, ipw_errbuf *eb)
{
    const struct ipw_ss_options *o = &s->opt;
    if (o->prefix_storage == IPW_SS_STORE_NONE)
        return IPW_OK;
    bool any_pc = false;
    for (int i = 0; i < s->c.ninst; i++)
        any_pc |= s->c.inst[i].prefix_caching;
    if (!any_pc)
        return IPW_OK;
    bool cxl = o->prefix_storage == IPW_SS_STORE_CXL;
    if (cxl && s->c.cxl_mem_size <= 0)
        return ipw_fail(eb, IPW_E_INVALID, "%s: --prefix-storage CXL needs a cxl_mem block with a "
                        "positive mem_size", s->c.path);
    s->pools = calloc((size_t)s->c.ninst + (size_t)s->c.num_nodes + 1, sizeof *s->pools);
    if (!s->pools)
        return ipw_fail(eb, IPW_E_NOMEM, "out of memory");
    ipw_err e;
    if (o->enable_prefix_sharing) {
        int first = -1;
        for (int nd = 0; nd < (cxl ? 1 : s->c.num_nodes); nd++) {
            struct ss_pool *p = NULL;
            for (int i = 0; i < s->c.ninst; i++) {
                struct ss_inst_cfg *ic = &s->c.inst[i];
                if (!cxl && ic->node != nd)
                    continue;
                if (first < 0)
                    first = i;
                const struct ss_inst_cfg *f = &s->c.inst[first];
                if (ic->block_size != f->block_size || ic->model != f->model ||
                    ic->fp_bits != f->fp_bits || ic->kv_fp8 != f->kv_fp8)
                    return ipw_fail(eb, IPW_E_INVALID, "%s: a shared prefix pool needs its "
                                    "instances to share model, dtype, kv_cache_dtype and block_size",
                                    s->c.path);
                if (!p && (e = new_pool(s, cxl ? s->c.cxl_mem_size : s->c.nodes[nd].cpu_mem_size,
                                        ic, &p, eb)))
                    return e;
                if (ic->prefix_caching)
                    s->s[i].kv.lower = p;
            }
            first = -1;
        }
        return IPW_OK;
    }
    for (int i = 0; i < s->c.ninst; i++) {
        struct ss_inst_cfg *ic = &s->c.inst[i];
        if (!ic->prefix_caching)
            continue;
        if ((e = new_pool(s, cxl ? s->c.cxl_mem_size : s->c.nodes[ic->node].cpu_mem_size, ic,
                          &s->s[i].kv.lower, eb)))
            return e;
    }
    return IPW_OK;
}

ipw_err ipw_ss_load(const struct ipw_ss_options *o, struct ipw_ss_sim **out, ipw_errbuf *eb)
{
    *out = NULL;
    if (o->block_size < 1)
        return ipw_fail(eb, IPW_E_INVALID, "--block-size must be at least 1");
    if (!(o->log_interval > 0))
        return ipw_fail(eb, IPW_E_INVALID, "--log-interval must be a positive number of seconds");
    if (!(o->npu_memory_utilization > 0 && o->npu_memory_utilization <= 1))
        return ipw_fail(eb, IPW_E_INVALID, "--npu-memory-utilization must be in (0, 1]");
    struct ipw_ss_sim *s = calloc(1, sizeof *s);
    if (!s)
        return ipw_fail(eb, IPW_E_NOMEM, "out of memory");
    s->opt = *o;
    ipw_err e = IPW_OK;
    if (o->data_dir && *o->data_dir) {
        snprintf(s->data_dir, sizeof s->data_dir, "%s", o->data_dir);
    } else {
        char msg[IPW_ERRMSG_MAX];
        if (ipw_datadir_find("sim", s->data_dir, sizeof s->data_dir, msg, sizeof msg)) {
            e = ipw_fail(eb, IPW_E_NOTFOUND, "%s (or give --data-dir)", msg);
            goto fail;
        }
    }
    s->opt.data_dir = s->data_dir;
    if ((e = ss_cluster_load(&s->opt, &s->c, eb)))
        goto fail;
    s->s = calloc((size_t)s->c.ninst, sizeof *s->s);
    if (!s->s) {
        e = ipw_fail(eb, IPW_E_NOMEM, "out of memory");
        goto fail;
    }
    for (int i = 0; i < s->c.ninst; i++) {
        struct ss_inst_cfg *ic = &s->c.inst[i];
        char kp[96], variant[48];
        snprintf(kp, sizeof kp, "nodes[%d].instances[%d]", ic->node, ic->local);
        if (ic->pd != SS_PD_NONE) {
            /* a prefill instance needs somewhere to send its requests, a decode instance
             * something to receive */
            enum ss_pd other = ic->pd == SS_PD_PREFILL ? SS_PD_DECODE : SS_PD_PREFILL;
            bool found = false;
            for (int j = 0; j < s->c.ninst; j++)
                found |= s->c.inst[j].pd == other;
            if (!found) {
                e = ipw_fail(eb, IPW_E_INVALID, "%s: %s.pd_type: \"%s\" needs a \"%s\" instance in "
                             "the cluster; none has one", s->c.path, kp,
                             ic->pd == SS_PD_PREFILL ? "prefill" : "decode",
                             other == SS_PD_PREFILL ? "prefill" : "decode");
                goto fail;
            }
            if (ic->pd == SS_PD_PREFILL && ic->pp > 1) {
                e = ipw_fail(eb, IPW_E_UNSUPPORTED, "%s: %s: a prefill instance with pp_size %lld is "
                             "not simulated; use pp_size 1 for P/D", s->c.path, kp,
                             (long long)ic->pp);
                goto fail;
            }
        }
        if (ic->pp > SS_PP_MAX) {
            e = ipw_fail(eb, IPW_E_UNSUPPORTED, "%s: %s.pp_size: %lld stages; at most %d are "
                         "simulated", s->c.path, kp, (long long)ic->pp, SS_PP_MAX);
            goto fail;
        }
        if (ic->pp > 1 && o->prefix_storage != IPW_SS_STORE_NONE) {
            /* every stage's NPU would replay the kv_load row: not modelled */
            e = ipw_fail(eb, IPW_E_UNSUPPORTED, "%s: %s.pp_size: %lld with --prefix-storage %s: a "
                         "lower prefix tier with pipeline parallelism is not simulated; drop "
                         "--prefix-storage or use pp_size 1", s->c.path, kp, (long long)ic->pp,
                         o->prefix_storage == IPW_SS_STORE_CPU ? "CPU" : "CXL");
            goto fail;
        }
        if (!(ic->model = find_model(s, ic->model_name, eb))) {
            e = eb ? eb->code : IPW_E_INVALID;
            goto fail;
        }
        if ((e = ss_inst_resolve(&s->c, i, ic, variant, sizeof variant, eb)))
            goto fail;
        if (!(ic->bundle = find_bundle(s, ic->hardware, ic->model, variant, eb))) {
            e = eb ? eb->code : IPW_E_INVALID;
            goto fail;
        }
        char key[160];
        snprintf(key, sizeof key, "nodes[%d].instances[%d].tp_size %lld (hardware '%s')", ic->node,
                 ic->local, (long long)ic->tp, ic->hardware);
        if ((e = ss_bundle_need_tp(ic->bundle, (int)ic->tp, s->c.path, key, eb)))
            goto fail;
        struct ss_sched *sc = &s->s[i];
        sc->idx = i;
        sc->cfg = ic;
        sc->idle = false;
        int64_t fp = ic->fp_bits / 8, kv_fp = ic->kv_fp8 ? 1 : fp;
        sc->weight_bytes = ss_model_weight_bytes(ic->model, ic->tp, ic->pp, fp);
        double npu_mem = ic->npu_mem_size * 1073741824.0;
        if ((double)sc->weight_bytes > npu_mem) {
            e = ipw_fail(eb, IPW_E_INVALID, "%s: nodes[%d].instances[%d].npu_mem.mem_size: %g GB "
                         "does not hold the model's %lld bytes per NPU", s->c.path, ic->node, ic->local,
                         ic->npu_mem_size, (long long)sc->weight_bytes);
            goto fail;
        }
        int64_t per_tok = 2 * ic->model->kv_heads * ic->model->head_dim * ic->model->layers * kv_fp /
                          ic->num_npus;
        int64_t block_bytes = per_tok * ic->block_size;
        int64_t requested = (int64_t)(npu_mem * ic->mem_util);
        int64_t kv_bytes = requested - sc->weight_bytes;
        if (kv_bytes < block_bytes) {
            e = ipw_fail(eb, IPW_E_INVALID, "%s: nodes[%d].instances[%d].npu_mem.mem_util: %g leaves "
                         "%.2f MB for the KV cache, less than one %lld-token block (%.2f MB)",
                         s->c.path, ic->node, ic->local,
                         ic->mem_util, (double)kv_bytes / 1048576.0, (long long)ic->block_size,
                         (double)block_bytes / 1048576.0);
            goto fail;
        }
        sc->kv.block_size = ic->block_size;
        sc->kv.caching = ic->prefix_caching;
        if ((e = ss_pool_init(&sc->kv.npu, kv_bytes / block_bytes, ic->block_size, block_bytes,
                              ic->prefix_caching, eb)))
            goto fail;
        sc->inflight = calloc((size_t)ic->pp, sizeof *sc->inflight);
        sc->stage_free = calloc((size_t)ic->pp, sizeof *sc->stage_free);
        if (!sc->inflight || !sc->stage_free) {
            e = ipw_fail(eb, IPW_E_NOMEM, "out of memory");
            goto fail;
        }
    }
    if ((e = ss_dp_setup(s, eb)) || (e = ss_memq_setup(s, eb)) || (e = lower_tiers(s, eb)))
        goto fail;
    *out = s;
    return IPW_OK;
fail:
    ipw_ss_free(s);
    return e ? e : IPW_E_INVALID;
}

size_t ipw_ss_num_instances(const struct ipw_ss_sim *s)
{
    return (size_t)s->c.ninst;
}

int64_t ipw_ss_kv_blocks(const struct ipw_ss_sim *s, size_t i)
{
    return i < (size_t)s->c.ninst ? s->s[i].kv.npu.num_blocks : 0;
}

void ipw_ss_free(struct ipw_ss_sim *s)
{
    if (!s)
        return;
    for (int i = 0; s->s && i < s->c.ninst; i++) {
        struct ss_sched *sc = &s->s[i];
        for (size_t r = 0; r < sc->nrun; r++)
            ss_req_free(sc->running[r]);
        for (size_t r = 0; r < sc->nwait; r++)
            ss_req_free(sc->waiting[r]);
        for (size_t b = 0; b < sc->ninflight; b++) {
            free(sc->inflight[b].reqs);
            free(sc->inflight[b].sched);
        }
        free(sc->inflight);
        free(sc->stage_free);
        ss_pim_free(sc);
        free(sc->running);
        free(sc->picks);
        free(sc->waiting);
        free(sc->ttft);
        free(sc->tpot);
        ss_hist_free(&sc->itl);
        ss_pool_free(&sc->kv.npu);
    }
    free(s->s);
    free(s->q_cpu);
    free(s->q_cxl);
    for (int i = 0; i < s->npools; i++)
        ss_pool_free(&s->pools[i]);
    free(s->pools);
    for (int i = 0; i < s->nbundles; i++)
        ss_bundle_free(&s->bundles[i]);
    ss_cluster_free(&s->c);
    free(s);
}
