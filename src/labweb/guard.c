/* Request guards of the web layer (guard.h): Host, Origin, token and path ids. */
#include "labweb/guard.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "grpc/net.h"

/* Splits "name:port", "[v6]:port", "name" into the host (brackets kept off) and the port
 * (-1 when absent); false when malformed. */
static bool split_host(const char *h, char *name, size_t size, long *port)
{
    size_t n = strlen(h);
    if (n == 0 || n >= size)
        return false;
    const char *colon;
    if (h[0] == '[') {
        const char *close = strchr(h, ']');
        if (!close || close == h + 1)
            return false;
        snprintf(name, size, "%.*s", (int)(close - h - 1), h + 1);
        colon = close[1] == ':' ? close + 1 : NULL;
        if (!colon && close[1] != '\0')
            return false;
    } else {
        colon = strchr(h, ':');
        if (colon && strchr(colon + 1, ':'))
            return false; /* a bare IPv6 address must be bracketed */
        snprintf(name, size, "%.*s", (int)(colon ? (size_t)(colon - h) : n), h);
    }
    if (name[0] == '\0')
        return false;
    *port = -1;
    if (colon) {
        char *end;
        if (colon[1] < '0' || colon[1] > '9')
            return false;
        *port = strtol(colon + 1, &end, 10);
        if (*end != '\0' || *port < 1 || *port > 65535)
            return false;
    }
    return true;
}

static bool name_chars_ok(const char *s, bool v6)
{
    for (; *s; s++) {
        char c = *s;
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '-' || c == '.' || (v6 && (c == ':' || c == '%'));
        if (!ok)
            return false;
    }
    return true;
}

bool lw_host_allowed(const char *host, int port, bool allow_remote)
{
    if (!host)
        return false;
    char name[256];
    long p;
    if (!split_host(host, name, sizeof name, &p))
        return false;
    if (p == -1 ? port != 80 : p != port)
        return false;
    if (!name_chars_ok(name, host[0] == '['))
        return false;
    if (ipw_net_is_loopback(name))
        return true;
    return allow_remote;
}

bool lw_origin_allowed(const char *origin, const char *host)
{
    if (!origin)
        return true;
    if (!host || strncmp(origin, "http://", 7) != 0)
        return false;
    return strcmp(origin + 7, host) == 0;
}

bool lw_token_new(char out[LW_TOKEN_LEN + 1])
{
    unsigned char raw[LW_TOKEN_LEN / 2];
    size_t got = 0;
    while (got < sizeof raw) {
        ssize_t n = getrandom(raw + got, sizeof raw - got, 0);
        if (n <= 0)
            return false;
        got += (size_t)n;
    }
    for (size_t i = 0; i < sizeof raw; i++)
        snprintf(out + 2 * i, 3, "%02x", raw[i]);
    return true;
}

bool lw_token_equal(const char *given, const char *token)
{
    if (!given || !token)
        return false;
    size_t n = strlen(token);
    if (strlen(given) != n)
        return false;
    unsigned char diff = 0;
    for (size_t i = 0; i < n; i++)
        diff |= (unsigned char)(given[i] ^ token[i]);
    return diff == 0;
}

bool lw_id_valid(const char *id, size_t len)
{
    if (len == 0 || len > LW_ID_MAX)
        return false;
    if ((len == 1 && id[0] == '.') || (len == 2 && id[0] == '.' && id[1] == '.'))
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = id[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '-' || c == '.' || c == ':';
        if (!ok)
            return false;
    }
    return true;
}
