/* A trace's turns and totals (docs/formats/traces.md), shared by the agent loop and the session
 * replay: one turn from an LLM call's result and share, the time between calls added to the turn
 * before it, and the task's sums. */
#ifndef IPW_AGENT_TURNS_H
#define IPW_AGENT_TURNS_H

#include <jansson.h>
#include <stdint.h>

#include "ipw/attribution.h"
#include "ipw/client.h"

/* Sums over the task (energies NAN until a segment gave a value). */
struct ipw_agent_totals {
    double energy, total, llm, between, prefill, decode;
    long in, out, tool_tokens;
    double llm_s, tool_s;
};

void ipw_agent_totals_init(struct ipw_agent_totals *tt);
/* Main-domain joules of e, NAN when not measured. */
double ipw_agent_main_joules(const struct ipw_energy *e, ipw_domain d);
/* The turn of one LLM call (its share when measured). */
json_t *ipw_agent_turn_json(int index, const struct ipw_chat_result *res,
                            const struct ipw_query_share *sh, bool measured, ipw_domain d,
                            struct ipw_agent_totals *tt);
/* The time between calls after that turn's call: "between", added into the turn's energy. */
void ipw_agent_turn_add_between(json_t *turn, const struct ipw_query_share *gap, ipw_domain d,
                                struct ipw_agent_totals *tt);
/* The task's sums, times and shares into trace t; window: the one-piece check (NAN: none). */
void ipw_agent_trace_totals(json_t *t, const struct ipw_agent_totals *tt, double window,
                            int64_t t0, int64_t t1, int64_t real_minus_mono);

#endif
