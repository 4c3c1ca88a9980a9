/* Sockets for the gRPC server, the metrics endpoint and the client: listening on TCP or a Unix
 * path, connecting with a timeout, and the loop's wakeup channel (eventfd, or a pipe). */
#ifndef IPW_GRPC_NET_H
#define IPW_GRPC_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ipw/err.h"

/* Listen on host:port (port 0 picks a free one, reported in *bound_port). Non-blocking. */
ipw_err ipw_net_listen_tcp(const char *host, int port, int *fd, int *bound_port, ipw_errbuf *eb);
/* Listen on a Unix socket path with the given mode (e.g. 0660). A stale socket file left by a
 * dead process is replaced; a live one is an error. */
ipw_err ipw_net_listen_unix(const char *path, unsigned mode, int *fd, ipw_errbuf *eb);
/* Connect to "HOST:PORT", "[V6]:PORT" or "unix:PATH" within timeout_ms; non-blocking fd. */
ipw_err ipw_net_connect(const char *target, int timeout_ms, int *fd, ipw_errbuf *eb);
/* Checks a connect target's syntax ("HOST:PORT" with a port 1..65535, "[V6]:PORT", "unix:PATH")
 * without resolving or connecting. */
ipw_err ipw_net_check_target(const char *target, ipw_errbuf *eb);
bool ipw_net_is_loopback(const char *host);
int ipw_net_set_nonblocking(int fd);

/* What an HTTP/2 session has to send, written to a non-blocking socket: output nghttp2 gave
 * that the socket has not taken yet waits in *pend / *pend_len for the next call (so poll for
 * POLLOUT while *pend_len > 0). With mem_out (a struct ipw_buf, the server's in-memory
 * connections) the bytes are appended there instead of sent. Returns false when the connection
 * is lost: nghttp2 failed, send failed other than EAGAIN/EINTR, or mem_out is full. Written
 * once for the server and the client. h2 is an nghttp2_session. */
struct ipw_buf;
bool ipw_net_h2_flush(void *h2, int fd, const uint8_t **pend, size_t *pend_len,
                      struct ipw_buf *mem_out);

/* A wakeup channel that other threads and signal handlers may poke (write is
 * async-signal-safe). poll `read_fd` for POLLIN; drain with ipw_net_wake_drain. */
struct ipw_net_wake {
    int read_fd, write_fd;
};
ipw_err ipw_net_wake_open(struct ipw_net_wake *w, ipw_errbuf *eb);
void ipw_net_wake_poke(const struct ipw_net_wake *w);
void ipw_net_wake_drain(const struct ipw_net_wake *w);
void ipw_net_wake_close(struct ipw_net_wake *w);

#endif
