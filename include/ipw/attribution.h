/* Energy attribution for queries (SPEC §3.2–3.3): energy between boundaries summed over one or
 * more telemetry sources (the local sampler, or several remote monitors), the division rule
 * for overlapping queries, and statistics over a query's window of readings. */
#ifndef IPW_ATTRIBUTION_H
#define IPW_ATTRIBUTION_H

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

/* Cumulative energy per domain at t, summed over sources (valid as above): the ledger keeps
 * the value at its last cut, so a piece never needs readings older than that cut. */
ipw_err ipw_attr_energy_at(const struct ipw_energy_sources *src, int64_t t,
                           struct ipw_energy *out, ipw_errbuf *eb);

/* The run's main domain: the first source's (all nodes of a deployment share a platform). */
static inline ipw_domain ipw_sources_main_domain(const struct ipw_energy_sources *src)
{
    return src->n ? src->main_domain[0] : IPW_DOMAIN_GPU;
}

/* The equal-share rule for overlapping queries (--concurrency): a ledger of query events
 * (start, first token, end) kept in time order. Between two consecutive events the set of
 * queries in flight is constant; that piece's energy (a counter difference, exact between
 * snapshots) is divided equally among them and added to each one's prefill or decode. Each
 * query is thus charged as it runs, so nothing about finished queries has to be kept: memory is
 * bounded by the queries in flight, however long one of them lasts, and the shares of all
 * queries add up to the device energy over the union of their windows. The cumulative energy
 * at the last event is kept, so no piece needs readings older than the event before it: a
 * query may last longer than the telemetry buffer reaches back. */
struct ipw_share_ledger;

struct ipw_share_ledger_config {
    const struct ipw_energy_sources *src;
    size_t max_queries; /* started and not yet collected at once (>= the worker count) */
    /* Called under the ledger's lock at every event with the time the client gave; returns the
     * boundary's CLOCK_MONOTONIC time (a telemetry snapshot locally). NULL: the given time.
     * Times are clamped so that events enter in time order. */
    int64_t (*mark)(void *ud, int64_t client_ns);
    void *mark_ud;
    /* Boundaries interpolated from a stream (remote monitors): an event is divided once the
     * readings after it have arrived (a thread looks every pump_ns, default 200 ms; < 0: only
     * at collect and ipw_share_ledger_pump), and at the latest when a query is collected,
     * after the caller waited for the readings after its end. Otherwise each event is divided
     * as it enters (a snapshot: its reading is there already). */
    bool deferred;
    int64_t pump_ns;
};

/* What the rule gives one query. total = prefill + decode, domain by domain, exactly. */
struct ipw_query_share {
    struct ipw_energy prefill, decode, total;
    double share_seconds; /* integral of 1/n(t) over its window: its share of wall time */
    int concurrency;      /* queries in flight when it started, itself included */
    int64_t start_ns, first_token_ns, end_ns; /* boundaries (first_token_ns 0: none) */
    char why[IPW_ERRMSG_MAX]; /* set when some domain could not be measured */
};

ipw_err ipw_share_ledger_create(const struct ipw_share_ledger_config *cfg,
                                struct ipw_share_ledger **out, ipw_errbuf *eb);
void ipw_share_ledger_destroy(struct ipw_share_ledger *l);
/* Events of query id (unique among those not yet collected); each returns the boundary time.
 * start fails only when max_queries are already registered. */
ipw_err ipw_share_ledger_start(struct ipw_share_ledger *l, uint64_t id, int64_t client_ns,
                               int64_t *t, int *concurrency, ipw_errbuf *eb);
int64_t ipw_share_ledger_first_token(struct ipw_share_ledger *l, uint64_t id, int64_t client_ns);
int64_t ipw_share_ledger_end(struct ipw_share_ledger *l, uint64_t id, int64_t client_ns);
/* Ends old_id and starts new_id at one boundary (one snapshot), so that consecutive segments
 * of one task (an LLM call, then the tool time after it) tile its window with no gap: their
 * energies add up to the energy over the whole window. */
ipw_err ipw_share_ledger_handoff(struct ipw_share_ledger *l, uint64_t old_id, uint64_t new_id,
                                 int64_t client_ns, int64_t *t, ipw_errbuf *eb);
/* After end (and, when deferred, once readings after the end have arrived): divides what is
 * left up to the query's end, fills out and forgets the query. IPW_E_NOTFOUND for an unknown
 * or unfinished id. */
ipw_err ipw_share_ledger_collect(struct ipw_share_ledger *l, uint64_t id,
                                 struct ipw_query_share *out, ipw_errbuf *eb);
/* Deferred mode: divide the events the telemetry has passed. */
void ipw_share_ledger_pump(struct ipw_share_ledger *l);
/* Queries registered and not yet collected. */
size_t ipw_share_ledger_tracked(struct ipw_share_ledger *l);

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
