/* Fuzzes the lab web API's route matcher (lw_route_find in src/labweb/routes.c): a method and
 * a path (the input's first line and the rest; no newline: GET and the whole input) must
 * resolve without a crash, and the verdict must keep the table's rules: a found route has
 * the request's method (HEAD routed as GET) and its pattern with the id put in for "*" is the
 * path exactly; the id is one valid segment; whether a path is known, malformed or unknown does
 * not depend on the method; HEAD and GET resolve alike; every known path has a route under
 * GET, POST or DELETE (the only methods the table uses). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "labweb/guard.h"
#include "labweb/server.h"

/* 0: the path is known (found or 405), 1: malformed id, 2: unknown */
static int path_class(enum lw_route_verdict v)
{
    return v == LW_ROUTE_FOUND || v == LW_ROUTE_NO_METHOD ? 0 : v == LW_ROUTE_BAD_ID ? 1 : 2;
}

/* The pattern with its "*" replaced by id equals path. */
static int expands_to(const char *pattern, const char *id, const char *path)
{
    size_t idlen = strlen(id);
    for (; *pattern; pattern++) {
        if (*pattern == '*') {
            if (strncmp(path, id, idlen) != 0)
                return 0;
            path += idlen;
        } else if (*path++ != *pattern) {
            return 0;
        }
    }
    return *path == '\0';
}

static void check(const char *method, const char *path, enum lw_route_verdict v,
                  const struct lw_route_match *m)
{
    const char *want = strcmp(method, "HEAD") == 0 ? "GET" : method;
    if (v == LW_ROUTE_BAD_ID || v == LW_ROUTE_NONE) {
        if (m->route != -1)
            abort();
        return;
    }
    if (m->route < 0 || !m->method || !m->pattern || !expands_to(m->pattern, m->id, path))
        abort();
    if ((v == LW_ROUTE_FOUND) != (strcmp(m->method, want) == 0))
        abort();
    if (strchr(m->pattern, '*') ? !lw_id_valid(m->id, strlen(m->id)) || strchr(m->id, '/')
                                : m->id[0] != '\0')
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 4096)
        return 0;
    char *s = malloc(size + 1);
    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    char *nl = strchr(s, '\n');
    const char *method = "GET", *path = s;
    if (nl) {
        *nl = '\0';
        method = s;
        path = nl + 1;
    }
    struct lw_route_match m;
    enum lw_route_verdict v = lw_route_find(method, path, &m);
    check(method, path, v, &m);

    static const char *const methods[] = {"GET", "HEAD", "POST", "DELETE"};
    enum lw_route_verdict by[4];
    int found_under_one = 0;
    for (int i = 0; i < 4; i++) {
        struct lw_route_match mm;
        by[i] = lw_route_find(methods[i], path, &mm);
        check(methods[i], path, by[i], &mm);
        if (path_class(by[i]) != path_class(v))
            abort();
        found_under_one |= by[i] == LW_ROUTE_FOUND;
    }
    if (by[0] != by[1] || (path_class(v) == 0 && !found_under_one))
        abort();
    free(s);
    return 0;
}
