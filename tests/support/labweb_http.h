/* Client side of the lab web server's tests (tests/unit/test_labweb_*.c): requests over real
 * HTTP with libcurl, with this server's token and its own Origin by default, and readers of a
 * job's Server-Sent-Event stream on their own threads. */
#ifndef IPW_TEST_LABWEB_HTTP_H
#define IPW_TEST_LABWEB_HTTP_H

#include <jansson.h>
#include <pthread.h>
#include <stddef.h>

struct lwt_buf {
    char *p;
    size_t n;
};

struct lwt_resp {
    long status;
    char *body;
    char *headers;
    json_t *json; /* the body parsed, or NULL */
};

struct lwt_sse {
    char path[128];
    const char *last_id;
    pthread_t th;
    struct lwt_buf b; /* everything the stream sent, once joined */
    long status;
};

/* The server the helpers talk to (127.0.0.1:port) and its token. */
void lwt_target(int port, const char *token);
size_t lwt_collect(char *d, size_t sz, size_t nm, void *ud);
/* One request. hdrs: NULL-terminated extra headers; by default the token, a same-origin Origin
 * and a JSON content type are sent (pass "-" as the first entry to send no defaults). */
struct lwt_resp lwt_http(const char *method, const char *path, const char *body,
                         const char *const *hdrs);
void lwt_resp_free(struct lwt_resp *r);
/* Fails the test unless the status matches and, when error_has is given, the JSON error
 * contains it. */
void lwt_expect(const char *method, const char *path, const char *body, const char *const *hdrs,
                long status, const char *error_has);
/* Reads /api/jobs/ID/events until the server ends it (join s->th); last_id may be NULL. */
void lwt_sse_start(struct lwt_sse *s, const char *id, const char *last_id);
/* The "event:" names of a stream in order, joined by spaces. */
void lwt_sse_names(const char *text, char *out, size_t size);
/* Polls GET /api/jobs/ID until its state is `state`. */
void lwt_wait_state(const char *id, const char *state);
/* POST /api/runs, expecting 202; the job id (free it). */
char *lwt_submit(const char *body);

#endif
