/* The gRPC server: an h2c event loop on nghttp2. One thread polls the listening sockets, every
 * connection and a wakeup fd; nghttp2 parses and frames, this file maps HTTP/2 streams to gRPC
 * calls (headers, message framing, status trailers, deadlines, graceful shutdown).
 * Longer than our other files on purpose: the loop, the connections and the calls share one
 * state machine whose invariants (who frees a call, when a stream may resume) are easier to
 * check in one place; its sections are marked with "----" rulers. */
#include "grpc/server.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <nghttp2/nghttp2.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "grpc/net.h"
#include "ipw/clock.h"
#include "ipw/log.h"

#ifndef MSG_NOSIGNAL
#define MSG_NOSIGNAL 0
#endif

#define MAX_LISTENERS 4
#define LINGER_NS (1 * IPW_NS_PER_SEC)
#define READS_PER_TURN 8 /* recv calls per connection per loop turn, for fairness */
/* After an early answer, the rest of a request is read and dropped for this long / this much
 * before RST_STREAM tells the client to stop (some clients, curl among them, treat a reset
 * that arrives while they are still sending as a failed request). */
#define DRAIN_NS (1 * IPW_NS_PER_SEC)
#define DRAIN_BYTES (64 * 1024)
/* Request messages must come uncompressed (compressed flag 0); responses always are. */
#define ACCEPT_ENCODING "identity"

enum call_state {
    CALL_RECEIVING, /* headers accepted, waiting for the request and half-close */
    CALL_UNARY,     /* response message being sent */
    CALL_STREAMING, /* server-streaming: messages pulled from the service */
    CALL_DONE       /* final status submitted; waiting for nghttp2 to close the stream */
};

struct conn;

struct call {
    struct conn *conn;
    int32_t id;
    enum call_state state;
    const struct ipw_grpc_method *m;
    /* request headers */
    char path[256];
    bool path_too_long, method_post, have_method, content_type_ok, have_content_type;
    size_t header_bytes;
    bool headers_too_big;  /* past max_header_list: answered with status 8, rest ignored */
    char encoding[32];     /* grpc-encoding of the request ("" when absent) */
    int64_t deadline; /* monotonic ns, 0 = none */
    /* request body */
    struct ipw_grpc_deframer in;
    uint8_t *req;
    size_t req_len;
    unsigned nreq;
    size_t held; /* request bytes this call holds, counted in the server's budget */
    /* response */
    void *svc;      /* service state of a streaming call */
    bool svc_open;
    uint8_t hdr[IPW_GRPC_FRAME_HEADER];
    struct ipw_buf msg;
    size_t off;     /* bytes of hdr+msg already handed to nghttp2 */
    bool have_msg, deferred, ending;
    bool draining;  /* answered before the request ended: reading (and dropping) its rest */
    size_t drained;
    int code;       /* final grpc status */
    char errmsg[256];
    struct call *prev, *next; /* every live call of the server */
};

struct conn {
    struct ipw_grpc_server *srv;
    int fd;
    nghttp2_session *h2;
    const uint8_t *pend; /* output nghttp2 gave us that the socket has not taken yet */
    size_t pend_len;
    bool dead;     /* close now */
    bool closing;  /* write side shut; draining input until EOF or the linger deadline */
    int64_t linger_until;
    struct ipw_buf *mem_out; /* ipw_grpc_server_feed: output goes here, not to a socket */
    bool proto_err;               /* counted once in the protocol-error statistic */
    struct conn *prev, *next;
};

struct ipw_grpc_server {
    struct ipw_grpc_server_config cfg;
    nghttp2_session_callbacks *cbs;
    nghttp2_option *opt;
    int lfd[MAX_LISTENERS];
    int nlisten;
    char *unix_path;
    struct ipw_net_wake wake;
    atomic_bool stop_requested;
    bool stopping;
    int64_t stop_deadline;
    int64_t timer_at; /* next on_timer call (monotonic ns), 0 = none */
    size_t held_bytes; /* request bytes buffered by all calls (bounded by max_buffered) */
    struct conn *conns;
    struct call *calls;
    unsigned nconns;
    struct pollfd *pfd;
    struct conn **pconn;
    size_t pfd_cap, pconn_cap;
    _Atomic uint64_t st_conn_total, st_conn_open, st_calls_total, st_calls_open, st_proto_err,
        st_refused;
};

/* ---- calls ---------------------------------------------------------------------------- */

static struct call *call_new(struct conn *c, int32_t id)
{
    struct ipw_grpc_server *s = c->srv;
    struct call *k = calloc(1, sizeof *k);
    if (!k)
        return NULL;
    k->conn = c;
    k->id = id;
    k->state = CALL_RECEIVING;
    ipw_grpc_deframer_init(&k->in, s->cfg.max_message);
    k->msg.max = IPW_GRPC_MAX_MESSAGE;
    k->next = s->calls;
    if (s->calls)
        s->calls->prev = k;
    s->calls = k;
    s->st_calls_total++;
    s->st_calls_open++;
    return k;
}

/* Keep the server-wide count of buffered request bytes in step with what k holds. */
static void account(struct call *k)
{
    struct ipw_grpc_server *s = k->conn->srv;
    size_t now = k->in.body.cap + (k->req ? k->req_len : 0);
    s->held_bytes = s->held_bytes - k->held + now;
    k->held = now;
}

/* The request is no longer needed (answered, refused, or handed to the method). */
static void release_request(struct call *k)
{
    ipw_grpc_deframer_free(&k->in);
    free(k->req);
    k->req = NULL;
    k->req_len = 0;
    account(k);
}

static void call_free(struct call *k, int final_code)
{
    struct ipw_grpc_server *s = k->conn->srv;
    release_request(k);
    if (k->svc_open && k->m && k->m->close)
        k->m->close(k->m->ud, k->svc, final_code);
    if (k->prev)
        k->prev->next = k->next;
    else
        s->calls = k->next;
    if (k->next)
        k->next->prev = k->prev;
    ipw_buf_free(&k->msg);
    free(k);
    s->st_calls_open--;
}

static void set_nv(nghttp2_nv *nv, const char *name, const char *value)
{
    nv->name = (uint8_t *)name;
    nv->namelen = strlen(name);
    nv->value = (uint8_t *)value;
    nv->valuelen = strlen(value);
    nv->flags = NGHTTP2_NV_FLAG_NONE;
}

/* Headers-only response ending the stream: a gRPC trailers-only status, or an HTTP error. */
static void respond_headers_only(struct call *k, const char *http_status, int code,
                                 const char *msg)
{
    nghttp2_nv nv[5];
    size_t n = 0;
    char codebuf[8], msgbuf[512];
    set_nv(&nv[n++], ":status", http_status);
    if (strcmp(http_status, "200") == 0) {
        set_nv(&nv[n++], "content-type", "application/grpc");
        snprintf(codebuf, sizeof codebuf, "%d", code);
        set_nv(&nv[n++], "grpc-status", codebuf);
        /* The gRPC compression spec: an UNIMPLEMENTED answer (an unsupported grpc-encoding
         * among them) names the encodings the server accepts, so a client can retry plain. */
        if (code == IPW_GRPC_UNIMPLEMENTED)
            set_nv(&nv[n++], "grpc-accept-encoding", ACCEPT_ENCODING);
        if (msg && *msg) {
            ipw_grpc_percent_encode(msg, msgbuf, sizeof msgbuf);
            set_nv(&nv[n++], "grpc-message", msgbuf);
        }
    } else {
        set_nv(&nv[n++], "content-type", "text/plain");
    }
    k->state = CALL_DONE;
    k->code = code;
    release_request(k);
    int rv = nghttp2_submit_response(k->conn->h2, k->id, nv, n, NULL);
    if (rv != 0)
        nghttp2_submit_rst_stream(k->conn->h2, NGHTTP2_FLAG_NONE, k->id, NGHTTP2_INTERNAL_ERROR);
}

static int submit_trailers(struct call *k)
{
    nghttp2_nv nv[2];
    size_t n = 0;
    char codebuf[8], msgbuf[512];
    snprintf(codebuf, sizeof codebuf, "%d", k->code);
    set_nv(&nv[n++], "grpc-status", codebuf);
    if (k->errmsg[0]) {
        ipw_grpc_percent_encode(k->errmsg, msgbuf, sizeof msgbuf);
        set_nv(&nv[n++], "grpc-message", msgbuf);
    }
    k->state = CALL_DONE;
    return nghttp2_submit_trailer(k->conn->h2, k->id, nv, n);
}

/* Hands nghttp2 the framed messages of a call: the unary response, or whatever the service's
 * pull gives, packed several to a DATA frame when the client has fallen behind. */
static ssize_t read_cb(nghttp2_session *h2, int32_t id, uint8_t *buf, size_t length,
                       uint32_t *flags, nghttp2_data_source *src, void *user)
{
    (void)h2, (void)id, (void)user;
    struct call *k = src->ptr;
    size_t n = 0;
    bool eof = false;
    while (n < length) {
        if (!k->have_msg) {
            if (k->state == CALL_UNARY || k->ending) {
                eof = true;
                break;
            }
            ipw_buf_reset(&k->msg);
            int code = IPW_GRPC_OK;
            char msg[256] = "";
            enum ipw_grpc_pull pr = k->m->pull(k->m->ud, k->svc, &k->msg, &code, msg, sizeof msg);
            if (pr == IPW_GRPC_PULL_WAIT)
                break;
            if (pr == IPW_GRPC_PULL_END) {
                k->ending = true;
                k->code = code;
                snprintf(k->errmsg, sizeof k->errmsg, "%s", msg);
                eof = true;
                break;
            }
            ipw_grpc_frame_header(k->hdr, (uint32_t)k->msg.len);
            k->off = 0;
            k->have_msg = true;
        }
        size_t total = IPW_GRPC_FRAME_HEADER + k->msg.len;
        while (n < length && k->off < total) {
            size_t take;
            if (k->off < IPW_GRPC_FRAME_HEADER) {
                take = IPW_GRPC_FRAME_HEADER - k->off;
                if (take > length - n)
                    take = length - n;
                memcpy(buf + n, k->hdr + k->off, take);
            } else {
                size_t mo = k->off - IPW_GRPC_FRAME_HEADER;
                take = k->msg.len - mo;
                if (take > length - n)
                    take = length - n;
                memcpy(buf + n, k->msg.p + mo, take);
            }
            n += take;
            k->off += take;
        }
        if (k->off == total) {
            k->have_msg = false;
            if (k->state == CALL_UNARY) {
                eof = true;
                break;
            }
        }
    }
    if (eof) {
        *flags |= NGHTTP2_DATA_FLAG_EOF | NGHTTP2_DATA_FLAG_NO_END_STREAM;
        if (submit_trailers(k) != 0)
            return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
        return (ssize_t)n;
    }
    if (n == 0) {
        k->deferred = true;
        return NGHTTP2_ERR_DEFERRED;
    }
    return (ssize_t)n;
}

static void respond_with_data(struct call *k)
{
    nghttp2_nv nv[2];
    set_nv(&nv[0], ":status", "200");
    set_nv(&nv[1], "content-type", "application/grpc");
    nghttp2_data_provider prd;
    prd.source.ptr = k;
    prd.read_callback = read_cb;
    if (nghttp2_submit_response(k->conn->h2, k->id, nv, 2, &prd) != 0)
        nghttp2_submit_rst_stream(k->conn->h2, NGHTTP2_FLAG_NONE, k->id, NGHTTP2_INTERNAL_ERROR);
}

/* The request is complete (client half-closed): run the method. */
static void dispatch(struct call *k)
{
    char msg[256] = "";
    if (!ipw_grpc_deframer_idle(&k->in)) {
        respond_headers_only(k, "200", IPW_GRPC_INTERNAL, "request ended inside a message");
        return;
    }
    if (k->nreq != 1) {
        respond_headers_only(k, "200", IPW_GRPC_INTERNAL,
                             k->nreq ? "more than one request message for a unary request"
                                     : "the request carried no message");
        return;
    }
    const struct ipw_grpc_method *m = k->m;
    if (m->unary) {
        ipw_buf_reset(&k->msg);
        int code = m->unary(m->ud, k->req, k->req_len, &k->msg, msg, sizeof msg);
        release_request(k);
        if (code != IPW_GRPC_OK) {
            respond_headers_only(k, "200", code, msg);
            return;
        }
        k->state = CALL_UNARY;
        k->code = IPW_GRPC_OK;
        ipw_grpc_frame_header(k->hdr, (uint32_t)k->msg.len);
        k->off = 0;
        k->have_msg = true;
        respond_with_data(k);
        return;
    }
    int code = m->open(m->ud, k->req, k->req_len, &k->svc, msg, sizeof msg);
    release_request(k);
    if (code != IPW_GRPC_OK) {
        respond_headers_only(k, "200", code, msg);
        return;
    }
    k->svc_open = true;
    k->state = CALL_STREAMING;
    k->code = IPW_GRPC_OK;
    respond_with_data(k);
}

/* The server ends a call early (deadline, shutdown). */
static void end_call(struct call *k, int code, const char *msg)
{
    nghttp2_session *h2 = k->conn->h2;
    switch (k->state) {
    case CALL_RECEIVING:
        respond_headers_only(k, "200", code, msg);
        break;
    case CALL_STREAMING:
        if (k->ending)
            break;
        k->ending = true;
        k->code = code;
        snprintf(k->errmsg, sizeof k->errmsg, "%s", msg ? msg : "");
        /* A message half-sent still goes out whole; then the trailers. A stream the client
         * stopped reading (no flow-control window) cannot take trailers: reset it. */
        int32_t win = nghttp2_session_get_stream_remote_window_size(h2, k->id);
        int32_t cwin = nghttp2_session_get_remote_window_size(h2);
        if ((win <= 0 || cwin <= 0) && !k->deferred) {
            k->state = CALL_DONE;
            nghttp2_submit_rst_stream(h2, NGHTTP2_FLAG_NONE, k->id, NGHTTP2_CANCEL);
        } else if (k->deferred) {
            k->deferred = false;
            nghttp2_session_resume_data(h2, k->id);
        }
        break;
    case CALL_UNARY:
    case CALL_DONE:
        break;
    }
}

/* ---- nghttp2 callbacks ---------------------------------------------------------------- */

static struct call *call_of(nghttp2_session *h2, int32_t id)
{
    return nghttp2_session_get_stream_user_data(h2, id);
}

static int on_begin_headers(nghttp2_session *h2, const nghttp2_frame *f, void *user)
{
    struct conn *c = user;
    if (f->hd.type != NGHTTP2_HEADERS || f->headers.cat != NGHTTP2_HCAT_REQUEST)
        return 0;
    if (c->srv->stopping) {
        nghttp2_submit_rst_stream(h2, NGHTTP2_FLAG_NONE, f->hd.stream_id, NGHTTP2_REFUSED_STREAM);
        return 0;
    }
    struct call *k = call_new(c, f->hd.stream_id);
    if (!k) {
        c->srv->st_refused++;
        nghttp2_submit_rst_stream(h2, NGHTTP2_FLAG_NONE, f->hd.stream_id, NGHTTP2_REFUSED_STREAM);
        return 0;
    }
    nghttp2_session_set_stream_user_data(h2, f->hd.stream_id, k);
    return 0;
}

static bool eq(const uint8_t *a, size_t alen, const char *b)
{
    return alen == strlen(b) && memcmp(a, b, alen) == 0;
}

static int on_header(nghttp2_session *h2, const nghttp2_frame *f, const uint8_t *name,
                     size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags,
                     void *user)
{
    (void)flags;
    struct conn *c = user;
    struct call *k = call_of(h2, f->hd.stream_id);
    if (!k || f->hd.type != NGHTTP2_HEADERS)
        return 0;
    k->header_bytes += namelen + valuelen + 32; /* RFC 7540 §6.5.2 accounting */
    if (k->header_bytes > c->srv->cfg.max_header_list && !k->headers_too_big) {
        /* Nothing of the headers is kept, so reading the rest costs no memory; the call gets
         * RESOURCE_EXHAUSTED with a reason (as grpc-core servers answer) once they end, not
         * a bare RST_STREAM that clients report as INTERNAL. */
        ipw_debug("grpc: stream %d: request headers exceed %zu bytes", k->id,
                  c->srv->cfg.max_header_list);
        k->headers_too_big = true;
    }
    if (f->headers.cat != NGHTTP2_HCAT_REQUEST || k->headers_too_big)
        return 0; /* trailers from the client carry nothing we use */
    if (eq(name, namelen, ":method")) {
        k->have_method = true;
        k->method_post = eq(value, valuelen, "POST");
    } else if (eq(name, namelen, ":path")) {
        if (valuelen >= sizeof k->path) {
            k->path_too_long = true;
        } else {
            memcpy(k->path, value, valuelen);
            k->path[valuelen] = '\0';
        }
    } else if (eq(name, namelen, "content-type")) {
        static const char ct[] = "application/grpc";
        size_t n = sizeof ct - 1;
        k->have_content_type = true;
        k->content_type_ok = valuelen >= n && memcmp(value, ct, n) == 0 &&
                             (valuelen == n || value[n] == '+' || value[n] == ';');
    } else if (eq(name, namelen, "grpc-encoding")) {
        size_t n = valuelen < sizeof k->encoding - 1 ? valuelen : sizeof k->encoding - 1;
        memcpy(k->encoding, value, n);
        k->encoding[n] = '\0';
    } else if (eq(name, namelen, "grpc-timeout")) {
        int64_t ns = ipw_grpc_parse_timeout((const char *)value, valuelen);
        if (ns >= 0) {
            int64_t now = ipw_mono_ns();
            k->deadline = ns > INT64_MAX - now ? 0 : now + ns;
            if (k->deadline == 0)
                k->deadline = 1;
        }
    }
    return 0;
}

static void request_headers_done(struct call *k)
{
    const struct ipw_grpc_server_config *cfg = &k->conn->srv->cfg;
    if (k->headers_too_big) {
        char msg[96];
        snprintf(msg, sizeof msg, "request headers exceed the server's limit of %zu bytes",
                 cfg->max_header_list);
        respond_headers_only(k, "200", IPW_GRPC_RESOURCE_EXHAUSTED, msg);
        return;
    }
    if (!k->have_method || !k->method_post) {
        respond_headers_only(k, "405", 0, NULL);
        return;
    }
    if (!k->have_content_type || !k->content_type_ok) {
        respond_headers_only(k, "415", 0, NULL);
        return;
    }
    for (size_t i = 0; i < cfg->nmethods && !k->path_too_long; i++) {
        if (strcmp(cfg->methods[i].path, k->path) == 0) {
            k->m = &cfg->methods[i];
            return;
        }
    }
    char msg[320];
    snprintf(msg, sizeof msg, "unknown method %s", k->path_too_long ? "(path too long)" : k->path);
    respond_headers_only(k, "200", IPW_GRPC_UNIMPLEMENTED, msg);
}

static int on_frame_recv(nghttp2_session *h2, const nghttp2_frame *f, void *user)
{
    (void)user;
    struct call *k = call_of(h2, f->hd.stream_id);
    if (!k)
        return 0;
    if (f->hd.type == NGHTTP2_HEADERS && f->headers.cat == NGHTTP2_HCAT_REQUEST &&
        k->state == CALL_RECEIVING)
        request_headers_done(k);
    if ((f->hd.type == NGHTTP2_HEADERS || f->hd.type == NGHTTP2_DATA) &&
        (f->hd.flags & NGHTTP2_FLAG_END_STREAM) && k->state == CALL_RECEIVING)
        dispatch(k);
    return 0;
}

static int keep_request(void *ud, const uint8_t *msg, size_t len)
{
    struct call *k = ud;
    if (++k->nreq > 1)
        return 0; /* counted; dispatch refuses it */
    k->req = malloc(len ? len : 1);
    if (!k->req)
        return IPW_GRPC_RESOURCE_EXHAUSTED;
    if (len)
        memcpy(k->req, msg, len);
    k->req_len = len;
    return 0;
}

/* A message with the compressed flag set. The gRPC spec makes it INTERNAL when the request
 * named no grpc-encoding (or identity), and UNIMPLEMENTED (with grpc-accept-encoding) when it
 * named one this server does not decode: we decode none. */
static void refuse_compressed(struct call *k)
{
    char msg[160];
    if (k->encoding[0] == '\0' || strcmp(k->encoding, "identity") == 0) {
        respond_headers_only(k, "200", IPW_GRPC_INTERNAL,
                             "compressed message without a grpc-encoding header");
        return;
    }
    snprintf(msg, sizeof msg,
             "grpc-encoding '%s' is not supported; send messages uncompressed (accepted: %s)",
             k->encoding, ACCEPT_ENCODING);
    respond_headers_only(k, "200", IPW_GRPC_UNIMPLEMENTED, msg);
}

static int on_data_chunk(nghttp2_session *h2, uint8_t flags, int32_t id, const uint8_t *data,
                         size_t len, void *user)
{
    (void)flags, (void)user;
    struct call *k = call_of(h2, id);
    if (k && k->draining) {
        k->drained += len;
        if (k->drained > DRAIN_BYTES) {
            k->draining = false;
            nghttp2_submit_rst_stream(h2, NGHTTP2_FLAG_NONE, id, NGHTTP2_NO_ERROR);
        }
        return 0;
    }
    if (!k || k->state != CALL_RECEIVING)
        return 0; /* already answered (or refused): the rest of the body is dropped */
    int code = ipw_grpc_deframer_feed(&k->in, data, len, keep_request, k);
    account(k);
    struct ipw_grpc_server *s = k->conn->srv;
    if (code != 0 && k->in.compressed) {
        refuse_compressed(k);
    } else if (code != 0) {
        respond_headers_only(k, "200", code,
                             k->in.error ? k->in.errmsg : "out of memory holding the request");
    } else if (s->held_bytes > s->cfg.max_buffered) {
        /* Many large requests at once must not take the host's memory: refuse this one. */
        char msg[160];
        snprintf(msg, sizeof msg,
                 "the server already holds %zu bytes of unfinished requests (limit %zu); retry",
                 s->held_bytes, s->cfg.max_buffered);
        respond_headers_only(k, "200", IPW_GRPC_RESOURCE_EXHAUSTED, msg);
    }
    return 0;
}

static int on_frame_send(nghttp2_session *h2, const nghttp2_frame *f, void *user)
{
    struct conn *c = user;
    if (f->hd.type == NGHTTP2_GOAWAY && f->goaway.error_code != NGHTTP2_NO_ERROR &&
        !c->proto_err) {
        /* nghttp2 found a malformed frame and ends this connection (only this one). */
        c->proto_err = true;
        c->srv->st_proto_err++;
        ipw_info("grpc: closing a connection after a protocol error (HTTP/2 error %u)",
                 f->goaway.error_code);
    }
    if ((f->hd.type == NGHTTP2_HEADERS || f->hd.type == NGHTTP2_DATA) &&
        (f->hd.flags & NGHTTP2_FLAG_END_STREAM) &&
        nghttp2_session_get_stream_remote_close(h2, f->hd.stream_id) == 0) {
        /* We answered before the client finished sending (an error, a deadline). Let a short
         * remainder arrive; past DRAIN_BYTES or DRAIN_NS, RST_STREAM(NO_ERROR) stops it, as
         * RFC 9113 §8.1 allows. */
        struct call *k = call_of(h2, f->hd.stream_id);
        if (k && !k->draining) {
            k->draining = true;
            k->deadline = ipw_mono_ns() + DRAIN_NS;
        } else if (!k) {
            nghttp2_submit_rst_stream(h2, NGHTTP2_FLAG_NONE, f->hd.stream_id, NGHTTP2_NO_ERROR);
        }
    }
    return 0;
}

static int on_stream_close(nghttp2_session *h2, int32_t id, uint32_t error_code, void *user)
{
    (void)user;
    struct call *k = call_of(h2, id);
    if (!k)
        return 0;
    nghttp2_session_set_stream_user_data(h2, id, NULL);
    int code = k->state == CALL_DONE ? k->code : IPW_GRPC_CANCELLED;
    if (error_code != NGHTTP2_NO_ERROR && k->state != CALL_DONE)
        ipw_debug("grpc: stream %d closed by the client (HTTP/2 error %u)", id, error_code);
    call_free(k, code);
    return 0;
}

static int on_error(nghttp2_session *h2, int lib_error, const char *msg, size_t len, void *user)
{
    (void)h2, (void)lib_error, (void)user;
    ipw_debug("grpc: HTTP/2: %.*s", (int)len, msg);
    return 0;
}

/* ---- connections ---------------------------------------------------------------------- */

static struct conn *conn_new(struct ipw_grpc_server *s, int fd)
{
    if (s->nconns >= s->cfg.max_connections) {
        s->st_refused++;
        ipw_warn("grpc: refusing a connection: %u connections are open (the limit)", s->nconns);
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    struct conn *c = calloc(1, sizeof *c);
    if (!c || nghttp2_session_server_new2(&c->h2, s->cbs, c, s->opt) != 0) {
        free(c);
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    c->srv = s;
    c->fd = fd;
    nghttp2_settings_entry iv[] = {
        {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, s->cfg.max_streams_per_conn},
        {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, (uint32_t)s->cfg.max_header_list},
    };
    nghttp2_submit_settings(c->h2, NGHTTP2_FLAG_NONE, iv, sizeof iv / sizeof iv[0]);
    c->next = s->conns;
    if (s->conns)
        s->conns->prev = c;
    s->conns = c;
    s->nconns++;
    s->st_conn_total++;
    s->st_conn_open++;
    if (s->stopping)
        nghttp2_submit_goaway(c->h2, NGHTTP2_FLAG_NONE, 0, NGHTTP2_NO_ERROR, NULL, 0);
    return c;
}

static void conn_free(struct conn *c)
{
    struct ipw_grpc_server *s = c->srv;
    for (struct call *k = s->calls, *kn; k; k = kn) {
        kn = k->next;
        if (k->conn != c)
            continue;
        nghttp2_session_set_stream_user_data(c->h2, k->id, NULL);
        call_free(k, k->state == CALL_DONE ? k->code : IPW_GRPC_CANCELLED);
    }
    nghttp2_session_del(c->h2);
    if (c->fd >= 0)
        close(c->fd);
    if (c->prev)
        c->prev->next = c->next;
    else
        s->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    s->nconns--;
    s->st_conn_open--;
    free(c);
}

static void conn_flush(struct conn *c)
{
    if (c->dead || c->closing)
        return;
    if (!ipw_net_h2_flush(c->h2, c->fd, &c->pend, &c->pend_len, c->mem_out))
        c->dead = true;
}

static void conn_read(struct conn *c)
{
    uint8_t buf[16384];
    for (int i = 0; i < READS_PER_TURN && !c->dead; i++) {
        ssize_t n = recv(c->fd, buf, sizeof buf, 0);
        if (n == 0) {
            if (!c->closing)
                ipw_debug("grpc: connection closed by the client");
            c->dead = true;
            return;
        }
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                c->dead = true;
            return;
        }
        if (c->closing)
            continue; /* draining what the client still sends before we close */
        ssize_t r = nghttp2_session_mem_recv(c->h2, buf, (size_t)n);
        if (r < 0) {
            /* A malformed preface or frame: this connection ends, the others carry on. */
            if (!c->proto_err)
                c->srv->st_proto_err++;
            c->proto_err = true;
            ipw_info("grpc: closing a connection after a protocol error: %s",
                     nghttp2_strerror((int)r));
            nghttp2_session_terminate_session(c->h2, NGHTTP2_PROTOCOL_ERROR);
            conn_flush(c);
            shutdown(c->fd, SHUT_WR);
            c->closing = true;
            c->linger_until = ipw_mono_ns() + LINGER_NS;
            continue;
        }
    }
}

/* Finished connections shut their write side and linger a moment reading, so that the last
 * frames (trailers, GOAWAY) are not lost to a TCP reset caused by unread input. */
static void conn_maybe_finish(struct conn *c, int64_t now)
{
    if (c->dead || c->closing)
        return;
    if (nghttp2_session_want_read(c->h2) || nghttp2_session_want_write(c->h2) || c->pend_len)
        return;
    shutdown(c->fd, SHUT_WR);
    c->closing = true;
    c->linger_until = now + LINGER_NS;
}

/* ---- the server ----------------------------------------------------------------------- */

ipw_err ipw_grpc_server_create(const struct ipw_grpc_server_config *cfg,
                               struct ipw_grpc_server **out, ipw_errbuf *eb)
{
    struct ipw_grpc_server *s = calloc(1, sizeof *s);
    if (!s)
        return ipw_fail(eb, IPW_E_NOMEM, "out of memory creating the gRPC server");
    s->cfg = *cfg;
    if (!s->cfg.max_connections)
        s->cfg.max_connections = 1024;
    if (!s->cfg.max_streams_per_conn)
        s->cfg.max_streams_per_conn = 100;
    if (!s->cfg.max_message)
        s->cfg.max_message = IPW_GRPC_MAX_MESSAGE;
    if (!s->cfg.max_header_list)
        s->cfg.max_header_list = 16384;
    if (!s->cfg.max_buffered)
        s->cfg.max_buffered = (size_t)32 << 20;
    if (!s->cfg.shutdown_grace_ns)
        s->cfg.shutdown_grace_ns = 2 * IPW_NS_PER_SEC;
    s->wake.read_fd = s->wake.write_fd = -1;
    atomic_init(&s->stop_requested, false);
    ipw_err e = ipw_net_wake_open(&s->wake, eb);
    if (e != IPW_OK) {
        free(s);
        return e;
    }
    if (nghttp2_session_callbacks_new(&s->cbs) != 0 || nghttp2_option_new(&s->opt) != 0) {
        ipw_grpc_server_destroy(s);
        return ipw_fail(eb, IPW_E_NOMEM, "out of memory creating the HTTP/2 callbacks");
    }
    nghttp2_session_callbacks_set_on_begin_headers_callback(s->cbs, on_begin_headers);
    nghttp2_session_callbacks_set_on_header_callback(s->cbs, on_header);
    nghttp2_session_callbacks_set_on_frame_recv_callback(s->cbs, on_frame_recv);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(s->cbs, on_data_chunk);
    nghttp2_session_callbacks_set_on_frame_send_callback(s->cbs, on_frame_send);
    nghttp2_session_callbacks_set_on_stream_close_callback(s->cbs, on_stream_close);
    nghttp2_session_callbacks_set_error_callback2(s->cbs, on_error);
    /* Closed streams need no bookkeeping: we never reprioritise. */
    nghttp2_option_set_no_closed_streams(s->opt, 1);
    *out = s;
    return IPW_OK;
}

static ipw_err add_listener(struct ipw_grpc_server *s, int fd, ipw_errbuf *eb)
{
    if (s->nlisten == MAX_LISTENERS) {
        close(fd);
        return ipw_fail(eb, IPW_E_INVALID, "at most %d listening sockets", MAX_LISTENERS);
    }
    s->lfd[s->nlisten++] = fd;
    return IPW_OK;
}

ipw_err ipw_grpc_server_listen_tcp(struct ipw_grpc_server *s, const char *host, int port,
                                   int *bound_port, ipw_errbuf *eb)
{
    int fd;
    ipw_err e = ipw_net_listen_tcp(host, port, &fd, bound_port, eb);
    return e != IPW_OK ? e : add_listener(s, fd, eb);
}

ipw_err ipw_grpc_server_listen_unix(struct ipw_grpc_server *s, const char *path, unsigned mode,
                                    ipw_errbuf *eb)
{
    int fd;
    if (s->unix_path)
        return ipw_fail(eb, IPW_E_INVALID, "only one Unix socket per server");
    ipw_err e = ipw_net_listen_unix(path, mode, &fd, eb);
    if (e != IPW_OK)
        return e;
    s->unix_path = strdup(path);
    return add_listener(s, fd, eb);
}

static void close_listeners(struct ipw_grpc_server *s)
{
    for (int i = 0; i < s->nlisten; i++)
        close(s->lfd[i]);
    s->nlisten = 0;
    if (s->unix_path) {
        unlink(s->unix_path);
        free(s->unix_path);
        s->unix_path = NULL;
    }
}

static void begin_shutdown(struct ipw_grpc_server *s, int64_t now)
{
    s->stopping = true;
    s->stop_deadline = now + s->cfg.shutdown_grace_ns;
    close_listeners(s);
    for (struct conn *c = s->conns; c; c = c->next)
        if (!c->dead && !c->closing)
            nghttp2_submit_goaway(c->h2, NGHTTP2_FLAG_NONE,
                                  nghttp2_session_get_last_proc_stream_id(c->h2),
                                  NGHTTP2_NO_ERROR, (const uint8_t *)"server shutting down", 20);
    for (struct call *k = s->calls; k; k = k->next) {
        if (k->state == CALL_STREAMING)
            end_call(k, IPW_GRPC_OK, "");
        else if (k->state == CALL_RECEIVING)
            end_call(k, IPW_GRPC_UNAVAILABLE, "the server is shutting down");
    }
}

static void accept_all(struct ipw_grpc_server *s, int lfd)
{
    for (;;) {
        int fd = accept(lfd, NULL, NULL);
        if (fd < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                ipw_warn("grpc: accept failed: %s", strerror(errno));
            return;
        }
        if (ipw_net_set_nonblocking(fd) != 0) {
            close(fd);
            continue;
        }
        /* Each reading leaves as soon as it is framed (fails harmlessly on Unix sockets). */
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        conn_new(s, fd);
    }
}

/* Deadlines that passed end their calls; returns the next deadline (0 when none). */
static int64_t expire(struct ipw_grpc_server *s, int64_t now)
{
    int64_t next = 0;
    for (struct call *k = s->calls; k; k = k->next) {
        if (k->draining && k->deadline && k->deadline <= now) {
            k->draining = false;
            k->deadline = 0;
            nghttp2_submit_rst_stream(k->conn->h2, NGHTTP2_FLAG_NONE, k->id, NGHTTP2_NO_ERROR);
            continue;
        }
        if (!k->deadline || (k->state == CALL_DONE && !k->draining) || k->ending)
            continue;
        if (k->draining) {
            if (!next || k->deadline < next)
                next = k->deadline;
            continue;
        }
        if (k->deadline <= now) {
            end_call(k, IPW_GRPC_DEADLINE_EXCEEDED, "deadline exceeded");
            k->deadline = 0;
        } else if (!next || k->deadline < next) {
            next = k->deadline;
        }
    }
    return next;
}

static bool grow_pfd(struct ipw_grpc_server *s, size_t n)
{
    /* two parallel arrays, each with its own capacity (one may grow and the other fail) */
    return ipw_grow(&s->pfd, &s->pfd_cap, n, sizeof *s->pfd, SIZE_MAX) == IPW_OK &&
           ipw_grow(&s->pconn, &s->pconn_cap, n, sizeof *s->pconn, SIZE_MAX) == IPW_OK;
}

/* Sleeping streams get another chance to send (new readings have come). */
static void resume_deferred(struct ipw_grpc_server *s)
{
    for (struct call *k = s->calls; k; k = k->next) {
        if (k->deferred) {
            k->deferred = false;
            nghttp2_session_resume_data(k->conn->h2, k->id);
        }
    }
}

/* poll until an event or the deadline (0 = none); ppoll where it exists, for ticks that are
 * exact to the microsecond rather than rounded up to the next millisecond. */
static int wait_events(struct pollfd *pfd, size_t n, int64_t deadline)
{
#ifdef __linux__
    struct timespec ts, *tp = NULL;
    if (deadline) {
        int64_t d = deadline - ipw_mono_ns();
        d = d < 0 ? 0 : d > 60 * IPW_NS_PER_SEC ? 60 * IPW_NS_PER_SEC : d;
        ts.tv_sec = d / IPW_NS_PER_SEC;
        ts.tv_nsec = d % IPW_NS_PER_SEC;
        tp = &ts;
    }
    return ppoll(pfd, n, tp, NULL);
#else
    int timeout = -1;
    if (deadline) {
        int64_t ms = (deadline - ipw_mono_ns() + IPW_NS_PER_MS - 1) / IPW_NS_PER_MS;
        timeout = ms < 0 ? 0 : ms > 60000 ? 60000 : (int)ms;
    }
    return poll(pfd, n, timeout);
#endif
}

ipw_err ipw_grpc_server_run(struct ipw_grpc_server *s, ipw_errbuf *eb)
{
    if (s->nlisten == 0)
        return ipw_fail(eb, IPW_E_INVALID, "the gRPC server has no socket to listen on");
    s->timer_at = s->cfg.on_timer ? ipw_mono_ns() : 0;
    for (;;) {
        int64_t now = ipw_mono_ns();
        if (atomic_load(&s->stop_requested) && !s->stopping)
            begin_shutdown(s, now);
        if (s->timer_at && now >= s->timer_at && !s->stopping) {
            s->timer_at = s->cfg.on_timer(s->cfg.ud, now);
            resume_deferred(s);
            now = ipw_mono_ns();
        }
        int64_t next = expire(s, now);
        if (s->timer_at && !s->stopping && (!next || s->timer_at < next))
            next = s->timer_at;
        for (struct conn *c = s->conns, *cn; c; c = cn) {
            cn = c->next;
            conn_flush(c);
            conn_maybe_finish(c, now);
            if (c->closing && now >= c->linger_until)
                c->dead = true;
            if (c->dead)
                conn_free(c);
            else if (c->closing && (!next || c->linger_until < next))
                next = c->linger_until;
        }
        if (s->stopping) {
            if (!s->conns || now >= s->stop_deadline)
                break;
            if (!next || s->stop_deadline < next)
                next = s->stop_deadline;
        }

        size_t n = 0;
        if (!grow_pfd(s, 1 + (size_t)s->nlisten + s->nconns))
            return ipw_fail(eb, IPW_E_NOMEM, "out of memory polling %u connections", s->nconns);
        s->pfd[n] = (struct pollfd){.fd = s->wake.read_fd, .events = POLLIN};
        s->pconn[n++] = NULL;
        for (int i = 0; i < s->nlisten; i++) {
            s->pfd[n] = (struct pollfd){.fd = s->lfd[i], .events = POLLIN};
            s->pconn[n++] = NULL;
        }
        for (struct conn *c = s->conns; c; c = c->next) {
            short ev = POLLIN;
            if (c->pend_len)
                ev |= POLLOUT;
            s->pfd[n] = (struct pollfd){.fd = c->fd, .events = ev};
            s->pconn[n++] = c;
        }
        int rc = wait_events(s->pfd, n, next);
        if (rc < 0) {
            if (errno == EINTR)
                continue;
            return ipw_fail(eb, IPW_E_IO, "poll failed in the gRPC server: %s", strerror(errno));
        }
        if (rc == 0)
            continue;
        if (s->pfd[0].revents) {
            ipw_net_wake_drain(&s->wake);
            if (atomic_load(&s->stop_requested) && !s->stopping)
                begin_shutdown(s, ipw_mono_ns());
            if (s->cfg.on_wake)
                s->cfg.on_wake(s->cfg.ud);
            resume_deferred(s);
        }
        for (size_t i = 1; i < n; i++) {
            if (!s->pfd[i].revents)
                continue;
            if (!s->pconn[i]) {
                for (int l = 0; l < s->nlisten; l++)
                    if (s->lfd[l] == s->pfd[i].fd)
                        accept_all(s, s->lfd[l]);
                continue;
            }
            struct conn *c = s->pconn[i];
            if (s->pfd[i].revents & (POLLIN | POLLHUP | POLLERR))
                conn_read(c);
            if (s->pfd[i].revents & POLLOUT)
                conn_flush(c);
        }
    }
    while (s->conns)
        conn_free(s->conns);
    close_listeners(s);
    return IPW_OK;
}

ipw_err ipw_grpc_server_feed(struct ipw_grpc_server *s, const uint8_t *in, size_t len,
                             struct ipw_buf *out, ipw_errbuf *eb)
{
    struct conn *c = conn_new(s, -1);
    if (!c)
        return ipw_fail(eb, IPW_E_NOMEM, "cannot create an in-memory connection");
    c->mem_out = out;
    ipw_err e = IPW_OK;
    ssize_t r = nghttp2_session_mem_recv(c->h2, in, len);
    if (r < 0) {
        if (!c->proto_err)
            s->st_proto_err++;
        c->proto_err = true;
        nghttp2_session_terminate_session(c->h2, NGHTTP2_PROTOCOL_ERROR);
        e = ipw_fail(eb, IPW_E_PROTOCOL, "%s", nghttp2_strerror((int)r));
    }
    conn_flush(c);
    /* One tick of the loop: new readings, sleeping streams resumed. */
    if (s->cfg.on_wake)
        s->cfg.on_wake(s->cfg.ud);
    for (struct call *k = s->calls; k; k = k->next) {
        if (k->conn == c && k->deferred) {
            k->deferred = false;
            nghttp2_session_resume_data(c->h2, k->id);
        }
    }
    conn_flush(c);
    conn_free(c);
    return e;
}

void ipw_grpc_server_wake(struct ipw_grpc_server *s) { ipw_net_wake_poke(&s->wake); }

void ipw_grpc_server_stop(struct ipw_grpc_server *s)
{
    atomic_store(&s->stop_requested, true);
    ipw_net_wake_poke(&s->wake);
}

void ipw_grpc_server_timer_before(struct ipw_grpc_server *s, int64_t at)
{
    if (s->cfg.on_timer && s->timer_at && at < s->timer_at)
        s->timer_at = at;
}

void ipw_grpc_server_get_stats(struct ipw_grpc_server *s, struct ipw_grpc_server_stats *st)
{
    st->connections_total = s->st_conn_total;
    st->connections_open = s->st_conn_open;
    st->calls_total = s->st_calls_total;
    st->calls_open = s->st_calls_open;
    st->protocol_errors = s->st_proto_err;
    st->refused = s->st_refused;
}

void ipw_grpc_server_destroy(struct ipw_grpc_server *s)
{
    if (!s)
        return;
    while (s->conns)
        conn_free(s->conns);
    close_listeners(s);
    ipw_net_wake_close(&s->wake);
    if (s->cbs)
        nghttp2_session_callbacks_del(s->cbs);
    if (s->opt)
        nghttp2_option_del(s->opt);
    free(s->pfd);
    free(s->pconn);
    free(s);
}
