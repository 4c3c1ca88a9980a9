/* gRPC message framing and the small header formats (grpc-timeout, grpc-message) that the
 * server and the client both need. Pure functions over bytes: fuzzed by fuzz_grpc_frame. */
#include "grpc/grpc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *ipw_grpc_code_name(int code)
{
    static const char *const names[] = {
        "OK",        "CANCELLED",          "UNKNOWN",          "INVALID_ARGUMENT",
        "DEADLINE_EXCEEDED", "NOT_FOUND",  "ALREADY_EXISTS",   "PERMISSION_DENIED",
        "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE",
        "UNIMPLEMENTED", "INTERNAL",       "UNAVAILABLE",      "DATA_LOSS",
        "UNAUTHENTICATED"};
    if (code < 0 || code >= (int)(sizeof names / sizeof names[0]))
        return "UNKNOWN";
    return names[code];
}

void ipw_grpc_frame_header(uint8_t out[IPW_GRPC_FRAME_HEADER], uint32_t len)
{
    out[0] = 0;
    out[1] = (uint8_t)(len >> 24);
    out[2] = (uint8_t)(len >> 16);
    out[3] = (uint8_t)(len >> 8);
    out[4] = (uint8_t)len;
}

void ipw_grpc_deframer_init(struct ipw_grpc_deframer *d, size_t max)
{
    memset(d, 0, sizeof *d);
    d->max = max;
    d->body.max = max;
}

static int fail(struct ipw_grpc_deframer *d, int code, const char *fmt, unsigned long a,
                unsigned long b)
{
    d->error = code;
    snprintf(d->errmsg, sizeof d->errmsg, fmt, a, b);
    return code;
}

int ipw_grpc_deframer_feed(struct ipw_grpc_deframer *d, const uint8_t *data, size_t len,
                           ipw_grpc_message_cb cb, void *ud)
{
    if (d->error)
        return d->error;
    while (len > 0 || (d->in_body && d->need == 0)) {
        if (!d->in_body) {
            size_t take = IPW_GRPC_FRAME_HEADER - d->hdr_have;
            if (take > len)
                take = len;
            memcpy(d->hdr + d->hdr_have, data, take);
            d->hdr_have += take;
            data += take;
            len -= take;
            if (d->hdr_have < IPW_GRPC_FRAME_HEADER)
                break;
            uint32_t n = (uint32_t)d->hdr[1] << 24 | (uint32_t)d->hdr[2] << 16 |
                         (uint32_t)d->hdr[3] << 8 | d->hdr[4];
            if (d->hdr[0] == 1) {
                d->compressed = true;
                return fail(d, 12, "compressed messages are not supported (flag %lu, %lu bytes)",
                            1, n);
            }
            if (d->hdr[0] != 0)
                return fail(d, 13, "invalid message flag byte %lu (length %lu)", d->hdr[0], n);
            if (n > d->max)
                return fail(d, 8, "message of %lu bytes exceeds the limit of %lu bytes", n,
                            (unsigned long)d->max);
            d->need = n;
            d->in_body = true;
            ipw_buf_reset(&d->body);
        }
        size_t take = d->need - d->body.len;
        if (take > len)
            take = len;
        /* A message that arrived whole in this piece is handed over without copying. */
        if (d->body.len == 0 && take == d->need) {
            d->in_body = false;
            d->hdr_have = 0;
            int rc = cb ? cb(ud, data, take) : 0;
            data += take;
            len -= take;
            if (rc)
                return rc;
            continue;
        }
        if (ipw_buf_add(&d->body, data, take) != IPW_OK)
            return fail(d, 8, "out of memory buffering a message of %lu bytes (%lu held)",
                        d->need, (unsigned long)d->body.len);
        data += take;
        len -= take;
        if (d->body.len < d->need)
            break;
        d->in_body = false;
        d->hdr_have = 0;
        int rc = cb ? cb(ud, (const uint8_t *)d->body.p, d->body.len) : 0;
        ipw_buf_reset(&d->body);
        if (rc)
            return rc;
    }
    return 0;
}

bool ipw_grpc_deframer_idle(const struct ipw_grpc_deframer *d)
{
    return !d->in_body && d->hdr_have == 0;
}

void ipw_grpc_deframer_free(struct ipw_grpc_deframer *d) { ipw_buf_free(&d->body); }

int64_t ipw_grpc_parse_timeout(const char *v, size_t len)
{
    if (len < 2 || len > 9)
        return -1;
    int64_t n = 0;
    for (size_t i = 0; i + 1 < len; i++) {
        if (v[i] < '0' || v[i] > '9')
            return -1;
        n = n * 10 + (v[i] - '0');
    }
    /* 8 digits keep every unit below 2^63 ns except hours: clamp those to ~292 years. */
    switch (v[len - 1]) {
    case 'H': return n > 2562047 ? INT64_MAX : n * 3600 * 1000000000LL;
    case 'M': return n * 60 * 1000000000LL;
    case 'S': return n * 1000000000LL;
    case 'm': return n * 1000000LL;
    case 'u': return n * 1000LL;
    case 'n': return n;
    default: return -1;
    }
}

void ipw_grpc_format_timeout(int64_t ns, char *out, size_t size)
{
    static const struct {
        char unit;
        int64_t ns;
    } units[] = {{'n', 1},
                 {'u', 1000},
                 {'m', 1000000},
                 {'S', 1000000000LL},
                 {'M', 60 * 1000000000LL},
                 {'H', 3600 * 1000000000LL}};
    if (ns < 1)
        ns = 1;
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        /* round up so that the peer never sees a deadline earlier than ours */
        int64_t v = ns / units[i].ns + (ns % units[i].ns != 0);
        if (v < 100000000) {
            snprintf(out, size, "%lld%c", (long long)v, units[i].unit);
            return;
        }
    }
    snprintf(out, size, "99999999H");
}

void ipw_grpc_percent_encode(const char *in, char *out, size_t size)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;
    if (size == 0)
        return;
    for (const unsigned char *p = (const unsigned char *)in; *p; p++) {
        if (*p >= 0x20 && *p <= 0x7e && *p != '%') {
            if (o + 1 >= size)
                break;
            out[o++] = (char)*p;
        } else {
            if (o + 3 >= size)
                break;
            out[o++] = '%';
            out[o++] = hex[*p >> 4];
            out[o++] = hex[*p & 15];
        }
    }
    out[o] = '\0';
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

void ipw_grpc_percent_decode(const char *in, size_t len, char *out, size_t size)
{
    size_t o = 0;
    if (size == 0)
        return;
    for (size_t i = 0; i < len && o + 1 < size; i++) {
        int hi, lo;
        if (in[i] == '%' && i + 2 < len && (hi = hexval(in[i + 1])) >= 0 &&
            (lo = hexval(in[i + 2])) >= 0) {
            char c = (char)(hi << 4 | lo);
            out[o++] = c ? c : '?';
            i += 2;
        } else {
            out[o++] = in[i] ? in[i] : '?';
        }
    }
    out[o] = '\0';
}
