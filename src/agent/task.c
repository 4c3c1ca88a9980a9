/* One agent task from its JSON object (docs/formats/agent-tasks.md): checked field by field so
 * that a bad line of a user's task set is reported with its place and what to fix. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ipw/agent.h"
#include "ipw/clock.h"

#define MAX_SCRIPT (256u * 1024)

void ipw_agent_task_clear(struct ipw_agent_task *t)
{
    free(t->instruction);
    free(t->setup);
    free(t->test);
    free(t->answer);
    for (size_t i = 0; i < t->n_solution; i++)
        free(t->solution[i]);
    free(t->replay);
    memset(t, 0, sizeof *t);
}

/* A string field: *out malloc'd ("" when absent and optional). */
static ipw_err text(const json_t *obj, const char *key, bool required, const char *where,
                    char **out, ipw_errbuf *eb)
{
    const json_t *v = json_object_get(obj, key);
    if (!v || json_is_null(v)) {
        if (required)
            return ipw_fail(eb, IPW_E_INVALID, "%s: missing \"%s\" (a string)", where, key);
        *out = strdup("");
    } else if (!json_is_string(v)) {
        return ipw_fail(eb, IPW_E_INVALID, "%s: \"%s\" must be a string", where, key);
    } else if (json_string_length(v) > MAX_SCRIPT) {
        return ipw_fail(eb, IPW_E_RANGE, "%s: \"%s\" is longer than %u KiB", where, key,
                        MAX_SCRIPT >> 10);
    } else if (strlen(json_string_value(v)) != json_string_length(v)) {
        return ipw_fail(eb, IPW_E_INVALID, "%s: \"%s\" contains a NUL character", where, key);
    } else {
        *out = strdup(json_string_value(v));
    }
    return *out ? IPW_OK : ipw_fail(eb, IPW_E_NOMEM, "out of memory reading %s", where);
}

static bool id_ok(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '-' || *s == '_' || *s == '.'))
            return false;
    return true;
}

static ipw_err small(const json_t *obj, const char *key, char *out, size_t size, const char *dflt,
                     const char *where, ipw_errbuf *eb)
{
    const json_t *v = json_object_get(obj, key);
    if (!v || json_is_null(v)) {
        snprintf(out, size, "%s", dflt);
        return IPW_OK;
    }
    if (!json_is_string(v) || json_string_length(v) >= size)
        return ipw_fail(eb, IPW_E_INVALID, "%s: \"%s\" must be a string of at most %zu bytes",
                        where, key, size - 1);
    snprintf(out, size, "%s", json_string_value(v));
    return IPW_OK;
}

static ipw_err solution(const json_t *obj, const char *where, struct ipw_agent_task *t,
                        ipw_errbuf *eb)
{
    const json_t *v = json_object_get(obj, "solution");
    if (!v || json_is_null(v))
        return IPW_OK;
    if (json_is_string(v)) { /* one script */
        t->solution[0] = strdup(json_string_value(v));
        t->n_solution = 1;
        return t->solution[0] ? IPW_OK : ipw_fail(eb, IPW_E_NOMEM, "out of memory");
    }
    if (!json_is_array(v) || json_array_size(v) > IPW_AGENT_MAX_STEPS)
        return ipw_fail(eb, IPW_E_INVALID,
                        "%s: \"solution\" must be a string or a list of at most %d commands",
                        where, IPW_AGENT_MAX_STEPS);
    size_t i;
    const json_t *s;
    json_array_foreach(v, i, s)
    {
        if (!json_is_string(s))
            return ipw_fail(eb, IPW_E_INVALID, "%s: solution step %zu must be a string", where,
                            i + 1);
        t->solution[i] = strdup(json_string_value(s));
        if (!t->solution[i])
            return ipw_fail(eb, IPW_E_NOMEM, "out of memory");
        t->n_solution = i + 1;
    }
    return IPW_OK;
}

ipw_err ipw_agent_task_parse(const json_t *obj, const char *where, struct ipw_agent_task *t,
                             ipw_errbuf *eb)
{
    memset(t, 0, sizeof *t);
    if (!json_is_object(obj))
        return ipw_fail(eb, IPW_E_INVALID, "%s: a task must be a JSON object", where);
    char kind[16];
    ipw_err e = small(obj, "id", t->id, sizeof t->id, "", where, eb);
    if (e == IPW_OK && !id_ok(t->id))
        e = ipw_fail(eb, IPW_E_INVALID,
                     "%s: \"id\" must be 1-63 letters, digits, '-', '_' or '.' (got '%s')", where,
                     t->id);
    if (e == IPW_OK)
        e = small(obj, "category", t->category, sizeof t->category, "misc", where, eb);
    if (e == IPW_OK)
        e = small(obj, "kind", kind, sizeof kind, "terminal", where, eb);
    if (e == IPW_OK) {
        if (strcmp(kind, "terminal") == 0)
            t->kind = IPW_TASK_TERMINAL;
        else if (strcmp(kind, "qa") == 0)
            t->kind = IPW_TASK_QA;
        else
            e = ipw_fail(eb, IPW_E_INVALID, "%s: \"kind\" must be terminal or qa (got '%s')",
                         where, kind);
    }
    if (e == IPW_OK)
        e = text(obj, "instruction", true, where, &t->instruction, eb);
    if (e == IPW_OK)
        e = text(obj, "setup", false, where, &t->setup, eb);
    if (e == IPW_OK)
        e = text(obj, "test", t->kind == IPW_TASK_TERMINAL, where, &t->test, eb);
    if (e == IPW_OK)
        e = text(obj, "answer", t->kind == IPW_TASK_QA, where, &t->answer, eb);
    if (e == IPW_OK)
        e = small(obj, "item_kind", t->item_kind, sizeof t->item_kind, "exact", where, eb);
    if (e == IPW_OK && strcmp(t->item_kind, "exact") != 0 && strcmp(t->item_kind, "mcq") != 0)
        e = ipw_fail(eb, IPW_E_INVALID, "%s: \"item_kind\" must be exact or mcq", where);
    if (e == IPW_OK)
        e = solution(obj, where, t, eb);
    if (e == IPW_OK) {
        const json_t *to = json_object_get(obj, "timeout_s");
        if (to && !json_is_null(to)) {
            if (!json_is_number(to) || json_number_value(to) <= 0 ||
                json_number_value(to) > 86400)
                e = ipw_fail(eb, IPW_E_INVALID, "%s: \"timeout_s\" must be 0 < seconds <= 86400",
                             where);
            else
                t->timeout_ns = (int64_t)(json_number_value(to) * 1e9);
        }
    }
    if (e != IPW_OK)
        ipw_agent_task_clear(t);
    return e;
}
