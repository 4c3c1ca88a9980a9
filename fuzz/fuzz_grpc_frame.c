/* Fuzz target: gRPC message framing and the grpc-timeout / grpc-message header formats.
 * Oracle: whatever the deframer accepts, re-framed, is exactly the input it consumed; every
 * message respects the size limit; encodings round-trip. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "grpc/grpc.h"

struct rebuilt {
    struct ipw_buf out;
    size_t max;
};

static int reframe(void *ud, const uint8_t *msg, size_t len)
{
    struct rebuilt *rb = ud;
    if (len > rb->max)
        abort();
    uint8_t h[IPW_GRPC_FRAME_HEADER];
    ipw_grpc_frame_header(h, (uint32_t)len);
    if (ipw_buf_add(&rb->out, h, sizeof h) != IPW_OK || ipw_buf_add(&rb->out, msg, len) != IPW_OK)
        abort();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    size_t step = (size_t)data[0] % 17 + 1;
    size_t max = (size_t)64 << (data[1] % 8);
    const uint8_t *in = data + 2;
    size_t len = size - 2;

    struct ipw_grpc_deframer d;
    ipw_grpc_deframer_init(&d, max);
    struct rebuilt rb = {.out = {.max = 2 * len + 64}, .max = max};
    int rc = 0;
    size_t fed = 0;
    for (size_t off = 0; off < len && rc == 0; off += step) {
        size_t n = off + step > len ? len - off : step;
        rc = ipw_grpc_deframer_feed(&d, in + off, n, reframe, &rb);
        fed = off + n;
    }
    if (rc == 0) {
        size_t pending = ipw_grpc_deframer_idle(&d) ? 0 : d.hdr_have + d.body.len;
        if (rb.out.len + pending != fed || (rb.out.len && memcmp(rb.out.p, in, rb.out.len)))
            abort();
    } else if (rc != IPW_GRPC_RESOURCE_EXHAUSTED && rc != IPW_GRPC_UNIMPLEMENTED &&
               rc != IPW_GRPC_INTERNAL) {
        abort();
    }
    ipw_buf_free(&rb.out);
    ipw_grpc_deframer_free(&d);

    /* grpc-timeout: a parsed value formats back to one no earlier */
    size_t tl = len < 12 ? len : 12;
    int64_t ns = ipw_grpc_parse_timeout((const char *)in, tl);
    if (ns > 0 && ns < INT64_MAX / 2) {
        char buf[16];
        ipw_grpc_format_timeout(ns, buf, sizeof buf);
        int64_t back = ipw_grpc_parse_timeout(buf, strlen(buf));
        if (back < ns)
            abort();
    }

    /* grpc-message: decode(encode(s)) == s for any NUL-free string that fits */
    char s[256], enc[3 * 256 + 1], dec[256];
    size_t sl = 0;
    for (size_t i = 0; i < len && sl < sizeof s - 1; i++)
        if (in[i])
            s[sl++] = (char)in[i];
    s[sl] = '\0';
    ipw_grpc_percent_encode(s, enc, sizeof enc);
    ipw_grpc_percent_decode(enc, strlen(enc), dec, sizeof dec);
    if (strcmp(s, dec) != 0)
        abort();
    ipw_grpc_percent_decode((const char *)in, len, dec, sizeof dec);
    return 0;
}
