/* Collectors: one per platform (nvidia, amd, rapl, macos, null, sim), each behind the same
 * operations table (private to src/telemetry/), chosen by name or by auto-detection (SPEC
 * §1.1). */
#ifndef IPW_COLLECTOR_H
#define IPW_COLLECTOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ipw/err.h"
#include "ipw/reading.h"

#define IPW_MAX_DEVICES 64

/* Where collectors look for hardware; every path is overridable so that tests load fakes
 * through the same code as production. Strings are borrowed, not copied. */
struct ipw_collector_config {
    const char *sysfs_root;           /* IPW_SYSFS_ROOT, default "/sys" */
    const char *procfs_root;          /* IPW_PROCFS_ROOT, default "/proc" */
    const char *nvml_library;         /* IPW_NVML_LIBRARY, default search list */
    const char *rocm_library;         /* IPW_ROCM_SMI_LIBRARY, default search list */
    const char *powermetrics_command; /* IPW_POWERMETRICS, default "powermetrics" */
    const char *cuda_visible_devices; /* CUDA_VISIBLE_DEVICES; NULL or "all" = every device */
    int interval_ms;                  /* sampling period (powermetrics runs at this rate) */
    bool no_cpu_companion;            /* do not add RAPL CPU fields to a GPU collector */
    const char *sim_hardware;         /* sim collector: hardware spec name (e.g. "H100") */
    const char *sim_model;            /* sim collector: model spec name */
    /* Re-read /proc/meminfo at most this often (0 = every sample, the default); between
     * reads the last value is reported. The kernel formats the whole file on every read,
     * which costs a 50 ms monitor as much as the rest of its tick. */
    int64_t meminfo_interval_ns;
    /* cpu-model: the user's TDP and idle power per CPU package in W (0 = from the TDP table
     * and the load curve); --cpu-tdp / --cpu-idle, or IPW_CPU_TDP / IPW_CPU_IDLE */
    double cpu_tdp_w, cpu_idle_w;
};

struct ipw_device_info {
    uint32_t index; /* index as the vendor library numbers it */
    char uuid[96];
    char name[128];
    double mem_total_mb; /* < 0 when unknown */
};

/* What a collector can do, as bits (nvtop's "which values are valid", curl's `supports`): code
 * asks for a capability, never for a platform name. Each ops table declares its own; they are
 * copied into ipw_collector_info.caps, and a remote source derives them from the platform its
 * monitor reports (ipw_collector_describe_platform). */
enum ipw_collector_cap {
    IPW_CAP_ENERGY = 1u << 0,          /* reports some power or energy (null reports none) */
    IPW_CAP_ENERGY_COUNTER = 1u << 1,  /* main-domain energy from a hardware counter */
    IPW_CAP_BLOCKING_SAMPLE = 1u << 2, /* sample() waits for the source's own next reading
                                          (powermetrics): run it on a thread of its own,
                                          never on an event loop */
    IPW_CAP_MODELLED = 1u << 3,        /* values are modelled, not measured (sim) */
    IPW_CAP_CPU_COMPANION = 1u << 4,   /* a GPU collector that takes RAPL beside it for CPU
                                          package and DRAM energy */
    IPW_CAP_PROCESS_GPU_SHARE = 1u << 5, /* process_gpu_share answers (NVML with per-process
                                            utilisation; open() clears it without) */
};

struct ipw_collector_info {
    char platform[16];     /* "nvidia", "amd", "macos", "rapl", "null", "sim" */
    unsigned caps;         /* enum ipw_collector_cap bits */
    ipw_domain main_domain; /* what the wire calls energy_joules / power_watts */
    /* accelerator identity, for GpuInfo (empty strings when there is none) */
    char gpu_name[128];
    char gpu_vendor[32];
    uint64_t gpu_device_id;
    char gpu_device_type[16]; /* "discrete", "integrated", "cpu" */
    char gpu_backend[16];     /* "nvml", "rocm_smi", "powermetrics", "rapl", "sim" */
    unsigned ndev;
    struct ipw_device_info dev[IPW_MAX_DEVICES];
    /* free-form notes for the user: fallbacks taken at open (e.g. "energy integrated from
     * power on GPU 1: counter not supported"; "RAPL: permission denied ...") */
    char notes[1024];
};

struct ipw_collector;

/* A collector's entry in the registry (detect.c). Its operations table is private to the
 * telemetry module (src/telemetry/collector_priv.h); everyone else walks the registry with
 * these opaque pointers and reads what names and describes each entry through the accessors,
 * from which every list of collectors (CLI choices, `ipw list`, help and error messages, the
 * auto-detection order) is derived, never spelled again. */
struct ipw_collector_ops;
/* The platform name, as --collector takes it. */
const char *ipw_collector_ops_name(const struct ipw_collector_ops *ops);
/* One line for `ipw list collectors`. */
const char *ipw_collector_ops_description(const struct ipw_collector_ops *ops);

/* Defaults, then environment overrides (IPW_SYSFS_ROOT, IPW_NVML_LIBRARY, ...). */
void ipw_collector_config_init(struct ipw_collector_config *cfg);

/* name: "auto" (or NULL), or one of nvidia|nvml, amd|rocm, rapl, macos|powermetrics, null, sim.
 * With "auto", each collector is tried in SPEC order and the reasons for skipping are kept in
 * detect_log. A forced collector that fails to open is an error naming the reason. */
ipw_err ipw_collector_open(const char *name, const struct ipw_collector_config *cfg,
                           struct ipw_collector **out, ipw_errbuf *eb);

/* Sample now: backend values, then CPU fields from the RAPL companion, then CPU memory.
 * Timestamps (mono/real) are taken here, just before the backend reads. */
ipw_err ipw_collector_sample(struct ipw_collector *c, struct ipw_reading *r,
                             struct ipw_device_reading *dev, ipw_errbuf *eb);
void ipw_collector_close(struct ipw_collector *c);
/* The collector's process_gpu_share, or IPW_E_UNSUPPORTED naming the platform. */
ipw_err ipw_collector_process_gpu_share(struct ipw_collector *c, int64_t since_unix_us,
                                        const int *pids, size_t npids, double *share,
                                        ipw_errbuf *eb);
const char *ipw_collector_name(const struct ipw_collector *c);
const char *ipw_collector_last_error(const struct ipw_collector *c);
/* What the open collector is and can do (platform, devices, capability bits, notes). */
const struct ipw_collector_info *ipw_collector_info(const struct ipw_collector *c);
/* Why each collector tried before it was skipped by auto-detection ("" when none was). */
const char *ipw_collector_detect_log(const struct ipw_collector *c);
/* The ops table for a user-facing name or alias, or NULL. */
const struct ipw_collector_ops *ipw_collector_lookup(const char *name);
/* Every collector of this build, NULL-terminated, in the order `ipw list` shows them. */
const struct ipw_collector_ops *const *ipw_collector_registry(void);
/* Names accepted by --collector: "auto", then each collector's name (NULL-terminated; for
 * option choices, help and `ipw list collectors`). */
const char *const *ipw_collector_choices(void);
/* "auto, nvidia, amd, ..." for messages. */
const char *ipw_collector_choices_text(void);
/* NULL-terminated list of collectors in auto-detection order (auto_rank 1, 2, ...). */
const struct ipw_collector_ops *const *ipw_collector_auto_order(void);
/* What a platform name reported by a remote monitor can do and which domain it reports as its
 * main energy: from that collector's ops table; a platform this build does not know (a newer
 * monitor) gets IPW_CAP_ENERGY, and the GPU domain when a GPU is named, else the CPU's. Only
 * properties of the measurement travel: a remote source samples nothing itself, so
 * IPW_CAP_BLOCKING_SAMPLE, IPW_CAP_CPU_COMPANION and IPW_CAP_PROCESS_GPU_SHARE are never set. */
void ipw_collector_describe_platform(const char *platform, const char *gpu_name, unsigned *caps,
                                     ipw_domain *main_domain);

/* /proc/meminfo reader kept open between samples (pread at offset 0). */
struct ipw_meminfo;
ipw_err ipw_meminfo_open(const char *procfs_root, struct ipw_meminfo **out, ipw_errbuf *eb);
/* MemTotal - MemAvailable in MiB. */
ipw_err ipw_meminfo_used_mb(struct ipw_meminfo *m, double *used_mb);
/* The same, but reuse a value read less than max_age_ns before now_ns (monotonic). */
ipw_err ipw_meminfo_used_mb_cached(struct ipw_meminfo *m, int64_t now_ns, int64_t max_age_ns,
                                   double *used_mb);
void ipw_meminfo_close(struct ipw_meminfo *m);

/* Trapezoid integration of power into energy for collectors without a counter. */
struct ipw_integrator {
    bool primed;
    int64_t last_ns;
    double last_w;
    double joules;
};
/* Add a power sample taken at t_ns; returns the energy accumulated so far. */
double ipw_integrator_add(struct ipw_integrator *it, int64_t t_ns, double watts);

#endif
