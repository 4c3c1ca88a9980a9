/* The client and the worker threads of a measured run (workers.h). */
#include "workers.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include "ipw/log.h"

ipw_err ipw_run_client_open(const char *client_id, const char *base_url, const json_t *params,
                            int64_t connect_timeout_ns, int64_t idle_timeout_ns,
                            const char *model, char *served, size_t served_size,
                            struct ipw_client **out, ipw_errbuf *eb)
{
    struct ipw_client_config cc = {0};
    cc.base_url = base_url;
    cc.api_key = ipw_client_api_key_from_env();
    cc.connect_timeout_ns = connect_timeout_ns;
    cc.idle_timeout_ns = idle_timeout_ns;
    cc.params = params;
    snprintf(served, served_size, "%s", model);
    ipw_err rc = ipw_client_open(client_id, &cc, out, eb);
    if (rc == IPW_OK)
        rc = ipw_client_check_ready(*out, model, served, served_size, eb);
    return rc;
}

ipw_err ipw_run_workers(int n, void *(*fn)(void *ud), void *ud, const char *what,
                        ipw_errbuf *eb)
{
    pthread_t *th = calloc(n > 0 ? (size_t)n : 1, sizeof *th);
    int started = 0;
    for (int i = 0; th && i < n; i++)
        if (pthread_create(&th[i], NULL, fn, ud) == 0)
            started++;
    for (int i = 0; i < started; i++)
        pthread_join(th[i], NULL);
    free(th);
    return started ? IPW_OK : ipw_fail(eb, IPW_E_NOMEM, "cannot start %s threads", what);
}

ipw_err ipw_run_queue_fill(struct ipw_run_queue *q, size_t total,
                           bool (*is_done)(void *ud, size_t i), void *ud, const char *what,
                           ipw_errbuf *eb)
{
    q->npending = 0;
    q->pending = malloc((total ? total : 1) * sizeof *q->pending);
    if (!q->pending)
        return ipw_fail(eb, IPW_E_NOMEM, "out of memory listing the %s to run", what);
    for (size_t i = 0; i < total; i++)
        if (!is_done || !is_done(ud, i))
            q->pending[q->npending++] = i;
    if (q->npending < total)
        ipw_info("resuming: %zu of %zu %s already finished", total - q->npending, total, what);
    return IPW_OK;
}

bool ipw_run_queue_stopped(struct ipw_run_queue *q)
{
    return atomic_load(&q->abort) || (q->stop_requested && q->stop_requested());
}

void ipw_run_queue_abort(struct ipw_run_queue *q)
{
    atomic_store(&q->abort, true);
}

bool ipw_run_queue_take(struct ipw_run_queue *q, size_t *index)
{
    if (ipw_run_queue_stopped(q))
        return false;
    size_t i = atomic_fetch_add(&q->next, 1);
    if (i >= q->npending)
        return false;
    *index = q->pending[i];
    return true;
}

int ipw_run_queue_threads(const struct ipw_run_queue *q, int concurrency)
{
    int n = concurrency > 0 ? concurrency : 1;
    if ((size_t)n > q->npending)
        n = (int)q->npending;
    return n;
}

void ipw_run_queue_free(struct ipw_run_queue *q)
{
    free(q->pending);
    q->pending = NULL;
    q->npending = 0;
}
