/* What every measured run shares, whether it sends a dataset's prompts (profile/runner.c) or
 * runs agents (agent/run.c): opening the client it measures, and its worker threads. */
#ifndef IPW_PROFILE_WORKERS_H
#define IPW_PROFILE_WORKERS_H

#include <jansson.h>
#include <stdatomic.h>
#include <stdbool.h>
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

/* The work of a run: the indexes (records, tasks) still to run, handed out one at a time to
 * the worker threads, and the one stop check every thread and phase asks: an abort (a write
 * failed, too many failures) or the user's stop request. */
struct ipw_run_queue {
    size_t *pending; /* indexes still to run, in order */
    size_t npending;
    atomic_size_t next;
    atomic_bool abort;
    int (*stop_requested)(void); /* may be NULL */
};

/* Fills q with every index below total that is_done(ud, i) says is not finished yet (all of
 * them when is_done is NULL), and logs "resuming: N of M <what> already finished" when some
 * are. IPW_E_NOMEM when the list cannot be allocated. */
ipw_err ipw_run_queue_fill(struct ipw_run_queue *q, size_t total,
                           bool (*is_done)(void *ud, size_t i), void *ud, const char *what,
                           ipw_errbuf *eb);

/* True when the run must stop: aborted, or the user asked. */
bool ipw_run_queue_stopped(struct ipw_run_queue *q);

/* Stops every worker after the item it is on. */
void ipw_run_queue_abort(struct ipw_run_queue *q);

/* The next index to run into *index; false when the run stops or nothing is left. */
bool ipw_run_queue_take(struct ipw_run_queue *q, size_t *index);

/* How many worker threads to start: the configured concurrency (at least 1), never more than
 * the items left. */
int ipw_run_queue_threads(const struct ipw_run_queue *q, int concurrency);

void ipw_run_queue_free(struct ipw_run_queue *q);

#endif
