/* What every measured run shares, whether it sends a dataset's prompts (profile/runner.c) or
 * runs agents (agent/run.c): opening the client it measures, and its worker threads. */
#ifndef IPW_PROFILE_WORKERS_H
#define IPW_PROFILE_WORKERS_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "ipw/client.h"
#include "ipw/err.h"

/* Opens client_id (the API key from the environment) and checks that the server is up and
 * serves model (ipw_client_check_ready); served receives the name the server knows it by. */
ipw_err ipw_run_client_open(const char *client_id, const char *base_url, const json_t *params,
                            int64_t connect_timeout_ns, int64_t idle_timeout_ns,
                            const char *model, char *served, size_t served_size,
                            struct ipw_client **out, ipw_errbuf *eb);

/* Runs fn(ud) on n threads (each takes its own work until none is left) and waits for all of
 * them; IPW_E_NOMEM naming `what` ("query", "task") when not one thread could start. */
ipw_err ipw_run_workers(int n, void *(*fn)(void *ud), void *ud, const char *what,
                        ipw_errbuf *eb);

#endif
