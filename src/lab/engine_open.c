/* Opening and closing the lab engine: the inference client (server up, model served), a probe
 * client for the bare prompt's token count, the telemetry (any collector or remote monitors;
 * no readable counter is an error that says what was tried), the server's process for E_llm
 * (--server-pid PID|auto|none) and the Scaphandre exporter. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "engine_priv.h"
#include "ipw/clock.h"
#include "ipw/log.h"

static json_t *request_params(const struct ipw_lab_engine_config *cfg, long max_tokens)
{
    json_t *p = cfg->client_params ? json_deep_copy(cfg->client_params) : json_object();
    if (!json_is_object(p)) {
        json_decref(p);
        p = json_object();
    }
    json_object_set_new(p, "max_tokens", json_integer(max_tokens));
    if (isfinite(cfg->temperature))
        json_object_set_new(p, "temperature", json_real(cfg->temperature));
    if (cfg->seed >= 0)
        json_object_set_new(p, "seed", json_integer(cfg->seed));
    return p;
}

static ipw_err open_client(const struct ipw_lab_engine_config *cfg, const json_t *params,
                           struct ipw_client **out, ipw_errbuf *eb)
{
    struct ipw_client_config cc = {0};
    cc.base_url = cfg->base_url;
    cc.api_key = ipw_client_api_key_from_env();
    cc.connect_timeout_ns = cfg->connect_timeout_ns;
    cc.idle_timeout_ns = cfg->idle_timeout_ns;
    cc.params = params;
    return ipw_client_open(cfg->client, &cc, out, eb);
}

/* What runs the server: a pid given, found from the URL's port, or none. Not finding it is not
 * fatal: E_llm then falls back (Scaphandre, else the total) and the log says why. */
static void resolve_server(struct ipw_lab_engine *e)
{
    const char *how = e->cfg.server_pid ? e->cfg.server_pid : "auto";
    e->server_pid = 0;
    if (strcmp(how, "none") == 0)
        return;
    if (strcmp(e->cfg.client, "sim") == 0) {
        ipw_info("E_llm: the sim client runs inside ipw, so there is no server process to "
                 "attribute; E_llm is the total");
        return;
    }
    if (!e->ts.local && strcmp(how, "auto") == 0) {
        ipw_info("E_llm: energy comes from remote monitors; give --server-pid to attribute a "
                 "local process");
        return;
    }
    if (strcmp(how, "auto") != 0) {
        char *end;
        long pid = strtol(how, &end, 10);
        char path[1200];
        snprintf(path, sizeof path, "%s/%ld", e->procfs, pid);
        struct stat st;
        if (*end || pid <= 0 || stat(path, &st) != 0) {
            ipw_warn("E_llm: --server-pid %s is not a running process here; E_llm falls back",
                     how);
            return;
        }
        e->server_pid = (int)pid;
        return;
    }
    int port = ipw_lab_url_port(e->client->base_url);
    ipw_errbuf eb = {0};
    int pid;
    if (port <= 0 || ipw_lab_find_listener(e->procfs, port, &pid, &eb) != IPW_OK) {
        ipw_warn("E_llm: server process not found (%s); E_llm falls back",
                 eb.msg[0] ? eb.msg : "the URL has no port");
        return;
    }
    e->server_pid = pid;
    ipw_info("E_llm: server process %d listens on port %d", pid, port);
}

/* The detection log ("macos: why; nvidia: why; ...") cut to one short reason per collector, so
 * that every collector tried is named in a one-line message. */
static void tried_summary(const char *log, char *out, size_t size)
{
    size_t len = 0;
    out[0] = '\0';
    for (const struct ipw_collector_ops *const *p = ipw_collector_auto_order(); *p; p++) {
        char key[40];
        snprintf(key, sizeof key, "%s: ", ipw_collector_ops_name(*p));
        const char *at = strstr(log, key);
        if (!at)
            continue;
        at += strlen(key);
        /* the reason ends where the next collector's entry starts */
        const char *end = at + strlen(at);
        for (const struct ipw_collector_ops *const *q = ipw_collector_auto_order(); *q; q++) {
            char next[48];
            snprintf(next, sizeof next, "; %s: ", ipw_collector_ops_name(*q));
            const char *n = strstr(at, next);
            if (n && n < end)
                end = n;
        }
        int rl = (int)(end - at) > 60 ? 60 : (int)(end - at);
        len += (size_t)snprintf(out + len, size > len ? size - len : 0, "%s%s (%.*s%s)",
                                len ? ", " : "", ipw_collector_ops_name(*p), rl, at, end - at > 60 ? "…" : "");
        if (len >= size)
            break;
    }
}

ipw_err ipw_lab_engine_open(const struct ipw_lab_engine_config *cfg, struct ipw_lab_engine **out,
                            ipw_errbuf *eb)
{
    *out = NULL;
    if (!cfg->client || !ipw_client_lookup(cfg->client))
        return ipw_fail(eb, IPW_E_INVALID, "unknown client '%s'; use %s",
                        cfg->client ? cfg->client : "", ipw_client_choices_text());
    if (!cfg->model || !*cfg->model)
        return ipw_fail(eb, IPW_E_INVALID, "no model given; pass --model NAME");
    struct ipw_lab_engine *e = calloc(1, sizeof *e);
    if (!e)
        return ipw_fail(eb, IPW_E_NOMEM, "out of memory opening the lab");
    e->cfg = *cfg;
    const char *proc = cfg->procfs_root ? cfg->procfs_root : getenv("IPW_PROCFS_ROOT");
    snprintf(e->procfs, sizeof e->procfs, "%s", proc && *proc ? proc : "/proc");
    /* the machine's CPU time from where the collectors read it, so that a modelled CPU power
     * (cpu-model) and the tree's share of it divide the same load */
    const char *mach = getenv("IPW_PROCFS_ROOT");
    snprintf(e->machine_procfs, sizeof e->machine_procfs, "%s", mach && *mach ? mach : "/proc");
    const char *su = cfg->scaphandre_url ? cfg->scaphandre_url : getenv("SCAPHANDRE_URL");
    const char *sm = cfg->scaphandre_match ? cfg->scaphandre_match
                                           : getenv("SCAPHANDRE_OLLAMA_MATCH");
    snprintf(e->scaph_url, sizeof e->scaph_url, "%s", su ? su : "");
    snprintf(e->scaph_match, sizeof e->scaph_match, "%s", sm && *sm ? sm : "ollama");

    e->params = request_params(cfg, cfg->max_tokens > 0 ? cfg->max_tokens : 1000);
    json_t *probe_params = request_params(cfg, 1);
    ipw_err rc = open_client(cfg, e->params, &e->client, eb);
    if (rc == IPW_OK)
        rc = ipw_client_check_ready(e->client, cfg->model, e->model, sizeof e->model, eb);
    if (rc == IPW_OK && open_client(cfg, probe_params, &e->probe, NULL) != IPW_OK)
        e->probe = NULL; /* the overhead is then estimated */
    json_decref(probe_params);

    if (rc == IPW_OK) {
        bool sim = strcmp(cfg->client, "sim") == 0;
        struct ipw_telemetry_session_config tc = {
            .monitors = cfg->monitors,
            .n_monitors = cfg->n_monitors,
            .collector = cfg->collector ? cfg->collector : (sim ? "sim" : "auto"),
            .interval_ns = cfg->interval_ns > 0 ? cfg->interval_ns : 50 * IPW_NS_PER_MS,
            .sim_hardware = json_string_value(json_object_get(cfg->client_params, "hardware")),
            .sim_model = json_string_value(json_object_get(cfg->client_params, "model")),
            .cpu_tdp_w = cfg->cpu_tdp_w,
            .cpu_idle_w = cfg->cpu_idle_w,
        };
        rc = ipw_telemetry_session_open(&tc, &e->ts, eb);
        e->ts_open = rc == IPW_OK;
    }
    /* a modelled collector that auto-detection fell back to (cpu-model) is no measurement
     * either; asked for by name it is the user's choice */
    bool modelled_fallback = (e->ts.info.caps & IPW_CAP_MODELLED) && e->ts.collector &&
                             ipw_collector_detect_log(e->ts.collector)[0];
    if (rc == IPW_OK && (!(e->ts.info.caps & IPW_CAP_ENERGY) || modelled_fallback)) {
        /* never show zeros as measurements: say what was tried and what is possible */
        char tried[400] = "the null collector was chosen";
        if (e->ts.collector && ipw_collector_detect_log(e->ts.collector)[0])
            tried_summary(ipw_collector_detect_log(e->ts.collector), tried, sizeof tried);
        /* the offer first: the list of what was tried can be long and is cut to fit */
        rc = ipw_fail(eb, IPW_E_UNSUPPORTED,
                      "no energy counter is readable here, so nothing can be measured: use "
                      "--client sim for modelled runs, or 'ipw lab estimate' for an estimate "
                      "from coefficients (%s%s)",
                      e->ts.local ? "tried: " : "the energy monitor reads none: ", tried);
    }
    if (rc != IPW_OK) {
        ipw_lab_engine_close(e);
        return rc;
    }
    ipw_telemetry_session_log_notes(&e->ts);
    resolve_server(e);
    if (e->server_pid > 0 &&
        ipw_lab_proctree_open(e->procfs, e->machine_procfs, e->server_pid, &e->tree, eb) != IPW_OK) {
        ipw_lab_engine_close(e);
        return IPW_E_NOMEM;
    }
    if (e->tree) { /* the first snapshot lists every process: not inside the first run */
        struct ipw_lab_cpu_snapshot warm;
        ipw_lab_proctree_snapshot(e->tree, &warm, NULL);
    }
    *out = e;
    return IPW_OK;
}

void ipw_lab_engine_close(struct ipw_lab_engine *e)
{
    if (!e)
        return;
    if (e->ts_open)
        ipw_telemetry_session_close(&e->ts);
    ipw_client_close(e->client);
    ipw_client_close(e->probe);
    ipw_lab_proctree_close(e->tree);
    json_decref(e->params);
    free(e);
}
