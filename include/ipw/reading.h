/* One telemetry reading: every value carries a validity bit; -1 appears only on the wire or in
 * files (ipw_reading_value_or_sentinel). Energies are cumulative since the collector opened. */
#ifndef IPW_READING_H
#define IPW_READING_H

#include <stdbool.h>
#include <stdint.h>

/* Energy domains. The "main" domain of a platform is what the wire calls energy_joules:
 * the GPU (nvidia, amd), the GPU rail (macos), the CPU package (rapl, null). */
typedef enum ipw_domain {
    IPW_DOMAIN_GPU = 0,
    IPW_DOMAIN_CPU,  /* CPU package(s), summed */
    IPW_DOMAIN_DRAM, /* RAPL dram zones, summed */
    IPW_DOMAIN_ANE,  /* Apple Neural Engine */
    IPW_DOMAIN_COUNT
} ipw_domain;

typedef enum ipw_metric {
    IPW_M_GPU_POWER_W = 0,
    IPW_M_GPU_ENERGY_J,
    IPW_M_CPU_POWER_W,
    IPW_M_CPU_ENERGY_J,
    IPW_M_DRAM_POWER_W,
    IPW_M_DRAM_ENERGY_J,
    IPW_M_ANE_POWER_W,
    IPW_M_ANE_ENERGY_J,
    IPW_M_TEMPERATURE_C,
    IPW_M_GPU_MEM_USED_MB,
    IPW_M_GPU_MEM_TOTAL_MB,
    IPW_M_CPU_MEM_USED_MB,
    IPW_M_GPU_UTIL_PCT,
    IPW_M_GPU_MEMBW_UTIL_PCT,
    IPW_M_GPU_TENSOR_UTIL_PCT,
    IPW_M_COUNT
} ipw_metric;

/* How an energy value was obtained (recorded per domain in each reading). */
typedef enum ipw_energy_source {
    IPW_ENERGY_NONE = 0,
    IPW_ENERGY_COUNTER,    /* hardware energy counter */
    IPW_ENERGY_INTEGRATED, /* power integrated over time (trapezoid) */
    IPW_ENERGY_MODELED     /* the sim collector */
} ipw_energy_source;

/* How the GPU power value was obtained. */
typedef enum ipw_power_source {
    IPW_POWER_NONE = 0,
    IPW_POWER_INSTANT, /* NVML field 186, powermetrics sample, ROCm current socket power */
    IPW_POWER_AVERAGE, /* NVML GetPowerUsage (1 s average on Hopper), ROCm average */
    IPW_POWER_DERIVED, /* energy-counter delta over the sampling interval (RAPL) */
    IPW_POWER_MODELED
} ipw_power_source;

struct ipw_reading {
    int64_t mono_ns;  /* CLOCK_MONOTONIC: for every computation */
    int64_t real_ns;  /* CLOCK_REALTIME: only for reporting */
    uint64_t sequence; /* assigned by the sampler, increasing */
    uint32_t valid;    /* bit (1u << ipw_metric) set when v[metric] holds a value */
    uint8_t energy_source[IPW_DOMAIN_COUNT]; /* ipw_energy_source per domain */
    uint8_t power_source;                    /* ipw_power_source of the GPU power */
    uint8_t flags;                           /* IPW_READING_* */
    double v[IPW_M_COUNT];
};

/* The reading was taken synchronously at a query boundary (not by the periodic tick). */
#define IPW_READING_SNAPSHOT 0x01u

/* Per-device values of a multi-device collector; static identity lives in ipw_device_info. */
enum ipw_device_field {
    IPW_DF_POWER_W = 0,
    IPW_DF_ENERGY_J,
    IPW_DF_TEMPERATURE_C,
    IPW_DF_MEM_USED_MB,
    IPW_DF_MEM_TOTAL_MB,
    IPW_DF_UTIL_PCT,
    IPW_DF_COUNT
};

struct ipw_device_reading {
    uint32_t valid; /* bit (1u << ipw_device_field) */
    double v[IPW_DF_COUNT];
};

static inline bool ipw_reading_has(const struct ipw_reading *r, ipw_metric m)
{
    return (r->valid >> m) & 1u;
}

static inline void ipw_reading_set(struct ipw_reading *r, ipw_metric m, double value)
{
    r->v[m] = value;
    r->valid |= 1u << m;
}

static inline void ipw_reading_unset(struct ipw_reading *r, ipw_metric m)
{
    r->valid &= ~(1u << m);
    r->v[m] = 0;
}

/* Value when valid, else -1: the sentinel the original wire format uses. */
static inline double ipw_reading_value_or_sentinel(const struct ipw_reading *r, ipw_metric m)
{
    return ipw_reading_has(r, m) ? r->v[m] : -1.0;
}

static inline bool ipw_device_has(const struct ipw_device_reading *d, enum ipw_device_field f)
{
    return (d->valid >> f) & 1u;
}

static inline void ipw_device_set(struct ipw_device_reading *d, enum ipw_device_field f, double v)
{
    d->v[f] = v;
    d->valid |= 1u << f;
}

void ipw_reading_clear(struct ipw_reading *r);
ipw_metric ipw_domain_energy_metric(ipw_domain d);
ipw_metric ipw_domain_power_metric(ipw_domain d);
const char *ipw_domain_name(ipw_domain d);       /* "gpu", "cpu", "dram", "ane" */
const char *ipw_metric_name(ipw_metric m);       /* "gpu_power_watts", ... */
const char *ipw_energy_source_name(ipw_energy_source s); /* "counter", "integrated", "modeled", "none" */
const char *ipw_power_source_name(ipw_power_source s);

#endif
