/* One run as the JSON object of SPEC §5.4 (snake_case keys, units in the names); a figure that
 * was not measured is null, never 0. */
#include <math.h>

#include "ipw/jsonutil.h"
#include "ipw/lab.h"

static json_t *num(double v) { return ipw_json_real_or_null(v, isfinite(v)); }
static json_t *count(long v) { return v >= 0 ? json_integer(v) : json_null(); }

json_t *ipw_lab_run_to_json(const struct ipw_lab_run *r)
{
    json_t *o = json_object();
    json_object_set_new(o, "variant", json_string(r->variant));
    json_object_set_new(o, "model", ipw_json_string_lossy(r->model));
    json_object_set_new(o, "client", json_string(r->client));
    json_object_set_new(o, "run_index", json_integer(r->batch_index));
    json_object_set_new(o, "started_at", json_real((double)r->started_unix_ns / 1e9));
    json_object_set_new(o, "prompt_sha256", json_string(r->prompt_sha256));
    struct {
        const char *k;
        double v;
    } nums[] = {
        {"prefill_wh", r->prefill_wh},
        {"decode_wh", r->decode_wh},
        {"total_wh", r->total_wh},
        {"prefill_active_wh", r->prefill_active_wh},
        {"decode_active_wh", r->decode_active_wh},
        {"total_active_wh", r->total_active_wh},
        {"idle_watts", r->idle_watts},
        {"closure_error_wh", r->closure_error_wh},
        {"wh_per_1000_etokens", r->wh_per_1000_etokens},
        {"prefill_wh_per_1000_input_tokens", r->prefill_wh_per_1000_input_tokens},
        {"decode_wh_per_1000_output_tokens", r->decode_wh_per_1000_output_tokens},
        {"active_wh_per_1000_etokens", r->active_wh_per_1000_etokens},
        {"prefill_active_wh_per_1000_input_tokens", r->prefill_active_wh_per_1000_input_tokens},
        {"decode_active_wh_per_1000_output_tokens", r->decode_active_wh_per_1000_output_tokens},
        {"cpu_wh", r->cpu_wh},
        {"gpu_wh", r->gpu_wh},
        {"e_llm_wh", r->e_llm_wh},
        {"e_llm_capacity_wh", r->e_llm_capacity_wh},
        {"cpu_share_busy", r->cpu_share_busy},
        {"cpu_share_capacity", r->cpu_share_capacity},
        {"gpu_share", r->gpu_share},
        {"m_eff_wh", r->m_eff_wh},
        {"m_eff_deviation_pct", r->m_eff_deviation_pct},
        {"ttft_s", r->ttft_s},
        {"decode_s", r->decode_s},
        {"latency_s", r->latency_s},
        {"grid_g_per_kwh", r->grid_g_per_kwh},
        {"carbon_g", r->carbon_g},
    };
    for (size_t i = 0; i < sizeof nums / sizeof nums[0]; i++) {
        json_object_set_new(o, nums[i].k, num(nums[i].v));
        if (i == 7) /* right after the closure error, its share of the total */
            json_object_set_new(o, "closure_error_pct",
                                num(r->total_wh > 0 ? r->closure_error_wh / r->total_wh * 100
                                                    : NAN));
    }
    json_object_set_new(o, "e_llm_source",
                        json_string(ipw_lab_e_llm_source_name(r->e_llm_source)));
    json_object_set_new(o, "m_eff_flagged", json_boolean(r->m_eff_flagged));
    json_object_set_new(o, "input_tokens", count(r->input_tokens));
    json_object_set_new(o, "output_tokens", count(r->output_tokens));
    json_object_set_new(o, "token_count_source",
                        json_string(r->tokens_estimated ? "estimated" : "server"));
    json_object_set_new(o, "injection_overhead_tokens", count(r->injection_overhead_tokens));
    json_object_set_new(o, "injection_overhead_source",
                        json_string(r->overhead_estimated ? "estimated" : "server"));
    json_object_set_new(o, "collector", json_string(r->collector));
    json_object_set_new(o, "energy_source", json_string(r->energy_source));
    json_object_set_new(o, "error", r->error[0] ? ipw_json_string_lossy(r->error) : json_null());
    return o;
}
