/* The generic half of every collector: configuration from the environment, opening with
 * detection, and the per-sample steps shared by all platforms (timestamps, the RAPL companion
 * that adds CPU energy beside a GPU, CPU memory from /proc/meminfo). */
#include "ipw/collector.h"
#include "telemetry/collector_priv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ipw/clock.h"
#include "ipw/log.h"

void ipw_collector_config_init(struct ipw_collector_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    const char *v;
    cfg->sysfs_root = (v = getenv("IPW_SYSFS_ROOT")) && *v ? v : "/sys";
    cfg->procfs_root = (v = getenv("IPW_PROCFS_ROOT")) && *v ? v : "/proc";
    cfg->nvml_library = (v = getenv("IPW_NVML_LIBRARY")) && *v ? v : NULL;
    cfg->rocm_library = (v = getenv("IPW_ROCM_SMI_LIBRARY")) && *v ? v : NULL;
    cfg->powermetrics_command = (v = getenv("IPW_POWERMETRICS")) && *v ? v : NULL;
    cfg->cuda_visible_devices = getenv("CUDA_VISIBLE_DEVICES");
    cfg->interval_ms = 50;
    cfg->cpu_tdp_w = (v = getenv("IPW_CPU_TDP")) && *v ? strtod(v, NULL) : 0;
    cfg->cpu_idle_w = (v = getenv("IPW_CPU_IDLE")) && *v ? strtod(v, NULL) : 0;
}

static void append_note(char *buf, size_t size, const char *fmt, const char *arg)
{
    size_t len = strlen(buf);
    if (len + 3 >= size)
        return;
    if (len)
        len += (size_t)snprintf(buf + len, size - len, "; ");
    if (len < size)
        snprintf(buf + len, size - len, fmt, arg);
}

/* GPU collectors also report CPU package and DRAM energy when RAPL is readable, because on a
 * GPU box the host's share of the energy still matters. */
static void open_cpu_companion(struct ipw_collector *c)
{
    if (c->cfg.no_cpu_companion || !(c->info.caps & IPW_CAP_CPU_COMPANION))
        return;
    struct ipw_collector *rapl = calloc(1, sizeof *rapl);
    if (!rapl)
        return;
    rapl->ops = &ipw_collector_rapl;
    rapl->cfg = c->cfg;
    ipw_errbuf eb = {0};
    if (rapl->ops->open(rapl, &eb) != IPW_OK) {
        append_note(c->info.notes, sizeof c->info.notes, "CPU energy unavailable (%s)", eb.msg);
        free(rapl);
        return;
    }
    c->cpu_companion = rapl;
}

static ipw_err open_one(const struct ipw_collector_ops *ops, const struct ipw_collector_config *cfg,
                        struct ipw_collector **out, ipw_errbuf *eb)
{
    struct ipw_collector *c = calloc(1, sizeof *c);
    if (!c)
        return ipw_fail(eb, IPW_E_NOMEM, "out of memory opening collector %s", ops->name);
    c->ops = ops;
    c->cfg = *cfg;
    snprintf(c->info.platform, sizeof c->info.platform, "%s", ops->name);
    c->info.caps = ops->caps;
    c->info.main_domain = ops->main_domain;
    ipw_err e = ops->open(c, eb);
    if (e != IPW_OK) {
        free(c);
        return e;
    }
    ipw_errbuf mb = {0};
    if (ipw_meminfo_open(cfg->procfs_root, &c->meminfo, &mb) != IPW_OK)
        append_note(c->info.notes, sizeof c->info.notes, "%s", mb.msg);
    open_cpu_companion(c);
    *out = c;
    return IPW_OK;
}

ipw_err ipw_collector_open(const char *name, const struct ipw_collector_config *cfg_in,
                           struct ipw_collector **out, ipw_errbuf *eb)
{
    struct ipw_collector_config cfg;
    if (cfg_in)
        cfg = *cfg_in;
    else
        ipw_collector_config_init(&cfg);
    *out = NULL;
    if (name && *name && strcmp(name, "auto") != 0) {
        const struct ipw_collector_ops *ops = ipw_collector_lookup(name);
        if (!ops)
            return ipw_fail(eb, IPW_E_INVALID, "unknown collector '%s': use one of %s", name,
                            ipw_collector_choices_text());
        ipw_err e = open_one(ops, &cfg, out, eb);
        if (e != IPW_OK)
            ipw_err_prefix(eb, "collector %s", ops->name);
        return e;
    }
    char log[sizeof((struct ipw_collector *)0)->detect_log] = "";
    for (const struct ipw_collector_ops *const *p = ipw_collector_auto_order(); *p; p++) {
        ipw_errbuf why = {0};
        struct ipw_collector *c = NULL;
        if (open_one(*p, &cfg, &c, &why) == IPW_OK) {
            snprintf(c->detect_log, sizeof c->detect_log, "%s", log);
            ipw_debug("collector: auto-detected %s%s%s", (*p)->name, log[0] ? " after " : "", log);
            *out = c;
            return IPW_OK;
        }
        size_t len = strlen(log);
        snprintf(log + len, sizeof log - len, "%s%s: %s", len ? "; " : "", (*p)->name, why.msg);
    }
    return ipw_fail(eb, IPW_E_NOTFOUND, "no telemetry collector could be opened (%s)", log);
}

ipw_err ipw_collector_sample(struct ipw_collector *c, struct ipw_reading *r,
                             struct ipw_device_reading *dev, ipw_errbuf *eb)
{
    ipw_reading_clear(r);
    if (dev && c->info.ndev)
        memset(dev, 0, c->info.ndev * sizeof *dev);
    r->mono_ns = ipw_mono_ns();
    r->real_ns = ipw_real_ns();
    ipw_errbuf local = {0};
    ipw_err e = c->ops->sample(c, r, dev, &local);
    if (c->cpu_companion) {
        struct ipw_reading cr;
        ipw_reading_clear(&cr);
        cr.mono_ns = r->mono_ns;
        cr.real_ns = r->real_ns;
        /* A companion tick that failed in part (one RAPL file) still carries the domains it
         * read; what it could not read stays unset. */
        (void)c->cpu_companion->ops->sample(c->cpu_companion, &cr, NULL, NULL);
        static const ipw_metric copy[] = {IPW_M_CPU_POWER_W, IPW_M_CPU_ENERGY_J,
                                          IPW_M_DRAM_POWER_W, IPW_M_DRAM_ENERGY_J};
        for (size_t i = 0; i < sizeof copy / sizeof copy[0]; i++)
            if (ipw_reading_has(&cr, copy[i]))
                ipw_reading_set(r, copy[i], cr.v[copy[i]]);
        r->energy_source[IPW_DOMAIN_CPU] = cr.energy_source[IPW_DOMAIN_CPU];
        r->energy_source[IPW_DOMAIN_DRAM] = cr.energy_source[IPW_DOMAIN_DRAM];
    }
    double used;
    if (!ipw_reading_has(r, IPW_M_CPU_MEM_USED_MB) && c->meminfo &&
        ipw_meminfo_used_mb_cached(c->meminfo, r->mono_ns, c->cfg.meminfo_interval_ns, &used) ==
            IPW_OK)
        ipw_reading_set(r, IPW_M_CPU_MEM_USED_MB, used);
    c->samples++;
    if (e != IPW_OK) {
        c->failures++;
        snprintf(c->last_error, sizeof c->last_error, "%s", local.msg);
        if (eb)
            *eb = local;
    }
    return e;
}

void ipw_collector_close(struct ipw_collector *c)
{
    if (!c)
        return;
    if (c->cpu_companion) {
        c->cpu_companion->ops->close(c->cpu_companion);
        free(c->cpu_companion);
    }
    if (c->ops && c->ops->close)
        c->ops->close(c);
    ipw_meminfo_close(c->meminfo);
    free(c);
}

const char *ipw_collector_name(const struct ipw_collector *c)
{
    return c ? c->info.platform : "none";
}

const struct ipw_collector_info *ipw_collector_info(const struct ipw_collector *c)
{
    return &c->info;
}

const char *ipw_collector_detect_log(const struct ipw_collector *c) { return c->detect_log; }

const char *ipw_collector_last_error(const struct ipw_collector *c)
{
    return c ? c->last_error : "";
}

double ipw_integrator_add(struct ipw_integrator *it, int64_t t_ns, double watts)
{
    if (it->primed && t_ns > it->last_ns)
        it->joules += 0.5 * (watts + it->last_w) * (double)(t_ns - it->last_ns) / 1e9;
    if (!it->primed || t_ns > it->last_ns) {
        it->last_ns = t_ns;
        it->last_w = watts;
    }
    it->primed = true;
    return it->joules;
}

ipw_err ipw_collector_process_gpu_share(struct ipw_collector *c, int64_t since_unix_us,
                                        const int *pids, size_t npids, double *share,
                                        ipw_errbuf *eb)
{
    if (!c || !c->ops->process_gpu_share || !(c->info.caps & IPW_CAP_PROCESS_GPU_SHARE))
        return ipw_fail(eb, IPW_E_UNSUPPORTED, "the %s collector gives no per-process GPU share",
                        c ? c->info.platform : "(no)");
    return c->ops->process_gpu_share(c, since_unix_us, pids, npids, share, eb);
}
