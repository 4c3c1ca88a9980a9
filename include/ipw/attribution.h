/* Energy attribution for queries (SPEC §3.2–3.3): energy between boundaries summed over one or
 * more telemetry sources (the local sampler, or several remote monitors), the division rule
 * for overlapping queries, and statistics over a query's window of readings. */
#ifndef IPW_ATTRIBUTION_H
#define IPW_ATTRIBUTION_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "ipw/sampler.h"
#include "ipw/stats.h"

#define IPW_MAX_SOURCES 16

/* Telemetry sources whose energies add up (one per node of a multi-node deployment). */
struct ipw_energy_sources {
    size_t n;
    struct ipw_sampler *s[IPW_MAX_SOURCES];
    ipw_domain main_domain[IPW_MAX_SOURCES]; /* each source's platform main domain */
};

/* Energy per domain over [t0, t1], summed over sources. A domain is valid when every source
 * that measures it gave a value; a source's gap invalidates the sum rather than shrinking it. */
ipw_err ipw_attr_energy(const struct ipw_energy_sources *src, int64_t t0, int64_t t1,
                        struct ipw_energy *out, ipw_errbuf *eb);

/* The run's main domain: the first source's (all nodes of a deployment share a platform). */
static inline ipw_domain ipw_sources_main_domain(const struct ipw_energy_sources *src)
{
    return src->n ? src->main_domain[0] : IPW_DOMAIN_GPU;
}

/* Which queries were in flight when: the basis of the --concurrency division rule. Each query
 * is an interval [start, end]; a running query has end = INT64_MAX. Bounded. */
#define IPW_ACTIVITY_MAX 4096
struct ipw_activity {
    pthread_mutex_t lock;
    size_t n;
    struct {
        uint64_t id;
        int64_t start, end;
    } iv[IPW_ACTIVITY_MAX];
};

void ipw_activity_init(struct ipw_activity *a);
void ipw_activity_destroy(struct ipw_activity *a);
ipw_err ipw_activity_begin(struct ipw_activity *a, uint64_t id, int64_t t, ipw_errbuf *eb);
void ipw_activity_end(struct ipw_activity *a, uint64_t id, int64_t t);
/* Forget intervals no running query can overlap any more (call after attributing a query). */
void ipw_activity_prune(struct ipw_activity *a);
/* Number of queries in flight at time t. */
size_t ipw_activity_count_at(struct ipw_activity *a, int64_t t);

/* Energy of query `id` over [t0, t1] under the division rule: the interval is cut at every
 * start and end of another query inside it; each piece's energy is divided equally among the
 * queries in flight during it (so the shares of all queries add up to the device energy). With
 * one query in flight this is exactly ipw_attr_energy. */
/* share_seconds (may be NULL) receives the integral of 1/n(t) over [t0, t1]: the query's share
 * of the wall time, which is what an idle baseline must be multiplied by under the same rule. */
ipw_err ipw_attr_shared_energy(const struct ipw_energy_sources *src, struct ipw_activity *a,
                               uint64_t id, int64_t t0, int64_t t1, struct ipw_energy *out,
                               double *share_seconds, ipw_errbuf *eb);

/* Statistics over the readings inside [t0, t1] (SPEC §3.3's avg/max/median/min). With several
 * sources, values are aligned on the first source's reading times (sample-and-hold of the
 * others) and summed (power, memory) or averaged (temperature). */
struct ipw_window_stats {
    size_t readings;
    struct ipw_summary main_power;  /* main-domain power, W */
    struct ipw_summary total_power; /* all measured domains' power summed, W */
    struct ipw_summary cpu_power;   /* CPU package power, W */
    struct ipw_summary cpu_mem_mb;
    struct ipw_summary gpu_mem_mb;
    struct ipw_summary temperature_c;
};
ipw_err ipw_attr_window_stats(const struct ipw_energy_sources *src, int64_t t0, int64_t t1,
                              struct ipw_window_stats *out, ipw_errbuf *eb);

/* The method of the original tool, kept for comparison: last minus first periodic reading of
 * the main domain inside [t0, t1], ignoring boundary snapshots. IPW_E_RANGE with fewer than
 * two readings (the original then reports 0 J). */
ipw_err ipw_attr_naive_energy(struct ipw_sampler *s, ipw_domain d, int64_t t0, int64_t t1,
                              double *joules, ipw_errbuf *eb);

/* Mean power per domain over [t0, t1] from energy (not from averaging power samples, which
 * over-weights whatever the sampling cadence favours). Valid bits as in struct ipw_energy. */
ipw_err ipw_attr_mean_power(const struct ipw_energy_sources *src, int64_t t0, int64_t t1,
                            struct ipw_energy *watts, ipw_errbuf *eb);

#endif
