/* Private to the telemetry module (and to tests of collectors): the collectors' operations
 * table and an open collector's state. Everyone else holds a struct ipw_collector * (or an
 * opaque registry entry) and uses the accessors in ipw/collector.h (ipw_collector_info,
 * ipw_collector_detect_log, ipw_collector_ops_name, ...); the backends fill these fields. */
#ifndef IPW_TELEMETRY_COLLECTOR_PRIV_H
#define IPW_TELEMETRY_COLLECTOR_PRIV_H

#include <stdint.h>

#include "ipw/collector.h"

/* One entry of the collector registry (detect.c): everything that names or describes a
 * collector is here, and every list of collectors (CLI choices, `ipw list`, help and error
 * messages, the auto-detection order) is derived from these tables, never spelled again.
 * Outside this module the table is opaque (ipw_collector_ops_name, ..._description). */
struct ipw_collector_ops {
    const char *name;                /* the platform name, as --collector takes it */
    const char *const *aliases;      /* other names it answers to (NULL-terminated), or NULL */
    const char *description;         /* one line for `ipw list collectors` */
    int auto_rank;                   /* auto-detection tries 1, 2, 3 ...; 0: only by name */
    unsigned caps;    /* enum ipw_collector_cap bits; open() may clear what the hardware lacks */
    ipw_domain main_domain; /* what it reports as energy_joules / power_watts */
    /* Probe and open. Fill c->info and c->priv. On failure, say why in eb; detection then
     * moves on to the next collector. */
    ipw_err (*open)(struct ipw_collector *c, ipw_errbuf *eb);
    /* Fill r (already cleared, timestamps set) and dev[0..info.ndev). Return non-OK when this
     * tick failed (values left invalid); the collector must stay usable for the next tick. */
    ipw_err (*sample)(struct ipw_collector *c, struct ipw_reading *r,
                      struct ipw_device_reading *dev, ipw_errbuf *eb);
    void (*close)(struct ipw_collector *c);
    /* With IPW_CAP_PROCESS_GPU_SHARE: the share, 0..1, of the accelerators' utilisation due to
     * the processes in pids since since_unix_us (wall clock, µs). IPW_E_NOTFOUND when no
     * process used them in the window. */
    ipw_err (*process_gpu_share)(struct ipw_collector *c, int64_t since_unix_us, const int *pids,
                                 size_t npids, double *share, ipw_errbuf *eb);
};

/* The operations tables, one per source file. */
extern const struct ipw_collector_ops ipw_collector_nvml;
extern const struct ipw_collector_ops ipw_collector_rocm;
extern const struct ipw_collector_ops ipw_collector_rapl;
extern const struct ipw_collector_ops ipw_collector_powermetrics;
extern const struct ipw_collector_ops ipw_collector_null;
extern const struct ipw_collector_ops ipw_collector_sim;
extern const struct ipw_collector_ops ipw_collector_cpu_model;

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
