/* The amd collector: ROCm SMI loaded at run time (Debian's 5.2.3 and newer), every GPU read
 * each tick and summed (SPEC §1.2). The energy counter is watched: where it sticks or runs
 * backwards, as it does on some parts, that GPU switches to integrating its power, continuing
 * from the last good counter value so energy stays monotonic. */
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dynlib.h"
#include "gpu_common.h"
#include "ipw/clock.h"
#include "ipw/collector.h"
#include "telemetry/collector_priv.h"
#include "ipw/log.h"
#include "rocm_smi_api.h"

#define MIB (1024.0 * 1024.0)
#define RS_GIVE_UP 3
/* A counter that has not moved for this long while the integrated power says this much energy
 * was spent is stuck (at 50 ms ticks and >= 1 W the counter moves every tick when healthy). */
#define RS_STUCK_NS (2 * IPW_NS_PER_SEC)
#define RS_STUCK_J 2.0

enum rs_power { RS_POWER_NONE, RS_POWER_TYPED, RS_POWER_AVE };

struct rs_dev {
    uint32_t dv;
    unsigned slot;
    enum rs_power power;
    unsigned typed_failures;
    bool counter; /* energy from the counter; false: integrated (from open, or after a fault) */
    uint64_t count0, count_last;
    double res_uj;
    double e_counter_j;          /* energy since open at the last counter change */
    int64_t t_change;            /* when the counter last changed */
    double integ_at_change;      /* the integrator then */
    double e_base_j, integ_base; /* integrated energy = e_base_j + integ - integ_base */
    struct ipw_integrator integ; /* always fed, so that a switch can continue seamlessly */
    bool has_temp, has_vram, has_busy, has_mem_busy;
    uint32_t temp_sensor;
};

struct rs {
    void *lib;
    char libpath[256];
    struct rsmi_api api;
    bool inited;
    unsigned ndev;
    struct rs_dev dev[IPW_MAX_DEVICES];
};

#define SYM(n1, member, req)                                                                       \
    {                                                                                              \
        {n1, NULL, NULL}, offsetof(struct rsmi_api, member), req                                   \
    }
static const struct ipw_dynsym rs_syms[] = {
    SYM("rsmi_init", init, true),
    SYM("rsmi_shut_down", shut_down, true),
    SYM("rsmi_status_string", status_string, false),
    SYM("rsmi_num_monitor_devices", num_monitor_devices, true),
    SYM("rsmi_dev_name_get", dev_name_get, false),
    SYM("rsmi_dev_unique_id_get", dev_unique_id_get, false),
    SYM("rsmi_dev_id_get", dev_id_get, false),
    SYM("rsmi_dev_energy_count_get", dev_energy_count_get, false),
    SYM("rsmi_dev_power_get", dev_power_get, false),
    SYM("rsmi_dev_power_ave_get", dev_power_ave_get, false),
    SYM("rsmi_dev_temp_metric_get", dev_temp_metric_get, false),
    SYM("rsmi_dev_memory_usage_get", dev_memory_usage_get, false),
    SYM("rsmi_dev_memory_total_get", dev_memory_total_get, false),
    SYM("rsmi_dev_busy_percent_get", dev_busy_percent_get, false),
    SYM("rsmi_dev_memory_busy_percent_get", dev_memory_busy_percent_get, false),
};
#undef SYM

static const char *rs_str(const struct rs *rs, rsmi_status_t st)
{
    const char *s = NULL;
    if (rs->api.status_string && rs->api.status_string(st, &s) == RSMI_STATUS_SUCCESS && s && *s)
        return s;
    switch (st) {
    case RSMI_STATUS_NOT_SUPPORTED: return "RSMI_STATUS_NOT_SUPPORTED";
    case RSMI_STATUS_FILE_ERROR: return "RSMI_STATUS_FILE_ERROR";
    case RSMI_STATUS_PERMISSION: return "RSMI_STATUS_PERMISSION";
    case RSMI_STATUS_INIT_ERROR: return "RSMI_STATUS_INIT_ERROR";
    default: return "ROCm SMI error";
    }
}

static bool rs_ok(struct ipw_collector *c, struct rs_dev *d, rsmi_status_t st, const char *fn,
                  struct ipw_tick_err *te)
{
    if (st == RSMI_STATUS_SUCCESS)
        return true;
    const struct ipw_device_info *info = &c->info.dev[d->slot];
    ipw_tick_fail(te, IPW_E_IO,
                  "ROCm SMI: GPU %u (%s): %s failed: %s; that value is unavailable this tick "
                  "and will be retried",
                  info->index, info->name, fn, rs_str(c->priv, st));
    return false;
}

/* ---- one device, one tick ---------------------------------------------------------------- */

static void read_power(struct ipw_collector *c, struct rs_dev *d, double *w, bool *ok, uint8_t *src,
                       struct ipw_tick_err *te)
{
    struct rs *rs = c->priv;
    uint64_t uw;
    if (d->power == RS_POWER_TYPED) {
        uint32_t type = 0xFFFFFFFFu;
        rsmi_status_t st = rs->api.dev_power_get(d->dv, &uw, &type);
        if (st == RSMI_STATUS_SUCCESS &&
            (type == RSMI_CURRENT_POWER || type == RSMI_AVERAGE_POWER)) {
            d->typed_failures = 0;
            *w = (double)uw / 1e6;
            *ok = true;
            *src = type == RSMI_CURRENT_POWER ? IPW_POWER_INSTANT : IPW_POWER_AVERAGE;
            return;
        }
        if (!rs->api.dev_power_ave_get) {
            rs_ok(c, d, st ? st : RSMI_STATUS_NOT_SUPPORTED, "rsmi_dev_power_get", te);
            return;
        }
        if (++d->typed_failures >= RS_GIVE_UP) {
            ipw_warn("ROCm SMI: rsmi_dev_power_get keeps failing on GPU %u; using "
                     "rsmi_dev_power_ave_get from now on",
                     c->info.dev[d->slot].index);
            d->power = RS_POWER_AVE;
        }
    }
    if (d->power == RS_POWER_NONE)
        return;
    if (rs_ok(c, d, rs->api.dev_power_ave_get(d->dv, 0, &uw), "rsmi_dev_power_ave_get", te)) {
        *w = (double)uw / 1e6;
        *ok = true;
        *src = IPW_POWER_AVERAGE;
    }
}

/* Give up on a faulty counter: from now on energy is the last good counter value plus the
 * power integrated since that value was read. */
static void switch_to_integration(struct ipw_collector *c, struct rs_dev *d, const char *why,
                                  uint64_t was, uint64_t now)
{
    ipw_warn("ROCm SMI: energy counter of GPU %u %s (%llu -> %llu); integrating its power "
             "from now on",
             c->info.dev[d->slot].index, why, (unsigned long long)was, (unsigned long long)now);
    d->counter = false;
    d->e_base_j = d->e_counter_j;
    d->integ_base = d->integ_at_change;
}

static void read_energy(struct ipw_collector *c, struct rs_dev *d, int64_t t, bool have_w,
                        struct ipw_device_reading *dr, bool *integrated, struct ipw_tick_err *te)
{
    struct rs *rs = c->priv;
    if (d->counter) {
        uint64_t cnt = 0, ts = 0;
        float res = 0;
        if (!rs_ok(c, d, rs->api.dev_energy_count_get(d->dv, &cnt, &res, &ts),
                   "rsmi_dev_energy_count_get", te))
            return;
        if (cnt < d->count_last) {
            switch_to_integration(c, d, "went backwards", d->count_last, cnt);
        } else if (cnt > d->count_last) {
            d->count_last = cnt;
            d->e_counter_j = (double)(cnt - d->count0) * d->res_uj / 1e6;
            d->t_change = t;
            d->integ_at_change = d->integ.joules;
        } else if (have_w && t - d->t_change >= RS_STUCK_NS &&
                   d->integ.joules - d->integ_at_change >= RS_STUCK_J) {
            switch_to_integration(c, d, "stopped counting", cnt, cnt);
        }
        if (d->counter) {
            ipw_device_set(dr, IPW_DF_ENERGY_J, d->e_counter_j);
            return;
        }
    }
    if (have_w) {
        ipw_device_set(dr, IPW_DF_ENERGY_J, d->e_base_j + d->integ.joules - d->integ_base);
        *integrated = true;
    }
}

struct rs_extra {
    uint8_t power_source;
    bool integrated;
    bool mem_busy_valid;
    double mem_busy;
};

static void read_dev(struct ipw_collector *c, struct rs_dev *d, int64_t t,
                     struct ipw_device_reading *dr, struct rs_extra *x, struct ipw_tick_err *te)
{
    struct rs *rs = c->priv;
    double w = 0;
    bool have_w = false;
    read_power(c, d, &w, &have_w, &x->power_source, te);
    if (have_w) {
        ipw_device_set(dr, IPW_DF_POWER_W, w);
        ipw_integrator_add(&d->integ, t, w);
    }
    read_energy(c, d, t, have_w, dr, &x->integrated, te);
    int64_t mc;
    if (d->has_temp &&
        rs_ok(c, d, rs->api.dev_temp_metric_get(d->dv, d->temp_sensor, RSMI_TEMP_CURRENT, &mc),
              "rsmi_dev_temp_metric_get", te))
        ipw_device_set(dr, IPW_DF_TEMPERATURE_C, (double)mc / 1000.0);
    uint64_t bytes;
    if (d->has_vram) {
        if (rs_ok(c, d, rs->api.dev_memory_usage_get(d->dv, RSMI_MEM_TYPE_VRAM, &bytes),
                  "rsmi_dev_memory_usage_get", te))
            ipw_device_set(dr, IPW_DF_MEM_USED_MB, (double)bytes / MIB);
        /* the total never changes: read once at open */
        ipw_device_set(dr, IPW_DF_MEM_TOTAL_MB, c->info.dev[d->slot].mem_total_mb);
    }
    uint32_t pct;
    if (d->has_busy &&
        rs_ok(c, d, rs->api.dev_busy_percent_get(d->dv, &pct), "rsmi_dev_busy_percent_get", te))
        ipw_device_set(dr, IPW_DF_UTIL_PCT, pct);
    if (d->has_mem_busy && rs_ok(c, d, rs->api.dev_memory_busy_percent_get(d->dv, &pct),
                                 "rsmi_dev_memory_busy_percent_get", te)) {
        x->mem_busy_valid = true;
        x->mem_busy = pct;
    }
}

static ipw_err rs_sample(struct ipw_collector *c, struct ipw_reading *r,
                         struct ipw_device_reading *dev, ipw_errbuf *eb)
{
    struct rs *rs = c->priv;
    struct ipw_tick_err te = {.code = IPW_OK};
    struct ipw_gpu_sum gs = {0};
    double mem_busy = 0;
    unsigned nbusy = 0;
    for (unsigned i = 0; i < rs->ndev; i++) {
        struct ipw_device_reading scratch, *dr = dev ? &dev[i] : &scratch;
        memset(dr, 0, sizeof *dr);
        struct rs_extra x = {0};
        read_dev(c, &rs->dev[i], r->mono_ns, dr, &x, &te);
        ipw_gpu_sum_add(&gs, dr, x.power_source == IPW_POWER_AVERAGE, x.integrated);
        if (x.mem_busy_valid) {
            mem_busy += x.mem_busy;
            nbusy++;
        }
    }
    unsigned all = rs->ndev;
    ipw_gpu_sum_finish(&gs, all, r);
    if (nbusy == all)
        ipw_reading_set(r, IPW_M_GPU_MEMBW_UTIL_PCT, mem_busy / all);
    return ipw_tick_result(&te, eb);
}

/* ---- open --------------------------------------------------------------------------------- */

struct rs_notes {
    struct ipw_devlist integrated, avg_power, no_power, edge_temp;
};

static void probe_dev(struct ipw_collector *c, struct rs_dev *d, int64_t now, struct rs_notes *on)
{
    struct rs *rs = c->priv;
    const struct rsmi_api *a = &rs->api;
    struct ipw_device_info *info = &c->info.dev[d->slot];
    uint64_t uw, bytes;
    uint32_t type = 0xFFFFFFFFu, pct;
    rsmi_status_t st = RSMI_STATUS_NOT_SUPPORTED;
    if (a->dev_power_get && a->dev_power_get(d->dv, &uw, &type) == RSMI_STATUS_SUCCESS &&
        (type == RSMI_CURRENT_POWER || type == RSMI_AVERAGE_POWER)) {
        d->power = RS_POWER_TYPED;
        if (type == RSMI_AVERAGE_POWER)
            ipw_devlist_add(&on->avg_power, info->index, "no current socket power");
    } else if (a->dev_power_ave_get &&
               (st = a->dev_power_ave_get(d->dv, 0, &uw)) == RSMI_STATUS_SUCCESS) {
        d->power = RS_POWER_AVE;
        ipw_devlist_add(&on->avg_power, info->index,
                        a->dev_power_get ? "no current socket power"
                                         : "library without "
                                           "rsmi_dev_power_get");
    } else {
        d->power = RS_POWER_NONE;
        ipw_devlist_add(&on->no_power, info->index, rs_str(rs, st));
    }
    if (d->power != RS_POWER_NONE)
        ipw_integrator_add(&d->integ, now, (double)uw / 1e6);
    uint64_t cnt = 0, ts = 0;
    float res = 0;
    st = a->dev_energy_count_get ? a->dev_energy_count_get(d->dv, &cnt, &res, &ts)
                                 : RSMI_STATUS_NOT_SUPPORTED;
    d->counter = st == RSMI_STATUS_SUCCESS && isfinite(res) && res > 0;
    if (d->counter) {
        d->count0 = d->count_last = cnt;
        d->res_uj = res;
        d->t_change = now;
        d->integ_at_change = d->integ.joules;
    } else if (d->power != RS_POWER_NONE) {
        ipw_devlist_add(&on->integrated, info->index,
                        st == RSMI_STATUS_SUCCESS ? "zero resolution" : rs_str(rs, st));
    }
    int64_t mc;
    if (a->dev_temp_metric_get) {
        if (a->dev_temp_metric_get(d->dv, RSMI_TEMP_TYPE_JUNCTION, RSMI_TEMP_CURRENT, &mc) ==
            RSMI_STATUS_SUCCESS) {
            d->has_temp = true;
            d->temp_sensor = RSMI_TEMP_TYPE_JUNCTION;
        } else if (a->dev_temp_metric_get(d->dv, RSMI_TEMP_TYPE_EDGE, RSMI_TEMP_CURRENT, &mc) ==
                   RSMI_STATUS_SUCCESS) {
            d->has_temp = true;
            d->temp_sensor = RSMI_TEMP_TYPE_EDGE;
            ipw_devlist_add(&on->edge_temp, info->index, NULL);
        }
    }
    info->mem_total_mb = -1;
    if (a->dev_memory_total_get && a->dev_memory_usage_get &&
        a->dev_memory_total_get(d->dv, RSMI_MEM_TYPE_VRAM, &bytes) == RSMI_STATUS_SUCCESS) {
        info->mem_total_mb = (double)bytes / MIB;
        d->has_vram =
            a->dev_memory_usage_get(d->dv, RSMI_MEM_TYPE_VRAM, &bytes) == RSMI_STATUS_SUCCESS;
    }
    d->has_busy =
        a->dev_busy_percent_get && a->dev_busy_percent_get(d->dv, &pct) == RSMI_STATUS_SUCCESS;
    d->has_mem_busy = a->dev_memory_busy_percent_get &&
                      a->dev_memory_busy_percent_get(d->dv, &pct) == RSMI_STATUS_SUCCESS;
}

static void rs_teardown(struct rs *rs)
{
    if (rs->inited)
        rs->api.shut_down();
    ipw_dynlib_close(rs->lib);
    free(rs);
}

static void identity(struct rs *rs, uint32_t dv, struct ipw_device_info *info)
{
    info->index = dv;
    if (!rs->api.dev_name_get ||
        rs->api.dev_name_get(dv, info->name, sizeof info->name) != RSMI_STATUS_SUCCESS ||
        !info->name[0])
        snprintf(info->name, sizeof info->name, "AMD GPU %u", dv);
    info->name[sizeof info->name - 1] = '\0';
    uint64_t id;
    if (rs->api.dev_unique_id_get && rs->api.dev_unique_id_get(dv, &id) == RSMI_STATUS_SUCCESS)
        snprintf(info->uuid, sizeof info->uuid, "0x%016llx", (unsigned long long)id);
}


/* fd 2 to /dev/null for a library call; returns the saved descriptor (-1: nothing done). */
static int quiet_stderr(void)
{
    fflush(stderr);
    int saved = dup(STDERR_FILENO);
    int nul = open("/dev/null", O_WRONLY | O_CLOEXEC);
    if (saved >= 0 && nul >= 0)
        dup2(nul, STDERR_FILENO);
    if (nul >= 0)
        close(nul);
    return saved;
}

static void restore_stderr(int saved)
{
    if (saved < 0)
        return;
    fflush(stderr);
    dup2(saved, STDERR_FILENO);
    close(saved);
}

static ipw_err rs_open(struct ipw_collector *c, ipw_errbuf *eb)
{
    struct rs *rs = calloc(1, sizeof *rs);
    if (!rs)
        return ipw_fail(eb, IPW_E_NOMEM, "out of memory opening the ROCm SMI collector");
    static const char *const names[] = {"librocm_smi64.so",
                                        "librocm_smi64.so.1",
                                        "librocm_smi64.so.5",
                                        "librocm_smi64.so.6",
                                        "librocm_smi64.so.7",
                                        "/opt/rocm/lib/librocm_smi64.so",
                                        "/opt/rocm/lib/librocm_smi64.so.1",
                                        "/opt/rocm/lib/librocm_smi64.so.5",
                                        "/opt/rocm/lib/librocm_smi64.so.6",
                                        "/opt/rocm/lib/librocm_smi64.so.7",
                                        NULL};
    /* Auto-detection on a machine without the amdgpu driver (every NVIDIA or CPU-only box)
     * would load the 10+ MB ROCm stack just to hear "no GPU": skip it unless a library was
     * named explicitly (then the library's own answer is what the user asked for). */
    const char *envlib = getenv("IPW_ROCM_SMI_LIBRARY");
    char drv[PATH_MAX];
    struct stat st_drv;
    snprintf(drv, sizeof drv, "%s/module/amdgpu",
             c->cfg.sysfs_root && *c->cfg.sysfs_root ? c->cfg.sysfs_root : "/sys");
    if (!c->cfg.rocm_library && !(envlib && *envlib) && stat(drv, &st_drv) != 0) {
        free(rs);
        return ipw_fail(eb, IPW_E_NOTFOUND,
                        "no AMD GPU driver loaded (%s absent): load amdgpu, or name the library "
                        "with IPW_ROCM_SMI_LIBRARY",
                        drv);
    }
    ipw_err e =
        ipw_dynlib_open(c->cfg.rocm_library, names, "IPW_ROCM_SMI_LIBRARY", "the ROCm SMI library",
                        "install ROCm (or Debian's librocm-smi64-1)", &rs->lib, rs->libpath,
                        sizeof rs->libpath, eb);
    if (e == IPW_OK)
        e = ipw_dynlib_resolve(rs->lib, rs_syms, sizeof rs_syms / sizeof rs_syms[0], &rs->api,
                               rs->libpath, eb);
    if (e != IPW_OK) {
        rs_teardown(rs);
        return e;
    }
    /* On a machine without an AMD GPU the library prints its own lines ("Failed to open drm
     * root directory", "Exception caught: rsmi_init") on every auto-detecting command; our
     * message below says what failed, so its stderr is silenced for the call. */
    int saved = quiet_stderr();
    rsmi_status_t st = rs->api.init(0);
    restore_stderr(saved);
    if (st != RSMI_STATUS_SUCCESS) {
        e = ipw_fail(eb, IPW_E_UNSUPPORTED,
                     "rsmi_init failed (%s): is the amdgpu kernel driver loaded and "
                     "/sys/class/drm readable? check that rocm-smi works",
                     rs_str(rs, st));
        rs_teardown(rs);
        return e;
    }
    rs->inited = true;
    uint32_t count = 0;
    st = rs->api.num_monitor_devices(&count);
    if (st != RSMI_STATUS_SUCCESS || count == 0) {
        e = st != RSMI_STATUS_SUCCESS
                ? ipw_fail(eb, IPW_E_IO, "rsmi_num_monitor_devices failed (%s)", rs_str(rs, st))
                : ipw_fail(eb, IPW_E_NOTFOUND, "ROCm SMI sees no AMD GPU");
        rs_teardown(rs);
        return e;
    }
    if (count > IPW_MAX_DEVICES) {
        ipw_warn("ROCm SMI reports %u GPUs; measuring the first %d", count, IPW_MAX_DEVICES);
        count = IPW_MAX_DEVICES;
    }
    c->priv = rs;
    rs->ndev = count;
    c->info.ndev = count;
    c->info.main_domain = IPW_DOMAIN_GPU;
    snprintf(c->info.gpu_vendor, sizeof c->info.gpu_vendor, "AMD");
    snprintf(c->info.gpu_device_type, sizeof c->info.gpu_device_type, "discrete");
    snprintf(c->info.gpu_backend, sizeof c->info.gpu_backend, "rocm_smi");
    struct rs_notes on;
    memset(&on, 0, sizeof on);
    int64_t now = ipw_mono_ns();
    for (uint32_t i = 0; i < count; i++) {
        struct rs_dev *d = &rs->dev[i];
        d->dv = i;
        d->slot = i;
        identity(rs, i, &c->info.dev[i]);
        probe_dev(c, d, now, &on);
    }
    snprintf(c->info.gpu_name, sizeof c->info.gpu_name, "%s", c->info.dev[0].name);
    uint16_t id;
    if (rs->api.dev_id_get && rs->api.dev_id_get(0, &id) == RSMI_STATUS_SUCCESS)
        c->info.gpu_device_id = id;
    ipw_devlist_note(c, "energy integrated from power on GPU %s (energy counter: %s)",
                     &on.integrated);
    ipw_devlist_note(c, "GPU %s: averaged power (%s)", &on.avg_power);
    ipw_devlist_note(c, "GPU %s: no power reading (%s): power and energy unavailable",
                     &on.no_power);
    ipw_devlist_note(c, "GPU %s: edge temperature (no junction sensor%s)", &on.edge_temp);
    ipw_debug("rocm_smi: %u GPU(s) from %s", count, rs->libpath);
    return IPW_OK;
}

static void rs_close(struct ipw_collector *c)
{
    if (c->priv)
        rs_teardown(c->priv);
    c->priv = NULL;
}

static const char *const aliases[] = {"rocm", "rocm_smi", NULL};

const struct ipw_collector_ops ipw_collector_rocm = {
    .name = "amd",
    .aliases = aliases,
    .description = "ROCm SMI (librocm_smi64.so): GPU energy counter, power, memory, busy %",
    .auto_rank = 3,
    .caps = IPW_CAP_ENERGY | IPW_CAP_ENERGY_COUNTER | IPW_CAP_CPU_COMPANION,
    .main_domain = IPW_DOMAIN_GPU,
    .open = rs_open, .sample = rs_sample, .close = rs_close};
