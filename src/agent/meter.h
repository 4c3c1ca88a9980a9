/* Energy of one agent task, segment by segment, on the profiler's share ledger: each LLM call
 * (start, first token, end) and the time between calls (tool execution in the sandbox, and the
 * agent's own work) are consecutive ledger entries handed over at one boundary, so the segments
 * tile the task's window and its turns add up to the task. */
#ifndef IPW_AGENT_METER_H
#define IPW_AGENT_METER_H

#include <stdbool.h>
#include <stdint.h>

#include "ipw/attribution.h"
#include "ipw/client.h"

enum ipw_meter_open { IPW_METER_NONE, IPW_METER_LLM, IPW_METER_GAP };

struct ipw_agent_meter {
    struct ipw_share_ledger *ledger; /* NULL: nothing is measured (times only) */
    /* remote monitors: wait until readings after t have arrived before collecting */
    void (*settle)(void *ud, int64_t t);
    void *settle_ud;
    uint64_t base_id, seq, open_id, ended_gap;
    enum ipw_meter_open open;
    bool started;
    int64_t t_first, t_last; /* the task's window (boundaries) */
    char warn[IPW_ERRMSG_MAX]; /* the first attribution problem, for the trace */
};

/* Ids of a task's segments are (task_index + 1) * 2^20 + n: unique among tasks in flight. */
void ipw_agent_meter_init(struct ipw_agent_meter *m, struct ipw_share_ledger *ledger,
                          size_t task_index);
/* Stream events of an LLM call (called on the client's thread). A gap open before the call
 * ends at its start. */
void ipw_agent_meter_llm_start(struct ipw_agent_meter *m, int64_t client_ns);
void ipw_agent_meter_llm_first(struct ipw_agent_meter *m, int64_t client_ns);
/* Stream events that feed llm_start / llm_first for one call. */
struct ipw_stream_events ipw_agent_meter_events(struct ipw_agent_meter *m);
/* The call returned at client_ns: the time between calls starts there. *llm gets the call's
 * share (false when the call was never measured); *gap, with *have_gap, the share of the gap
 * that ended at the call's start (it belongs to the turn before). */
bool ipw_agent_meter_llm_end(struct ipw_agent_meter *m, int64_t client_ns,
                             struct ipw_query_share *llm, struct ipw_query_share *gap,
                             bool *have_gap);
/* Ends the open gap at client_ns (the task is over): its share in *gap, false when none. */
bool ipw_agent_meter_close(struct ipw_agent_meter *m, int64_t client_ns,
                           struct ipw_query_share *gap);

#endif
