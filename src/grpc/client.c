/* The gRPC client: an nghttp2 client session on one socket, driven by whichever call is
 * waiting (no thread of its own). Messages of each stream are queued in a bounded buffer until
 * the caller takes them. */
#include "grpc/client.h"

#include <errno.h>
#include <nghttp2/nghttp2.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "grpc/net.h"
#include "ipw/clock.h"
#include "ipw/log.h"
#include "ipw/version.h"

#ifndef MSG_NOSIGNAL
#define MSG_NOSIGNAL 0
#endif

/* A stream's queue holds what one socket read can complete: the largest message plus slack. */
#define QUEUE_MAX (IPW_GRPC_MAX_MESSAGE + 256 * 1024)

struct ipw_grpc_stream {
    struct ipw_grpc_client *c;
    int32_t id;
    struct ipw_grpc_deframer in;
    struct ipw_buf q; /* records: 4-byte length (host order) + message */
    size_t qhead;
    struct ipw_buf req; /* framed request, sent by the data provider */
    size_t req_off;
    bool closed, abandoned, have_grpc_status;
    int http_status;
    int code;
    char msg[256];
    struct ipw_grpc_stream *prev, *next;
};

struct ipw_grpc_client {
    int fd;
    nghttp2_session *h2;
    struct ipw_net_wake wake;
    atomic_bool interrupted;
    bool lost, goaway;
    bool received;  /* any byte came from the peer */
    bool not_grpc;  /* its first bytes were no HTTP/2 frame: not a gRPC server at all */
    bool http1;     /* ... they were an HTTP/1 status line */
    char why[400];  /* lost_reason's text */
    char target[256];
    const uint8_t *pend;
    size_t pend_len;
    struct ipw_grpc_stream *streams;
};

/* Why the connection ended, for a peer that is not a gRPC server (kept in the client). */
static const char *lost_reason(struct ipw_grpc_client *c)
{
    snprintf(c->why, sizeof c->why,
             "%s is not a gRPC endpoint: it %s (a web server, or the monitor's Prometheus "
             "port?); give the energy monitor's gRPC port",
             c->target,
             c->http1     ? "answered in HTTP/1"
             : c->not_grpc ? "answered, but not in HTTP/2"
                           : "closed the connection without the HTTP/2 greeting every gRPC "
                             "server sends first");
    return c->why;
}

static void stream_free(struct ipw_grpc_stream *st)
{
    struct ipw_grpc_client *c = st->c;
    if (st->prev)
        st->prev->next = st->next;
    else if (c->streams == st)
        c->streams = st->next;
    if (st->next)
        st->next->prev = st->prev;
    ipw_grpc_deframer_free(&st->in);
    ipw_buf_free(&st->q);
    ipw_buf_free(&st->req);
    free(st);
}

static void set_final(struct ipw_grpc_stream *st, int code, const char *msg)
{
    if (st->code >= 0)
        return;
    st->code = code;
    snprintf(st->msg, sizeof st->msg, "%s", msg);
}

/* ---- nghttp2 callbacks ---------------------------------------------------------------- */

static int queue_message(void *ud, const uint8_t *msg, size_t len)
{
    struct ipw_grpc_stream *st = ud;
    uint32_t n = (uint32_t)len;
    /* room for both first, so a record is queued whole or not at all */
    if (ipw_buf_reserve(&st->q, sizeof n + len) != IPW_OK)
        return IPW_GRPC_RESOURCE_EXHAUSTED;
    memcpy(st->q.p + st->q.len, &n, sizeof n);
    memcpy(st->q.p + st->q.len + sizeof n, msg, len);
    ipw_buf_commit(&st->q, sizeof n + len);
    return 0;
}

static int on_data_chunk(nghttp2_session *h2, uint8_t flags, int32_t id, const uint8_t *data,
                         size_t len, void *user)
{
    (void)flags, (void)user;
    struct ipw_grpc_stream *st = nghttp2_session_get_stream_user_data(h2, id);
    if (!st || st->code >= 0)
        return 0;
    int rc = ipw_grpc_deframer_feed(&st->in, data, len, queue_message, st);
    if (rc != 0) {
        set_final(st, rc, st->in.error ? st->in.errmsg
                                       : "the client's message queue is full (caller too slow)");
        nghttp2_submit_rst_stream(h2, NGHTTP2_FLAG_NONE, id, NGHTTP2_CANCEL);
    }
    return 0;
}

static int on_header(nghttp2_session *h2, const nghttp2_frame *f, const uint8_t *name,
                     size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags,
                     void *user)
{
    (void)flags, (void)user;
    struct ipw_grpc_stream *st = nghttp2_session_get_stream_user_data(h2, f->hd.stream_id);
    if (!st || f->hd.type != NGHTTP2_HEADERS)
        return 0;
    if (namelen == 7 && memcmp(name, ":status", 7) == 0) {
        int v = 0;
        for (size_t i = 0; i < valuelen && i < 3; i++)
            v = v * 10 + (value[i] - '0');
        st->http_status = v;
    } else if (namelen == 11 && memcmp(name, "grpc-status", 11) == 0) {
        int v = 0;
        for (size_t i = 0; i < valuelen && i < 4; i++)
            v = (value[i] >= '0' && value[i] <= '9') ? v * 10 + (value[i] - '0') : IPW_GRPC_UNKNOWN;
        st->have_grpc_status = true;
        if (st->code < 0)
            st->code = v;
    } else if (namelen == 12 && memcmp(name, "grpc-message", 12) == 0) {
        ipw_grpc_percent_decode((const char *)value, valuelen, st->msg, sizeof st->msg);
    }
    return 0;
}

static int http_to_grpc(int http)
{
    switch (http) {
    case 400: return IPW_GRPC_INTERNAL;
    case 401: return 16; /* UNAUTHENTICATED */
    case 403: return 7;  /* PERMISSION_DENIED */
    case 404: return IPW_GRPC_UNIMPLEMENTED;
    case 429: case 502: case 503: case 504: return IPW_GRPC_UNAVAILABLE;
    default: return IPW_GRPC_UNKNOWN;
    }
}

static int on_stream_close(nghttp2_session *h2, int32_t id, uint32_t error_code, void *user)
{
    (void)user;
    struct ipw_grpc_stream *st = nghttp2_session_get_stream_user_data(h2, id);
    if (!st)
        return 0;
    st->closed = true;
    if (st->code < 0) {
        char m[96];
        if (st->http_status && st->http_status != 200) {
            snprintf(m, sizeof m, "the server answered HTTP %d", st->http_status);
            set_final(st, http_to_grpc(st->http_status), m);
        } else if (error_code == NGHTTP2_REFUSED_STREAM) {
            set_final(st, IPW_GRPC_UNAVAILABLE, "the server refused the stream");
        } else if (error_code == NGHTTP2_CANCEL) {
            set_final(st, IPW_GRPC_CANCELLED, "the stream was cancelled");
        } else if (error_code != NGHTTP2_NO_ERROR) {
            snprintf(m, sizeof m, "the stream was reset (HTTP/2 error %u)", error_code);
            set_final(st, IPW_GRPC_INTERNAL, m);
        } else {
            set_final(st, IPW_GRPC_INTERNAL, "the stream ended without a grpc-status");
        }
    } else if (!st->have_grpc_status && st->code == IPW_GRPC_OK) {
        st->code = IPW_GRPC_INTERNAL;
    }
    nghttp2_session_set_stream_user_data(h2, id, NULL);
    if (st->abandoned)
        stream_free(st);
    return 0;
}

static int on_frame_recv(nghttp2_session *h2, const nghttp2_frame *f, void *user)
{
    (void)h2;
    struct ipw_grpc_client *c = user;
    if (f->hd.type == NGHTTP2_GOAWAY)
        c->goaway = true;
    return 0;
}

static ssize_t req_read(nghttp2_session *h2, int32_t id, uint8_t *buf, size_t length,
                        uint32_t *flags, nghttp2_data_source *src, void *user)
{
    (void)h2, (void)id, (void)user;
    struct ipw_grpc_stream *st = src->ptr;
    size_t left = st->req.len - st->req_off;
    size_t n = left < length ? left : length;
    memcpy(buf, st->req.p + st->req_off, n);
    st->req_off += n;
    if (st->req_off == st->req.len)
        *flags |= NGHTTP2_DATA_FLAG_EOF;
    return (ssize_t)n;
}

/* ---- the connection ------------------------------------------------------------------- */

static void flush(struct ipw_grpc_client *c)
{
    if (!c->lost && !ipw_net_h2_flush(c->h2, c->fd, &c->pend, &c->pend_len, NULL))
        c->lost = true;
}

/* One turn of I/O: send what is queued, wait for input (until deadline; 0 = forever), feed it
 * to nghttp2. */
static ipw_err pump(struct ipw_grpc_client *c, int64_t deadline, ipw_errbuf *eb)
{
    if (atomic_load(&c->interrupted))
        return ipw_fail(eb, IPW_E_CANCELLED, "the call to %s was interrupted", c->target);
    flush(c);
    if (!c->lost && !nghttp2_session_want_read(c->h2) && !nghttp2_session_want_write(c->h2))
        c->lost = true;
    if (c->lost && (c->not_grpc || !c->received))
        return ipw_fail(eb, IPW_E_PROTOCOL, "%s", lost_reason(c));
    if (c->lost)
        return ipw_fail(eb, IPW_E_LOST, "the connection to the monitor at %s was lost", c->target);
    struct pollfd p[2] = {{.fd = c->fd, .events = POLLIN | (c->pend_len ? POLLOUT : 0)},
                          {.fd = c->wake.read_fd, .events = POLLIN}};
    int timeout = -1;
    if (deadline) {
        int64_t ms = (deadline - ipw_mono_ns() + IPW_NS_PER_MS - 1) / IPW_NS_PER_MS;
        timeout = ms < 0 ? 0 : ms > 60000 ? 60000 : (int)ms;
    }
    int rc = poll(p, 2, timeout);
    if (rc < 0 && errno != EINTR)
        return ipw_fail(eb, IPW_E_IO, "poll failed: %s", strerror(errno));
    if (p[1].revents) {
        ipw_net_wake_drain(&c->wake);
        if (atomic_load(&c->interrupted))
            return ipw_fail(eb, IPW_E_CANCELLED, "the call to %s was interrupted", c->target);
    }
    if (rc <= 0) {
        if (deadline && ipw_mono_ns() >= deadline)
            return ipw_fail(eb, IPW_E_TIMEOUT, "no answer from %s in time", c->target);
        return IPW_OK;
    }
    if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
        uint8_t buf[16384];
        for (int i = 0; i < 8; i++) {
            ssize_t n = recv(c->fd, buf, sizeof buf, 0);
            if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
                c->lost = true;
                break;
            }
            if (n < 0)
                break;
            if (!c->received && n >= 4 && buf[3] != 0x04 /* SETTINGS */) {
                /* every HTTP/2 server's first frame is SETTINGS: anything else (an HTTP/1
                 * status line, an HTML error page) is a web server or the monitor's
                 * Prometheus port; say that, not "connection lost" */
                c->not_grpc = true;
                c->http1 = n >= 5 && memcmp(buf, "HTTP/", 5) == 0;
                c->lost = true;
                break;
            }
            c->received = true;
            ssize_t r = nghttp2_session_mem_recv(c->h2, buf, (size_t)n);
            if (r < 0) {
                ipw_debug("grpc client: HTTP/2 error from %s: %s", c->target,
                          nghttp2_strerror((int)r));
                c->lost = true;
                break;
            }
        }
    }
    flush(c);
    if (c->lost) {
        /* Streams still open lose their connection: they end UNAVAILABLE. */
        for (struct ipw_grpc_stream *st = c->streams; st; st = st->next) {
            if (!st->closed) {
                st->closed = true;
                set_final(st, IPW_GRPC_UNAVAILABLE,
                          c->not_grpc || !c->received ? lost_reason(c)
                                                      : "the connection to the monitor was lost");
            }
        }
    }
    return IPW_OK;
}

ipw_err ipw_grpc_client_connect(const char *target, int64_t timeout_ns,
                                struct ipw_grpc_client **out, ipw_errbuf *eb)
{
    *out = NULL;
    struct ipw_grpc_client *c = calloc(1, sizeof *c);
    if (!c)
        return ipw_fail(eb, IPW_E_NOMEM, "out of memory creating a gRPC client");
    snprintf(c->target, sizeof c->target, "%s", target);
    c->fd = -1;
    c->wake.read_fd = c->wake.write_fd = -1;
    atomic_init(&c->interrupted, false);
    ipw_err e = ipw_net_connect(target, (int)(timeout_ns / IPW_NS_PER_MS), &c->fd, eb);
    if (e == IPW_OK)
        e = ipw_net_wake_open(&c->wake, eb);
    if (e != IPW_OK) {
        ipw_grpc_client_close(c);
        return e;
    }
    nghttp2_session_callbacks *cbs;
    if (nghttp2_session_callbacks_new(&cbs) != 0) {
        ipw_grpc_client_close(c);
        return ipw_fail(eb, IPW_E_NOMEM, "out of memory creating HTTP/2 callbacks");
    }
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, on_data_chunk);
    nghttp2_session_callbacks_set_on_header_callback(cbs, on_header);
    nghttp2_session_callbacks_set_on_stream_close_callback(cbs, on_stream_close);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, on_frame_recv);
    int rv = nghttp2_session_client_new(&c->h2, cbs, c);
    nghttp2_session_callbacks_del(cbs);
    if (rv != 0) {
        ipw_grpc_client_close(c);
        return ipw_fail(eb, IPW_E_NOMEM, "cannot create an HTTP/2 session: %s",
                        nghttp2_strerror(rv));
    }
    /* A 1 MiB window lets a 1 ms stream run without waiting on WINDOW_UPDATEs. */
    nghttp2_settings_entry iv[] = {{NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
                                   {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 1 << 20},
                                   {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, 65536}};
    nghttp2_submit_settings(c->h2, NGHTTP2_FLAG_NONE, iv, sizeof iv / sizeof iv[0]);
    nghttp2_session_set_local_window_size(c->h2, NGHTTP2_FLAG_NONE, 0, 4 << 20);
    flush(c);
    *out = c;
    return IPW_OK;
}

static void set_nv(nghttp2_nv *nv, const char *name, const char *value)
{
    nv->name = (uint8_t *)name;
    nv->namelen = strlen(name);
    nv->value = (uint8_t *)value;
    nv->valuelen = strlen(value);
    nv->flags = NGHTTP2_NV_FLAG_NONE;
}

ipw_err ipw_grpc_client_stream(struct ipw_grpc_client *c, const char *path, const uint8_t *req,
                               size_t len, int64_t timeout_ns, struct ipw_grpc_stream **out,
                               ipw_errbuf *eb)
{
    *out = NULL;
    if (c->lost && (c->not_grpc || !c->received))
        return ipw_fail(eb, IPW_E_PROTOCOL, "%s", lost_reason(c));
    if (c->lost || c->goaway)
        return ipw_fail(eb, IPW_E_LOST, "the connection to %s is closing; reconnect", c->target);
    if (len > IPW_GRPC_MAX_MESSAGE * 2)
        return ipw_fail(eb, IPW_E_INVALID, "request of %zu bytes is too large", len);
    struct ipw_grpc_stream *st = calloc(1, sizeof *st);
    if (!st)
        return ipw_fail(eb, IPW_E_NOMEM, "out of memory starting a call");
    st->c = c;
    st->code = -1;
    ipw_grpc_deframer_init(&st->in, IPW_GRPC_MAX_MESSAGE);
    st->q.max = QUEUE_MAX;
    st->req.max = IPW_GRPC_FRAME_HEADER + len;
    uint8_t hdr[IPW_GRPC_FRAME_HEADER];
    ipw_grpc_frame_header(hdr, (uint32_t)len);
    if (ipw_buf_add(&st->req, hdr, sizeof hdr) != IPW_OK || ipw_buf_add(&st->req, req, len) != IPW_OK) {
        ipw_buf_free(&st->req);
        free(st);
        return ipw_fail(eb, IPW_E_NOMEM, "out of memory holding a request of %zu bytes", len);
    }
    char authority[256], tmo[16];
    snprintf(authority, sizeof authority, "%s",
             strncmp(c->target, "unix:", 5) == 0 ? "localhost" : c->target);
    nghttp2_nv nv[9];
    size_t n = 0;
    set_nv(&nv[n++], ":method", "POST");
    set_nv(&nv[n++], ":scheme", "http");
    set_nv(&nv[n++], ":path", path);
    set_nv(&nv[n++], ":authority", authority);
    set_nv(&nv[n++], "content-type", "application/grpc");
    set_nv(&nv[n++], "te", "trailers");
    set_nv(&nv[n++], "user-agent", "ipw-grpc-c/" IPW_VERSION);
    if (timeout_ns > 0) {
        ipw_grpc_format_timeout(timeout_ns, tmo, sizeof tmo);
        set_nv(&nv[n++], "grpc-timeout", tmo);
    }
    nghttp2_data_provider prd = {.source.ptr = st, .read_callback = req_read};
    int32_t id = nghttp2_submit_request(c->h2, NULL, nv, n, &prd, st);
    if (id < 0) {
        stream_free(st);
        return ipw_fail(eb, IPW_E_PROTOCOL, "cannot start a call to %s%s: %s", c->target, path,
                        nghttp2_strerror(id));
    }
    st->id = id;
    st->next = c->streams;
    if (c->streams)
        c->streams->prev = st;
    c->streams = st;
    flush(c);
    *out = st;
    return IPW_OK;
}

ipw_err ipw_grpc_stream_next(struct ipw_grpc_stream *st, const uint8_t **msg, size_t *len,
                             int64_t timeout_ns, ipw_errbuf *eb)
{
    struct ipw_grpc_client *c = st->c;
    int64_t deadline = timeout_ns >= 0 ? ipw_mono_ns() + timeout_ns : 0;
    if (deadline == 0 && timeout_ns >= 0)
        deadline = 1;
    *msg = NULL;
    *len = 0;
    if (st->qhead == st->q.len) {
        st->qhead = 0;
        ipw_buf_reset(&st->q);
    }
    for (;;) {
        if (st->qhead < st->q.len) {
            uint32_t n;
            memcpy(&n, st->q.p + st->qhead, sizeof n);
            *msg = (const uint8_t *)st->q.p + st->qhead + sizeof n;
            *len = n;
            st->qhead += sizeof n + n;
            return IPW_OK;
        }
        if (st->closed)
            return IPW_OK;
        ipw_err e = pump(c, deadline, eb);
        if (e == IPW_E_LOST && st->qhead < st->q.len)
            continue;
        if (e == IPW_E_LOST && st->closed)
            return IPW_OK;
        if (e != IPW_OK)
            return e;
    }
}

int ipw_grpc_stream_status(const struct ipw_grpc_stream *st, char *msg, size_t msgsize)
{
    if (msg && msgsize)
        snprintf(msg, msgsize, "%s", st->msg);
    return st->closed ? st->code : -1;
}

void ipw_grpc_stream_close(struct ipw_grpc_stream *st)
{
    if (!st)
        return;
    struct ipw_grpc_client *c = st->c;
    if (st->closed || c->lost) {
        stream_free(st);
        return;
    }
    st->abandoned = true;
    nghttp2_submit_rst_stream(c->h2, NGHTTP2_FLAG_NONE, st->id, NGHTTP2_CANCEL);
    flush(c);
}

ipw_err ipw_grpc_client_unary(struct ipw_grpc_client *c, const char *path, const uint8_t *req,
                              size_t len, int64_t timeout_ns, struct ipw_buf *resp, int *code,
                              char *msg, size_t msgsize, ipw_errbuf *eb)
{
    struct ipw_grpc_stream *st;
    *code = -1;
    if (msg && msgsize)
        msg[0] = '\0';
    ipw_err e = ipw_grpc_client_stream(c, path, req, len, timeout_ns, &st, eb);
    if (e != IPW_OK)
        return e;
    int64_t deadline = timeout_ns > 0 ? ipw_mono_ns() + timeout_ns : 0;
    unsigned nmsg = 0;
    ipw_buf_reset(resp);
    for (;;) {
        const uint8_t *m;
        size_t n;
        int64_t left = deadline ? deadline - ipw_mono_ns() : -1;
        if (deadline && left < 0)
            left = 0;
        e = ipw_grpc_stream_next(st, &m, &n, left, eb);
        if (e != IPW_OK) {
            ipw_grpc_stream_close(st);
            return e;
        }
        if (!m)
            break;
        if (nmsg++ == 0 && ipw_buf_add(resp, m, n) != IPW_OK) {
            ipw_grpc_stream_close(st);
            return ipw_fail(eb, IPW_E_NOMEM, "response of %zu bytes from %s%s is too large", n,
                            c->target, path);
        }
    }
    *code = ipw_grpc_stream_status(st, msg, msgsize);
    if (*code == IPW_GRPC_OK && nmsg != 1) {
        *code = IPW_GRPC_INTERNAL;
        if (msg && msgsize)
            snprintf(msg, msgsize, "a unary call answered with %u messages", nmsg);
    }
    ipw_grpc_stream_close(st);
    return IPW_OK;
}

void ipw_grpc_client_interrupt(struct ipw_grpc_client *c)
{
    atomic_store(&c->interrupted, true);
    ipw_net_wake_poke(&c->wake);
}

bool ipw_grpc_client_usable(const struct ipw_grpc_client *c) { return !c->lost && !c->goaway; }

void ipw_grpc_client_close(struct ipw_grpc_client *c)
{
    if (!c)
        return;
    if (c->h2) {
        for (struct ipw_grpc_stream *st = c->streams; st; st = st->next)
            if (st->id > 0)
                nghttp2_session_set_stream_user_data(c->h2, st->id, NULL);
        nghttp2_session_del(c->h2);
    }
    while (c->streams)
        stream_free(c->streams);
    if (c->fd >= 0)
        close(c->fd);
    ipw_net_wake_close(&c->wake);
    free(c);
}
