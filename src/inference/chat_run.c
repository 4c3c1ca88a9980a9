/* The state of one streaming answer, shared by the ollama and openai clients: each body line is
 * parsed, its text appended, the first token timed, counts kept; at the end one verdict. */
#include "chat_run.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ipw/clock.h"

void ipw_chat_run_init(struct ipw_chat_run *r, enum ipw_wire wire, struct ipw_chat_result *res,
                       const struct ipw_stream_events *ev)
{
    memset(r, 0, sizeof *r);
    r->wire = wire;
    r->res = res;
    r->ev = ev;
    r->prompt_tokens = r->completion_tokens = -1;
    ipw_toolcalls_init(&r->tools);
    ipw_sse_init(&r->sse, IPW_STREAM_MAX_LINE);
    ipw_buf_init(&r->content, IPW_CHAT_MAX_TEXT);
    ipw_buf_init(&r->reasoning, IPW_CHAT_MAX_TEXT);
}

void ipw_chat_run_free(struct ipw_chat_run *r)
{
    ipw_buf_free(&r->content);
    ipw_buf_free(&r->reasoning);
    json_decref(r->stats);
    r->stats = NULL;
    ipw_toolcalls_free(&r->tools);
    ipw_sse_free(&r->sse);
}

static ipw_err text_add(struct ipw_chat_run *r, struct ipw_buf *b, const char *s, size_t n,
                        ipw_errbuf *eb)
{
    /* the limit is on both texts together, so it is checked here rather than by either buffer */
    if (n > IPW_CHAT_MAX_TEXT - r->content.len - r->reasoning.len)
        return ipw_fail(eb, IPW_E_RANGE,
                        "the answer is longer than the %u MiB limit on one response; lower "
                        "max_tokens",
                        IPW_CHAT_MAX_TEXT >> 20);
    ipw_err e = ipw_buf_add(b, s, n);
    if (e != IPW_OK)
        return ipw_fail(eb, e, "out of memory keeping a %zu-byte answer", b->len + n);
    return IPW_OK;
}

static void mark_first(struct ipw_chat_run *r)
{
    if (r->res->first_token_ns != 0)
        return;
    int64_t t = ipw_mono_ns();
    r->res->first_token_ns = t;
    if (r->ev && r->ev->on_first_token)
        r->ev->on_first_token(r->ev->ud, t);
}

static ipw_err apply(struct ipw_chat_run *r, const struct ipw_stream_chunk *c, ipw_errbuf *eb)
{
    if (c->kind == IPW_CHUNK_NONE || r->done)
        return IPW_OK; /* nothing after the end marker counts */
    if (c->kind == IPW_CHUNK_ERROR) {
        if (!r->server_error) {
            r->server_error = true;
            snprintf(r->server_error_msg, sizeof r->server_error_msg, "%s", c->error);
        }
        return IPW_OK;
    }
    bool has_c = c->content_len > 0, has_r = c->reasoning_len > 0;
    if (c->tool_calls) {
        mark_first(r); /* a tool call is generated output: its first piece is a token */
        ipw_err e = r->wire == IPW_WIRE_SSE
                        ? ipw_toolcalls_add_fragments(&r->tools, c->tool_calls, eb)
                        : ipw_toolcalls_add_whole(&r->tools, c->tool_calls, eb);
        if (e != IPW_OK)
            return e;
        r->deltas++;
    }
    if (has_c || has_r) {
        mark_first(r);
        r->deltas++;
        ipw_err e = IPW_OK;
        if (has_c)
            e = text_add(r, &r->content, c->content, c->content_len, eb);
        if (e == IPW_OK && has_r)
            e = text_add(r, &r->reasoning, c->reasoning, c->reasoning_len, eb);
        if (e != IPW_OK)
            return e;
        if (r->ev && r->ev->on_delta)
            r->ev->on_delta(r->ev->ud, has_c ? c->content : NULL, has_r ? c->reasoning : NULL);
    }
    if (c->finish_reason && *c->finish_reason)
        snprintf(r->finish_reason, sizeof r->finish_reason, "%s", c->finish_reason);
    if (c->prompt_tokens >= 0)
        r->prompt_tokens = c->prompt_tokens;
    if (c->completion_tokens >= 0)
        r->completion_tokens = c->completion_tokens;
    if (c->stats) {
        json_decref(r->stats);
        r->stats = json_incref(c->stats);
    }
    if (c->done) {
        r->done = true;
        r->done_ns = ipw_mono_ns();
    }
    return IPW_OK;
}

static ipw_err handle(struct ipw_chat_run *r, ipw_err pe, struct ipw_stream_chunk *c,
                      const ipw_errbuf *peb, ipw_errbuf *eb)
{
    ipw_err e = IPW_OK;
    if (pe == IPW_E_PROTOCOL) {
        if (r->malformed++ == 0) {
            r->malformed_line = r->lines;
            snprintf(r->malformed_msg, sizeof r->malformed_msg, "line %lu of the stream: %s",
                     r->lines, peb->msg);
        }
        if (r->malformed >= IPW_CHAT_MAX_MALFORMED)
            e = ipw_fail(eb, IPW_E_PROTOCOL,
                         "gave up after %d malformed lines: the server does not speak this "
                         "client's %s protocol (first: %s)",
                         IPW_CHAT_MAX_MALFORMED,
                         r->wire == IPW_WIRE_NDJSON ? "Ollama NDJSON" : "OpenAI event-stream",
                         r->malformed_msg);
    } else if (pe != IPW_OK) {
        e = ipw_fail(eb, pe, "%s", peb->msg);
    } else {
        bool was_done = r->done;
        e = apply(r, c, eb);
        /* the answer is complete: stop reading rather than wait on a server (or proxy) that
         * keeps the response open after its end marker */
        if (e == IPW_OK && r->done && !was_done)
            e = ipw_fail(eb, IPW_E_CANCELLED, "the stream's end marker arrived");
        else if (e == IPW_OK && !r->done && r->ev && r->ev->should_stop &&
                 r->ev->should_stop(r->ev->ud))
            e = ipw_fail(eb, IPW_E_CANCELLED, "cancelled while streaming, after %ld tokens",
                         r->deltas);
    }
    ipw_stream_chunk_clear(c);
    return e;
}

ipw_err ipw_chat_run_line(void *run, const char *line, size_t len, ipw_errbuf *eb)
{
    struct ipw_chat_run *r = run;
    struct ipw_stream_chunk c;
    ipw_errbuf peb;
    ipw_errbuf_clear(&peb);
    r->lines++;
    ipw_err pe = r->wire == IPW_WIRE_NDJSON ? ipw_ndjson_parse_line(line, len, &c, &peb)
                                            : ipw_sse_feed_line(&r->sse, line, len, &c, &peb);
    return handle(r, pe, &c, &peb, eb);
}

ipw_err ipw_chat_run_eof(struct ipw_chat_run *r, ipw_errbuf *eb)
{
    if (r->wire != IPW_WIRE_SSE)
        return IPW_OK;
    struct ipw_stream_chunk c;
    ipw_errbuf peb;
    ipw_errbuf_clear(&peb);
    ipw_err pe = ipw_sse_finish(&r->sse, &c, &peb);
    return handle(r, pe, &c, &peb, eb);
}

void ipw_chat_run_on_sent(void *run, int64_t mono_ns)
{
    struct ipw_chat_run *r = run;
    if (r->res->start_ns != 0)
        return; /* one request per call; never move the start */
    r->res->start_ns = mono_ns;
    if (r->ev && r->ev->on_start)
        r->ev->on_start(r->ev->ud, mono_ns);
}

/* The text for the result: "" when none, NULL only when memory ran out. */
static char *take_text(struct ipw_buf *b)
{
    char *p;
    return ipw_buf_take(b, &p, NULL) == IPW_OK ? p : NULL;
}

void ipw_chat_run_settle(struct ipw_chat_run *r)
{
    struct ipw_chat_result *res = r->res;
    free(res->content);
    free(res->reasoning);
    res->content = take_text(&r->content);
    res->reasoning = take_text(&r->reasoning);
    res->end_ns = r->done ? r->done_ns : ipw_mono_ns();
    res->input_tokens =
        r->prompt_tokens >= 0 ? r->prompt_tokens : ipw_estimate_tokens(r->prompt_bytes);
    res->output_tokens = r->completion_tokens >= 0 ? r->completion_tokens : r->deltas;
    res->token_source = r->prompt_tokens >= 0 && r->completion_tokens >= 0
                            ? IPW_TOKENS_SERVER
                            : IPW_TOKENS_ESTIMATED;
    json_decref(res->server_timings);
    res->server_timings = r->stats;
    r->stats = NULL;
    json_decref(res->tool_calls);
    res->tool_calls = ipw_toolcalls_take(&r->tools);
    snprintf(res->finish_reason, sizeof res->finish_reason, "%s", r->finish_reason);
}

ipw_err ipw_chat_run_conclude(struct ipw_chat_run *r, ipw_err http_err, const ipw_errbuf *http_eb,
                              const struct ipw_http_reply *reply, const char *display_url,
                              ipw_status_fn status_fn, void *status_ctx, const char *secret)
{
    ipw_errbuf eb;
    ipw_errbuf_clear(&eb);
    ipw_err e = IPW_OK;
    const char *marker =
        r->wire == IPW_WIRE_NDJSON ? "a line with \"done\": true" : "\"data: [DONE]\"";
    if (http_err == IPW_E_LOST) {
        e = ipw_fail(&eb, IPW_E_LOST, "stream ended before completion after %ld tokens: %s",
                     r->deltas, http_eb->msg);
    } else if (http_err == IPW_E_TIMEOUT && reply->sent) {
        e = ipw_fail(&eb, IPW_E_TIMEOUT, "gave up after %ld tokens: %s", r->deltas,
                     http_eb->msg);
    } else if (http_err != IPW_OK) {
        bool unreachable = !reply->sent && (http_err == IPW_E_IO || http_err == IPW_E_TIMEOUT);
        e = ipw_fail(&eb, http_err, "%s%s", http_eb->msg,
                     unreachable ? ": is the server running there? (check --client-base-url)"
                                 : "");
    } else if (reply->status < 200 || reply->status >= 300) {
        char text[300];
        ipw_stream_error_text(ipw_buf_str(&reply->body), reply->body.len, text, sizeof text);
        e = status_fn(status_ctx, reply->status, text, &eb);
    } else if (r->server_error) {
        e = ipw_fail(&eb, IPW_E_IO, "%s reported an error after %ld tokens: %s", display_url,
                     r->deltas, r->server_error_msg);
    } else if (r->malformed) {
        e = ipw_fail(&eb, IPW_E_PROTOCOL,
                     "malformed response from %s, %s (%ld malformed line(s) in all; the rest of "
                     "the stream was read)",
                     display_url, r->malformed_msg, r->malformed);
    } else if (!r->done) {
        bool not_sse = r->wire == IPW_WIRE_SSE && !strstr(reply->content_type, "event-stream");
        e = ipw_fail(&eb, IPW_E_LOST,
                     "stream ended before completion after %ld tokens: %s closed the response "
                     "without %s%s%s%s",
                     r->deltas, display_url, marker,
                     not_sse ? "; it answered with Content-Type '" : "",
                     not_sse ? reply->content_type : "", not_sse ? "', not an event stream" : "");
    }
    r->res->error = e;
    snprintf(r->res->error_msg, sizeof r->res->error_msg, "%s", e == IPW_OK ? "" : eb.msg);
    ipw_redact(r->res->error_msg, sizeof r->res->error_msg, secret);
    ipw_stream_utf8_fix(r->res->error_msg);
    return e;
}
