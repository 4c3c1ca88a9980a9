/* The EnergyMonitor service. The sampler thread drops each reading into a small inbox and
 * pokes the gRPC loop once; the loop encodes it once into a shared ring of messages, and every
 * stream is just a cursor into that ring. A stream that falls more than the ring's depth
 * behind loses its oldest readings (counted); nothing ever blocks the sampler or other streams,
 * and no memory is allocated per reading. While nobody streams, the loop samples at the slower
 * idle period; /metrics is served from a cached text that is rendered again only when
 * something it shows has changed. */
#include "ipw/monitor.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "grpc/net.h"
#include "grpc/server.h"
#include "ipw/clock.h"
#include "ipw/log.h"
#include "monitor/metrics.h"
#include "monitor/monitor_internal.h"
#include "wire/codec.h"
#include "proto/energy.pb-c.h"
#include "proto/health.pb-c.h"

#define INBOX_CAP 256
#define MAX_STREAM_INTERVAL_MS 3600000u

struct slot {
    int64_t mono_ns;
    struct ipw_buf msg; /* encoded TelemetryReading, reused */
};

struct mstream {
    struct ipw_monitor *m;
    uint64_t cursor; /* ring index of the next reading to consider */
    int64_t interval_ns;
    int64_t next_due; /* decimation grid (monotonic ns) */
    struct mstream *prev, *next;
};

struct ipw_monitor {
    struct ipw_monitor_config cfg;
    struct ipw_sampler *sampler;
    struct ipw_collector *collector;
    struct ipw_system_info si;
    int64_t period_ns;
    int64_t start_real_ns;
    unsigned ndev;
    int grpc_port, metrics_port;
    struct ipw_grpc_server *server;
    struct ipw_metrics_http *http;
    struct ipw_grpc_method methods[3];
    int sub_id;
    bool subscribed;

    /* sampler thread -> loop thread */
    pthread_mutex_t lock;
    struct ipw_reading inbox[INBOX_CAP];
    struct ipw_device_reading *inbox_dev; /* INBOX_CAP * ndev */
    size_t in_head, in_count;
    /* loop thread's copy of a drained inbox */
    struct ipw_reading scratch[INBOX_CAP];
    struct ipw_device_reading *scratch_dev;

    /* driving the sampler from the loop (cfg.drive_sampler) */
    bool driving;
    int64_t next_tick;
    unsigned slow_ticks;
    uint64_t tick_failures;

    /* loop thread only */
    bool have_idle;                  /* newest reading, kept raw while nobody streams */
    struct ipw_reading idle_r;
    struct ipw_device_reading *idle_dev;
    struct slot *ring;
    size_t depth;
    uint64_t ring_next; /* index the next reading gets */
    struct mstream *streams;

    _Atomic uint64_t samples, dropped, sent, streams_open, streams_total, inbox_lost, missed;

    /* /metrics from memory (the metrics thread, or ipw_monitor_metrics_text) */
    pthread_mutex_t metrics_lock;
    struct metrics_key {
        struct ipw_sampler_stats ss;
        struct ipw_monitor_stats st;
    } metrics_key;
    bool metrics_cached;
    size_t metrics_fixed_len; /* the text's first part, rendered once, stays in place */
    struct ipw_buf metrics_text;
    struct ipw_metrics_view metrics_view; /* scratch for a render, ~1 KiB per device */
};

void ipw_monitor_config_init(struct ipw_monitor_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->bind_address = "127.0.0.1";
    cfg->port = 50053;
    cfg->metrics_bind = "127.0.0.1";
    cfg->metrics_port = 9470;
}

/* ---- sampler thread ------------------------------------------------------------------- */

/* True while the loop thread itself is taking a reading: no need to wake it. */
static _Thread_local bool in_tick;

static void on_reading(void *ud, const struct ipw_reading *r, const struct ipw_device_reading *dev,
                       unsigned ndev)
{
    struct ipw_monitor *m = ud;
    pthread_mutex_lock(&m->lock);
    bool was_empty = m->in_count == 0;
    size_t i = (m->in_head + m->in_count) % INBOX_CAP;
    if (m->in_count == INBOX_CAP) {
        /* The loop has not run for INBOX_CAP ticks: keep the newest, count the loss. */
        m->in_head = (m->in_head + 1) % INBOX_CAP;
        m->inbox_lost++;
        m->dropped++;
    } else {
        m->in_count++;
    }
    m->inbox[i] = *r;
    if (m->ndev) {
        struct ipw_device_reading *d = &m->inbox_dev[i * m->ndev];
        if (dev && ndev >= m->ndev)
            memcpy(d, dev, m->ndev * sizeof *d);
        else
            memset(d, 0, m->ndev * sizeof *d);
    }
    m->samples++;
    pthread_mutex_unlock(&m->lock);
    if (was_empty && !in_tick)
        ipw_grpc_server_wake(m->server); /* one wakeup per tick, however many streams */
}

/* ---- loop thread ---------------------------------------------------------------------- */

static uint64_t ring_first(const struct ipw_monitor *m)
{
    return m->ring_next > m->depth ? m->ring_next - m->depth : 0;
}

static void catch_up(struct mstream *st)
{
    struct ipw_monitor *m = st->m;
    uint64_t first = ring_first(m);
    if (st->cursor < first) {
        m->dropped += first - st->cursor;
        st->cursor = first;
    }
}

static void encode_into_ring(struct ipw_monitor *m, const struct ipw_reading *r,
                             const struct ipw_device_reading *dev)
{
    struct slot *s = &m->ring[m->ring_next % m->depth];
    ipw_buf_reset(&s->msg);
    s->mono_ns = r->mono_ns;
    if (!ipw_wire_encode_reading(r, dev, ipw_collector_info(m->collector), &m->si, &s->msg)) {
        ipw_warn("monitor: cannot encode reading %llu (out of memory); skipped",
                 (unsigned long long)r->sequence);
        return;
    }
    m->ring_next++;
}

static void drain(void *ud)
{
    struct ipw_monitor *m = ud;
    pthread_mutex_lock(&m->lock);
    size_t n = m->in_count;
    for (size_t k = 0; k < n; k++) {
        size_t i = (m->in_head + k) % INBOX_CAP;
        m->scratch[k] = m->inbox[i];
        if (m->ndev)
            memcpy(&m->scratch_dev[k * m->ndev], &m->inbox_dev[i * m->ndev],
                   m->ndev * sizeof *m->scratch_dev);
    }
    m->in_head = (m->in_head + n) % INBOX_CAP;
    m->in_count = 0;
    pthread_mutex_unlock(&m->lock);

    if (!m->streams) {
        /* Nobody to send to: keep the newest raw, encode it only if a stream opens. */
        if (n) {
            m->idle_r = m->scratch[n - 1];
            if (m->ndev)
                memcpy(m->idle_dev, &m->scratch_dev[(n - 1) * m->ndev],
                       m->ndev * sizeof *m->idle_dev);
            m->have_idle = true;
        }
        return;
    }
    for (size_t k = 0; k < n; k++)
        encode_into_ring(m, &m->scratch[k], m->ndev ? &m->scratch_dev[k * m->ndev] : NULL);
    for (struct mstream *st = m->streams; st; st = st->next)
        catch_up(st);
}

/* The idle period while nobody streams (driven mode), else the sampling period. */
static int64_t current_period(const struct ipw_monitor *m)
{
    return !m->streams && m->cfg.idle_interval_ns > m->period_ns ? m->cfg.idle_interval_ns
                                                                 : m->period_ns;
}

/* Driven mode: the loop's timer takes each reading itself, so a tick costs one wakeup. */
static int64_t tick(void *ud, int64_t now)
{
    struct ipw_monitor *m = ud;
    if (!m->driving)
        return 0;
    ipw_errbuf eb = {0};
    int64_t t0 = ipw_mono_ns();
    in_tick = true;
    ipw_err e = ipw_sampler_snapshot(m->sampler, NULL, &eb);
    in_tick = false;
    int64_t took = ipw_mono_ns() - t0;
    if (e != IPW_OK) {
        if (m->tick_failures++ % 100 == 0)
            ipw_warn("telemetry sample failed (%s): %s", ipw_collector_name(m->collector),
                     eb.msg);
    } else if (m->tick_failures) {
        ipw_info("telemetry recovered after %llu failed samples",
                 (unsigned long long)m->tick_failures);
        m->tick_failures = 0;
    }
    drain(m);
    /* A collector slower than a fifth of the period (2 ms at least) would hold up every
     * stream: after three such ticks it gets the sampler's own thread. */
    int64_t limit = m->period_ns / 5 > 2 * IPW_NS_PER_MS ? m->period_ns / 5 : 2 * IPW_NS_PER_MS;
    m->slow_ticks = took > limit ? m->slow_ticks + 1 : 0;
    if (m->slow_ticks >= 3) {
        ipw_info("monitor: collector %s takes %.1f ms per reading; sampling on its own thread",
                 ipw_collector_info(m->collector)->platform, (double)took / 1e6);
        m->driving = false;
        if (ipw_sampler_start(m->sampler, &eb) != IPW_OK)
            ipw_error("monitor: %s", eb.msg);
        return 0;
    }
    int64_t period = current_period(m);
    if (!m->next_tick)
        m->next_tick = now;
    m->next_tick += period;
    int64_t after = ipw_mono_ns();
    if (m->next_tick <= after) {
        /* fell behind (a suspended process, a slow tick): skip, do not burst */
        int64_t behind = (after - m->next_tick) / period + 1;
        m->missed += (uint64_t)behind;
        m->next_tick += behind * period;
    }
    return m->next_tick;
}

/* A reading older than this means the sampler is stuck: 20 periods (or idle periods), 2 s at
 * least. */
static int64_t stale_after(const struct ipw_monitor *m)
{
    int64_t p = m->cfg.idle_interval_ns > m->period_ns ? m->cfg.idle_interval_ns : m->period_ns;
    return p * 20 > 2 * IPW_NS_PER_SEC ? p * 20 : 2 * IPW_NS_PER_SEC;
}

static int health(void *ud, const uint8_t *req, size_t len, struct ipw_buf *resp, char *msg,
                  size_t msgsize)
{
    struct ipw_monitor *m = ud;
    Energy__HealthRequest *rq = energy__health_request__unpack(NULL, len, req);
    if (!rq) {
        snprintf(msg, msgsize, "HealthRequest does not decode");
        return IPW_GRPC_INVALID_ARGUMENT;
    }
    energy__health_request__free_unpacked(rq, NULL);
    struct ipw_sampler_stats ss;
    ipw_sampler_get_stats(m->sampler, &ss);
    Energy__HealthResponse hr = ENERGY__HEALTH_RESPONSE__INIT;
    hr.healthy = ss.held > 0 && ipw_mono_ns() - ss.newest_mono_ns < stale_after(m);
    hr.platform = (char *)ipw_collector_name(m->collector); /* protobuf-c's fields are not
                                                               const; packing only reads it */
    if (ipw_buf_reserve(resp, energy__health_response__get_packed_size(&hr)) != IPW_OK)
        return IPW_GRPC_RESOURCE_EXHAUSTED;
    ipw_buf_commit(resp, energy__health_response__pack(&hr, (uint8_t *)resp->p + resp->len));
    return IPW_GRPC_OK;
}

static int health_check(void *ud, const uint8_t *req, size_t len, struct ipw_buf *resp,
                        char *msg, size_t msgsize)
{
    struct ipw_monitor *m = ud;
    Grpc__Health__V1__HealthCheckRequest *rq =
        grpc__health__v1__health_check_request__unpack(NULL, len, req);
    if (!rq) {
        snprintf(msg, msgsize, "HealthCheckRequest does not decode");
        return IPW_GRPC_INVALID_ARGUMENT;
    }
    bool known = rq->service[0] == '\0' || strcmp(rq->service, "energy.EnergyMonitor") == 0;
    if (!known)
        snprintf(msg, msgsize, "unknown service '%.100s'", rq->service);
    grpc__health__v1__health_check_request__free_unpacked(rq, NULL);
    if (!known)
        return IPW_GRPC_NOT_FOUND;
    struct ipw_sampler_stats ss;
    ipw_sampler_get_stats(m->sampler, &ss);
    Grpc__Health__V1__HealthCheckResponse hr = GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__INIT;
    /* SERVING means real telemetry: the null collector measures no energy at all. */
    bool serving = (ipw_collector_info(m->collector)->caps & IPW_CAP_ENERGY) && ss.held > 0;
    hr.status = serving ? GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING
                        : GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__NOT_SERVING;
    if (ipw_buf_reserve(resp, grpc__health__v1__health_check_response__get_packed_size(&hr)) != IPW_OK)
        return IPW_GRPC_RESOURCE_EXHAUSTED;
    ipw_buf_commit(resp, grpc__health__v1__health_check_response__pack(
                               &hr, (uint8_t *)resp->p + resp->len));
    return IPW_GRPC_OK;
}

static int stream_open(void *ud, const uint8_t *req, size_t len, void **state, char *msg,
                       size_t msgsize)
{
    struct ipw_monitor *m = ud;
    Energy__StreamRequest *rq = energy__stream_request__unpack(NULL, len, req);
    if (!rq) {
        snprintf(msg, msgsize, "StreamRequest does not decode");
        return IPW_GRPC_INVALID_ARGUMENT;
    }
    uint32_t interval_ms = rq->interval_ms;
    energy__stream_request__free_unpacked(rq, NULL);
    if (interval_ms > MAX_STREAM_INTERVAL_MS) {
        snprintf(msg, msgsize, "interval_ms %u is above the limit of %u (one hour)", interval_ms,
                 MAX_STREAM_INTERVAL_MS);
        return IPW_GRPC_INVALID_ARGUMENT;
    }
    struct mstream *st = calloc(1, sizeof *st);
    if (!st) {
        snprintf(msg, msgsize, "out of memory opening a stream");
        return IPW_GRPC_RESOURCE_EXHAUSTED;
    }
    st->m = m;
    st->interval_ns = (int64_t)interval_ms * IPW_NS_PER_MS;
    if (st->interval_ns <= m->period_ns)
        st->interval_ns = 0; /* every reading */
    if (m->have_idle) {
        encode_into_ring(m, &m->idle_r, m->ndev ? m->idle_dev : NULL);
        m->have_idle = false;
    }
    if (m->driving && !m->streams && current_period(m) != m->period_ns) {
        /* Leaving the idle pace: the next reading now, then one every period. */
        m->next_tick = 0;
        ipw_grpc_server_timer_before(m->server, ipw_mono_ns());
    }
    /* Start with the newest reading so a client sees data at once. */
    st->cursor = m->ring_next ? m->ring_next - 1 : 0;
    st->next = m->streams;
    if (m->streams)
        m->streams->prev = st;
    m->streams = st;
    m->streams_open++;
    m->streams_total++;
    *state = st;
    return IPW_GRPC_OK;
}

static enum ipw_grpc_pull stream_pull(void *ud, void *state, struct ipw_buf *out, int *code,
                                      char *msg, size_t msgsize)
{
    (void)code, (void)msg, (void)msgsize;
    struct ipw_monitor *m = ud;
    struct mstream *st = state;
    catch_up(st);
    while (st->cursor < m->ring_next) {
        const struct slot *s = &m->ring[st->cursor % m->depth];
        st->cursor++;
        if (st->interval_ns) {
            /* Decimate on a fixed grid, taking the first reading within half a period of
             * each grid point, so the average rate is exactly the one asked for. */
            if (st->next_due && s->mono_ns < st->next_due - m->period_ns / 2)
                continue;
            st->next_due = st->next_due ? st->next_due + st->interval_ns
                                        : s->mono_ns + st->interval_ns;
            if (st->next_due < s->mono_ns)
                st->next_due = s->mono_ns + st->interval_ns; /* fell behind: resynchronise */
        }
        if (ipw_buf_add(out, s->msg.p, s->msg.len) != IPW_OK)
            return IPW_GRPC_PULL_WAIT;
        m->sent++;
        return IPW_GRPC_PULL_MESSAGE;
    }
    return IPW_GRPC_PULL_WAIT;
}

static void stream_close(void *ud, void *state, int code)
{
    struct ipw_monitor *m = ud;
    struct mstream *st = state;
    ipw_debug("monitor: stream closed with status %s", ipw_grpc_code_name(code));
    if (st->prev)
        st->prev->next = st->next;
    else
        m->streams = st->next;
    if (st->next)
        st->next->prev = st->prev;
    m->streams_open--;
    free(st);
}

/* ---- life cycle ----------------------------------------------------------------------- */

static size_t default_depth(int64_t period_ns)
{
    int64_t n = 2 * IPW_NS_PER_SEC / (period_ns > 0 ? period_ns : 1);
    return n < 64 ? 64 : n > 4096 ? 4096 : (size_t)n;
}

static char *render_metrics(void *ud) { return ipw_monitor_metrics_text(ud); }

ipw_err ipw_monitor_create(struct ipw_sampler *s, const struct ipw_system_info *si,
                           const struct ipw_monitor_config *cfg_in, struct ipw_monitor **out,
                           ipw_errbuf *eb)
{
    *out = NULL;
    struct ipw_collector *c = ipw_sampler_collector(s);
    if (!c)
        return ipw_fail(eb, IPW_E_INVALID,
                        "the monitor needs a sampler reading a local collector, not a push-fed "
                        "one");
    struct ipw_monitor *m = calloc(1, sizeof *m);
    if (!m)
        return ipw_fail(eb, IPW_E_NOMEM, "out of memory creating the monitor");
    if (cfg_in)
        m->cfg = *cfg_in;
    else
        ipw_monitor_config_init(&m->cfg);
    if (!m->cfg.bind_address)
        m->cfg.bind_address = "127.0.0.1";
    if (!m->cfg.metrics_bind)
        m->cfg.metrics_bind = "127.0.0.1";
    m->sampler = s;
    m->collector = c;
    m->period_ns = ipw_sampler_interval_ns(s);
    m->ndev = ipw_sampler_ndev(s);
    m->start_real_ns = ipw_real_ns();
    m->grpc_port = m->metrics_port = -1;
    if (si)
        m->si = *si;
    else
        ipw_system_info_read(&m->si, NULL, NULL);
    pthread_mutex_init(&m->lock, NULL);
    pthread_mutex_init(&m->metrics_lock, NULL);
    ipw_buf_init(&m->metrics_text, IPW_METRICS_TEXT_MAX);
    m->depth = m->cfg.stream_queue ? m->cfg.stream_queue : default_depth(m->period_ns);
    if (m->depth < 2)
        m->depth = 2;
    if (m->depth > 65536)
        m->depth = 65536;
    m->ring = calloc(m->depth, sizeof *m->ring);
    if (m->ndev) {
        m->inbox_dev = calloc((size_t)INBOX_CAP * m->ndev, sizeof *m->inbox_dev);
        m->scratch_dev = calloc((size_t)INBOX_CAP * m->ndev, sizeof *m->scratch_dev);
        m->idle_dev = calloc(m->ndev, sizeof *m->idle_dev);
    }
    if (!m->ring || (m->ndev && (!m->inbox_dev || !m->scratch_dev || !m->idle_dev))) {
        ipw_monitor_destroy(m);
        return ipw_fail(eb, IPW_E_NOMEM, "out of memory for the stream ring");
    }
    for (size_t i = 0; i < m->depth; i++)
        m->ring[i].msg.max = IPW_GRPC_MAX_MESSAGE;

    m->methods[0] = (struct ipw_grpc_method){.path = "/energy.EnergyMonitor/Health", .ud = m,
                                             .unary = health};
    m->methods[1] = (struct ipw_grpc_method){.path = "/energy.EnergyMonitor/StreamTelemetry",
                                             .ud = m,
                                             .open = stream_open,
                                             .pull = stream_pull,
                                             .close = stream_close};
    m->methods[2] = (struct ipw_grpc_method){.path = "/grpc.health.v1.Health/Check", .ud = m,
                                             .unary = health_check};
    struct ipw_grpc_server_config sc = {.methods = m->methods,
                                        .nmethods = 3,
                                        .on_wake = drain,
                                        .on_timer = m->cfg.drive_sampler ? tick : NULL,
                                        .ud = m,
                                        .max_connections = m->cfg.max_connections};
    ipw_err e = ipw_grpc_server_create(&sc, &m->server, eb);
    if (e == IPW_OK && m->cfg.port >= 0) {
        e = ipw_grpc_server_listen_tcp(m->server, m->cfg.bind_address, m->cfg.port, &m->grpc_port,
                                       eb);
        if (e != IPW_OK)
            ipw_err_prefix(eb, "gRPC endpoint (--port)"); /* which of the two ports it was */
        if (e == IPW_OK && !ipw_net_is_loopback(m->cfg.bind_address))
            ipw_warn("monitor: listening on %s, which is not a loopback address: the telemetry "
                     "stream has no authentication and no encryption, so anyone who can reach "
                     "this port can read it; prefer 127.0.0.1, --unix, or a firewall",
                     m->cfg.bind_address);
    }
    if (e == IPW_OK && m->cfg.unix_path)
        e = ipw_grpc_server_listen_unix(m->server, m->cfg.unix_path, 0660, eb);
    if (e == IPW_OK && m->cfg.port < 0 && !m->cfg.unix_path)
        e = ipw_fail(eb, IPW_E_INVALID, "the monitor needs a TCP port or a --unix path");
    if (e == IPW_OK && m->cfg.metrics_port >= 0) {
        ipw_errbuf me = {0};
        e = ipw_metrics_http_start(m->cfg.metrics_bind, m->cfg.metrics_port, render_metrics, m,
                                   &m->http, &m->metrics_port, &me);
        if (e == IPW_OK && !ipw_net_is_loopback(m->cfg.metrics_bind))
            ipw_warn("monitor: metrics on %s, which is not a loopback address: /metrics has no "
                     "authentication and shows this host's name and hardware",
                     m->cfg.metrics_bind);
        if (e != IPW_OK && m->cfg.metrics_optional) {
            /* A second monitor on the host (or anything else on 9470) must not stop the
             * telemetry stream, which is what clients of the original monitor rely on. */
            ipw_warn("monitor: serving without Prometheus metrics: %s", me.msg);
            m->metrics_port = -1;
            e = IPW_OK;
        } else if (e != IPW_OK && eb) {
            *eb = me;
        }
    }
    if (e != IPW_OK) {
        ipw_monitor_destroy(m);
        return e;
    }
    *out = m;
    return IPW_OK;
}

int ipw_monitor_grpc_port(const struct ipw_monitor *m) { return m->grpc_port; }
struct ipw_grpc_server *ipw_monitor_grpc_server(struct ipw_monitor *m) { return m->server; }
int ipw_monitor_metrics_port(const struct ipw_monitor *m) { return m->metrics_port; }

ipw_err ipw_monitor_attach(struct ipw_monitor *m, ipw_errbuf *eb)
{
    if (m->subscribed)
        return IPW_OK;
    /* The newest reading already taken is served at once; fetched before subscribing so that
     * it can never arrive after a newer one. */
    struct ipw_reading r;
    struct ipw_device_reading dev[IPW_MAX_DEVICES];
    if (ipw_sampler_latest(m->sampler, &r, m->ndev ? dev : NULL, NULL) == IPW_OK) {
        on_reading(m, &r, m->ndev ? dev : NULL, m->ndev);
        m->samples--; /* counted when it was sampled, not again */
    }
    ipw_err e = ipw_sampler_subscribe(m->sampler, on_reading, m, &m->sub_id, eb);
    if (e == IPW_OK)
        m->subscribed = true;
    return e;
}

ipw_err ipw_monitor_run(struct ipw_monitor *m, ipw_errbuf *eb)
{
    ipw_err e = ipw_monitor_attach(m, eb);
    if (e != IPW_OK)
        return e;
    if (m->cfg.drive_sampler) {
        /* a blocking source (powermetrics waits for its child's next sample) never runs on the
         * loop: it gets the sampler's own thread */
        m->driving = !(ipw_collector_info(m->collector)->caps & IPW_CAP_BLOCKING_SAMPLE);
        if (!m->driving && (e = ipw_sampler_start(m->sampler, eb)) != IPW_OK)
            return e;
    }
    e = ipw_grpc_server_run(m->server, eb);
    ipw_sampler_unsubscribe(m->sampler, m->sub_id);
    m->subscribed = false;
    return e;
}

void ipw_monitor_stop(struct ipw_monitor *m) { ipw_grpc_server_stop(m->server); }

void ipw_monitor_get_stats(struct ipw_monitor *m, struct ipw_monitor_stats *st)
{
    memset(st, 0, sizeof *st);
    st->samples = m->samples;
    st->missed_ticks = m->missed;
    st->dropped = m->dropped;
    st->sent = m->sent;
    st->streams_open = m->streams_open;
    st->streams_total = m->streams_total;
    struct ipw_grpc_server_stats gs;
    ipw_grpc_server_get_stats(m->server, &gs);
    st->connections_open = gs.connections_open;
    st->protocol_errors = gs.protocol_errors;
}

/* A reading for a scrape that would otherwise show one older than the sampling period (the
 * monitor samples at its idle pace while nobody streams): taken on the scraping thread, without
 * waking the loop, which drains it with its next tick. A collector that blocks is left alone. */
static void refresh_for_scrape(struct ipw_monitor *m, const struct ipw_sampler_stats *ss)
{
    if (ipw_collector_info(m->collector)->caps & IPW_CAP_BLOCKING_SAMPLE)
        return;
    if (ss->held && ipw_mono_ns() - ss->newest_mono_ns <= m->period_ns)
        return;
    in_tick = true;
    ipw_err e = ipw_sampler_snapshot(m->sampler, NULL, NULL);
    in_tick = false;
    (void)e; /* a failure is counted by the sampler and shown by the text itself */
}

char *ipw_monitor_metrics_text(struct ipw_monitor *m)
{
    /* Everything the text shows besides the reading itself is in the key, and the sampler's
     * statistics change with every reading: an unchanged key means an unchanged text. */
    struct metrics_key key;
    memset(&key, 0, sizeof key);
    ipw_sampler_get_stats(m->sampler, &key.ss);
    if (m->cfg.idle_interval_ns > m->period_ns) {
        refresh_for_scrape(m, &key.ss);
        ipw_sampler_get_stats(m->sampler, &key.ss);
    }
    ipw_monitor_get_stats(m, &key.st);
    pthread_mutex_lock(&m->metrics_lock);
    if (!m->metrics_cached || memcmp(&key, &m->metrics_key, sizeof key) != 0) {
        struct ipw_metrics_view *v = &m->metrics_view;
        v->info = ipw_collector_info(m->collector);
        v->si = &m->si;
        v->start_real_ns = m->start_real_ns;
        v->interval_ns = m->period_ns;
        v->ndev = m->ndev;
        v->have_reading =
            ipw_sampler_latest(m->sampler, &v->r, m->ndev ? v->dev : NULL, NULL) == IPW_OK;
        v->ss = key.ss;
        v->st = key.st;
        if (!m->metrics_fixed_len) {
            ipw_buf_reset(&m->metrics_text);
            ipw_metrics_render_fixed(v, &m->metrics_text);
            m->metrics_fixed_len = m->metrics_text.len;
        }
        ipw_buf_truncate(&m->metrics_text, m->metrics_fixed_len);
        ipw_metrics_render_changing(v, &m->metrics_text);
        m->metrics_cached = ipw_buf_status(&m->metrics_text) == IPW_OK;
        m->metrics_key = key;
    }
    char *text = m->metrics_cached ? strdup(ipw_buf_str(&m->metrics_text)) : NULL;
    pthread_mutex_unlock(&m->metrics_lock);
    return text;
}

void ipw_monitor_destroy(struct ipw_monitor *m)
{
    if (!m)
        return;
    if (m->subscribed)
        ipw_sampler_unsubscribe(m->sampler, m->sub_id);
    ipw_metrics_http_stop(m->http);
    ipw_grpc_server_destroy(m->server);
    while (m->streams) {
        struct mstream *st = m->streams;
        m->streams = st->next;
        free(st);
    }
    if (m->ring)
        for (size_t i = 0; i < m->depth; i++)
            ipw_buf_free(&m->ring[i].msg);
    free(m->ring);
    free(m->inbox_dev);
    free(m->scratch_dev);
    free(m->idle_dev);
    ipw_buf_free(&m->metrics_text);
    pthread_mutex_destroy(&m->metrics_lock);
    pthread_mutex_destroy(&m->lock);
    free(m);
}
