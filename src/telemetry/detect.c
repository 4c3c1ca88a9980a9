/* Which collectors exist, what names select them, and the order auto-detection tries them in
 * (SPEC §1.1: macOS powermetrics, NVIDIA, AMD, RAPL; then the CPU power model, which needs
 * only /proc/stat, and null when even that cannot be read). */
#include <stddef.h>
#include <string.h>

#include "ipw/collector.h"

const char *const ipw_collector_names[] = {"auto", "nvidia", "amd", "rapl", "macos",
                                           "cpu-model", "null", "sim", NULL};

static const struct {
    const char *name;
    const struct ipw_collector_ops *ops;
} aliases[] = {
    {"nvidia", &ipw_collector_nvml},        {"nvml", &ipw_collector_nvml},
    {"amd", &ipw_collector_rocm},           {"rocm", &ipw_collector_rocm},
    {"rocm_smi", &ipw_collector_rocm},      {"rapl", &ipw_collector_rapl},
    {"macos", &ipw_collector_powermetrics}, {"powermetrics", &ipw_collector_powermetrics},
    {"null", &ipw_collector_null},          {"sim", &ipw_collector_sim},
    {"cpu-model", &ipw_collector_cpu_model},
};

const struct ipw_collector_ops *ipw_collector_lookup(const char *name)
{
    for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++)
        if (name && strcmp(name, aliases[i].name) == 0)
            return aliases[i].ops;
    return NULL;
}

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

/* powermetrics heads the list only where it can exist; elsewhere it is tried only when a
 * command was named explicitly (IPW_POWERMETRICS), as the tests do. */
const struct ipw_collector_ops *const *ipw_collector_auto_order(void)
{
    static const struct ipw_collector_ops *order[] = {
        &ipw_collector_powermetrics, &ipw_collector_nvml, &ipw_collector_rocm,
        &ipw_collector_rapl,         &ipw_collector_cpu_model, &ipw_collector_null, NULL};
    return order;
}
