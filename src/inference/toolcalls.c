/* Assembling the tool calls of a streamed answer (OpenAI fragments, Ollama whole calls) into one
 * normalized list, so the agent sees the same shape whatever the server. */
#include "toolcalls.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void ipw_toolcalls_init(struct ipw_toolcalls *t) { memset(t, 0, sizeof *t); }

void ipw_toolcalls_free(struct ipw_toolcalls *t)
{
    for (size_t i = 0; i < t->n; i++) {
        ipw_buf_free(&t->call[i].name);
        ipw_buf_free(&t->call[i].args);
        json_decref(t->call[i].args_obj);
    }
    memset(t, 0, sizeof *t);
}

/* Every call's text counts towards one bound for the whole answer. */
static ipw_err append(struct ipw_toolcalls *t, struct ipw_buf *buf, const char *s, size_t n,
                      ipw_errbuf *eb)
{
    if (n > IPW_TOOLCALLS_MAX_BYTES - t->bytes)
        return ipw_fail(eb, IPW_E_RANGE,
                        "the model's tool calls are longer than the %u KiB limit on one answer",
                        IPW_TOOLCALLS_MAX_BYTES >> 10);
    if (ipw_buf_add(buf, s, n) != IPW_OK)
        return ipw_fail(eb, IPW_E_NOMEM, "out of memory keeping a tool call");
    t->bytes += n;
    return IPW_OK;
}

static struct ipw_toolcall_acc *slot(struct ipw_toolcalls *t, size_t idx, ipw_errbuf *eb)
{
    if (idx >= IPW_TOOLCALLS_MAX) {
        ipw_fail(eb, IPW_E_RANGE, "the model made more than %d tool calls in one answer",
                 IPW_TOOLCALLS_MAX);
        return NULL;
    }
    while (t->n <= idx) {
        struct ipw_toolcall_acc *c = &t->call[t->n];
        memset(c, 0, sizeof *c);
        ipw_buf_init(&c->name, IPW_TOOLCALLS_MAX_BYTES);
        ipw_buf_init(&c->args, IPW_TOOLCALLS_MAX_BYTES);
        snprintf(c->id, sizeof c->id, "call_%zu", t->n);
        t->n++;
    }
    return &t->call[idx];
}

static ipw_err add_text(struct ipw_toolcalls *t, struct ipw_buf *buf, const json_t *v,
                        ipw_errbuf *eb)
{
    if (json_is_string(v))
        return append(t, buf, json_string_value(v), json_string_length(v), eb);
    if (json_is_object(v)) { /* some servers stream arguments as an object at once */
        char *s = json_dumps(v, JSON_COMPACT);
        if (!s)
            return ipw_fail(eb, IPW_E_NOMEM, "out of memory keeping a tool call");
        ipw_err e = append(t, buf, s, strlen(s), eb);
        free(s);
        return e;
    }
    return IPW_OK;
}

ipw_err ipw_toolcalls_add_fragments(struct ipw_toolcalls *t, const json_t *frags, ipw_errbuf *eb)
{
    size_t i;
    const json_t *f;
    json_array_foreach(frags, i, f)
    {
        const json_t *ix = json_object_get(f, "index");
        /* without an index a fragment continues the last call, or starts the first */
        size_t idx = json_is_integer(ix) && json_integer_value(ix) >= 0
                         ? (size_t)json_integer_value(ix)
                         : (t->n ? t->n - 1 : 0);
        struct ipw_toolcall_acc *c = slot(t, idx, eb);
        if (!c)
            return IPW_E_RANGE;
        const char *id = json_string_value(json_object_get(f, "id"));
        if (id && *id)
            snprintf(c->id, sizeof c->id, "%s", id);
        const json_t *fn = json_object_get(f, "function");
        ipw_err e = add_text(t, &c->name, json_object_get(fn, "name"), eb);
        if (e == IPW_OK)
            e = add_text(t, &c->args, json_object_get(fn, "arguments"), eb);
        if (e != IPW_OK)
            return e;
    }
    return IPW_OK;
}

ipw_err ipw_toolcalls_add_whole(struct ipw_toolcalls *t, const json_t *calls, ipw_errbuf *eb)
{
    size_t i;
    const json_t *f;
    json_array_foreach(calls, i, f)
    {
        struct ipw_toolcall_acc *c = slot(t, t->n, eb);
        if (!c)
            return IPW_E_RANGE;
        const char *id = json_string_value(json_object_get(f, "id"));
        if (id && *id)
            snprintf(c->id, sizeof c->id, "%s", id);
        const json_t *fn = json_object_get(f, "function");
        ipw_err e = add_text(t, &c->name, json_object_get(fn, "name"), eb);
        const json_t *args = json_object_get(fn, "arguments");
        if (e == IPW_OK && json_is_object(args)) {
            c->args_obj = json_deep_copy(args);
            char *s = json_dumps(args, JSON_COMPACT);
            size_t n = s ? strlen(s) : 0;
            free(s);
            if (n > IPW_TOOLCALLS_MAX_BYTES - t->bytes)
                e = ipw_fail(eb, IPW_E_RANGE,
                             "the model's tool calls are longer than the %u KiB limit on one "
                             "answer",
                             IPW_TOOLCALLS_MAX_BYTES >> 10);
            t->bytes += n;
        } else if (e == IPW_OK) {
            e = add_text(t, &c->args, args, eb);
        }
        if (e != IPW_OK)
            return e;
    }
    return IPW_OK;
}

json_t *ipw_toolcalls_take(struct ipw_toolcalls *t)
{
    if (!t->n)
        return NULL;
    json_t *out = json_array();
    for (size_t i = 0; out && i < t->n; i++) {
        struct ipw_toolcall_acc *c = &t->call[i];
        json_t *args = c->args_obj ? json_incref(c->args_obj) : NULL;
        if (!args) {
            const char *text = ipw_buf_str(&c->args);
            args = c->args.len ? json_loadb(text, c->args.len, 0, NULL) : json_object();
            if (!json_is_object(args)) {
                json_decref(args);
                args = json_pack("{s:s%}", "_unparsed", text, c->args.len);
            }
        }
        json_t *name = json_stringn(ipw_buf_str(&c->name), c->name.len);
        json_array_append_new(out, json_pack("{s:s, s:o, s:o}", "id", c->id, "name",
                                             name ? name : json_string(""), "arguments",
                                             args ? args : json_object()));
    }
    ipw_toolcalls_free(t);
    return out;
}
