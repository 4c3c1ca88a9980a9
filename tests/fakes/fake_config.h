/* The script of the fake GPU libraries: a key=value file named by an environment variable
 * (IPW_FAKE_NVML_CONFIG, IPW_FAKE_ROCM_CONFIG). Tests parse the same file to know the truth.
 *
 *   devices = 2                  number of GPUs (1..8)
 *   epoch_ns = 123456789         CLOCK_MONOTONIC time the waveforms start (default: init)
 *   init_error = 9               nvmlInit / rsmi_init returns this code
 *   field186 = on|off            NVML instant power field supported
 *   field186_until_s = 0.5       ...and it starts failing this long after the epoch
 *   memory_v2 = on|off           nvmlDeviceGetMemoryInfo_v2 supported
 *   gpm = on|off                 NVML GPM supported
 *   temp_junction = on|off       ROCm junction sensor present (else edge only)
 *   devN.name / devN.uuid / devN.unique_id / devN.pci_device_id
 *   devN.mig = MIG-...           UUID of one MIG instance on this GPU (NVML only)
 *   devN.power = 100:1,300:2     the power waveform (W : seconds, last level holds)
 *   devN.energy = on|off         energy counter supported
 *   devN.energy_offset_j = 1e5   counter value at the epoch
 *   devN.lost_at = 40            the Nth call on this device (1-based) fails as lost...
 *   devN.lost_calls = 10         ...for this many calls (-1: for ever)
 *   devN.counter = ok | stick@1.5 | backwards@1.5   ROCm counter fault from t seconds on
 *   devN.temp_c, mem_total_mb, mem_used_mb, util_pct, mem_busy_pct, gpm_dram, gpm_tensor
 *   devN.procs = 4242:60,17:20   processes on the GPU and their SM utilisation % (NVML's
 *                                per-process samples; one sample per process per call)
 */
#ifndef IPW_FAKE_CONFIG_H
#define IPW_FAKE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "waveform.h"

#define FAKE_MAX_DEV 8
#define FAKE_MAX_PROCS 8

enum fake_counter { FAKE_COUNTER_OK = 0, FAKE_COUNTER_STICK, FAKE_COUNTER_BACKWARDS };

struct fake_dev {
    char name[96];
    char uuid[96];
    char mig_uuid[96]; /* "" when the GPU has no MIG instance */
    unsigned long long unique_id;
    unsigned pci_device_id;
    struct wave wave;
    bool energy;
    double energy_offset_j;
    long lost_at, lost_calls;
    int counter;
    double counter_fault_s;
    double temp_c, mem_total_mb, mem_used_mb, util_pct, mem_busy_pct, gpm_dram, gpm_tensor;
    int nproc;
    int proc_pid[FAKE_MAX_PROCS];
    unsigned proc_sm[FAKE_MAX_PROCS];
};

struct fake_config {
    unsigned ndev;
    bool epoch_set;
    int64_t epoch_ns;
    int init_error;
    bool field186, memory_v2, gpm, temp_junction;
    double field186_until_s; /* 0 = never fails */
    struct fake_dev dev[FAKE_MAX_DEV];
};

/* Defaults for vendor 'n' (NVIDIA) or 'a' (AMD): two GPUs, dev0 100 W for 1 s then 300 W,
 * dev1 60 W for 0.5 s then 250 W, every feature on. */
void fake_config_defaults(struct fake_config *cfg, char vendor);
/* Defaults, then the file named by $env (if set). 0, or -1 with a message in err. */
int fake_config_load(struct fake_config *cfg, char vendor, const char *env, char *err,
                     size_t errsize);
int fake_config_parse_file(struct fake_config *cfg, const char *path, char *err, size_t errsize);

int64_t fake_mono_ns(void);

#endif
