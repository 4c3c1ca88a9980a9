/* Prometheus metrics of the monitor: the text exposition (format 0.0.4) rendered from a
 * snapshot, and the libmicrohttpd endpoint that serves it on GET /metrics. */
#ifndef IPW_MONITOR_METRICS_H
#define IPW_MONITOR_METRICS_H

#include <stdbool.h>
#include <stdint.h>

#include "ipw/buf.h"
#include "ipw/collector.h"
#include "ipw/err.h"
#include "ipw/monitor.h"
#include "ipw/reading.h"
#include "ipw/sampler.h"
#include "ipw/sysinfo.h"

struct ipw_metrics_view {
    const struct ipw_collector_info *info;
    const struct ipw_system_info *si;
    int64_t start_real_ns;
    int64_t interval_ns;
    bool have_reading;
    struct ipw_reading r;
    unsigned ndev;
    struct ipw_device_reading dev[IPW_MAX_DEVICES];
    struct ipw_sampler_stats ss;
    struct ipw_monitor_stats st;
};

/* The exposition text never exceeds this (a bounded buffer). */
#define IPW_METRICS_TEXT_MAX ((size_t)1 << 20)

/* The exposition text (malloc'd), or NULL when out of memory. Families without a value (no
 * GPU on this host, say) are left out rather than reported as zero. */
char *ipw_metrics_render(const struct ipw_metrics_view *v);
/* The same text appended to b (check ipw_buf_status(b) afterwards). */
void ipw_metrics_render_into(const struct ipw_metrics_view *v, struct ipw_buf *b);
/* The two parts of that text, in order: what stays the same for the monitor's lifetime (its
 * identity, start time and period), rendered once, and what changes with readings and
 * connections, rendered again when they change. */
void ipw_metrics_render_fixed(const struct ipw_metrics_view *v, struct ipw_buf *b);
void ipw_metrics_render_changing(const struct ipw_metrics_view *v, struct ipw_buf *b);

struct ipw_metrics_http;
/* Serve GET /metrics on bind:port (port 0 picks one; *bound_port tells which) from a thread of
 * libmicrohttpd's; render is called there for every scrape. */
ipw_err ipw_metrics_http_start(const char *bind, int port, char *(*render)(void *ud), void *ud,
                               struct ipw_metrics_http **out, int *bound_port, ipw_errbuf *eb);
void ipw_metrics_http_stop(struct ipw_metrics_http *h);

#endif
