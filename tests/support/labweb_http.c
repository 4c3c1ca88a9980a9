/* Client side of the lab web server's tests (labweb_http.h). */
#include "labweb_http.h"

#include "ipw_test.h"

#include <curl/curl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int PORT;
static char TOKEN_HDR[128];

void lwt_target(int port, const char *token)
{
    PORT = port;
    snprintf(TOKEN_HDR, sizeof TOKEN_HDR, "X-IPW-Token: %s", token);
}

size_t lwt_collect(char *d, size_t sz, size_t nm, void *ud)
{
    struct lwt_buf *b = ud;
    b->p = realloc(b->p, b->n + sz * nm + 1);
    memcpy(b->p + b->n, d, sz * nm);
    b->n += sz * nm;
    b->p[b->n] = '\0';
    return sz * nm;
}

void lwt_resp_free(struct lwt_resp *r)
{
    free(r->body);
    free(r->headers);
    json_decref(r->json);
}

/* One request. hdrs: NULL-terminated extra headers; by default the token, a same-origin Origin
 * and JSON content type are sent (pass "-" as the first entry to send no defaults). */
struct lwt_resp lwt_http(const char *method, const char *path, const char *body,
                        const char *const *hdrs)
{
    CURL *c = curl_easy_init();
    char url[512];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", PORT, path);
    struct curl_slist *h = NULL;
    bool defaults = !(hdrs && hdrs[0] && strcmp(hdrs[0], "-") == 0);
    if (defaults) {
        h = curl_slist_append(h, TOKEN_HDR);
        char origin[64];
        snprintf(origin, sizeof origin, "Origin: http://127.0.0.1:%d", PORT);
        h = curl_slist_append(h, origin);
        h = curl_slist_append(h, "Content-Type: application/json");
    }
    for (size_t i = defaults ? 0 : 1; hdrs && hdrs[i]; i++)
        h = curl_slist_append(h, hdrs[i]);
    struct lwt_buf b = {calloc(1, 1), 0}, hb = {calloc(1, 1), 0};
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    if (strcmp(method, "HEAD") == 0)
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, lwt_collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, lwt_collect);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &hb);
    curl_easy_setopt(c, CURLOPT_PATH_AS_IS, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
    if (body)
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    CURLcode rc = curl_easy_perform(c);
    if (rc != CURLE_OK)
        fail_msg("%s %s: %s", method, path, curl_easy_strerror(rc));
    struct lwt_resp r = {0, b.p, hb.p, NULL};
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
    r.json = json_loads(b.p, 0, NULL);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    return r;
}

/* Expects the status; for errors also a JSON {"error": "..."} naming something useful. */
void lwt_expect(const char *method, const char *path, const char *body,
                   const char *const *hdrs, long status, const char *error_has)
{
    struct lwt_resp r = lwt_http(method, path, body, hdrs);
    if (r.status != status)
        fail_msg("%s %s: status %ld, expected %ld (%s)", method, path, r.status, status, r.body);
    if (error_has) {
        const char *err = json_string_value(json_object_get(r.json, "error"));
        if (!err || !strstr(err, error_has))
            fail_msg("%s %s: error '%s' lacks '%s'", method, path, err ? err : r.body,
                     error_has);
    }
    lwt_resp_free(&r);
}

/* An SSE reader on its own thread: collects the stream until the server ends it. */
static void *sse_main(void *arg)
{
    struct lwt_sse *s = arg;
    CURL *c = curl_easy_init();
    char url[256];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", PORT, s->path);
    struct curl_slist *h = NULL;
    char lid[64];
    if (s->last_id) {
        snprintf(lid, sizeof lid, "Last-Event-ID: %s", s->last_id);
        h = curl_slist_append(h, lid);
    }
    s->b.p = calloc(1, 1);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, lwt_collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &s->b);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
    curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &s->status);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    return NULL;
}

void lwt_sse_start(struct lwt_sse *s, const char *id, const char *last_id)
{
    memset(s, 0, sizeof *s);
    snprintf(s->path, sizeof s->path, "/api/jobs/%s/events", id);
    s->last_id = last_id;
    assert_int_equal(pthread_create(&s->th, NULL, sse_main, s), 0);
}

/* "event: X" names in order, joined by spaces. */
void lwt_sse_names(const char *text, char *out, size_t size)
{
    out[0] = '\0';
    for (const char *p = text; (p = strstr(p, "event: ")); p += 7) {
        size_t n = strcspn(p + 7, "\n");
        size_t used = strlen(out);
        snprintf(out + used, size - used, "%s%.*s", used ? " " : "", (int)n, p + 7);
    }
}

/* Polls GET /api/jobs/ID until its state is `state` (the worker finishes asynchronously). */
void lwt_wait_state(const char *id, const char *state)
{
    char path[64];
    snprintf(path, sizeof path, "/api/jobs/%s", id);
    for (int i = 0; i < 2000; i++) {
        struct lwt_resp r = lwt_http("GET", path, NULL, NULL);
        const char *st = json_string_value(json_object_get(r.json, "state"));
        bool ok = st && strcmp(st, state) == 0;
        lwt_resp_free(&r);
        if (ok)
            return;
        usleep(5000);
    }
    fail_msg("job %s never reached state %s", id, state);
}

char *lwt_submit(const char *body)
{
    struct lwt_resp r = lwt_http("POST", "/api/runs", body, NULL);
    if (r.status != 202)
        fail_msg("POST /api/runs: %ld %s", r.status, r.body);
    char *id = strdup(json_string_value(json_object_get(r.json, "id")));
    lwt_resp_free(&r);
    return id;
}

