/* The cpu-model collector: CPU package power modelled from CPU load (/proc/stat) and the CPU's
 * TDP (data/cpu/cpu_power.csv, matched against /proc/cpuinfo's model name), DRAM power from the
 * installed memory. The last resort of auto-detection before null, for machines where no
 * counter is readable (cloud VMs, laptops without RAPL access). Nothing it reports is measured:
 * energy_source is "modeled" and its notes say "modelled from CPU load"
 * (docs/collectors/cpu-model.md). */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ipw/clock.h"
#include "ipw/collector.h"
#include "telemetry/collector_priv.h"
#include "telemetry/cpu_model.h"
#include "ipw/fsutil.h"

#define MAX_PACKAGES 64
#define PROC_MAX (4u << 20)

struct cpu_model {
    struct ipw_cpu_power_model m;
    char stat_path[4096];
    struct ipw_cpu_times last;
    int64_t last_ns;
    double cpu_j, dram_j;
    double last_p; /* the power of the last interval that had ticks */
};

/* The first "model name" of /proc/cpuinfo (x86; "Model" or "Hardware" elsewhere) and how many
 * distinct "physical id"s (packages) it lists. */
static void read_cpuinfo(const char *text, char *model, size_t mlen, unsigned *packages)
{
    int ids[MAX_PACKAGES];
    unsigned n = 0;
    model[0] = '\0';
    for (const char *p = text; p && *p;) {
        const char *eol = strchr(p, '\n');
        size_t len = eol ? (size_t)(eol - p) : strlen(p);
        const char *colon = memchr(p, ':', len);
        if (colon) {
            size_t kl = (size_t)(colon - p);
            while (kl && (p[kl - 1] == ' ' || p[kl - 1] == '\t'))
                kl--;
            const char *v = colon + 1;
            while (v < p + len && *v == ' ')
                v++;
            int vl = (int)(p + len - v);
            if (!model[0] && ((kl == 10 && strncmp(p, "model name", 10) == 0) ||
                              (kl == 5 && strncmp(p, "Model", 5) == 0) ||
                              (kl == 8 && strncmp(p, "Hardware", 8) == 0)))
                snprintf(model, mlen, "%.*s", vl, v);
            if (kl == 11 && strncmp(p, "physical id", 11) == 0) {
                int id = atoi(v);
                bool seen = false;
                for (unsigned i = 0; i < n; i++)
                    seen = seen || ids[i] == id;
                if (!seen && n < MAX_PACKAGES)
                    ids[n++] = id;
            }
        }
        p = eol ? eol + 1 : NULL;
    }
    *packages = n ? n : 1;
}

static ipw_err read_times(const char *path, struct ipw_cpu_times *t, ipw_errbuf *eb)
{
    char *text = NULL;
    size_t len = 0;
    ipw_err e = ipw_read_file(path, PROC_MAX, &text, &len, eb);
    if (e == IPW_OK)
        e = ipw_procstat_parse(text, len, t, eb);
    free(text);
    return e;
}

/* MemTotal of /proc/meminfo in GiB, 0 when unknown. */
static double installed_gib(const char *procfs)
{
    char path[4096], *text = NULL;
    size_t len = 0;
    ipw_errbuf eb = {0};
    snprintf(path, sizeof path, "%s/meminfo", procfs);
    if (ipw_read_file(path, PROC_MAX, &text, &len, &eb) != IPW_OK)
        return 0;
    const char *m = strstr(text, "MemTotal:");
    double kib = m ? strtod(m + 9, NULL) : 0;
    free(text);
    return kib / 1048576.0;
}

static ipw_err cm_open(struct ipw_collector *c, ipw_errbuf *eb)
{
    struct cpu_model *s = calloc(1, sizeof *s);
    if (!s)
        return ipw_fail(eb, IPW_E_NOMEM, "out of memory opening the cpu-model collector");
    const char *procfs = c->cfg.procfs_root;
    snprintf(s->stat_path, sizeof s->stat_path, "%s/stat", procfs);
    ipw_err e = read_times(s->stat_path, &s->last, eb);
    if (e != IPW_OK) {
        free(s);
        return e; /* no CPU load, no model: detection moves on */
    }
    s->last_ns = ipw_mono_ns();

    char path[4096], *cpuinfo = NULL, model[256];
    size_t len = 0;
    snprintf(path, sizeof path, "%s/cpuinfo", procfs);
    ipw_errbuf ib = {0};
    unsigned packages = 1;
    if (ipw_read_file(path, PROC_MAX, &cpuinfo, &len, &ib) == IPW_OK)
        read_cpuinfo(cpuinfo, model, sizeof model, &packages);
    else
        snprintf(model, sizeof model, "unknown");
    free(cpuinfo);

    /* TDP: the user's, else the table's entry for this model, else the default */
    char source[512];
    double tdp = c->cfg.cpu_tdp_w;
    if (tdp > 0) {
        snprintf(source, sizeof source, "TDP %.0f W per package given (--cpu-tdp or "
                 "IPW_CPU_TDP)", tdp);
    } else {
        struct ipw_cpu_table *table = NULL;
        e = ipw_cpu_table_load(&table, eb);
        if (e != IPW_OK) {
            ipw_err_prefix(eb, "cannot read the CPU TDP table");
            free(s);
            return e;
        }
        const char *entry = ipw_cpu_table_match(table, model, &tdp);
        if (entry) {
            snprintf(source, sizeof source, "TDP %.0f W per package from the table entry '%s' "
                     "for '%s'", tdp, entry, model);
        } else {
            tdp = IPW_CPU_DEFAULT_TDP_W;
            snprintf(source, sizeof source, "CPU model '%s' is not in the TDP table, so the "
                     "default TDP %.0f W per package is used (set --cpu-tdp W to give yours)",
                     model, tdp);
        }
        ipw_cpu_table_free(table);
    }
    s->m.tdp_w = tdp;
    s->m.packages = packages;
    s->m.full_w = IPW_CPU_FULL_FRACTION * tdp;
    s->m.idle_w = c->cfg.cpu_idle_w > 0 ? c->cfg.cpu_idle_w : IPW_CPU_IDLE_FRACTION * tdp;
    if (s->m.idle_w >= s->m.full_w) {
        ipw_fail(eb, IPW_E_INVALID, "idle power %.1f W is not below the full-load "
                 "power %.1f W (70%% of TDP %.0f W): lower --cpu-idle or raise --cpu-tdp",
                 s->m.idle_w, s->m.full_w, tdp);
        free(s);
        return IPW_E_INVALID;
    }
    s->last_p = ipw_cpu_model_power(&s->m, 0);
    double gib = installed_gib(procfs);
    s->m.dram_w = gib * IPW_DRAM_W_PER_GIB;

    struct ipw_collector_info *in = &c->info;
    in->main_domain = IPW_DOMAIN_CPU;
    in->ndev = 0;
    snprintf(in->notes, sizeof in->notes,
             "modelled from CPU load, not measured: CPU power = %u x (%.1f W idle + %.1f W x "
             "busy share); %s; idle %s; DRAM %.1f W (%.3f W/GiB x %.1f GiB installed)",
             packages, s->m.idle_w, s->m.full_w - s->m.idle_w, source,
             c->cfg.cpu_idle_w > 0 ? "given (--cpu-idle or IPW_CPU_IDLE)" : "5% of TDP",
             s->m.dram_w, IPW_DRAM_W_PER_GIB, gib);
    c->priv = s;
    return IPW_OK;
}

static ipw_err cm_sample(struct ipw_collector *c, struct ipw_reading *r,
                         struct ipw_device_reading *dev, ipw_errbuf *eb)
{
    (void)dev;
    struct cpu_model *s = c->priv;
    struct ipw_cpu_times now;
    ipw_err e = read_times(s->stat_path, &now, eb);
    if (e != IPW_OK)
        return e;
    int64_t t = r->mono_ns ? r->mono_ns : ipw_mono_ns();
    double u = ipw_cpu_busy_share(&s->last, &now);
    double dt = (double)(t - s->last_ns) / 1e9;
    /* The curve is linear in the busy share, so the power at the interval's mean share is the
     * mean power over the interval: the integral is exact for the model. With no tick since
     * the last sample the share is unknown: the last power stands. */
    double p = u >= 0 ? ipw_cpu_model_power(&s->m, u) : s->last_p;
    if (dt > 0) {
        s->cpu_j += p * dt;
        s->dram_j += s->m.dram_w * dt;
    }
    if (u >= 0) {
        s->last = now;
        s->last_p = p;
    }
    s->last_ns = t;
    ipw_reading_set(r, IPW_M_CPU_POWER_W, p);
    ipw_reading_set(r, IPW_M_CPU_ENERGY_J, s->cpu_j);
    r->energy_source[IPW_DOMAIN_CPU] = IPW_ENERGY_MODELED;
    if (s->m.dram_w > 0) {
        ipw_reading_set(r, IPW_M_DRAM_POWER_W, s->m.dram_w);
        ipw_reading_set(r, IPW_M_DRAM_ENERGY_J, s->dram_j);
        r->energy_source[IPW_DOMAIN_DRAM] = IPW_ENERGY_MODELED;
    }
    return IPW_OK;
}

static void cm_close(struct ipw_collector *c)
{
    free(c->priv);
    c->priv = NULL;
}

const struct ipw_collector_ops ipw_collector_cpu_model = {
    .name = "cpu-model",
    .aliases = NULL,
    .description = "CPU and DRAM power modelled from CPU load and TDP (no counter needed)",
    /* after every counter, before null; registry order puts it first within the rank */
    .auto_rank = 5,
    .caps = IPW_CAP_ENERGY | IPW_CAP_MODELLED,
    .main_domain = IPW_DOMAIN_CPU,
    .open = cm_open,
    .sample = cm_sample,
    .close = cm_close};
