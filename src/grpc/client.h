/* A gRPC client over cleartext HTTP/2 (h2c, prior knowledge) on nghttp2, for unary and
 * server-streaming calls. Blocking calls with timeouts; one thread uses a client at a time,
 * and any thread may interrupt it. */
#ifndef IPW_GRPC_CLIENT_H
#define IPW_GRPC_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "grpc/grpc.h"
#include "ipw/err.h"

struct ipw_grpc_client;
struct ipw_grpc_stream;

/* target: "HOST:PORT", "[V6]:PORT" or "unix:PATH". */
ipw_err ipw_grpc_client_connect(const char *target, int64_t timeout_ns,
                                struct ipw_grpc_client **out, ipw_errbuf *eb);

/* One request, one response. The call itself succeeded when IPW_OK is returned; *code is the
 * gRPC status (and msg its message); resp holds the response message when *code is 0.
 * timeout_ns bounds the wait and is sent as grpc-timeout (0 = none). */
ipw_err ipw_grpc_client_unary(struct ipw_grpc_client *c, const char *path, const uint8_t *req,
                              size_t len, int64_t timeout_ns, struct ipw_buf *resp, int *code,
                              char *msg, size_t msgsize, ipw_errbuf *eb);

/* Start a server-streaming call. timeout_ns > 0 is sent as grpc-timeout, for the server to
 * enforce; the client does not end the stream itself. */
ipw_err ipw_grpc_client_stream(struct ipw_grpc_client *c, const char *path, const uint8_t *req,
                               size_t len, int64_t timeout_ns, struct ipw_grpc_stream **out,
                               ipw_errbuf *eb);

/* Wait up to timeout_ns (< 0: forever) for the next message. IPW_OK with *msg and *len (valid until
 * the next call on this client) or, with *msg == NULL, the end of the stream: its status is then
 * in ipw_grpc_stream_status. IPW_E_TIMEOUT: nothing yet, the stream goes on. IPW_E_LOST: the
 * connection dropped. IPW_E_CANCELLED: interrupted. */
ipw_err ipw_grpc_stream_next(struct ipw_grpc_stream *st, const uint8_t **msg, size_t *len,
                             int64_t timeout_ns, ipw_errbuf *eb);
/* Final status of an ended stream (-1 while it runs); copies grpc-message into msg. */
int ipw_grpc_stream_status(const struct ipw_grpc_stream *st, char *msg, size_t msgsize);
/* Cancel (RST_STREAM CANCEL) if still open, and release the stream. */
void ipw_grpc_stream_close(struct ipw_grpc_stream *st);

/* Thread-safe: any blocking call in progress, and every later one, returns IPW_E_CANCELLED. */
void ipw_grpc_client_interrupt(struct ipw_grpc_client *c);
/* True while the connection can start new calls (no GOAWAY, not lost). */
bool ipw_grpc_client_usable(const struct ipw_grpc_client *c);
void ipw_grpc_client_close(struct ipw_grpc_client *c);

#endif
