/* The options every measuring command (ipw profile, ipw run) takes to reach its inference
 * server and its telemetry, written once: the option table entries (two groups, so that each
 * command keeps them beside its own options), their defaults, and their checks. */
#ifndef IPW_CLI_MEASURE_OPTS_H
#define IPW_CLI_MEASURE_OPTS_H

#include <jansson.h>
#include <stdint.h>

#include "ipw/client.h"
#include "ipw/collector.h"
#include "ipw/options.h"

struct ipw_cli_measure {
    const char *client, *model, *base_url;
    struct ipw_strlist cparams;
    int64_t connect_timeout, idle_timeout;
    struct ipw_strlist monitors;
    const char *collector;
    long interval_ms;
    json_t *client_params; /* --client-param parsed by ipw_cli_measure_check (caller's) */
};

/* The defaults: 10 s to connect, 300 s of a silent stream, 50 ms sampling. */
void ipw_cli_measure_init(struct ipw_cli_measure *m);

/* The server: --client, --model, --client-base-url, --client-param and the two timeouts. */
#define IPW_CLI_OPT_SERVER(m)                                                                  \
    {"client", IPW_OPT_CHOICE, &(m).client, "NAME", "inference client (required)", 0, 0,       \
     ipw_client_choices(), 0},                                                                 \
    {"model", IPW_OPT_STRING, &(m).model, "NAME",                                              \
     "model name as the server knows it (required)", 0, 0, NULL, 0},                           \
    {"client-base-url", IPW_OPT_STRING, &(m).base_url, "URL",                                  \
     "server URL (default per client: ollama http://127.0.0.1:11434, vllm "                    \
     "http://127.0.0.1:8000, openai https://api.openai.com/v1)", 0, 0, NULL, 0},               \
    {"client-param", IPW_OPT_LIST, &(m).cparams, "K=V",                                        \
     "request parameter, e.g. max_tokens=256 or temperature=0 (repeatable; max_tokens "        \
     "defaults to 4096)", 0, 0, NULL, 0},                                                      \
    {"connect-timeout", IPW_OPT_DURATION, &(m).connect_timeout, "DURATION",                    \
     "connect timeout, more than 0 (default 10s)", 0, 0, NULL, 0},                             \
    {"idle-timeout", IPW_OPT_DURATION, &(m).idle_timeout, "DURATION",                          \
     "a stream silent this long fails the request, more than 0 (default 300s)", 0, 0, NULL, 0}

/* The telemetry: --monitor, --collector, --interval-ms. */
#define IPW_CLI_OPT_TELEMETRY(m)                                                               \
    {"monitor", IPW_OPT_LIST, &(m).monitors, "local|HOST:PORT",                                \
     "telemetry source: local (default), or an energy monitor's HOST:PORT; repeat for "        \
     "several nodes (their energies add up)", 0, 0, NULL, 0},                                  \
    {"collector", IPW_OPT_CHOICE, &(m).collector, "NAME",                                      \
     "local collector (default auto; sim for --client sim)", 0, 0, ipw_collector_choices(),    \
     0},                                                                                       \
    {"interval-ms", IPW_OPT_INT, &(m).interval_ms, "MS",                                       \
     "sampling period in milliseconds, 1 to 10000 (default 50)", 1, 10000, NULL, 0}

/* After parsing: --client and --model given, the base URL possible, at most IPW_MAX_SOURCES
 * monitors each a HOST:PORT (or local), both timeouts above 0. 0, or 2 after one line
 * "<prog>: <what is wrong>" on stderr. */
int ipw_cli_measure_check(const char *prog, struct ipw_cli_measure *m);
/* --client-param parsed into m->client_params (the caller's to decref): 0, or 2 after one
 * line on stderr. The last check, as it allocates. */
int ipw_cli_measure_params(const char *prog, struct ipw_cli_measure *m);

#endif
