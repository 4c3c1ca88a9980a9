/* The sampler: one thread reads a collector at a fixed period into a bounded ring buffer, and
 * answers questions about time windows (SPEC §1.4). A sampler without a collector is fed by
 * ipw_sampler_push (a remote monitor's stream). */
#ifndef IPW_SAMPLER_H
#define IPW_SAMPLER_H

#include <stddef.h>
#include <stdint.h>

#include "ipw/collector.h"
#include "ipw/err.h"
#include "ipw/reading.h"

#define IPW_SAMPLER_MIN_INTERVAL_NS (1000000LL)         /* 1 ms */
#define IPW_SAMPLER_MAX_INTERVAL_NS (10000000000LL)     /* 10 s */
#define IPW_SAMPLER_DEFAULT_RETAIN_NS (600000000000LL)  /* 10 minutes */
#define IPW_SAMPLER_MAX_CAPACITY ((size_t)1 << 17)      /* readings; ~21 MB */
#define IPW_SAMPLER_MAX_SUBSCRIBERS 8

struct ipw_sampler_config {
    int64_t interval_ns; /* default 50 ms */
    int64_t retain_ns;   /* how much history to keep; default 10 minutes */
    size_t capacity;     /* explicit ring size in readings; 0 = from retain_ns / interval_ns */
};

/* Energy per domain over an interval. */
struct ipw_energy {
    uint32_t valid;                       /* bit (1u << ipw_domain) */
    uint32_t present;                     /* domains this source measures at all */
    double joules[IPW_DOMAIN_COUNT];
    uint8_t source[IPW_DOMAIN_COUNT];     /* ipw_energy_source at the interval's end */
    int exact[IPW_DOMAIN_COUNT];          /* 1 when both ends fell on a reading */
};

struct ipw_sampler_stats {
    uint64_t readings;      /* inserted since start (ticks + snapshots + pushes) */
    uint64_t snapshots;
    uint64_t failures;      /* collector ticks that returned an error */
    uint64_t missed_ticks;  /* ticks skipped because sampling fell behind */
    size_t capacity;
    size_t held;
    size_t memory_bytes;    /* ring storage */
    int64_t oldest_mono_ns; /* 0 when empty */
    int64_t newest_mono_ns;
};

typedef void (*ipw_sampler_cb)(void *ud, const struct ipw_reading *r,
                               const struct ipw_device_reading *dev, unsigned ndev);

struct ipw_sampler;

void ipw_sampler_config_init(struct ipw_sampler_config *cfg);

/* c may be NULL: then only ipw_sampler_push feeds it. ndev is taken from c (or given for a
 * push-fed sampler through ipw_sampler_create_push). The sampler does not own c. */
ipw_err ipw_sampler_create(struct ipw_collector *c, const struct ipw_sampler_config *cfg,
                           struct ipw_sampler **out, ipw_errbuf *eb);
ipw_err ipw_sampler_create_push(unsigned ndev, const struct ipw_sampler_config *cfg,
                                struct ipw_sampler **out, ipw_errbuf *eb);
/* Start the sampling thread (a no-op for a push-fed sampler). Takes one reading at once. */
ipw_err ipw_sampler_start(struct ipw_sampler *s, ipw_errbuf *eb);
void ipw_sampler_stop(struct ipw_sampler *s);
void ipw_sampler_destroy(struct ipw_sampler *s);

/* Read the collector now, synchronously, insert the reading and return it. Used at query
 * boundaries so that they are exact. IPW_E_UNSUPPORTED for a push-fed sampler. */
ipw_err ipw_sampler_snapshot(struct ipw_sampler *s, struct ipw_reading *out, ipw_errbuf *eb);

/* Insert a reading from elsewhere; mono_ns must not go backwards (IPW_E_INVALID if it does). */
ipw_err ipw_sampler_push(struct ipw_sampler *s, const struct ipw_reading *r,
                         const struct ipw_device_reading *dev, ipw_errbuf *eb);

/* All readings with t0 <= mono_ns <= t1, newly allocated (free with free()). IPW_E_RANGE when
 * t0 is older than the oldest reading the ring still holds. */
ipw_err ipw_sampler_window(struct ipw_sampler *s, int64_t t0, int64_t t1,
                           struct ipw_reading **out, size_t *n, ipw_errbuf *eb);

/* Cumulative energy at t1 minus at t0, per domain, each end interpolated linearly between the
 * bracketing readings (exact when a reading sits on the boundary). IPW_E_RANGE when t0 is
 * older than the buffer or t1 is newer than the newest reading (snapshot or wait first). */
ipw_err ipw_sampler_energy_between(struct ipw_sampler *s, int64_t t0, int64_t t1,
                                   struct ipw_energy *out, ipw_errbuf *eb);

/* The cumulative energy per domain at t (since the collector opened), interpolated as
 * ipw_sampler_energy_between does; a domain with no bracketing reading is left invalid. */
ipw_err ipw_sampler_energy_at(struct ipw_sampler *s, int64_t t, struct ipw_energy *out,
                              ipw_errbuf *eb);

/* Block until a reading with mono_ns >= t exists or timeout_ns passes (IPW_E_TIMEOUT). */
ipw_err ipw_sampler_wait_until(struct ipw_sampler *s, int64_t t, int64_t timeout_ns,
                               ipw_errbuf *eb);

/* The newest reading (and its devices when dev is non-NULL, ndev entries). */
ipw_err ipw_sampler_latest(struct ipw_sampler *s, struct ipw_reading *r,
                           struct ipw_device_reading *dev, ipw_errbuf *eb);

/* The oldest reading still held with mono_ns > t (and its devices when dev is non-NULL), so
 * that a reader can take every reading in turn however late it wakes; IPW_E_NOTFOUND when
 * there is none yet. A reader more than the ring's capacity behind gets the oldest reading
 * held: the ones before it are gone. */
ipw_err ipw_sampler_next_after(struct ipw_sampler *s, int64_t t, struct ipw_reading *r,
                               struct ipw_device_reading *dev, ipw_errbuf *eb);

/* Called on the sampling thread after every inserted reading, in order. Keep it short. */
ipw_err ipw_sampler_subscribe(struct ipw_sampler *s, ipw_sampler_cb cb, void *ud, int *id,
                              ipw_errbuf *eb);
void ipw_sampler_unsubscribe(struct ipw_sampler *s, int id);

void ipw_sampler_get_stats(struct ipw_sampler *s, struct ipw_sampler_stats *st);
int64_t ipw_sampler_interval_ns(const struct ipw_sampler *s);
unsigned ipw_sampler_ndev(const struct ipw_sampler *s);
struct ipw_collector *ipw_sampler_collector(struct ipw_sampler *s);

#endif
