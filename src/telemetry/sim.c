/* The sim collector (SPEC §3.6): modelled telemetry for a machine without power counters. GPU
 * and CPU package power follow the sim client's requests through the shared sim activity
 * state; energies are the exact integrals of that piecewise-constant power, so snapshots at
 * query boundaries give exact modelled energies. Chosen only by name, never auto-detected.
 * Nothing it reports is measured; docs/sim.md. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ipw/clock.h"
#include "ipw/collector.h"
#include "telemetry/collector_priv.h"
#include "ipw/perfmodel.h"
#include "ipw/sim.h"

#define DEFAULT_HARDWARE "H100"
#define DEFAULT_MODEL "llama-3.1-8b"
#define MIB 1048576.0

struct sim_coll {
    struct ipw_hw_spec hw;
    double own_weights; /* resident weights when no sim client has announced its model */
    int64_t t_open;
    double util_open, busy_open; /* the activity integrals at open */
};

static ipw_err sim_open(struct ipw_collector *c, ipw_errbuf *eb)
{
    struct sim_coll *s = calloc(1, sizeof *s);
    if (!s)
        return ipw_fail(eb, IPW_E_NOMEM, "out of memory opening the sim collector");
    /* Model the sim client's hardware unless told otherwise. */
    char client_hw[64] = "";
    bool have_client = ipw_sim_client_hardware(client_hw, sizeof client_hw);
    const char *hw_name = c->cfg.sim_hardware && *c->cfg.sim_hardware ? c->cfg.sim_hardware
                          : have_client && client_hw[0]              ? client_hw
                                                                     : DEFAULT_HARDWARE;
    ipw_err e = ipw_hw_spec_load(hw_name, &s->hw, eb);
    struct ipw_model_spec ms;
    if (e == IPW_OK)
        e = ipw_model_spec_load(c->cfg.sim_model && *c->cfg.sim_model ? c->cfg.sim_model
                                                                      : DEFAULT_MODEL,
                                &ms, eb);
    if (e != IPW_OK) {
        free(s);
        return e;
    }
    s->own_weights = ms.params * ms.dtype_bytes;

    struct ipw_collector_info *in = &c->info;
    in->main_domain = IPW_DOMAIN_GPU;
    snprintf(in->gpu_name, sizeof in->gpu_name, "Simulated %s", s->hw.display_name);
    snprintf(in->gpu_vendor, sizeof in->gpu_vendor, "%s (simulated)",
             s->hw.vendor[0] ? s->hw.vendor : "unknown");
    in->gpu_device_id = 0;
    snprintf(in->gpu_device_type, sizeof in->gpu_device_type, "simulated");
    snprintf(in->gpu_backend, sizeof in->gpu_backend, "sim");
    in->ndev = 1;
    in->dev[0].index = 0;
    snprintf(in->dev[0].uuid, sizeof in->dev[0].uuid, "SIM-%s-0", s->hw.name);
    snprintf(in->dev[0].name, sizeof in->dev[0].name, "%s", in->gpu_name);
    in->dev[0].mem_total_mb = s->hw.mem_bytes / MIB;
    size_t n = (size_t)snprintf(
        in->notes, sizeof in->notes,
        "modelled telemetry, nothing is measured: GPU power = %.0f W idle + %.0f W x the "
        "roofline power utilisation of %s; CPU package = %.1f W idle + %.1f W while a request "
        "is served; energies are exact integrals of that power; temperature is not modelled",
        s->hw.idle_w, s->hw.active_w - s->hw.idle_w, s->hw.name, s->hw.cpu_idle_w,
        (s->hw.cpu_active_w - s->hw.cpu_idle_w) * s->hw.cpu_busy_util);
    if (have_client && client_hw[0] && strcmp(client_hw, s->hw.name) != 0 &&
        strcmp(client_hw, s->hw.origin) != 0 && n < sizeof in->notes)
        snprintf(in->notes + n, sizeof in->notes - n,
                 "; the sim client models %s, this collector %s: their figures do not match",
                 client_hw, s->hw.name);

    struct ipw_sim_reading sr;
    s->t_open = ipw_mono_ns();
    ipw_sim_activity_read(s->t_open, &sr);
    s->util_open = sr.util_ns;
    s->busy_open = sr.busy_ns;
    c->priv = s;
    return IPW_OK;
}

static ipw_err sim_sample(struct ipw_collector *c, struct ipw_reading *r,
                          struct ipw_device_reading *dev, ipw_errbuf *eb)
{
    (void)eb;
    const struct sim_coll *s = c->priv;
    const struct ipw_hw_spec *hw = &s->hw;
    struct ipw_sim_reading sr;
    ipw_sim_activity_read(r->mono_ns, &sr);
    /* E(t) = idle × (t − t_open) + (active − idle) × ∫u dt: closed form, no sampling error */
    double dt = (double)(r->mono_ns - s->t_open) / 1e9;
    double du = (sr.util_ns - s->util_open) / 1e9;
    double db = (sr.busy_ns - s->busy_open) / 1e9;
    double gpu_j = hw->idle_w * dt + (hw->active_w - hw->idle_w) * du;
    double cpu_j =
        hw->cpu_idle_w * dt + (hw->cpu_active_w - hw->cpu_idle_w) * hw->cpu_busy_util * db;
    double gpu_w = ipw_hw_power_w(hw, sr.util);
    double weights = sr.weight_bytes > 0 ? sr.weight_bytes : s->own_weights;
    double mem_mb = (weights + sr.kv_bytes) / MIB, total_mb = hw->mem_bytes / MIB;

    ipw_reading_set(r, IPW_M_GPU_POWER_W, gpu_w);
    ipw_reading_set(r, IPW_M_GPU_ENERGY_J, gpu_j);
    ipw_reading_set(r, IPW_M_CPU_POWER_W, ipw_hw_cpu_power_w(hw, sr.busy ? 1 : 0));
    ipw_reading_set(r, IPW_M_CPU_ENERGY_J, cpu_j);
    ipw_reading_set(r, IPW_M_GPU_MEM_USED_MB, mem_mb);
    ipw_reading_set(r, IPW_M_GPU_MEM_TOTAL_MB, total_mb);
    ipw_reading_set(r, IPW_M_GPU_UTIL_PCT, sr.busy ? 100.0 : 0.0);
    ipw_reading_set(r, IPW_M_GPU_MEMBW_UTIL_PCT, 100.0 * sr.frac_memory);
    ipw_reading_set(r, IPW_M_GPU_TENSOR_UTIL_PCT, 100.0 * sr.frac_compute);
    r->energy_source[IPW_DOMAIN_GPU] = IPW_ENERGY_MODELED;
    r->energy_source[IPW_DOMAIN_CPU] = IPW_ENERGY_MODELED;
    r->power_source = IPW_POWER_MODELED;
    if (dev) {
        ipw_device_set(&dev[0], IPW_DF_POWER_W, gpu_w);
        ipw_device_set(&dev[0], IPW_DF_ENERGY_J, gpu_j);
        ipw_device_set(&dev[0], IPW_DF_MEM_USED_MB, mem_mb);
        ipw_device_set(&dev[0], IPW_DF_MEM_TOTAL_MB, total_mb);
        ipw_device_set(&dev[0], IPW_DF_UTIL_PCT, sr.busy ? 100.0 : 0.0);
    }
    return IPW_OK;
}

static void sim_close(struct ipw_collector *c)
{
    free(c->priv);
    c->priv = NULL;
}

const struct ipw_collector_ops ipw_collector_sim = {
    .name = "sim",
    .aliases = NULL,
    .description = "modelled power of a named GPU, used with the sim client",
    .auto_rank = 0,
    .caps = IPW_CAP_ENERGY | IPW_CAP_MODELLED,
    .main_domain = IPW_DOMAIN_GPU,
    .open = sim_open, .sample = sim_sample, .close = sim_close};
