/* What the RAPL collector found and what each zone has counted: for `ipw` diagnostics, the
 * documentation's examples and the tests (the readings themselves carry only the sums). */
#ifndef IPW_RAPL_H
#define IPW_RAPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ipw/collector.h"

#define IPW_RAPL_MAX_ZONES 64
/* Power of a zone assumed when judging how long a counter takes to wrap (RAPL exposes no
 * hard maximum): more than any single package or DRAM domain draws today. */
#define IPW_RAPL_PLAUSIBLE_MAX_W 500.0
/* Power is an energy difference over at least this span, never over the microseconds between
 * a sampler tick and a boundary snapshot (the counters advance about once a millisecond). */
#define IPW_RAPL_MIN_POWER_SPAN_NS (10 * 1000000LL)

enum ipw_rapl_role {
    IPW_RAPL_PACKAGE = 0, /* top-level package-N / package-N-die-M, or an AMD Esocket counter */
    IPW_RAPL_DRAM,        /* dram sub-zone, or a top-level dram zone */
    IPW_RAPL_PSYS,        /* platform (psys): read, kept apart, never added to CPU */
    IPW_RAPL_SUBZONE,     /* core / uncore, or AMD per-core counters: inside a package */
    IPW_RAPL_OTHER        /* a zone whose name we do not know: not read */
};

struct ipw_rapl_zone {
    char id[64];   /* "intel-rapl:0:2", or "hwmon3/energy17" for amd_energy/zenergy */
    char name[64]; /* the zone's own name: "package-0", "dram", "psys", "Esocket0" */
    enum ipw_rapl_role role;
    bool counted;           /* read every sample (package, dram, psys) */
    double energy_j;        /* accumulated since the collector opened (0 when not counted) */
    uint64_t max_range_uj;  /* max_energy_range_uj; 0 when it does not wrap or is unknown */
    uint64_t wraps;         /* counter wraps seen */
    double safe_interval_s; /* max_range_uj at IPW_RAPL_PLAUSIBLE_MAX_W; 0 when it never wraps */
};

/* The zones of the RAPL collector c, or of the RAPL companion beside a GPU collector. Copies at
 * most max into out and returns how many zones there are (0 when c has no RAPL part). Safe to
 * call while a sampler is reading c. */
size_t ipw_rapl_zones(const struct ipw_collector *c, struct ipw_rapl_zone *out, size_t max);

/* "powercap" or "hwmon" (AMD amd_energy / zenergy), or "" when c has no RAPL part. */
const char *ipw_rapl_source(const struct ipw_collector *c);

const char *ipw_rapl_role_name(enum ipw_rapl_role role); /* "package", "dram", ... */

#endif
