/* Private to the telemetry module (and to tests of collectors): an open collector's state.
 * Everyone else holds a struct ipw_collector * and uses the accessors in ipw/collector.h
 * (ipw_collector_info, ipw_collector_detect_log, ...); the backends fill these fields. */
#ifndef IPW_TELEMETRY_COLLECTOR_PRIV_H
#define IPW_TELEMETRY_COLLECTOR_PRIV_H

#include <stdint.h>

#include "ipw/collector.h"

struct ipw_collector {
    const struct ipw_collector_ops *ops;
    void *priv;
    struct ipw_collector_config cfg;
    struct ipw_collector_info info;
    struct ipw_collector *cpu_companion; /* RAPL beside a GPU collector, or NULL */
    struct ipw_meminfo *meminfo;         /* /proc/meminfo reader for cpu_memory_usage_mb */
    uint64_t samples, failures;
    char last_error[IPW_ERRMSG_MAX];
    char detect_log[2048]; /* why each earlier collector was skipped during auto-detection */
};

#endif
