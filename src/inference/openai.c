/* OpenAI-compatible clients (OpenAI, vLLM, llama.cpp's server, SGLang): POST {base}/v1/chat/
 * completions with stream:true and stream_options.include_usage, answered as Server-Sent
 * Events (SPEC §3.5). --client-param keys go to the top level of the request. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http_client.h"

#define DEFAULT_MAX_TOKENS 4096

/* what to do when the server refuses the request: with a key sent, and without one */
#define KEY_HINT "check the key in IPW_API_KEY / OPENAI_API_KEY"
#define NO_KEY_HINT "it wants an API key: set OPENAI_API_KEY or IPW_API_KEY"

static ipw_err openai_status(const struct ipw_http_client *rm, const char *model, long status,
                             const char *text, ipw_errbuf *eb)
{
    if (status == 401 || status == 403)
        return ipw_fail(eb, IPW_E_PERM,
                        "%s refused the request (HTTP %ld: %s): %s", rm->display, status, text,
                        rm->bearer ? KEY_HINT : NO_KEY_HINT);
    if (status == 404) {
        char models[1200];
        ipw_http_display_url(rm->models_url, models, sizeof models);
        return ipw_fail(eb, IPW_E_NOTFOUND,
                        "model '%s' is not served at %s (HTTP 404: %s): list what is served with "
                        "GET %s",
                        model, rm->display, text, models);
    }
    if (status == 400 || status == 422)
        return ipw_fail(eb, IPW_E_INVALID,
                        "%s rejected the request for model '%s' (HTTP %ld: %s): check the "
                        "--client-param values (OpenAI reasoning models want "
                        "max_completion_tokens rather than max_tokens)",
                        rm->display, model, status, text);
    if (status == 429)
        return ipw_fail(eb, IPW_E_IO, "%s is rate limiting requests (HTTP 429: %s)", rm->display,
                        text);
    return ipw_fail(eb, IPW_E_IO, "%s answered HTTP %ld for model '%s': %s", rm->display, status,
                    model, text);
}

static ipw_err build_template(const json_t *params, json_t **out, ipw_errbuf *eb)
{
    json_t *tmpl = json_object();
    json_t *so = json_object();
    if (!tmpl || !so) {
        json_decref(tmpl);
        json_decref(so);
        return ipw_fail(eb, IPW_E_NOMEM, "out of memory preparing the request");
    }
    const char *key;
    json_t *v;
    ipw_err e = IPW_OK;
    json_object_foreach((json_t *)params, key, v)
    {
        if (ipw_http_client_client_key(key))
            continue;
        if (strcmp(key, "model") == 0 || strcmp(key, "messages") == 0 ||
            strcmp(key, "stream") == 0) {
            e = ipw_fail(eb, IPW_E_INVALID,
                         "parameter %s is set by the client itself and cannot be given", key);
            break;
        }
        if ((strcmp(key, "max_tokens") == 0 || strcmp(key, "max_completion_tokens") == 0) &&
            (!json_is_integer(v) || json_integer_value(v) <= 0)) {
            e = ipw_fail(eb, IPW_E_INVALID, "parameter %s must be a positive integer", key);
            break;
        }
        if (strcmp(key, "stream_options") == 0) {
            if (!json_is_object(v)) {
                e = ipw_fail(eb, IPW_E_INVALID,
                             "parameter stream_options must be a JSON object");
                break;
            }
            json_object_update(so, v);
            continue;
        }
        json_object_set_new(tmpl, key, json_deep_copy(v));
    }
    if (e != IPW_OK) {
        json_decref(tmpl);
        json_decref(so);
        return e;
    }
    /* max_completion_tokens (OpenAI's newer name, required by its reasoning models) replaces
     * the default max_tokens rather than being sent beside it */
    if (!json_object_get(tmpl, "max_tokens") && !json_object_get(tmpl, "max_completion_tokens"))
        json_object_set_new(tmpl, "max_tokens", json_integer(DEFAULT_MAX_TOKENS));
    if (!json_object_get(so, "include_usage"))
        json_object_set_new(so, "include_usage", json_true());
    json_object_set_new(tmpl, "stream", json_true());
    json_object_set_new(tmpl, "stream_options", so);
    *out = tmpl;
    return IPW_OK;
}

static bool is_openai_host(const char *base)
{
    const char *h = strstr(base, "://");
    h = h ? h + 3 : base;
    return strncasecmp(h, "api.openai.com", 14) == 0 && strchr("/:", h[14] ? h[14] : '/');
}

static const char *const openai_name_keys[] = {"id", NULL};

static const struct ipw_http_client_spec openai_spec = {
    .label = "the OpenAI-compatible server",
    .accept = "text/event-stream",
    .wire = IPW_WIRE_SSE,
    .chat_path = "/v1/chat/completions",
    .models_path = "/v1/models",
    .status_fn = openai_status,
    .build_template = build_template,
    .models_key = "data",
    .model_name_keys = openai_name_keys,
    .start_hint = "start the server, or pass --client-base-url",
    .key_hint = KEY_HINT,
    .no_key_hint = NO_KEY_HINT,
    .server_kind = "an OpenAI-compatible server",
};

static ipw_err openai_open(struct ipw_client *c, ipw_errbuf *eb)
{
    if (is_openai_host(c->base_url) && !c->cfg.api_key)
        return ipw_fail(eb, IPW_E_PERM,
                        "the %s client needs an API key for %s: set OPENAI_API_KEY or "
                        "IPW_API_KEY",
                        c->ops->name, c->base_url);
    return ipw_http_client_open(c, &openai_spec, eb);
}

const struct ipw_client_ops ipw_client_openai = {
    .name = "openai",
    .description = "OpenAI-compatible /v1/chat/completions (SSE); OpenAI, llama.cpp, SGLang, ...",
    .default_base_url = "https://api.openai.com/v1",
    .open = openai_open,
    .health = ipw_http_client_health_op,
    .list_models = ipw_http_client_list_models_op,
    .chat = ipw_http_client_chat_op,
    .close = ipw_http_client_close,
};

const struct ipw_client_ops ipw_client_vllm = {
    .name = "vllm",
    .description = "the openai client with vLLM's default URL http://127.0.0.1:8000",
    .default_base_url = "http://127.0.0.1:8000",
    .open = openai_open,
    .health = ipw_http_client_health_op,
    .list_models = ipw_http_client_list_models_op,
    .chat = ipw_http_client_chat_op,
    .close = ipw_http_client_close,
};
