/* What the ollama and openai clients share while one answer streams in: turning each line
 * into text, first-token time, counts and stats, and at the end one verdict with a clear
 * error. Socket-free, so the benchmark drives exactly this path from memory. */
#ifndef IPW_INFERENCE_CHAT_RUN_H
#define IPW_INFERENCE_CHAT_RUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http_stream.h"
#include "toolcalls.h"
#include "ipw/chatstream.h"
#include "ipw/client.h"

/* Content plus reasoning of one answer is bounded (a runaway server cannot exhaust memory). */
#define IPW_CHAT_MAX_TEXT (64u * 1024 * 1024)
/* This many malformed lines in one stream means it is not the protocol we speak: stop. */
#define IPW_CHAT_MAX_MALFORMED 100

enum ipw_wire { IPW_WIRE_NDJSON, IPW_WIRE_SSE };

struct ipw_chat_run {
    enum ipw_wire wire;
    struct ipw_sse sse;
    struct ipw_chat_result *res;
    const struct ipw_stream_events *ev;
    struct ipw_buf content, reasoning; /* together at most IPW_CHAT_MAX_TEXT */
    size_t prompt_bytes; /* for the token estimate when the server reports no counts */
    long deltas;         /* non-empty content or reasoning pieces received */
    unsigned long lines;
    long malformed;
    unsigned long malformed_line;
    char malformed_msg[IPW_ERRMSG_MAX];
    bool done;
    int64_t done_ns;
    bool server_error;
    char server_error_msg[256];
    long prompt_tokens, completion_tokens; /* from the server; -1 when not given */
    json_t *stats;
    char finish_reason[32];
    struct ipw_toolcalls tools; /* the model's tool calls, assembled */
};

void ipw_chat_run_init(struct ipw_chat_run *r, enum ipw_wire wire, struct ipw_chat_result *res,
                       const struct ipw_stream_events *ev);
/* ipw_line_fn: one line of the response body. Returns IPW_E_CANCELLED once the end marker has
 * arrived (reading stops there: nothing after it counts), and fails when the stream must stop
 * (too many malformed lines, text over the bound, out of memory); a malformed line is noted and
 * skipped. */
ipw_err ipw_chat_run_line(void *run, const char *line, size_t len, ipw_errbuf *eb);
/* ipw_http_call's on_sent: records the request-start time and calls ev->on_start. */
void ipw_chat_run_on_sent(void *run, int64_t mono_ns);
/* End of the body: an SSE event left open is interpreted. */
ipw_err ipw_chat_run_eof(struct ipw_chat_run *r, ipw_errbuf *eb);
/* Fills res (text, counts, token source, stats, finish reason, end time) from what arrived. */
void ipw_chat_run_settle(struct ipw_chat_run *r);
void ipw_chat_run_free(struct ipw_chat_run *r);

/* Builds the error message for a non-2xx reply (client specific). */
typedef ipw_err (*ipw_status_fn)(void *ctx, long status, const char *server_text, ipw_errbuf *eb);

/* The verdict on one query after the transfer: transport failure, HTTP status, an error the
 * server sent in the stream, malformed lines, or a stream that ended early; IPW_OK when the
 * answer is complete. Writes res->error/error_msg with `secret` redacted. */
ipw_err ipw_chat_run_conclude(struct ipw_chat_run *r, ipw_err http_err, const ipw_errbuf *http_eb,
                              const struct ipw_http_reply *reply, const char *display_url,
                              ipw_status_fn status_fn, void *status_ctx, const char *secret);

/* ---- helpers the clients share (client.c) ------------------------------------------------- */

/* Replace every occurrence of secret in text (NUL-terminated, in a buffer of size bytes). */
void ipw_redact(char *text, size_t size, const char *secret);
/* Timeout from params[key] (number of seconds, or a string like "500ms"); keeps *ns when the
 * key is absent. */
ipw_err ipw_params_duration(const json_t *params, const char *key, int64_t *ns, ipw_errbuf *eb);
/* Estimate of a token count from text bytes (about 4 bytes per token in English BPE). */
long ipw_estimate_tokens(size_t bytes);

#endif
