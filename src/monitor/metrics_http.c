/* The metrics endpoint: libmicrohttpd on its own thread (idle in poll when nobody scrapes),
 * answering GET /metrics with the text the monitor renders. */
#include "monitor/metrics.h"

#include <microhttpd.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "grpc/net.h"
#include "ipw/log.h"

#if MHD_VERSION < 0x00097002
typedef int MHD_Result_t;
#else
typedef enum MHD_Result MHD_Result_t;
#endif

struct ipw_metrics_http {
    struct MHD_Daemon *d;
    int fd;
    char *(*render)(void *ud);
    void *ud;
};

static MHD_Result_t reply(struct MHD_Connection *conn, unsigned status, const char *type,
                          char *body, enum MHD_ResponseMemoryMode mode)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(strlen(body), body, mode);
    if (!resp) {
        if (mode == MHD_RESPMEM_MUST_FREE)
            free(body);
        return MHD_NO;
    }
    MHD_add_response_header(resp, "Content-Type", type);
    MHD_Result_t r = MHD_queue_response(conn, status, resp);
    MHD_destroy_response(resp);
    return r;
}

static MHD_Result_t handle(void *cls, struct MHD_Connection *conn, const char *url,
                           const char *method, const char *version, const char *upload,
                           size_t *upload_size, void **con_cls)
{
    (void)version, (void)upload;
    struct ipw_metrics_http *h = cls;
    if (*con_cls == NULL) { /* first call: headers only */
        *con_cls = h;
        return MHD_YES;
    }
    if (*upload_size) {
        *upload_size = 0; /* bodies are ignored (and refused below) */
        return MHD_YES;
    }
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        return reply(conn, 405, "text/plain", (char *)"only GET is served here\n",
                     MHD_RESPMEM_PERSISTENT);
    if (strcmp(url, "/metrics") == 0) {
        char *text = h->render(h->ud);
        if (!text)
            return reply(conn, 500, "text/plain", (char *)"out of memory rendering metrics\n",
                         MHD_RESPMEM_PERSISTENT);
        return reply(conn, 200, "text/plain; version=0.0.4; charset=utf-8", text,
                     MHD_RESPMEM_MUST_FREE);
    }
    if (strcmp(url, "/") == 0)
        return reply(conn, 200, "text/html",
                     (char *)"<html><body><h1>ipw energy monitor</h1>"
                             "<p><a href=\"/metrics\">/metrics</a></p></body></html>\n",
                     MHD_RESPMEM_PERSISTENT);
    return reply(conn, 404, "text/plain", (char *)"not found: try /metrics\n",
                 MHD_RESPMEM_PERSISTENT);
}

ipw_err ipw_metrics_http_start(const char *bind, int port, char *(*render)(void *ud), void *ud,
                               struct ipw_metrics_http **out, int *bound_port, ipw_errbuf *eb)
{
    *out = NULL;
    struct ipw_metrics_http *h = calloc(1, sizeof *h);
    if (!h)
        return ipw_fail(eb, IPW_E_NOMEM, "out of memory starting the metrics endpoint");
    h->render = render;
    h->ud = ud;
    ipw_err e = ipw_net_listen_tcp(bind, port, &h->fd, bound_port, eb);
    if (e != IPW_OK) {
        free(h);
        ipw_err_prefix(eb, "metrics endpoint (--metrics-port)");
        return e;
    }
    /* Scrapes are rare and small: one polling thread, few connections, short timeouts. */
    h->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL, 0, NULL, NULL,
                            handle, h, MHD_OPTION_LISTEN_SOCKET, h->fd,
                            MHD_OPTION_CONNECTION_LIMIT, (unsigned)32,
                            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)10,
                            MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)65536, MHD_OPTION_END);
    if (!h->d) {
        close(h->fd);
        free(h);
        return ipw_fail(eb, IPW_E_IO, "cannot start the metrics HTTP server on %s:%d", bind,
                        port);
    }
    *out = h;
    return IPW_OK;
}

void ipw_metrics_http_stop(struct ipw_metrics_http *h)
{
    if (!h)
        return;
    MHD_stop_daemon(h->d); /* closes the listening socket too (it was never quiesced) */
    free(h);
}
