/* Decoding a streamed chat response, without sockets: a bounded line splitter, the Ollama NDJSON
 * line parser and the Server-Sent Events parser for OpenAI-compatible servers. Pure functions
 * over bytes, so the clients, the fuzzers and the benchmark all run the same code. */
#ifndef IPW_CHATSTREAM_H
#define IPW_CHATSTREAM_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "ipw/buf.h"
#include "ipw/err.h"

/* Longest line (and longest SSE event payload) a client accepts by default. */
#define IPW_STREAM_MAX_LINE (1024 * 1024)

/* ---- line splitter ------------------------------------------------------------------------ */

/* Called with each complete line, without its terminator (LF, CRLF or a lone CR). Returning
 * anything but IPW_OK stops the splitter, which hands that code back to the caller. */
typedef ipw_err (*ipw_line_fn)(void *ud, const char *line, size_t len, ipw_errbuf *eb);

struct ipw_linesplit {
    struct ipw_buf line; /* the unfinished line carried over between chunks; its limit is the
                            line limit */
    bool last_cr; /* the previous chunk ended in CR: a leading LF is its CRLF's second half */
    unsigned long lines;
};

void ipw_linesplit_init(struct ipw_linesplit *ls, size_t max_line);
/* Feed a chunk of bytes as it arrived; lines split across chunks are joined. A line longer than
 * max_line is IPW_E_RANGE with a message naming the limit. */
ipw_err ipw_linesplit_feed(struct ipw_linesplit *ls, const char *data, size_t n, ipw_line_fn fn,
                           void *ud, ipw_errbuf *eb);
/* End of input: hands over a last line that had no terminator. */
ipw_err ipw_linesplit_finish(struct ipw_linesplit *ls, ipw_line_fn fn, void *ud, ipw_errbuf *eb);
void ipw_linesplit_free(struct ipw_linesplit *ls);

/* ---- interpreted chunks ------------------------------------------------------------------- */

enum ipw_chunk_kind {
    IPW_CHUNK_NONE = 0, /* nothing to act on: blank line, comment, keep-alive, partial event */
    IPW_CHUNK_DATA,     /* a piece of the answer, stats, or the end marker */
    IPW_CHUNK_ERROR,    /* the server reported an error inside the stream (text in error) */
};

struct ipw_stream_chunk {
    enum ipw_chunk_kind kind;
    const char *content; /* NULL when absent; may be "" */
    size_t content_len;
    const char *reasoning; /* Ollama message.thinking, OpenAI reasoning_content / reasoning */
    size_t reasoning_len;
    const char *finish_reason; /* Ollama done_reason, OpenAI choices[0].finish_reason */
    bool done;                 /* Ollama done:true, SSE data: [DONE] */
    long prompt_tokens, completion_tokens; /* -1 when the chunk has none */
    /* Owned reference: Ollama's counts and durations (prompt_eval_count, eval_count,
     * prompt_eval_duration, eval_duration, load_duration, total_duration) or OpenAI's usage. */
    json_t *stats;
    /* Borrowed from root: OpenAI delta.tool_calls fragments ({index, id, function:{name,
     * arguments piece}}) or Ollama message.tool_calls (whole calls); NULL when none. */
    json_t *tool_calls;
    char error[256];
    json_t *root; /* the parsed JSON the pointers above point into */
};

void ipw_stream_chunk_init(struct ipw_stream_chunk *c);
void ipw_stream_chunk_clear(struct ipw_stream_chunk *c);

/* Write at most `max` bytes of text into out as a quoted, one-line excerpt ("…" when cut,
 * control bytes as \xNN), for error messages about bad input. */
void ipw_stream_excerpt(char *out, size_t size, const char *text, size_t len, size_t max);
/* The same without quotes: text made one line of valid UTF-8, cut to fit out. */
void ipw_stream_clean(char *out, size_t size, const char *text, size_t len);
/* Cuts a NUL-terminated message back to valid UTF-8 where a bounded snprintf split a
 * multi-byte character (or server bytes slipped in), so it can go into JSON records. */
void ipw_stream_utf8_fix(char *msg);
/* A stream parser's bad input, in one form for every wire: IPW_E_PROTOCOL, "malformed <what>
 * from the server (<why>): <excerpt of bytes, at most 120 of them>". */
ipw_err ipw_stream_malformed(const char *what, const char *why, const char *bytes, size_t len,
                             ipw_errbuf *eb);

/* ---- Ollama: one NDJSON line of POST /api/chat (or /api/generate) ------------------------- */

/* Interprets one complete line. A blank line is IPW_CHUNK_NONE. A line that is not a JSON object
 * is IPW_E_PROTOCOL with the offending text, cut short, in eb. */
ipw_err ipw_ndjson_parse_line(const char *line, size_t len, struct ipw_stream_chunk *out,
                              ipw_errbuf *eb);

/* ---- OpenAI-compatible: Server-Sent Events ------------------------------------------------ */

struct ipw_sse {
    struct ipw_buf data; /* data: fields of the event being read, joined with '\n'; its limit
                            is the event limit */
    bool have_data;
    bool overflow; /* the current event passed the limit: skip it up to its blank line */
    char event[64]; /* the event: field; "" means "message" */
    char last_id[128];
    bool started; /* a UTF-8 byte order mark is skipped on the first line only */
};

void ipw_sse_init(struct ipw_sse *s, size_t max_event);
/* Feed one complete line. A blank line ends the event; its data is interpreted into out (a
 * "[DONE]" payload is a DATA chunk with done set). Comments (":"), id:, retry: and unknown fields
 * leave out as IPW_CHUNK_NONE. Malformed event data is IPW_E_PROTOCOL with an excerpt. */
ipw_err ipw_sse_feed_line(struct ipw_sse *s, const char *line, size_t len,
                          struct ipw_stream_chunk *out, ipw_errbuf *eb);
/* End of input: an event the server did not close with a blank line is interpreted too. */
ipw_err ipw_sse_finish(struct ipw_sse *s, struct ipw_stream_chunk *out, ipw_errbuf *eb);
void ipw_sse_free(struct ipw_sse *s);

/* Interprets one event payload of POST /v1/chat/completions (a chat.completion.chunk object, an
 * error object, or "[DONE]"). `event` is the SSE event type ("" for the default). */
ipw_err ipw_openai_parse_data(const char *data, size_t len, const char *event,
                              struct ipw_stream_chunk *out, ipw_errbuf *eb);

/* Error text from an error body in any of the shapes servers use: {"error":"..."},
 * {"error":{"message":"..."}}, {"message":"..."} (vLLM), {"detail":"..."} (FastAPI), else the
 * body itself; one line, at most size-1 bytes. */
void ipw_stream_error_text(const char *body, size_t len, char *out, size_t size);

#endif
