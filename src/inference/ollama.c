/* The Ollama client: POST /api/chat with stream:true, answered as NDJSON lines (SPEC §3.5).
 * --client-param keys map onto Ollama's request: max_tokens -> options.num_predict (default
 * 4096); format, keep_alive, think, tools at the top level; every other key into options. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_client.h"

#define DEFAULT_MAX_TOKENS 4096

/* keys of POST /api/chat that live beside "options" rather than inside it */
static const char *const top_level_keys[] = {"format", "keep_alive", "think", "tools", NULL};

static bool in_list(const char *key, const char *const *list)
{
    for (; *list; list++)
        if (strcmp(key, *list) == 0)
            return true;
    return false;
}

static ipw_err ollama_status(const struct ipw_http_client *rm, const char *model, long status,
                             const char *text, ipw_errbuf *eb)
{
    if (status == 404 && strstr(text, "not found"))
        return ipw_fail(eb, IPW_E_NOTFOUND,
                        "model '%s' not found on %s: pull it with `ollama pull %s` (server said: "
                        "%s)",
                        model, rm->display, model, text);
    if (status == 400)
        return ipw_fail(eb, IPW_E_INVALID,
                        "Ollama at %s rejected the request for model '%s' (HTTP 400: %s): check "
                        "the --client-param values",
                        rm->display, model, text);
    return ipw_fail(eb, IPW_E_IO, "Ollama at %s answered HTTP %ld for model '%s': %s", rm->display,
                    status, model, text);
}

/* Request body template from the parameters: everything but model and messages. */
static ipw_err build_template(const json_t *params, json_t **out, ipw_errbuf *eb)
{
    json_t *tmpl = json_object(), *opts = NULL;
    json_t *given = json_object_get(params, "options");
    if (given && !json_is_object(given)) {
        json_decref(tmpl);
        return ipw_fail(eb, IPW_E_INVALID,
                        "parameter options must be a JSON object, e.g. options={\"num_ctx\":8192}");
    }
    opts = given ? json_deep_copy(given) : json_object();
    if (!tmpl || !opts) {
        json_decref(tmpl);
        json_decref(opts);
        return ipw_fail(eb, IPW_E_NOMEM, "out of memory preparing the Ollama request");
    }
    const char *key;
    json_t *v;
    ipw_err e = IPW_OK;
    json_object_foreach((json_t *)params, key, v)
    {
        if (ipw_http_client_client_key(key) || strcmp(key, "options") == 0)
            continue;
        if (strcmp(key, "model") == 0 || strcmp(key, "messages") == 0 ||
            strcmp(key, "stream") == 0 || strcmp(key, "prompt") == 0) {
            e = ipw_fail(eb, IPW_E_INVALID,
                         "parameter %s is set by the ollama client itself and cannot be given",
                         key);
            break;
        }
        if (strcmp(key, "max_tokens") == 0) {
            if (!json_is_integer(v) || json_integer_value(v) < -1 || json_integer_value(v) == 0) {
                e = ipw_fail(eb, IPW_E_INVALID,
                             "parameter max_tokens must be a positive integer (or -1 for no "
                             "limit on Ollama)");
                break;
            }
            continue; /* becomes num_predict below unless num_predict is given */
        }
        json_object_set_new(in_list(key, top_level_keys) ? tmpl : opts, key, json_deep_copy(v));
    }
    if (e == IPW_OK && !json_object_get(opts, "num_predict")) {
        json_t *mt = json_object_get(params, "max_tokens");
        json_object_set_new(opts, "num_predict",
                            mt ? json_deep_copy(mt) : json_integer(DEFAULT_MAX_TOKENS));
    }
    if (e != IPW_OK) {
        json_decref(tmpl);
        json_decref(opts);
        return e;
    }
    json_object_set_new(tmpl, "stream", json_true());
    json_object_set_new(tmpl, "options", opts);
    *out = tmpl;
    return IPW_OK;
}

static const char *const ollama_name_keys[] = {"name", "model", NULL};

static const struct ipw_http_client_spec ollama_spec = {
    .label = "Ollama",
    .accept = "application/x-ndjson",
    .wire = IPW_WIRE_NDJSON,
    .chat_path = "/api/chat",
    .models_path = "/api/tags",
    .status_fn = ollama_status,
    .tool_args_as_object = true,
    .build_template = build_template,
    .models_key = "models",
    .model_name_keys = ollama_name_keys,
    .server_name = "Ollama",
    .start_hint = "start it with `ollama serve`, or pass --client-base-url",
    .server_kind = "an Ollama server",
};

static ipw_err ollama_open(struct ipw_client *c, ipw_errbuf *eb)
{
    return ipw_http_client_open(c, &ollama_spec, eb);
}

const struct ipw_client_ops ipw_client_ollama = {
    .name = "ollama",
    .description = "Ollama's /api/chat (NDJSON stream); default http://127.0.0.1:11434",
    .default_base_url = "http://127.0.0.1:11434",
    .open = ollama_open,
    .health = ipw_http_client_health_op,
    .list_models = ipw_http_client_list_models_op,
    .default_model_tag = ":latest",
    .chat = ipw_http_client_chat_op,
    .close = ipw_http_client_close,
};
