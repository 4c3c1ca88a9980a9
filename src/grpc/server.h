/* A gRPC server over cleartext HTTP/2 (h2c, prior knowledge) built on nghttp2: one event-loop
 * thread, non-blocking sockets, many connections and many streams per connection. Services
 * register unary and server-streaming methods by path; everything they are called with runs
 * on the loop thread. */
#ifndef IPW_GRPC_SERVER_H
#define IPW_GRPC_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include "grpc/grpc.h"
#include "ipw/err.h"

enum ipw_grpc_pull {
    IPW_GRPC_PULL_MESSAGE = 0, /* `out` holds one message (unframed) to send now */
    IPW_GRPC_PULL_WAIT,        /* nothing yet: the stream sleeps until ipw_grpc_server_wake */
    IPW_GRPC_PULL_END          /* end the stream with *code (and msg) */
};

struct ipw_grpc_method {
    const char *path; /* "/package.Service/Method" */
    void *ud;
    /* Unary: decode the request, append the response message to `resp`; return a grpc code
     * (IPW_GRPC_OK, or another with a one-line reason in msg). */
    int (*unary)(void *ud, const uint8_t *req, size_t len, struct ipw_buf *resp, char *msg,
                 size_t msgsize);
    /* Server streaming (unary == NULL): open returns a code and sets *state; pull is asked for
     * the next message whenever HTTP/2 flow control lets the stream send; close is called
     * exactly once per successful open, with the stream's final code (CANCELLED when the
     * client went away). */
    int (*open)(void *ud, const uint8_t *req, size_t len, void **state, char *msg,
                size_t msgsize);
    enum ipw_grpc_pull (*pull)(void *ud, void *state, struct ipw_buf *out, int *code,
                               char *msg, size_t msgsize);
    void (*close)(void *ud, void *state, int code);
};

struct ipw_grpc_server_config {
    const struct ipw_grpc_method *methods;
    size_t nmethods;
    /* Called on the loop thread after every ipw_grpc_server_wake, before sleeping streams are
     * asked for messages again. */
    void (*on_wake)(void *ud);
    /* Optional timer on the loop thread: first called as soon as run starts, then at the
     * (monotonic) time it returns; returning 0 stops it. Sleeping streams are resumed after
     * each call. */
    int64_t (*on_timer)(void *ud, int64_t now);
    void *ud;
    unsigned max_connections;      /* default 1024 */
    unsigned max_streams_per_conn; /* SETTINGS_MAX_CONCURRENT_STREAMS, default 100 */
    size_t max_message;            /* request limit, default 4 MiB (status 8 above it) */
    size_t max_header_list;        /* request header bytes, default 16 KiB */
    size_t max_buffered;           /* request bytes held by all calls together, default 32 MiB
                                    * (status 8 for the request that would pass it) */
    int64_t shutdown_grace_ns;     /* how long clients get to read their trailers, default 2 s */
};

struct ipw_grpc_server_stats {
    uint64_t connections_total, connections_open;
    uint64_t calls_total, calls_open;
    uint64_t protocol_errors; /* connections closed for a malformed preface or frame */
    uint64_t refused;         /* connections or streams refused at a limit */
};

struct ipw_grpc_server;

ipw_err ipw_grpc_server_create(const struct ipw_grpc_server_config *cfg,
                               struct ipw_grpc_server **out, ipw_errbuf *eb);
ipw_err ipw_grpc_server_listen_tcp(struct ipw_grpc_server *s, const char *host, int port,
                                   int *bound_port, ipw_errbuf *eb);
ipw_err ipw_grpc_server_listen_unix(struct ipw_grpc_server *s, const char *path, unsigned mode,
                                    ipw_errbuf *eb);
/* Serve until ipw_grpc_server_stop; then GOAWAY to every client, end open streams with
 * status 0 (requests still being received get 14 UNAVAILABLE), wait for the trailers to leave
 * (at most the grace period) and return. */
ipw_err ipw_grpc_server_run(struct ipw_grpc_server *s, ipw_errbuf *eb);
/* Both are thread-safe and async-signal-safe (an atomic flag and one write()). */
void ipw_grpc_server_wake(struct ipw_grpc_server *s);
void ipw_grpc_server_stop(struct ipw_grpc_server *s);
/* Loop thread only (from a method or on_wake/on_timer callback): bring the next on_timer call
 * forward to `at` (monotonic ns) when it is due later than that, e.g. when a stream opens and
 * the timer's owner wants to leave its slow idle pace at once. */
void ipw_grpc_server_timer_before(struct ipw_grpc_server *s, int64_t at);
/* Run bytes received on a connection through the request path without a socket: a fresh
 * in-memory connection gets `in`, one loop tick runs, and what the server would send is appended
 * to `out` (bounded by out->max); then the connection is dropped. For fuzzing and tests, on a
 * server that is not running (never beside ipw_grpc_server_run on another thread). */
ipw_err ipw_grpc_server_feed(struct ipw_grpc_server *s, const uint8_t *in, size_t len,
                             struct ipw_buf *out, ipw_errbuf *eb);
void ipw_grpc_server_get_stats(struct ipw_grpc_server *s, struct ipw_grpc_server_stats *st);
void ipw_grpc_server_destroy(struct ipw_grpc_server *s);

#endif
