/* Inference clients: one per server protocol (ollama, openai/vllm, sim), each behind the same
 * operations table (SPEC §3.5). A client streams one chat completion and reports exact
 * monotonic timestamps of request start, first token and end, so energy can be attributed. */
#ifndef IPW_CLIENT_H
#define IPW_CLIENT_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "ipw/err.h"

struct ipw_client_config {
    const char *base_url;        /* NULL: the client's default */
    const char *api_key;         /* from the environment only; never logged or written */
    int64_t connect_timeout_ns;  /* default 10 s */
    int64_t idle_timeout_ns;     /* no byte for this long ends the query; default 300 s */
    /* --client-param K=V, typed (numbers, booleans, JSON arrays/objects, else strings).
     * Generation parameters (max_tokens default 4096, temperature, top_p, seed, stop,
     * system_prompt/system, ...) reach the request; keys a client does not know are passed
     * through for the server to judge. Borrowed. */
    const json_t *params;
};

struct ipw_chat_request {
    const char *model;
    const char *prompt;        /* the user message */
    const char *system_prompt; /* NULL: none (or params' system_prompt) */
    /* A whole conversation instead of prompt/system_prompt (an agent's turns): an array of
     * OpenAI-style messages ({role, content}, assistant tool_calls, {role:"tool",
     * tool_call_id, content}); each client converts it to its protocol. Borrowed. */
    const json_t *messages;
    /* Tools the model may call, OpenAI style: [{type:"function", function:{name,
     * description, parameters}}]; NULL: none. Borrowed. */
    const json_t *tools;
    /* This request's output limit (a replayed turn's recorded length); 0: the client's
     * max_tokens. */
    long max_tokens;
    /* The dataset item's kind ("mcq", "exact", "open") and reference answer, or NULL. Servers
     * never see them; only a modelled backend (sim) uses them, to model whether its answer
     * would have been right. */
    const char *item_kind, *item_reference;
};

/* Called on the streaming thread, synchronously, so the caller can snapshot telemetry at the
 * exact moment (SPEC §3.2). Any member may be NULL. */
struct ipw_stream_events {
    void *ud;
    /* Request about to be sent; mono_ns is the request-start timestamp the result reports. */
    void (*on_start)(void *ud, int64_t mono_ns);
    /* First non-empty content, reasoning or tool-call delta. */
    void (*on_first_token)(void *ud, int64_t mono_ns);
    void (*on_delta)(void *ud, const char *content, const char *reasoning);
    /* Asked after each streamed piece: true abandons the query at once (IPW_E_CANCELLED), so a
     * user's Cancel does not wait for the rest of a long answer. */
    bool (*should_stop)(void *ud);
};

enum ipw_token_source { IPW_TOKENS_SERVER = 0, IPW_TOKENS_ESTIMATED };

struct ipw_chat_result {
    char *content;   /* malloc'd; "" when none */
    char *reasoning; /* malloc'd; "" when none */
    int64_t start_ns, first_token_ns, end_ns; /* CLOCK_MONOTONIC; first_token_ns 0 if none */
    long input_tokens, output_tokens;         /* -1 when unknown */
    enum ipw_token_source token_source;
    json_t *server_timings; /* Ollama's counts and durations, or OpenAI's usage; may be NULL */
    /* Tool calls the model made: [{id, name, arguments}] with arguments the decoded JSON
     * object (or {"_unparsed": text} when the model wrote invalid JSON); NULL when none. */
    json_t *tool_calls;
    long http_status;       /* 0 when no response */
    char finish_reason[32];
    ipw_err error;          /* IPW_OK when the query completed */
    char error_msg[IPW_ERRMSG_MAX];
};

struct ipw_client;

/* One client's operations table, and everything that names or describes it: the registry
 * (client.c) derives the CLI's choices, `ipw list`, help texts and messages from these. */
struct ipw_client_ops {
    const char *name;
    const char *const *aliases; /* other names it answers to (NULL-terminated), or NULL */
    const char *description;    /* one line for `ipw list clients` */
    const char *default_base_url;
    ipw_err (*open)(struct ipw_client *c, ipw_errbuf *eb);
    /* Is the server up and answering? The error names the URL. */
    ipw_err (*health)(struct ipw_client *c, ipw_errbuf *eb);
    /* Model names the server offers (a JSON array of strings, caller decrefs). */
    ipw_err (*list_models)(struct ipw_client *c, json_t **models, ipw_errbuf *eb);
    /* Optional: can this client serve `model`? The error names the model and the fix. For
     * clients that serve more names than list_models shows (aliases); when NULL, the name must
     * be one that list_models returns. */
    ipw_err (*check_model)(struct ipw_client *c, const char *model, ipw_errbuf *eb);
    /* Optional: the tag a server assumes when a model name has none (Ollama: ":latest", so
     * "llama3.2" is "llama3.2:latest"); the profiler then resolves names the same way. */
    const char *default_model_tag;
    /* Stream one completion. Must be callable from several threads at once (--concurrency).
     * Fills res in every case; returns res->error. */
    ipw_err (*chat)(struct ipw_client *c, const struct ipw_chat_request *req,
                    const struct ipw_stream_events *ev, struct ipw_chat_result *res);
    void (*close)(struct ipw_client *c);
};

struct ipw_client {
    const struct ipw_client_ops *ops;
    struct ipw_client_config cfg;
    char base_url[1024]; /* resolved, without a trailing slash */
    void *priv;
};

extern const struct ipw_client_ops ipw_client_ollama;
extern const struct ipw_client_ops ipw_client_openai;
extern const struct ipw_client_ops ipw_client_vllm; /* openai protocol, vLLM's default URL */
extern const struct ipw_client_ops ipw_client_sim;

/* The registry: every client, NULL-terminated, in the order lists show them. */
const struct ipw_client_ops *const *ipw_client_registry(void);
/* By name or alias ("ollama", "openai", "vllm", "sim"); NULL when unknown. */
const struct ipw_client_ops *ipw_client_lookup(const char *name);
/* Derived from the registry: the names, NULL-terminated (--client's choices); "ollama,
 * openai, vllm or sim" for messages; "ollama|openai|vllm|sim" for usage lines. */
const char *const *ipw_client_choices(void);
const char *ipw_client_choices_text(void);
const char *ipw_client_choices_usage(void);

ipw_err ipw_client_open(const char *name, const struct ipw_client_config *cfg,
                        struct ipw_client **out, ipw_errbuf *eb);
void ipw_client_close(struct ipw_client *c);
/* Is the server up, and does it serve `model`? health (its message names the URL and the
 * fix), then check_model where the client has one, else the name must be one list_models
 * returns (when the server lists any): a wrong name is the commonest mistake, caught before
 * anything is measured, naming the server and the models it has. `served` receives the name
 * the server knows it by (an untagged Ollama name gets the default tag). */
ipw_err ipw_client_check_ready(struct ipw_client *c, const char *model, char *served,
                               size_t served_size, ipw_errbuf *eb);
void ipw_chat_result_free(struct ipw_chat_result *res);

/* The API key from the environment: IPW_API_KEY, else OPENAI_API_KEY; NULL when neither is set
 * (or empty). The caller puts it in ipw_client_config.api_key; clients copy it, send it only as
 * an Authorization: Bearer header, and redact it from every message they write. */
const char *ipw_client_api_key_from_env(void);

/* Checks a --client-base-url before anything connects: a scheme other than http(s), no host, a
 * control character or a URL curl cannot parse is the user's typo (a usage error), not a server
 * that is down. NULL (the client's default URL) is fine. */
ipw_err ipw_client_check_base_url(const char *url, ipw_errbuf *eb);

/* --client-param / --dataset-param K=V strings into a JSON object with typed values:
 * integers, reals, true/false/null, JSON arrays/objects when the value starts with [ or {,
 * a JSON string when it is one in double quotes ("42" stays text), else the text itself.
 * A key given twice: the last wins. An entry without '=' or with an empty key is an error. */
ipw_err ipw_params_parse(const char *const *kv, size_t n, json_t **out, ipw_errbuf *eb);

#endif
