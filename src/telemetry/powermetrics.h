/* The macOS powermetrics collector's sample parser and counters: what one NUL-separated plist
 * sample holds, and how the child process is faring (for diagnostics, tests and the fuzzer). */
#ifndef IPW_POWERMETRICS_H
#define IPW_POWERMETRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ipw/collector.h"
#include "ipw/err.h"

#define IPW_PM_MAX_SAMPLE ((size_t)4 << 20) /* one plist; a larger one is skipped */
#define IPW_PM_MIN_INTERVAL_MS 10   /* powermetrics' own period is clamped to [10 ms, 1 s]: */
#define IPW_PM_MAX_INTERVAL_MS 1000 /* energies accumulate, so a slow reader loses nothing */
#define IPW_PM_GRACE_MS 1000        /* SIGTERM, then SIGKILL after this */

enum ipw_pm_field {
    IPW_PM_CPU_ENERGY = 0, /* mJ within the sample */
    IPW_PM_GPU_ENERGY,
    IPW_PM_ANE_ENERGY,
    IPW_PM_CPU_POWER, /* mW */
    IPW_PM_GPU_POWER,
    IPW_PM_ANE_POWER,
    IPW_PM_COMBINED_POWER,
    IPW_PM_ELAPSED_NS, /* the sample's own length */
    IPW_PM_FIELD_COUNT
};

struct ipw_pm_sample {
    uint32_t valid; /* bit (1u << ipw_pm_field) */
    double v[IPW_PM_FIELD_COUNT];
    char hw_model[64]; /* "Mac14,2"; empty when absent */
};

/* One plist sample: the keys under `processor` (gpu_energy / gpu_power also from the top-level
 * `gpu` dict of some versions). IPW_E_PROTOCOL when it is not a plist, has no processor dict,
 * no energy at all, or a negative or non-finite value. */
ipw_err ipw_powermetrics_parse_sample(const char *text, size_t len, struct ipw_pm_sample *out,
                                      ipw_errbuf *eb);

struct ipw_powermetrics_stats {
    uint64_t samples;     /* parsed and accumulated */
    uint64_t bad_samples; /* truncated, oversized or malformed: reported and skipped */
    uint64_t exits;       /* children that exited on their own */
    uint64_t restarts;    /* children started after one exited */
    int pid;              /* the running child, 0 when none */
    bool running;
    bool with_ane;      /* the ane_power sampler is in use (false after the retry without it) */
    int interval_ms;    /* powermetrics' -i */
    double combined_power_w; /* latest combined_power, -1 when unknown */
    char last_bad[256]; /* why the last bad sample was skipped */
};

/* False when c is not a powermetrics collector. */
bool ipw_powermetrics_get_stats(const struct ipw_collector *c, struct ipw_powermetrics_stats *st);

#endif
