/* Turn and task records of a trace, from the meter's shares (see turns.h). */
#include "turns.h"

#include <math.h>
#include <stdbool.h>
#include <string.h>

#include "ipw/clock.h"

void ipw_agent_totals_init(struct ipw_agent_totals *tt)
{
    *tt = (struct ipw_agent_totals){NAN, NAN, NAN, NAN, NAN, NAN, 0, 0, 0, 0, 0};
}

/* Main-domain joules of e (NAN when not measured) and the sum over measured domains. */
double ipw_agent_main_joules(const struct ipw_energy *e, ipw_domain d)
{
    return (e->valid & (1u << d)) ? e->joules[d] : NAN;
}

static double all_j(const struct ipw_energy *e)
{
    double s = 0;
    bool any = false;
    for (int d = 0; d < IPW_DOMAIN_COUNT; d++)
        if (e->valid & (1u << d)) {
            s += e->joules[d];
            any = true;
        }
    return any ? s : NAN;
}

static json_t *num(double v) { return isfinite(v) ? json_real(v) : json_null(); }

static void add(double *acc, double v)
{
    if (isfinite(v))
        *acc = isfinite(*acc) ? *acc + v : v;
}

void ipw_agent_turn_add_between(json_t *turn, const struct ipw_query_share *gap, ipw_domain d,
                                struct ipw_agent_totals *tt)
{
    double e = ipw_agent_main_joules(&gap->total, d), a = all_j(&gap->total);
    double secs = gap->end_ns > gap->start_ns ? (double)(gap->end_ns - gap->start_ns) / 1e9 : 0;
    json_object_set_new(turn, "between",
                        json_pack("{s:o, s:o, s:f}", "energy_joules", num(e), "total_joules",
                                  num(a), "seconds", secs));
    double te = json_number_value(json_object_get(turn, "energy_joules"));
    double ta = json_number_value(json_object_get(turn, "total_joules"));
    bool has_te = json_is_number(json_object_get(turn, "energy_joules"));
    bool has_ta = json_is_number(json_object_get(turn, "total_joules"));
    if (isfinite(e))
        json_object_set_new(turn, "energy_joules", json_real(has_te ? te + e : e));
    if (isfinite(a))
        json_object_set_new(turn, "total_joules", json_real(has_ta ? ta + a : a));
    add(&tt->between, e);
    add(&tt->energy, e);
    add(&tt->total, a);
}

static json_t *llm_json(const struct ipw_query_share *sh, bool measured, ipw_domain d,
                        struct ipw_agent_totals *tt)
{
    double e = NAN, a = NAN, pre = NAN, dec = NAN;
    if (measured) {
        e = ipw_agent_main_joules(&sh->total, d);
        a = all_j(&sh->total);
        pre = ipw_agent_main_joules(&sh->prefill, d);
        dec = ipw_agent_main_joules(&sh->decode, d);
    }
    add(&tt->llm, e);
    add(&tt->energy, e);
    add(&tt->total, a);
    add(&tt->prefill, pre);
    add(&tt->decode, dec);
    return json_pack("{s:o, s:o, s:o, s:o}", "energy_joules", num(e), "prefill_joules", num(pre),
                     "decode_joules", num(dec), "total_joules", num(a));
}

json_t *ipw_agent_turn_json(int index, const struct ipw_chat_result *res,
                            const struct ipw_query_share *sh, bool measured, ipw_domain d,
                            struct ipw_agent_totals *tt)
{
    json_t *llm = llm_json(sh, measured, d, tt);
    double llm_s = res->end_ns > res->start_ns ? (double)(res->end_ns - res->start_ns) / 1e9 : 0;
    tt->llm_s += llm_s;
    if (res->input_tokens > 0)
        tt->in += res->input_tokens;
    if (res->output_tokens > 0)
        tt->out += res->output_tokens;
    json_t *turn = json_pack(
        "{s:i, s:o, s:o, s:f, s:o, s:o, s:s, s:o, s:o}", "turn_index", index, "input_tokens",
        res->input_tokens >= 0 ? json_integer(res->input_tokens) : json_null(), "output_tokens",
        res->output_tokens >= 0 ? json_integer(res->output_tokens) : json_null(), "llm_seconds",
        llm_s, "time_to_first_token_seconds",
        res->first_token_ns ? json_real((double)(res->first_token_ns - res->start_ns) / 1e9)
                            : json_null(),
        "llm", llm, "token_count_source",
        res->token_source == IPW_TOKENS_SERVER ? "server" : "estimated", "energy_joules",
        json_deep_copy(json_object_get(llm, "energy_joules")), "total_joules",
        json_deep_copy(json_object_get(llm, "total_joules")));
    json_object_set_new(turn, "window",
                        json_pack("{s:I, s:o, s:I}", "start_ns", (json_int_t)sh->start_ns,
                                  "first_token_ns",
                                  sh->first_token_ns ? json_integer(sh->first_token_ns)
                                                     : json_null(),
                                  "end_ns", (json_int_t)sh->end_ns));
    json_object_set_new(turn, "error",
                        res->error != IPW_OK ? json_string(res->error_msg) : json_null());
    return turn;
}


void ipw_agent_trace_totals(json_t *t, const struct ipw_agent_totals *tt, double window,
                            int64_t t0, int64_t t1, int64_t real_minus_mono)
{
    double wall = (double)(t1 - t0) / 1e9;
    json_object_set_new(t, "energy_joules", num(tt->energy));
    json_object_set_new(t, "total_joules", num(tt->total));
    json_object_set_new(t, "llm_joules", num(tt->llm));
    json_object_set_new(t, "between_joules", num(tt->between));
    json_object_set_new(t, "prefill_joules", num(tt->prefill));
    json_object_set_new(t, "decode_joules", num(tt->decode));
    json_object_set_new(t, "window_joules", num(window));
    json_object_set_new(t, "input_tokens", json_integer(tt->in));
    json_object_set_new(t, "output_tokens", json_integer(tt->out));
    json_object_set_new(t, "tool_result_tokens", json_integer(tt->tool_tokens));
    json_object_set_new(t, "wall_seconds", json_real(wall));
    json_object_set_new(t, "llm_seconds", json_real(tt->llm_s));
    json_object_set_new(t, "tool_seconds", json_real(tt->tool_s));
    json_object_set_new(t, "tool_time_share", json_real(wall > 0 ? tt->tool_s / wall : 0));
    json_object_set_new(t, "start_time", json_real((double)(t0 + real_minus_mono) / 1e9));
    json_object_set_new(t, "end_time", json_real((double)(t1 + real_minus_mono) / 1e9));
}

json_t *ipw_agent_metered_call(const struct ipw_agent_loop_config *cfg,
                               struct ipw_agent_meter *m, const struct ipw_chat_request *req,
                               struct ipw_chat_result *res, int index, json_t *turns,
                               json_t *last_turn, struct ipw_agent_totals *tt)
{
    struct ipw_stream_events ev = ipw_agent_meter_events(m);
    memset(res, 0, sizeof *res);
    cfg->client->ops->chat(cfg->client, req, &ev, res);
    struct ipw_query_share sh, gap;
    bool have_gap = false;
    bool measured = ipw_agent_meter_llm_end(m, res->end_ns, &sh, &gap, &have_gap);
    if (have_gap && last_turn)
        ipw_agent_turn_add_between(last_turn, &gap, cfg->main_domain, tt);
    if (!measured) { /* the boundaries the client saw, for the record */
        sh.start_ns = res->start_ns;
        sh.first_token_ns = res->first_token_ns;
        sh.end_ns = res->end_ns;
    }
    json_t *turn = ipw_agent_turn_json(index, res, &sh, measured, cfg->main_domain, tt);
    json_array_append_new(turns, turn);
    return turn;
}

void ipw_agent_close_gap(const struct ipw_agent_loop_config *cfg, struct ipw_agent_meter *m,
                         json_t *last_turn, struct ipw_agent_totals *tt)
{
    struct ipw_query_share gap;
    if (ipw_agent_meter_close(m, ipw_mono_ns(), &gap) && last_turn)
        ipw_agent_turn_add_between(last_turn, &gap, cfg->main_domain, tt);
}

void ipw_agent_trace_finish(json_t *t, json_t *turns, const struct ipw_agent_totals *tt,
                            const struct ipw_agent_meter *m,
                            const struct ipw_agent_loop_config *cfg,
                            const struct ipw_agent_trace_end *end)
{
    /* the task's window measured in one piece: the check that the turns add up */
    double window = NAN;
    if (cfg->window_check && cfg->src && m->started) {
        struct ipw_energy w;
        if (ipw_attr_energy(cfg->src, m->t_first, m->t_last, &w, NULL) == IPW_OK)
            window = ipw_agent_main_joules(&w, cfg->main_domain);
    }
    json_object_set_new(t, "turns", turns);
    json_object_set_new(t, "n_turns", json_integer((json_int_t)json_array_size(turns)));
    json_object_set_new(t, "stop_reason", json_string(end->stop));
    json_object_set_new(t, "final_answer", end->final_answer);
    json_object_set_new(t, "resolved", end->resolved);
    json_object_set_new(t, "judge", end->judge);
    ipw_agent_trace_totals(t, tt, window, end->t0, end->t1, end->real_minus_mono);
    json_object_set_new(t, "error", end->error[0] ? json_string(end->error) : json_null());
    json_object_set_new(t, "attribution_warning",
                        m->warn[0] ? json_string(m->warn) : json_null());
}
