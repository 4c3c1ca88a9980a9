/* One HTTP request on libcurl for the inference clients: a streamed body handed over line by
 * line as it arrives, or a bounded whole body; connect and idle timeouts without signals. */
#ifndef IPW_INFERENCE_HTTP_STREAM_H
#define IPW_INFERENCE_HTTP_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ipw/buf.h"
#include "ipw/chatstream.h"
#include "ipw/err.h"

/* Error bodies (non-2xx) are kept up to this many bytes; the rest is not read. */
#define IPW_HTTP_MAX_ERROR_BODY (64 * 1024)

struct ipw_http_call {
    const char *method; /* "GET" or "POST" */
    const char *url;
    const char *body; /* POST only */
    size_t body_len;
    const char *accept; /* Accept header, or NULL */
    const char *bearer; /* Authorization: Bearer <bearer>; NULL for none. Never logged. */
    int64_t connect_timeout_ns;
    int64_t idle_timeout_ns; /* no byte in or out for this long after sending: IPW_E_TIMEOUT */
    size_t max_line;         /* 0: IPW_STREAM_MAX_LINE */
    size_t max_body;         /* without on_line: larger bodies fail with IPW_E_RANGE */
    ipw_line_fn on_line;     /* 2xx body line by line; NULL: keep the whole body in the reply */
    void (*on_sent)(void *ud, int64_t mono_ns); /* connected; the request goes out now */
    void *ud;
};

struct ipw_http_reply {
    long status; /* 0 when no response arrived */
    char content_type[128];
    struct ipw_buf body; /* the whole body (no on_line) or the error body of a non-2xx reply;
                            its limit is max_body or IPW_HTTP_MAX_ERROR_BODY */
    bool body_truncated;
    bool sent;           /* the request went out (the connection was made) */
    size_t bytes;        /* body bytes received */
    unsigned long reads; /* pieces the body arrived in (write callbacks) */
};

/* Performs the call. IPW_OK means a complete HTTP response arrived, whatever its status.
 * Otherwise: IPW_E_IO (cannot connect or send), IPW_E_TIMEOUT (connect or idle timeout),
 * IPW_E_LOST (the connection closed mid-response), or whatever on_line returned. Messages
 * name the URL (its user:password part hidden). Thread-safe: one curl handle per call. */
ipw_err ipw_http_call(const struct ipw_http_call *c, struct ipw_http_reply *r, ipw_errbuf *eb);
void ipw_http_reply_free(struct ipw_http_reply *r);

/* url without a user:password@ part, for messages. */
void ipw_http_display_url(const char *url, char *out, size_t size);

#endif
