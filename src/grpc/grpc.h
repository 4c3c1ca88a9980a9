/* gRPC over HTTP/2, the parts the server and the client share: status codes, message framing
 * (1 flag byte + 4-byte big-endian length), the grpc-timeout header and grpc-message escaping. */
#ifndef IPW_GRPC_H
#define IPW_GRPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ipw/buf.h"

#define IPW_GRPC_FRAME_HEADER 5
#define IPW_GRPC_MAX_MESSAGE ((size_t)4 << 20) /* 4 MiB, grpc's default receive limit */

enum ipw_grpc_code {
    IPW_GRPC_OK = 0,
    IPW_GRPC_CANCELLED = 1,
    IPW_GRPC_UNKNOWN = 2,
    IPW_GRPC_INVALID_ARGUMENT = 3,
    IPW_GRPC_DEADLINE_EXCEEDED = 4,
    IPW_GRPC_NOT_FOUND = 5,
    IPW_GRPC_RESOURCE_EXHAUSTED = 8,
    IPW_GRPC_FAILED_PRECONDITION = 9,
    IPW_GRPC_UNIMPLEMENTED = 12,
    IPW_GRPC_INTERNAL = 13,
    IPW_GRPC_UNAVAILABLE = 14,
};

/* "OK", "DEADLINE_EXCEEDED", ...; "CODE_<n>" style text is never returned: unknown -> "UNKNOWN". */
const char *ipw_grpc_code_name(int code);


void ipw_grpc_frame_header(uint8_t out[IPW_GRPC_FRAME_HEADER], uint32_t len);

/* Splits a byte stream into messages. Bytes can arrive in any pieces; each complete message is
 * handed to the callback (the pointer is valid only during the call). A message longer than
 * `max` is refused from its 5-byte prefix, before any of it is buffered. */
struct ipw_grpc_deframer {
    size_t max;
    uint8_t hdr[IPW_GRPC_FRAME_HEADER];
    size_t hdr_have;
    uint32_t need; /* body length of the message being read */
    bool in_body;
    struct ipw_buf body;
    int error;     /* sticky ipw_grpc_code once the stream is unusable */
    bool compressed; /* the error is a message with the compressed flag (1) set: the caller
                      * decides between INTERNAL and UNIMPLEMENTED from grpc-encoding */
    char errmsg[128];
};

typedef int (*ipw_grpc_message_cb)(void *ud, const uint8_t *msg, size_t len);

void ipw_grpc_deframer_init(struct ipw_grpc_deframer *d, size_t max);
/* Returns IPW_GRPC_OK, the deframer's sticky error code (RESOURCE_EXHAUSTED for an oversized
 * message, UNIMPLEMENTED for a compressed one, RESOURCE_EXHAUSTED when memory runs out), or
 * whatever non-zero value the callback returned (which stops the feed). */
int ipw_grpc_deframer_feed(struct ipw_grpc_deframer *d, const uint8_t *data, size_t len,
                           ipw_grpc_message_cb cb, void *ud);
/* True when no message is half-read (a stream that ends now ended cleanly). */
bool ipw_grpc_deframer_idle(const struct ipw_grpc_deframer *d);
void ipw_grpc_deframer_free(struct ipw_grpc_deframer *d);

/* grpc-timeout: 1 to 8 digits and a unit (H M S m u n). Returns nanoseconds, or -1 when the
 * value is malformed. */
int64_t ipw_grpc_parse_timeout(const char *v, size_t len);
/* Formats ns as a grpc-timeout value (at most 8 digits, the finest unit that fits). */
void ipw_grpc_format_timeout(int64_t ns, char *out, size_t size);

/* grpc-message is percent-encoded: bytes outside 0x20-0x7E and '%' become %XX. Both functions
 * always terminate `out` and truncate rather than overflow. */
void ipw_grpc_percent_encode(const char *in, char *out, size_t size);
void ipw_grpc_percent_decode(const char *in, size_t len, char *out, size_t size);

#endif
