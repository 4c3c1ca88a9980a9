/* A trace's turns and totals (docs/formats/traces.md), shared by the agent loop and the session
 * replay: one turn from an LLM call's result and share, the time between calls added to the turn
 * before it, and the task's sums. */
#ifndef IPW_AGENT_TURNS_H
#define IPW_AGENT_TURNS_H

#include <jansson.h>
#include <stdint.h>

#include "ipw/attribution.h"
#include "ipw/client.h"
#include "loop.h"

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

/* One metered LLM call: sends req (events to the meter), ends its segment, adds the gap that
 * ended at its start to last_turn, and returns the call's turn, appended to turns. */
json_t *ipw_agent_metered_call(const struct ipw_agent_loop_config *cfg,
                               struct ipw_agent_meter *m, const struct ipw_chat_request *req,
                               struct ipw_chat_result *res, int index, json_t *turns,
                               json_t *last_turn, struct ipw_agent_totals *tt);

/* How a task ended, for its trace (the json_t members are consumed). */
struct ipw_agent_trace_end {
    const char *stop;
    json_t *final_answer, *resolved, *judge;
    const char *error; /* "" when none */
    int64_t t0, t1, real_minus_mono;
};

/* Closes the open gap into last_turn (call at the task's end, before t1 is taken). */
void ipw_agent_close_gap(const struct ipw_agent_loop_config *cfg, struct ipw_agent_meter *m,
                         json_t *last_turn, struct ipw_agent_totals *tt);
/* Fills trace t: the turns (consumed), how it ended, the sums, and the window measured in one
 * piece when cfg asks for the check. */
void ipw_agent_trace_finish(json_t *t, json_t *turns, const struct ipw_agent_totals *tt,
                            const struct ipw_agent_meter *m,
                            const struct ipw_agent_loop_config *cfg,
                            const struct ipw_agent_trace_end *end);

#endif
