/* The event loop: the original frontend's polling of ASTRA-Sim, replayed without ASTRA-Sim.
 * Every NPU whose workload has finished is polled at each distinct event time, in NPU order:
 * an instance's poll routes newly arrived requests, charges standby energy, completes its
 * batch, schedules the next one and may print the heartbeat. Event times are the layer
 * completions of the batches in flight (the only times an idle instance is polled while
 * another one runs) and, when nothing runs, a 1 ms idle step; the first arrival (or the first
 * log interval) is hit exactly. docs/sim-fidelity.md says what of this is verified. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ss_log.h"
#include "ss_rand.h"

#define IDLE_STEP 1000000

struct run {
    struct ipw_ss_sim *sim;
    const struct ipw_ss_sink *k;
    struct ipw_ss_result *res;
    struct ss_trace tr;
    struct ss_power pw;
    bool power;
    struct ss_mt mt;
    int64_t rr, rr_decode;
    /* heartbeat */
    double interval, last_log;
    int64_t prompt_th, gen_th;
    size_t cap_p, cap_g, n_g;
    struct timespec t0;
    int64_t now;
    int64_t req_cnt, total_prompt, total_gen;
    /* released sub-requests of agentic sessions: a min-heap by (arrival, id) */
    struct ss_req **rel;
    size_t nrel, caprel;
    struct ss_info info; /* --log-level INFO */
};

static bool before(const struct ss_req *a, const struct ss_req *b)
{
    return a->arrival < b->arrival || (a->arrival == b->arrival && a->id < b->id);
}

static bool heap_push(struct run *r, struct ss_req *q)
{
    if (r->nrel == r->caprel) {
        size_t nc = r->caprel ? r->caprel * 2 : 64;
        struct ss_req **nr = realloc(r->rel, nc * sizeof *nr);
        if (!nr)
            return false;
        r->rel = nr;
        r->caprel = nc;
    }
    size_t i = r->nrel++;
    r->rel[i] = q;
    while (i && before(r->rel[i], r->rel[(i - 1) / 2])) {
        struct ss_req *x = r->rel[i];
        r->rel[i] = r->rel[(i - 1) / 2];
        r->rel[(i - 1) / 2] = x;
        i = (i - 1) / 2;
    }
    return true;
}

static struct ss_req *heap_pop(struct run *r)
{
    struct ss_req *top = r->rel[0];
    r->rel[0] = r->rel[--r->nrel];
    for (size_t i = 0;;) {
        size_t l = 2 * i + 1, m = i;
        if (l < r->nrel && before(r->rel[l], r->rel[m]))
            m = l;
        if (l + 1 < r->nrel && before(r->rel[l + 1], r->rel[m]))
            m = l + 1;
        if (m == i)
            break;
        struct ss_req *x = r->rel[i];
        r->rel[i] = r->rel[m];
        r->rel[m] = x;
        i = m;
    }
    return top;
}

/* the next request to route (from the trace or a released sub-request), or NULL */
static struct ss_req *next_pending(const struct run *r)
{
    struct ss_req *a = r->tr.ahead, *b = r->nrel ? r->rel[0] : NULL;
    if (!a)
        return b;
    if (!b)
        return a;
    return before(b, a) ? b : a;
}

/* requests not routed yet, including sub-requests still waiting for their predecessor */
static bool pending(const struct run *r)
{
    return r->tr.ahead || r->nrel || r->tr.deferred;
}

/* The instance a request goes to, among the decode instances (a finished prefill) or the
 * others (a new request), by the routing policy; each kind has its own round-robin pointer. */
static int select_instance(struct run *r, bool decode)
{
    struct ipw_ss_sim *s = r->sim;
    int cand[256], n = 0;
    for (int i = 0; i < s->c.ninst && n < 256; i++)
        if ((s->c.inst[i].pd == SS_PD_DECODE) == decode)
            cand[n++] = i;
    int64_t *rr = decode ? &r->rr_decode : &r->rr;
    int pick = 0;
    switch (s->opt.routing) {
    case IPW_SS_ROUTE_RR:
        pick = cand[*rr % n];
        break;
    case IPW_SS_ROUTE_RAND:
        pick = cand[ss_mt_randbelow(&r->mt, (uint32_t)n)];
        break;
    case IPW_SS_ROUTE_LOAD: {
        /* least (4 x waiting + running) / max_num_seqs, scanning from the round-robin pointer */
        double best = 0;
        for (int j = 0; j < n; j++) {
            int i = cand[(*rr + j) % n];
            struct ss_sched *sc = &s->s[i];
            double cap = sc->cfg->max_num_seqs == SS_INF ? 1.0 : (double)sc->cfg->max_num_seqs;
            double score = (4.0 * (double)sc->nwait + (double)sc->nrun) / cap;
            if (j == 0 || score < best) {
                best = score;
                pick = i;
            }
        }
        break;
    }
    }
    (*rr)++;
    return pick;
}

static ipw_err route(struct run *r, ipw_errbuf *eb)
{
    struct ipw_ss_sim *s = r->sim;
    struct ss_req *q;
    while ((q = next_pending(r)) && q->arrival <= r->now) {
        int pick = select_instance(r, false);
        bool from_trace = q == r->tr.ahead;
        if (!from_trace)
            heap_pop(r);
        if (q->ntoks && !s->s[pick].cfg->prefix_caching) {
            free(q->toks);
            q->toks = NULL;
            q->ntoks = 0;
        }
        ss_sched_add_request(&s->s[pick], q);
        if (from_trace) {
            r->tr.ahead = NULL;
            ipw_err e = ss_trace_advance(&r->tr, eb);
            if (e)
                return e;
        }
    }
    return IPW_OK;
}

static bool push_d(double **v, size_t *n, size_t *cap, double x)
{
    if (*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 64;
        double *nv = realloc(*v, nc * sizeof *nv);
        if (!nv)
            return false;
        *v = nv;
        *cap = nc;
    }
    (*v)[(*n)++] = x;
    return true;
}

static void heartbeat(struct run *r)
{
    struct ipw_ss_sim *s = r->sim;
    double ratio = 1e9 / r->interval;
    double ptp = (double)r->prompt_th * ratio, gtp = (double)r->gen_th * ratio;
    if (push_d(&r->res->gen_tps, &r->n_g, &r->cap_g, gtp) &&
        !push_d(&r->res->prompt_tps, &r->res->n_throughput, &r->cap_p, ptp))
        r->n_g--;
    r->last_log += r->interval;
    char ts[64];
    snprintf(ts, sizeof ts, "[%.1fs]", r->last_log / 1e9);
    ss_emit(r->k, "%s Avg prompt throughput: %.1f tokens/s, Avg generation throughput: %.1f tokens/s",
            ts, ptp, gtp);
    r->prompt_th = r->gen_th = 0;
    char ind[80];
    snprintf(ind, sizeof ind, "%*s", (int)strlen(ts) + 2, "");
    for (int i = 0; i < s->c.ninst; i++) {
        struct ss_sched *sc = &s->s[i];
        int64_t waiting = 0;
        for (size_t w = 0; w < sc->nwait; w++)
            if (sc->waiting[w]->arrival <= r->now)
                waiting++;
        double used = (double)(sc->weight_bytes + ss_pool_used_bytes(&sc->kv.npu));
        double mem = sc->cfg->npu_mem_size * 1073741824.0;
        char pref[160] = "";
        if (sc->cfg->prefix_caching && sc->kv.npu.stat_requested)
            snprintf(pref, sizeof pref, ", Prefix Cache Hit ratio %.2f %%, (%lld / %lld)",
                     (double)sc->kv.npu.stat_hit / (double)sc->kv.npu.stat_requested * 100,
                     (long long)sc->kv.npu.stat_hit, (long long)sc->kv.npu.stat_requested);
        ss_emit(r->k, "%s├─Running Instance[%d]: %zu reqs, Waiting: %lld reqs, Total # %lld NPUs, "
                "Each NPU Memory Usage %.2f MB (%.3f %% Used)%s", ind, i, sc->nrun,
                (long long)waiting, (long long)sc->cfg->num_npus, used / 1048576.0,
                mem ? used / mem * 100.0 : 0.0, pref);
    }
    bool cpu_tier = s->opt.prefix_storage == IPW_SS_STORE_CPU;
    bool cxl_tier = s->opt.prefix_storage == IPW_SS_STORE_CXL;
    bool shared_cpu = cpu_tier && s->opt.enable_prefix_sharing && s->npools;
    for (int nd = 0; nd < s->c.num_nodes; nd++) {
        int count = 0;
        const struct ss_pool *shared = NULL;
        double node_used = 0;
        for (int i = 0; i < s->c.ninst; i++)
            if (s->c.inst[i].node == nd) {
                count++;
                const struct ss_pool *lp = s->s[i].kv.lower;
                if (shared_cpu && lp)
                    shared = lp;
                else if (cpu_tier && lp)
                    node_used += (double)ss_pool_used_bytes(lp);
            }
        if (!count)
            continue;
        if (shared)
            node_used = (double)ss_pool_used_bytes(shared);
        const char *tree = (!cxl_tier && !r->power && nd == s->c.num_nodes - 1) ? "└─" : "├─";
        char line[2048];
        int w = snprintf(line, sizeof line, "%s%sNode[%d]: Total CPU Memory Usage %.2f MB, %.3f %% "
                         "Used ", ind, tree, nd, node_used / 1048576.0,
                         node_used / (s->c.nodes[nd].cpu_mem_size * 1073741824.0) * 100);
        if (shared_cpu) {
            if (shared && shared->stat_requested)
                snprintf(line + w, sizeof line - (size_t)w,
                         ", Prefix Cache Hit ratio %.2f %%, (%lld / %lld)",
                         (double)shared->stat_hit / (double)shared->stat_requested * 100,
                         (long long)shared->stat_hit, (long long)shared->stat_requested);
        } else if (count > 1) {
            w += snprintf(line + w, sizeof line - (size_t)w, "(");
            int k = 0;
            for (int i = 0; i < s->c.ninst; i++)
                if (s->c.inst[i].node == nd) {
                    const struct ss_pool *lp = s->s[i].kv.lower;
                    double u = cpu_tier && lp ? (double)ss_pool_used_bytes(lp) : 0;
                    w += snprintf(line + w, sizeof line - (size_t)w, "%sInstance[%d]: %.2f %%",
                                  k++ ? ", " : "", i, node_used ? u / node_used * 100 : 0.0);
                }
            snprintf(line + w, sizeof line - (size_t)w, ")");
        }
        ss_emit(r->k, "%s", line);
    }
    if (cxl_tier) {
        /* the original prints the pool's pinned fraction (always 0 for a victim tier) as "%" */
        if (s->opt.enable_prefix_sharing) {
            for (int pi = 0; pi < s->npools; pi++) {
                const struct ss_pool *lp = &s->pools[pi];
                ss_emit(r->k, "%s%sCXL[%d]: Total CXL Device Memory Usage %.2fMB, %.3f %% Used", ind,
                        !r->power && pi == s->npools - 1 ? "└─" : "├─", pi,
                        (double)ss_pool_used_bytes(lp) / 1048576.0,
                        (double)(lp->num_blocks - lp->nfree) / (double)lp->num_blocks);
            }
        } else {
            int last = -1;
            for (int i = 0; i < s->c.ninst; i++)
                if (s->c.inst[i].prefix_caching)
                    last = i;
            for (int i = 0; i < s->c.ninst; i++) {
                const struct ss_pool *lp = s->s[i].kv.lower;
                if (!s->c.inst[i].prefix_caching || !lp)
                    continue;
                ss_emit(r->k, "%s%sCXL[0]/Instance[%d]: Total CXL Device Memory Usage %.2f MB, %.3f %% "
                        "Used", ind, !r->power && i == last ? "└─" : "├─", i,
                        (double)ss_pool_used_bytes(lp) / 1048576.0,
                        (double)(lp->num_blocks - lp->nfree) / (double)lp->num_blocks);
            }
        }
    }
    if (r->power) {
        char wbuf[64];
        ipw_ss_pyrepr(ss_power_current(&r->pw, r->now), wbuf, sizeof wbuf);
        ss_emit(r->k, "%s└─Avg power consumption: %s W", ind, wbuf);
    }
}

static ipw_err finish_req(struct run *r, struct ss_sched *sc, struct ss_req *q, ipw_errbuf *eb)
{
    struct ipw_ss_sim *s = r->sim;
    size_t cap;
#define PUSH(arr, n, x)                                                                            \
    do {                                                                                           \
        if ((n) % 1024 == 0) {                                                                     \
            cap = (n) + 1024;                                                                      \
            int64_t *nv = realloc(arr, cap * sizeof *nv);                                          \
            if (!nv)                                                                               \
                return ipw_fail(eb, IPW_E_NOMEM, "out of memory");                                 \
            arr = nv;                                                                              \
        }                                                                                          \
        arr[(n)] = (x);                                                                            \
    } while (0)
    PUSH(sc->ttft, sc->nttft, q->ttft);
    PUSH(sc->tpot, sc->nttft, q->tpot);
    sc->nttft++;
    for (size_t i = 0; i < q->n_itl; i++)
        if (!ss_hist_add(&sc->itl, q->itl[i]))
            return ipw_fail(eb, IPW_E_NOMEM, "out of memory");
#undef PUSH
    sc->finished++;
    sc->done_input += q->input;
    if (r->k && r->k->row) {
        struct ipw_ss_row row = {sc->idx, q->id, sc->cfg->model_name, q->input,
                                 q->output - q->input, q->arrival, q->end_time, q->latency,
                                 q->queuing_delay, q->ttft, q->tpot, q->itl, q->n_itl};
        ipw_err e = r->k->row(r->k->ud, &row, eb);
        if (e)
            return e;
    }
    (void)s;
    if (q->next_sub) { /* the session's next step, after the tool call */
        struct ss_req *sub = q->next_sub;
        q->next_sub = NULL;
        sub->arrival = r->now + q->tool_ns;
        r->tr.deferred--;
        if (!heap_push(r, sub)) {
            ss_req_free(sub);
            return ipw_fail(eb, IPW_E_NOMEM, "out of memory");
        }
    }
    if (q->nbatches > 0) /* a later batch in flight still holds it (pp_size > 1) */
        q->free_pending = true;
    else
        ss_req_free(q);
    return IPW_OK;
}

/* An instance whose batch is completed by another NPU than the one that schedules: any
 * instance of several NPUs (the original completes a batch when its first and its last NPU
 * have both reported: the last tensor-parallel rank or pipeline stage) and a prefill
 * instance (its K/V receiver). That NPU is polled after the first one at the same time, so
 * the next batch waits for the next poll. */
static bool split(const struct ss_sched *sc)
{
    return sc->cfg->num_npus > 1 || sc->cfg->pd == SS_PD_PREFILL;
}

/* Completes the batch of instance sc that ends at r->now, if any. */
static ipw_err complete_now(struct run *r, struct ss_sched *sc, ipw_errbuf *eb)
{
    struct ipw_ss_sim *s = r->sim;
    ipw_err e;
    for (size_t b = 0; b < sc->ninflight; b++) {
        if (sc->inflight[b].end != r->now)
            continue;
        int64_t pt, gt;
        struct ss_req **fin;
        size_t nfin;
        if (r->power && s->opt.fix_energy_at_completion) {
            struct ss_batch *bt = &sc->inflight[b];
            for (int k = 0; k < 4; k++)
                r->pw.net[bt->node][1 + k] += bt->energy[k];
            r->pw.npu_active[bt->node] += bt->energy_active;
        }
        if ((e = ss_add_done(s, sc, &sc->inflight[b], r->now, &pt, &gt, &fin, &nfin, eb)))
            return e;
        r->prompt_th += pt;
        r->total_prompt += pt;
        r->gen_th += gt;
        r->total_gen += gt;
        e = IPW_OK;
        if (sc->cfg->pd == SS_PD_PREFILL) { /* finished prefills move to a decode instance */
            for (size_t f = 0; f < nfin && !e; f++)
                e = ss_pd_add_decode(&s->s[select_instance(r, true)], fin[f], eb);
        } else {
            r->req_cnt += (int64_t)nfin;
            for (size_t f = 0; f < nfin && !e; f++)
                e = finish_req(r, sc, fin[f], eb);
        }
        free(fin);
        return e;
    }
    return IPW_OK;
}

/* The poll of the last pipeline stage's NPU of instance i (pp_size > 1), after the first
 * stage's: it completes the batch whose last stage ends now. It comes after the first
 * stage's poll at the same time, so the next batch is scheduled at the next event. */
static ipw_err poll_last_stage(struct run *r, int i, ipw_errbuf *eb)
{
    struct ss_sched *sc = &r->sim->s[i];
    ipw_err e = route(r, eb);
    size_t before = sc->ninflight;
    if (!e)
        e = complete_now(r, sc, eb);
    if (sc->ninflight < before)
        sc->unseen = true;
    return e;
}

/* Starts batch nb of instance sc at nb->start: its latency and node list, the pipeline or P/D
 * timeline, the energy the original charges when it generates the trace (held back in the
 * batch with --fix-energy-at-completion); the first NPU is busy until it ends. */
static ipw_err launch(void *ud, struct ss_sched *sc, struct ss_batch *nb, ipw_errbuf *eb)
{
    struct run *r = ud;
    struct ipw_ss_sim *s = r->sim;
    struct ss_inst_cfg *c = sc->cfg;
    bool defer = r->power && s->opt.fix_energy_at_completion;
    double before[4] = {0}, before_act = 0;
    int nd = c->node;
    ipw_err e;
    if (defer) {
        for (int k = 0; k < 4; k++)
            before[k] = r->pw.net[nd][1 + k];
        before_act = r->pw.npu_active[nd];
    }
    if (s->opt.log_info)
        ss_info_begin(&r->info, r->power ? &r->pw : NULL, nd);
    if ((e = ss_batch_latency(s, sc, nb, r->power ? &r->pw : NULL, eb)))
        return e;
    if (c->pp > 1)
        ss_pp_stage_times(s, sc, nb, r->power ? &r->pw : NULL);
    else
        sc->stage_free[0] = nb->end; /* the first NPU is busy until the batch ends */
    if (c->pd == SS_PD_PREFILL)
        ss_pd_prefill_times(s, sc, nb, r->power ? &r->pw : NULL);
    if (s->opt.log_info)
        ss_info_batch(&r->info, r->k, sc, nb, r->power ? &r->pw : NULL);
    if (defer) { /* hold the batch's energy back until it completes */
        for (int k = 0; k < 4; k++) {
            nb->energy[k] = r->pw.net[nd][1 + k] - before[k];
            r->pw.net[nd][1 + k] = before[k];
        }
        nb->energy_active = r->pw.npu_active[nd] - before_act;
        r->pw.npu_active[nd] = before_act;
        nb->node = nd;
    }
    return IPW_OK;
}

/* One poll of instance i (of its first NPU) at r->now. *exit set when every instance is
 * done. Without pipeline stages the instance's batch completes here too. */
static ipw_err poll(struct run *r, int i, bool *exit_now, ipw_errbuf *eb)
{
    struct ipw_ss_sim *s = r->sim;
    struct ss_sched *sc = &s->s[i];
    struct ss_inst_cfg *c = sc->cfg;
    ipw_err e;
    if ((e = route(r, eb)))
        return e;
    if (r->power && sc->idle) {
        ss_power_standby(&r->pw, c->node, c->hardware, r->now, sc->last_end, sc->last_calc,
                         c->num_npus);
        sc->last_calc = r->now;
    }
    if (!sc->idle) {
        sc->last_end = r->now;
        sc->idle = true;
    }
    sc->unseen = false;
    if (!split(sc) && (e = complete_now(r, sc, eb)))
        return e;
    struct ss_batch *nb = NULL;
    /* a DP member whose round another member launched is handed its batch instead of
     * scheduling (the original answers with the pre-generated workload) */
    if (!ss_dp_handover(sc, r->now)) {
        if ((e = ss_schedule(s, sc, r->now, &nb, eb)))
            return e;
        if (nb)
            sc->idle = false;
        if (sc->dp >= 0)
            e = ss_dp_poll(s, sc, nb, r->now, launch, r, eb);
        else if (nb)
            e = launch(r, sc, nb, eb);
        if (e)
            return e;
    }
    if ((double)r->now > r->last_log + r->interval)
        heartbeat(r);
    bool prefills_done = true; /* a decode instance waits for every prefill instance */
    for (int j = 0; c->pd == SS_PD_DECODE && j < s->c.ninst; j++)
        prefills_done &= s->c.inst[j].pd != SS_PD_PREFILL || s->s[j].done;
    if (!sc->done && !pending(r) && prefills_done && ss_dp_group_empty(s, sc)) {
        sc->done = true;
        bool all = true;
        for (int j = 0; j < s->c.ninst; j++)
            all &= s->s[j].done;
        *exit_now = all;
    }
    return IPW_OK;
}

/* The next time anything is polled after r->now. */
static int64_t next_time(struct run *r)
{
    struct ipw_ss_sim *s = r->sim;
    int64_t t_busy = SS_INF, t_ev = SS_INF;
    bool any_idle = false, any_busy = false, pp_idle = false;
    for (int i = 0; i < s->c.ninst; i++) {
        struct ss_sched *sc = &s->s[i];
        if (sc->done)
            continue;
        if (!sc->ninflight || sc->dp_state != SS_DP_NONE) {
            any_idle = true; /* a DP member at the barrier is polled at every event */
            /* a batch that just completed on the instance's other NPU: the next poll
             * schedules anew, so that event may not be skipped */
            pp_idle |= split(sc) && sc->unseen;
            continue;
        }
        any_busy = true;
        if (split(sc) && sc->stage_free[0] <= r->now) {
            /* the first NPU is free: polled at every event; after a batch completed on the
             * other NPU its next poll schedules anew, so that event may not be skipped */
            any_idle = true;
            pp_idle |= sc->unseen;
        }
        for (size_t b = 0; b < sc->ninflight; b++) {
            struct ss_batch *bt = &sc->inflight[b];
            int64_t end = bt->pp_n ? ss_pp_next_milestone(bt, r->now + 1) : bt->end;
            if (end < t_busy)
                t_busy = end;
        }
    }
    if (!any_busy)
        return r->now + IDLE_STEP;
    if (!any_idle)
        return t_busy;
    /* an idle instance is polled at every layer completion of the batches in flight; without
     * a power model only the polls that can change something are taken: the first event at
     * or after the next arrival or past the next heartbeat boundary */
    int64_t target = r->now + 1;
    if (!r->power && !pp_idle && !ss_dp_any_waiting(s)) {
        struct ss_req *nx = next_pending(r);
        int64_t arr = nx ? nx->arrival : SS_INF;
        int64_t hb = (int64_t)floor(r->last_log + r->interval) + 1;
        target = arr < hb ? arr : hb;
        if (target <= r->now)
            target = r->now + 1;
    }
    for (int i = 0; i < s->c.ninst; i++) {
        struct ss_sched *sc = &s->s[i];
        for (size_t b = 0; b < sc->ninflight; b++) {
            struct ss_batch *bt = &sc->inflight[b];
            if (bt->hold)
                continue;
            int64_t ev = bt->pp_n ? ss_pp_next_event(bt, target) : ss_batch_next_event(bt, target);
            if (ev < t_ev)
                t_ev = ev;
        }
    }
    return t_ev < t_busy ? t_ev : t_busy;
}

static ipw_err skip_idle(struct run *r)
{
    /* everything idle: 1 ms steps; without power, jump to the last step before anything can
     * happen (an arrival or a heartbeat boundary) */
    if (r->power)
        return IPW_OK;
    struct ipw_ss_sim *s = r->sim;
    for (int i = 0; i < s->c.ninst; i++) {
        const struct ss_sched *sc = &s->s[i];
        if (!sc->done && sc->ninflight)
            return IPW_OK;
        /* a pipeline's last stage completes a batch after the first stage's poll: its
         * requests are scheduled (or the instance found done) at the next poll, not at the
         * next arrival */
        if (!sc->done && split(sc) && (sc->nrun || sc->nwait || !pending(r)))
            return IPW_OK;
        /* with nothing left to route, an instance not yet done is found done at its next
         * poll (a DP member whose group emptied after its own poll) */
        if (!sc->done && !pending(r))
            return IPW_OK;
    }
    struct ss_req *nx = next_pending(r);
    int64_t arr = nx ? nx->arrival : SS_INF;
    int64_t hb = (int64_t)floor(r->last_log + r->interval) + 1;
    int64_t target = arr < hb ? arr : hb;
    if (target == SS_INF || target <= r->now + IDLE_STEP)
        return IPW_OK;
    int64_t k = (target - r->now) / IDLE_STEP - 1;
    if (k > 0)
        r->now += k * IDLE_STEP;
    return IPW_OK;
}

static void results(struct run *r);

ipw_err ipw_ss_run(struct ipw_ss_sim *s, const struct ipw_ss_sink *sink, struct ipw_ss_result *res,
                   ipw_errbuf *eb)
{
    memset(res, 0, sizeof *res);
    struct run r = {0};
    r.sim = s;
    r.k = sink;
    r.res = res;
    r.interval = s->opt.log_interval * 1e9;
    res->log_interval = s->opt.log_interval;
    ss_mt_seed(&r.mt, 42);
    clock_gettime(CLOCK_MONOTONIC, &r.t0);
    ipw_err e;
    bool keep = false;
    for (int i = 0; i < s->c.ninst; i++)
        keep |= s->c.inst[i].prefix_caching;
    if (!s->opt.dataset)
        return ipw_fail(eb, IPW_E_INVALID, "no --dataset given (a workload JSONL)");
    if ((e = ss_trace_open(&r.tr, s->opt.dataset, s->opt.num_reqs, keep, eb)))
        return e;
    if (!r.tr.ahead) {
        ss_trace_close(&r.tr);
        return ipw_fail(eb, IPW_E_INVALID, "%s: the dataset has no requests", s->opt.dataset);
    }
    r.power = s->c.power;
    if (r.power && (e = ss_power_init(&r.pw, &s->c, eb))) {
        ss_trace_close(&r.tr);
        return e;
    }
    r.pw.fix_standby_tail = s->opt.fix_standby_tail;
    ss_memq_reset(s);
    ss_banner(sink, &s->opt);
    ss_center(sink, "KV Cache Initialization");
    ss_emit(sink, "%s", "");
    for (int i = 0; i < s->c.ninst; i++) {
        const struct ss_pool *p = &s->s[i].kv.npu;
        char label[32];
        int len = snprintf(label, sizeof label, "Instance [%d]", i), pad = len;
        for (int j = 0; j < s->c.ninst; j++) {
            char l2[32];
            int n2 = snprintf(l2, sizeof l2, "Instance [%d]", j);
            if (n2 > pad)
                pad = n2;
        }
        /* the original pads the markup-escaped label ("Instance \\[0]", one character longer
         * than it prints) to the widest label + 1 */
        ss_emit(sink, "  • %s%*s : %lld tokens / %lld blocks (%.2f GiB/rank at util %.2f)", label,
                pad - len, "", (long long)(p->num_blocks * p->block_size), (long long)p->num_blocks,
                (double)(p->num_blocks * p->bytes_per_block) / 1073741824.0, s->c.inst[i].mem_util);
    }
    ss_rule(sink, NULL);
    ss_emit(sink, "▶ Starting simulation...");
    ss_emit(sink, "%s", "");

    double first = (double)r.tr.ahead->arrival;
    r.now = (int64_t)(r.interval > first ? first : r.interval);
    bool exit_now = false;
    int64_t last_progress = 0;
    while (!exit_now) {
        for (int i = 0; i < s->c.ninst && !exit_now; i++) {
            struct ss_sched *sc = &s->s[i];
            if (sc->done)
                continue;
            if (split(sc)) { /* the first NPU when free, then the one that completes */
                if (sc->stage_free[0] <= r.now && (e = poll(&r, i, &exit_now, eb)))
                    goto out;
                if (!exit_now && (e = poll_last_stage(&r, i, eb)))
                    goto out;
                continue;
            }
            bool finished = !sc->ninflight || sc->dp_state != SS_DP_NONE;
            for (size_t b = 0; b < sc->ninflight; b++)
                finished |= sc->inflight[b].end == r.now;
            if (!finished)
                continue;
            if ((e = poll(&r, i, &exit_now, eb)))
                goto out;
        }
        if (exit_now)
            break;
        if (sink && sink->progress && r.now - last_progress >= 1000000000) {
            last_progress = r.now;
            sink->progress(sink->ud, r.now, r.req_cnt, r.tr.loaded);
        }
        if ((e = skip_idle(&r)))
            goto out;
        r.now = next_time(&r);
    }
    res->total_clock_ns = r.now;
    ss_rule(sink, NULL);
    ss_emit(sink, "▶ Exiting simulation...");
    ss_emit(sink, "%s", "");
    ss_emit(sink, "Checking Non-Exited Systems ...");
    ss_emit(sink, "All Request Has Been Exited");
    results(&r);
out:
    while (r.nrel)
        ss_req_free(heap_pop(&r));
    free(r.rel);
    ss_trace_close(&r.tr);
    if (r.power)
        ss_power_free(&r.pw);
    return e;
}

static void stat_lines(const struct ipw_ss_sink *k, const char *title, const char *shortn,
                       const struct ipw_ss_stat *st, const char *sp)
{
    ss_rule(k, title);
    if (!st->present) {
        char first[32];
        snprintf(first, sizeof first, "%s", title);
        char *sp1 = strchr(first, ' ');
        if (sp1)
            *sp1 = '\0';
        ss_emit(k, "No %s data available", first);
        return;
    }
    ss_emit(k, "Mean %s (ms)%s:                                                     %.2f", shortn, sp,
            st->mean_ms);
    ss_emit(k, "Median %s (ms)%s:                                                   %.2f", shortn,
            sp, st->median_ms);
    ss_emit(k, "P99 %s (ms)%s:                                                      %.2f", shortn, sp,
            st->p99_ms);
}

static void results(struct run *r)
{
    struct ipw_ss_sim *s = r->sim;
    const struct ipw_ss_sink *k = r->k;
    struct ipw_ss_result *res = r->res;
    double lat = (double)r->now / 1e9;
    res->requests = r->req_cnt;
    res->prompt_tokens = r->total_prompt;
    res->generated_tokens = r->total_gen;
    res->n_instances = (size_t)s->c.ninst;
    res->instances = calloc(res->n_instances, sizeof *res->instances);
    for (int i = 0; i < s->c.ninst; i++) {
        res->input_tokens += s->s[i].done_input;
        res->preemptions += s->s[i].num_preemptions;
        res->recomputed_tokens += s->s[i].recompute_tokens;
        res->prefix_requested += s->s[i].kv.npu.stat_requested;
        res->prefix_npu_hit += s->s[i].kv.npu.stat_hit;
        if (!s->opt.enable_prefix_sharing && s->s[i].kv.lower)
            res->prefix_lower_hit += s->s[i].kv.lower->stat_hit;
    }
    if (s->opt.enable_prefix_sharing)
        for (int pi = 0; pi < s->npools; pi++)
            res->prefix_lower_hit += s->pools[pi].stat_hit;
    ss_rule(k, NULL);
    ss_emit(k, "▶ Simulation results...");
    ss_emit(k, "%s", "");
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double wall = (double)(t1.tv_sec - r->t0.tv_sec) + (double)(t1.tv_nsec - r->t0.tv_nsec) / 1e9;
    ss_emit(k, "Total simulation time: %dh %dm %.3fs", (int)(wall / 3600),
            (int)fmod(wall, 3600) / 60, fmod(fmod(wall, 3600), 60));
    ss_rule(k, "Throughput Results");
    ss_emit(k, "Total requests:                                                     %lld",
            (long long)r->req_cnt);
    ss_emit(k, "Total clocks (ns):                                                  %lld",
            (long long)r->now);
    ss_emit(k, "Total latency (s):                                                  %.3f", lat);
    ss_emit(k, "Total input tokens:                                                 %lld",
            (long long)res->input_tokens);
    if (res->preemptions)
        ss_emit(k, "Preemptions:                                                        %lld",
                (long long)res->preemptions);
    if (res->recomputed_tokens)
        ss_emit(k, "Recomputed prompt tokens (preemption):                               %lld",
                (long long)res->recomputed_tokens);
    ss_emit(k, "Total generated tokens:                                             %lld",
            (long long)r->total_gen);
    ss_emit(k, "Request throughput (req/s):                                         %.2f",
            (double)r->req_cnt / lat);
    ss_emit(k, "Average prompt throughput (tok/s):                                  %.2f",
            (double)r->total_prompt / lat);
    ss_emit(k, "Average generation throughput (tok/s):                              %.2f",
            (double)r->total_gen / lat);
    ss_emit(k, "Total token throughput (tok/s):                                     %.2f",
            (double)(r->total_prompt + r->total_gen) / lat);
    {
        size_t cap = 64 + res->n_throughput * 56, w;
        char *buf = malloc(cap), iv[64];
        if (buf) {
            ipw_ss_pyrepr(s->opt.log_interval, iv, sizeof iv);
            /* {log_interval:g} */
            snprintf(iv, sizeof iv, "%g", s->opt.log_interval);
            w = (size_t)snprintf(buf, cap, "[");
            for (size_t i = 0; i < res->n_throughput; i++) {
                char a[64], b[64];
                ipw_ss_pyrepr(res->prompt_tps[i], a, sizeof a);
                ipw_ss_pyrepr(res->gen_tps[i], b, sizeof b);
                w += (size_t)snprintf(buf + w, cap - w, "%s(%s, %s)", i ? ", " : "", a, b);
            }
            snprintf(buf + w, cap - w, "]");
            ss_emit(k, "Throughput per %s sec ([prompt_throughput], [gen_throughput]): %s", iv, buf);
            free(buf);
        }
    }
    ss_rule(k, NULL);
    bool any_pc = false;
    for (int i = 0; i < s->c.ninst; i++)
        any_pc |= s->c.inst[i].prefix_caching;
    if (any_pc) {
        ss_rule(k, "Prefix Caching Results");
        ss_emit(k, "Total requested prompt tokens:                                      %lld",
                (long long)res->prefix_requested);
        ss_emit(k, "NPU prefix hit prompt tokens:                                       %lld",
                (long long)res->prefix_npu_hit);
        if (res->prefix_requested > 0) {
            double req = (double)res->prefix_requested;
            ss_emit(k, "NPU prefix hit ratio (%%):                                           %.2f",
                    (double)res->prefix_npu_hit / req * 100);
            if (s->opt.prefix_storage != IPW_SS_STORE_NONE) {
                const char *tier = s->opt.prefix_storage == IPW_SS_STORE_CPU ? "CPU" : "CXL";
                ss_emit(k, "%s prefix hit prompt tokens:                                       %lld",
                        tier, (long long)res->prefix_lower_hit);
                ss_emit(k, "%s prefix hit ratio (%%):                                           %.2f",
                        tier, (double)res->prefix_lower_hit / req * 100);
            }
            ss_emit(k, "Total prefix hit ratio (%%):                                         %.2f",
                    (double)(res->prefix_npu_hit + res->prefix_lower_hit) / req * 100);
        } else {
            ss_emit(k, "NPU prefix hit ratio (%%):                                           N/A (no "
                    "requests tracked)");
        }
        ss_rule(k, NULL);
    }
    if (r->power) {
        res->power = true;
        res->n_nodes = (size_t)s->c.num_nodes;
        res->nodes = calloc(res->n_nodes, sizeof *res->nodes);
        if (res->nodes) {
            ss_power_final(&r->pw, r->now, res);
            ss_rule(k, "Power Modeling Results");
            ss_emit(k, "Total energy consumption (kJ):                                      %.2f",
                    res->total_energy_j / 1000);
            static const char *names[] = {"Base Node", "NPU", "CPU", "Memory", "Link", "NIC", "Storage"};
            static const int spaces[] = {32, 38, 38, 35, 37, 38, 34};
            for (size_t n = 0; n < res->n_nodes; n++) {
                const struct ipw_ss_node_energy *ne = &res->nodes[n];
                double v[7] = {ne->base_node, ne->npu, ne->cpu, ne->memory, ne->link, ne->nic,
                               ne->storage};
                ss_emit(k, "────────────");
                ss_emit(k, "Node %zu total energy consumption (kJ):                               %.2f",
                        n, ne->total / 1000);
                for (int d = 0; d < 7; d++)
                    ss_emit(k, "%s %s energy consumption (J):%*s%.2f", d == 6 ? "└─" : "├─", names[d],
                            spaces[d], "", v[d]);
                ss_emit(k, "────────────");
                ss_emit(k, "NPU breakdown (seed 004 form): active %.2f J (%.1f %%), standby %.2f J "
                        "(%.1f %%), idle %.2f J (%.1f %%)", ne->npu_active,
                        ne->npu ? ne->npu_active / ne->npu * 100 : 0.0, ne->npu_standby,
                        ne->npu ? ne->npu_standby / ne->npu * 100 : 0.0, ne->npu_idle,
                        ne->npu ? ne->npu_idle / ne->npu * 100 : 0.0);
            }
            size_t cap = 64 + r->pw.nseries * 32, w;
            char *buf = malloc(cap), iv[64];
            if (buf) {
                snprintf(iv, sizeof iv, "%g", s->opt.log_interval);
                w = (size_t)snprintf(buf, cap, "[");
                for (size_t i = 0; i < r->pw.nseries; i++) {
                    char a[64];
                    ipw_ss_pyrepr(r->pw.series[i], a, sizeof a);
                    w += (size_t)snprintf(buf + w, cap - w, "%s%s", i ? ", " : "", a);
                }
                snprintf(buf + w, cap - w, "]");
                ss_emit(k, "Power per %s sec (W): %s", iv, buf);
                free(buf);
            }
            (void)ss_power_take_series(&r->pw, res); /* out of memory: no series, as before */
            ss_rule(k, NULL);
        }
    }
    for (int i = 0; i < s->c.ninst; i++) {
        struct ss_sched *sc = &s->s[i];
        char t[32];
        snprintf(t, sizeof t, "Instance [%d]", i);
        ss_rule(k, t);
        struct ipw_ss_instance_result *ir = &res->instances[i];
        ir->finished = sc->finished;
        ss_stat(sc->ttft, sc->nttft, &ir->ttft);
        ss_stat(sc->tpot, sc->nttft, &ir->tpot);
        ss_stat_hist(&sc->itl, &ir->itl);
        stat_lines(k, "Time to First Token", "TTFT", &ir->ttft, "");
        stat_lines(k, "Time per Output Token (excl. 1st token)", "TPOT", &ir->tpot, "");
        stat_lines(k, "Inter-token Latency", "ITL", &ir->itl, " ");
        ss_rule(k, NULL);
    }
}

void ipw_ss_result_free(struct ipw_ss_result *res)
{
    free(res->instances);
    free(res->nodes);
    free(res->power_w);
    free(res->power_parts_w);
    free(res->prompt_tps);
    free(res->gen_tps);
    memset(res, 0, sizeof *res);
}
