/* Several monitors as one source: their identities merged (refusing two that measure the same
 * hardware) and their readings summed into one more push-fed sampler. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "ipw/clock.h"
#include "telemetry/remote_impl.h"

/* Two monitors measure the same thing when their first readings name the same host, the same
 * collector and the same devices: summing them would count that hardware twice. */
static bool same_source(const struct link *a, const struct link *b)
{
    if (strcmp(a->si.host_name, b->si.host_name) != 0 ||
        strcmp(a->info.platform, b->info.platform) != 0 || a->info.ndev != b->info.ndev)
        return false;
    for (unsigned d = 0; d < a->info.ndev; d++)
        if (a->info.dev[d].index != b->info.dev[d].index ||
            strcmp(a->info.dev[d].uuid, b->info.dev[d].uuid) != 0 ||
            strcmp(a->info.dev[d].name, b->info.dev[d].name) != 0)
            return false;
    return true;
}

/* Build the combined identity from the monitors' first readings. */
ipw_err ipw_remote_merge_info(struct ipw_remote *r, ipw_errbuf *eb)
{
    for (size_t i = 0; i < r->n; i++)
        for (size_t j = i + 1; j < r->n; j++)
            if (same_source(&r->links[i], &r->links[j]))
                return ipw_fail(eb, IPW_E_INVALID,
                                "monitors %s and %s measure the same hardware (host %s, %s "
                                "collector, %u devices): their energies would be counted twice; "
                                "give each monitor once",
                                r->links[i].target, r->links[j].target,
                                r->links[i].si.host_name[0] ? r->links[i].si.host_name : "?",
                                r->links[i].info.platform, r->links[i].info.ndev);
    if (r->n == 1) {
        r->info = r->links[0].info;
        r->si = r->links[0].si;
        return IPW_OK;
    }
    memset(&r->info, 0, sizeof r->info);
    r->si = r->links[0].si;
    snprintf(r->info.platform, sizeof r->info.platform, "%s", r->links[0].info.platform);
    r->info.main_domain = r->links[0].info.main_domain;
    r->info.caps = r->links[0].info.caps;
    for (size_t i = 0; i < r->n; i++) {
        const struct ipw_collector_info *li = &r->links[i].info;
        /* the sum has energy (or a modelled part) when any monitor does, and is a counter only
         * when every monitor's is */
        r->info.caps = ((r->info.caps | li->caps) & (IPW_CAP_ENERGY | IPW_CAP_MODELLED)) |
                       (r->info.caps & li->caps & IPW_CAP_ENERGY_COUNTER);
        if (strcmp(li->platform, r->info.platform) != 0)
            snprintf(r->info.platform, sizeof r->info.platform, "mixed");
        if (li->main_domain == IPW_DOMAIN_GPU)
            r->info.main_domain = IPW_DOMAIN_GPU;
        if (!r->info.gpu_name[0] && li->gpu_name[0]) {
            memcpy(r->info.gpu_name, li->gpu_name, sizeof li->gpu_name);
            memcpy(r->info.gpu_vendor, li->gpu_vendor, sizeof li->gpu_vendor);
            r->info.gpu_device_id = li->gpu_device_id;
            memcpy(r->info.gpu_device_type, li->gpu_device_type, sizeof li->gpu_device_type);
            memcpy(r->info.gpu_backend, li->gpu_backend, sizeof li->gpu_backend);
        }
        if (r->info.ndev + li->ndev > IPW_MAX_DEVICES)
            return ipw_fail(eb, IPW_E_INVALID,
                            "the monitors report %u devices together, more than the %d one "
                            "sampler can hold; use fewer monitors",
                            r->info.ndev + li->ndev, IPW_MAX_DEVICES);
        memcpy(&r->info.dev[r->info.ndev], li->dev, li->ndev * sizeof li->dev[0]);
        r->info.ndev += li->ndev;
    }
    return IPW_OK;
}

/* Emits one summed reading each time the slowest monitor's newest reading advances: energies
 * are integrated per monitor between emissions (interpolated by each monitor's sampler, so
 * phases need not agree); instantaneous values come from each monitor's newest reading. */
void ipw_remote_combine(struct ipw_remote *r)
{
    pthread_mutex_lock(&r->comb_lock);
    int64_t t = INT64_MAX;
    for (size_t i = 0; i < r->n; i++) {
        if (!r->links[i].pushed_any) {
            pthread_mutex_unlock(&r->comb_lock);
            return;
        }
        int64_t lm = atomic_load(&r->links[i].last_mono);
        if (lm < t)
            t = lm;
    }
    if (r->comb_started && t <= r->comb_t) {
        pthread_mutex_unlock(&r->comb_lock);
        return;
    }
    struct ipw_reading out, lr;
    struct ipw_device_reading dev[IPW_MAX_DEVICES], ldev[IPW_MAX_DEVICES];
    ipw_reading_clear(&out);
    memset(dev, 0, sizeof dev);
    if (r->comb_started) {
        for (size_t i = 0; i < r->n; i++) {
            struct ipw_energy e;
            if (ipw_sampler_energy_between(r->links[i].sampler, r->comb_t, t, &e, NULL) != IPW_OK)
                continue;
            for (int d = 0; d < IPW_DOMAIN_COUNT; d++) {
                if (e.valid & (1u << d)) {
                    r->comb_cum[d] += e.joules[d];
                    r->comb_valid |= 1u << d;
                }
            }
        }
    }
    static const ipw_metric summed[] = {IPW_M_GPU_POWER_W,      IPW_M_CPU_POWER_W,
                                        IPW_M_DRAM_POWER_W,     IPW_M_ANE_POWER_W,
                                        IPW_M_GPU_MEM_USED_MB,  IPW_M_GPU_MEM_TOTAL_MB,
                                        IPW_M_CPU_MEM_USED_MB};
    static const ipw_metric averaged[] = {IPW_M_TEMPERATURE_C, IPW_M_GPU_UTIL_PCT,
                                          IPW_M_GPU_MEMBW_UTIL_PCT, IPW_M_GPU_TENSOR_UTIL_PCT};
    int avg_n[IPW_M_COUNT] = {0};
    unsigned nd = 0;
    for (size_t i = 0; i < r->n; i++) {
        struct link *L = &r->links[i];
        if (ipw_sampler_latest(L->sampler, &lr, L->ndev ? ldev : NULL, NULL) != IPW_OK)
            continue;
        for (int d = 0; d < IPW_DOMAIN_COUNT; d++)
            if (ipw_reading_has(&lr, ipw_domain_energy_metric((ipw_domain)d)))
                r->comb_valid |= 1u << d;
        for (size_t k = 0; k < sizeof summed / sizeof summed[0]; k++)
            if (ipw_reading_has(&lr, summed[k]))
                ipw_reading_set(&out, summed[k], out.v[summed[k]] + lr.v[summed[k]]);
        for (size_t k = 0; k < sizeof averaged / sizeof averaged[0]; k++) {
            if (ipw_reading_has(&lr, averaged[k])) {
                ipw_reading_set(&out, averaged[k], out.v[averaged[k]] + lr.v[averaged[k]]);
                avg_n[averaged[k]]++;
            }
        }
        for (unsigned j = 0; j < L->ndev && nd < IPW_MAX_DEVICES; j++)
            dev[nd++] = ldev[j];
    }
    for (size_t k = 0; k < sizeof averaged / sizeof averaged[0]; k++)
        if (avg_n[averaged[k]] > 1)
            out.v[averaged[k]] /= avg_n[averaged[k]];
    for (int d = 0; d < IPW_DOMAIN_COUNT; d++) {
        if (r->comb_valid & (1u << d)) {
            ipw_reading_set(&out, ipw_domain_energy_metric((ipw_domain)d), r->comb_cum[d]);
            /* the wire has no energy source: a monitor whose platform models (sim, cpu-model)
             * is modelled, any other counts */
            out.energy_source[d] = (r->info.caps & IPW_CAP_MODELLED) ? IPW_ENERGY_MODELED
                                                                     : IPW_ENERGY_COUNTER;
        }
    }
    out.mono_ns = t;
    out.real_ns = t + (ipw_real_ns() - ipw_mono_ns());
    if (ipw_sampler_push(r->sampler, &out, r->info.ndev ? dev : NULL, NULL) == IPW_OK) {
        r->comb_started = true;
        r->comb_t = t;
    }
    pthread_mutex_unlock(&r->comb_lock);
}
