/* The energy monitor (SPEC §2): one sampler streamed to any number of gRPC clients
 * (energy.EnergyMonitor and grpc.health.v1 over h2c), plus Prometheus metrics over HTTP. */
#ifndef IPW_MONITOR_H
#define IPW_MONITOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ipw/err.h"
#include "ipw/sampler.h"
#include "ipw/sysinfo.h"

struct ipw_monitor_config {
    const char *bind_address; /* default "127.0.0.1" */
    int port;                 /* default 50053; 0 picks a free port; < 0: no TCP listener */
    const char *unix_path;    /* also serve on this Unix socket (mode 0660); NULL = no */
    const char *metrics_bind; /* default "127.0.0.1" */
    int metrics_port;         /* default 9470; 0 picks a free port; < 0: no metrics */
    bool metrics_optional;    /* a metrics port in use is a warning, not an error */
    /* How many readings a stream may fall behind before its oldest are dropped. 0: about 2 s
     * of readings (at least 64, at most 4096). */
    size_t stream_queue;
    unsigned max_connections; /* 0 = 1024 */
    /* Sample on the gRPC loop's own thread (one wakeup per tick instead of two); the caller
     * then must not start the sampler. A collector that blocks (macos) or turns out slow is
     * handed to the sampler's own thread instead. */
    bool drive_sampler;
    /* Driven mode: the sampling period while no stream is open (Prometheus and Health only
     * need a recent reading, not twenty a second). 0 or anything not above the sampling
     * period: always sample at the sampling period. The first stream to open brings the
     * sampling period back at once. */
    int64_t idle_interval_ns;
};

struct ipw_monitor_stats {
    uint64_t samples;        /* readings received from the sampler */
    uint64_t missed_ticks;   /* ticks skipped because sampling fell behind (driven mode) */
    uint64_t dropped;        /* readings slow streams lost (their oldest) */
    uint64_t sent;           /* readings delivered to streams */
    uint64_t streams_open;   /* StreamTelemetry calls in progress */
    uint64_t streams_total;
    uint64_t connections_open;
    uint64_t protocol_errors;
};

struct ipw_monitor;

void ipw_monitor_config_init(struct ipw_monitor_config *cfg);

/* Bind the sockets (so the ports are known at once) and start the metrics endpoint. The
 * sampler must have a collector; it is neither started nor stopped here. si may be NULL (then
 * it is read from /proc and /etc). */
ipw_err ipw_monitor_create(struct ipw_sampler *s, const struct ipw_system_info *si,
                           const struct ipw_monitor_config *cfg, struct ipw_monitor **out,
                           ipw_errbuf *eb);
int ipw_monitor_grpc_port(const struct ipw_monitor *m);
int ipw_monitor_metrics_port(const struct ipw_monitor *m);
/* Serve on the calling thread until ipw_monitor_stop; then end every stream with status 0,
 * send GOAWAY, and return. */
ipw_err ipw_monitor_run(struct ipw_monitor *m, ipw_errbuf *eb);
/* Async-signal-safe: may be called from a SIGTERM handler. */
void ipw_monitor_stop(struct ipw_monitor *m);
void ipw_monitor_get_stats(struct ipw_monitor *m, struct ipw_monitor_stats *st);
/* The Prometheus text exposition (format 0.0.4) of the monitor's state right now; the caller
 * frees the string. NULL when out of memory. */
char *ipw_monitor_metrics_text(struct ipw_monitor *m);
void ipw_monitor_destroy(struct ipw_monitor *m);

#endif
