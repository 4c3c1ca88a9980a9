/* A remote energy monitor as a telemetry source: one thread per monitor streams
 * TelemetryReadings over gRPC, places them on our clock and keeps cumulative energy monotonic
 * across monitor restarts (the arithmetic: remote_clock.c), reconnects with backoff, and pushes
 * into a push-fed sampler. With several monitors, remote_combine.c sums them into one more
 * sampler (see include/ipw/remote.h). */
#include "ipw/remote.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "grpc/client.h"
#include "grpc/net.h"
#include "ipw/clock.h"
#include "ipw/log.h"
#include "proto/energy.pb-c.h"
#include "telemetry/remote_impl.h"
#include "wire/codec.h"

#define STREAM_PATH "/energy.EnergyMonitor/StreamTelemetry"
#define ARENA_SIZE (256 * 1024)

ipw_err ipw_remote_check_target(const char *target, ipw_errbuf *eb)
{
    return ipw_net_check_target(target, eb);
}

void ipw_remote_config_init(struct ipw_remote_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->connect_timeout_ns = 3 * IPW_NS_PER_SEC;
    cfg->first_timeout_ns = 5 * IPW_NS_PER_SEC;
    cfg->stall_timeout_ns = 5 * IPW_NS_PER_SEC;
    cfg->backoff_initial_ns = 100 * IPW_NS_PER_MS;
    cfg->backoff_max_ns = 5 * IPW_NS_PER_SEC;
    ipw_sampler_config_init(&cfg->sampler);
}

/* ---- arena allocator ------------------------------------------------------------------ */

static void *arena_alloc(void *ud, size_t size)
{
    struct arena *a = ud;
    size_t need = (size + 15) & ~(size_t)15;
    if (a->buf && need <= ARENA_SIZE - a->used) {
        void *p = a->buf + a->used;
        a->used += need;
        return p;
    }
    return malloc(size);
}

static void arena_free(void *ud, void *p)
{
    struct arena *a = ud;
    if (a->buf && (uint8_t *)p >= a->buf && (uint8_t *)p < a->buf + ARENA_SIZE)
        return; /* released all at once by the next reset */
    free(p);
}

static Energy__TelemetryReading *unpack(struct link *L, const uint8_t *msg, size_t len)
{
    L->arena.used = 0;
    return energy__telemetry_reading__unpack(&L->alloc, len, msg);
}

/* ---- stop / sleep --------------------------------------------------------------------- */

static bool sleep_or_stop(struct ipw_remote *r, int64_t ns)
{
    int64_t deadline = ipw_mono_ns() + ns;
    struct timespec ts = {.tv_sec = deadline / IPW_NS_PER_SEC, .tv_nsec = deadline % IPW_NS_PER_SEC};
    pthread_mutex_lock(&r->stop_lock);
    while (!atomic_load(&r->stop))
        if (pthread_cond_timedwait(&r->stop_cond, &r->stop_lock, &ts) != 0)
            break;
    pthread_mutex_unlock(&r->stop_lock);
    return atomic_load(&r->stop);
}

/* ---- one reading ---------------------------------------------------------------------- */

static void record_gap(struct link *L, int64_t start, int64_t end, bool restarted)
{
    int64_t len = end - start;
    pthread_mutex_lock(&L->lock);
    L->gaps[L->gap_count % IPW_REMOTE_GAP_HISTORY] = (struct gap){start, end, restarted};
    L->gap_count++;
    L->st.gaps++;
    L->st.gap_ns_total += len;
    if (len > L->st.longest_gap_ns)
        L->st.longest_gap_ns = len;
    pthread_mutex_unlock(&L->lock);
    ipw_warn("monitor %s: streaming again after %.2f s without readings%s", L->target,
             (double)len / 1e9,
             restarted ? " (the monitor restarted: energy used while it was down is not counted)"
                       : " (energy across the gap is interpolated from the monitor's counters)");
}

/* Our monotonic time of a reading, with the clock events reported once. */
static int64_t place(struct link *L, int64_t real, int64_t arr_mono, int64_t arr_real, bool first)
{
    int prev = L->clk.mode;
    enum ipw_clock_event ev;
    int64_t mono = ipw_clock_map_time(&L->clk, real, arr_mono, arr_real, first, &ev);
    if (ev == IPW_CLOCK_CHOSE_ARRIVAL && (prev != IPW_REMOTE_CLOCK_ARRIVAL || !L->pushed_any))
        ipw_warn("monitor %s: its clock differs from ours by %.1f ms; placing readings by "
                 "arrival time instead (synchronise the clocks with NTP or PTP for exact "
                 "timing)",
                 L->target, -L->clk.reading_skew_ms);
    else if (ev == IPW_CLOCK_STEPPED)
        ipw_warn("monitor %s: a reading arrived %.1f ms before it was taken; its clock was "
                 "stepped; placing readings by arrival time from now on",
                 L->target, -L->clk.reading_skew_ms);
    L->st.clock_mode = L->clk.mode;
    L->st.clock_skew_ms = L->clk.skew_ms;
    return mono;
}

static ipw_err process(struct link *L, const Energy__TelemetryReading *m, bool first,
                       ipw_errbuf *eb)
{
    int64_t arr_mono = ipw_mono_ns(), arr_real = ipw_real_ns();
    struct ipw_reading rd;
    struct ipw_device_reading dev[IPW_MAX_DEVICES];
    unsigned nd = 0;
    ipw_wire_decode_reading(m, L->info.main_domain, &rd, dev, L->ndev, &nd);
    if (nd < L->ndev)
        memset(&dev[nd], 0, (L->ndev - nd) * sizeof dev[0]);

    bool restarted = ipw_seq_restarted(&L->seq, m->sequence, m->timestamp_nanos, first);
    bool went_back = false;
    for (int d = 0; d < IPW_DOMAIN_COUNT; d++) {
        ipw_metric em = ipw_domain_energy_metric((ipw_domain)d);
        if (ipw_reading_has(&rd, em))
            rd.v[em] = ipw_rebase_value(&L->energy[d], rd.v[em], restarted, &went_back);
    }
    for (unsigned i = 0; i < L->ndev; i++)
        if (ipw_device_has(&dev[i], IPW_DF_ENERGY_J))
            dev[i].v[IPW_DF_ENERGY_J] = ipw_rebase_value(
                &L->dev_energy[i], dev[i].v[IPW_DF_ENERGY_J], restarted, &went_back);
    if (restarted || went_back) {
        pthread_mutex_lock(&L->lock);
        L->st.restarts++;
        pthread_mutex_unlock(&L->lock);
        ipw_warn("monitor %s restarted (its %s went back); continuing the energy series from "
                 "where it stood",
                 L->target, restarted ? "sequence" : "cumulative energy");
    }

    int64_t real = m->timestamp_nanos;
    int64_t mono = real > 0 ? place(L, real, arr_mono, arr_real, first) : arr_mono;
    if (real <= 0)
        real = arr_real; /* a monitor without timestamps: arrival is all we know */
    int64_t last = atomic_load(&L->last_mono);
    if (L->pushed_any && mono <= last)
        mono = last + 1;
    rd.mono_ns = mono;
    rd.real_ns = real;
    /* The gap is on record before the reading that closes it is pushed: a reader woken by
     * the push (the profiler settling a query) must find the gap when it asks. */
    if (L->drop_mono) {
        record_gap(L, L->drop_mono, mono, restarted || went_back);
        L->drop_mono = 0;
    }
    ipw_err e = ipw_sampler_push(L->sampler, &rd, L->ndev ? dev : NULL, eb);
    if (e != IPW_OK)
        return e;
    L->pushed_any = true;
    atomic_store(&L->last_mono, mono);
    pthread_mutex_lock(&L->lock);
    L->st.readings++;
    pthread_mutex_unlock(&L->lock);
    if (L->r->n > 1)
        ipw_remote_combine(L->r);
    return IPW_OK;
}

/* ---- connecting ----------------------------------------------------------------------- */

static ipw_err start_stream(struct link *L, int64_t connect_timeout, ipw_errbuf *eb)
{
    struct ipw_remote *r = L->r;
    struct ipw_grpc_client *c;
    ipw_err e = ipw_grpc_client_connect(L->target, connect_timeout, &c, eb);
    if (e != IPW_OK)
        return e;
    pthread_mutex_lock(&L->lock);
    L->client = c;
    pthread_mutex_unlock(&L->lock);
    if (atomic_load(&r->stop))
        return ipw_fail(eb, IPW_E_CANCELLED, "stopping");
    Energy__StreamRequest req = ENERGY__STREAM_REQUEST__INIT;
    req.interval_ms = r->cfg.interval_ms;
    uint8_t buf[16];
    size_t len = energy__stream_request__pack(&req, buf);
    return ipw_grpc_client_stream(c, STREAM_PATH, buf, len, 0, &L->stream, eb);
}

static void drop_stream(struct link *L)
{
    ipw_grpc_stream_close(L->stream);
    L->stream = NULL;
    pthread_mutex_lock(&L->lock);
    struct ipw_grpc_client *c = L->client;
    L->client = NULL;
    L->st.connected = false;
    pthread_mutex_unlock(&L->lock);
    ipw_grpc_client_close(c);
}

/* Waits for the next message; IPW_OK with a decoded message in *out, or why the stream ended
 * (IPW_E_LOST, IPW_E_TIMEOUT, IPW_E_PROTOCOL, IPW_E_CANCELLED) in eb. */
static ipw_err next_message(struct link *L, int64_t timeout, Energy__TelemetryReading **out,
                            ipw_errbuf *eb)
{
    const uint8_t *msg;
    size_t len;
    *out = NULL;
    ipw_err e = ipw_grpc_stream_next(L->stream, &msg, &len, timeout, eb);
    if (e == IPW_E_TIMEOUT)
        return ipw_fail(eb, IPW_E_TIMEOUT, "no reading for %.1f s (stalled)",
                        (double)timeout / 1e9);
    if (e != IPW_OK)
        return e;
    if (!msg) {
        char why[256];
        int code = ipw_grpc_stream_status(L->stream, why, sizeof why);
        return ipw_fail(eb, IPW_E_LOST, "the stream ended with status %s%s%s",
                        ipw_grpc_code_name(code), why[0] ? ": " : "", why);
    }
    *out = unpack(L, msg, len);
    if (!*out)
        return ipw_fail(eb, IPW_E_PROTOCOL,
                        "a %zu-byte message is not a TelemetryReading", len);
    return IPW_OK;
}

static void set_error(struct link *L, const ipw_errbuf *eb)
{
    pthread_mutex_lock(&L->lock);
    snprintf(L->st.last_error, sizeof L->st.last_error, "%s", eb->msg);
    pthread_mutex_unlock(&L->lock);
}

static void *link_main(void *arg)
{
    struct link *L = arg;
    struct ipw_remote *r = L->r;
    int64_t backoff = r->cfg.backoff_initial_ns;
    unsigned failures = 0;
    while (!atomic_load(&r->stop)) {
        ipw_errbuf eb = {0};
        bool first = false;
        if (!L->stream) {
            if (start_stream(L, r->cfg.connect_timeout_ns, &eb) != IPW_OK) {
                set_error(L, &eb);
                if (failures++ % 10 == 0 && !atomic_load(&r->stop))
                    ipw_warn("monitor %s: %s; retrying in %.1f s", L->target, eb.msg,
                             (double)backoff / 1e9);
                drop_stream(L);
                if (sleep_or_stop(r, backoff))
                    break;
                backoff = backoff * 2 > r->cfg.backoff_max_ns ? r->cfg.backoff_max_ns : backoff * 2;
                continue;
            }
            first = true;
            pthread_mutex_lock(&L->lock);
            L->st.reconnects++;
            pthread_mutex_unlock(&L->lock);
        }
        Energy__TelemetryReading *m;
        while (next_message(L, first ? r->cfg.first_timeout_ns : r->cfg.stall_timeout_ns, &m,
                            &eb) == IPW_OK) {
            if (first) {
                pthread_mutex_lock(&L->lock);
                L->st.connected = true;
                pthread_mutex_unlock(&L->lock);
                if (failures)
                    ipw_info("monitor %s: connected again", L->target);
                failures = 0;
                backoff = r->cfg.backoff_initial_ns;
            }
            ipw_errbuf pe = {0};
            if (process(L, m, first, &pe) != IPW_OK)
                ipw_debug("monitor %s: reading not stored: %s", L->target, pe.msg);
            energy__telemetry_reading__free_unpacked(m, &L->alloc);
            first = false;
        }
        if (atomic_load(&r->stop))
            break;
        set_error(L, &eb);
        ipw_warn("monitor %s: %s; reconnecting", L->target, eb.msg);
        if (L->pushed_any && !L->drop_mono)
            L->drop_mono = atomic_load(&L->last_mono);
        drop_stream(L);
        if (sleep_or_stop(r, backoff))
            break;
    }
    drop_stream(L);
    return NULL;
}

/* ---- open / close --------------------------------------------------------------------- */

static void link_init(struct ipw_remote *r, struct link *L, int index, const char *target)
{
    L->r = r;
    L->index = index;
    snprintf(L->target, sizeof L->target, "%s", target);
    pthread_mutex_init(&L->lock, NULL);
    atomic_init(&L->last_mono, 0);
    L->alloc.alloc = arena_alloc;
    L->alloc.free = arena_free;
    L->alloc.allocator_data = &L->arena;
}

ipw_err ipw_remote_open(const char *const *targets, size_t ntargets,
                        const struct ipw_remote_config *cfg, struct ipw_remote **out,
                        ipw_errbuf *eb)
{
    *out = NULL;
    if (ntargets == 0 || ntargets > IPW_REMOTE_MAX_TARGETS)
        return ipw_fail(eb, IPW_E_INVALID, "give 1 to %d monitor addresses (got %zu)",
                        IPW_REMOTE_MAX_TARGETS, ntargets);
    struct ipw_remote *r = calloc(1, sizeof *r);
    struct link *links = calloc(ntargets, sizeof *links);
    if (!r || !links) {
        free(r);
        free(links);
        return ipw_fail(eb, IPW_E_NOMEM, "out of memory opening %zu monitors", ntargets);
    }
    r->links = links;
    if (cfg)
        r->cfg = *cfg;
    else
        ipw_remote_config_init(&r->cfg);
    struct ipw_remote_config def;
    ipw_remote_config_init(&def);
    if (r->cfg.connect_timeout_ns <= 0)
        r->cfg.connect_timeout_ns = def.connect_timeout_ns;
    if (r->cfg.first_timeout_ns <= 0)
        r->cfg.first_timeout_ns = def.first_timeout_ns;
    if (r->cfg.stall_timeout_ns <= 0)
        r->cfg.stall_timeout_ns = def.stall_timeout_ns;
    if (r->cfg.backoff_initial_ns <= 0)
        r->cfg.backoff_initial_ns = def.backoff_initial_ns;
    if (r->cfg.backoff_max_ns < r->cfg.backoff_initial_ns)
        r->cfg.backoff_max_ns = r->cfg.backoff_initial_ns;
    if (r->cfg.interval_ms && !r->cfg.sampler.interval_ns)
        r->cfg.sampler.interval_ns = (int64_t)r->cfg.interval_ms * IPW_NS_PER_MS;
    atomic_init(&r->stop, false);
    pthread_mutex_init(&r->stop_lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC); /* sleep_or_stop counts in mono time */
    pthread_cond_init(&r->stop_cond, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&r->comb_lock, NULL);
    r->n = ntargets;
    for (size_t i = 0; i < ntargets; i++)
        link_init(r, &links[i], (int)i, targets[i]);

    Energy__TelemetryReading *first[IPW_REMOTE_MAX_TARGETS] = {0};
    ipw_err e = IPW_OK;
    for (size_t i = 0; i < ntargets && e == IPW_OK; i++) {
        struct link *L = &links[i];
        L->arena.buf = malloc(ARENA_SIZE);
        if (!L->arena.buf) {
            e = ipw_fail(eb, IPW_E_NOMEM, "out of memory for a message arena");
            break;
        }
        e = start_stream(L, r->cfg.connect_timeout_ns, eb);
        if (e == IPW_OK)
            e = next_message(L, r->cfg.first_timeout_ns, &first[i], eb);
        if (e != IPW_OK)
            break;
        /* The first message must outlive the arena's next reset: copy what we need now. */
        ipw_wire_decode_info(first[i], &L->info, &L->si);
        ipw_collector_describe_platform(L->info.platform, L->info.gpu_name, &L->info.caps,
                                        &L->info.main_domain);
        L->ndev = L->info.ndev;
        L->st.connected = true;
    }
    if (e == IPW_OK)
        e = ipw_remote_merge_info(r, eb);
    if (e == IPW_OK && ntargets == 1) {
        e = ipw_sampler_create_push(links[0].ndev, &r->cfg.sampler, &r->sampler, eb);
        links[0].sampler = r->sampler;
    } else if (e == IPW_OK) {
        for (size_t i = 0; i < ntargets && e == IPW_OK; i++) {
            e = ipw_sampler_create_push(links[i].ndev, &r->cfg.sampler, &links[i].sampler, eb);
            links[i].own_sampler = e == IPW_OK;
        }
        if (e == IPW_OK)
            e = ipw_sampler_create_push(r->info.ndev, &r->cfg.sampler, &r->sampler, eb);
    }
    /* Each link's arena holds only its own first message, so processing them in order is safe. */
    for (size_t i = 0; i < ntargets && e == IPW_OK; i++)
        e = process(&links[i], first[i], true, eb);
    for (size_t i = 0; i < ntargets; i++)
        if (first[i])
            energy__telemetry_reading__free_unpacked(first[i], &links[i].alloc);
    for (size_t i = 0; i < ntargets && e == IPW_OK; i++) {
        if (pthread_create(&links[i].thread, NULL, link_main, &links[i]) != 0)
            e = ipw_fail(eb, IPW_E_NOMEM, "cannot start the thread streaming from %s",
                         links[i].target);
        else
            links[i].thread_started = true;
    }
    if (e != IPW_OK) {
        if (ntargets > 1 && e != IPW_E_NOMEM)
            ipw_err_prefix(eb, "opening %zu monitors", ntargets);
        ipw_remote_close(r);
        return e;
    }
    *out = r;
    return IPW_OK;
}

struct ipw_sampler *ipw_remote_sampler(struct ipw_remote *r) { return r->sampler; }
const struct ipw_collector_info *ipw_remote_info(const struct ipw_remote *r) { return &r->info; }
const struct ipw_system_info *ipw_remote_system_info(const struct ipw_remote *r) { return &r->si; }
size_t ipw_remote_count(const struct ipw_remote *r) { return r->n; }

void ipw_remote_get_stats(struct ipw_remote *r, int which, struct ipw_remote_stats *st)
{
    memset(st, 0, sizeof *st);
    st->connected = true;
    for (size_t i = 0; i < r->n; i++) {
        if (which >= 0 && (size_t)which != i)
            continue;
        struct link *L = &r->links[i];
        pthread_mutex_lock(&L->lock);
        const struct ipw_remote_stats *s = &L->st;
        st->readings += s->readings;
        st->reconnects += s->reconnects;
        st->restarts += s->restarts;
        st->gaps += s->gaps;
        st->gap_ns_total += s->gap_ns_total;
        if (s->longest_gap_ns > st->longest_gap_ns)
            st->longest_gap_ns = s->longest_gap_ns;
        st->connected = st->connected && s->connected;
        if (s->clock_mode == IPW_REMOTE_CLOCK_ARRIVAL)
            st->clock_mode = IPW_REMOTE_CLOCK_ARRIVAL;
        if (which >= 0 || i == 0 || s->clock_skew_ms > st->clock_skew_ms)
            st->clock_skew_ms = s->clock_skew_ms;
        if (s->last_error[0])
            snprintf(st->last_error, sizeof st->last_error, "%s", s->last_error);
        pthread_mutex_unlock(&L->lock);
    }
}

enum ipw_remote_gap ipw_remote_gap_overlaps(struct ipw_remote *r, int64_t t0, int64_t t1)
{
    enum ipw_remote_gap worst = IPW_REMOTE_NO_GAP;
    for (size_t i = 0; i < r->n && worst != IPW_REMOTE_GAP_LOST; i++) {
        struct link *L = &r->links[i];
        pthread_mutex_lock(&L->lock);
        size_t n = L->gap_count < IPW_REMOTE_GAP_HISTORY ? L->gap_count : IPW_REMOTE_GAP_HISTORY;
        for (size_t k = 0; k < n; k++)
            if (L->gaps[k].start < t1 && L->gaps[k].end > t0) {
                enum ipw_remote_gap g =
                    L->gaps[k].restarted ? IPW_REMOTE_GAP_LOST : IPW_REMOTE_GAP_INTERPOLATED;
                if (g > worst)
                    worst = g;
            }
        /* a gap still open (stream down now) overlaps anything after its start, and whether
         * the monitor kept counting is not known yet */
        if (!L->st.connected && L->pushed_any && atomic_load(&L->last_mono) < t1)
            worst = IPW_REMOTE_GAP_LOST;
        pthread_mutex_unlock(&L->lock);
    }
    return worst;
}

void ipw_remote_close(struct ipw_remote *r)
{
    if (!r)
        return;
    pthread_mutex_lock(&r->stop_lock);
    atomic_store(&r->stop, true);
    pthread_cond_broadcast(&r->stop_cond);
    pthread_mutex_unlock(&r->stop_lock);
    for (size_t i = 0; i < r->n; i++) {
        struct link *L = &r->links[i];
        pthread_mutex_lock(&L->lock);
        if (L->client)
            ipw_grpc_client_interrupt(L->client);
        pthread_mutex_unlock(&L->lock);
    }
    for (size_t i = 0; i < r->n; i++) {
        struct link *L = &r->links[i];
        if (L->thread_started)
            pthread_join(L->thread, NULL);
        else
            drop_stream(L);
        if (L->own_sampler)
            ipw_sampler_destroy(L->sampler);
        free(L->arena.buf);
        pthread_mutex_destroy(&L->lock);
    }
    ipw_sampler_destroy(r->sampler);
    pthread_mutex_destroy(&r->stop_lock);
    pthread_cond_destroy(&r->stop_cond);
    pthread_mutex_destroy(&r->comb_lock);
    free(r->links);
    free(r);
}
