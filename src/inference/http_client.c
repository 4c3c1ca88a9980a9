/* One chat request or JSON GET for the HTTP clients (ollama, openai, vllm): builds the body
 * from the prepared template, streams the reply through chat_run, and explains failures. */
#include "http_client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ipw/clock.h"
#include "ipw/log.h"

#define MAX_JSON_REPLY (16u * 1024 * 1024)

bool ipw_http_client_client_key(const char *key)
{
    return strcmp(key, "system_prompt") == 0 || strcmp(key, "system") == 0 ||
           strcmp(key, "connect_timeout") == 0 || strcmp(key, "idle_timeout") == 0;
}

static ipw_err client_init(struct ipw_http_client *rm, struct ipw_client *c, ipw_errbuf *eb)
{
    memset(rm, 0, sizeof *rm);
    const json_t *params = c->cfg.params;
    rm->connect_ns = c->cfg.connect_timeout_ns;
    rm->idle_ns = c->cfg.idle_timeout_ns;
    rm->bearer = c->cfg.api_key;
    ipw_http_display_url(c->base_url, rm->display, sizeof rm->display);
    if (params && !json_is_object(params))
        return ipw_fail(eb, IPW_E_INVALID, "client parameters must be a JSON object");
    ipw_err e = ipw_params_duration(params, "connect_timeout", &rm->connect_ns, eb);
    if (e == IPW_OK)
        e = ipw_params_duration(params, "idle_timeout", &rm->idle_ns, eb);
    if (e != IPW_OK)
        return e;
    const char *keys[] = {"system_prompt", "system"};
    for (int i = 0; i < 2 && !rm->system; i++) {
        json_t *v = json_object_get(params, keys[i]);
        if (!v || json_is_null(v))
            continue;
        if (!json_is_string(v))
            return ipw_fail(eb, IPW_E_INVALID,
                            "parameter %s must be text (quote it: %s=\"...\")", keys[i],
                            keys[i]);
        rm->system = strdup(json_string_value(v));
        if (!rm->system)
            return ipw_fail(eb, IPW_E_NOMEM, "out of memory keeping the system prompt");
    }
    return IPW_OK;
}

static void client_free(struct ipw_http_client *rm)
{
    free(rm->tmpl_text);
    free(rm->system);
    rm->tmpl_text = NULL;
    rm->system = NULL;
}

/* Takes the request template (consumed) for every later call. */
static ipw_err set_template(struct ipw_http_client *rm, json_t *tmpl, ipw_errbuf *eb)
{
    free(rm->tmpl_text);
    rm->tmpl_text = json_dumps(tmpl, JSON_COMPACT);
    json_decref(tmpl);
    if (!rm->tmpl_text)
        return ipw_fail(eb, IPW_E_NOMEM, "out of memory preparing the request template");
    return IPW_OK;
}

ipw_err ipw_http_client_open(struct ipw_client *c, const struct ipw_http_client_spec *spec,
                             ipw_errbuf *eb)
{
    struct ipw_http_client *rm = calloc(1, sizeof *rm);
    if (!rm)
        return ipw_fail(eb, IPW_E_NOMEM, "out of memory opening the %s client", c->ops->name);
    ipw_err e = client_init(rm, c, eb);
    json_t *tmpl = NULL;
    if (e == IPW_OK)
        e = spec->build_template(c->cfg.params, &tmpl, eb);
    if (e == IPW_OK)
        e = set_template(rm, tmpl, eb);
    if (e == IPW_OK)
        e = ipw_http_client_join(rm->chat_url, sizeof rm->chat_url, c->base_url, spec->chat_path,
                                 eb);
    if (e == IPW_OK)
        e = ipw_http_client_join(rm->models_url, sizeof rm->models_url, c->base_url,
                            spec->models_path, eb);
    if (e != IPW_OK) {
        client_free(rm);
        free(rm);
        return e;
    }
    rm->label = spec->label;
    rm->wire = spec->wire;
    rm->accept = spec->accept;
    rm->status_fn = spec->status_fn;
    rm->tool_args_as_object = spec->tool_args_as_object;
    rm->spec = spec;
    c->priv = rm;
    return IPW_OK;
}

void ipw_http_client_close(struct ipw_client *c)
{
    if (c->priv) {
        client_free(c->priv);
        free(c->priv);
        c->priv = NULL;
    }
}

/* Why the listing failed, in the client's words: e is the GET's error, its message in eb. */
static void explain_unreachable(const struct ipw_client *c, const struct ipw_http_client *rm,
                                ipw_err e, ipw_errbuf *eb)
{
    const struct ipw_http_client_spec *s = rm->spec;
    if (s->server_name)
        ipw_err_prefix(eb, "cannot reach %s at %s", s->server_name, rm->display);
    else
        ipw_err_prefix(eb, "cannot reach the %s server at %s", c->ops->name, rm->display);
    const char *hint = NULL;
    if (e == IPW_E_PERM)
        hint = rm->bearer ? s->key_hint : s->no_key_hint;
    else if (e == IPW_E_IO || e == IPW_E_TIMEOUT)
        hint = s->start_hint;
    if (eb && hint) {
        size_t n = strlen(eb->msg);
        snprintf(eb->msg + n, sizeof eb->msg - n, ": %s", hint);
    }
}

static ipw_err models(struct ipw_client *c, json_t **out, ipw_errbuf *eb)
{
    struct ipw_http_client *rm = c->priv;
    json_t *root = NULL;
    ipw_err e = ipw_http_client_get_json(rm, rm->models_url, &root, eb);
    if (e != IPW_OK) {
        explain_unreachable(c, rm, e, eb);
        if (eb) {
            ipw_redact(eb->msg, sizeof eb->msg, rm->bearer);
            ipw_stream_utf8_fix(eb->msg);
        }
        return e;
    }
    json_t *list = json_object_get(root, rm->spec->models_key);
    if (!json_is_array(list)) {
        char url[1200]; /* without credentials */
        ipw_http_display_url(rm->models_url, url, sizeof url);
        e = ipw_fail(eb, IPW_E_PROTOCOL, "GET %s answered without a \"%s\" list: is it %s?",
                     url, rm->spec->models_key, rm->spec->server_kind);
    } else if (out) {
        *out = ipw_http_client_model_names(list, rm->spec->model_name_keys);
    }
    json_decref(root);
    return e;
}

ipw_err ipw_http_client_health_op(struct ipw_client *c, ipw_errbuf *eb)
{
    return models(c, NULL, eb);
}

ipw_err ipw_http_client_list_models_op(struct ipw_client *c, json_t **out, ipw_errbuf *eb)
{
    *out = NULL;
    return models(c, out, eb);
}

ipw_err ipw_http_client_chat_op(struct ipw_client *c, const struct ipw_chat_request *req,
                                const struct ipw_stream_events *ev, struct ipw_chat_result *res)
{
    return ipw_http_client_chat(c->priv, req, ev, res);
}

json_t *ipw_http_client_model_names(const json_t *list, const char *const *keys)
{
    json_t *names = json_array();
    size_t i;
    json_t *m;
    json_array_foreach(list, i, m)
    {
        const char *name = NULL;
        for (const char *const *k = keys; *k && !name; k++)
            name = json_string_value(json_object_get(m, *k));
        if (name)
            json_array_append_new(names, json_string(name));
    }
    return names;
}

ipw_err ipw_http_client_join(char *out, size_t size, const char *base, const char *path,
                        ipw_errbuf *eb)
{
    size_t bl = strlen(base);
    if (bl >= 3 && strcmp(base + bl - 3, "/v1") == 0 && strncmp(path, "/v1/", 4) == 0)
        path += 3;
    int n = snprintf(out, size, "%s%s", base, path);
    if (n < 0 || (size_t)n >= size)
        return ipw_fail(eb, IPW_E_RANGE, "URL %s%s is too long", base, path);
    return IPW_OK;
}

/* ---- chat --------------------------------------------------------------------------------- */

struct status_ctx {
    const struct ipw_http_client *rm;
    const char *model;
};

static ipw_err status_adapter(void *ctx, long status, const char *text, ipw_errbuf *eb)
{
    const struct status_ctx *sc = ctx;
    return sc->rm->status_fn(sc->rm, sc->model, status, text, eb);
}

static json_t *message(const char *role, const char *content)
{
    return json_pack("{s:s, s:s}", "role", role, "content", content);
}

/* One history message in the server's form: tool-call arguments as an object (Ollama) or as
 * JSON text (OpenAI), whichever form the caller kept. */
static json_t *history_message(const struct ipw_http_client *rm, const json_t *m, size_t *bytes)
{
    json_t *out = json_deep_copy(m);
    const char *content = json_string_value(json_object_get(m, "content"));
    *bytes += content ? strlen(content) : 0;
    json_t *calls = json_object_get(out, "tool_calls");
    size_t i;
    json_t *c;
    json_array_foreach(calls, i, c)
    {
        json_t *fn = json_object_get(c, "function");
        json_t *args = json_object_get(fn, "arguments");
        if (rm->tool_args_as_object && json_is_string(args)) {
            json_t *obj = json_loads(json_string_value(args), 0, NULL);
            json_object_set_new(fn, "arguments", json_is_object(obj) ? obj : json_object());
            if (obj && !json_is_object(obj))
                json_decref(obj);
        } else if (!rm->tool_args_as_object && json_is_object(args)) {
            char *text = json_dumps(args, JSON_COMPACT);
            json_object_set_new(fn, "arguments", json_string(text ? text : "{}"));
            free(text);
        }
    }
    return out;
}

static ipw_err build_body(const struct ipw_http_client *rm, const struct ipw_chat_request *req,
                          char **text, size_t *prompt_bytes, ipw_errbuf *eb)
{
    json_t *body = json_loads(rm->tmpl_text, 0, NULL);
    json_t *msgs = json_array();
    const char *system = req->system_prompt ? req->system_prompt : rm->system;
    *prompt_bytes = req->prompt ? strlen(req->prompt) : 0;
    ipw_err e = IPW_OK;
    if (!body || !msgs)
        e = ipw_fail(eb, IPW_E_NOMEM, "out of memory building the request");
    bool has_system = false;
    size_t i;
    const json_t *m;
    json_array_foreach(req->messages, i, m)
    {
        const char *role = json_string_value(json_object_get(m, "role"));
        has_system |= role && strcmp(role, "system") == 0;
    }
    if (e == IPW_OK && system && *system && !has_system) {
        *prompt_bytes += strlen(system);
        if (json_array_append_new(msgs, message("system", system)) != 0)
            e = ipw_fail(eb, IPW_E_INVALID, "the system prompt is not valid UTF-8 text");
    }
    if (req->messages) {
        json_array_foreach(req->messages, i, m)
        {
            if (e == IPW_OK &&
                json_array_append_new(msgs, history_message(rm, m, prompt_bytes)) != 0)
                e = ipw_fail(eb, IPW_E_NOMEM, "out of memory building the request");
        }
    } else if (e == IPW_OK && json_array_append_new(msgs, message("user", req->prompt)) != 0) {
        e = ipw_fail(eb, IPW_E_INVALID, "the prompt is not valid UTF-8 text");
    }
    if (e == IPW_OK && req->tools && json_array_size(req->tools))
        json_object_set_new(body, "tools", json_deep_copy(req->tools));
    if (e == IPW_OK && req->max_tokens > 0) {
        /* the request's own limit replaces the template's, under the name it already uses */
        json_t *lim = json_integer(req->max_tokens);
        if (rm->wire == IPW_WIRE_NDJSON)
            json_object_set_new(json_object_get(body, "options"), "num_predict", lim);
        else
            json_object_set_new(body,
                                json_object_get(body, "max_completion_tokens")
                                    ? "max_completion_tokens"
                                    : "max_tokens",
                                lim);
    }
    if (e == IPW_OK && json_object_set_new(body, "model", json_string(req->model)) != 0)
        e = ipw_fail(eb, IPW_E_INVALID, "the model name is not valid UTF-8 text");
    if (e == IPW_OK) {
        json_object_set(body, "messages", msgs);
        *text = json_dumps(body, JSON_COMPACT);
        if (!*text)
            e = ipw_fail(eb, IPW_E_NOMEM, "out of memory serializing the request");
    }
    json_decref(msgs);
    json_decref(body);
    return e;
}

ipw_err ipw_http_client_chat(const struct ipw_http_client *rm, const struct ipw_chat_request *req,
                        const struct ipw_stream_events *ev, struct ipw_chat_result *res)
{
    memset(res, 0, sizeof *res);
    res->first_token_ns = 0;
    struct ipw_chat_run run;
    ipw_chat_run_init(&run, rm->wire, res, ev);
    ipw_errbuf eb;
    ipw_errbuf_clear(&eb);
    char *text = NULL;
    ipw_err e = IPW_OK;
    if (!req || !req->model || !*req->model || (!req->prompt && !json_is_array(req->messages)))
        e = ipw_fail(&eb, IPW_E_INVALID,
                     "a chat request needs a model name and a prompt (or messages)");
    else
        e = build_body(rm, req, &text, &run.prompt_bytes, &eb);
    if (e != IPW_OK) {
        ipw_chat_run_settle(&run);
        res->start_ns = res->end_ns = ipw_mono_ns();
        res->error = e;
        snprintf(res->error_msg, sizeof res->error_msg, "%s", eb.msg);
        ipw_chat_run_free(&run);
        return e;
    }
    struct ipw_http_call call = {
        .method = "POST",
        .url = rm->chat_url,
        .body = text,
        .body_len = strlen(text),
        .accept = rm->accept,
        .bearer = rm->bearer,
        .connect_timeout_ns = rm->connect_ns,
        .idle_timeout_ns = rm->idle_ns,
        .on_line = ipw_chat_run_line,
        .on_sent = ipw_chat_run_on_sent,
        .ud = &run,
    };
    struct ipw_http_reply reply;
    ipw_debug("POST %s (model %s, %zu-byte body)", rm->display, req->model, call.body_len);
    int64_t t0 = ipw_mono_ns();
    e = ipw_http_call(&call, &reply, &eb);
    if (e == IPW_E_CANCELLED && run.done)
        e = IPW_OK; /* we stopped reading at the end marker */
    if (res->start_ns == 0)
        res->start_ns = t0; /* never connected: the attempt started here */
    res->http_status = reply.status;
    if (e == IPW_OK && reply.status >= 200 && reply.status < 300)
        e = ipw_chat_run_eof(&run, &eb);
    ipw_chat_run_settle(&run);
    struct status_ctx sc = {rm, req->model};
    ipw_chat_run_conclude(&run, e, &eb, &reply, rm->display, status_adapter, &sc, rm->bearer);
    if (res->error != IPW_OK)
        ipw_debug("query to %s failed: %s", rm->display, res->error_msg);
    else
        ipw_debug("query to %s done: %ld tokens in %.3f s", rm->display, res->output_tokens,
                  (double)(res->end_ns - res->start_ns) / 1e9);
    ipw_http_reply_free(&reply);
    ipw_chat_run_free(&run);
    free(text);
    return res->error;
}

/* ---- JSON GET (health, models) ------------------------------------------------------------ */

ipw_err ipw_http_client_get_json(const struct ipw_http_client *rm, const char *url, json_t **out,
                            ipw_errbuf *eb)
{
    *out = NULL;
    struct ipw_http_call call = {
        .method = "GET",
        .url = url,
        .accept = "application/json",
        .bearer = rm->bearer,
        .connect_timeout_ns = rm->connect_ns,
        .idle_timeout_ns = rm->idle_ns < 60 * IPW_NS_PER_SEC ? rm->idle_ns : 60 * IPW_NS_PER_SEC,
        .max_body = MAX_JSON_REPLY,
    };
    struct ipw_http_reply reply;
    char shown[1200];
    ipw_http_display_url(url, shown, sizeof shown);
    ipw_err e = ipw_http_call(&call, &reply, eb);
    if (e == IPW_OK && (reply.status < 200 || reply.status >= 300)) {
        char text[300];
        ipw_stream_error_text(ipw_buf_str(&reply.body), reply.body.len, text, sizeof text);
        ipw_err code = reply.status == 401 || reply.status == 403 ? IPW_E_PERM
                       : reply.status == 404                      ? IPW_E_NOTFOUND
                                                                  : IPW_E_IO;
        e = ipw_fail(eb, code, "GET %s returned HTTP %ld: %s", shown, reply.status, text);
    }
    if (e == IPW_OK) {
        json_error_t je;
        *out = json_loadb(ipw_buf_str(&reply.body), reply.body.len, 0, &je);
        if (!*out) {
            char ex[600], why[160];
            ipw_stream_excerpt(ex, sizeof ex, ipw_buf_str(&reply.body), reply.body.len, 120);
            ipw_stream_clean(why, sizeof why, je.text, strlen(je.text));
            e = ipw_fail(eb, IPW_E_PROTOCOL, "GET %s did not return JSON (%s): %s", shown, why,
                         ex);
        }
    }
    ipw_http_reply_free(&reply);
    if (e != IPW_OK && eb) {
        ipw_redact(eb->msg, sizeof eb->msg, rm->bearer);
        ipw_stream_utf8_fix(eb->msg);
        ipw_debug("GET %s failed: %s", shown, eb->msg);
    }
    return e;
}
