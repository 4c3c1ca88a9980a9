/* GET /api/jobs/{id}/events: a job's events as Server-Sent Events. The response's reader
 * blocks (this connection has its own thread) until the job emits more, sends a comment every
 * 15 s so that idle proxies and browsers keep the stream, and ends with the job. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "labweb/server.h"

#define LW_KEEPALIVE_MS 15000

static ssize_t read_events(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    struct lw_reader *rd = cls;
    long n = lw_reader_read(rd, buf, max, LW_KEEPALIVE_MS);
    if (n < 0)
        return MHD_CONTENT_READER_END_OF_STREAM;
    if (n == 0) {
        static const char ping[] = ": keep-alive\n\n";
        size_t k = sizeof ping - 1 < max ? sizeof ping - 1 : max;
        memcpy(buf, ping, k);
        return (ssize_t)k;
    }
    return n;
}

static void free_reader(void *cls) { lw_reader_close(cls); }

lw_result lw_stream_events(struct lw_req *r)
{
    /* A browser that reconnects says where it stopped; the stream resumes after that event. */
    const char *last = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Last-Event-ID");
    const char *from = MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, "after");
    uint64_t after = 0;
    if (last && *last)
        after = strtoull(last, NULL, 10);
    else if (from && *from)
        after = strtoull(from, NULL, 10);
    struct lw_reader *rd = lw_reader_open(r->w->jobs, r->id, after);
    if (!rd)
        return lw_reply_error(r->conn, 404, "no job '%s' (GET /api/queue lists them)", r->id);
    struct MHD_Response *resp =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16 * 1024, read_events, rd,
                                          free_reader);
    if (!resp) {
        lw_reader_close(rd);
        return MHD_NO;
    }
    MHD_add_response_header(resp, "Content-Type", "text/event-stream; charset=utf-8");
    MHD_add_response_header(resp, "Cache-Control", "no-store");
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(resp, "X-Accel-Buffering", "no");
    lw_result res = MHD_queue_response(r->conn, 200, resp);
    MHD_destroy_response(resp);
    return res;
}
