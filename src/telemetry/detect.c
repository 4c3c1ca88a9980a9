/* Which collectors exist, what names select them, and the order auto-detection tries them in
 * (SPEC §1.1: macOS powermetrics, NVIDIA, AMD, RAPL; then the CPU power model, which needs
 * only /proc/stat, and null when even that cannot be read). */
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "ipw/collector.h"
#include "telemetry/collector_priv.h"
#include "ipw/options.h"

/* The registry: adding a collector is adding its file and one line here. */
static const struct ipw_collector_ops *const registry[] = {
    &ipw_collector_nvml, &ipw_collector_rocm, &ipw_collector_rapl, &ipw_collector_powermetrics,
    &ipw_collector_cpu_model, &ipw_collector_null, &ipw_collector_sim, NULL};
#define NCOLLECTORS (sizeof registry / sizeof registry[0] - 1)

const struct ipw_collector_ops *const *ipw_collector_registry(void) { return registry; }

const char *ipw_collector_ops_name(const struct ipw_collector_ops *ops) { return ops->name; }

const char *ipw_collector_ops_description(const struct ipw_collector_ops *ops)
{
    return ops->description;
}

const struct ipw_collector_ops *ipw_collector_lookup(const char *name)
{
    for (const struct ipw_collector_ops *const *p = registry; name && *p; p++)
        if (ipw_names_match(name, (*p)->name, (*p)->aliases))
            return *p;
    return NULL;
}

/* The derived lists, built once from the tables. */
static struct ipw_names choices;
static const struct ipw_collector_ops *order[NCOLLECTORS + 1];
static pthread_once_t derived_once = PTHREAD_ONCE_INIT;

static const char *collector_name(size_t i) { return registry[i] ? registry[i]->name : NULL; }

static void derive(void)
{
    ipw_names_build(&choices, "auto", collector_name, ", ");
    size_t n = 0;
    /* auto-detection: ranks 1, 2, 3 ... in order (a rank given twice keeps registry order) */
    n = 0;
    for (int rank = 1; n < NCOLLECTORS; rank++) {
        bool any_left = false;
        for (const struct ipw_collector_ops *const *p = registry; *p; p++) {
            if ((*p)->auto_rank == rank)
                order[n++] = *p;
            any_left |= (*p)->auto_rank > rank;
        }
        if (!any_left)
            break;
    }
    order[n] = NULL;
}

static const struct ipw_names *names(void)
{
    pthread_once(&derived_once, derive);
    return &choices;
}

const char *const *ipw_collector_choices(void) { return names()->names; }
const char *ipw_collector_choices_text(void) { return names()->text; }

void ipw_collector_describe_platform(const char *platform, const char *gpu_name, unsigned *caps,
                                     ipw_domain *main_domain)
{
    const struct ipw_collector_ops *ops = ipw_collector_lookup(platform);
    if (ops) {
        *caps = ops->caps & ~(IPW_CAP_BLOCKING_SAMPLE | IPW_CAP_CPU_COMPANION |
                             IPW_CAP_PROCESS_GPU_SHARE);
        *main_domain = ops->main_domain;
        return;
    }
    *caps = IPW_CAP_ENERGY;
    *main_domain = gpu_name && *gpu_name ? IPW_DOMAIN_GPU : IPW_DOMAIN_CPU;
}

/* powermetrics heads the list only where it can exist; elsewhere its open() refuses unless a
 * command was named explicitly (IPW_POWERMETRICS), as the tests do. */
const struct ipw_collector_ops *const *ipw_collector_auto_order(void)
{
    pthread_once(&derived_once, derive);
    return order;
}
