/* Shared between the web layer's HTTP plumbing (server.c), its API routes (routes.c) and the
 * event streams (stream.c). */
#ifndef IPW_LABWEB_SERVER_H
#define IPW_LABWEB_SERVER_H

#include <jansson.h>
#include <microhttpd.h>

#include "ipw/labweb.h"
#include "labweb/guard.h"
#include "labweb/jobs.h"

#if MHD_VERSION < 0x00097002
typedef int lw_result;
#else
typedef enum MHD_Result lw_result;
#endif

struct ipw_labweb {
    struct MHD_Daemon *d;
    int port;
    bool allow_remote;
    char token[LW_TOKEN_LEN + 1];
    size_t max_body;
    const struct ipw_labweb_engine *eng;
    void *ud;
    struct lw_jobs *jobs;
    json_t *defaults; /* client, base_url, model, collector given on the command line */
};

/* One request once its body is in. */
struct lw_req {
    struct ipw_labweb *w;
    struct MHD_Connection *conn;
    const char *method;
    const char *path;
    const char *body; /* NUL-terminated; "" when none */
    size_t body_len;
    const char *id; /* the {id} segment of the route, NUL-terminated */
};

/* Replies; each takes ownership of what it is given. */
lw_result lw_reply_json(struct MHD_Connection *conn, unsigned status, json_t *body);
lw_result lw_reply_error(struct MHD_Connection *conn, unsigned status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The error of an engine call, with the HTTP status its code maps to. */
lw_result lw_reply_engine_error(struct MHD_Connection *conn, ipw_err e, const ipw_errbuf *eb);
lw_result lw_reply_bytes(struct MHD_Connection *conn, unsigned status, const char *type,
                         char *body, size_t len, const char *disposition);

/* What a method and path resolve to in the API's route table (routes.c), before any handler
 * runs: a route (HEAD is routed as GET), a known path without that method (405), an id
 * segment that lw_id_valid refuses (400), or nothing (404). Pure, so that it is fuzzed on its
 * own (fuzz/fuzz_labweb_routes.c). */
enum lw_route_verdict { LW_ROUTE_FOUND, LW_ROUTE_NO_METHOD, LW_ROUTE_BAD_ID, LW_ROUTE_NONE };
struct lw_route_match {
    int route;           /* index in the table; -1 when no route has this path */
    const char *method;  /* that route's method and pattern ("*" is the id segment) */
    const char *pattern;
    char id[LW_ID_MAX + 1]; /* the "*" segment, "" when the pattern has none */
};
enum lw_route_verdict lw_route_find(const char *method, const char *path,
                                    struct lw_route_match *m);
/* Routes a request whose headers passed the guards (routes.c). */
lw_result lw_route(struct lw_req *r);
/* GET /api/jobs/{id}/events (stream.c). */
lw_result lw_stream_events(struct lw_req *r);
/* GET / (page.c): the embedded page with this process's token in it. */
lw_result lw_serve_page(struct lw_req *r);

#endif
