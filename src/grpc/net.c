/* Socket plumbing shared by the gRPC server and client and the metrics endpoint. */
#include "grpc/net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/eventfd.h>
#endif

#include <nghttp2/nghttp2.h>

#include "ipw/buf.h"
#include "ipw/clock.h"

int ipw_net_set_nonblocking(int fd)
{
    int fl = fcntl(fd, F_GETFL, 0);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
        return -1;
    return fcntl(fd, F_SETFD, FD_CLOEXEC);
}

/* "[::1]" -> "::1"; anything else unchanged. */
static void strip_brackets(const char *host, char *out, size_t size)
{
    size_t n = strlen(host);
    if (n >= 2 && host[0] == '[' && host[n - 1] == ']')
        snprintf(out, size, "%.*s", (int)(n - 2), host + 1);
    else
        snprintf(out, size, "%s", host);
}

bool ipw_net_is_loopback(const char *host_in)
{
    char host[256];
    strip_brackets(host_in, host, sizeof host);
    if (strcmp(host, "localhost") == 0 || strcmp(host, "::1") == 0)
        return true;
    struct in_addr a;
    if (inet_pton(AF_INET, host, &a) == 1)
        return (ntohl(a.s_addr) >> 24) == 127;
    return false;
}

ipw_err ipw_net_listen_tcp(const char *host_in, int port, int *fd_out, int *bound_port,
                           ipw_errbuf *eb)
{
    char host[256], portstr[16];
    strip_brackets(host_in && *host_in ? host_in : "127.0.0.1", host, sizeof host);
    snprintf(portstr, sizeof portstr, "%d", port);
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    int rc = getaddrinfo(host, portstr, &hints, &res);
    if (rc != 0)
        return ipw_fail(eb, IPW_E_INVALID, "cannot resolve bind address '%s': %s", host,
                        gai_strerror(rc));
    int fd = -1, err = 0;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
        if (fd < 0) {
            err = errno;
            continue;
        }
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (ai->ai_family == AF_INET6)
            setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, 128) == 0)
            break;
        err = errno;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0) {
        if (err == EADDRINUSE)
            return ipw_fail(eb, IPW_E_EXISTS,
                            "cannot listen on %s:%d: the port is already in use (another "
                            "monitor running?); stop it or choose another port",
                            host, port);
        return ipw_fail(eb, err == EACCES ? IPW_E_PERM : IPW_E_IO, "cannot listen on %s:%d: %s",
                        host, port, strerror(err));
    }
    ipw_net_set_nonblocking(fd);
    if (bound_port) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof ss;
        *bound_port = port;
        if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0)
            *bound_port = ss.ss_family == AF_INET6
                              ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
                              : ntohs(((struct sockaddr_in *)&ss)->sin_port);
    }
    *fd_out = fd;
    return IPW_OK;
}

ipw_err ipw_net_listen_unix(const char *path, unsigned mode, int *fd_out, ipw_errbuf *eb)
{
    struct sockaddr_un sa = {0};
    sa.sun_family = AF_UNIX;
    if (strlen(path) >= sizeof sa.sun_path)
        return ipw_fail(eb, IPW_E_INVALID, "Unix socket path '%s' is longer than %zu bytes",
                        path, sizeof sa.sun_path - 1);
    memcpy(sa.sun_path, path, strlen(path) + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd < 0)
        return ipw_fail(eb, IPW_E_IO, "cannot create a Unix socket: %s", strerror(errno));
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        if (errno != EADDRINUSE)
            goto bind_failed;
        /* Replace the file only if nobody answers on it: never steal a live monitor's socket. */
        int probe = socket(AF_UNIX, SOCK_STREAM, 0);
        bool live = probe >= 0 && connect(probe, (struct sockaddr *)&sa, sizeof sa) == 0;
        if (probe >= 0)
            close(probe);
        struct stat st;
        if (live || lstat(path, &st) != 0 || !S_ISSOCK(st.st_mode)) {
            close(fd);
            return ipw_fail(eb, IPW_E_EXISTS,
                            "cannot listen on %s: %s; stop the other monitor or choose another "
                            "--unix path",
                            path, live ? "another process is serving there" : "a file exists there");
        }
        unlink(path);
        if (bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0)
            goto bind_failed;
    }
    if (chmod(path, mode) != 0 || listen(fd, 128) != 0) {
        int e = errno;
        close(fd);
        unlink(path);
        return ipw_fail(eb, IPW_E_IO, "cannot set up Unix socket %s: %s", path, strerror(e));
    }
    ipw_net_set_nonblocking(fd);
    *fd_out = fd;
    return IPW_OK;
bind_failed : {
    int e = errno;
    close(fd);
    return ipw_fail(eb, e == EACCES ? IPW_E_PERM : IPW_E_IO, "cannot bind Unix socket %s: %s",
                    path, strerror(e));
}
}

static ipw_err wait_connected(int fd, const char *target, int timeout_ms, ipw_errbuf *eb)
{
    struct pollfd p = {.fd = fd, .events = POLLOUT};
    int64_t deadline = ipw_mono_ns() + (int64_t)timeout_ms * IPW_NS_PER_MS;
    for (;;) {
        int left = (int)((deadline - ipw_mono_ns()) / IPW_NS_PER_MS);
        if (left < 0)
            left = 0;
        int rc = poll(&p, 1, left);
        if (rc < 0 && errno == EINTR)
            continue;
        if (rc == 0)
            return ipw_fail(eb, IPW_E_TIMEOUT, "connecting to %s timed out after %d ms", target,
                            timeout_ms);
        break;
    }
    int soerr = 0;
    socklen_t sl = sizeof soerr;
    getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
    if (soerr)
        return ipw_fail(eb, soerr == ECONNREFUSED ? IPW_E_LOST : IPW_E_IO,
                        "cannot connect to %s: %s (is the energy monitor running there?)", target,
                        strerror(soerr));
    return IPW_OK;
}

ipw_err ipw_net_check_target(const char *target, ipw_errbuf *eb)
{
    if (strncmp(target, "unix:", 5) == 0)
        return target[5] ? IPW_OK
                         : ipw_fail(eb, IPW_E_INVALID, "monitor address '%s' has no path", target);
    const char *colon = strrchr(target, ':');
    if (!colon || colon == target || !colon[1] || (size_t)(colon - target) >= 256)
        return ipw_fail(eb, IPW_E_INVALID,
                        "monitor address '%s' is not HOST:PORT (e.g. 127.0.0.1:50053) or "
                        "unix:PATH",
                        target);
    /* getaddrinfo takes the port modulo 65536: 70000 would quietly reach port 4464 */
    long port = 0;
    const char *p = colon + 1;
    for (; *p >= '0' && *p <= '9' && port <= 65535; p++)
        port = port * 10 + (*p - '0');
    if (*p || port < 1 || port > 65535)
        return ipw_fail(eb, IPW_E_INVALID,
                        "monitor address '%s' has port '%s': give a port from 1 to 65535", target,
                        colon + 1);
    return IPW_OK;
}

ipw_err ipw_net_connect(const char *target, int timeout_ms, int *fd_out, ipw_errbuf *eb)
{
    *fd_out = -1;
    if (strncmp(target, "unix:", 5) == 0) {
        const char *path = target + 5;
        struct sockaddr_un sa = {0};
        sa.sun_family = AF_UNIX;
        if (strlen(path) >= sizeof sa.sun_path)
            return ipw_fail(eb, IPW_E_INVALID, "Unix socket path '%s' is too long", path);
        memcpy(sa.sun_path, path, strlen(path) + 1);
        int fd = socket(AF_UNIX, SOCK_STREAM, 0);
        if (fd < 0)
            return ipw_fail(eb, IPW_E_IO, "cannot create a socket: %s", strerror(errno));
        ipw_net_set_nonblocking(fd);
        if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0 && errno != EINPROGRESS &&
            errno != EAGAIN) {
            int e = errno;
            close(fd);
            return ipw_fail(eb, IPW_E_LOST,
                            "cannot connect to %s: %s (is the energy monitor running there?)",
                            target, strerror(e));
        }
        ipw_err e = wait_connected(fd, target, timeout_ms, eb);
        if (e != IPW_OK) {
            close(fd);
            return e;
        }
        *fd_out = fd;
        return IPW_OK;
    }
    char host[256];
    ipw_err ce = ipw_net_check_target(target, eb);
    if (ce != IPW_OK)
        return ce;
    const char *colon = strrchr(target, ':');
    char raw[256];
    snprintf(raw, sizeof raw, "%.*s", (int)(colon - target), target);
    strip_brackets(raw, host, sizeof host);
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    int rc = getaddrinfo(host, colon + 1, &hints, &res);
    if (rc != 0)
        return ipw_fail(eb, IPW_E_NOTFOUND, "cannot resolve monitor address '%s': %s", target,
                        gai_strerror(rc));
    ipw_err last = IPW_E_IO;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        int fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
        if (fd < 0)
            continue;
        ipw_net_set_nonblocking(fd);
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0 && errno != EINPROGRESS) {
            last = ipw_fail(eb, IPW_E_LOST,
                            "cannot connect to %s: %s (is the energy monitor running there?)",
                            target, strerror(errno));
            close(fd);
            continue;
        }
        last = wait_connected(fd, target, timeout_ms, eb);
        if (last == IPW_OK) {
            freeaddrinfo(res);
            *fd_out = fd;
            return IPW_OK;
        }
        close(fd);
    }
    freeaddrinfo(res);
    return last;
}

ipw_err ipw_net_wake_open(struct ipw_net_wake *w, ipw_errbuf *eb)
{
#ifdef __linux__
    int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (fd < 0)
        return ipw_fail(eb, IPW_E_IO, "cannot create an eventfd: %s", strerror(errno));
    w->read_fd = w->write_fd = fd;
#else
    int p[2];
    if (pipe(p) != 0)
        return ipw_fail(eb, IPW_E_IO, "cannot create a pipe: %s", strerror(errno));
    ipw_net_set_nonblocking(p[0]);
    ipw_net_set_nonblocking(p[1]);
    w->read_fd = p[0];
    w->write_fd = p[1];
#endif
    return IPW_OK;
}

void ipw_net_wake_poke(const struct ipw_net_wake *w)
{
#ifdef __linux__
    uint64_t one = 1;
    ssize_t r = write(w->write_fd, &one, sizeof one);
#else
    char one = 1;
    ssize_t r = write(w->write_fd, &one, 1);
#endif
    (void)r; /* a full pipe already wakes the loop */
}

void ipw_net_wake_drain(const struct ipw_net_wake *w)
{
    char buf[64];
    while (read(w->read_fd, buf, sizeof buf) > 0)
        ;
}

void ipw_net_wake_close(struct ipw_net_wake *w)
{
    if (w->read_fd >= 0)
        close(w->read_fd);
    if (w->write_fd >= 0 && w->write_fd != w->read_fd)
        close(w->write_fd);
    w->read_fd = w->write_fd = -1;
}

bool ipw_net_h2_flush(void *h2, int fd, const uint8_t **pend, size_t *pend_len,
                      struct ipw_buf *mem_out)
{
    for (;;) {
        if (*pend_len == 0) {
            const uint8_t *data;
            ssize_t n = nghttp2_session_mem_send(h2, &data);
            if (n <= 0)
                return n == 0;
            *pend = data;
            *pend_len = (size_t)n;
        }
        if (mem_out) {
            bool ok = ipw_buf_add(mem_out, *pend, *pend_len) == IPW_OK;
            *pend_len = 0;
            if (!ok)
                return false;
            continue;
        }
        ssize_t w = send(fd, *pend, *pend_len, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return errno == EAGAIN || errno == EWOULDBLOCK;
        }
        *pend += w;
        *pend_len -= (size_t)w;
    }
}
