/* The lab's JSON API (docs/lab-api.md): a table of routes, each a method, a path pattern
 * ("*" stands for one id segment) and a handler that calls the engine or the job queue. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ipw/jsonutil.h"
#include "ipw/version.h"
#include "labweb/server.h"

/* A JSON object body, or a 400 already queued (*replied set). */
static json_t *body_object(struct lw_req *r, lw_result *replied)
{
    json_error_t je;
    json_t *j = json_loadb(r->body, r->body_len, IPW_LABWEB_JSON_FLAGS, &je);
    if (!j) {
        *replied = lw_reply_error(r->conn, 400, "the request body is not JSON (%s at line %d, "
                                                "column %d); send one JSON object",
                                  je.text, je.line, je.column);
        return NULL;
    }
    if (!json_is_object(j)) {
        json_decref(j);
        *replied = lw_reply_error(r->conn, 400, "the request body must be a JSON object");
        return NULL;
    }
    return j;
}

static const char *query_arg(struct lw_req *r, const char *key)
{
    return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, key);
}

/* The page's defaults fill what a request leaves out. */
static void apply_defaults(struct ipw_labweb *w, json_t *req)
{
    const char *k;
    json_t *v;
    json_object_foreach(w->defaults, k, v)
        if (!json_object_get(req, k))
            json_object_set(req, k, v);
}

static lw_result get_config(struct lw_req *r)
{
    return lw_reply_json(
        r->conn, 200,
        json_pack("{s:s, s:O, s:I, s:i, s:s}", "version", IPW_VERSION, "defaults",
                  r->w->defaults, "max_body", (json_int_t)r->w->max_body, "max_queue",
                  IPW_LABWEB_MAX_QUEUE, "engine", r->w->eng->name ? r->w->eng->name : ""));
}

static lw_result missing(struct lw_req *r)
{
    return lw_reply_error(r->conn, 501, "this server's engine (%s) does not offer %s %s",
                          r->w->eng->name ? r->w->eng->name : "?", r->method, r->path);
}

/* A GET that returns the engine's object as it is. */
static lw_result engine_get(struct lw_req *r,
                            ipw_err (*op)(void *ud, json_t **out, ipw_errbuf *eb))
{
    if (!op)
        return missing(r);
    ipw_errbuf eb = {0};
    json_t *out = NULL;
    ipw_err e = op(r->w->ud, &out, &eb);
    if (e != IPW_OK)
        return lw_reply_engine_error(r->conn, e, &eb);
    return lw_reply_json(r->conn, 200, out);
}

static lw_result get_models(struct lw_req *r)
{
    if (!r->w->eng->models)
        return missing(r);
    json_t *q = json_object();
    const char *client = query_arg(r, "client"), *base = query_arg(r, "base_url");
    if (client && *client)
        json_object_set_new(q, "client", json_string(client));
    if (base && *base)
        json_object_set_new(q, "base_url", json_string(base));
    apply_defaults(r->w, q);
    ipw_errbuf eb = {0};
    json_t *out = NULL;
    ipw_err e = r->w->eng->models(r->w->ud, q, &out, &eb);
    json_decref(q);
    if (e != IPW_OK)
        return lw_reply_engine_error(r->conn, e, &eb);
    return lw_reply_json(r->conn, 200, out);
}

static lw_result get_countries(struct lw_req *r) { return engine_get(r, r->w->eng->countries); }
static lw_result get_benchmarks(struct lw_req *r) { return engine_get(r, r->w->eng->benchmarks); }
static lw_result get_batches(struct lw_req *r) { return engine_get(r, r->w->eng->batches); }
static lw_result get_summary(struct lw_req *r) { return engine_get(r, r->w->eng->summary); }

static lw_result delete_batch(struct lw_req *r)
{
    if (!r->w->eng->remove_batch)
        return missing(r);
    ipw_errbuf eb = {0};
    ipw_err e = r->w->eng->remove_batch(r->w->ud, r->id, &eb);
    if (e != IPW_OK)
        return lw_reply_engine_error(r->conn, e, &eb);
    return lw_reply_json(r->conn, 200, json_pack("{s:s, s:b}", "id", r->id, "removed", 1));
}

static lw_result get_export(struct lw_req *r)
{
    if (!r->w->eng->export_store)
        return missing(r);
    const char *fmt = query_arg(r, "format");
    if (!fmt || (strcmp(fmt, "csv") != 0 && strcmp(fmt, "json") != 0))
        return lw_reply_error(r->conn, 400, "export needs ?format=csv or ?format=json");
    ipw_errbuf eb = {0};
    char *body = NULL;
    size_t len = 0;
    const char *type = NULL;
    ipw_err e = r->w->eng->export_store(r->w->ud, fmt, &body, &len, &type, &eb);
    if (e != IPW_OK)
        return lw_reply_engine_error(r->conn, e, &eb);
    char disp[64];
    snprintf(disp, sizeof disp, "attachment; filename=\"ipw-lab.%s\"", fmt);
    return lw_reply_bytes(r->conn, 200, type ? type : "application/octet-stream", body, len,
                          disp);
}

static lw_result post_estimate(struct lw_req *r)
{
    if (!r->w->eng->estimate)
        return missing(r);
    lw_result replied = MHD_NO;
    json_t *req = body_object(r, &replied);
    if (!req)
        return replied;
    ipw_errbuf eb = {0};
    json_t *out = NULL;
    ipw_err e = r->w->eng->estimate(r->w->ud, req, &out, &eb);
    json_decref(req);
    if (e != IPW_OK)
        return lw_reply_engine_error(r->conn, e, &eb);
    return lw_reply_json(r->conn, 200, out);
}

/* POST /api/runs and /api/calibrate: validate now, queue, answer with the job's id. */
static lw_result submit(struct lw_req *r, const char *kind)
{
    lw_result replied = MHD_NO;
    json_t *req = body_object(r, &replied);
    if (!req)
        return replied;
    apply_defaults(r->w, req);
    ipw_errbuf eb = {0};
    ipw_err e = r->w->eng->validate ? r->w->eng->validate(r->w->ud, kind, req, &eb) : IPW_OK;
    char id[32];
    int position = 0;
    if (e == IPW_OK)
        e = lw_jobs_submit(r->w->jobs, kind, req, id, sizeof id, &position, &eb);
    json_decref(req);
    if (e == IPW_E_NOMEM && strstr(eb.msg, "queue"))
        return lw_reply_error(r->conn, 429, "%s", eb.msg);
    if (e != IPW_OK)
        return lw_reply_engine_error(r->conn, e, &eb);
    char events[96];
    snprintf(events, sizeof events, "/api/jobs/%s/events", id);
    return lw_reply_json(r->conn, 202,
                         json_pack("{s:s, s:s, s:i, s:s}", "id", id, "kind", kind, "position",
                                   position, "events", events));
}

static lw_result post_run(struct lw_req *r) { return submit(r, "run"); }
static lw_result post_calibrate(struct lw_req *r) { return submit(r, "calibrate"); }

static lw_result get_queue(struct lw_req *r)
{
    return lw_reply_json(r->conn, 200, lw_jobs_queue(r->w->jobs));
}

static lw_result get_job(struct lw_req *r)
{
    json_t *j = lw_jobs_describe(r->w->jobs, r->id);
    if (!j)
        return lw_reply_error(r->conn, 404, "no job '%s' (GET /api/queue lists them)", r->id);
    return lw_reply_json(r->conn, 200, j);
}

static lw_result post_cancel(struct lw_req *r)
{
    ipw_errbuf eb = {0};
    enum lw_job_state st;
    ipw_err e = lw_jobs_cancel(r->w->jobs, r->id, &st, &eb);
    if (e != IPW_OK)
        return lw_reply_engine_error(r->conn, e, &eb);
    return lw_reply_json(r->conn, 200,
                         json_pack("{s:s, s:s}", "id", r->id, "state", lw_job_state_name(st)));
}

struct route {
    const char *method;
    const char *pattern;
    lw_result (*fn)(struct lw_req *r);
};

static const struct route routes[] = {
    {"GET", "/", lw_serve_page},
    {"GET", "/index.html", lw_serve_page},
    {"GET", "/api/config", get_config},
    {"GET", "/api/models", get_models},
    {"GET", "/api/countries", get_countries},
    {"GET", "/api/benchmarks", get_benchmarks},
    {"POST", "/api/estimate", post_estimate},
    {"POST", "/api/runs", post_run},
    {"POST", "/api/calibrate", post_calibrate},
    {"GET", "/api/queue", get_queue},
    {"GET", "/api/jobs/*", get_job},
    {"POST", "/api/jobs/*/cancel", post_cancel},
    {"GET", "/api/jobs/*/events", lw_stream_events},
    {"GET", "/api/batches", get_batches},
    {"DELETE", "/api/batches/*", delete_batch},
    {"GET", "/api/summary", get_summary},
    {"GET", "/api/export", get_export},
};

/* Matches path against pattern; the "*" segment is copied into id (validated). */
static bool match(const char *pattern, const char *path, char *id, size_t id_size, bool *bad_id)
{
    while (*pattern && *path) {
        if (*pattern == '*') {
            size_t n = strcspn(path, "/");
            if (!lw_id_valid(path, n)) {
                *bad_id = true;
                return false;
            }
            snprintf(id, id_size, "%.*s", (int)n, path);
            path += n;
            pattern++;
            continue;
        }
        if (*pattern != *path)
            return false;
        pattern++;
        path++;
    }
    return *pattern == '\0' && *path == '\0';
}

enum lw_route_verdict lw_route_find(const char *method, const char *path,
                                    struct lw_route_match *m)
{
    const char *want = strcmp(method, "HEAD") == 0 ? "GET" : method;
    bool path_known = false, bad_id = false;
    memset(m, 0, sizeof *m);
    m->route = -1;
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        char id[LW_ID_MAX + 1] = "";
        if (!match(routes[i].pattern, path, id, sizeof id, &bad_id))
            continue;
        bool same = strcmp(routes[i].method, want) == 0;
        if (same || !path_known) { /* the route, or the first one of this path for the 405 */
            m->route = (int)i;
            m->method = routes[i].method;
            m->pattern = routes[i].pattern;
            memcpy(m->id, id, sizeof id);
        }
        if (same)
            return LW_ROUTE_FOUND;
        path_known = true;
    }
    if (path_known)
        return LW_ROUTE_NO_METHOD;
    return bad_id ? LW_ROUTE_BAD_ID : LW_ROUTE_NONE;
}

lw_result lw_route(struct lw_req *r)
{
    struct lw_route_match m;
    switch (lw_route_find(r->method, r->path, &m)) {
    case LW_ROUTE_FOUND:
        r->id = m.id;
        return routes[m.route].fn(r);
    case LW_ROUTE_NO_METHOD:
        return lw_reply_error(r->conn, 405, "%s is not allowed on %s (docs/lab-api.md lists "
                                            "the routes)",
                              r->method, r->path);
    case LW_ROUTE_BAD_ID:
        return lw_reply_error(r->conn, 400, "malformed id in %s", r->path);
    case LW_ROUTE_NONE:
        break;
    }
    return lw_reply_error(r->conn, 404, "no such page or API route: %s", r->path);
}
