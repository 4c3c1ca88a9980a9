/* Opens the telemetry the profiler measures with, local or remote, and hides the difference:
 * the local sampler takes a snapshot at each query boundary (exact energy), remote monitors
 * stream and the boundaries are interpolated once the readings after them have arrived. */
#include "ipw/telemetry_session.h"

#include <stdio.h>
#include <string.h>

#include "ipw/clock.h"
#include "ipw/log.h"
#include "ipw/reading_json.h"
#include "ipw/sampler.h"

static bool is_local(const char *m) { return !m || strcmp(m, "local") == 0; }

static ipw_err open_local(const struct ipw_telemetry_session_config *cfg,
                          struct ipw_telemetry_session *ts, ipw_errbuf *eb)
{
    struct ipw_collector_config cc;
    ipw_collector_config_init(&cc);
    cc.interval_ms = (int)(cfg->interval_ns / IPW_NS_PER_MS);
    /* three snapshots per query would each make the kernel format all of /proc/meminfo: a
     * memory figure up to 100 ms old is as good for per-query memory statistics */
    cc.meminfo_interval_ns = 100 * IPW_NS_PER_MS;
    cc.sim_hardware = cfg->sim_hardware;
    cc.sim_model = cfg->sim_model;
    if (cfg->cpu_tdp_w > 0)
        cc.cpu_tdp_w = cfg->cpu_tdp_w;
    if (cfg->cpu_idle_w > 0)
        cc.cpu_idle_w = cfg->cpu_idle_w;
    ipw_err rc = ipw_collector_open(cfg->collector, &cc, &ts->collector, eb);
    if (rc != IPW_OK)
        return rc;
    struct ipw_sampler_config sc;
    ipw_sampler_config_init(&sc);
    sc.interval_ns = cfg->interval_ns;
    struct ipw_sampler *s;
    rc = ipw_sampler_create(ts->collector, &sc, &s, eb);
    if (rc == IPW_OK)
        rc = ipw_sampler_start(s, eb);
    if (rc != IPW_OK) {
        ipw_collector_close(ts->collector);
        ts->collector = NULL;
        return rc;
    }
    ts->src.n = 1;
    ts->src.s[0] = s;
    ts->src.main_domain[0] = ipw_collector_info(ts->collector)->main_domain;
    ts->local = true;
    ts->info = *ipw_collector_info(ts->collector);
    snprintf(ts->platform, sizeof ts->platform, "%s", ts->info.platform);
    snprintf(ts->collector_name, sizeof ts->collector_name, "%s", ts->info.platform);
    snprintf(ts->monitors_desc, sizeof ts->monitors_desc, "local");
    return IPW_OK;
}

ipw_err ipw_telemetry_session_open(const struct ipw_telemetry_session_config *cfg,
                                   struct ipw_telemetry_session *ts, ipw_errbuf *eb)
{
    memset(ts, 0, sizeof *ts);
    ts->interval_ns = cfg->interval_ns;
    ipw_system_info_read(&ts->sys, NULL, NULL);
    size_t n = cfg->n_monitors;
    if (n == 0 || (n == 1 && is_local(cfg->monitors[0])))
        return open_local(cfg, ts, eb);
    for (size_t i = 0; i < n; i++)
        if (is_local(cfg->monitors[i]))
            return ipw_fail(eb, IPW_E_INVALID,
                            "--monitor local cannot be combined with remote monitors; give "
                            "every node's monitor as HOST:PORT");
    struct ipw_remote_config rc;
    ipw_remote_config_init(&rc);
    rc.interval_ms = (uint32_t)(cfg->interval_ns / IPW_NS_PER_MS);
    ipw_err e = ipw_remote_open(cfg->monitors, n, &rc, &ts->remote, eb);
    if (e != IPW_OK)
        return e;
    ts->src.n = 1; /* the remote sums every monitor into one sampler */
    ts->src.s[0] = ipw_remote_sampler(ts->remote);
    ts->info = *ipw_remote_info(ts->remote);
    ts->src.main_domain[0] = ts->info.main_domain;
    ts->sys = *ipw_remote_system_info(ts->remote);
    ts->local = false;
    snprintf(ts->platform, sizeof ts->platform, "%s", ts->info.platform);
    snprintf(ts->collector_name, sizeof ts->collector_name, "remote");
    size_t len = 0;
    for (size_t i = 0; i < n && len + 2 < sizeof ts->monitors_desc; i++)
        len += (size_t)snprintf(ts->monitors_desc + len, sizeof ts->monitors_desc - len, "%s%s",
                                i ? "," : "", cfg->monitors[i]);
    return IPW_OK;
}

void ipw_telemetry_session_log_notes(const struct ipw_telemetry_session *ts)
{
    bool null = !(ts->info.caps & IPW_CAP_ENERGY);
    /* auto-detection ending in null is what a user must not miss (often: RAPL needs root) */
    if (null && ts->collector && ipw_collector_detect_log(ts->collector)[0])
        ipw_warn("telemetry: no power or energy counter is readable here (null collector), so "
                 "queries are timed and scored but get no energy; skipped %s",
                 ipw_collector_detect_log(ts->collector));
    else if (null && ts->local)
        ipw_info("telemetry: null collector: queries get no energy");
    else if (null)
        ipw_warn("telemetry: the energy monitor reads no power counter (platform null), so "
                 "queries are timed and scored but get no energy");
    else if (ts->collector && ipw_collector_detect_log(ts->collector)[0] &&
             (ts->info.caps & IPW_CAP_MODELLED)) {
        /* auto-detection found no counter and fell to the CPU model: one warning says both */
        ipw_warn("telemetry: no power or energy counter is readable here, so CPU and DRAM "
                 "energy are %s; skipped %s",
                 ts->info.notes, ipw_collector_detect_log(ts->collector));
        return;
    } else if (ts->collector && ipw_collector_detect_log(ts->collector)[0])
        /* which collectors did not apply (macOS on Linux, ...) is detail, not news */
        ipw_debug("telemetry: %s chosen; skipped %s", ipw_collector_info(ts->collector)->platform,
                  ipw_collector_detect_log(ts->collector));
    if (ts->local && !null)
        ipw_info("telemetry: %s collector, sampled every %lld ms", ts->platform,
                 (long long)(ts->interval_ns / IPW_NS_PER_MS));
    else if (!ts->local && !null)
        ipw_info("telemetry: energy monitors %s (platform %s)", ts->monitors_desc, ts->platform);
    if (ts->info.notes[0])
        ipw_warn("telemetry (%s): %s", ts->platform, ts->info.notes);
}

int64_t ipw_telemetry_session_mark(struct ipw_telemetry_session *ts, int64_t client_ns)
{
    if (!ts->local)
        return client_ns;
    struct ipw_reading r;
    ipw_errbuf eb = {0};
    if (ipw_sampler_snapshot(ts->src.s[0], &r, &eb) != IPW_OK)
        ipw_debug("boundary snapshot failed: %s", eb.msg);
    /* the snapshot went into the ring even when some values failed: its time is a boundary */
    return r.mono_ns;
}

ipw_err ipw_telemetry_session_settle(struct ipw_telemetry_session *ts, int64_t t, ipw_errbuf *eb)
{
    if (ts->local)
        return IPW_OK;
    /* wait for each remote source's first reading after t (a few sampling periods at most) */
    int64_t timeout = 4 * ts->interval_ns + 2 * IPW_NS_PER_SEC;
    for (size_t i = 0; i < ts->src.n; i++) {
        ipw_err rc = ipw_sampler_wait_until(ts->src.s[i], t, timeout, eb);
        if (rc != IPW_OK)
            return rc;
    }
    return IPW_OK;
}

void ipw_telemetry_session_close(struct ipw_telemetry_session *ts)
{
    if (ts->remote) {
        ipw_remote_close(ts->remote); /* owns its sampler */
        ts->remote = NULL;
    } else {
        for (size_t i = 0; i < ts->src.n; i++)
            ipw_sampler_destroy(ts->src.s[i]);
    }
    ts->src.n = 0;
    ipw_collector_close(ts->collector);
    ts->collector = NULL;
}

json_t *ipw_telemetry_session_gpu_info(const struct ipw_telemetry_session *ts)
{
    return ipw_gpu_info_to_json(&ts->info);
}

json_t *ipw_telemetry_session_system_info(const struct ipw_telemetry_session *ts)
{
    return ipw_system_info_to_json(&ts->sys);
}
