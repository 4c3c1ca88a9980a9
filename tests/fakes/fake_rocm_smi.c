/* A fake librocm_smi64.so: the real ROCm SMI symbol names and ABI, answering from a script
 * (fake_config.h). The energy counter is the exact integral of the power waveform in units of
 * 15.3 µJ, as amdgpu reports it, and can be scripted to stick or go backwards as it does on
 * some parts. A device "lost" by the script answers RSMI_STATUS_FILE_ERROR, as when its sysfs
 * files vanish.
 * Build variants: default = ROCm 6.x (has rsmi_dev_power_get), FAKE_ROCM_523 = Debian's 5.2.3
 * (no rsmi_dev_power_get), FAKE_ROCM_NO_COUNT (no rsmi_num_monitor_devices). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "fake_config.h"

#define EXPORT __attribute__((visibility("default")))

/* rsmi_status_t is an enum whose last value is 0xFFFFFFFF: a 32-bit unsigned on the wire. */
typedef uint32_t rsmi_status_t;
enum {
    RSMI_STATUS_SUCCESS = 0,
    RSMI_STATUS_INVALID_ARGS = 1,
    RSMI_STATUS_NOT_SUPPORTED = 2,
    RSMI_STATUS_FILE_ERROR = 3,
    RSMI_STATUS_INIT_ERROR = 8,
    RSMI_STATUS_INSUFFICIENT_SIZE = 11
};
#define RSMI_STATUS_UNKNOWN_ERROR 0xFFFFFFFFu

#define FAKE_RESOLUTION_UJ 15.3f

static struct {
    int inits;
    struct fake_config cfg;
    int64_t epoch;
    long calls[FAKE_MAX_DEV];
} S;

static double now_s(void)
{
    return (double)(fake_mono_ns() - S.epoch) / 1e9;
}

static rsmi_status_t enter(uint32_t dv, struct fake_dev **out)
{
    if (S.inits == 0)
        return RSMI_STATUS_INIT_ERROR;
    if (dv >= S.cfg.ndev)
        return RSMI_STATUS_INVALID_ARGS;
    long n = ++S.calls[dv];
    struct fake_dev *d = &S.cfg.dev[dv];
    if (d->lost_at > 0 && n >= d->lost_at && (d->lost_calls < 0 || n < d->lost_at + d->lost_calls))
        return RSMI_STATUS_FILE_ERROR;
    *out = d;
    return RSMI_STATUS_SUCCESS;
}

EXPORT rsmi_status_t rsmi_init(uint64_t flags)
{
    (void)flags;
    if (S.inits++ > 0)
        return RSMI_STATUS_SUCCESS;
    char err[512];
    if (fake_config_load(&S.cfg, 'a', "IPW_FAKE_ROCM_CONFIG", err, sizeof err) != 0) {
        fprintf(stderr, "fake ROCm SMI: %s\n", err);
        S.inits = 0;
        return RSMI_STATUS_UNKNOWN_ERROR;
    }
    if (S.cfg.init_error) {
        /* what the real library prints on a machine without an AMD GPU, on its own stderr */
        fprintf(stderr, "Failed to open drm root directory /sys/class/drm.\n"
                        "Exception caught: rsmi_init.\n");
        S.inits = 0;
        return (rsmi_status_t)S.cfg.init_error;
    }
    S.epoch = S.cfg.epoch_set ? S.cfg.epoch_ns : fake_mono_ns();
    memset(S.calls, 0, sizeof S.calls);
    return RSMI_STATUS_SUCCESS;
}

EXPORT rsmi_status_t rsmi_shut_down(void)
{
    if (S.inits == 0)
        return RSMI_STATUS_INIT_ERROR;
    S.inits--;
    return RSMI_STATUS_SUCCESS;
}

EXPORT rsmi_status_t rsmi_status_string(rsmi_status_t status, const char **text)
{
    if (!text)
        return RSMI_STATUS_INVALID_ARGS;
    switch (status) {
    case RSMI_STATUS_SUCCESS:
        *text = "RSMI_STATUS_SUCCESS: The function has been executed successfully.";
        break;
    case RSMI_STATUS_NOT_SUPPORTED:
        *text = "RSMI_STATUS_NOT_SUPPORTED: The requested information or action is not available "
                "for the given input";
        break;
    case RSMI_STATUS_FILE_ERROR: *text = "RSMI_STATUS_FILE_ERROR: Problem accessing a file."; break;
    case RSMI_STATUS_INIT_ERROR:
        *text = "RSMI_STATUS_INIT_ERROR: An error occurred during initialization";
        break;
    default: *text = "An unknown error occurred"; break;
    }
    return RSMI_STATUS_SUCCESS;
}

#ifndef FAKE_ROCM_NO_COUNT
EXPORT rsmi_status_t rsmi_num_monitor_devices(uint32_t *n)
{
    if (S.inits == 0)
        return RSMI_STATUS_INIT_ERROR;
    if (!n)
        return RSMI_STATUS_INVALID_ARGS;
    *n = S.cfg.ndev;
    return RSMI_STATUS_SUCCESS;
}
#endif

EXPORT rsmi_status_t rsmi_dev_name_get(uint32_t dv, char *name, size_t len)
{
    struct fake_dev *d;
    rsmi_status_t rc = enter(dv, &d);
    if (rc)
        return rc;
    if (!name || len == 0)
        return RSMI_STATUS_INVALID_ARGS;
    snprintf(name, len, "%s", d->name);
    return strlen(d->name) < len ? RSMI_STATUS_SUCCESS : RSMI_STATUS_INSUFFICIENT_SIZE;
}

EXPORT rsmi_status_t rsmi_dev_unique_id_get(uint32_t dv, uint64_t *id)
{
    struct fake_dev *d;
    rsmi_status_t rc = enter(dv, &d);
    if (rc)
        return rc;
    if (!id)
        return RSMI_STATUS_INVALID_ARGS;
    *id = d->unique_id;
    return RSMI_STATUS_SUCCESS;
}

EXPORT rsmi_status_t rsmi_dev_id_get(uint32_t dv, uint16_t *id)
{
    struct fake_dev *d;
    rsmi_status_t rc = enter(dv, &d);
    if (rc)
        return rc;
    if (!id)
        return RSMI_STATUS_INVALID_ARGS;
    *id = (uint16_t)d->pci_device_id;
    return RSMI_STATUS_SUCCESS;
}

/* The counter's energy in J at t, with the scripted fault applied. */
static double counter_joules(const struct fake_dev *d, double t)
{
    double e = wave_energy(&d->wave, t);
    if (d->counter == FAKE_COUNTER_STICK && t > d->counter_fault_s)
        e = wave_energy(&d->wave, d->counter_fault_s);
    else if (d->counter == FAKE_COUNTER_BACKWARDS && t > d->counter_fault_s)
        e -= 50.0;
    return d->energy_offset_j + e;
}

EXPORT rsmi_status_t rsmi_dev_energy_count_get(uint32_t dv, uint64_t *count, float *resolution,
                                               uint64_t *timestamp)
{
    struct fake_dev *d;
    rsmi_status_t rc = enter(dv, &d);
    if (rc)
        return rc;
    if (!d->energy)
        return RSMI_STATUS_NOT_SUPPORTED;
    if (!count || !timestamp)
        return RSMI_STATUS_INVALID_ARGS;
    double t = now_s();
    *count = (uint64_t)floor(counter_joules(d, t) * 1e6 / (double)FAKE_RESOLUTION_UJ);
    if (resolution)
        *resolution = FAKE_RESOLUTION_UJ;
    *timestamp = (uint64_t)fake_mono_ns();
    return RSMI_STATUS_SUCCESS;
}

EXPORT rsmi_status_t rsmi_dev_power_ave_get(uint32_t dv, uint32_t sensor, uint64_t *uw)
{
    struct fake_dev *d;
    rsmi_status_t rc = enter(dv, &d);
    if (rc)
        return rc;
    if (sensor != 0 || !uw)
        return RSMI_STATUS_INVALID_ARGS;
    *uw = (uint64_t)llround(wave_avg_power(&d->wave, now_s(), 1.0) * 1e6);
    return RSMI_STATUS_SUCCESS;
}

#ifndef FAKE_ROCM_523
/* ROCm 6: the current socket power where the part has it, typed. */
EXPORT rsmi_status_t rsmi_dev_power_get(uint32_t dv, uint64_t *uw, uint32_t *type)
{
    struct fake_dev *d;
    rsmi_status_t rc = enter(dv, &d);
    if (rc)
        return rc;
    if (!uw || !type)
        return RSMI_STATUS_INVALID_ARGS;
    *uw = (uint64_t)llround(wave_power(&d->wave, now_s()) * 1e6);
    *type = 1; /* RSMI_CURRENT_POWER */
    return RSMI_STATUS_SUCCESS;
}
#endif

EXPORT rsmi_status_t rsmi_dev_temp_metric_get(uint32_t dv, uint32_t sensor, uint32_t metric,
                                              int64_t *milli_c)
{
    struct fake_dev *d;
    rsmi_status_t rc = enter(dv, &d);
    if (rc)
        return rc;
    if (!milli_c || metric != 0)
        return RSMI_STATUS_INVALID_ARGS;
    if (sensor == 1 && !S.cfg.temp_junction)
        return RSMI_STATUS_NOT_SUPPORTED;
    if (sensor > 1)
        return RSMI_STATUS_NOT_SUPPORTED;
    /* junction runs hotter than edge */
    *milli_c = (int64_t)llround((d->temp_c + (sensor == 1 ? 10 : 0)) * 1000);
    return RSMI_STATUS_SUCCESS;
}

EXPORT rsmi_status_t rsmi_dev_memory_total_get(uint32_t dv, uint32_t type, uint64_t *bytes)
{
    struct fake_dev *d;
    rsmi_status_t rc = enter(dv, &d);
    if (rc)
        return rc;
    if (!bytes || type > 2)
        return RSMI_STATUS_INVALID_ARGS;
    *bytes = (uint64_t)(d->mem_total_mb * 1048576.0);
    return RSMI_STATUS_SUCCESS;
}

EXPORT rsmi_status_t rsmi_dev_memory_usage_get(uint32_t dv, uint32_t type, uint64_t *bytes)
{
    struct fake_dev *d;
    rsmi_status_t rc = enter(dv, &d);
    if (rc)
        return rc;
    if (!bytes || type > 2)
        return RSMI_STATUS_INVALID_ARGS;
    *bytes = (uint64_t)(d->mem_used_mb * 1048576.0);
    return RSMI_STATUS_SUCCESS;
}

EXPORT rsmi_status_t rsmi_dev_busy_percent_get(uint32_t dv, uint32_t *pct)
{
    struct fake_dev *d;
    rsmi_status_t rc = enter(dv, &d);
    if (rc)
        return rc;
    if (!pct)
        return RSMI_STATUS_INVALID_ARGS;
    *pct = (uint32_t)d->util_pct;
    return RSMI_STATUS_SUCCESS;
}

EXPORT rsmi_status_t rsmi_dev_memory_busy_percent_get(uint32_t dv, uint32_t *pct)
{
    struct fake_dev *d;
    rsmi_status_t rc = enter(dv, &d);
    if (rc)
        return rc;
    if (!pct)
        return RSMI_STATUS_INVALID_ARGS;
    *pct = (uint32_t)d->mem_busy_pct;
    return RSMI_STATUS_SUCCESS;
}
