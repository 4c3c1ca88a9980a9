/* The equal-share rule for overlapping queries, kept as a ledger of query events in time order:
 * each piece of time between two consecutive events is divided among the queries in flight
 * during it as soon as its energy is known, so finished queries leave nothing behind.
 * Lock order: the ledger's lock, then the sampler's (a snapshot takes sample_lock then
 * ring_lock; reading energy takes ring_lock). Nothing the sampler calls takes the ledger's. */
#include "ipw/attribution.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ipw/clock.h"

enum ev_kind { EV_START, EV_FIRST, EV_END };

struct bucket {
    struct ipw_energy e; /* sums over the pieces; valid = some piece gave the domain */
    uint32_t invalid;    /* domains some piece could not measure (a gap) */
};

struct entry {
    bool used;
    bool inflight, decoding; /* as the events were divided */
    bool ended;                        /* its end has entered */
    uint64_t id;
    int64_t start, first, end;
    int concurrency;
    struct bucket b[2]; /* prefill, decode */
    double share_s;
    char why[IPW_ERRMSG_MAX];
};

struct event {
    int64_t t;
    size_t slot;
    enum ev_kind kind;
};

struct ipw_share_ledger {
    pthread_mutex_t lock;
    struct ipw_share_ledger_config cfg;
    struct entry *q;
    size_t cap;
    size_t registered; /* entries in use */
    size_t running;    /* started, end not entered: the concurrency a new query sees */
    size_t inflight;   /* started, end not divided */
    int64_t last_in;   /* newest event entered */
    int64_t divided;   /* energy is divided up to here */
    bool have_divided;
    struct ipw_energy at; /* cumulative energy at `divided` */
    bool at_ok;
    char at_why[IPW_ERRMSG_MAX]; /* why it is unknown */
    struct event *ev; /* entered, not yet divided (deferred mode): at most 3 per entry */
    size_t nev;
    pthread_t pump;
    bool pumping;
    bool stop;
    pthread_cond_t stop_cond;
};

static void *pump_main(void *arg);

ipw_err ipw_share_ledger_create(const struct ipw_share_ledger_config *cfg,
                                struct ipw_share_ledger **out, ipw_errbuf *eb)
{
    *out = NULL;
    struct ipw_share_ledger *l = calloc(1, sizeof *l);
    size_t cap = cfg->max_queries ? cfg->max_queries : 1;
    if (l) {
        l->q = calloc(cap, sizeof *l->q);
        l->ev = calloc(3 * cap, sizeof *l->ev);
    }
    if (!l || !l->q || !l->ev) {
        if (l) {
            free(l->q);
            free(l->ev);
        }
        free(l);
        return ipw_fail(eb, IPW_E_NOMEM, "out of memory tracking %zu queries", cap);
    }
    l->cfg = *cfg;
    l->cap = cap;
    pthread_mutex_init(&l->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&l->stop_cond, &ca);
    pthread_condattr_destroy(&ca);
    if (cfg->deferred && cfg->pump_ns >= 0) {
        int rc = pthread_create(&l->pump, NULL, pump_main, l);
        if (rc != 0) {
            ipw_share_ledger_destroy(l);
            return ipw_fail(eb, IPW_E_NOMEM, "cannot start the energy ledger's thread (error %d)",
                            rc);
        }
        l->pumping = true;
    }
    *out = l;
    return IPW_OK;
}

void ipw_share_ledger_destroy(struct ipw_share_ledger *l)
{
    if (!l)
        return;
    if (l->pumping) {
        pthread_mutex_lock(&l->lock);
        l->stop = true;
        pthread_cond_broadcast(&l->stop_cond);
        pthread_mutex_unlock(&l->lock);
        pthread_join(l->pump, NULL);
    }
    pthread_cond_destroy(&l->stop_cond);
    pthread_mutex_destroy(&l->lock);
    free(l->q);
    free(l->ev);
    free(l);
}

static void add_piece(struct bucket *b, const struct ipw_energy *e, double n)
{
    b->e.present |= e->present;
    b->invalid |= e->present & ~e->valid;
    for (int d = 0; d < IPW_DOMAIN_COUNT; d++) {
        uint32_t bit = 1u << d;
        if (!(e->valid & bit))
            continue;
        b->e.joules[d] += e->joules[d] / n;
        b->e.source[d] = e->source[d];
        b->e.exact[d] = (b->e.valid & bit) ? (b->e.exact[d] && e->exact[d]) : e->exact[d];
        b->e.valid |= bit;
    }
}

/* The energy of (divided, t] from the cumulative energies at both ends. */
static void piece(const struct ipw_share_ledger *l, const struct ipw_energy *now,
                  struct ipw_energy *e)
{
    memset(e, 0, sizeof *e);
    e->present = now->present | l->at.present;
    for (int d = 0; d < IPW_DOMAIN_COUNT; d++) {
        uint32_t bit = 1u << d;
        if (!(now->valid & l->at.valid & bit))
            continue;
        double j = now->joules[d] - l->at.joules[d];
        e->joules[d] = j < 0 ? 0 : j; /* a counter that went back (a reset) adds nothing */
        e->source[d] = now->source[d];
        e->exact[d] = now->exact[d] && l->at.exact[d];
        e->valid |= bit;
    }
}

/* Divide the energy of (divided, t] among the queries in flight over it. */
static void divide_to(struct ipw_share_ledger *l, int64_t t)
{
    if (l->have_divided && t <= l->divided)
        return;
    struct ipw_energy now;
    ipw_errbuf eb = {0};
    bool now_ok = ipw_attr_energy_at(l->cfg.src, t, &now, &eb) == IPW_OK;
    if (l->have_divided && l->inflight > 0) {
        struct ipw_energy e;
        bool ok = now_ok && l->at_ok;
        if (ok)
            piece(l, &now, &e);
        const char *why = !l->at_ok ? l->at_why : eb.msg;
        double n = (double)l->inflight;
        double dt = (double)(t - l->divided) / 1e9;
        for (size_t i = 0; i < l->cap; i++) {
            struct entry *q = &l->q[i];
            if (!q->used || !q->inflight)
                continue;
            q->share_s += dt / n;
            struct bucket *b = &q->b[q->decoding ? 1 : 0];
            if (ok) {
                add_piece(b, &e, n);
            } else {
                b->invalid = ~0u; /* nothing is known about this piece */
                if (!q->why[0])
                    snprintf(q->why, sizeof q->why, "%s", why);
            }
        }
    }
    l->at = now;
    l->at_ok = now_ok;
    if (!now_ok)
        snprintf(l->at_why, sizeof l->at_why, "%s", eb.msg);
    l->divided = t;
    l->have_divided = true;
}

static void apply(struct ipw_share_ledger *l, const struct event *ev)
{
    divide_to(l, ev->t);
    struct entry *q = &l->q[ev->slot];
    switch (ev->kind) {
    case EV_START:
        q->inflight = true;
        l->inflight++;
        break;
    case EV_FIRST:
        q->decoding = true;
        break;
    case EV_END:
        if (q->inflight) {
            q->inflight = false;
            l->inflight--;
        }
        break;
    }
}

/* Lock held. Takes the boundary, keeps events in time order, divides at once unless deferred. */
static int64_t boundary(struct ipw_share_ledger *l, int64_t client_ns)
{
    int64_t t = l->cfg.mark ? l->cfg.mark(l->cfg.mark_ud, client_ns) : client_ns;
    if (t < l->last_in)
        t = l->last_in;
    l->last_in = t;
    return t;
}

/* Lock held. An event at boundary t (from boundary()). */
static void enter_at(struct ipw_share_ledger *l, size_t slot, enum ev_kind kind, int64_t t)
{
    struct event ev = {t, slot, kind};
    if (l->cfg.deferred && l->nev < 3 * l->cap)
        l->ev[l->nev++] = ev;
    else
        apply(l, &ev); /* (the queue cannot overflow: each entry has at most 3 events) */
}

static int64_t enter(struct ipw_share_ledger *l, size_t slot, enum ev_kind kind, int64_t client_ns)
{
    int64_t t = boundary(l, client_ns);
    enter_at(l, slot, kind, t);
    return t;
}

/* Lock held. Divide the queued events whose time every source's readings have passed. */
static void pump_locked(struct ipw_share_ledger *l)
{
    if (!l->nev)
        return;
    int64_t horizon = INT64_MAX;
    for (size_t i = 0; i < l->cfg.src->n; i++) {
        struct ipw_sampler_stats st;
        ipw_sampler_get_stats(l->cfg.src->s[i], &st);
        if (!st.held)
            return;
        if (st.newest_mono_ns < horizon)
            horizon = st.newest_mono_ns;
    }
    size_t k = 0;
    while (k < l->nev && l->ev[k].t <= horizon)
        apply(l, &l->ev[k++]);
    memmove(l->ev, l->ev + k, (l->nev - k) * sizeof *l->ev);
    l->nev -= k;
}

void ipw_share_ledger_pump(struct ipw_share_ledger *l)
{
    pthread_mutex_lock(&l->lock);
    pump_locked(l);
    pthread_mutex_unlock(&l->lock);
}

/* Deferred mode: pieces are divided while their readings are still in the telemetry buffer,
 * however long the query that spans them lasts. */
static void *pump_main(void *arg)
{
    struct ipw_share_ledger *l = arg;
    int64_t period = l->cfg.pump_ns > 0 ? l->cfg.pump_ns : 200 * IPW_NS_PER_MS;
    pthread_mutex_lock(&l->lock);
    while (!l->stop) {
        int64_t deadline = ipw_mono_ns() + period;
        struct timespec ts = {.tv_sec = deadline / IPW_NS_PER_SEC,
                              .tv_nsec = deadline % IPW_NS_PER_SEC};
        pthread_cond_timedwait(&l->stop_cond, &l->lock, &ts);
        if (!l->stop)
            pump_locked(l);
    }
    pthread_mutex_unlock(&l->lock);
    return NULL;
}

static struct entry *find(struct ipw_share_ledger *l, uint64_t id, size_t *slot)
{
    for (size_t i = 0; i < l->cap; i++)
        if (l->q[i].used && l->q[i].id == id) {
            if (slot)
                *slot = i;
            return &l->q[i];
        }
    return NULL;
}

ipw_err ipw_share_ledger_start(struct ipw_share_ledger *l, uint64_t id, int64_t client_ns,
                               int64_t *t, int *concurrency, ipw_errbuf *eb)
{
    pthread_mutex_lock(&l->lock);
    size_t slot = l->cap;
    for (size_t i = 0; i < l->cap && slot == l->cap; i++)
        if (!l->q[i].used)
            slot = i;
    if (slot == l->cap || find(l, id, NULL)) {
        bool dup = slot != l->cap;
        pthread_mutex_unlock(&l->lock);
        return dup ? ipw_fail(eb, IPW_E_EXISTS, "query %llu is already in flight",
                              (unsigned long long)id)
                   : ipw_fail(eb, IPW_E_RANGE,
                              "more than %zu queries in flight at once: the energy ledger is full",
                              l->cap);
    }
    struct entry *q = &l->q[slot];
    memset(q, 0, sizeof *q);
    q->used = true;
    q->id = id;
    l->registered++;
    l->running++;
    q->concurrency = (int)l->running;
    q->start = enter(l, slot, EV_START, client_ns);
    if (t)
        *t = q->start;
    if (concurrency)
        *concurrency = q->concurrency;
    pthread_mutex_unlock(&l->lock);
    return IPW_OK;
}

int64_t ipw_share_ledger_first_token(struct ipw_share_ledger *l, uint64_t id, int64_t client_ns)
{
    pthread_mutex_lock(&l->lock);
    size_t slot;
    struct entry *q = find(l, id, &slot);
    int64_t t = client_ns;
    if (q && !q->ended && !q->first)
        t = q->first = enter(l, slot, EV_FIRST, client_ns);
    pthread_mutex_unlock(&l->lock);
    return t;
}

int64_t ipw_share_ledger_end(struct ipw_share_ledger *l, uint64_t id, int64_t client_ns)
{
    pthread_mutex_lock(&l->lock);
    size_t slot;
    struct entry *q = find(l, id, &slot);
    int64_t t = client_ns;
    if (q && !q->ended) {
        t = q->end = enter(l, slot, EV_END, client_ns);
        q->ended = true;
        l->running--;
    }
    pthread_mutex_unlock(&l->lock);
    return t;
}

ipw_err ipw_share_ledger_handoff(struct ipw_share_ledger *l, uint64_t old_id, uint64_t new_id,
                                 int64_t client_ns, int64_t *t, ipw_errbuf *eb)
{
    pthread_mutex_lock(&l->lock);
    size_t old_slot, slot = l->cap;
    struct entry *o = find(l, old_id, &old_slot);
    for (size_t i = 0; i < l->cap && slot == l->cap; i++)
        if (!l->q[i].used)
            slot = i;
    if (!o || o->ended || slot == l->cap || find(l, new_id, NULL)) {
        pthread_mutex_unlock(&l->lock);
        return ipw_fail(eb, slot == l->cap ? IPW_E_RANGE : IPW_E_NOTFOUND,
                        "cannot hand query %llu over to %llu: %s", (unsigned long long)old_id,
                        (unsigned long long)new_id,
                        slot == l->cap ? "the energy ledger is full"
                                       : "the first is not in flight or the second is");
    }
    /* one boundary for both: the end of the one is the start of the other, to the nanosecond */
    int64_t b = boundary(l, client_ns);
    o->end = b;
    o->ended = true;
    enter_at(l, old_slot, EV_END, b);
    struct entry *q = &l->q[slot];
    memset(q, 0, sizeof *q);
    q->used = true;
    q->id = new_id;
    l->registered++;
    q->concurrency = (int)l->running; /* the old one's place: running is unchanged */
    q->start = b;
    enter_at(l, slot, EV_START, b);
    if (t)
        *t = b;
    pthread_mutex_unlock(&l->lock);
    return IPW_OK;
}

/* A phase's energy: a domain that no piece measured (an empty phase) is exactly 0 J; one with a
 * gap in some piece is unknown. */
static void finish(const struct bucket *b, uint32_t present, struct ipw_energy *out)
{
    *out = b->e;
    out->present = present;
    out->valid = 0;
    for (int d = 0; d < IPW_DOMAIN_COUNT; d++) {
        uint32_t bit = 1u << d;
        if (!(present & bit) || (b->invalid & bit))
            continue;
        if (!(b->e.valid & bit)) {
            out->joules[d] = 0;
            out->exact[d] = 1;
        }
        out->valid |= bit;
    }
}

ipw_err ipw_share_ledger_collect(struct ipw_share_ledger *l, uint64_t id,
                                 struct ipw_query_share *out, ipw_errbuf *eb)
{
    memset(out, 0, sizeof *out);
    pthread_mutex_lock(&l->lock);
    size_t slot;
    struct entry *q = find(l, id, &slot);
    if (!q || !q->ended) {
        pthread_mutex_unlock(&l->lock);
        return ipw_fail(eb, IPW_E_NOTFOUND, "query %llu has not ended", (unsigned long long)id);
    }
    /* queued events are in time order: divide everything up to this query's end */
    size_t k = 0;
    while (k < l->nev && l->ev[k].t <= q->end)
        apply(l, &l->ev[k++]);
    memmove(l->ev, l->ev + k, (l->nev - k) * sizeof *l->ev);
    l->nev -= k;

    /* the domains that exist, even for a query too short to hold a piece */
    struct ipw_energy probe;
    uint32_t present = q->b[0].e.present | q->b[1].e.present;
    if (ipw_attr_energy(l->cfg.src, q->end, q->end, &probe, NULL) == IPW_OK)
        present |= probe.present;
    finish(&q->b[0], present, &out->prefill);
    finish(&q->b[1], present, &out->decode);
    struct ipw_energy *tot = &out->total;
    const struct ipw_energy *last = q->b[1].e.valid ? &out->decode : &out->prefill;
    tot->present = present;
    for (int d = 0; d < IPW_DOMAIN_COUNT; d++) {
        uint32_t bit = 1u << d;
        if (!((out->prefill.valid & out->decode.valid) & bit))
            continue;
        tot->joules[d] = out->prefill.joules[d] + out->decode.joules[d];
        tot->exact[d] = out->prefill.exact[d] && out->decode.exact[d];
        tot->source[d] = last->source[d];
        tot->valid |= bit;
    }
    uint32_t gaps = present & ~tot->valid;
    if (q->why[0])
        snprintf(out->why, sizeof out->why, "%s", q->why);
    else if (gaps)
        for (int d = 0; d < IPW_DOMAIN_COUNT; d++)
            if (gaps & (1u << d)) {
                snprintf(out->why, sizeof out->why,
                         "telemetry has a gap in the %s energy during the query",
                         ipw_domain_name((ipw_domain)d));
                break;
            }
    out->share_seconds = q->share_s;
    out->concurrency = q->concurrency;
    out->start_ns = q->start;
    out->first_token_ns = q->first;
    out->end_ns = q->end;
    q->used = false;
    l->registered--;
    pthread_mutex_unlock(&l->lock);
    return IPW_OK;
}

size_t ipw_share_ledger_tracked(struct ipw_share_ledger *l)
{
    pthread_mutex_lock(&l->lock);
    size_t n = l->registered;
    pthread_mutex_unlock(&l->lock);
    return n;
}
