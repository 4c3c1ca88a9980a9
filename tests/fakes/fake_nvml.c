/* A fake libnvidia-ml.so: exports the real NVML symbol names with the real ABI and answers
 * from a script (fake_config.h), so that the nvidia collector is tested through its
 * production dlopen path. Power and energy come from a waveform in CLOCK_MONOTONIC time;
 * the energy counter is its exact integral in mJ. Checks callers the way NVML does (struct
 * version words, handles, buffer sizes).
 * Build variants: FAKE_NVML_LEGACY (a pre-2018 library: unversioned names only, no memory v2,
 * no field values, no GPM), FAKE_NVML_NO_COUNT (no nvmlDeviceGetCount at all). */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fake_config.h"

#define EXPORT __attribute__((visibility("default")))

/* The vendor side of the ABI, written from NVIDIA's API reference. */
typedef int nvmlReturn_t;
typedef struct fake_handle *nvmlDevice_t;
typedef struct fake_sample *nvmlGpmSample_t;
enum {
    NVML_SUCCESS = 0,
    NVML_ERROR_UNINITIALIZED = 1,
    NVML_ERROR_INVALID_ARGUMENT = 2,
    NVML_ERROR_NOT_SUPPORTED = 3,
    NVML_ERROR_NOT_FOUND = 6,
    NVML_ERROR_INSUFFICIENT_SIZE = 7,
    NVML_ERROR_DRIVER_NOT_LOADED = 9,
    NVML_ERROR_GPU_IS_LOST = 15,
    NVML_ERROR_ARGUMENT_VERSION_MISMATCH = 25,
    NVML_ERROR_UNKNOWN = 999
};
typedef struct {
    unsigned long long total, free, used;
} nvmlMemory_t;
typedef struct {
    unsigned int version;
    unsigned long long total, reserved, free, used;
} nvmlMemory_v2_t;
typedef struct {
    unsigned int gpu, memory;
} nvmlUtilization_t;
typedef struct {
    char busIdLegacy[16];
    unsigned int domain, bus, device, pciDeviceId, pciSubSystemId;
    char busId[32];
} nvmlPciInfo_t;
typedef union {
    double dVal;
    int siVal;
    unsigned int uiVal;
    unsigned long ulVal;
    unsigned long long ullVal;
    signed long long sllVal;
    unsigned short usVal;
} nvmlValue_t;
typedef struct {
    unsigned int fieldId, scopeId;
    long long timestamp, latencyUsec;
    int valueType;
    nvmlReturn_t nvmlReturn;
    nvmlValue_t value;
} nvmlFieldValue_t;
typedef struct {
    unsigned int metricId;
    nvmlReturn_t nvmlReturn;
    double value;
    struct {
        char *shortName, *longName, *unit;
    } metricInfo;
} nvmlGpmMetric_t;
#define FAKE_GPM_METRIC_MAX 98 /* CUDA 12's header: the smallest a caller may pass */
typedef struct {
    unsigned int version, numMetrics;
    nvmlGpmSample_t sample1, sample2;
    nvmlGpmMetric_t metrics[FAKE_GPM_METRIC_MAX];
} nvmlGpmMetricsGet_t;
typedef struct {
    unsigned int version, isSupportedDevice;
} nvmlGpmSupport_t;
_Static_assert(sizeof(nvmlMemory_v2_t) == 40, "nvmlMemory_v2_t");
_Static_assert(sizeof(nvmlFieldValue_t) == 40, "nvmlFieldValue_t");
_Static_assert(sizeof(nvmlGpmMetric_t) == 40, "nvmlGpmMetric_t");
_Static_assert(sizeof(nvmlPciInfo_t) == 68, "nvmlPciInfo_t");

struct fake_handle {
    unsigned index;
};
struct fake_sample {
    unsigned magic;
    int dev; /* -1 until taken */
    int64_t t_ns;
};
#define SAMPLE_MAGIC 0x67706d31u

static struct {
    int inits;
    struct fake_config cfg;
    int64_t epoch;
    long calls[FAKE_MAX_DEV];
    struct fake_handle handles[FAKE_MAX_DEV];
    struct fake_handle mig[FAKE_MAX_DEV]; /* MIG device handles: only their parent is asked */
} S;

static double now_s(void)
{
    return (double)(fake_mono_ns() - S.epoch) / 1e9;
}

/* Validates the handle, counts the call, and plays the scripted loss. */
static nvmlReturn_t enter(nvmlDevice_t h, struct fake_dev **out, unsigned *index)
{
    if (S.inits == 0)
        return NVML_ERROR_UNINITIALIZED;
    if (!h || h < S.handles || h >= S.handles + S.cfg.ndev)
        return NVML_ERROR_INVALID_ARGUMENT;
    unsigned i = h->index;
    long n = ++S.calls[i];
    struct fake_dev *d = &S.cfg.dev[i];
    if (d->lost_at > 0 && n >= d->lost_at && (d->lost_calls < 0 || n < d->lost_at + d->lost_calls))
        return NVML_ERROR_GPU_IS_LOST;
    *out = d;
    if (index)
        *index = i;
    return NVML_SUCCESS;
}

static nvmlReturn_t do_init(void)
{
    if (S.inits++ > 0)
        return NVML_SUCCESS;
    char err[512];
    if (fake_config_load(&S.cfg, 'n', "IPW_FAKE_NVML_CONFIG", err, sizeof err) != 0) {
        fprintf(stderr, "fake NVML: %s\n", err);
        S.inits = 0;
        return NVML_ERROR_UNKNOWN;
    }
    if (S.cfg.init_error) {
        S.inits = 0;
        return S.cfg.init_error;
    }
    S.epoch = S.cfg.epoch_set ? S.cfg.epoch_ns : fake_mono_ns();
    memset(S.calls, 0, sizeof S.calls);
    for (unsigned i = 0; i < FAKE_MAX_DEV; i++)
        S.handles[i].index = i;
    return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlInit(void)
{
    return do_init();
}

EXPORT nvmlReturn_t nvmlShutdown(void)
{
    if (S.inits == 0)
        return NVML_ERROR_UNINITIALIZED;
    S.inits--;
    return NVML_SUCCESS;
}

EXPORT const char *nvmlErrorString(nvmlReturn_t rc)
{
    switch (rc) {
    case NVML_SUCCESS: return "Success";
    case NVML_ERROR_UNINITIALIZED: return "Uninitialized";
    case NVML_ERROR_INVALID_ARGUMENT: return "Invalid Argument";
    case NVML_ERROR_NOT_SUPPORTED: return "Not Supported";
    case NVML_ERROR_INSUFFICIENT_SIZE: return "Insufficient Size";
    case 6 /* NVML_ERROR_NOT_FOUND */: return "Not Found";
    case NVML_ERROR_DRIVER_NOT_LOADED: return "Driver Not Loaded";
    case NVML_ERROR_GPU_IS_LOST: return "GPU is lost";
    case NVML_ERROR_ARGUMENT_VERSION_MISMATCH: return "Argument version mismatch";
    default: return "Unknown Error";
    }
}

#ifndef FAKE_NVML_NO_COUNT
EXPORT nvmlReturn_t nvmlDeviceGetCount(unsigned int *count)
{
    if (S.inits == 0)
        return NVML_ERROR_UNINITIALIZED;
    if (!count)
        return NVML_ERROR_INVALID_ARGUMENT;
    *count = S.cfg.ndev;
    return NVML_SUCCESS;
}
#endif

EXPORT nvmlReturn_t nvmlDeviceGetHandleByIndex(unsigned int index, nvmlDevice_t *h)
{
    if (S.inits == 0)
        return NVML_ERROR_UNINITIALIZED;
    if (!h || index >= S.cfg.ndev)
        return NVML_ERROR_INVALID_ARGUMENT;
    struct fake_dev *d;
    nvmlReturn_t rc = enter(&S.handles[index], &d, NULL);
    if (rc == NVML_SUCCESS)
        *h = &S.handles[index];
    return rc;
}

EXPORT nvmlReturn_t nvmlDeviceGetHandleByUUID(const char *uuid, nvmlDevice_t *h)
{
    if (S.inits == 0)
        return NVML_ERROR_UNINITIALIZED;
    if (!uuid || !h)
        return NVML_ERROR_INVALID_ARGUMENT;
    for (unsigned i = 0; i < S.cfg.ndev; i++) {
        if (strcmp(S.cfg.dev[i].uuid, uuid) == 0)
            return nvmlDeviceGetHandleByIndex(i, h);
        if (S.cfg.dev[i].mig_uuid[0] && strcmp(S.cfg.dev[i].mig_uuid, uuid) == 0) {
            S.mig[i].index = i;
            *h = &S.mig[i];
            return NVML_SUCCESS;
        }
    }
    return NVML_ERROR_NOT_FOUND;
}

/* As the real one: the parent of a MIG device handle; a GPU handle is INVALID_ARGUMENT. */
EXPORT nvmlReturn_t nvmlDeviceGetDeviceHandleFromMigDeviceHandle(nvmlDevice_t mig,
                                                                 nvmlDevice_t *parent)
{
    if (S.inits == 0)
        return NVML_ERROR_UNINITIALIZED;
    if (!mig || !parent || mig < S.mig || mig >= S.mig + S.cfg.ndev)
        return NVML_ERROR_INVALID_ARGUMENT;
    *parent = &S.handles[mig->index];
    return NVML_SUCCESS;
}

static nvmlReturn_t copy_str(const char *s, char *buf, unsigned int len)
{
    if (!buf)
        return NVML_ERROR_INVALID_ARGUMENT;
    if (strlen(s) + 1 > len)
        return NVML_ERROR_INSUFFICIENT_SIZE;
    memcpy(buf, s, strlen(s) + 1);
    return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlDeviceGetName(nvmlDevice_t h, char *buf, unsigned int len)
{
    struct fake_dev *d;
    nvmlReturn_t rc = enter(h, &d, NULL);
    return rc ? rc : copy_str(d->name, buf, len);
}

EXPORT nvmlReturn_t nvmlDeviceGetUUID(nvmlDevice_t h, char *buf, unsigned int len)
{
    struct fake_dev *d;
    nvmlReturn_t rc = enter(h, &d, NULL);
    return rc ? rc : copy_str(d->uuid, buf, len);
}

static nvmlReturn_t pci_info(nvmlDevice_t h, nvmlPciInfo_t *p)
{
    struct fake_dev *d;
    unsigned i;
    nvmlReturn_t rc = enter(h, &d, &i);
    if (rc)
        return rc;
    if (!p)
        return NVML_ERROR_INVALID_ARGUMENT;
    memset(p, 0, sizeof *p);
    p->bus = 0x18 + i;
    p->pciDeviceId = (d->pci_device_id << 16) | 0x10de;
    p->pciSubSystemId = 0x16c110de;
    snprintf(p->busId, sizeof p->busId, "00000000:%02X:00.0", p->bus);
    snprintf(p->busIdLegacy, sizeof p->busIdLegacy, "0000:%02X:00.0", p->bus);
    return NVML_SUCCESS;
}

#ifdef FAKE_NVML_LEGACY
EXPORT nvmlReturn_t nvmlDeviceGetPciInfo(nvmlDevice_t h, nvmlPciInfo_t *p)
{
    return pci_info(h, p);
}
#else
EXPORT nvmlReturn_t nvmlInit_v2(void)
{
    return do_init();
}
#ifndef FAKE_NVML_NO_COUNT
EXPORT nvmlReturn_t nvmlDeviceGetCount_v2(unsigned int *count)
{
    return nvmlDeviceGetCount(count);
}
#endif
EXPORT nvmlReturn_t nvmlDeviceGetHandleByIndex_v2(unsigned int index, nvmlDevice_t *h)
{
    return nvmlDeviceGetHandleByIndex(index, h);
}
EXPORT nvmlReturn_t nvmlDeviceGetPciInfo_v3(nvmlDevice_t h, nvmlPciInfo_t *p)
{
    return pci_info(h, p);
}
#endif

EXPORT nvmlReturn_t nvmlDeviceGetTotalEnergyConsumption(nvmlDevice_t h, unsigned long long *mj)
{
    struct fake_dev *d;
    nvmlReturn_t rc = enter(h, &d, NULL);
    if (rc)
        return rc;
    if (!d->energy)
        return NVML_ERROR_NOT_SUPPORTED;
    if (!mj)
        return NVML_ERROR_INVALID_ARGUMENT;
    *mj = (unsigned long long)floor((d->energy_offset_j + wave_energy(&d->wave, now_s())) * 1e3);
    return NVML_SUCCESS;
}

/* Like Hopper: GetPowerUsage is the mean of the last second, not the present power. */
EXPORT nvmlReturn_t nvmlDeviceGetPowerUsage(nvmlDevice_t h, unsigned int *mw)
{
    struct fake_dev *d;
    nvmlReturn_t rc = enter(h, &d, NULL);
    if (rc)
        return rc;
    if (!mw)
        return NVML_ERROR_INVALID_ARGUMENT;
    *mw = (unsigned int)lround(wave_avg_power(&d->wave, now_s(), 1.0) * 1e3);
    return NVML_SUCCESS;
}

#ifndef FAKE_NVML_LEGACY
EXPORT nvmlReturn_t nvmlDeviceGetFieldValues(nvmlDevice_t h, int n, nvmlFieldValue_t *v)
{
    struct fake_dev *d;
    nvmlReturn_t rc = enter(h, &d, NULL);
    if (rc)
        return rc;
    if (n <= 0 || !v)
        return NVML_ERROR_INVALID_ARGUMENT;
    int64_t now = fake_mono_ns();
    for (int k = 0; k < n; k++) {
        v[k].timestamp = now / 1000;
        v[k].latencyUsec = 0;
        bool on =
            S.cfg.field186 && (S.cfg.field186_until_s <= 0 || now_s() < S.cfg.field186_until_s);
        if (v[k].fieldId == 186 && v[k].scopeId == 0 && on) {
            v[k].valueType = 1; /* unsigned int, mW */
            v[k].value.uiVal = (unsigned int)lround(wave_power(&d->wave, now_s()) * 1e3);
            v[k].nvmlReturn = NVML_SUCCESS;
        } else {
            v[k].nvmlReturn = NVML_ERROR_NOT_SUPPORTED;
        }
    }
    return NVML_SUCCESS;
}
#endif

EXPORT nvmlReturn_t nvmlDeviceGetTemperature(nvmlDevice_t h, int sensor, unsigned int *c)
{
    struct fake_dev *d;
    nvmlReturn_t rc = enter(h, &d, NULL);
    if (rc)
        return rc;
    if (sensor != 0 || !c)
        return NVML_ERROR_INVALID_ARGUMENT;
    *c = (unsigned int)d->temp_c;
    return NVML_SUCCESS;
}

#define MIB 1048576ULL
EXPORT nvmlReturn_t nvmlDeviceGetMemoryInfo(nvmlDevice_t h, nvmlMemory_t *m)
{
    struct fake_dev *d;
    nvmlReturn_t rc = enter(h, &d, NULL);
    if (rc)
        return rc;
    if (!m)
        return NVML_ERROR_INVALID_ARGUMENT;
    /* v1 counts the driver's reservation as used */
    m->total = (unsigned long long)d->mem_total_mb * MIB;
    m->used = (unsigned long long)(d->mem_used_mb + 512) * MIB;
    m->free = m->total - m->used;
    return NVML_SUCCESS;
}

#ifndef FAKE_NVML_LEGACY
EXPORT nvmlReturn_t nvmlDeviceGetMemoryInfo_v2(nvmlDevice_t h, nvmlMemory_v2_t *m)
{
    struct fake_dev *d;
    nvmlReturn_t rc = enter(h, &d, NULL);
    if (rc)
        return rc;
    if (!S.cfg.memory_v2)
        return NVML_ERROR_NOT_SUPPORTED;
    if (!m)
        return NVML_ERROR_INVALID_ARGUMENT;
    if (m->version != (unsigned)(sizeof(nvmlMemory_v2_t) | (2u << 24)))
        return NVML_ERROR_ARGUMENT_VERSION_MISMATCH;
    m->total = (unsigned long long)d->mem_total_mb * MIB;
    m->reserved = 512 * MIB;
    m->used = (unsigned long long)d->mem_used_mb * MIB;
    m->free = m->total - m->used - m->reserved;
    return NVML_SUCCESS;
}
#endif

EXPORT nvmlReturn_t nvmlDeviceGetUtilizationRates(nvmlDevice_t h, nvmlUtilization_t *u)
{
    struct fake_dev *d;
    nvmlReturn_t rc = enter(h, &d, NULL);
    if (rc)
        return rc;
    if (!u)
        return NVML_ERROR_INVALID_ARGUMENT;
    u->gpu = (unsigned int)d->util_pct;
    u->memory = (unsigned int)d->mem_busy_pct;
    return NVML_SUCCESS;
}

typedef struct {
    unsigned int pid;
    unsigned long long timeStamp;
    unsigned int smUtil, memUtil, encUtil, decUtil;
} nvmlProcessUtilizationSample_t;

/* One sample per configured process, stamped now (µs of CLOCK_REALTIME, as NVML's are);
 * NOT_FOUND when none is newer than lastSeen, INSUFFICIENT_SIZE with the count when the
 * buffer is NULL or small, as the real call does. */
EXPORT nvmlReturn_t nvmlDeviceGetProcessUtilization(nvmlDevice_t h,
                                                    nvmlProcessUtilizationSample_t *v,
                                                    unsigned int *count,
                                                    unsigned long long lastSeen)
{
    struct fake_dev *d;
    nvmlReturn_t rc = enter(h, &d, NULL);
    if (rc)
        return rc;
    if (!count)
        return NVML_ERROR_INVALID_ARGUMENT;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    unsigned long long now = (unsigned long long)ts.tv_sec * 1000000ull +
                             (unsigned long long)ts.tv_nsec / 1000;
    if (d->nproc == 0 || now <= lastSeen) {
        *count = 0;
        return NVML_ERROR_NOT_FOUND;
    }
    if (!v || *count < (unsigned)d->nproc) {
        *count = (unsigned)d->nproc;
        return NVML_ERROR_INSUFFICIENT_SIZE;
    }
    for (int i = 0; i < d->nproc; i++) {
        memset(&v[i], 0, sizeof v[i]);
        v[i].pid = (unsigned)d->proc_pid[i];
        v[i].timeStamp = now;
        v[i].smUtil = d->proc_sm[i];
    }
    *count = (unsigned)d->nproc;
    return NVML_SUCCESS;
}

#ifndef FAKE_NVML_LEGACY
EXPORT nvmlReturn_t nvmlGpmQueryDeviceSupport(nvmlDevice_t h, nvmlGpmSupport_t *s)
{
    struct fake_dev *d;
    nvmlReturn_t rc = enter(h, &d, NULL);
    if (rc)
        return rc;
    if (!s)
        return NVML_ERROR_INVALID_ARGUMENT;
    if (s->version != 1)
        return NVML_ERROR_ARGUMENT_VERSION_MISMATCH;
    s->isSupportedDevice = S.cfg.gpm;
    return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlGpmSampleAlloc(nvmlGpmSample_t *s)
{
    if (!s)
        return NVML_ERROR_INVALID_ARGUMENT;
    struct fake_sample *p = malloc(sizeof *p);
    if (!p)
        return 20; /* NVML_ERROR_MEMORY */
    p->magic = SAMPLE_MAGIC;
    p->dev = -1;
    p->t_ns = 0;
    *s = p;
    return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlGpmSampleFree(nvmlGpmSample_t s)
{
    if (!s || s->magic != SAMPLE_MAGIC)
        return NVML_ERROR_INVALID_ARGUMENT;
    s->magic = 0;
    free(s);
    return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlGpmSampleGet(nvmlDevice_t h, nvmlGpmSample_t s)
{
    struct fake_dev *d;
    unsigned i;
    nvmlReturn_t rc = enter(h, &d, &i);
    if (rc)
        return rc;
    if (!s || s->magic != SAMPLE_MAGIC)
        return NVML_ERROR_INVALID_ARGUMENT;
    if (!S.cfg.gpm)
        return NVML_ERROR_NOT_SUPPORTED;
    s->dev = (int)i;
    s->t_ns = fake_mono_ns();
    return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlGpmMetricsGet(nvmlGpmMetricsGet_t *q)
{
    if (S.inits == 0)
        return NVML_ERROR_UNINITIALIZED;
    if (!q)
        return NVML_ERROR_INVALID_ARGUMENT;
    if (q->version != 1)
        return NVML_ERROR_ARGUMENT_VERSION_MISMATCH;
    const struct fake_sample *a = q->sample1, *b = q->sample2;
    if (q->numMetrics == 0 || q->numMetrics > FAKE_GPM_METRIC_MAX || !a || !b ||
        a->magic != SAMPLE_MAGIC || b->magic != SAMPLE_MAGIC || a->dev < 0 || a->dev != b->dev ||
        b->t_ns <= a->t_ns)
        return NVML_ERROR_INVALID_ARGUMENT;
    const struct fake_dev *d = &S.cfg.dev[a->dev];
    for (unsigned k = 0; k < q->numMetrics; k++) {
        nvmlGpmMetric_t *m = &q->metrics[k];
        m->nvmlReturn = NVML_SUCCESS;
        if (m->metricId == 10)
            m->value = d->gpm_dram;
        else if (m->metricId == 5)
            m->value = d->gpm_tensor;
        else
            m->nvmlReturn = NVML_ERROR_NOT_SUPPORTED;
    }
    return NVML_SUCCESS;
}
#endif
