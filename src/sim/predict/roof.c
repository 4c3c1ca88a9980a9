/* The serving simulator's per-layer roofline (issue 14 item 1). Each layer of the
 * architecture is one kernel: its time is a fixed launch cost plus a smooth maximum of its
 * FLOPs over the achievable FLOP/s and its memory traffic over the achievable bandwidth. The
 * FLOPs and bytes follow the layer's tensor shapes on one tensor-parallel rank; the
 * efficiencies and the launch cost come from the hardware spec's layer_roofline block
 * (fitted against the bundled RTX PRO 6000 and RTX 4090 tables, docs/sim-fidelity.md). */
#include "sim/predict/roof.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* vLLM's llama layer sequence (profiler/models/llama.yaml), for dense model types that ship
 * no architecture file: Mistral and Qwen2/3 run the same kernels (Qwen3's q/k norms are
 * folded into rotary_emb's traffic, a small term). */
static void llama_arch(struct ss_arch *a)
{
    memset(a, 0, sizeof *a);
    static const char *const pre[] = {"layernorm", "qkv_proj", "rotary_emb", "attention"};
    static const char *const post[] = {"o_proj", "layernorm"};
    static const char *const mlp[] = {"gate_up_proj", "act_fn", "down_proj"};
    static const char *const head[] = {"final_layernorm", "lm_head", "sampler"};
    snprintf(a->prologue[a->nprologue++], 32, "embedding");
    for (size_t i = 0; i < 4; i++)
        snprintf(a->pre_attn[a->npre++], 32, "%s", pre[i]);
    for (size_t i = 0; i < 2; i++)
        snprintf(a->post_attn[a->npost++], 32, "%s", post[i]);
    for (size_t i = 0; i < 3; i++)
        snprintf(a->mlp[a->nmlp++], 32, "%s", mlp[i]);
    for (size_t i = 0; i < 3; i++)
        snprintf(a->head[a->nhead++], 32, "%s", head[i]);
    static const struct {
        const char *n;
        enum ss_cat c;
        bool stable;
    } cat[] = {{"embedding", SS_CAT_DENSE, false},       {"layernorm", SS_CAT_DENSE, true},
               {"qkv_proj", SS_CAT_DENSE, false},        {"rotary_emb", SS_CAT_DENSE, false},
               {"o_proj", SS_CAT_DENSE, false},          {"gate_up_proj", SS_CAT_DENSE, false},
               {"act_fn", SS_CAT_DENSE, false},          {"down_proj", SS_CAT_DENSE, false},
               {"final_layernorm", SS_CAT_DENSE, true},  {"lm_head", SS_CAT_PERSEQ, false},
               {"sampler", SS_CAT_PERSEQ, true},         {"attention", SS_CAT_ATTN, false}};
    for (size_t i = 0; i < sizeof cat / sizeof cat[0]; i++) {
        snprintf(a->cat_name[a->ncat], 32, "%s", cat[i].n);
        a->cat[a->ncat] = cat[i].c;
        a->tp_stable[a->ncat++] = cat[i].stable;
    }
}

static bool llama_class(const char *type)
{
    static const char *const ok[] = {"llama", "mistral", "qwen2", "qwen3", NULL};
    for (const char *const *t = ok; *t; t++)
        if (!strcmp(type, *t))
            return true;
    return false;
}

ipw_err ss_roof_bundle_open(const char *data_dir, const char *hardware, const char *spec_path,
                            const struct ss_model *m, const char *variant, struct ss_bundle *b,
                            ipw_errbuf *eb)
{
    memset(b, 0, sizeof *b);
    struct ss_roof *r = calloc(1, sizeof *r);
    if (!r)
        return ipw_fail(eb, IPW_E_NOMEM, "out of memory");
    ipw_err e = ipw_hw_spec_load(spec_path ? spec_path : hardware, &r->hw, eb);
    if (e) {
        free(r);
        return e;
    }
    snprintf(b->hardware, sizeof b->hardware, "%s", hardware);
    snprintf(b->variant, sizeof b->variant, "%s", variant);
    snprintf(b->root, sizeof b->root, "roofline:%s/%s", r->hw.name, m->name);
    char path[SS_PATH + 64];
    snprintf(path, sizeof path, "%s/profiler/models/%s.yaml", data_dir, m->model_type);
    struct stat st;
    if (stat(path, &st) == 0) {
        if ((e = ss_arch_load(path, &b->arch, eb))) {
            free(r);
            return e;
        }
    } else if (llama_class(m->model_type)) {
        llama_arch(&b->arch);
        r->built_in_arch = true;
    } else {
        free(r);
        return ipw_fail(eb, IPW_E_UNSUPPORTED, "%s: model_type '%s' has no architecture file %s "
                        "and is not a llama-class dense model (llama, mistral, qwen2, qwen3) the "
                        "roofline model knows; add the architecture file", m->path,
                        m->model_type, path);
    }
    bool fp8 = !strcmp(variant, "fp8") && r->hw.peak_flops_fp8 > 0;
    double peak = fp8 ? r->hw.peak_flops_fp8 : r->hw.peak_flops_bf16;
    r->flops_rate = peak * r->hw.layer_eff_compute;
    r->attn_rate = r->hw.peak_flops_bf16 * r->hw.layer_eff_attn;
    r->bytes_rate = r->hw.mem_bw * r->hw.layer_eff_bw;
    r->overhead_ns = r->hw.kernel_overhead_s * 1e9;
    r->sharpness = r->hw.layer_sharpness;
    r->sms = r->hw.multiprocessors;
    ss_roof_mixed_defaults(&r->mixed);
    b->roof = r;
    return IPW_OK;
}

void ss_roof_free(struct ss_roof *r)
{
    free(r);
}

/* Kernel launches one layer makes: the sampler runs a handful of small kernels
 * (temperature, softmax, top-k/top-p, the draw), which dominate it for few sequences. */
static double launches(const char *layer)
{
    return !strcmp(layer, "sampler") ? 8.0 : 1.0;
}

/* Decode requests in a batch that also holds a prefill chunk. vLLM runs one variable-length
 * attention kernel for the whole batch; the bundled tables (docs/sim-fidelity.md, "Mixed
 * batches") show effects the decode-only kernel does not have:
 *  - the grouped query heads are not packed together, so each KV head is read about twice
 *    rather than once (1.7-2.2x the decode-only bytes on both cards, 16-128 decodes);
 *  - past about 1-2 GiB of decode KV per layer the reads approach one per query head (3.9x
 *    the decode-only time for 128 decodes at 4k context on the RTX 4090, 2.9x on the RTX
 *    PRO 6000, whose larger L2 cache keeps more of them); the specs carry no L2 size, so one
 *    share, 0.835 of the query heads, is the compromise that keeps both within 15 %;
 *  - no split over the context: one sequence's head is streamed by one thread block, at
 *    about 1/60 of the achievable bandwidth (a lone 4k-context decode costs 127 us on the
 *    RTX 4090 and 87 us on the RTX PRO 6000, 3-5x its decode-only time); the prefill chunk's
 *    heads likewise (ss_roof_layer_ns);
 *  - a cost per wave of thread blocks, one block per decode request and query head, over
 *    the spec's multiprocessors: at 128-token contexts the tables exceed the bytes by 3.1 us
 *    per wave on the RTX PRO 6000 and 5.0 us on the RTX 4090, the ratio of their bandwidths,
 *    so the cost is the time one block streams wave_bytes at its share of the bandwidth. It
 *    is a floor under the decode part, not an addition: at long contexts the bytes dominate
 *    and the waves overlap with them.
 * The constants are the same for every card; test_sim_roofline fits them on one card and
 * checks them on the other. */
void ss_roof_mixed_defaults(struct ss_roof_mixed *mx)
{
    mx->kv_reads = 2.0;
    mx->stream_share = 1.0 / 60;
    mx->full_reads_bytes = 2.0 * 1073741824.0;
    mx->full_reads_share = 0.835;
    mx->wave_bytes = 192 * 1024.0;
}

static void work(const struct ss_model *m, const char *layer, int64_t tp, int64_t fp,
                 int64_t kv_fp, const struct ss_roof_batch *x, bool decode_part, double *flops,
                 double *bytes)
{
    double p = tp > 1 ? (double)tp : 1.0;
    double h = (double)m->hidden, q = (double)(m->heads * m->head_dim) / p,
           kv = (double)(m->kv_heads * m->head_dim) / p, f = (double)m->ffn / p,
           v = (double)m->vocab / p, T = (double)x->total_len, S = (double)x->seqs,
           b = (double)fp;
    double fl = 0, by = 0;
    if (!strcmp(layer, "embedding")) {
        by = 2 * T * h * b; /* gather the rows, write the hidden states */
    } else if (strstr(layer, "layernorm")) {
        /* fused residual add + RMS norm; the residual stays in the L2 cache */
        fl = 5 * T * h;
        by = 2 * T * h * b + h * b;
    } else if (!strcmp(layer, "rotary_emb")) {
        fl = 6 * T * (q + kv);
        by = 2 * T * (q + kv) * b;
    } else if (!strcmp(layer, "qkv_proj") || !strcmp(layer, "o_proj") ||
               !strcmp(layer, "gate_up_proj") || !strcmp(layer, "down_proj") ||
               !strcmp(layer, "lm_head")) {
        double in = h, out = h;
        if (!strcmp(layer, "qkv_proj"))
            out = q + 2 * kv;
        else if (!strcmp(layer, "o_proj"))
            in = q;
        else if (!strcmp(layer, "gate_up_proj"))
            out = 2 * f;
        else if (!strcmp(layer, "down_proj"))
            in = f;
        else
            out = v;
        double rows = !strcmp(layer, "lm_head") ? S : T;
        fl = 2 * rows * in * out;
        by = in * out * b + rows * (in + out) * b;
    } else if (!strcmp(layer, "act_fn")) {
        fl = 4 * T * f;
        by = 3 * T * f * b;
    } else if (!strcmp(layer, "sampler")) {
        /* logits in fp32 (the whole vocabulary): softmax and the draw read them twice */
        fl = 5 * S * v * p;
        by = 2 * S * v * p * 4;
    } else if (!strcmp(layer, "attention")) {
        double hd = (double)m->head_dim, nh = (double)m->heads / p;
        double pc = (double)x->pc, kp = (double)x->kp, nd = (double)x->nd,
               kd = (double)x->kd_mean;
        if (decode_part) {
            /* one query per request against its kd cached keys (plus its own) */
            fl = 4 * nh * hd * nd * (kd + 1);
            by = (2 * kv * (kd + 1) * (double)kv_fp + 2 * q * b) * nd;
        } else {
            /* causal prefill: new token k sees kp + k + 1 keys; QK^T and PV, 2 FLOPs each */
            fl = 4 * nh * hd * (pc * kp + pc * (pc + 1) / 2);
            by = 2 * kv * (kp + pc) * (double)kv_fp + 2 * q * pc * b;
        }
    }
    *flops = fl;
    *bytes = by;
}

void ss_roof_layer_work(const struct ss_model *m, const char *layer, int64_t tp, int64_t fp,
                        int64_t kv_fp, const struct ss_roof_batch *x, double *flops,
                        double *bytes)
{
    work(m, layer, tp, fp, kv_fp, x, false, flops, bytes);
    if (!strcmp(layer, "attention")) {
        double f2, b2;
        work(m, layer, tp, fp, kv_fp, x, true, &f2, &b2);
        *flops += f2;
        *bytes += b2;
    }
}

/* A smooth roofline: sqrt(compute^2 + memory^2) rather than the larger of the two, since
 * a kernel near the ridge point is held back by both (the tables' linear layers at
 * 64-512 tokens sit 10-25 % above the plain maximum). */
static double kernel_s(double flops, double bytes, double frate, double brate)
{
    double c = flops / frate, m = bytes / brate;
    return sqrt(c * c + m * m);
}

/* The linear layers' roofline with the spec's sharpness p: p = 2 is kernel_s, a larger p
 * comes closer to the plain maximum (the RTX 4090's GEMMs overlap their weight stream with
 * the tensor cores better than the RTX PRO 6000's near the ridge point). */
static double kernel_p(double flops, double bytes, double frate, double brate, double p)
{
    if (p == 2)
        return kernel_s(flops, bytes, frate, brate);
    double c = flops / frate, m = bytes / brate, hi = c > m ? c : m;
    if (hi <= 0)
        return 0;
    return hi * pow(pow(c / hi, p) + pow(m / hi, p), 1 / p);
}

/* The decode part of a mixed batch's attention (see ss_roof_mixed_defaults): its KV bytes
 * read kv_reads times, rising linearly to full_reads_share of the query heads between half
 * of full_reads_bytes and full_reads_bytes, and never faster than one sequence's head streamed
 * at stream_share of the bandwidth, nor than its waves of thread blocks. */
static double mixed_decode_s(const struct ss_roof *r, const struct ss_model *m, int64_t tp,
                             int64_t kv_fp, const struct ss_roof_batch *x, double fl, double by)
{
    const struct ss_roof_mixed *mx = &r->mixed;
    double p = tp > 1 ? (double)tp : 1.0, hd = (double)m->head_dim,
           group = m->kv_heads > 0 ? (double)m->heads / (double)m->kv_heads : 1.0;
    double head_bytes = 2 * hd * (double)(x->kd_mean + 1) * (double)kv_fp;
    double kv_bytes = head_bytes * (double)m->kv_heads / p * (double)x->nd;
    double lo = mx->full_reads_bytes / 2, reads = mx->kv_reads < group ? mx->kv_reads : group;
    double top = group * mx->full_reads_share > reads ? group * mx->full_reads_share : reads;
    if (kv_bytes >= mx->full_reads_bytes)
        reads = top;
    else if (kv_bytes > lo)
        reads += (top - reads) * (kv_bytes - lo) / (mx->full_reads_bytes - lo);
    double block_rate = r->bytes_rate * mx->stream_share;
    double bulk = kernel_s(fl, by + (reads - 1) * kv_bytes, r->attn_rate, r->bytes_rate);
    double stream = head_bytes / block_rate, t = bulk > stream ? bulk : stream;
    if (r->sms > 0) { /* one thread block per decode request and query head */
        double waves_s = ceil((double)x->nd * (double)m->heads / p / r->sms) *
                         mx->wave_bytes / block_rate;
        if (waves_s > t)
            t = waves_s;
    }
    return t;
}

int64_t ss_roof_layer_ns(const struct ss_roof *r, const struct ss_model *m, const char *layer,
                         int64_t tp, int64_t fp, int64_t kv_fp, const struct ss_roof_batch *x)
{
    double fl, by, s;
    if (!strcmp(layer, "attention")) {
        double t = 0;
        if (x->pc > 0) {
            work(m, layer, tp, fp, kv_fp, x, false, &fl, &by);
            /* no split over the context either: one thread block streams a head's K,V of
             * the whole prefilled context (a 16-token chunk on 1024 tokens: 29 us on the
             * RTX PRO 6000, 41 us on the RTX 4090, against 6-8 us of bulk traffic) */
            double pre = kernel_s(fl, by, r->attn_rate, r->bytes_rate),
                   head = 2 * (double)m->head_dim * (double)(x->kp + x->pc) * (double)kv_fp,
                   stream = head / (r->bytes_rate * r->mixed.stream_share);
            t += pre > stream ? pre : stream;
        }
        if (x->nd > 0) {
            work(m, layer, tp, fp, kv_fp, x, true, &fl, &by);
            t += x->pc > 0 ? mixed_decode_s(r, m, tp, kv_fp, x, fl, by)
                           : kernel_s(fl, by, r->attn_rate, r->bytes_rate);
        }
        s = t;
    } else {
        work(m, layer, tp, fp, kv_fp, x, false, &fl, &by);
        s = kernel_p(fl, by, r->flops_rate, r->bytes_rate, r->sharpness);
    }
    double ns = r->overhead_ns * launches(layer) + s * 1e9;
    return ns < 1 ? 1 : (int64_t)ns;
}

bool ipw_ss_uses_roofline(const struct ipw_ss_sim *s)
{
    for (int i = 0; i < s->nbundles; i++)
        if (s->bundles[i].roof)
            return true;
    return false;
}
