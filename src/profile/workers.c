/* The client and the worker threads of a measured run (workers.h). */
#include "workers.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

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
