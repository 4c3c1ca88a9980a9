/* Polls a Scaphandre exporter during one run (see scaph_poll.h). Each poll's value is the
 * exporter's mean power since its own previous refresh, so it is charged to the interval that
 * ends at the poll (right rectangle); the first poll only opens the window. */
#include "scaph_poll.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "inference/http_stream.h"
#include "ipw/clock.h"
#include "ipw/log.h"

#define MAX_METRICS_BODY (8 * 1024 * 1024)

struct lab_scaph_poller {
    char url[1024], match[128];
    int64_t min_ns;
    pthread_t th;
    atomic_bool stop;
    pthread_mutex_t lock; /* integral, err */
    struct ipw_lab_scaph_integral it;
    ipw_errbuf err;
};

static ipw_err poll_once(struct lab_scaph_poller *p, ipw_errbuf *eb)
{
    struct ipw_http_call call = {.method = "GET",
                                 .url = p->url,
                                 .accept = "text/plain",
                                 .connect_timeout_ns = 2 * IPW_NS_PER_SEC,
                                 .idle_timeout_ns = 5 * IPW_NS_PER_SEC,
                                 .max_body = MAX_METRICS_BODY};
    struct ipw_http_reply reply;
    memset(&reply, 0, sizeof reply);
    ipw_err rc = ipw_http_call(&call, &reply, eb);
    int64_t t = ipw_mono_ns();
    if (rc == IPW_OK && reply.status != 200)
        rc = ipw_fail(eb, IPW_E_PROTOCOL, "Scaphandre at %s answered HTTP %ld", p->url,
                      reply.status);
    double w = 0;
    int n = 0;
    if (rc == IPW_OK)
        rc = ipw_lab_scaph_parse(reply.body.p ? reply.body.p : "", reply.body.len, p->match, &w, &n,
                                 eb);
    ipw_http_reply_free(&reply);
    if (rc == IPW_OK) {
        pthread_mutex_lock(&p->lock);
        ipw_lab_scaph_add(&p->it, t, w);
        pthread_mutex_unlock(&p->lock);
    }
    return rc;
}

static void *loop(void *arg)
{
    struct lab_scaph_poller *p = arg;
    while (!atomic_load(&p->stop)) {
        pthread_mutex_lock(&p->lock);
        int64_t next = p->it.last_ns + p->min_ns;
        pthread_mutex_unlock(&p->lock);
        while (!atomic_load(&p->stop) && ipw_mono_ns() < next)
            ipw_sleep_ns(20 * IPW_NS_PER_MS);
        if (atomic_load(&p->stop))
            break;
        ipw_errbuf eb = {0};
        if (poll_once(p, &eb) != IPW_OK) {
            pthread_mutex_lock(&p->lock);
            if (p->err.code == IPW_OK)
                p->err = eb;
            pthread_mutex_unlock(&p->lock);
            break;
        }
    }
    return NULL;
}

ipw_err lab_scaph_start(const char *url, const char *match, int64_t min_interval_ns,
                        struct lab_scaph_poller **out, ipw_errbuf *eb)
{
    struct lab_scaph_poller *p = calloc(1, sizeof *p);
    if (!p)
        return ipw_fail(eb, IPW_E_NOMEM, "out of memory starting the Scaphandre poller");
    snprintf(p->url, sizeof p->url, "%s", url);
    snprintf(p->match, sizeof p->match, "%s", match);
    p->min_ns = min_interval_ns;
    pthread_mutex_init(&p->lock, NULL);
    ipw_err rc = poll_once(p, eb);
    if (rc == IPW_OK && pthread_create(&p->th, NULL, loop, p) != 0)
        rc = ipw_fail(eb, IPW_E_NOMEM, "cannot start the Scaphandre poller thread");
    if (rc != IPW_OK) {
        pthread_mutex_destroy(&p->lock);
        free(p);
        return rc;
    }
    *out = p;
    return IPW_OK;
}

ipw_err lab_scaph_stop(struct lab_scaph_poller *p, double *joules, int *polls, ipw_errbuf *eb)
{
    atomic_store(&p->stop, true);
    pthread_join(p->th, NULL);
    ipw_err rc = p->err.code;
    if (rc != IPW_OK)
        ipw_fail(eb, rc, "%s", p->err.msg);
    else {
        /* the tail: the exporter refreshes only min_interval after the last poll */
        ipw_sleep_until_ns(p->it.last_ns + p->min_ns);
        rc = poll_once(p, eb);
    }
    *joules = p->it.joules;
    *polls = p->it.polls;
    pthread_mutex_destroy(&p->lock);
    free(p);
    return rc;
}
