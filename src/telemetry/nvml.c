/* The nvidia collector: NVML loaded at run time, one or more GPUs read each tick and summed
 * (SPEC §1.2). Everything that can be decided once (which power source, which memory call,
 * counter or integration, GPM) is decided at open; a tick only reads. A failing GPU makes that
 * tick's values unavailable and the collector retries on the next one; it never gives up.
 * One file for one vendor library, as each collector is (nvtop's model): the symbol table,
 * open-time decisions and the tick read the same private state. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dynlib.h"
#include "gpu_common.h"
#include "gpu_select.h"
#include "ipw/clock.h"
#include "ipw/collector.h"
#include "telemetry/collector_priv.h"
#include "ipw/log.h"
#include "nvml_api.h"

#define NV_GPM_MIN_NS (100 * IPW_NS_PER_MS) /* GPM needs samples at least this far apart */
#define NV_GIVE_UP 3 /* consecutive failures before a preferred call is abandoned for good */
#define MIB (1024.0 * 1024.0)

enum nv_power { NV_POWER_NONE, NV_POWER_FIELD, NV_POWER_USAGE };
enum nv_mem { NV_MEM_NONE, NV_MEM_V2, NV_MEM_V1 };

struct nv_dev {
    unsigned slot; /* position in info.dev[] */
    nvmlDevice_t h;
    bool lost;
    enum nv_power power;
    unsigned field_failures;
    bool counter; /* energy from the hardware counter; else integrated from power */
    unsigned long long mj0, mj_last;
    double e_base_j;
    struct ipw_integrator integ;
    bool has_temp, has_util;
    enum nv_mem mem;
    bool gpm, gpm_primed, gpm_valid;
    nvmlGpmSample_t gpm_s[2];
    int gpm_cur;
    int64_t gpm_t;
    unsigned gpm_failures;
    double gpm_bw, gpm_tensor;
};

struct nv {
    void *lib;
    char libpath[256];
    struct nvml_api api;
    bool inited;
    unsigned ndev;
    struct nv_dev dev[IPW_MAX_DEVICES];
    nvmlGpmMetricsGet_t gpm_req; /* 13 kB: lives here, never on a stack */
};

#define SYM(n1, n2, n3, member, req)                                                               \
    {                                                                                              \
        {n1, n2, n3}, offsetof(struct nvml_api, member), req                                       \
    }
static const struct ipw_dynsym nv_syms[] = {
    SYM("nvmlInit_v2", "nvmlInit", NULL, Init, true),
    SYM("nvmlShutdown", NULL, NULL, Shutdown, true),
    SYM("nvmlErrorString", NULL, NULL, ErrorString, false),
    SYM("nvmlDeviceGetCount_v2", "nvmlDeviceGetCount", NULL, DeviceGetCount, true),
    SYM("nvmlDeviceGetHandleByIndex_v2", "nvmlDeviceGetHandleByIndex", NULL, DeviceGetHandleByIndex,
        true),
    SYM("nvmlDeviceGetHandleByUUID", NULL, NULL, DeviceGetHandleByUUID, false),
    SYM("nvmlDeviceGetName", NULL, NULL, DeviceGetName, false),
    SYM("nvmlDeviceGetUUID", NULL, NULL, DeviceGetUUID, false),
    SYM("nvmlDeviceGetDeviceHandleFromMigDeviceHandle", NULL, NULL,
        DeviceGetDeviceHandleFromMigDeviceHandle, false),
    SYM("nvmlDeviceGetPciInfo_v3", "nvmlDeviceGetPciInfo_v2", "nvmlDeviceGetPciInfo",
        DeviceGetPciInfo, false),
    SYM("nvmlDeviceGetTotalEnergyConsumption", NULL, NULL, DeviceGetTotalEnergyConsumption, false),
    SYM("nvmlDeviceGetPowerUsage", NULL, NULL, DeviceGetPowerUsage, false),
    SYM("nvmlDeviceGetFieldValues", NULL, NULL, DeviceGetFieldValues, false),
    SYM("nvmlDeviceGetTemperature", NULL, NULL, DeviceGetTemperature, false),
    SYM("nvmlDeviceGetMemoryInfo_v2", NULL, NULL, DeviceGetMemoryInfo_v2, false),
    SYM("nvmlDeviceGetMemoryInfo", NULL, NULL, DeviceGetMemoryInfo, false),
    SYM("nvmlDeviceGetUtilizationRates", NULL, NULL, DeviceGetUtilizationRates, false),
    SYM("nvmlDeviceGetProcessUtilization", NULL, NULL, DeviceGetProcessUtilization, false),
    SYM("nvmlGpmQueryDeviceSupport", NULL, NULL, GpmQueryDeviceSupport, false),
    SYM("nvmlGpmSampleAlloc", NULL, NULL, GpmSampleAlloc, false),
    SYM("nvmlGpmSampleFree", NULL, NULL, GpmSampleFree, false),
    SYM("nvmlGpmSampleGet", NULL, NULL, GpmSampleGet, false),
    SYM("nvmlGpmMetricsGet", NULL, NULL, GpmMetricsGet, false),
};
#undef SYM

static const char *nv_str(const struct nv *nv, nvmlReturn_t rc)
{
    const char *s = nv->api.ErrorString ? nv->api.ErrorString(rc) : NULL;
    if (s && *s)
        return s;
    switch (rc) {
    case NVML_ERROR_UNINITIALIZED: return "Uninitialized";
    case NVML_ERROR_NOT_SUPPORTED: return "Not Supported";
    case NVML_ERROR_NO_PERMISSION: return "Insufficient Permissions";
    case NVML_ERROR_DRIVER_NOT_LOADED: return "Driver Not Loaded";
    case NVML_ERROR_GPU_IS_LOST: return "GPU is lost";
    case NVML_ERROR_LIB_RM_VERSION_MISMATCH: return "RM has detected an NVML/RM version mismatch";
    default: return "NVML error";
    }
}

/* What to do about an nvmlInit failure, by code. */
static const char *init_hint(nvmlReturn_t rc)
{
    switch (rc) {
    case NVML_ERROR_DRIVER_NOT_LOADED:
        return "load the NVIDIA kernel driver (modprobe nvidia) or check nvidia-smi";
    case NVML_ERROR_NO_PERMISSION:
        return "the user cannot open /dev/nvidia*: add it to the video group or run as root";
    case NVML_ERROR_LIB_RM_VERSION_MISMATCH:
        return "the library and the kernel driver differ in version: reboot or reload the driver";
    case NVML_ERROR_LIBRARY_NOT_FOUND:
        return "the driver's user-space libraries are incomplete: reinstall the driver";
    default: return "check that nvidia-smi works";
    }
}

static const char *dev_uuid(const struct ipw_collector *c, const struct nv_dev *d)
{
    return c->info.dev[d->slot].uuid;
}

/* True when rc is success; otherwise records the failure (and the loss) for this tick. */
static bool nv_ok(struct ipw_collector *c, struct nv_dev *d, nvmlReturn_t rc, const char *fn,
                  struct ipw_tick_err *te)
{
    if (rc == NVML_SUCCESS)
        return true;
    struct nv *nv = c->priv;
    unsigned idx = c->info.dev[d->slot].index;
    if (rc == NVML_ERROR_GPU_IS_LOST) {
        d->lost = true;
        ipw_tick_fail(te, IPW_E_LOST,
                      "NVML: GPU %u (%s) is lost (%s: %s); its values are unavailable and the "
                      "collector will retry each tick; check nvidia-smi and the kernel log for Xid "
                      "errors",
                      idx, dev_uuid(c, d), fn, nv_str(nv, rc));
    } else {
        ipw_tick_fail(te, IPW_E_IO,
                      "NVML: GPU %u (%s): %s failed: %s; that value is unavailable this tick and "
                      "will be retried",
                      idx, dev_uuid(c, d), fn, nv_str(nv, rc));
    }
    return false;
}

static bool field_to_double(const nvmlFieldValue_t *fv, double *out)
{
    switch (fv->valueType) {
    case NVML_VALUE_TYPE_DOUBLE: *out = fv->value.dVal; return true;
    case NVML_VALUE_TYPE_UNSIGNED_INT: *out = fv->value.uiVal; return true;
    case NVML_VALUE_TYPE_UNSIGNED_LONG: *out = (double)fv->value.ulVal; return true;
    case NVML_VALUE_TYPE_UNSIGNED_LONG_LONG: *out = (double)fv->value.ullVal; return true;
    case NVML_VALUE_TYPE_SIGNED_LONG_LONG: *out = (double)fv->value.sllVal; return true;
    case NVML_VALUE_TYPE_SIGNED_INT: *out = fv->value.siVal; return true;
    case NVML_VALUE_TYPE_UNSIGNED_SHORT: *out = fv->value.usVal; return true;
    }
    return false;
}

/* Instant power (field 186) in mW; *rc_out is the call's or the entry's own result. */
static bool read_field_power(struct nv *nv, nvmlDevice_t h, double *mw, nvmlReturn_t *rc_out)
{
    nvmlFieldValue_t fv;
    memset(&fv, 0, sizeof fv);
    fv.fieldId = NVML_FI_DEV_POWER_INSTANT;
    fv.scopeId = 0;
    nvmlReturn_t rc = nv->api.DeviceGetFieldValues(h, 1, &fv);
    if (rc == NVML_SUCCESS)
        rc = fv.nvmlReturn;
    if (rc == NVML_SUCCESS && !field_to_double(&fv, mw))
        rc = NVML_ERROR_UNKNOWN;
    *rc_out = rc;
    return rc == NVML_SUCCESS;
}

/* ---- GPM (Hopper and newer): DRAM bandwidth and tensor utilization between two samples ------ */

static void gpm_free(struct nv *nv, struct nv_dev *d)
{
    for (int k = 0; k < 2; k++) {
        if (d->gpm_s[k] && nv->api.GpmSampleFree)
            nv->api.GpmSampleFree(d->gpm_s[k]);
        d->gpm_s[k] = NULL;
    }
    d->gpm = false;
}

static bool gpm_open(struct nv *nv, struct nv_dev *d, int64_t now)
{
    const struct nvml_api *a = &nv->api;
    if (!a->GpmQueryDeviceSupport || !a->GpmSampleAlloc || !a->GpmSampleFree || !a->GpmSampleGet ||
        !a->GpmMetricsGet)
        return false;
    nvmlGpmSupport_t sup = {.version = NVML_GPM_SUPPORT_VERSION, .isSupportedDevice = 0};
    if (a->GpmQueryDeviceSupport(d->h, &sup) != NVML_SUCCESS || !sup.isSupportedDevice)
        return false;
    d->gpm = true;
    if (a->GpmSampleAlloc(&d->gpm_s[0]) != NVML_SUCCESS ||
        a->GpmSampleAlloc(&d->gpm_s[1]) != NVML_SUCCESS ||
        a->GpmSampleGet(d->h, d->gpm_s[0]) != NVML_SUCCESS) {
        gpm_free(nv, d);
        return false;
    }
    d->gpm_cur = 0;
    d->gpm_t = now;
    d->gpm_primed = true;
    return true;
}

/* Take a new GPM sample when the last is at least 100 ms old and compute the metrics between
 * the two; between those moments the cached values stand, so a 50 ms tick stays cheap. */
static void gpm_tick(struct ipw_collector *c, struct nv_dev *d, int64_t t, struct ipw_tick_err *te)
{
    struct nv *nv = c->priv;
    if (d->gpm_primed && t - d->gpm_t < NV_GPM_MIN_NS)
        return;
    nvmlGpmSample_t next = d->gpm_s[d->gpm_cur ^ 1];
    nvmlReturn_t rc = nv->api.GpmSampleGet(d->h, next);
    if (rc == NVML_SUCCESS && d->gpm_primed) {
        nvmlGpmMetricsGet_t *q = &nv->gpm_req;
        q->version = NVML_GPM_METRICS_GET_VERSION;
        q->numMetrics = 2;
        q->sample1 = d->gpm_s[d->gpm_cur];
        q->sample2 = next;
        memset(q->metrics, 0, 2 * sizeof q->metrics[0]);
        q->metrics[0].metricId = NVML_GPM_METRIC_DRAM_BW_UTIL;
        q->metrics[1].metricId = NVML_GPM_METRIC_ANY_TENSOR_UTIL;
        rc = nv->api.GpmMetricsGet(q);
        if (rc == NVML_SUCCESS && q->metrics[0].nvmlReturn != NVML_SUCCESS)
            rc = q->metrics[0].nvmlReturn;
        if (rc == NVML_SUCCESS && q->metrics[1].nvmlReturn != NVML_SUCCESS)
            rc = q->metrics[1].nvmlReturn;
        if (rc == NVML_SUCCESS) {
            d->gpm_bw = q->metrics[0].value;
            d->gpm_tensor = q->metrics[1].value;
        }
    }
    if (rc == NVML_SUCCESS) {
        d->gpm_valid = d->gpm_primed;
        d->gpm_primed = true;
        d->gpm_cur ^= 1;
        d->gpm_t = t;
        d->gpm_failures = 0;
        return;
    }
    d->gpm_valid = false;
    d->gpm_primed = false;
    nv_ok(c, d, rc, "GPM metrics", te);
    if (!d->lost && ++d->gpm_failures >= NV_GIVE_UP) {
        ipw_warn("NVML: GPM keeps failing on GPU %u (%s); memory-bandwidth and tensor "
                 "utilization are off for this GPU from now on",
                 c->info.dev[d->slot].index, nv_str(nv, rc));
        gpm_free(nv, d);
    }
}

/* ---- one device, one tick ---------------------------------------------------------------- */

struct dev_extra {
    uint8_t power_source;
    bool integrated;
    bool gpm_valid;
    double gpm_bw, gpm_tensor;
};

static void read_power(struct ipw_collector *c, struct nv_dev *d, double *w, bool *ok,
                       struct dev_extra *x, struct ipw_tick_err *te)
{
    struct nv *nv = c->priv;
    double mw;
    if (d->power == NV_POWER_FIELD) {
        nvmlReturn_t rc;
        if (read_field_power(nv, d->h, &mw, &rc)) {
            d->field_failures = 0;
            *w = mw / 1000.0;
            *ok = true;
            x->power_source = IPW_POWER_INSTANT;
            return;
        }
        if (rc == NVML_ERROR_GPU_IS_LOST || !nv->api.DeviceGetPowerUsage) {
            nv_ok(c, d, rc, "nvmlDeviceGetFieldValues(POWER_INSTANT)", te);
            return;
        }
        if (++d->field_failures >= NV_GIVE_UP) {
            ipw_warn("NVML: instant power of GPU %u keeps failing (%s); using "
                     "nvmlDeviceGetPowerUsage from now on",
                     c->info.dev[d->slot].index, nv_str(nv, rc));
            d->power = NV_POWER_USAGE;
        }
    }
    if (d->power == NV_POWER_NONE)
        return;
    unsigned int umw;
    if (nv_ok(c, d, nv->api.DeviceGetPowerUsage(d->h, &umw), "nvmlDeviceGetPowerUsage", te)) {
        *w = umw / 1000.0;
        *ok = true;
        x->power_source = IPW_POWER_AVERAGE;
    }
}

static void read_energy(struct ipw_collector *c, struct nv_dev *d, int64_t t, double w, bool have_w,
                        struct ipw_device_reading *dr, struct dev_extra *x, struct ipw_tick_err *te)
{
    struct nv *nv = c->priv;
    if (!d->counter) {
        if (have_w) {
            ipw_device_set(dr, IPW_DF_ENERGY_J, ipw_integrator_add(&d->integ, t, w));
            x->integrated = true;
        }
        return;
    }
    unsigned long long mj;
    if (!nv_ok(c, d, nv->api.DeviceGetTotalEnergyConsumption(d->h, &mj),
               "nvmlDeviceGetTotalEnergyConsumption", te))
        return;
    if (mj < d->mj_last) {
        /* The counter restarted (driver reload after a GPU reset). Continue from the last value
         * so energy stays monotonic; the part since the restart is unknown and left out. */
        ipw_warn("NVML: energy counter of GPU %u went backwards (%llu -> %llu mJ); "
                 "continuing from the last value",
                 c->info.dev[d->slot].index, d->mj_last, mj);
        d->e_base_j += (double)(d->mj_last - d->mj0) / 1000.0;
        d->mj0 = mj;
    }
    d->mj_last = mj;
    ipw_device_set(dr, IPW_DF_ENERGY_J, d->e_base_j + (double)(mj - d->mj0) / 1000.0);
}

static void read_memory(struct ipw_collector *c, struct nv_dev *d, struct ipw_device_reading *dr,
                        struct ipw_tick_err *te)
{
    struct nv *nv = c->priv;
    if (d->mem == NV_MEM_V2) {
        nvmlMemory_v2_t m;
        memset(&m, 0, sizeof m);
        m.version = NVML_MEMORY_V2_VERSION;
        nvmlReturn_t rc = nv->api.DeviceGetMemoryInfo_v2(d->h, &m);
        if (rc == NVML_SUCCESS) {
            ipw_device_set(dr, IPW_DF_MEM_USED_MB, (double)m.used / MIB);
            ipw_device_set(dr, IPW_DF_MEM_TOTAL_MB, (double)m.total / MIB);
            return;
        }
        if (rc == NVML_ERROR_GPU_IS_LOST || !nv->api.DeviceGetMemoryInfo) {
            nv_ok(c, d, rc, "nvmlDeviceGetMemoryInfo_v2", te);
            return;
        }
        d->mem = NV_MEM_V1; /* v2 stopped working: the v1 call is as good for used/total */
    }
    if (d->mem == NV_MEM_V1) {
        nvmlMemory_t m;
        if (nv_ok(c, d, nv->api.DeviceGetMemoryInfo(d->h, &m), "nvmlDeviceGetMemoryInfo", te)) {
            ipw_device_set(dr, IPW_DF_MEM_USED_MB, (double)m.used / MIB);
            ipw_device_set(dr, IPW_DF_MEM_TOTAL_MB, (double)m.total / MIB);
        }
    }
}

static void read_dev(struct ipw_collector *c, struct nv_dev *d, int64_t t,
                     struct ipw_device_reading *dr, struct dev_extra *x, struct ipw_tick_err *te)
{
    struct nv *nv = c->priv;
    double w = 0;
    bool have_w = false;
    read_power(c, d, &w, &have_w, x, te);
    if (have_w)
        ipw_device_set(dr, IPW_DF_POWER_W, w);
    if (!d->lost)
        read_energy(c, d, t, w, have_w, dr, x, te);
    unsigned int v;
    if (!d->lost && d->has_temp &&
        nv_ok(c, d, nv->api.DeviceGetTemperature(d->h, NVML_TEMPERATURE_GPU, &v),
              "nvmlDeviceGetTemperature", te))
        ipw_device_set(dr, IPW_DF_TEMPERATURE_C, v);
    if (!d->lost)
        read_memory(c, d, dr, te);
    nvmlUtilization_t u;
    if (!d->lost && d->has_util &&
        nv_ok(c, d, nv->api.DeviceGetUtilizationRates(d->h, &u), "nvmlDeviceGetUtilizationRates",
              te))
        ipw_device_set(dr, IPW_DF_UTIL_PCT, u.gpu);
    if (!d->lost && d->gpm)
        gpm_tick(c, d, t, te);
    if (d->lost) {
        /* a lost GPU's partial reads from this tick are not trusted */
        dr->valid = 0;
        memset(x, 0, sizeof *x);
        d->gpm_valid = false;
        d->gpm_primed = false;
        return;
    }
    x->gpm_valid = d->gpm && d->gpm_valid;
    x->gpm_bw = d->gpm_bw;
    x->gpm_tensor = d->gpm_tensor;
}

/* A lost GPU may come back (after a reset): look its handle up again by UUID, which survives
 * re-enumeration, else by index. */
static bool refetch(struct ipw_collector *c, struct nv_dev *d, struct ipw_tick_err *te)
{
    struct nv *nv = c->priv;
    const struct ipw_device_info *info = &c->info.dev[d->slot];
    nvmlDevice_t h = NULL;
    nvmlReturn_t rc = nv->api.DeviceGetHandleByUUID && info->uuid[0]
                          ? nv->api.DeviceGetHandleByUUID(info->uuid, &h)
                          : nv->api.DeviceGetHandleByIndex(info->index, &h);
    if (rc != NVML_SUCCESS) {
        ipw_tick_fail(
            te, IPW_E_LOST,
            "NVML: GPU %u (%s) is still lost (%s); its values are unavailable and the "
            "collector keeps retrying; a GPU reset (nvidia-smi -r) or reboot may be needed",
            info->index, info->uuid, nv_str(nv, rc));
        return false;
    }
    d->h = h;
    d->lost = false;
    d->gpm_primed = false;
    d->gpm_valid = false;
    return true;
}

static ipw_err nv_sample(struct ipw_collector *c, struct ipw_reading *r,
                         struct ipw_device_reading *dev, ipw_errbuf *eb)
{
    struct nv *nv = c->priv;
    struct ipw_tick_err te = {.code = IPW_OK};
    int64_t t = r->mono_ns;
    struct ipw_gpu_sum gs = {0};
    double bw = 0, tensor = 0;
    unsigned ngpm = 0;
    for (unsigned i = 0; i < nv->ndev; i++) {
        struct nv_dev *d = &nv->dev[i];
        struct ipw_device_reading scratch, *dr = dev ? &dev[i] : &scratch;
        memset(dr, 0, sizeof *dr);
        struct dev_extra x = {0};
        if (d->lost && !refetch(c, d, &te))
            continue;
        read_dev(c, d, t, dr, &x, &te);
        ipw_gpu_sum_add(&gs, dr, x.power_source == IPW_POWER_AVERAGE, x.integrated);
        if (x.gpm_valid) {
            bw += x.gpm_bw;
            tensor += x.gpm_tensor;
            ngpm++;
        }
    }
    unsigned all = nv->ndev;
    ipw_gpu_sum_finish(&gs, all, r);
    if (ngpm == all) {
        ipw_reading_set(r, IPW_M_GPU_MEMBW_UTIL_PCT, bw / all);
        ipw_reading_set(r, IPW_M_GPU_TENSOR_UTIL_PCT, tensor / all);
    }
    return ipw_tick_result(&te, eb);
}

/* ---- open --------------------------------------------------------------------------------- */

struct open_notes {
    struct ipw_devlist integrated, avg_power, no_power, mem_v1, no_gpm;
};

/* Decide, once, how each value of one device is read. */
static void probe_dev(struct ipw_collector *c, struct nv_dev *d, int64_t now, struct open_notes *on)
{
    struct nv *nv = c->priv;
    const struct nvml_api *a = &nv->api;
    struct ipw_device_info *info = &c->info.dev[d->slot];
    nvmlReturn_t rc = NVML_ERROR_FUNCTION_NOT_FOUND;
    double mw;
    if (a->DeviceGetFieldValues && read_field_power(nv, d->h, &mw, &rc)) {
        d->power = NV_POWER_FIELD;
    } else {
        unsigned int umw;
        nvmlReturn_t rc2 = a->DeviceGetPowerUsage ? a->DeviceGetPowerUsage(d->h, &umw)
                                                  : NVML_ERROR_FUNCTION_NOT_FOUND;
        d->power = rc2 == NVML_SUCCESS ? NV_POWER_USAGE : NV_POWER_NONE;
        ipw_devlist_add(d->power == NV_POWER_USAGE ? &on->avg_power : &on->no_power, info->index,
                        nv_str(nv, d->power == NV_POWER_USAGE ? rc : rc2));
    }
    unsigned long long mj;
    rc = a->DeviceGetTotalEnergyConsumption ? a->DeviceGetTotalEnergyConsumption(d->h, &mj)
                                            : NVML_ERROR_FUNCTION_NOT_FOUND;
    d->counter = rc == NVML_SUCCESS;
    if (d->counter) {
        d->mj0 = d->mj_last = mj;
    } else if (d->power != NV_POWER_NONE) {
        ipw_devlist_add(&on->integrated, info->index, nv_str(nv, rc));
    }
    unsigned int v;
    d->has_temp = a->DeviceGetTemperature &&
                  a->DeviceGetTemperature(d->h, NVML_TEMPERATURE_GPU, &v) == NVML_SUCCESS;
    nvmlUtilization_t u;
    d->has_util =
        a->DeviceGetUtilizationRates && a->DeviceGetUtilizationRates(d->h, &u) == NVML_SUCCESS;
    info->mem_total_mb = -1;
    nvmlMemory_v2_t m2;
    memset(&m2, 0, sizeof m2);
    m2.version = NVML_MEMORY_V2_VERSION;
    rc = a->DeviceGetMemoryInfo_v2 ? a->DeviceGetMemoryInfo_v2(d->h, &m2)
                                   : NVML_ERROR_FUNCTION_NOT_FOUND;
    nvmlMemory_t m1;
    if (rc == NVML_SUCCESS) {
        d->mem = NV_MEM_V2;
        info->mem_total_mb = (double)m2.total / MIB;
    } else if (a->DeviceGetMemoryInfo && a->DeviceGetMemoryInfo(d->h, &m1) == NVML_SUCCESS) {
        d->mem = NV_MEM_V1;
        info->mem_total_mb = (double)m1.total / MIB;
        ipw_devlist_add(&on->mem_v1, info->index, nv_str(nv, rc));
    }
    if (!gpm_open(nv, d, now))
        ipw_devlist_add(&on->no_gpm, info->index, NULL);
}

static void nv_teardown(struct nv *nv)
{
    for (unsigned i = 0; i < nv->ndev; i++)
        gpm_free(nv, &nv->dev[i]);
    if (nv->inited)
        nv->api.Shutdown();
    if (nv->lib)
        ipw_dynlib_close(nv->lib);
    free(nv);
}

static ipw_err nv_fail(struct nv *nv, ipw_errbuf *eb, ipw_err code)
{
    nv_teardown(nv);
    return code;
}

static void dev_identity(struct nv *nv, nvmlDevice_t h, unsigned index,
                         struct ipw_device_info *info)
{
    info->index = index;
    if (!nv->api.DeviceGetName || nv->api.DeviceGetName(h, info->name, sizeof info->name) != 0)
        snprintf(info->name, sizeof info->name, "NVIDIA GPU %u", index);
    if (!nv->api.DeviceGetUUID || nv->api.DeviceGetUUID(h, info->uuid, sizeof info->uuid) != 0)
        info->uuid[0] = '\0';
    info->name[sizeof info->name - 1] = '\0';
    info->uuid[sizeof info->uuid - 1] = '\0';
}

/* The parent GPU's UUID of one MIG entry: the pre-R470 form MIG-GPU-<uuid>/<gi>/<ci> names
 * it; the current MIG-<uuid> is looked up through NVML. */
static ipw_err mig_parent(struct nv *nv, const char *entry, char *parent, size_t size,
                          ipw_errbuf *eb)
{
    if (strncasecmp(entry + 4, "GPU-", 4) == 0) {
        size_t n = strcspn(entry + 4, "/");
        snprintf(parent, size, "%.*s", (int)n, entry + 4);
        return IPW_OK;
    }
    if (!nv->api.DeviceGetHandleByUUID || !nv->api.DeviceGetDeviceHandleFromMigDeviceHandle ||
        !nv->api.DeviceGetUUID)
        return ipw_fail(eb, IPW_E_INVALID,
                        "CUDA_VISIBLE_DEVICES entry '%s' is a MIG instance and this NVML cannot "
                        "name its GPU (driver older than R450?); name the parent GPU's index or "
                        "UUID instead",
                        entry);
    nvmlDevice_t mig, gpu;
    nvmlReturn_t rc = nv->api.DeviceGetHandleByUUID(entry, &mig);
    const char *fn = "nvmlDeviceGetHandleByUUID";
    if (rc == NVML_SUCCESS) {
        rc = nv->api.DeviceGetDeviceHandleFromMigDeviceHandle(mig, &gpu);
        fn = "nvmlDeviceGetDeviceHandleFromMigDeviceHandle";
    }
    if (rc == NVML_SUCCESS) {
        rc = nv->api.DeviceGetUUID(gpu, parent, (unsigned)size);
        fn = "nvmlDeviceGetUUID";
    }
    if (rc != NVML_SUCCESS)
        return ipw_fail(eb, IPW_E_INVALID,
                        "CUDA_VISIBLE_DEVICES entry '%s' names no MIG instance NVML knows (%s: "
                        "%s); check nvidia-smi -L, or name the parent GPU's index or UUID",
                        entry, fn, nv_str(nv, rc));
    return IPW_OK;
}

/* A MIG-sliced job's CUDA_VISIBLE_DEVICES names MIG instances. NVML reads power and energy for
 * whole GPUs only, so each instance is replaced by its GPU (once per GPU), with a warning that
 * the GPU's figures include whatever the other instances on it run. *out: the rewritten value
 * (free it), or NULL when no entry is a MIG instance. */
static ipw_err mig_to_parents(struct nv *nv, const char *spec, char **out, ipw_errbuf *eb)
{
    *out = NULL;
    if (!spec)
        return IPW_OK;
    size_t cap = strlen(spec) + 1 + IPW_MAX_DEVICES * 96, len = 0, pieces = 0;
    char *o = malloc(cap);
    if (!o)
        return ipw_fail(eb, IPW_E_NOMEM, "out of memory reading CUDA_VISIBLE_DEVICES");
    o[0] = '\0';
    char seen[IPW_MAX_DEVICES][96]; /* parents already written */
    unsigned nseen = 0;
    bool any = false;
    for (const char *p = spec; *p;) {
        size_t n = strcspn(p, ",");
        char entry[128], parent[96];
        snprintf(entry, sizeof entry, "%.*s", (int)n, p);
        p += n + (p[n] == ',');
        const char *t = entry + strspn(entry, " ");
        const char *piece = t;
        if (strncasecmp(t, "MIG-", 4) == 0) {
            ipw_err e = mig_parent(nv, t, parent, sizeof parent, eb);
            if (e != IPW_OK) {
                free(o);
                return e;
            }
            bool dup = false;
            for (unsigned k = 0; k < nseen && !dup; k++)
                dup = strcasecmp(seen[k], parent) == 0;
            any = true;
            if (dup)
                continue;
            if (nseen < IPW_MAX_DEVICES)
                snprintf(seen[nseen++], sizeof seen[0], "%s", parent);
            ipw_warn("CUDA_VISIBLE_DEVICES names MIG instance %s of %s: NVML reads power and "
                     "energy for whole GPUs only, so ipw measures all of %s, including the work "
                     "of any other MIG instance on it",
                     t, parent, parent);
            piece = parent;
        }
        if (len + strlen(piece) + 2 > cap) {
            free(o);
            return ipw_fail(eb, IPW_E_INVALID, "CUDA_VISIBLE_DEVICES has too many entries");
        }
        len += (size_t)snprintf(o + len, cap - len, "%s%s", pieces++ ? "," : "", piece);
    }
    if (any)
        *out = o;
    else
        free(o); /* no MIG entry: the value goes to ipw_gpu_select as it is */
    return IPW_OK;
}

static ipw_err nv_open(struct ipw_collector *c, ipw_errbuf *eb)
{
    struct nv *nv = calloc(1, sizeof *nv);
    if (!nv)
        return ipw_fail(eb, IPW_E_NOMEM, "out of memory opening the NVML collector");
    static const char *const names[] = {"libnvidia-ml.so.1", "libnvidia-ml.so", NULL};
    ipw_err e = ipw_dynlib_open(c->cfg.nvml_library, names, "IPW_NVML_LIBRARY",
                                "the NVIDIA management library (NVML)", "install the NVIDIA driver",
                                &nv->lib, nv->libpath, sizeof nv->libpath, eb);
    if (e == IPW_OK)
        e = ipw_dynlib_resolve(nv->lib, nv_syms, sizeof nv_syms / sizeof nv_syms[0], &nv->api,
                               nv->libpath, eb);
    if (e != IPW_OK)
        return nv_fail(nv, eb, e);
    nvmlReturn_t rc = nv->api.Init();
    if (rc != NVML_SUCCESS) {
        ipw_fail(eb, IPW_E_UNSUPPORTED, "nvmlInit failed (%s, code %d): %s", nv_str(nv, rc), rc,
                 init_hint(rc));
        return nv_fail(nv, eb, IPW_E_UNSUPPORTED);
    }
    nv->inited = true;
    unsigned int count = 0;
    rc = nv->api.DeviceGetCount(&count);
    if (rc != NVML_SUCCESS) {
        ipw_fail(eb, IPW_E_IO, "nvmlDeviceGetCount failed (%s): check that nvidia-smi works",
                 nv_str(nv, rc));
        return nv_fail(nv, eb, IPW_E_IO);
    }
    if (count == 0) {
        ipw_fail(eb, IPW_E_NOTFOUND, "NVML sees no NVIDIA GPU");
        return nv_fail(nv, eb, IPW_E_NOTFOUND);
    }
    if (count > 1024)
        count = 1024;
    /* Identities of every GPU, so that CUDA_VISIBLE_DEVICES can name them by UUID. The table
     * is only needed during open, hence the heap. */
    struct ipw_device_info *all = calloc(count, sizeof *all);
    nvmlDevice_t *handles = calloc(count, sizeof *handles);
    nvmlReturn_t *hrc = calloc(count, sizeof *hrc);
    const char **uuids = calloc(count, sizeof *uuids);
    if (!all || !handles || !hrc || !uuids) {
        free(all), free(handles), free(hrc), free(uuids);
        ipw_fail(eb, IPW_E_NOMEM, "out of memory listing %u GPUs", count);
        return nv_fail(nv, eb, IPW_E_NOMEM);
    }
    for (unsigned i = 0; i < count; i++) {
        hrc[i] = nv->api.DeviceGetHandleByIndex(i, &handles[i]);
        if (hrc[i] == NVML_SUCCESS)
            dev_identity(nv, handles[i], i, &all[i]);
        uuids[i] = all[i].uuid;
    }
    unsigned sel[IPW_MAX_DEVICES], nsel = 0;
    const char *vis = c->cfg.cuda_visible_devices;
    bool explicit_sel = vis && strcasecmp(vis, "all") != 0;
    char *mig_spec = NULL;
    e = mig_to_parents(nv, vis, &mig_spec, eb);
    if (e == IPW_OK)
        e = ipw_gpu_select("CUDA_VISIBLE_DEVICES", mig_spec ? mig_spec : vis, count, uuids, sel,
                           &nsel, IPW_MAX_DEVICES, eb);
    free(mig_spec);
    struct ipw_devlist skipped = {.why = NULL};
    for (unsigned k = 0; e == IPW_OK && k < nsel; k++) {
        unsigned i = sel[k];
        if (hrc[i] == NVML_SUCCESS) {
            struct nv_dev *d = &nv->dev[nv->ndev];
            d->slot = nv->ndev;
            d->h = handles[i];
            c->info.dev[nv->ndev++] = all[i];
        } else if (explicit_sel) {
            e = ipw_fail(eb, IPW_E_IO,
                         "GPU %u named in CUDA_VISIBLE_DEVICES cannot be opened "
                         "(nvmlDeviceGetHandleByIndex: %s)",
                         i, nv_str(nv, hrc[i]));
        } else {
            ipw_devlist_add(&skipped, i, nv_str(nv, hrc[i]));
        }
    }
    free(all), free(handles), free(hrc), free(uuids);
    if (e == IPW_OK && nv->ndev == 0)
        e = ipw_fail(eb, IPW_E_NOTFOUND, "no NVIDIA GPU could be opened (GPU %s: %s)", skipped.text,
                     skipped.why ? skipped.why : "");
    if (e != IPW_OK)
        return nv_fail(nv, eb, e);

    c->priv = nv;
    c->info.ndev = nv->ndev;
    c->info.main_domain = IPW_DOMAIN_GPU;
    snprintf(c->info.gpu_vendor, sizeof c->info.gpu_vendor, "NVIDIA");
    snprintf(c->info.gpu_device_type, sizeof c->info.gpu_device_type, "discrete");
    snprintf(c->info.gpu_backend, sizeof c->info.gpu_backend, "nvml");
    snprintf(c->info.gpu_name, sizeof c->info.gpu_name, "%s", c->info.dev[0].name);
    nvmlPciInfo_t pci;
    memset(&pci, 0, sizeof pci);
    if (nv->api.DeviceGetPciInfo && nv->api.DeviceGetPciInfo(nv->dev[0].h, &pci) == NVML_SUCCESS)
        c->info.gpu_device_id = pci.pciDeviceId >> 16;
    struct open_notes on;
    memset(&on, 0, sizeof on);
    int64_t now = ipw_mono_ns();
    for (unsigned i = 0; i < nv->ndev; i++)
        probe_dev(c, &nv->dev[i], now, &on);
    ipw_devlist_note(c, "GPU %s skipped: cannot be opened (%s)", &skipped);
    ipw_devlist_note(c, "energy integrated from power on GPU %s (energy counter: %s)",
                     &on.integrated);
    ipw_devlist_note(c,
                     "GPU %s: instant power unavailable (%s), using nvmlDeviceGetPowerUsage, a 1 s "
                     "average on Hopper and newer Ampere parts",
                     &on.avg_power);
    ipw_devlist_note(c, "GPU %s: no power reading (%s): power and energy unavailable",
                     &on.no_power);
    ipw_devlist_note(c, "GPU %s: memory read with nvmlDeviceGetMemoryInfo v1 (v2: %s)", &on.mem_v1);
    ipw_devlist_note(c,
                     "GPU %s: no GPM (Hopper or newer needed%s): memory-bandwidth and tensor "
                     "utilization unavailable",
                     &on.no_gpm);
    if (!nv->api.DeviceGetProcessUtilization)
        c->info.caps &= ~(unsigned)IPW_CAP_PROCESS_GPU_SHARE;
    ipw_debug("nvml: %u GPU(s) from %s", nv->ndev, nv->libpath);
    return IPW_OK;
}

static void nv_close(struct ipw_collector *c)
{
    if (c->priv)
        nv_teardown(c->priv);
    c->priv = NULL;
}

/* The share of SM utilisation that the given processes had on the selected GPUs since a wall
 * clock time: the sum of their samples' smUtil over everyone's (NVML keeps a short history of
 * per-process samples per device). */
static ipw_err nv_process_gpu_share(struct ipw_collector *c, int64_t since_unix_us,
                                    const int *pids, size_t npids, double *share, ipw_errbuf *eb)
{
    struct nv *nv = c->priv;
    if (!nv->api.DeviceGetProcessUtilization)
        return ipw_fail(eb, IPW_E_UNSUPPORTED,
                        "this NVML has no nvmlDeviceGetProcessUtilization (a driver older than "
                        "R340?)");
    double mine = 0, all = 0;
    enum { MAX_SAMPLES = 4096 };
    for (unsigned i = 0; i < nv->ndev; i++) {
        struct nv_dev *d = &nv->dev[i];
        unsigned int n = 0;
        unsigned long long since = since_unix_us > 0 ? (unsigned long long)since_unix_us : 0;
        nvmlReturn_t rc = nv->api.DeviceGetProcessUtilization(d->h, NULL, &n, since);
        if (rc == NVML_ERROR_NOT_FOUND || (rc == NVML_SUCCESS && n == 0))
            continue; /* no process ran on this GPU in the window */
        if (rc != NVML_ERROR_INSUFFICIENT_SIZE && rc != NVML_SUCCESS)
            return ipw_fail(eb, IPW_E_UNSUPPORTED, "GPU %s: per-process utilisation: %s",
                            dev_uuid(c, d), nv_str(nv, rc));
        if (n > MAX_SAMPLES)
            n = MAX_SAMPLES;
        nvmlProcessUtilizationSample_t *v = calloc(n ? n : 1, sizeof *v);
        if (!v)
            return ipw_fail(eb, IPW_E_NOMEM, "out of memory for %u process samples", n);
        rc = nv->api.DeviceGetProcessUtilization(d->h, v, &n, since);
        if (rc == NVML_SUCCESS) {
            for (unsigned k = 0; k < n; k++) {
                all += v[k].smUtil;
                for (size_t j = 0; j < npids; j++)
                    if ((int)v[k].pid == pids[j]) {
                        mine += v[k].smUtil;
                        break;
                    }
            }
        }
        free(v);
        if (rc != NVML_SUCCESS && rc != NVML_ERROR_NOT_FOUND)
            return ipw_fail(eb, IPW_E_UNSUPPORTED, "GPU %s: per-process utilisation: %s",
                            dev_uuid(c, d), nv_str(nv, rc));
    }
    if (all <= 0)
        return ipw_fail(eb, IPW_E_NOTFOUND,
                        "NVML reports no process using the GPU in this window");
    *share = mine / all;
    return IPW_OK;
}

static const char *const aliases[] = {"nvml", NULL};

const struct ipw_collector_ops ipw_collector_nvml = {
    .name = "nvidia",
    .aliases = aliases,
    .description = "NVML (libnvidia-ml.so.1): GPU energy counter, power, memory, utilization",
    .auto_rank = 2,
    .caps = IPW_CAP_ENERGY | IPW_CAP_ENERGY_COUNTER | IPW_CAP_CPU_COMPANION |
            IPW_CAP_PROCESS_GPU_SHARE,
    .main_domain = IPW_DOMAIN_GPU,
    .open = nv_open, .sample = nv_sample, .close = nv_close,
    .process_gpu_share = nv_process_gpu_share};
