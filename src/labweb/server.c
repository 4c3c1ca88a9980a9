/* The lab's HTTP server (ipw/labweb.h): libmicrohttpd with a thread per connection (an event
 * stream blocks its thread while it waits for the next event), the guards every request
 * passes before any route sees it, bounded request bodies, and the replies. */
#include "labweb/server.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "grpc/net.h"
#include "ipw/buf.h"
#include "ipw/jsonutil.h"
#include "ipw/log.h"

#define LW_MAX_CONNECTIONS 64

struct lw_conn {
    struct ipw_buf body; /* bounded by the server's max_body */
};

static void common_headers(struct MHD_Response *resp)
{
    MHD_add_response_header(resp, "Cache-Control", "no-store");
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
    MHD_add_response_header(resp, "X-Frame-Options", "DENY");
}

lw_result lw_reply_bytes(struct MHD_Connection *conn, unsigned status, const char *type,
                         char *body, size_t len, const char *disposition)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(resp, "Content-Type", type);
    if (disposition)
        MHD_add_response_header(resp, "Content-Disposition", disposition);
    common_headers(resp);
    lw_result r = MHD_queue_response(conn, status, resp);
    MHD_destroy_response(resp);
    return r;
}

lw_result lw_reply_json(struct MHD_Connection *conn, unsigned status, json_t *body)
{
    char *text = body ? ipw_json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    if (!text)
        return MHD_NO;
    return lw_reply_bytes(conn, status, "application/json", text, strlen(text), NULL);
}

lw_result lw_reply_error(struct MHD_Connection *conn, unsigned status, const char *fmt, ...)
{
    char msg[IPW_ERRMSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return lw_reply_json(conn, status, json_pack("{s:o}", "error", ipw_json_string_lossy(msg)));
}

lw_result lw_reply_engine_error(struct MHD_Connection *conn, ipw_err e, const ipw_errbuf *eb)
{
    unsigned status = e == IPW_E_INVALID    ? 400
                      : e == IPW_E_NOTFOUND ? 404
                      : e == IPW_E_EXISTS   ? 409
                      : e == IPW_E_UNSUPPORTED ? 501
                                               : 500;
    return lw_reply_error(conn, status, "%s", eb->msg[0] ? eb->msg : ipw_err_name(e));
}

static bool state_changing(const char *method)
{
    return strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0;
}

/* The guards that need only the headers; returns 0 when the request may go on, else the HTTP
 * status of the refusal with its message in msg. */
static unsigned check_headers(struct ipw_labweb *w, struct MHD_Connection *conn,
                              const char *method, char *msg, size_t size)
{
    const char *host = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Host");
    if (!lw_host_allowed(host, w->port, w->allow_remote)) {
        snprintf(msg, size,
                 "Host '%s' is not this server's name; open the page at http://127.0.0.1:%d/",
                 host ? host : "", w->port);
        return 403;
    }
    const char *origin = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Origin");
    if (!lw_origin_allowed(origin, host)) {
        snprintf(msg, size, "requests from origin '%s' are refused; only this server's own "
                            "page may call its API", origin);
        return 403;
    }
    const char *site = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Sec-Fetch-Site");
    if (site && strcmp(site, "cross-site") == 0) {
        snprintf(msg, size, "cross-site requests are refused");
        return 403;
    }
    if (state_changing(method)) {
        const char *tok = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-IPW-Token");
        if (!lw_token_equal(tok, w->token)) {
            snprintf(msg, size, "%s needs this server's token in the X-IPW-Token header (the "
                                "page has it; `ipw lab serve` prints it)",
                     method);
            return 403;
        }
    }
    const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
    if (cl && strtoull(cl, NULL, 10) > w->max_body) {
        snprintf(msg, size, "the request body has %s bytes; the most this server takes is %zu",
                 cl, w->max_body);
        return 413;
    }
    return 0;
}

static lw_result handle(void *cls, struct MHD_Connection *conn, const char *url,
                        const char *method, const char *version, const char *upload,
                        size_t *upload_size, void **con_cls)
{
    (void)version;
    struct ipw_labweb *w = cls;
    struct lw_conn *c = *con_cls;
    if (!c) { /* the headers are in: guard before reading any body */
        char msg[IPW_ERRMSG_MAX];
        unsigned status = check_headers(w, conn, method, msg, sizeof msg);
        if (status)
            return lw_reply_error(conn, status, "%s", msg);
        c = calloc(1, sizeof *c);
        if (!c)
            return MHD_NO;
        ipw_buf_init(&c->body, w->max_body);
        *con_cls = c;
        return MHD_YES;
    }
    if (*upload_size) {
        /* Bodies without a Content-Length (chunked) are bounded here; past the bound the
         * buffer's sticky error remembers it and the rest is read and dropped. */
        ipw_buf_put(&c->body, upload, *upload_size);
        *upload_size = 0;
        return MHD_YES;
    }
    ipw_err be = ipw_buf_status(&c->body);
    if (be == IPW_E_RANGE)
        return lw_reply_error(conn, 413, "the request body is larger than the %zu bytes this "
                                         "server takes",
                              w->max_body);
    if (be != IPW_OK)
        return lw_reply_error(conn, 500, "out of memory reading the request body");
    struct lw_req r = {w, conn, method, url, ipw_buf_str(&c->body), c->body.len, NULL};
    return lw_route(&r);
}

static void completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                      enum MHD_RequestTerminationCode toe)
{
    (void)cls, (void)conn, (void)toe;
    struct lw_conn *c = *con_cls;
    if (c) {
        ipw_buf_free(&c->body);
        free(c);
        *con_cls = NULL;
    }
}

ipw_err ipw_labweb_start(const struct ipw_labweb_config *cfg, const struct ipw_labweb_engine *eng,
                         void *engine_ud, struct ipw_labweb **out, ipw_errbuf *eb)
{
    *out = NULL;
    const char *bind = cfg->bind && *cfg->bind ? cfg->bind : "127.0.0.1";
    if (!ipw_net_is_loopback(bind) && !cfg->allow_remote)
        return ipw_fail(eb, IPW_E_PERM,
                        "--bind %s would open the lab (which runs jobs on this machine) to the "
                        "network; add --allow-remote if that is what you want",
                        bind);
    struct ipw_labweb *w = calloc(1, sizeof *w);
    if (!w)
        return ipw_fail(eb, IPW_E_NOMEM, "out of memory starting the lab's web server");
    w->eng = eng;
    w->ud = engine_ud;
    w->allow_remote = cfg->allow_remote;
    w->max_body = cfg->max_body ? cfg->max_body : IPW_LABWEB_MAX_BODY;
    if (cfg->token)
        snprintf(w->token, sizeof w->token, "%s", cfg->token);
    else if (!lw_token_new(w->token)) {
        free(w);
        return ipw_fail(eb, IPW_E_IO, "cannot draw a random token for the lab's web server "
                                      "(getrandom failed)");
    }
    w->defaults = json_object();
    const char *keys[] = {"client", "base_url", "model", "collector"};
    const char *vals[] = {cfg->client, cfg->base_url, cfg->model, cfg->collector};
    for (size_t i = 0; i < 4; i++)
        if (vals[i] && *vals[i])
            json_object_set_new(w->defaults, keys[i], json_string(vals[i]));

    ipw_err e = lw_jobs_start(eng, engine_ud, &w->jobs, eb);
    int fd = -1;
    if (e == IPW_OK)
        e = ipw_net_listen_tcp(bind, cfg->port, &fd, &w->port, eb);
    if (e != IPW_OK) {
        lw_jobs_stop(w->jobs);
        json_decref(w->defaults);
        free(w);
        ipw_err_prefix(eb, "lab web server");
        return e;
    }
    w->d = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
                                MHD_USE_POLL,
                            0, NULL, NULL, handle, w, MHD_OPTION_LISTEN_SOCKET, fd,
                            MHD_OPTION_CONNECTION_LIMIT, (unsigned)LW_MAX_CONNECTIONS,
                            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)120,
                            MHD_OPTION_NOTIFY_COMPLETED, completed, w, MHD_OPTION_END);
    if (!w->d) {
        close(fd);
        lw_jobs_stop(w->jobs);
        json_decref(w->defaults);
        free(w);
        return ipw_fail(eb, IPW_E_IO, "cannot start the lab's web server on %s:%d", bind,
                        cfg->port);
    }
    if (!ipw_net_is_loopback(bind))
        ipw_warn("the lab's web page listens on %s:%d, reachable from the network: anyone who "
                 "can reach it can open the page (which carries the token) and run jobs on this "
                 "machine; the token only keeps other web pages out",
                 bind, w->port);
    *out = w;
    return IPW_OK;
}

int ipw_labweb_port(const struct ipw_labweb *w) { return w->port; }

const char *ipw_labweb_token(const struct ipw_labweb *w) { return w->token; }

void ipw_labweb_stop(struct ipw_labweb *w)
{
    if (!w)
        return;
    lw_jobs_halt(w->jobs); /* ends every event stream, so their threads can be joined */
    MHD_stop_daemon(w->d);
    lw_jobs_stop(w->jobs);
    json_decref(w->defaults);
    free(w);
}
