/* The cluster config (the original's JSON schema) and each instance's runtime settings
 * (instance key > command line > default). Every key is checked; a bad one is reported with
 * the file, its key path and what is allowed. */
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ss.h"

struct ctx {
    const char *file;
    ipw_errbuf *eb;
    bool pim; /* --enable-attn-offloading: the PIM INI supplies dram.dimm_size and idle_power */
};

static ipw_err bad(struct ctx *c, const char *kp, const char *what)
{
    return ipw_fail(c->eb, IPW_E_INVALID, "%s: %s: %s", c->file, kp, what);
}

/* A number at obj[key]; required, or dflt. min_excl: value must be > lo (else >= lo). */
static ipw_err getnum(struct ctx *c, json_t *obj, const char *kp, const char *key, bool required,
                      double dflt, double lo, bool lo_excl, double *out)
{
    char path[256];
    snprintf(path, sizeof path, "%s%s%s", kp, *kp ? "." : "", key);
    json_t *v = json_object_get(obj, key);
    if (!v) {
        if (required)
            return bad(c, path, "is missing (a number)");
        *out = dflt;
        return IPW_OK;
    }
    if (!json_is_number(v))
        return bad(c, path, "must be a number");
    double d = json_number_value(v);
    if (!isfinite(d) || (lo_excl ? d <= lo : d < lo)) {
        char msg[128];
        snprintf(msg, sizeof msg, "%g is out of range (must be %s %g)", d, lo_excl ? ">" : ">=", lo);
        return bad(c, path, msg);
    }
    *out = d;
    return IPW_OK;
}

static ipw_err getint(struct ctx *c, json_t *obj, const char *kp, const char *key, bool required,
                      int64_t dflt, int64_t lo, int64_t *out)
{
    char path[256];
    snprintf(path, sizeof path, "%s%s%s", kp, *kp ? "." : "", key);
    json_t *v = json_object_get(obj, key);
    if (!v || json_is_null(v)) {
        if (required)
            return bad(c, path, "is missing (an integer)");
        *out = dflt;
        return IPW_OK;
    }
    if (!json_is_integer(v))
        return bad(c, path, "must be an integer");
    if (json_integer_value(v) < lo) {
        char msg[96];
        snprintf(msg, sizeof msg, "%lld is out of range (must be >= %lld)",
                 (long long)json_integer_value(v), (long long)lo);
        return bad(c, path, msg);
    }
    *out = json_integer_value(v);
    return IPW_OK;
}

static ipw_err getbool(struct ctx *c, json_t *obj, const char *kp, const char *key, bool dflt,
                       bool *out)
{
    json_t *v = json_object_get(obj, key);
    if (!v) {
        *out = dflt;
        return IPW_OK;
    }
    if (!json_is_boolean(v)) {
        char path[256];
        snprintf(path, sizeof path, "%s.%s", kp, key);
        return bad(c, path, "must be true or false");
    }
    *out = json_is_true(v);
    return IPW_OK;
}

static ipw_err getmem(struct ctx *c, json_t *obj, const char *kp, const char *key, double *size,
                      double *bw, double *lat)
{
    char path[256];
    snprintf(path, sizeof path, "%s.%s", kp, key);
    json_t *m = json_object_get(obj, key);
    if (!json_is_object(m))
        return bad(c, path, "is missing (an object {mem_size GB, mem_bw GB/s, mem_latency ns})");
    ipw_err e;
    if ((e = getnum(c, m, path, "mem_size", true, 0, 0, true, size)) ||
        (e = getnum(c, m, path, "mem_bw", true, 0, 0, true, bw)) ||
        (e = getnum(c, m, path, "mem_latency", true, 0, 0, false, lat)))
        return e;
    return IPW_OK;
}

static const char *short_dtype(const char *d)
{
    if (!strcmp(d, "bfloat16"))
        return "bf16";
    if (!strcmp(d, "float16"))
        return "fp16";
    if (!strcmp(d, "float32"))
        return "fp32";
    return d; /* fp8, int8 */
}

static int64_t dtype_bits(const char *d)
{
    if (!strcmp(d, "float16") || !strcmp(d, "bfloat16"))
        return 16;
    if (!strcmp(d, "float32"))
        return 32;
    if (!strcmp(d, "fp8") || !strcmp(d, "int8"))
        return 8;
    return 0;
}

static ipw_err load_power(struct ctx *c, json_t *pw, const char *kp, struct ss_power_cfg *p)
{
    ipw_err e;
    char path[256];
    if ((e = getnum(c, pw, kp, "base_node_power", true, 0, 0, false, &p->base_node)))
        return e;
    static const char *objs[] = {"npu", "cpu", "dram", "link", "nic", "storage"};
    for (int i = 0; i < 6; i++)
        if (!json_is_object(json_object_get(pw, objs[i]))) {
            snprintf(path, sizeof path, "%s.%s", kp, objs[i]);
            return bad(c, path, "is missing (every key of the power block is required)");
        }
    json_t *npu = json_object_get(pw, "npu");
    const char *hw;
    json_t *hv;
    json_object_foreach(npu, hw, hv)
    {
        if (p->nnpu == 8)
            break;
        struct ss_power_npu *n = &p->npu[p->nnpu++];
        snprintf(n->hardware, sizeof n->hardware, "%s", hw);
        snprintf(path, sizeof path, "%s.npu.%s", kp, hw);
        if (!json_is_object(hv))
            return bad(c, path, "must be an object");
        if ((e = getnum(c, hv, path, "idle_power", true, 0, 0, false, &n->idle)) ||
            (e = getnum(c, hv, path, "standby_power", true, 0, 0, false, &n->standby)) ||
            (e = getnum(c, hv, path, "active_power", true, 0, 0, false, &n->active)) ||
            (e = getnum(c, hv, path, "standby_duration", true, 0, 0, false, &n->standby_duration)))
            return e;
    }
    json_t *o = json_object_get(pw, "cpu");
    snprintf(path, sizeof path, "%s.cpu", kp);
    if ((e = getnum(c, o, path, "idle_power", true, 0, 0, false, &p->cpu_idle)) ||
        (e = getnum(c, o, path, "active_power", true, 0, 0, false, &p->cpu_active)) ||
        (e = getnum(c, o, path, "util", true, 0, 0, false, &p->cpu_util)))
        return e;
    o = json_object_get(pw, "dram");
    snprintf(path, sizeof path, "%s.dram", kp);
    if ((e = getnum(c, o, path, "dimm_size", !c->pim, 1, 0, true, &p->dram_dimm_size)) ||
        (e = getnum(c, o, path, "idle_power", !c->pim, 0, 0, false, &p->dram_idle)) ||
        (e = getnum(c, o, path, "energy_per_bit", true, 0, 0, false, &p->dram_epb)))
        return e;
    o = json_object_get(pw, "link");
    snprintf(path, sizeof path, "%s.link", kp);
    if ((e = getnum(c, o, path, "num_links", true, 0, 0, false, &p->link_num)) ||
        (e = getnum(c, o, path, "idle_power", true, 0, 0, false, &p->link_idle)) ||
        (e = getnum(c, o, path, "energy_per_bit", true, 0, 0, false, &p->link_epb)))
        return e;
    o = json_object_get(pw, "nic");
    snprintf(path, sizeof path, "%s.nic", kp);
    if ((e = getnum(c, o, path, "num_nics", true, 0, 0, false, &p->nic_num)) ||
        (e = getnum(c, o, path, "idle_power", true, 0, 0, false, &p->nic_idle)))
        return e;
    o = json_object_get(pw, "storage");
    snprintf(path, sizeof path, "%s.storage", kp);
    if ((e = getnum(c, o, path, "num_devices", true, 0, 0, false, &p->storage_num)) ||
        (e = getnum(c, o, path, "idle_power", true, 0, 0, false, &p->storage_idle)))
        return e;
    return IPW_OK;
}

/* One placement entry {weights, kv_loc, kv_evict_loc}: values npu | cpu | cxl:<id>. Weights
 * anywhere are simulated (ss_memq.c); kv_loc is checked and, as in the original, not used;
 * kv_evict_loc (where a lower-tier recall comes from) only "cpu". *w gets the weights' place
 * (kind -1 when the entry does not say). */
static ipw_err check_entry(struct ctx *c, json_t *e, const char *kp, struct ss_wloc *w)
{
    static const char *keys[] = {"weights", "kv_loc", "kv_evict_loc"};
    char path[320];
    w->kind = -1;
    w->dev = 0;
    if (!json_is_object(e))
        return bad(c, kp, "must be an object {weights, kv_loc, kv_evict_loc}");
    for (size_t i = 0; i < 3; i++) {
        json_t *v = json_object_get(e, keys[i]);
        if (!v)
            continue;
        snprintf(path, sizeof path, "%s.%s", kp, keys[i]);
        const char *s = json_string_value(v);
        char *end = NULL;
        long dev = 0;
        if (s && !strncmp(s, "cxl:", 4)) {
            dev = strtol(s + 4, &end, 10);
            if (end == s + 4 || *end || dev < 0 || dev > 1000)
                return bad(c, path, "must be \"npu\", \"cpu\" or \"cxl:<id>\" (a CXL device "
                                    "number)");
        } else if (!s || (strcmp(s, "npu") && strcmp(s, "cpu"))) {
            return bad(c, path, "must be \"npu\", \"cpu\" or \"cxl:<id>\"");
        }
        if (i == 0) {
            w->kind = !strcmp(s, "npu") ? SS_W_NPU : !strcmp(s, "cpu") ? SS_W_CPU : SS_W_CXL;
            w->dev = (int16_t)dev;
        } else if (i == 2 && strcmp(s, "cpu")) {
            return ipw_fail(c->eb, IPW_E_UNSUPPORTED, "%s: %s: \"%s\" is not simulated by this "
                            "version of ipw simulate (only cpu; docs/sim-fidelity.md)", c->file,
                            path, s);
        }
    }
    return IPW_OK;
}

/* "0-3,5,8" into ranges */
static ipw_err parse_ranges(struct ctx *c, const char *s, const char *kp, struct ss_place *pl,
                            struct ss_wloc w)
{
    while (*s) {
        char *end;
        long lo = strtol(s, &end, 10), hi = lo;
        if (end == s || lo < 0)
            return bad(c, kp, "must be a block range list such as \"0-3,5\"");
        s = end;
        if (*s == '-') {
            hi = strtol(s + 1, &end, 10);
            if (end == s + 1 || hi < lo)
                return bad(c, kp, "must be a block range list such as \"0-3,5\"");
            s = end;
        }
        if (pl->nranges == SS_PLACE_MAX)
            return bad(c, kp, "has more than 64 ranges");
        pl->ranges[pl->nranges].lo = (int32_t)lo;
        pl->ranges[pl->nranges].hi = (int32_t)hi;
        pl->ranges[pl->nranges++].w = w;
        if (*s == ',')
            s++;
        else if (*s)
            return bad(c, kp, "must be a block range list such as \"0-3,5\"");
    }
    return IPW_OK;
}

static ipw_err check_placement(struct ctx *c, json_t *pl, const char *kp, struct ss_place *out)
{
    char path[256];
    memset(out, 0, sizeof *out);
    out->def.kind = -1;
    if (!pl || json_is_null(pl))
        return IPW_OK;
    snprintf(path, sizeof path, "%s.placement", kp);
    if (!json_is_object(pl))
        return bad(c, path, "must be an object {default, blocks, layers}");
    ipw_err e;
    json_t *d = json_object_get(pl, "default");
    char p2[320];
    if (d) {
        snprintf(p2, sizeof p2, "%s.default", path);
        if ((e = check_entry(c, d, p2, &out->def)))
            return e;
    }
    json_t *blocks = json_object_get(pl, "blocks");
    if (blocks && !json_is_array(blocks))
        return bad(c, path, "blocks must be an array of {blocks: \"0-3,5\", ...}");
    for (size_t i = 0; blocks && i < json_array_size(blocks); i++) {
        snprintf(p2, sizeof p2, "%s.blocks[%zu]", path, i);
        json_t *b = json_array_get(blocks, i);
        struct ss_wloc w;
        if ((e = check_entry(c, b, p2, &w)))
            return e;
        json_t *r = json_object_get(b, "blocks");
        if (!json_is_string(r))
            return bad(c, p2, "needs \"blocks\": a range list such as \"0-3,5\"");
        char p3[340];
        snprintf(p3, sizeof p3, "%s.blocks", p2);
        if ((e = parse_ranges(c, json_string_value(r), p3, out, w)))
            return e;
    }
    json_t *layers = json_object_get(pl, "layers");
    const char *name;
    json_t *lv;
    if (layers && !json_is_object(layers))
        return bad(c, path, "layers must be an object {<layer name>: {...}}");
    json_object_foreach(layers, name, lv)
    {
        snprintf(p2, sizeof p2, "%s.layers.%s", path, name);
        if (out->nlayers == 16 || strlen(name) >= sizeof out->layers[0].name)
            return bad(c, p2, "too many layer entries (16) or a layer name over 31 characters");
        snprintf(out->layers[out->nlayers].name, sizeof out->layers[0].name, "%s", name);
        if ((e = check_entry(c, lv, p2, &out->layers[out->nlayers].w)))
            return e;
        out->nlayers++;
    }
    out->off_npu = out->def.kind > SS_W_NPU;
    for (int i = 0; i < out->nranges; i++)
        out->off_npu |= out->ranges[i].w.kind > SS_W_NPU;
    for (int i = 0; i < out->nlayers; i++)
        out->off_npu |= out->layers[i].w.kind > SS_W_NPU;
    return IPW_OK;
}
static ipw_err load_instance(struct ctx *c, const struct ipw_ss_options *o, json_t *in,
                             const char *kp, struct ss_inst_cfg *ic)
{
    ipw_err e;
    char path[256];
    json_t *v = json_object_get(in, "model_name");
    snprintf(path, sizeof path, "%s.model_name", kp);
    if (!json_is_string(v) || !*json_string_value(v))
        return bad(c, path, "is missing (a model name such as meta-llama/Llama-3.1-8B)");
    snprintf(ic->model_name, sizeof ic->model_name, "%s", json_string_value(v));
    v = json_object_get(in, "hardware");
    snprintf(path, sizeof path, "%s.hardware", kp);
    if (!json_is_string(v) || !*json_string_value(v))
        return bad(c, path, "is missing (a folder name under profiler/perf/, e.g. RTXPRO6000)");
    snprintf(ic->hardware, sizeof ic->hardware, "%s", json_string_value(v));
    if ((e = getmem(c, in, kp, "npu_mem", &ic->npu_mem_size, &ic->npu_mem_bw, &ic->npu_mem_lat)))
        return e;
    snprintf(path, sizeof path, "%s.npu_mem", kp);
    if ((e = getnum(c, json_object_get(in, "npu_mem"), path, "mem_util", false,
                    o->npu_memory_utilization, 0, true, &ic->mem_util)))
        return e;
    if (ic->mem_util > 1) {
        snprintf(path, sizeof path, "%s.npu_mem.mem_util", kp);
        return bad(c, path, "must be in (0, 1]: a fraction of mem_size, so 0.9 rather than 90");
    }
    if ((e = getint(c, in, kp, "tp_size", false, 0, 1, &ic->tp)) ||
        (e = getint(c, in, kp, "pp_size", false, 1, 1, &ic->pp)) ||
        (e = getint(c, in, kp, "num_npus", false, 0, 1, &ic->num_npus)))
        return e;
    if (!ic->tp && !ic->num_npus)
        return bad(c, kp, "needs tp_size or num_npus");
    if (!ic->tp)
        ic->tp = ic->num_npus / ic->pp;
    if (!ic->num_npus)
        ic->num_npus = ic->tp * ic->pp;
    if (ic->num_npus != ic->tp * ic->pp) {
        char msg[160];
        snprintf(msg, sizeof msg, "num_npus %lld must equal tp_size %lld x pp_size %lld",
                 (long long)ic->num_npus, (long long)ic->tp, (long long)ic->pp);
        return bad(c, kp, msg);
    }
    v = json_object_get(in, "pd_type");
    snprintf(path, sizeof path, "%s.pd_type", kp);
    if (!v || json_is_null(v))
        ic->pd = SS_PD_NONE;
    else if (json_is_string(v) && !strcmp(json_string_value(v), "prefill"))
        ic->pd = SS_PD_PREFILL;
    else if (json_is_string(v) && !strcmp(json_string_value(v), "decode"))
        ic->pd = SS_PD_DECODE;
    else
        return bad(c, path, "must be \"prefill\", \"decode\" or null");
    v = json_object_get(in, "dp_group");
    if (v && !json_is_null(v)) {
        snprintf(path, sizeof path, "%s.dp_group", kp);
        if (!json_is_string(v))
            return bad(c, path, "must be a string or null");
        snprintf(ic->dp_group, sizeof ic->dp_group, "%s", json_string_value(v));
    }
    /* runtime overrides */
    if ((e = getint(c, in, kp, "max_num_seqs", false, o->max_num_seqs, 0, &ic->max_num_seqs)) ||
        (e = getint(c, in, kp, "max_num_batched_tokens", false, o->max_num_batched_tokens, 0,
                    &ic->max_num_batched_tokens)) ||
        (e = getint(c, in, kp, "long_prefill_token_threshold", false,
                    o->long_prefill_token_threshold, 0, &ic->long_prefill_threshold)) ||
        (e = getint(c, in, kp, "block_size", false, o->block_size, 1, &ic->block_size)) ||
        (e = getbool(c, in, kp, "enable_chunked_prefill", o->enable_chunked_prefill, &ic->chunked)) ||
        (e = getbool(c, in, kp, "enable_prefix_caching", o->enable_prefix_caching,
                     &ic->prefix_caching)) ||
        (e = getbool(c, in, kp, "reserve_full_isl", o->reserve_full_isl, &ic->reserve_full_isl)) ||
        (e = getbool(c, in, kp, "enable_attn_offloading", o->enable_attn_offloading,
                     &ic->attn_offloading)) ||
        (e = getbool(c, in, kp, "enable_sub_batch_interleaving", o->enable_sub_batch_interleaving,
                     &ic->sub_batch)) ||
        (e = getbool(c, in, kp, "enable_local_offloading", o->enable_local_offloading,
                     &ic->local_offload)))
        return e;
    if (ic->sub_batch && !ic->attn_offloading) {
        snprintf(path, sizeof path, "%s.enable_sub_batch_interleaving", kp);
        return bad(c, path, "needs attention offloading (enable_attn_offloading or "
                            "--enable-attn-offloading), as in the original");
    }
    /* the original builds the PIM devices only for --enable-attn-offloading: an instance
     * that asks for offloading without it runs without, as there */
    ic->attn_offloading = ic->attn_offloading && o->enable_attn_offloading;
    if (ic->attn_offloading) {
        const char *what = ic->tp > 1   ? "tp_size"
                           : ic->pp > 1 ? "pp_size"
                           : ic->pd     ? "pd_type"
                           : ic->dp_group[0] ? "dp_group"
                                        : NULL;
        if (what) {
            snprintf(path, sizeof path, "%s.%s", kp, what);
            return ipw_fail(c->eb, IPW_E_UNSUPPORTED, "%s: %s: attention offloading is simulated "
                            "for tp_size 1, pp_size 1, no P/D role and no DP group only "
                            "(docs/sim-fidelity.md)",
                            c->file, path);
        }
    }
    if (ic->max_num_seqs == 0)
        ic->max_num_seqs = SS_INF;
    if (ic->max_num_batched_tokens == 0)
        ic->max_num_batched_tokens = SS_INF;
    static const char *unsupported[] = {"ep_size"};
    for (size_t i = 0; i < sizeof unsupported / sizeof *unsupported; i++) {
        json_t *u = json_object_get(in, unsupported[i]);
        if (u && !json_is_false(u) && !json_is_null(u)) {
            snprintf(path, sizeof path, "%s.%s", kp, unsupported[i]);
            return ipw_fail(c->eb, IPW_E_UNSUPPORTED, "%s: %s: not simulated by this version of "
                            "ipw simulate (docs/sim-fidelity.md lists what is)", c->file, path);
        }
    }
    if ((e = check_placement(c, json_object_get(in, "placement"), kp, &ic->place)))
        return e;
    if (ic->attn_offloading && ic->local_offload) {
        snprintf(path, sizeof path, "%s.enable_local_offloading", kp);
        return ipw_fail(c->eb, IPW_E_UNSUPPORTED, "%s: %s: local offloading with attention "
                        "offloading is not simulated", c->file, path);
    }
    if (ic->attn_offloading && ic->place.off_npu) {
        snprintf(path, sizeof path, "%s.placement", kp);
        return ipw_fail(c->eb, IPW_E_UNSUPPORTED, "%s: %s: weights off the NPU with attention "
                        "offloading are not simulated; keep the weights on \"npu\"", c->file,
                        path);
    }
    v = json_object_get(in, "dtype");
    const char *dt = v ? json_string_value(v) : o->dtype;
    if (v && !dt) {
        snprintf(path, sizeof path, "%s.dtype", kp);
        return bad(c, path, "must be a string");
    }
    if (dt)
        snprintf(ic->dtype, sizeof ic->dtype, "%s", dt);
    v = json_object_get(in, "kv_cache_dtype");
    const char *kvd = v ? json_string_value(v) : o->kv_cache_dtype;
    if (!kvd || (strcmp(kvd, "auto") && strcmp(kvd, "fp8"))) {
        snprintf(path, sizeof path, "%s.kv_cache_dtype", kp);
        return bad(c, path, "must be \"auto\" or \"fp8\"");
    }
    ic->kv_fp8 = !strcmp(kvd, "fp8");
    return IPW_OK;
}

/* A path that exists relative to the working directory is used as given; otherwise a relative
 * path is tried under the data directory (the original's paths are relative to its repository
 * root, e.g. configs/cluster/X.json), and a bare name under <data-dir>/configs/cluster/. */
static void resolve_path(const struct ipw_ss_options *o, const char *data_dir, char *out, size_t len)
{
    struct stat st;
    const char *p = o->cluster_config;
    snprintf(out, len, "%s", p);
    if (stat(p, &st) == 0 || p[0] == '/' || !data_dir)
        return;
    char cand[SS_PATH * 2];
    if (strchr(p, '/'))
        snprintf(cand, sizeof cand, "%s/%s", data_dir, p);
    else
        snprintf(cand, sizeof cand, "%s/configs/cluster/%s", data_dir, p);
    if (stat(cand, &st) == 0)
        snprintf(out, len, "%s", cand);
}

ipw_err ss_cluster_load(const struct ipw_ss_options *o, struct ss_cluster *cl, ipw_errbuf *eb)
{
    memset(cl, 0, sizeof *cl);
    resolve_path(o, o->data_dir, cl->path, sizeof cl->path);
    struct stat st;
    if (stat(cl->path, &st) != 0) { /* say where a bare name was looked for, and what exists */
        if (o->data_dir && o->cluster_config[0] != '/')
            return ipw_fail(eb, IPW_E_NOTFOUND,
                            "cluster config %s not found, neither here nor under %s/configs/"
                            "cluster/; give a path, or the name of a bundled config (ls %s/"
                            "configs/cluster)",
                            o->cluster_config, o->data_dir, o->data_dir);
        return ipw_fail(eb, IPW_E_NOTFOUND, "cluster config %s not found; give the path of a "
                        "cluster config file", o->cluster_config);
    }
    json_error_t je;
    json_t *root = json_load_file(cl->path, JSON_REJECT_DUPLICATES, &je);
    if (!root && je.line > 0)
        return ipw_fail(eb, IPW_E_INVALID, "cluster config %s is not valid JSON (line %d: %s); "
                        "fix the file", cl->path, je.line, je.text);
    if (!root)
        return ipw_fail(eb, IPW_E_INVALID, "cluster config %s: %s", cl->path, je.text);
    struct ctx c = {cl->path, eb, o->enable_attn_offloading};
    ipw_err e = IPW_OK;
    int64_t nn;
    if (!json_is_object(root)) {
        e = bad(&c, "(top level)", "must be a JSON object");
        goto out;
    }
    if ((e = getint(&c, root, "", "num_nodes", true, 0, 1, &nn)))
        goto out;
    json_t *nodes = json_object_get(root, "nodes");
    if (!json_is_array(nodes) || json_array_size(nodes) != (size_t)nn) {
        char msg[128];
        snprintf(msg, sizeof msg, "must be an array of num_nodes (%lld) node objects", (long long)nn);
        e = bad(&c, "nodes", msg);
        goto out;
    }
    static const char *lk[] = {"link_bw", "link_latency"};
    double *ld[] = {&cl->link_bw, &cl->link_lat};
    for (int i = 0; i < 2; i++) {
        json_t *v = json_object_get(root, lk[i]);
        if (json_is_array(v) && json_array_size(v) > 0)
            v = json_array_get(v, 0);
        if (!json_is_number(v) || json_number_value(v) < 0 || (i == 0 && json_number_value(v) <= 0)) {
            e = bad(&c, lk[i], i == 0 ? "is missing or not a positive number (GB/s, or a list per "
                                        "dimension)"
                                      : "is missing or negative (ns, or a list per dimension)");
            goto out;
        }
        *ld[i] = json_number_value(v);
    }
    json_t *cxl = json_object_get(root, "cxl_mem");
    if (cxl && !json_is_null(cxl)) {
        if (!json_is_object(cxl)) {
            e = bad(&c, "cxl_mem", "must be an object {mem_size GB, mem_bw GB/s, mem_latency ns}");
            goto out;
        }
        double ndev = 1;
        if ((e = getnum(&c, cxl, "cxl_mem", "mem_size", true, 0, 0, true, &cl->cxl_mem_size)) ||
            (e = getnum(&c, cxl, "cxl_mem", "mem_bw", true, 0, 1, false, &cl->cxl_mem_bw)) ||
            (e = getnum(&c, cxl, "cxl_mem", "mem_latency", true, 0, 0, false, &cl->cxl_mem_lat)) ||
            (e = getnum(&c, cxl, "cxl_mem", "num_devices", false, 1, 1, false, &ndev)))
            goto out;
        if (ndev != (int)ndev || ndev > 1000) {
            e = bad(&c, "cxl_mem.num_devices", "must be a whole number of devices (1 to 1000)");
            goto out;
        }
        cl->cxl_devices = (int)ndev;
    }
    cl->num_nodes = (int)nn;
    cl->nodes = calloc((size_t)nn, sizeof *cl->nodes);
    if (!cl->nodes) {
        e = ipw_fail(eb, IPW_E_NOMEM, "out of memory");
        goto out;
    }
    int all_power = 1;
    for (size_t ni = 0; ni < (size_t)nn; ni++) {
        json_t *node = json_array_get(nodes, ni);
        char kp[96];
        snprintf(kp, sizeof kp, "nodes[%zu]", ni);
        if (!json_is_object(node)) {
            e = bad(&c, kp, "must be an object");
            goto out;
        }
        struct ss_node_cfg *nc = &cl->nodes[ni];
        if ((e = getmem(&c, node, kp, "cpu_mem", &nc->cpu_mem_size, &nc->cpu_mem_bw, &nc->cpu_mem_lat)))
            goto out;
        if (o->enable_attn_offloading) {
            /* the PIM device replaces the host memory's bandwidth and latency (whole ns and
             * GB/s: ASTRA-Sim keeps both as integers) */
            char k2[128];
            snprintf(k2, sizeof k2, "%s.cpu_mem.pim_config", kp);
            json_t *pim = json_object_get(json_object_get(node, "cpu_mem"), "pim_config");
            if (!json_is_string(pim)) {
                e = bad(&c, k2, "is missing or not a string: --enable-attn-offloading needs the "
                                "name of a configs/pim/<name>.ini on every node");
                goto out;
            }
            if ((e = ss_pim_load(o->data_dir, json_string_value(pim), nc->cpu_mem_size, cl->path,
                                 k2, &nc->pimc, eb)))
                goto out;
            nc->pim = true;
            nc->cpu_mem_bw = floor(nc->pimc.mem_bw_gbs);
            nc->cpu_mem_lat = floor(nc->pimc.read_lat_ns);
        }
        int64_t ni_count;
        if ((e = getint(&c, node, kp, "num_instances", true, 0, 1, &ni_count)))
            goto out;
        json_t *insts = json_object_get(node, "instances");
        if (!json_is_array(insts) || json_array_size(insts) != (size_t)ni_count) {
            char k2[128], msg[128];
            snprintf(k2, sizeof k2, "%s.instances", kp);
            snprintf(msg, sizeof msg, "must be an array of num_instances (%lld) objects",
                     (long long)ni_count);
            e = bad(&c, k2, msg);
            goto out;
        }
        json_t *pw = json_object_get(node, "power");
        if (pw && !json_is_null(pw)) {
            char k2[128];
            snprintf(k2, sizeof k2, "%s.power", kp);
            if (!json_is_object(pw)) {
                e = bad(&c, k2, "must be an object");
                goto out;
            }
            nc->has_power = true;
            if ((e = load_power(&c, pw, k2, &nc->power)))
                goto out;
            nc->power.dram_mem_size = nc->cpu_mem_size;
            if (nc->pim) { /* the DIMMs are the PIM channels */
                nc->power.dram_dimm_size = nc->pimc.ch_capacity_gb;
                nc->power.dram_idle = nc->pimc.idle_w;
                nc->power.dram_pim_active = nc->pimc.peak_w;
            }
        } else {
            all_power = 0;
        }
        for (size_t ii = 0; ii < (size_t)ni_count; ii++) {
            struct ss_inst_cfg *ni2 = realloc(cl->inst, (size_t)(cl->ninst + 1) * sizeof *ni2);
            if (!ni2) {
                e = ipw_fail(eb, IPW_E_NOMEM, "out of memory");
                goto out;
            }
            cl->inst = ni2;
            struct ss_inst_cfg *ic = &cl->inst[cl->ninst];
            memset(ic, 0, sizeof *ic);
            ic->node = (int)ni;
            ic->local = (int)ii;
            char ikp[128];
            snprintf(ikp, sizeof ikp, "%s.instances[%zu]", kp, ii);
            json_t *in = json_array_get(insts, ii);
            if (!json_is_object(in)) {
                e = bad(&c, ikp, "must be an object");
                goto out;
            }
            if ((e = load_instance(&c, o, in, ikp, ic)))
                goto out;
            ic->start_npu = cl->total_npus;
            cl->total_npus += (int)(ic->num_npus * (ic->pd == SS_PD_PREFILL ? 2 : 1));
            cl->ninst++;
        }
    }
    cl->power = all_power && nn > 0;
    if (cl->power) {
        /* npu.<hw>.num_npus is derived: the NPUs of that hardware on the node */
        for (int i = 0; i < cl->ninst; i++) {
            struct ss_power_cfg *p = &cl->nodes[cl->inst[i].node].power;
            int k;
            for (k = 0; k < p->nnpu; k++)
                if (!strcmp(p->npu[k].hardware, cl->inst[i].hardware))
                    break;
            if (k == p->nnpu) {
                char kp[128], msg[256];
                snprintf(kp, sizeof kp, "nodes[%d].power.npu", cl->inst[i].node);
                snprintf(msg, sizeof msg, "has no entry for hardware '%s' used by an instance of "
                         "this node", cl->inst[i].hardware);
                e = bad(&c, kp, msg);
                goto out;
            }
            p->npu[k].num_npus += cl->inst[i].num_npus;
        }
    }
out:
    json_decref(root);
    if (e)
        ss_cluster_free(cl);
    return e;
}

void ss_cluster_free(struct ss_cluster *c)
{
    free(c->nodes);
    free(c->inst);
    c->nodes = NULL;
    c->inst = NULL;
}

/* Resolves dtype, precision and limits of instance ic against its model (called after the
 * model is loaded). */
ipw_err ss_inst_resolve(const struct ss_cluster *cl, int idx, struct ss_inst_cfg *ic, char *variant,
                        size_t vlen, ipw_errbuf *eb)
{
    struct ss_model *m = ic->model;
    if (!ic->dtype[0]) {
        const char *td = m->torch_dtype;
        snprintf(ic->dtype, sizeof ic->dtype, "%s", dtype_bits(td) ? td : "bfloat16");
    }
    ic->fp_bits = dtype_bits(ic->dtype);
    if (!ic->fp_bits)
        return ipw_fail(eb, IPW_E_INVALID, "%s: nodes[%d].instances[%d].dtype: '%s' is not one of "
                        "float16, bfloat16, float32, fp8, int8", cl->path, ic->node, ic->local,
                        ic->dtype);
    snprintf(variant, vlen, "%s%s", short_dtype(ic->dtype), ic->kv_fp8 ? "-kvfp8" : "");
    if (ic->max_num_batched_tokens > m->max_pos)
        ic->max_num_batched_tokens = m->max_pos;
    (void)idx;
    if (m->heads % ic->tp || m->kv_heads % ic->tp)
        return ipw_fail(eb, IPW_E_INVALID, "%s: nodes[%d].instances[%d].tp_size: %lld does not "
                        "divide %lld attention heads (%lld KV heads) of %s", cl->path, ic->node,
                        ic->local, (long long)ic->tp, (long long)m->heads, (long long)m->kv_heads,
                        m->name);
    if (ic->pp > m->layers)
        return ipw_fail(eb, IPW_E_INVALID, "%s: nodes[%d].instances[%d].pp_size: %lld exceeds the "
                        "%lld layers of %s", cl->path, ic->node, ic->local, (long long)ic->pp,
                        (long long)m->layers, m->name);
    return IPW_OK;
}
