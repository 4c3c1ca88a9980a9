/* The roofline model of a transformer forward step: time is the larger of compute time (FLOPs
 * over achievable FLOP/s) and memory time (weights plus KV cache read, over achievable
 * bandwidth), plus tensor-parallel all-reduce time; the power utilisation of the step follows
 * from which resource binds. Formulas and their justification: docs/sim.md. */
#include "ipw/perfmodel.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

ipw_err ipw_perf_init(struct ipw_perf *pm, const struct ipw_hw_spec *hw,
                      const struct ipw_model_spec *m, const struct ipw_perf_options *opt,
                      ipw_errbuf *eb)
{
    struct ipw_perf_options none = {0};
    if (!opt)
        opt = &none;
    memset(pm, 0, sizeof *pm);
    pm->hw = *hw;
    pm->model = *m;
    const char *wd = opt->weight_dtype && *opt->weight_dtype ? opt->weight_dtype : m->dtype;
    if (!ipw_dtype_bytes(wd, &pm->weight_bytes_per_param))
        return ipw_fail(eb, IPW_E_INVALID,
                        "unknown weight dtype '%s': use bfloat16, float16, fp8, int8, int4, "
                        "q8_0, q4_k_m or q4_0",
                        wd);
    /* The KV cache stays in 16 bits under weight-only quantisation unless asked otherwise. */
    const char *kd = opt->kv_dtype && *opt->kv_dtype ? opt->kv_dtype
                     : m->dtype_bytes == 2           ? m->dtype
                                                     : "bfloat16";
    if (!ipw_dtype_bytes(kd, &pm->kv_bytes_per_elem) ||
        (pm->kv_bytes_per_elem != 2 && pm->kv_bytes_per_elem != 1))
        return ipw_fail(eb, IPW_E_INVALID,
                        "KV cache dtype '%s' is not modelled: use bfloat16, float16 or fp8", kd);
    snprintf(pm->weight_dtype, sizeof pm->weight_dtype, "%s", wd);
    snprintf(pm->kv_dtype, sizeof pm->kv_dtype, "%s", kd);

    pm->tp = opt->tp > 1 ? opt->tp : 1;
    if (pm->tp > 64 || m->heads % pm->tp != 0)
        return ipw_fail(eb, IPW_E_INVALID,
                        "tensor-parallel degree %d does not divide the %ld attention heads of "
                        "%s: use a divisor of %ld (at most 64)",
                        opt->tp, m->heads, m->name, m->heads);
    pm->link_bw = opt->link_bw > 0 ? opt->link_bw : hw->link_bw;
    pm->link_latency_s = opt->link_latency_s > 0 ? opt->link_latency_s : 0;
    if (pm->tp > 1 && pm->link_bw <= 0)
        return ipw_fail(eb, IPW_E_INVALID,
                        "tensor parallelism over %s needs an interconnect bandwidth: its spec "
                        "has interconnect_gb_s 0; give one (link_bw) or use tp 1",
                        hw->name);

    pm->act_bytes = 2; /* activations travel in 16 bits */
    pm->weight_bytes = m->params * pm->weight_bytes_per_param;
    /* An untied input embedding is a table lookup: no multiply, and only one row read. */
    pm->active_params =
        m->params - (m->tied_embeddings ? 0.0 : (double)m->vocab * (double)m->hidden);
    pm->step_weight_bytes = pm->active_params * pm->weight_bytes_per_param;
    pm->kv_bytes_per_token =
        2.0 * (double)m->layers * (double)m->kv_heads * (double)m->head_dim * pm->kv_bytes_per_elem;
    pm->attn_flops_coeff = 4.0 * (double)m->layers * (double)m->heads * (double)m->head_dim;
    bool fp8 = pm->weight_bytes_per_param == 1 && hw->peak_flops_fp8 > 0 &&
               (strcasecmp(wd, "fp8") == 0 || strncasecmp(wd, "float8", 6) == 0);
    pm->peak_flops = fp8 ? hw->peak_flops_fp8 : hw->peak_flops_bf16;
    pm->flops_rate = pm->peak_flops * hw->eff_compute;
    pm->bytes_rate = hw->mem_bw * hw->eff_bw;
    return IPW_OK;
}

ipw_err ipw_perf_check_fit(const struct ipw_perf *pm, double kv_tokens, ipw_errbuf *eb)
{
    double need = pm->weight_bytes + kv_tokens * pm->kv_bytes_per_token;
    double have = pm->hw.mem_bytes * pm->tp;
    if (need <= have)
        return IPW_OK;
    return ipw_fail(eb, IPW_E_RANGE,
                    "%s in %s needs %.1f GB of weights plus %.1f GB of KV cache, more than the "
                    "%.0f GiB of %d x %s: use larger hardware, a smaller dtype (e.g. "
                    "dtype=int4) or fewer tokens",
                    pm->model.name, pm->weight_dtype, pm->weight_bytes / 1e9,
                    kv_tokens * pm->kv_bytes_per_token / 1e9, have / 1073741824.0, pm->tp,
                    pm->hw.name);
}

void ipw_perf_step(const struct ipw_perf *pm, const struct ipw_perf_seq *seqs, size_t n,
                   struct ipw_perf_step *out)
{
    memset(out, 0, sizeof *out);
    double tokens = 0, flops = 0, kv_read = 0;
    for (size_t i = 0; i < n; i++) {
        double nt = seqs[i].new_tokens > 0 ? (double)seqs[i].new_tokens : 0;
        double c = seqs[i].context > 0 ? (double)seqs[i].context : 0;
        tokens += nt;
        /* causal attention: new token k (0-based) sees c + k + 1 keys */
        flops += 2.0 * pm->active_params * nt + pm->attn_flops_coeff * (nt * c + nt * (nt + 1) / 2);
        if (nt > 0)
            kv_read += c * pm->kv_bytes_per_token;
    }
    if (tokens <= 0)
        return;
    double tp = (double)pm->tp;
    out->flops = flops;
    out->bytes = pm->step_weight_bytes + kv_read;
    out->compute_s = flops / tp / pm->flops_rate;
    out->memory_s = out->bytes / tp / pm->bytes_rate;
    if (pm->tp > 1) {
        /* ring all-reduce of the hidden states, twice per layer (after attention, after MLP) */
        double size = tokens * (double)pm->model.hidden * pm->act_bytes;
        double sent = 2.0 * (tp - 1) / tp * size;
        double count = 2.0 * (double)pm->model.layers;
        out->comm_bytes = count * sent;
        out->comm_s = count * (sent / pm->link_bw + pm->link_latency_s);
    }
    double core = fmax(out->compute_s, out->memory_s);
    out->time_s = core + out->comm_s;
    out->compute_bound = out->compute_s > out->memory_s;
    double u_core = fmax(pm->hw.util_compute * out->compute_s / core,
                         pm->hw.util_bw * out->memory_s / core);
    out->util = (u_core * core + pm->hw.util_bw * out->comm_s) / out->time_s;
    out->frac_compute = flops / tp / (out->time_s * pm->peak_flops);
    out->frac_memory = out->bytes / tp / (out->time_s * pm->hw.mem_bw);
}

void ipw_perf_prefill(const struct ipw_perf *pm, long prompt_tokens, struct ipw_perf_step *out)
{
    struct ipw_perf_seq s = {prompt_tokens, 0};
    ipw_perf_step(pm, &s, 1, out);
}

void ipw_perf_decode_step(const struct ipw_perf *pm, long context, struct ipw_perf_step *out)
{
    struct ipw_perf_seq s = {1, context};
    ipw_perf_step(pm, &s, 1, out);
}

void ipw_perf_request(const struct ipw_perf *pm, long n_in, long n_out,
                      struct ipw_perf_request *out)
{
    memset(out, 0, sizeof *out);
    out->input_tokens = n_in;
    out->output_tokens = n_out;
    struct ipw_perf_step st;
    ipw_perf_prefill(pm, n_in, &st);
    out->prefill_s = st.time_s;
    out->prefill_util = st.util;
    out->prefill_frac_compute = st.frac_compute;
    out->prefill_frac_memory = st.frac_memory;
    out->prefill_flops = st.flops;
    double ut = 0, bytes = 0;
    for (long j = 0; j + 1 < n_out; j++) {
        ipw_perf_decode_step(pm, n_in + j, &st);
        out->decode_s += st.time_s;
        out->decode_flops += st.flops;
        ut += st.util * st.time_s;
        bytes += st.bytes;
    }
    if (out->decode_s > 0) {
        out->decode_util = ut / out->decode_s;
        out->decode_frac_compute = out->decode_flops / pm->tp / (out->decode_s * pm->peak_flops);
        out->decode_frac_memory = bytes / pm->tp / (out->decode_s * pm->hw.mem_bw);
    }
    out->total_s = out->prefill_s + out->decode_s;
    out->flops = out->prefill_flops + out->decode_flops;
    out->macs = out->flops / 2;
    out->prefill_j = pm->tp * ipw_hw_power_w(&pm->hw, out->prefill_util) * out->prefill_s;
    out->decode_j = pm->tp * ipw_hw_power_w(&pm->hw, out->decode_util) * out->decode_s;
}

double ipw_hw_power_w(const struct ipw_hw_spec *hw, double util)
{
    util = util < 0 ? 0 : util > 1 ? 1 : util;
    return hw->idle_w + (hw->active_w - hw->idle_w) * util;
}

double ipw_hw_cpu_power_w(const struct ipw_hw_spec *hw, double busy)
{
    busy = busy < 0 ? 0 : busy > 1 ? 1 : busy;
    return hw->cpu_idle_w + (hw->cpu_active_w - hw->cpu_idle_w) * hw->cpu_busy_util * busy;
}
