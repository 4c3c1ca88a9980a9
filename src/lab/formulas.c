/* The lab's formulas (SPEC §5.2 steps 3-7): closure, active energies, per-1000-token figures,
 * E_llm from the measured shares, M_eff and its flag, carbon. Pure arithmetic on one run, so
 * the command line, the web page and the tests all compute the same numbers. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "ipw/lab.h"

void ipw_lab_run_init(struct ipw_lab_run *r)
{
    memset(r, 0, sizeof *r);
    double *nan_fields[] = {
        &r->prefill_wh, &r->decode_wh, &r->total_wh, &r->cpu_wh, &r->gpu_wh, &r->idle_watts,
        &r->ttft_s, &r->decode_s, &r->latency_s, &r->server_eval_s, &r->cpu_share_busy,
        &r->cpu_share_capacity, &r->gpu_share, &r->scaph_wh, &r->closure_error_wh,
        &r->prefill_active_wh, &r->decode_active_wh, &r->total_active_wh,
        &r->wh_per_1000_etokens, &r->prefill_wh_per_1000_input_tokens,
        &r->decode_wh_per_1000_output_tokens, &r->active_wh_per_1000_etokens,
        &r->prefill_active_wh_per_1000_input_tokens, &r->decode_active_wh_per_1000_output_tokens,
        &r->e_llm_wh, &r->e_llm_capacity_wh, &r->m_eff_wh, &r->m_eff_deviation_pct,
        &r->grid_g_per_kwh, &r->carbon_g};
    for (size_t i = 0; i < sizeof nan_fields / sizeof nan_fields[0]; i++)
        *nan_fields[i] = NAN;
    r->input_tokens = r->output_tokens = r->injection_overhead_tokens = -1;
    snprintf(r->energy_source, sizeof r->energy_source, "none");
}

const char *ipw_lab_e_llm_source_name(enum ipw_lab_e_llm_source s)
{
    switch (s) {
    case IPW_LAB_E_LLM_PROCTREE: return "proctree";
    case IPW_LAB_E_LLM_SCAPHANDRE: return "scaphandre";
    case IPW_LAB_E_LLM_TOTAL: return "total";
    default: return "none";
    }
}

/* A difference of two figures that agree to the last bits of a double is rounding, not
 * energy: 0, rather than a -3.5e-18 Wh that reads like a measurement. */
static double rounding_to_zero(double diff, double scale)
{
    return fabs(diff) <= 8 * DBL_EPSILON * fabs(scale) ? 0 : diff;
}

/* E - P_idle x dt, never below zero (a phase can dip under the baseline by noise). */
static double active(double wh, double idle_w, double secs)
{
    if (!isfinite(wh) || !isfinite(idle_w) || !isfinite(secs))
        return NAN;
    double a = rounding_to_zero(wh - idle_w * secs / 3600.0, wh);
    return a > 0 ? a : 0;
}

/* Wh per 1000 tokens; NaN ("insufficient tokens") when there are none. The original divided
 * by max(tokens/1000, 0.001), which turns zero tokens into a large, meaningless figure. */
static double per_1000(double wh, long tokens)
{
    if (!isfinite(wh) || tokens <= 0)
        return NAN;
    return wh / (double)tokens * 1000.0;
}

static void derive_e_llm(struct ipw_lab_run *r)
{
    r->e_llm_source = IPW_LAB_E_LLM_NONE;
    if (!r->have_energy)
        return;
    /* The process tree: its share of the CPU package, plus its share of the GPU. A part whose
     * energy is not measured contributes nothing; if neither part exists, fall through. */
    double cpu = isfinite(r->cpu_wh) ? r->cpu_wh : NAN;
    double gpu = isfinite(r->gpu_wh) ? r->gpu_wh : NAN;
    bool cpu_part = isfinite(cpu) && isfinite(r->cpu_share_busy);
    bool gpu_part = isfinite(gpu) && isfinite(r->gpu_share);
    if (cpu_part || gpu_part) {
        double g = gpu_part ? r->gpu_share * gpu : 0;
        r->e_llm_wh = (cpu_part ? r->cpu_share_busy * cpu : 0) + g;
        r->e_llm_capacity_wh =
            (cpu_part && isfinite(r->cpu_share_capacity) ? r->cpu_share_capacity * cpu : 0) + g;
        r->e_llm_source = IPW_LAB_E_LLM_PROCTREE;
        return;
    }
    if (isfinite(r->scaph_wh) && r->scaph_wh > 0) {
        /* Scaphandre gives each process its share of capacity */
        r->e_llm_wh = r->e_llm_capacity_wh = r->scaph_wh;
        r->e_llm_source = IPW_LAB_E_LLM_SCAPHANDRE;
        return;
    }
    r->e_llm_wh = r->e_llm_capacity_wh = r->total_wh;
    r->e_llm_source = IPW_LAB_E_LLM_TOTAL;
}

void ipw_lab_run_derive(struct ipw_lab_run *r, double grid_g_per_kwh)
{
    r->grid_g_per_kwh = grid_g_per_kwh;
    if (r->have_energy) {
        r->closure_error_wh =
            rounding_to_zero(r->total_wh - (r->prefill_wh + r->decode_wh), r->total_wh);
        r->prefill_active_wh = active(r->prefill_wh, r->idle_watts, r->ttft_s);
        r->decode_active_wh = active(r->decode_wh, r->idle_watts, r->decode_s);
        r->total_active_wh = active(r->total_wh, r->idle_watts, r->latency_s);
        r->wh_per_1000_etokens = per_1000(r->total_wh, r->output_tokens);
        r->prefill_wh_per_1000_input_tokens = per_1000(r->prefill_wh, r->input_tokens);
        r->decode_wh_per_1000_output_tokens = per_1000(r->decode_wh, r->output_tokens);
        r->active_wh_per_1000_etokens = per_1000(r->total_active_wh, r->output_tokens);
        r->prefill_active_wh_per_1000_input_tokens =
            per_1000(r->prefill_active_wh, r->input_tokens);
        r->decode_active_wh_per_1000_output_tokens =
            per_1000(r->decode_active_wh, r->output_tokens);
        r->carbon_g = ipw_lab_carbon_g(r->total_wh, grid_g_per_kwh);
    }
    derive_e_llm(r);
    r->m_eff_wh = r->m_eff_deviation_pct = NAN;
    r->m_eff_flagged = false;
    if (isfinite(r->e_llm_wh) && isfinite(r->server_eval_s) && isfinite(r->latency_s) &&
        r->latency_s > 0) {
        double s = r->server_eval_s / r->latency_s;
        s = s < 0 ? 0 : s > 1 ? 1 : s;
        r->m_eff_wh = r->e_llm_wh * s;
        if (r->e_llm_wh > 0) {
            r->m_eff_deviation_pct = fabs(r->m_eff_wh - r->e_llm_wh) / r->e_llm_wh * 100.0;
            r->m_eff_flagged = r->m_eff_deviation_pct >= IPW_LAB_M_EFF_FLAG_PCT;
        }
    }
}
