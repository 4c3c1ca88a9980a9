/* The sampler thread and its ring buffer. Two locks: sample_lock serializes collector access so
 * that readings enter the ring in time order (the tick and snapshots race for it); ring_lock
 * guards the ring itself, so window queries never wait for a slow collector read. */
#include "ipw/sampler.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "ipw/clock.h"
#include "ipw/log.h"

struct subscriber {
    ipw_sampler_cb cb;
    void *ud;
    int id;
};

struct ipw_sampler {
    struct ipw_collector *c;
    int64_t interval_ns;
    unsigned ndev;

    pthread_mutex_t sample_lock;
    pthread_mutex_t ring_lock;
    pthread_cond_t ring_cond; /* signalled on every insert and on stop */

    struct ipw_reading *ring;
    struct ipw_device_reading *dring; /* cap * ndev, or NULL */
    size_t cap, head, count;          /* head: index of the next write */
    uint64_t inserted;
    uint32_t seen_valid; /* every metric bit any reading has held: which domains exist */
    _Atomic uint64_t snapshots, failures, missed; /* bumped outside ring_lock */
    uint64_t next_seq;

    struct subscriber subs[IPW_SAMPLER_MAX_SUBSCRIBERS];
    int nsubs, next_sub_id;

    pthread_t thread;
    bool thread_running;
    atomic_bool stop;
    pthread_mutex_t stop_lock;
    pthread_cond_t stop_cond;
    struct ipw_device_reading *tick_dev; /* scratch for the sampling thread */
};

void ipw_sampler_config_init(struct ipw_sampler_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->interval_ns = 50 * IPW_NS_PER_MS;
    cfg->retain_ns = IPW_SAMPLER_DEFAULT_RETAIN_NS;
}

static size_t capacity_for(const struct ipw_sampler_config *cfg)
{
    if (cfg->capacity)
        return cfg->capacity;
    int64_t retain = cfg->retain_ns > 0 ? cfg->retain_ns : IPW_SAMPLER_DEFAULT_RETAIN_NS;
    /* + snapshots: the profiler adds three per query, so leave room for them too. */
    size_t n = (size_t)(retain / cfg->interval_ns) + 64;
    n += n / 4;
    if (n > IPW_SAMPLER_MAX_CAPACITY)
        n = IPW_SAMPLER_MAX_CAPACITY;
    return n < 16 ? 16 : n;
}

static ipw_err create(struct ipw_collector *c, unsigned ndev, const struct ipw_sampler_config *cfg_in,
                      struct ipw_sampler **out, ipw_errbuf *eb)
{
    struct ipw_sampler_config cfg;
    if (cfg_in)
        cfg = *cfg_in;
    else
        ipw_sampler_config_init(&cfg);
    if (cfg.interval_ns == 0)
        cfg.interval_ns = 50 * IPW_NS_PER_MS;
    if (cfg.interval_ns < IPW_SAMPLER_MIN_INTERVAL_NS || cfg.interval_ns > IPW_SAMPLER_MAX_INTERVAL_NS)
        return ipw_fail(eb, IPW_E_INVALID,
                        "sampling interval %.3f ms is out of range: use 1 ms to 10 s",
                        (double)cfg.interval_ns / 1e6);
    if (ndev > IPW_MAX_DEVICES)
        return ipw_fail(eb, IPW_E_INVALID, "%u devices exceed the limit of %d", ndev,
                        IPW_MAX_DEVICES);
    struct ipw_sampler *s = calloc(1, sizeof *s);
    if (!s)
        return ipw_fail(eb, IPW_E_NOMEM, "out of memory creating the sampler");
    s->c = c;
    s->interval_ns = cfg.interval_ns;
    s->ndev = ndev;
    s->cap = capacity_for(&cfg);
    s->ring = calloc(s->cap, sizeof *s->ring);
    if (ndev) {
        s->dring = calloc(s->cap * ndev, sizeof *s->dring);
        s->tick_dev = calloc(ndev, sizeof *s->tick_dev);
    }
    if (!s->ring || (ndev && (!s->dring || !s->tick_dev))) {
        free(s->ring);
        free(s->dring);
        free(s->tick_dev);
        free(s);
        return ipw_fail(eb, IPW_E_NOMEM, "out of memory allocating a ring of %zu readings",
                        capacity_for(&cfg));
    }
    pthread_mutex_init(&s->sample_lock, NULL);
    pthread_mutex_init(&s->ring_lock, NULL);
    pthread_mutex_init(&s->stop_lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->ring_cond, &ca);
    pthread_cond_init(&s->stop_cond, &ca);
    pthread_condattr_destroy(&ca);
    atomic_init(&s->stop, false);
    s->next_seq = 1;
    s->next_sub_id = 1;
    *out = s;
    return IPW_OK;
}

ipw_err ipw_sampler_create(struct ipw_collector *c, const struct ipw_sampler_config *cfg,
                           struct ipw_sampler **out, ipw_errbuf *eb)
{
    return create(c, c ? ipw_collector_info(c)->ndev : 0, cfg, out, eb);
}

ipw_err ipw_sampler_create_push(unsigned ndev, const struct ipw_sampler_config *cfg,
                                struct ipw_sampler **out, ipw_errbuf *eb)
{
    return create(NULL, ndev, cfg, out, eb);
}

/* Index in the ring of the i-th oldest reading held. */
static size_t slot(const struct ipw_sampler *s, size_t i)
{
    return (s->head + s->cap - s->count + i) % s->cap;
}

static const struct ipw_reading *at(const struct ipw_sampler *s, size_t i)
{
    return &s->ring[slot(s, i)];
}

/* Caller holds sample_lock (ordering) but not ring_lock. */
static ipw_err insert(struct ipw_sampler *s, struct ipw_reading *r,
                      const struct ipw_device_reading *dev, ipw_errbuf *eb)
{
    pthread_mutex_lock(&s->ring_lock);
    if (s->count && r->mono_ns < at(s, s->count - 1)->mono_ns) {
        int64_t newest = at(s, s->count - 1)->mono_ns;
        pthread_mutex_unlock(&s->ring_lock);
        return ipw_fail(eb, IPW_E_INVALID,
                        "reading at %lld ns is older than the newest held (%lld ns); readings "
                        "must arrive in time order",
                        (long long)r->mono_ns, (long long)newest);
    }
    r->sequence = s->next_seq++;
    s->seen_valid |= r->valid;
    s->ring[s->head] = *r;
    if (s->ndev) {
        struct ipw_device_reading *d = &s->dring[s->head * s->ndev];
        if (dev)
            memcpy(d, dev, s->ndev * sizeof *d);
        else
            memset(d, 0, s->ndev * sizeof *d);
    }
    s->head = (s->head + 1) % s->cap;
    if (s->count < s->cap)
        s->count++;
    s->inserted++;
    pthread_cond_broadcast(&s->ring_cond);
    pthread_mutex_unlock(&s->ring_lock);

    for (int i = 0; i < s->nsubs; i++)
        s->subs[i].cb(s->subs[i].ud, r, dev, s->ndev);
    return IPW_OK;
}

/* Caller holds sample_lock. */
static ipw_err sample_and_insert(struct ipw_sampler *s, struct ipw_reading *r,
                                 struct ipw_device_reading *dev, ipw_errbuf *eb, uint8_t flags)
{
    ipw_errbuf local;
    ipw_err e = ipw_collector_sample(s->c, r, dev, &local);
    r->flags |= flags;
    if (e != IPW_OK) {
        s->failures++;
        /* The failed tick still goes in the ring with whatever it holds (timestamps, memory):
         * consumers skip invalid values, and the gap stays visible. */
        if (eb)
            *eb = local;
    }
    ipw_err ie = insert(s, r, dev, e == IPW_OK ? eb : NULL);
    return e != IPW_OK ? e : ie;
}

ipw_err ipw_sampler_snapshot(struct ipw_sampler *s, struct ipw_reading *out, ipw_errbuf *eb)
{
    if (!s->c)
        return ipw_fail(eb, IPW_E_UNSUPPORTED,
                        "this sampler is fed by a remote monitor and cannot take snapshots; "
                        "boundaries are interpolated instead");
    struct ipw_reading r;
    struct ipw_device_reading devbuf[IPW_MAX_DEVICES];
    pthread_mutex_lock(&s->sample_lock);
    ipw_err e = sample_and_insert(s, &r, s->ndev ? devbuf : NULL, eb, IPW_READING_SNAPSHOT);
    s->snapshots++;
    pthread_mutex_unlock(&s->sample_lock);
    if (out)
        *out = r;
    return e;
}

ipw_err ipw_sampler_push(struct ipw_sampler *s, const struct ipw_reading *r,
                         const struct ipw_device_reading *dev, ipw_errbuf *eb)
{
    struct ipw_reading copy = *r;
    pthread_mutex_lock(&s->sample_lock);
    ipw_err e = insert(s, &copy, dev, eb);
    pthread_mutex_unlock(&s->sample_lock);
    return e;
}

static bool wait_stop(struct ipw_sampler *s, int64_t deadline_ns)
{
    struct timespec ts = {.tv_sec = deadline_ns / IPW_NS_PER_SEC,
                          .tv_nsec = deadline_ns % IPW_NS_PER_SEC};
    pthread_mutex_lock(&s->stop_lock);
    while (!atomic_load(&s->stop)) {
        if (pthread_cond_timedwait(&s->stop_cond, &s->stop_lock, &ts) != 0)
            break; /* ETIMEDOUT: the deadline came */
    }
    pthread_mutex_unlock(&s->stop_lock);
    return atomic_load(&s->stop);
}

static void *thread_main(void *arg)
{
    struct ipw_sampler *s = arg;
    int64_t next = ipw_mono_ns() + s->interval_ns;
    uint64_t consecutive_failures = 0;
    while (!wait_stop(s, next)) {
        struct ipw_reading r;
        ipw_errbuf eb = {0};
        pthread_mutex_lock(&s->sample_lock);
        ipw_err e = sample_and_insert(s, &r, s->tick_dev, &eb, 0);
        pthread_mutex_unlock(&s->sample_lock);
        if (e != IPW_OK) {
            /* Log the first failure of a run and then every 100th, so a lost device cannot
             * flood the log at 20 lines a second. */
            if (consecutive_failures++ % 100 == 0)
                ipw_warn("telemetry sample failed (%s): %s", ipw_collector_name(s->c), eb.msg);
        } else if (consecutive_failures) {
            ipw_info("telemetry recovered after %llu failed samples",
                     (unsigned long long)consecutive_failures);
            consecutive_failures = 0;
        }
        next += s->interval_ns;
        int64_t now = ipw_mono_ns();
        if (now > next) {
            /* Fell behind (slow collector or a suspended process): skip the missed ticks
             * rather than firing them in a burst. */
            int64_t behind = (now - next) / s->interval_ns + 1;
            s->missed += (uint64_t)behind;
            next += behind * s->interval_ns;
        }
    }
    return NULL;
}

ipw_err ipw_sampler_start(struct ipw_sampler *s, ipw_errbuf *eb)
{
    if (!s->c || s->thread_running)
        return IPW_OK;
    struct ipw_reading r;
    ipw_errbuf first = {0};
    pthread_mutex_lock(&s->sample_lock);
    if (sample_and_insert(s, &r, s->tick_dev, &first, 0) != IPW_OK)
        ipw_warn("first telemetry sample failed (%s): %s", ipw_collector_name(s->c), first.msg);
    pthread_mutex_unlock(&s->sample_lock);
    atomic_store(&s->stop, false);
    int rc = pthread_create(&s->thread, NULL, thread_main, s);
    if (rc != 0)
        return ipw_fail(eb, IPW_E_NOMEM, "cannot start the sampling thread (error %d)", rc);
    s->thread_running = true;
    return IPW_OK;
}

void ipw_sampler_stop(struct ipw_sampler *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&s->stop_lock);
    atomic_store(&s->stop, true);
    pthread_cond_broadcast(&s->stop_cond);
    pthread_mutex_unlock(&s->stop_lock);
    if (s->thread_running) {
        pthread_join(s->thread, NULL);
        s->thread_running = false;
    }
    pthread_mutex_lock(&s->ring_lock);
    pthread_cond_broadcast(&s->ring_cond);
    pthread_mutex_unlock(&s->ring_lock);
}

void ipw_sampler_destroy(struct ipw_sampler *s)
{
    if (!s)
        return;
    ipw_sampler_stop(s);
    pthread_mutex_destroy(&s->sample_lock);
    pthread_mutex_destroy(&s->ring_lock);
    pthread_mutex_destroy(&s->stop_lock);
    pthread_cond_destroy(&s->ring_cond);
    pthread_cond_destroy(&s->stop_cond);
    free(s->ring);
    free(s->dring);
    free(s->tick_dev);
    free(s);
}

/* Number of held readings with mono_ns <= t (ring_lock held). */
static size_t count_at_or_before(const struct ipw_sampler *s, int64_t t)
{
    size_t lo = 0, hi = s->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (at(s, mid)->mono_ns <= t)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static ipw_err too_old(const struct ipw_sampler *s, int64_t t, ipw_errbuf *eb)
{
    if (s->count == 0)
        return ipw_fail(eb, IPW_E_RANGE, "no telemetry reading has been taken yet");
    int64_t oldest = at(s, 0)->mono_ns;
    if (s->inserted > s->count)
        return ipw_fail(eb, IPW_E_RANGE,
                        "time %.3f s is older than the telemetry buffer holds (it keeps %zu "
                        "readings, %.1f s back from the newest); raise the sampler's retention",
                        (double)t / 1e9, s->cap,
                        (double)(at(s, s->count - 1)->mono_ns - oldest) / 1e9);
    return ipw_fail(eb, IPW_E_RANGE,
                    "time %.3f s is before the first telemetry reading (%.3f s); start the "
                    "sampler before the interval begins",
                    (double)t / 1e9, (double)oldest / 1e9);
}

/* Cumulative energy of domain d at time t, interpolated (ring_lock held). */
static ipw_err energy_at(const struct ipw_sampler *s, ipw_domain d, int64_t t, double *out,
                         int *exact, uint8_t *src, ipw_errbuf *eb)
{
    ipw_metric m = ipw_domain_energy_metric(d);
    size_t k = count_at_or_before(s, t); /* readings [0,k) are <= t */
    if (k == 0)
        return too_old(s, t, eb);
    if (k == s->count && at(s, k - 1)->mono_ns < t)
        return ipw_fail(eb, IPW_E_RANGE,
                        "time %.3f s is newer than the newest telemetry reading (%.3f s); take a "
                        "snapshot or wait for the next reading",
                        (double)t / 1e9, (double)at(s, k - 1)->mono_ns / 1e9);
    /* the newest valid reading at or before t, and the oldest valid one at or after t */
    const struct ipw_reading *a = NULL, *b = NULL;
    for (size_t i = k; i-- > 0;) {
        if (ipw_reading_has(at(s, i), m)) {
            a = at(s, i);
            break;
        }
    }
    if (a && a->mono_ns == t) {
        *out = a->v[m];
        *exact = 1;
        *src = a->energy_source[d];
        return IPW_OK;
    }
    for (size_t i = k; i < s->count; i++) {
        if (ipw_reading_has(at(s, i), m)) {
            b = at(s, i);
            break;
        }
    }
    if (!a || !b)
        return ipw_fail(eb, IPW_E_NOTFOUND, "no %s energy reading brackets time %.3f s",
                        ipw_domain_name(d), (double)t / 1e9);
    if (b->mono_ns == t) {
        *out = b->v[m];
        *exact = 1;
    } else {
        double f = (double)(t - a->mono_ns) / (double)(b->mono_ns - a->mono_ns);
        *out = a->v[m] + f * (b->v[m] - a->v[m]);
        *exact = 0;
    }
    *src = b->energy_source[d];
    return IPW_OK;
}

ipw_err ipw_sampler_energy_between(struct ipw_sampler *s, int64_t t0, int64_t t1,
                                   struct ipw_energy *out, ipw_errbuf *eb)
{
    memset(out, 0, sizeof *out);
    if (t1 < t0)
        return ipw_fail(eb, IPW_E_INVALID, "interval ends (%lld) before it starts (%lld)",
                        (long long)t1, (long long)t0);
    pthread_mutex_lock(&s->ring_lock);
    ipw_err result = IPW_OK;
    bool any_energy = false;
    for (int d = 0; d < IPW_DOMAIN_COUNT; d++) {
        ipw_metric m = ipw_domain_energy_metric((ipw_domain)d);
        if (!(s->seen_valid & (1u << m)))
            continue;
        any_energy = true;
        out->present |= 1u << d;
        double e0, e1;
        int x0, x1;
        uint8_t src0, src1;
        ipw_errbuf local;
        ipw_err e = energy_at(s, (ipw_domain)d, t0, &e0, &x0, &src0, &local);
        if (e == IPW_OK)
            e = energy_at(s, (ipw_domain)d, t1, &e1, &x1, &src1, &local);
        if (e == IPW_E_RANGE) {
            /* A window outside the buffer is the caller's error, whatever the domain. */
            result = e;
            if (eb)
                *eb = local;
            break;
        }
        if (e != IPW_OK)
            continue; /* this domain has a gap at a boundary: leave it invalid */
        double j = e1 - e0;
        out->joules[d] = j < 0 ? 0 : j;
        out->source[d] = src1;
        out->exact[d] = x0 && x1;
        out->valid |= 1u << d;
    }
    if (result == IPW_OK && !any_energy && s->count > 0) {
        /* Still check the window is inside the buffer, so callers learn of it. */
        if (count_at_or_before(s, t0) == 0)
            result = too_old(s, t0, eb);
    }
    pthread_mutex_unlock(&s->ring_lock);
    return result;
}

ipw_err ipw_sampler_energy_at(struct ipw_sampler *s, int64_t t, struct ipw_energy *out,
                              ipw_errbuf *eb)
{
    memset(out, 0, sizeof *out);
    pthread_mutex_lock(&s->ring_lock);
    ipw_err result = IPW_OK;
    bool any_energy = false;
    for (int d = 0; d < IPW_DOMAIN_COUNT && result == IPW_OK; d++) {
        ipw_metric m = ipw_domain_energy_metric((ipw_domain)d);
        if (!(s->seen_valid & (1u << m)))
            continue;
        any_energy = true;
        out->present |= 1u << d;
        int x;
        uint8_t src;
        ipw_errbuf local;
        ipw_err e = energy_at(s, (ipw_domain)d, t, &out->joules[d], &x, &src, &local);
        if (e == IPW_E_RANGE) {
            result = e;
            if (eb)
                *eb = local;
        } else if (e == IPW_OK) {
            out->source[d] = src;
            out->exact[d] = x;
            out->valid |= 1u << d;
        }
    }
    if (result == IPW_OK && !any_energy && s->count > 0 && count_at_or_before(s, t) == 0)
        result = too_old(s, t, eb);
    pthread_mutex_unlock(&s->ring_lock);
    return result;
}

ipw_err ipw_sampler_window(struct ipw_sampler *s, int64_t t0, int64_t t1,
                           struct ipw_reading **out, size_t *n, ipw_errbuf *eb)
{
    *out = NULL;
    *n = 0;
    if (t1 < t0)
        return ipw_fail(eb, IPW_E_INVALID, "window ends before it starts");
    pthread_mutex_lock(&s->ring_lock);
    if (s->count && s->inserted > s->count && t0 < at(s, 0)->mono_ns) {
        ipw_err e = too_old(s, t0, eb);
        pthread_mutex_unlock(&s->ring_lock);
        return e;
    }
    size_t lo = count_at_or_before(s, t0 - 1);
    size_t hi = count_at_or_before(s, t1);
    size_t len = hi > lo ? hi - lo : 0;
    struct ipw_reading *v = NULL;
    if (len) {
        v = malloc(len * sizeof *v);
        if (!v) {
            pthread_mutex_unlock(&s->ring_lock);
            return ipw_fail(eb, IPW_E_NOMEM, "out of memory copying %zu readings", len);
        }
        for (size_t i = 0; i < len; i++)
            v[i] = *at(s, lo + i);
    }
    pthread_mutex_unlock(&s->ring_lock);
    *out = v;
    *n = len;
    return IPW_OK;
}

ipw_err ipw_sampler_wait_until(struct ipw_sampler *s, int64_t t, int64_t timeout_ns,
                               ipw_errbuf *eb)
{
    int64_t deadline = ipw_mono_ns() + timeout_ns;
    struct timespec ts = {.tv_sec = deadline / IPW_NS_PER_SEC,
                          .tv_nsec = deadline % IPW_NS_PER_SEC};
    pthread_mutex_lock(&s->ring_lock);
    ipw_err e = IPW_OK;
    while (s->count == 0 || at(s, s->count - 1)->mono_ns < t) {
        if (pthread_cond_timedwait(&s->ring_cond, &s->ring_lock, &ts) != 0) {
            e = ipw_fail(eb, IPW_E_TIMEOUT,
                         "no telemetry reading arrived within %.1f s (is the monitor still "
                         "streaming?)",
                         (double)timeout_ns / 1e9);
            break;
        }
    }
    pthread_mutex_unlock(&s->ring_lock);
    return e;
}

ipw_err ipw_sampler_latest(struct ipw_sampler *s, struct ipw_reading *r,
                           struct ipw_device_reading *dev, ipw_errbuf *eb)
{
    pthread_mutex_lock(&s->ring_lock);
    if (s->count == 0) {
        pthread_mutex_unlock(&s->ring_lock);
        return ipw_fail(eb, IPW_E_NOTFOUND, "no telemetry reading has been taken yet");
    }
    size_t i = slot(s, s->count - 1);
    *r = s->ring[i];
    if (dev && s->ndev)
        memcpy(dev, &s->dring[i * s->ndev], s->ndev * sizeof *dev);
    pthread_mutex_unlock(&s->ring_lock);
    return IPW_OK;
}

ipw_err ipw_sampler_next_after(struct ipw_sampler *s, int64_t t, struct ipw_reading *r,
                               struct ipw_device_reading *dev, ipw_errbuf *eb)
{
    pthread_mutex_lock(&s->ring_lock);
    size_t k = count_at_or_before(s, t); /* readings [0,k) are <= t */
    if (k >= s->count) {
        pthread_mutex_unlock(&s->ring_lock);
        return ipw_fail(eb, IPW_E_NOTFOUND, "no telemetry reading newer than the last one yet");
    }
    size_t i = slot(s, k);
    *r = s->ring[i];
    if (dev && s->ndev)
        memcpy(dev, &s->dring[i * s->ndev], s->ndev * sizeof *dev);
    pthread_mutex_unlock(&s->ring_lock);
    return IPW_OK;
}

ipw_err ipw_sampler_subscribe(struct ipw_sampler *s, ipw_sampler_cb cb, void *ud, int *id,
                              ipw_errbuf *eb)
{
    pthread_mutex_lock(&s->sample_lock);
    if (s->nsubs == IPW_SAMPLER_MAX_SUBSCRIBERS) {
        pthread_mutex_unlock(&s->sample_lock);
        return ipw_fail(eb, IPW_E_NOMEM, "the sampler already has %d subscribers",
                        IPW_SAMPLER_MAX_SUBSCRIBERS);
    }
    s->subs[s->nsubs] = (struct subscriber){.cb = cb, .ud = ud, .id = s->next_sub_id++};
    if (id)
        *id = s->subs[s->nsubs].id;
    s->nsubs++;
    pthread_mutex_unlock(&s->sample_lock);
    return IPW_OK;
}

void ipw_sampler_unsubscribe(struct ipw_sampler *s, int id)
{
    pthread_mutex_lock(&s->sample_lock);
    for (int i = 0; i < s->nsubs; i++) {
        if (s->subs[i].id == id) {
            memmove(&s->subs[i], &s->subs[i + 1], (size_t)(s->nsubs - i - 1) * sizeof s->subs[0]);
            s->nsubs--;
            break;
        }
    }
    pthread_mutex_unlock(&s->sample_lock);
}

void ipw_sampler_get_stats(struct ipw_sampler *s, struct ipw_sampler_stats *st)
{
    memset(st, 0, sizeof *st);
    pthread_mutex_lock(&s->ring_lock);
    st->readings = s->inserted;
    st->snapshots = s->snapshots;
    st->failures = s->failures;
    st->missed_ticks = s->missed;
    st->capacity = s->cap;
    st->held = s->count;
    st->memory_bytes = s->cap * (sizeof *s->ring + s->ndev * sizeof *s->dring);
    if (s->count) {
        st->oldest_mono_ns = at(s, 0)->mono_ns;
        st->newest_mono_ns = at(s, s->count - 1)->mono_ns;
    }
    pthread_mutex_unlock(&s->ring_lock);
}

int64_t ipw_sampler_interval_ns(const struct ipw_sampler *s) { return s->interval_ns; }
unsigned ipw_sampler_ndev(const struct ipw_sampler *s) { return s->ndev; }
struct ipw_collector *ipw_sampler_collector(struct ipw_sampler *s) { return s->c; }
