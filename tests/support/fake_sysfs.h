/* Fake sysfs trees for the RAPL collector: the kernel's layout (zones under
 * devices/virtual/powercap/<type>/..., symlinked from class/powercap/<zone>), built in a temp
 * directory that IPW_SYSFS_ROOT / cfg.sysfs_root then points at. */
#ifndef IPW_FAKE_SYSFS_H
#define IPW_FAKE_SYSFS_H

#include <stdint.h>
#include <sys/types.h>

/* A new empty root (mode 0755, so an unprivileged child can walk it); free with free() after
 * ipw_test_rmtree. */
char *ipw_fake_sysfs_new(void);

/* A powercap zone: id "intel-rapl:N", "intel-rapl:N:M" or "intel-rapl-mmio:N". Writes name,
 * energy_uj, max_energy_range_uj (omitted when max_range_uj is 0) and enabled. */
void ipw_fake_rapl_zone(const char *root, const char *id, const char *name, uint64_t energy_uj,
                        uint64_t max_range_uj);
/* Rewrites energy_uj in place (same inode), as the kernel's counter would change under an
 * open file descriptor. */
void ipw_fake_rapl_set(const char *root, const char *id, uint64_t energy_uj);
void ipw_fake_rapl_chmod(const char *root, const char *id, mode_t mode);
/* Path of a zone's energy_uj (static buffer). */
const char *ipw_fake_rapl_path(const char *root, const char *id);

/* Two packages, each with core and dram sub-zones, a psys zone and an intel-rapl-mmio duplicate
 * of package 0. Values (uJ): package-0 1000000, its core 400000, its dram 300000; package-1
 * 2000000, core 500000, dram 700000; psys 9000000; mmio 1000000. Range 262143328850. */
void ipw_fake_rapl_standard(const char *root);

#define IPW_FAKE_RAPL_RANGE 262143328850ULL

/* An AMD hwmon device (name "amd_energy" or "zenergy") at class/hwmon/hwmon<index> with
 * ncores Ecore channels then nsockets Esocket channels, each energyN_input = value_uj. */
void ipw_fake_hwmon_amd(const char *root, int index, const char *name, int ncores, int nsockets,
                        uint64_t value_uj);
/* Rewrites energy<channel>_input of that hwmon device. */
void ipw_fake_hwmon_set(const char *root, int index, int channel, uint64_t value_uj);

#endif
