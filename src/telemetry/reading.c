/* Names and small helpers for the reading struct (used by serializers and logs). */
#include "ipw/reading.h"

#include <string.h>

void ipw_reading_clear(struct ipw_reading *r) { memset(r, 0, sizeof *r); }

ipw_metric ipw_domain_energy_metric(ipw_domain d)
{
    static const ipw_metric m[IPW_DOMAIN_COUNT] = {IPW_M_GPU_ENERGY_J, IPW_M_CPU_ENERGY_J,
                                                   IPW_M_DRAM_ENERGY_J, IPW_M_ANE_ENERGY_J};
    return m[d];
}

ipw_metric ipw_domain_power_metric(ipw_domain d)
{
    static const ipw_metric m[IPW_DOMAIN_COUNT] = {IPW_M_GPU_POWER_W, IPW_M_CPU_POWER_W,
                                                   IPW_M_DRAM_POWER_W, IPW_M_ANE_POWER_W};
    return m[d];
}

const char *ipw_domain_name(ipw_domain d)
{
    static const char *const n[IPW_DOMAIN_COUNT] = {"gpu", "cpu", "dram", "ane"};
    return (unsigned)d < IPW_DOMAIN_COUNT ? n[d] : "?";
}

const char *ipw_metric_name(ipw_metric m)
{
    static const char *const n[IPW_M_COUNT] = {
        "gpu_power_watts",      "gpu_energy_joules",     "cpu_power_watts",
        "cpu_energy_joules",    "dram_power_watts",      "dram_energy_joules",
        "ane_power_watts",      "ane_energy_joules",     "temperature_celsius",
        "gpu_memory_usage_mb",  "gpu_memory_total_mb",   "cpu_memory_usage_mb",
        "gpu_compute_utilization_pct", "gpu_memory_bandwidth_utilization_pct",
        "gpu_tensor_core_utilization_pct"};
    return (unsigned)m < IPW_M_COUNT ? n[m] : "?";
}

const char *ipw_energy_source_name(ipw_energy_source s)
{
    switch (s) {
    case IPW_ENERGY_COUNTER: return "counter";
    case IPW_ENERGY_INTEGRATED: return "integrated";
    case IPW_ENERGY_MODELED: return "modeled";
    case IPW_ENERGY_NONE: break;
    }
    return "none";
}

const char *ipw_power_source_name(ipw_power_source s)
{
    switch (s) {
    case IPW_POWER_INSTANT: return "instant";
    case IPW_POWER_AVERAGE: return "average";
    case IPW_POWER_DERIVED: return "derived";
    case IPW_POWER_MODELED: return "modeled";
    case IPW_POWER_NONE: break;
    }
    return "none";
}
