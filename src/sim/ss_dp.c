/* Data-parallel groups (`dp_group`), as the original's main loop runs them: vLLM requires every
 * rank of a DP group to run the same number of forwards at the same padded shape. A member's
 * batch is not run when it is scheduled but parked at a barrier until every member has one;
 * a member with nothing to run joins the round with a 1-token dummy decode (kv 1) while
 * another member waits. The round's batches are padded to the largest total_len (dense layers,
 * lm_head and the sampler see the padded shape; attention keeps the real requests). The member
 * whose poll completes the round starts at once, the others at their next poll. Energy is
 * charged when the round is formed (the original generates every member's trace then). A
 * group is done only when every member is empty. */
#include <stdlib.h>
#include <string.h>

#include "ss.h"

ipw_err ss_dp_setup(struct ipw_ss_sim *sim, ipw_errbuf *eb)
{
    const struct ss_cluster *c = &sim->c;
    int ngroups = 0;
    for (int i = 0; i < c->ninst; i++)
        sim->s[i].dp = -1;
    for (int i = 0; i < c->ninst; i++) {
        const struct ss_inst_cfg *ic = &c->inst[i];
        if (!ic->dp_group[0] || sim->s[i].dp >= 0)
            continue;
        int g = ngroups++;
        for (int j = i; j < c->ninst; j++) {
            const struct ss_inst_cfg *jc = &c->inst[j];
            if (strcmp(jc->dp_group, ic->dp_group))
                continue;
            sim->s[j].dp = g;
            if (jc->tp != ic->tp || jc->pp != ic->pp)
                return ipw_fail(eb, IPW_E_INVALID, "%s: nodes[%d].instances[%d].dp_group \"%s\": "
                                "tp_size %lld / pp_size %lld differ from nodes[%d].instances[%d]'s "
                                "%lld / %lld; every member of a DP group must share them",
                                c->path, jc->node, jc->local, jc->dp_group, (long long)jc->tp,
                                (long long)jc->pp, ic->node, ic->local, (long long)ic->tp,
                                (long long)ic->pp);
            if (jc->pp > 1)
                return ipw_fail(eb, IPW_E_UNSUPPORTED, "%s: nodes[%d].instances[%d].pp_size: %lld "
                                "in DP group \"%s\" is not simulated; use pp_size 1 in a DP group",
                                c->path, jc->node, jc->local, (long long)jc->pp, jc->dp_group);
            if (jc->pd != SS_PD_NONE)
                return ipw_fail(eb, IPW_E_UNSUPPORTED, "%s: nodes[%d].instances[%d].pd_type: a "
                                "P/D instance in DP group \"%s\" is not simulated; set pd_type "
                                "null or drop dp_group", c->path, jc->node, jc->local,
                                jc->dp_group);
        }
    }
    return IPW_OK;
}

/* the member's batch at the barrier or awaiting its hand-over (pp_size 1: its only one) */
static struct ss_batch *held(struct ss_sched *s)
{
    return s->dp_state != SS_DP_NONE && s->ninflight ? &s->inflight[s->ninflight - 1] : NULL;
}

static bool any_parked(const struct ipw_ss_sim *sim, int g)
{
    for (int i = 0; i < sim->c.ninst; i++)
        if (sim->s[i].dp == g && sim->s[i].dp_state == SS_DP_PARKED)
            return true;
    return false;
}

static bool all_parked(const struct ipw_ss_sim *sim, int g)
{
    for (int i = 0; i < sim->c.ninst; i++)
        if (sim->s[i].dp == g && sim->s[i].dp_state != SS_DP_PARKED)
            return false;
    return true;
}

static ipw_err form_round(struct ipw_ss_sim *sim, struct ss_sched *own, int64_t now,
                          ss_dp_launch_fn launch, void *ud, ipw_errbuf *eb)
{
    int g = own->dp;
    int64_t max_len = 0;
    for (int i = 0; i < sim->c.ninst; i++)
        if (sim->s[i].dp == g && held(&sim->s[i])->total_len > max_len)
            max_len = held(&sim->s[i])->total_len;
    /* every member's trace in group order (the order the original charges their energy) */
    for (int i = 0; i < sim->c.ninst; i++) {
        struct ss_sched *m = &sim->s[i];
        if (m->dp != g)
            continue;
        struct ss_batch *b = held(m);
        b->dp_pad = max_len - b->total_len;
        b->total_len = max_len;
        b->start = now;
        b->hold = false;
        int64_t free0 = m->stage_free[0];
        ipw_err e = launch(ud, m, b, eb);
        if (e)
            return e;
        if (m == own) {
            m->dp_state = SS_DP_NONE;
            continue;
        }
        /* handed its workload at its next poll */
        m->stage_free[0] = free0;
        b->hold_ns = b->end - b->start;
        b->end = SS_INF;
        b->hold = true;
        m->dp_state = SS_DP_READY;
    }
    return IPW_OK;
}

ipw_err ss_dp_poll(struct ipw_ss_sim *sim, struct ss_sched *s, struct ss_batch *nb, int64_t now,
                   ss_dp_launch_fn launch, void *ud, ipw_errbuf *eb)
{
    if (nb) {
        nb->hold = true;
        nb->end = SS_INF;
        s->dp_state = SS_DP_PARKED;
    } else if (s->dp_state == SS_DP_NONE && (int64_t)s->ninflight < s->cfg->pp &&
               any_parked(sim, s->dp)) {
        /* the original's Batch(total_len 1, kv_len 1, one decode at kv 1, no requests),
         * registered in flight like a real batch; it does not mark the instance busy */
        struct ss_batch *b = &s->inflight[s->ninflight++];
        memset(b, 0, sizeof *b);
        b->id = ++s->batch_ids;
        b->start = now;
        b->total_len = 1;
        b->dummy = true;
        b->hold = true;
        b->end = SS_INF;
        s->dp_state = SS_DP_PARKED;
    } else {
        return IPW_OK;
    }
    return all_parked(sim, s->dp) ? form_round(sim, s, now, launch, ud, eb) : IPW_OK;
}

bool ss_dp_handover(struct ss_sched *s, int64_t now)
{
    if (s->dp_state != SS_DP_READY)
        return false;
    struct ss_batch *b = held(s);
    b->start = now;
    b->end = now + b->hold_ns;
    b->hold = false;
    s->stage_free[0] = b->end;
    s->dp_state = SS_DP_NONE;
    return true;
}

bool ss_dp_group_empty(const struct ipw_ss_sim *sim, const struct ss_sched *s)
{
    for (int i = 0; i < sim->c.ninst; i++) {
        const struct ss_sched *m = &sim->s[i];
        if ((m == s || (s->dp >= 0 && m->dp == s->dp)) && (m->nwait || m->nrun || m->ninflight))
            return false;
    }
    return true;
}

bool ss_dp_any_waiting(const struct ipw_ss_sim *sim)
{
    for (int i = 0; i < sim->c.ninst; i++)
        if (sim->s[i].dp_state != SS_DP_NONE)
            return true;
    return false;
}
