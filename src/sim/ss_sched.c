/* One instance's scheduler: the original's vLLM-V1-style continuous batching. Each step
 * serves the running set first (in admission order, preempting from its tail when KV blocks
 * run out), then admits waiting requests in arrival order (never by preempting, and not at
 * all in a step that preempted). num_computed advances at schedule time; tokens, TTFT and
 * ITL are produced when the batch completes. */
#include <stdlib.h>
#include <string.h>

#include "ss.h"

static bool grow(void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return true;
    size_t nc = *cap ? *cap : 16;
    while (nc < need)
        nc *= 2;
    void *np = realloc(*p, nc * elem);
    if (!np)
        return false;
    *p = np;
    *cap = nc;
    return true;
}

void ss_sched_add_request(struct ss_sched *s, struct ss_req *r)
{
    /* insort by (arrival, id); requests come in arrival order, so this is nearly always the tail */
    if (!grow((void **)&s->waiting, &s->capwait, s->nwait + 1, sizeof *s->waiting))
        return;
    size_t i = s->nwait;
    while (i > 0 && (s->waiting[i - 1]->arrival > r->arrival ||
                     (s->waiting[i - 1]->arrival == r->arrival && s->waiting[i - 1]->id > r->id)))
        i--;
    memmove(&s->waiting[i + 1], &s->waiting[i], (s->nwait - i) * sizeof *s->waiting);
    s->waiting[i] = r;
    s->nwait++;
    r->instance = s->idx;
}

void ss_sched_add_running(struct ss_sched *s, struct ss_req *r)
{
    if (grow((void **)&s->running, &s->caprun, s->nrun + 1, sizeof *s->running))
        s->running[s->nrun++] = r;
}

static void preempt(struct ss_sched *s, struct ss_req *r)
{
    ss_kv_free(&s->kv, r);
    r->num_computed = 0;
    r->num_preemptions++;
    s->num_preemptions++;
    if (!grow((void **)&s->waiting, &s->capwait, s->nwait + 1, sizeof *s->waiting))
        return;
    memmove(&s->waiting[1], &s->waiting[0], s->nwait * sizeof *s->waiting);
    s->waiting[0] = r;
    s->nwait++;
}

static int64_t min64(int64_t a, int64_t b)
{
    return a < b ? a : b;
}

struct pick {
    struct ss_req *r;
    int64_t num_new, before;
};

static bool in_flight(const struct ss_sched *s, const struct ss_req *r)
{
    for (size_t b = 0; b < s->ninflight; b++)
        for (size_t i = 0; i < s->inflight[b].nreq; i++)
            if (s->inflight[b].reqs[i] == r)
                return true;
    return false;
}

ipw_err ss_schedule(struct ipw_ss_sim *sim, struct ss_sched *s, int64_t now, struct ss_batch **out,
                    ipw_errbuf *eb)
{
    (void)sim;
    *out = NULL;
    const struct ss_inst_cfg *c = s->cfg;
    if ((int64_t)s->ninflight >= c->pp)
        return IPW_OK;
    int64_t budget = c->max_num_batched_tokens;
    size_t cap = s->nrun + s->nwait + 1, np = 0;
    if (cap > s->cap_picks) {
        void *npk = realloc(s->picks, cap * sizeof(struct pick));
        if (!npk)
            return ipw_fail(eb, IPW_E_NOMEM, "out of memory scheduling");
        s->picks = npk;
        s->cap_picks = cap;
    }
    struct pick *picks = s->picks;
    bool preempted = false;
    int64_t thr = c->long_prefill_threshold;

    /* phase A: running */
    for (size_t i = 0; i < s->nrun && budget > 0;) {
        struct ss_req *r = s->running[i];
        int64_t num_new = r->num_reached - r->num_computed;
        if (thr > 0 && thr < num_new)
            num_new = thr;
        num_new = min64(num_new, budget);
        if (num_new <= 0) {
            if (!in_flight(s, r)) {
                                return ipw_fail(eb, IPW_E_INTERNAL, "instance %d: request %lld is running with "
                                "nothing to schedule and no batch in flight", s->idx,
                                (long long)r->id);
            }
            i++;
            continue;
        }
        bool ok = false;
        for (;;) {
            if (ss_kv_allocate(&s->kv, r, num_new, NULL, 0, 0, 0)) {
                ok = true;
                break;
            }
            struct ss_req *victim = s->running[--s->nrun];
            preempt(s, victim);
            preempted = true;
            if (victim == r)
                break;
        }
        if (!ok)
            break;
        picks[np++] = (struct pick){r, num_new, r->num_computed};
        budget -= num_new;
        i++;
    }

    /* phase B: waiting */
    int32_t *hit = NULL;
    size_t hitcap = 0;
    while (!preempted && s->nwait && budget > 0) {
        if ((int64_t)s->nrun >= c->max_num_seqs)
            break;
        struct ss_req *r = s->waiting[0];
        if (r->arrival > now)
            break;
        int64_t num_computed = r->num_computed, npu_hit = 0, lower_hit = 0;
        size_t nhit = 0;
        if (num_computed == 0) {
            size_t need = (size_t)(r->num_reached / c->block_size) + 1;
            if (need > hitcap) {
                int32_t *nh = realloc(hit, need * sizeof *hit);
                if (!nh) {
                    free(hit);
                                        return ipw_fail(eb, IPW_E_NOMEM, "out of memory scheduling");
                }
                hit = nh;
                hitcap = need;
            }
            nhit = ss_kv_computed_blocks(&s->kv, r, hit, hitcap, &lower_hit);
            npu_hit = (int64_t)nhit * c->block_size;
            r->npu_cache_hit = npu_hit;
            r->storage_cache_hit = npu_hit + lower_hit;
            r->prefix_cache_hit = r->storage_cache_hit;
            num_computed = npu_hit + lower_hit;
        }
        int64_t num_new = r->num_reached - num_computed;
        if (thr > 0 && thr < num_new)
            num_new = thr;
        if (!c->chunked && num_new > budget)
            break;
        num_new = min64(num_new, budget);
        if (num_new <= 0)
            break;
        if (c->reserve_full_isl && !ss_kv_can_fit_full(&s->kv, r, hit, nhit, npu_hit, lower_hit))
            break;
        if (!ss_kv_allocate(&s->kv, r, num_new, hit, nhit, npu_hit, lower_hit))
            break;
        memmove(&s->waiting[0], &s->waiting[1], (s->nwait - 1) * sizeof *s->waiting);
        s->nwait--;
        if (r->num_preemptions > 0 && r->num_reached > num_computed)
            s->recompute_tokens += r->num_reached - num_computed;
        r->num_computed = num_computed;
        if (!grow((void **)&s->running, &s->caprun, s->nrun + 1, sizeof *s->running)) {
            free(hit);
                        return ipw_fail(eb, IPW_E_NOMEM, "out of memory scheduling");
        }
        s->running[s->nrun++] = r;
        if (c->prefix_caching && !r->stats_counted) {
            s->kv.npu.stat_requested += r->input;
            s->kv.npu.stat_hit += r->npu_cache_hit;
            r->stats_counted = true;
        }
        if (c->prefix_caching && s->kv.lower && !r->storage_stats_counted) {
            int64_t extra = r->storage_cache_hit - r->npu_cache_hit;
            s->kv.lower->stat_requested += r->input;
            s->kv.lower->stat_hit += extra > 0 ? extra : 0;
            r->storage_stats_counted = true;
        }
        picks[np++] = (struct pick){r, num_new, num_computed};
        budget -= num_new;
    }
    free(hit);
    if (!np) {
                return IPW_OK;
    }

    /* build the batch */
    struct ss_batch *b = &s->inflight[s->ninflight];
    memset(b, 0, sizeof *b);
    b->reqs = malloc(np * sizeof *b->reqs);
    b->sched = malloc(np * sizeof *b->sched);
    if (!b->reqs || !b->sched) {
        free(b->reqs);
        free(b->sched);
                return ipw_fail(eb, IPW_E_NOMEM, "out of memory scheduling");
    }
    b->id = ++s->batch_ids;
    b->start = now;
    /* take_traffic: the recall is loaded before the first layer; the write-through is free */
    b->load = s->kv.recall_bytes;
    s->kv.recall_bytes = s->kv.write_through_bytes = 0;
    for (size_t i = 0; i < np; i++) {
        struct ss_req *r = picks[i].r;
        b->reqs[i] = r;
        b->sched[i] = picks[i].num_new;
        b->total_len += picks[i].num_new;
        r->sched_tokens = picks[i].before; /* computed tokens before this step */
        r->nbatches++;
        if (c->pd == SS_PD_PREFILL) /* this chunk's K/V, plus a first step's prefix hit */
            b->pd_kv_tokens += picks[i].num_new + (picks[i].before == 0 ? r->prefix_cache_hit : 0);
        if (r->is_init)
            r->queuing_delay = now - r->arrival;
        r->num_computed = picks[i].before + picks[i].num_new;
    }
    b->nreq = np;
    s->ninflight++;
        *out = b;
    return IPW_OK;
}

static bool push64(int64_t **v, size_t *n, size_t *cap, int64_t x)
{
    if (!grow((void **)v, cap, *n + 1, sizeof **v))
        return false;
    (*v)[(*n)++] = x;
    return true;
}

static void retire(struct ss_sched *s, struct ss_req *r)
{
    r->finished = true;
    for (size_t i = 0; i < s->nrun; i++)
        if (s->running[i] == r) {
            memmove(&s->running[i], &s->running[i + 1], (s->nrun - i - 1) * sizeof *s->running);
            s->nrun--;
            return;
        }
}

ipw_err ss_add_done(struct ipw_ss_sim *sim, struct ss_sched *s, struct ss_batch *b, int64_t now,
                    int64_t *prompt_t, int64_t *gen_t, struct ss_req ***fin, size_t *nfin,
                    ipw_errbuf *eb)
{
    (void)sim;
    *prompt_t = *gen_t = 0;
    *nfin = 0;
    *fin = malloc((b->nreq ? b->nreq : 1) * sizeof **fin);
    if (!*fin)
        return ipw_fail(eb, IPW_E_NOMEM, "out of memory");
    bool caching = s->cfg->prefix_caching;
    for (size_t i = 0; i < b->nreq; i++) {
        struct ss_req *r = b->reqs[i];
        if (r->finished)
            continue;
        int64_t num_new = b->sched[i];
        bool prefill_done = r->is_init && r->num_computed >= r->input;
        if (prefill_done) {
            r->is_init = false;
            r->ttft = now - r->arrival;
            r->recent_end = now;
            *prompt_t += num_new + r->prefix_cache_hit;
            if (s->cfg->pd == SS_PD_PREFILL) {
                /* the first token exists (lm_head and the sampler ran here); the request
                 * leaves for a decode instance, which counts the token */
                if (caching)
                    ss_kv_cache_blocks(&s->kv, r, r->num_computed);
                r->num_reached++;
                ss_kv_free(&s->kv, r);
                retire(s, r);
                (*fin)[(*nfin)++] = r;
                continue;
            }
        } else if (num_new > 1) {
            *prompt_t += num_new;
        }
        bool index = prefill_done || num_new > 1;
        if (r->num_computed >= r->num_reached) {
            index = true;
            int64_t left = r->output - r->num_reached;
            int64_t committed = left > 0 ? 1 : 0;
            r->num_reached += committed;
            *gen_t += committed;
            if (!prefill_done && s->itl_direct) {
                if (!ss_hist_add(&s->itl, now - r->recent_end))
                    return ipw_fail(eb, IPW_E_NOMEM, "out of memory");
                r->recent_end = now;
            } else if (!prefill_done) {
                /* one gap per token after the first: sized once, not doubled token by token */
                if (!r->cap_itl && r->output - r->input > 1) {
                    size_t want = (size_t)(r->output - r->input - 1);
                    if (!(r->itl = malloc(want * sizeof *r->itl)))
                        return ipw_fail(eb, IPW_E_NOMEM, "out of memory");
                    r->cap_itl = want;
                }
                if (!push64(&r->itl, &r->n_itl, &r->cap_itl, now - r->recent_end))
                    return ipw_fail(eb, IPW_E_NOMEM, "out of memory");
                r->recent_end = now;
            }
        }
        /* the original indexes the blocks at each of these points, always up to num_computed,
         * which none of them changes: once is the same */
        if (caching && (index || r->num_reached >= r->output))
            ss_kv_cache_blocks(&s->kv, r, r->num_computed);
        if (r->num_reached >= r->output) {
            ss_kv_free(&s->kv, r);
            r->end_time = now;
            r->latency = now - r->arrival;
            int64_t gen = r->output - r->input;
            r->tpot = gen == 1 ? 0 : (r->latency - r->ttft) / (gen - 1);
            retire(s, r);
            (*fin)[(*nfin)++] = r;
        }
    }
    /* a request finished by an earlier batch is freed once no batch in flight holds it */
    for (size_t i = 0; i < b->nreq; i++) {
        struct ss_req *r = b->reqs[i];
        if (--r->nbatches == 0 && r->free_pending)
            ss_req_free(r);
    }
    /* drop the batch from the in-flight list (order kept) */
    size_t idx = (size_t)(b - s->inflight);
    free(b->reqs);
    free(b->sched);
    memmove(&s->inflight[idx], &s->inflight[idx + 1], (s->ninflight - idx - 1) * sizeof *b);
    s->ninflight--;
    return IPW_OK;
}
