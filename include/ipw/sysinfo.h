/* Facts about the host that every reading and summary carries (the proto's SystemInfo). */
#ifndef IPW_SYSINFO_H
#define IPW_SYSINFO_H

#include <stdint.h>

struct ipw_system_info {
    char os_name[64];        /* "Debian GNU/Linux" (os-release NAME), else uname sysname */
    char os_version[64];     /* os-release VERSION_ID */
    char kernel_version[128];/* uname release */
    char host_name[256];
    uint32_t cpu_count;      /* online logical CPUs */
    char cpu_brand[128];     /* /proc/cpuinfo "model name" (never a placeholder when known) */
};

/* procfs_root/etc_root may be NULL for "/proc" and "/etc". Never fails: unknown fields are
 * left empty. */
void ipw_system_info_read(struct ipw_system_info *si, const char *procfs_root,
                          const char *etc_root);

/* "NVIDIA H100 80GB HBM3" -> "H10080GB"; "NVIDIA GeForce RTX 4090" -> "RTX4090";
 * empty GPU name -> condensed CPU brand -> "UNKNOWN_HW" (SPEC §3.4). */
void ipw_hardware_label(const char *gpu_name, const char *cpu_brand, char *out, unsigned size);

#endif
