/* Segment bookkeeping of one agent task on the share ledger (see meter.h). */
#include "meter.h"

#include <stdio.h>
#include <string.h>

#define IDS_PER_TASK ((uint64_t)1 << 20)

void ipw_agent_meter_init(struct ipw_agent_meter *m, struct ipw_share_ledger *ledger,
                          size_t task_index)
{
    memset(m, 0, sizeof *m);
    m->ledger = ledger;
    m->base_id = ((uint64_t)task_index + 1) * IDS_PER_TASK;
}

static void note(struct ipw_agent_meter *m, const char *msg)
{
    if (!m->warn[0])
        snprintf(m->warn, sizeof m->warn, "%s", msg);
}

static uint64_t next_id(struct ipw_agent_meter *m)
{
    m->seq = m->seq % (IDS_PER_TASK - 1) + 1;
    return m->base_id + m->seq;
}

static bool collect(struct ipw_agent_meter *m, uint64_t id, int64_t end,
                    struct ipw_query_share *out)
{
    if (m->settle)
        m->settle(m->settle_ud, end);
    ipw_errbuf eb = {0};
    if (ipw_share_ledger_collect(m->ledger, id, out, &eb) != IPW_OK) {
        note(m, eb.msg);
        return false;
    }
    if (out->why[0])
        note(m, out->why);
    return true;
}

void ipw_agent_meter_llm_start(struct ipw_agent_meter *m, int64_t client_ns)
{
    if (!m->ledger)
        return;
    uint64_t id = next_id(m);
    ipw_errbuf eb = {0};
    int64_t t = 0;
    ipw_err e = m->open == IPW_METER_GAP
                    ? ipw_share_ledger_handoff(m->ledger, m->open_id, id, client_ns, &t, &eb)
                    : ipw_share_ledger_start(m->ledger, id, client_ns, &t, NULL, &eb);
    if (e != IPW_OK) {
        note(m, eb.msg);
        return;
    }
    m->ended_gap = m->open == IPW_METER_GAP ? m->open_id : 0;
    m->open = IPW_METER_LLM;
    m->open_id = id;
    if (!m->started) {
        m->started = true;
        m->t_first = t;
    }
    m->t_last = t;
}

void ipw_agent_meter_llm_first(struct ipw_agent_meter *m, int64_t client_ns)
{
    if (m->ledger && m->open == IPW_METER_LLM)
        ipw_share_ledger_first_token(m->ledger, m->open_id, client_ns);
}

bool ipw_agent_meter_llm_end(struct ipw_agent_meter *m, int64_t client_ns,
                             struct ipw_query_share *llm, struct ipw_query_share *gap,
                             bool *have_gap)
{
    memset(llm, 0, sizeof *llm);
    memset(gap, 0, sizeof *gap);
    *have_gap = false;
    if (!m->ledger || m->open != IPW_METER_LLM)
        return false; /* the request never left: the gap (if any) stays open */
    uint64_t llm_id = m->open_id, gap_id = next_id(m);
    ipw_errbuf eb = {0};
    int64_t t = 0;
    if (ipw_share_ledger_handoff(m->ledger, llm_id, gap_id, client_ns, &t, &eb) == IPW_OK) {
        m->open = IPW_METER_GAP;
        m->open_id = gap_id;
    } else {
        note(m, eb.msg);
        t = ipw_share_ledger_end(m->ledger, llm_id, client_ns);
        m->open = IPW_METER_NONE;
    }
    m->t_last = t;
    if (m->ended_gap) {
        *have_gap = collect(m, m->ended_gap, t, gap);
        m->ended_gap = 0;
    }
    return collect(m, llm_id, t, llm);
}

bool ipw_agent_meter_close(struct ipw_agent_meter *m, int64_t client_ns,
                           struct ipw_query_share *gap)
{
    memset(gap, 0, sizeof *gap);
    if (!m->ledger || m->open != IPW_METER_GAP)
        return false;
    int64_t t = ipw_share_ledger_end(m->ledger, m->open_id, client_ns);
    m->t_last = t;
    m->open = IPW_METER_NONE;
    return collect(m, m->open_id, t, gap);
}

static void ev_start(void *ud, int64_t ns) { ipw_agent_meter_llm_start(ud, ns); }
static void ev_first(void *ud, int64_t ns) { ipw_agent_meter_llm_first(ud, ns); }

struct ipw_stream_events ipw_agent_meter_events(struct ipw_agent_meter *m)
{
    return (struct ipw_stream_events){.ud = m, .on_start = ev_start, .on_first_token = ev_first};
}
