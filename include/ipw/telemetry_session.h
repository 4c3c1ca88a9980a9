/* A measurement's view of telemetry: one local sampler with exact boundary snapshots, or one
 * push-fed sampler per remote monitor (boundaries interpolated), behind one interface. Used by
 * the profiler, the lab and agent runs alike; implemented in src/profile/telemetry_session.c
 * (it rests on the profiler's attribution of energy between snapshots). */
#ifndef IPW_TELEMETRY_SESSION_H
#define IPW_TELEMETRY_SESSION_H

#include <jansson.h>
#include <stdbool.h>

#include "ipw/attribution.h"
#include "ipw/collector.h"
#include "ipw/remote.h"
#include "ipw/sysinfo.h"

struct ipw_telemetry_session {
    struct ipw_energy_sources src;
    bool local;                     /* snapshots possible */
    struct ipw_collector *collector; /* local only */
    struct ipw_remote *remote;      /* remote monitors (summed into one sampler) */
    char platform[16];
    char collector_name[32];
    struct ipw_collector_info info; /* identity of the (first) source's accelerator */
    struct ipw_system_info sys;
    int64_t interval_ns;
    char monitors_desc[1024]; /* "local" or "host1:50053,host2:50053" */
};

struct ipw_telemetry_session_config {
    const char *const *monitors; /* "local" or HOST:PORT; NULL/0 = local */
    size_t n_monitors;
    const char *collector;       /* for local */
    int64_t interval_ns;
    const char *sim_hardware, *sim_model; /* sim collector */
    double cpu_tdp_w, cpu_idle_w; /* cpu-model coefficients; 0: $IPW_CPU_TDP/IDLE or defaults */
};

ipw_err ipw_telemetry_session_open(const struct ipw_telemetry_session_config *cfg,
                                   struct ipw_telemetry_session *ts, ipw_errbuf *eb);
/* Log the fallbacks the collector took (after the run is known to start, so that an early
 * error stays one line). */
void ipw_telemetry_session_log_notes(const struct ipw_telemetry_session *ts);
/* Boundary reading: a synchronous snapshot locally; remotely just the time (returns now). */
int64_t ipw_telemetry_session_mark(struct ipw_telemetry_session *ts, int64_t client_ns);
/* Remote sources need the readings after t before t can be interpolated: wait for them. */
ipw_err ipw_telemetry_session_settle(struct ipw_telemetry_session *ts, int64_t t, ipw_errbuf *eb);
void ipw_telemetry_session_close(struct ipw_telemetry_session *ts);
json_t *ipw_telemetry_session_gpu_info(const struct ipw_telemetry_session *ts);
json_t *ipw_telemetry_session_system_info(const struct ipw_telemetry_session *ts);

#endif
