/* The part of the ollama and openai clients that is the same: a prepared request template,
 * URLs, timeouts, and one streamed chat call or JSON GET over http_stream. */
#ifndef IPW_INFERENCE_HTTP_CLIENT_H
#define IPW_INFERENCE_HTTP_CLIENT_H

#include "chat_run.h"

struct ipw_http_client;

/* Message for a non-2xx reply to a chat request for `model`. */
typedef ipw_err (*ipw_http_client_status_fn)(const struct ipw_http_client *rm, const char *model,
                                        long status, const char *server_text, ipw_errbuf *eb);

struct ipw_http_client {
    const char *label; /* "Ollama", "the OpenAI-compatible server" */
    enum ipw_wire wire;
    const char *accept;
    /* the request body without model and messages, as JSON text: each call parses its own
     * copy, so concurrent calls share nothing mutable */
    char *tmpl_text;
    char *system;       /* system prompt from params, or NULL */
    const char *bearer; /* the client's API key copy, or NULL */
    int64_t connect_ns, idle_ns;
    char chat_url[1200], models_url[1200];
    char display[1200]; /* base URL for messages */
    ipw_http_client_status_fn status_fn;
    /* Ollama wants a tool call's arguments in the history as an object, OpenAI as JSON text */
    bool tool_args_as_object;
    const struct ipw_http_client_spec *spec;
};

/* What differs between the HTTP clients, given to ipw_http_client_open. */
struct ipw_http_client_spec {
    const char *label, *accept;
    enum ipw_wire wire;
    const char *chat_path, *models_path; /* joined to the base URL ("/api/chat", ...) */
    ipw_http_client_status_fn status_fn;
    bool tool_args_as_object;
    /* The request body without model and messages, from --client-param (caller's to free). */
    ipw_err (*build_template)(const json_t *params, json_t **out, ipw_errbuf *eb);
    /* The models listing: the member holding the list ("models", "data") and, per item, the
     * members that may hold its name, first found wins (NULL-terminated). */
    const char *models_key;
    const char *const *model_name_keys;
    /* The words of a failed listing, "cannot reach <server_name> at URL: <hint>":
     * server_name NULL says "the <client name> server"; start_hint follows an I/O error or a
     * timeout; key_hint / no_key_hint (NULL: none) follow a refusal (IPW_E_PERM), the first
     * when a key was sent. */
    const char *server_name, *start_hint, *key_hint, *no_key_hint;
    /* A reply without the list: "GET URL answered without a "<models_key>" list: is it
     * <server_kind>?" */
    const char *server_kind;
};

/* A client's open: reads connect_timeout / idle_timeout / system_prompt / system from its
 * params (client-side keys, never sent), builds the request template and the URLs, and keeps
 * the result in c->priv. ipw_http_client_close undoes it; ipw_http_client_chat_op is the
 * clients' chat operation. */
ipw_err ipw_http_client_open(struct ipw_client *c, const struct ipw_http_client_spec *spec,
                             ipw_errbuf *eb);
void ipw_http_client_close(struct ipw_client *c);
/* The clients' health and list_models operations: GET the models listing (see the spec). */
ipw_err ipw_http_client_health_op(struct ipw_client *c, ipw_errbuf *eb);
ipw_err ipw_http_client_list_models_op(struct ipw_client *c, json_t **models, ipw_errbuf *eb);
ipw_err ipw_http_client_chat_op(struct ipw_client *c, const struct ipw_chat_request *req,
                                const struct ipw_stream_events *ev, struct ipw_chat_result *res);

/* The names in a models listing: each item's first string member among keys (NULL-terminated),
 * as a new JSON array. */
json_t *ipw_http_client_model_names(const json_t *list, const char *const *keys);

/* True for keys the client consumes itself and never sends. */
bool ipw_http_client_client_key(const char *key);

ipw_err ipw_http_client_chat(const struct ipw_http_client *rm, const struct ipw_chat_request *req,
                        const struct ipw_stream_events *ev, struct ipw_chat_result *res);

/* GET url and parse the JSON reply (bounded); non-2xx is an error naming the URL and status. */
ipw_err ipw_http_client_get_json(const struct ipw_http_client *rm, const char *url, json_t **out,
                            ipw_errbuf *eb);

/* url = base + path, where a base already ending in "/v1" does not get a second one when path
 * starts with "/v1/". */
ipw_err ipw_http_client_join(char *out, size_t size, const char *base, const char *path,
                        ipw_errbuf *eb);

#endif
