/* The lab engine's state, shared by engine.c (the runs) and engine_open.c (opening the client,
 * the telemetry and the server's process). Not a public interface. */
#ifndef IPW_LAB_ENGINE_PRIV_H
#define IPW_LAB_ENGINE_PRIV_H

#include <stdatomic.h>

#include "ipw/client.h"
#include "ipw/lab.h"
#include "ipw/telemetry_session.h"

struct ipw_lab_engine {
    struct ipw_lab_engine_config cfg;
    char model[256];          /* as the server knows it */
    json_t *params;           /* request parameters of the measured runs */
    struct ipw_client *client;
    struct ipw_client *probe; /* the same server, max_tokens 1: bare prompt token counts */
    struct ipw_telemetry_session ts;
    bool ts_open;
    int server_pid; /* 0: no process tree */
    struct ipw_lab_proctree *tree; /* tracks server_pid's descendants */
    char procfs[1024];         /* the server's processes */
    char machine_procfs[1024]; /* /proc/stat: where the collectors read the machine's load */
    char scaph_url[1024], scaph_match[128];
    atomic_bool cancel;
    atomic_bool busy;
};

#endif
