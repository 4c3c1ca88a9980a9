/* The process-wide sim activity state: which modelled requests are in prefill or decode, and
 * the exact integrals over time of the power utilisation they cause. The sim client writes it,
 * the sim collector reads it. Transition times are taken under the lock, so they are totally
 * ordered, and a short history lets a reading stamped just before a transition (the sampler
 * takes the timestamp before it calls the collector) still be integrated exactly. */
#include "ipw/sim.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "ipw/clock.h"

enum { PH_IDLE = 0, PH_PREFILL, PH_DECODE };

struct slot {
    int phase;
    struct ipw_sim_load load;
    double kv_bytes;
};

/* The integrals at a transition, and the rates that hold after it. */
struct mark {
    int64_t t;
    double util_ns, busy_ns;
    double util;
    bool busy;
};

#define MAX_CLIENTS 64

static struct {
    pthread_mutex_t lock;
    bool started;
    int64_t first_ns;
    struct mark now; /* the latest transition */
    struct mark hist[IPW_SIM_HISTORY];
    size_t hhead, hcount;
    struct slot slots[IPW_SIM_MAX_ACTIVE];
    int hiwater; /* slots beyond this index are all idle */
    unsigned nactive;
    double resident_weights;
    struct {
        int handle;
        char hw[64];
        double weights;
    } clients[MAX_CLIENTS];
    int nclients, next_handle;
} S = {.lock = PTHREAD_MUTEX_INITIALIZER};

static void push_mark(void)
{
    S.hist[S.hhead] = S.now;
    S.hhead = (S.hhead + 1) % IPW_SIM_HISTORY;
    if (S.hcount < IPW_SIM_HISTORY)
        S.hcount++;
}

static void start_locked(int64_t t)
{
    if (S.started)
        return;
    S.started = true;
    S.first_ns = t;
    S.now = (struct mark){.t = t};
    push_mark();
}

/* Integrate the rates in force since the last transition up to t (t >= S.now.t). */
static void advance(int64_t t)
{
    double dt = (double)(t - S.now.t);
    S.now.util_ns += S.now.util * dt;
    S.now.busy_ns += S.now.busy ? dt : 0;
    S.now.t = t;
}

/* The GPU draws what its most demanding request asks: a batched server's step is as busy as
 * its heaviest member (docs/sim.md). */
static void recompute(void)
{
    double u = 0;
    for (int i = 0; i < S.hiwater; i++)
        if (S.slots[i].phase != PH_IDLE && S.slots[i].load.util > u)
            u = S.slots[i].load.util;
    S.now.util = u > 1 ? 1 : u;
    S.now.busy = S.nactive > 0;
}

/* Take the transition time under the lock and integrate up to it. */
static int64_t transition(void)
{
    int64_t t = ipw_mono_ns();
    start_locked(t);
    if (t < S.now.t) /* CLOCK_MONOTONIC never goes back; guard against a broken clock */
        t = S.now.t;
    advance(t);
    return t;
}

static bool valid_slot(int slot)
{
    return slot >= 0 && slot < S.hiwater && S.slots[slot].phase != PH_IDLE;
}

ipw_err ipw_sim_activity_begin(const struct ipw_sim_load *prefill, double weight_bytes,
                               double kv_bytes, int *slot, int64_t *t_ns, ipw_errbuf *eb)
{
    pthread_mutex_lock(&S.lock);
    int idx = -1;
    for (int i = 0; i < IPW_SIM_MAX_ACTIVE && idx < 0; i++)
        if (S.slots[i].phase == PH_IDLE)
            idx = i;
    if (idx < 0) {
        pthread_mutex_unlock(&S.lock);
        return ipw_fail(eb, IPW_E_NOMEM,
                        "more than %d modelled requests in flight at once: lower --concurrency",
                        IPW_SIM_MAX_ACTIVE);
    }
    int64_t t = transition();
    S.slots[idx] = (struct slot){PH_PREFILL, *prefill, kv_bytes};
    if (idx >= S.hiwater)
        S.hiwater = idx + 1;
    S.nactive++;
    if (weight_bytes > 0)
        S.resident_weights = weight_bytes;
    recompute();
    push_mark();
    pthread_mutex_unlock(&S.lock);
    *slot = idx;
    *t_ns = t;
    return IPW_OK;
}

int64_t ipw_sim_activity_decode(int slot, const struct ipw_sim_load *decode)
{
    pthread_mutex_lock(&S.lock);
    int64_t t = transition();
    if (valid_slot(slot)) {
        S.slots[slot].phase = PH_DECODE;
        S.slots[slot].load = *decode;
        recompute();
        push_mark();
    }
    pthread_mutex_unlock(&S.lock);
    return t;
}

void ipw_sim_activity_kv(int slot, double kv_bytes)
{
    pthread_mutex_lock(&S.lock);
    if (valid_slot(slot))
        S.slots[slot].kv_bytes = kv_bytes;
    pthread_mutex_unlock(&S.lock);
}

int64_t ipw_sim_activity_end(int slot)
{
    pthread_mutex_lock(&S.lock);
    int64_t t = transition();
    if (valid_slot(slot)) {
        S.slots[slot] = (struct slot){0};
        S.nactive--;
        while (S.hiwater > 0 && S.slots[S.hiwater - 1].phase == PH_IDLE)
            S.hiwater--;
        recompute();
        push_mark();
    }
    pthread_mutex_unlock(&S.lock);
    return t;
}

/* The newest kept mark with m.t <= t, or NULL when t precedes them all. */
static const struct mark *mark_at(int64_t t)
{
    size_t lo = 0, hi = S.hcount; /* search over age order: index 0 = oldest */
    const struct mark *best = NULL;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        const struct mark *m =
            &S.hist[(S.hhead + IPW_SIM_HISTORY - S.hcount + mid) % IPW_SIM_HISTORY];
        if (m->t <= t) {
            best = m;
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return best;
}

void ipw_sim_activity_read(int64_t t, struct ipw_sim_reading *out)
{
    memset(out, 0, sizeof *out);
    out->exact = true;
    pthread_mutex_lock(&S.lock);
    start_locked(ipw_mono_ns());
    out->first_ns = S.first_ns;
    struct mark m;
    if (t >= S.now.t) {
        m = S.now;
    } else if (t < S.first_ns) {
        m = (struct mark){.t = t}; /* nothing ran before the state began */
    } else {
        const struct mark *p = mark_at(t);
        if (p) {
            m = *p;
        } else {
            /* older than the kept history: clamp to its oldest entry */
            m = S.hist[(S.hhead + IPW_SIM_HISTORY - S.hcount) % IPW_SIM_HISTORY];
            m.util = 0;
            m.busy = false;
            t = m.t;
            out->exact = false;
        }
    }
    double dt = (double)(t - m.t);
    out->util_ns = m.util_ns + m.util * dt;
    out->busy_ns = m.busy_ns + (m.busy ? dt : 0);
    out->util = m.util;
    out->busy = m.busy;
    double kv = 0;
    for (int i = 0; i < S.hiwater; i++) {
        const struct slot *s = &S.slots[i];
        if (s->phase == PH_IDLE)
            continue;
        if (s->phase == PH_PREFILL)
            out->prefill++;
        else
            out->decode++;
        if (s->load.frac_compute > out->frac_compute)
            out->frac_compute = s->load.frac_compute;
        if (s->load.frac_memory > out->frac_memory)
            out->frac_memory = s->load.frac_memory;
        kv += s->kv_bytes;
    }
    out->weight_bytes = S.resident_weights;
    out->kv_bytes = kv;
    pthread_mutex_unlock(&S.lock);
}

int ipw_sim_register_client(const char *hardware, double weight_bytes)
{
    pthread_mutex_lock(&S.lock);
    int h = 0;
    if (S.nclients < MAX_CLIENTS) {
        h = ++S.next_handle;
        S.clients[S.nclients].handle = h;
        snprintf(S.clients[S.nclients].hw, sizeof S.clients[0].hw, "%s",
                 hardware ? hardware : "");
        S.clients[S.nclients].weights = weight_bytes;
        S.nclients++;
        if (S.nactive == 0)
            S.resident_weights = weight_bytes;
    }
    pthread_mutex_unlock(&S.lock);
    return h;
}

void ipw_sim_unregister_client(int handle)
{
    pthread_mutex_lock(&S.lock);
    for (int i = 0; i < S.nclients; i++) {
        if (S.clients[i].handle != handle)
            continue;
        memmove(&S.clients[i], &S.clients[i + 1],
                (size_t)(S.nclients - i - 1) * sizeof S.clients[0]);
        S.nclients--;
        if (S.nactive == 0)
            S.resident_weights = S.nclients ? S.clients[S.nclients - 1].weights : 0;
        break;
    }
    pthread_mutex_unlock(&S.lock);
}

bool ipw_sim_client_hardware(char *buf, size_t size)
{
    pthread_mutex_lock(&S.lock);
    bool found = S.nclients > 0;
    if (found)
        snprintf(buf, size, "%s", S.clients[S.nclients - 1].hw);
    pthread_mutex_unlock(&S.lock);
    return found;
}
