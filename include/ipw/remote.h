/* A remote energy monitor (or several, summed) as a telemetry source: readings streamed over
 * gRPC feed a push-fed sampler, so the profiler sees the same interface as a local collector.
 *
 * Timestamps: each reading carries the monitor's CLOCK_REALTIME; it is placed on the local
 * CLOCK_MONOTONIC axis assuming the two machines' realtime clocks agree (same host, or NTP/PTP
 * across hosts: the error is then the clocks' offset). When the first reading of a connection
 * shows they clearly do not (a reading from the future, or more than a second old), arrival
 * times are used instead, corrected by the smallest observed delay (error: network jitter).
 *
 * Reconnection: a dropped or stalled stream is reopened with exponential backoff; the gap is
 * logged and remembered (ipw_remote_gap_overlaps). A monitor that restarted (its cumulative
 * energy or sequence went back) is rebased so the local cumulative series stays monotonic;
 * energy used while it was down is not known and is not invented. */
#ifndef IPW_REMOTE_H
#define IPW_REMOTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ipw/collector.h"
#include "ipw/err.h"
#include "ipw/sampler.h"
#include "ipw/sysinfo.h"

#define IPW_REMOTE_MAX_TARGETS 16

struct ipw_remote_config {
    uint32_t interval_ms;         /* asked of the monitor; 0 = its own period */
    int64_t connect_timeout_ns;   /* default 3 s */
    int64_t first_timeout_ns;     /* first reading at open, default 5 s */
    int64_t stall_timeout_ns;     /* no reading this long = reconnect; default 5 s */
    int64_t backoff_initial_ns;   /* default 100 ms, doubling ... */
    int64_t backoff_max_ns;       /* ... up to 5 s */
    struct ipw_sampler_config sampler; /* ring size / retention of the local sampler */
};

enum ipw_remote_clock { IPW_REMOTE_CLOCK_SYNCED = 0, IPW_REMOTE_CLOCK_ARRIVAL = 1 };

struct ipw_remote_stats {
    uint64_t readings;      /* pushed into the sampler */
    uint64_t reconnects;    /* streams reopened after a drop */
    uint64_t restarts;      /* monitor restarts detected (counters rebased) */
    uint64_t gaps;          /* interruptions longer than two periods */
    int64_t gap_ns_total, longest_gap_ns;
    bool connected;
    int clock_mode;         /* enum ipw_remote_clock of the current connection */
    double clock_skew_ms;   /* arrival - remote timestamp of the connection's first reading */
    char last_error[IPW_ERRMSG_MAX];
};

struct ipw_remote;

void ipw_remote_config_init(struct ipw_remote_config *cfg);

/* Checks one target's syntax (a port from 1 to 65535) before anything connects, so a
 * command can refuse it as a usage error. */
ipw_err ipw_remote_check_target(const char *target, ipw_errbuf *eb);

/* Connect to every target ("HOST:PORT", "[V6]:PORT" or "unix:PATH"), wait for each one's first
 * reading, and start streaming. With several targets, the sampler holds their sum: energies
 * and power added, memory added, temperature and utilization averaged, devices listed one
 * after another. A summed reading exists only for times every monitor has covered, so while
 * one monitor is down the sum waits (and the gap is reported) rather than under-count.
 * Readings carry energy_source "counter", or "modeled" when the monitors' platform models
 * (sim, cpu-model): the monitor's own source is not on the wire, its platform is.
 * Fails (naming the target) when any cannot be reached. */
ipw_err ipw_remote_open(const char *const *targets, size_t ntargets,
                        const struct ipw_remote_config *cfg, struct ipw_remote **out,
                        ipw_errbuf *eb);
/* The push-fed sampler every reading lands in (owned by the remote). */
struct ipw_sampler *ipw_remote_sampler(struct ipw_remote *r);
/* From the first readings: platform (the monitors' common one, or "mixed"), main domain, GPU
 * identity and devices; and the first monitor's host. */
const struct ipw_collector_info *ipw_remote_info(const struct ipw_remote *r);
const struct ipw_system_info *ipw_remote_system_info(const struct ipw_remote *r);
size_t ipw_remote_count(const struct ipw_remote *r);
/* Totals over all targets (which = -1), or one target's. */
void ipw_remote_get_stats(struct ipw_remote *r, int which, struct ipw_remote_stats *st);
/* Whether some monitor delivered nothing for part of [t0, t1] (monotonic ns), and what that
 * means for the energy in that window. */
enum ipw_remote_gap {
    IPW_REMOTE_NO_GAP = 0,
    IPW_REMOTE_GAP_INTERPOLATED, /* the stream dropped, the monitor kept counting: the energy
                                    across the gap is interpolated from its counters (exact in
                                    total, its timing within the gap unknown) */
    IPW_REMOTE_GAP_LOST,         /* the monitor restarted (or is down still): the energy used
                                    while it was down is not known */
};
enum ipw_remote_gap ipw_remote_gap_overlaps(struct ipw_remote *r, int64_t t0, int64_t t1);
void ipw_remote_close(struct ipw_remote *r);

#endif
