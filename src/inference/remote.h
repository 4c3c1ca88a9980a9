/* The part of the ollama and openai clients that is the same: a prepared request template,
 * URLs, timeouts, and one streamed chat call or JSON GET over http_stream. */
#ifndef IPW_INFERENCE_REMOTE_H
#define IPW_INFERENCE_REMOTE_H

#include "chat_run.h"

struct ipw_remote;

/* Message for a non-2xx reply to a chat request for `model`. */
typedef ipw_err (*ipw_remote_status_fn)(const struct ipw_remote *rm, const char *model,
                                        long status, const char *server_text, ipw_errbuf *eb);

struct ipw_remote {
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
    ipw_remote_status_fn status_fn;
    /* Ollama wants a tool call's arguments in the history as an object, OpenAI as JSON text */
    bool tool_args_as_object;
};

/* Reads connect_timeout / idle_timeout / system_prompt / system from params (client-side keys,
 * never sent) into rm; the caller then fills the rest. */
ipw_err ipw_remote_init(struct ipw_remote *rm, struct ipw_client *c, ipw_errbuf *eb);
void ipw_remote_free(struct ipw_remote *rm);
/* Takes the request template (consumed) for every later call. */
ipw_err ipw_remote_set_template(struct ipw_remote *rm, json_t *tmpl, ipw_errbuf *eb);

/* True for keys the client consumes itself and never sends. */
bool ipw_remote_client_key(const char *key);

ipw_err ipw_remote_chat(const struct ipw_remote *rm, const struct ipw_chat_request *req,
                        const struct ipw_stream_events *ev, struct ipw_chat_result *res);

/* GET url and parse the JSON reply (bounded); non-2xx is an error naming the URL and status. */
ipw_err ipw_remote_get_json(const struct ipw_remote *rm, const char *url, json_t **out,
                            ipw_errbuf *eb);

/* url = base + path, where a base already ending in "/v1" does not get a second one when path
 * starts with "/v1/". */
ipw_err ipw_remote_join(char *out, size_t size, const char *base, const char *path,
                        ipw_errbuf *eb);

#endif
