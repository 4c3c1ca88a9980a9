/* Server-Sent Events as OpenAI-compatible servers stream them: fields per line, an event ends
 * at a blank line, data: lines join with '\n', ':' starts a comment (keep-alive), and the
 * payload "[DONE]" ends the stream. Each event's JSON is a chat.completion.chunk. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ipw/chatstream.h"

void ipw_sse_init(struct ipw_sse *s, size_t max_event)
{
    memset(s, 0, sizeof *s);
    ipw_buf_init(&s->data, max_event ? max_event : IPW_STREAM_MAX_LINE);
}

void ipw_sse_free(struct ipw_sse *s)
{
    ipw_buf_free(&s->data);
    s->have_data = false;
}

static ipw_err append(struct ipw_sse *s, const char *p, size_t n, ipw_errbuf *eb)
{
    if (s->overflow)
        return IPW_OK;
    ipw_err e = IPW_OK;
    if (s->have_data)
        e = ipw_buf_add(&s->data, "\n", 1);
    if (e == IPW_OK)
        e = ipw_buf_add(&s->data, p, n);
    if (e == IPW_E_RANGE) {
        s->overflow = true;
        ipw_buf_reset(&s->data);
        s->have_data = false;
        return ipw_fail(eb, IPW_E_RANGE,
                        "an event of the server's stream is longer than the %zu-byte limit "
                        "(its data: lines add up to more)",
                        s->data.max);
    }
    if (e != IPW_OK)
        return ipw_fail(eb, e, "out of memory buffering a %zu-byte event", s->data.len + n);
    s->have_data = true;
    return IPW_OK;
}

static ipw_err dispatch(struct ipw_sse *s, struct ipw_stream_chunk *out, ipw_errbuf *eb)
{
    ipw_err e = IPW_OK;
    if (s->have_data)
        e = ipw_openai_parse_data(s->data.p, s->data.len, s->event, out, eb);
    ipw_buf_reset(&s->data);
    s->have_data = false;
    s->overflow = false;
    s->event[0] = '\0';
    return e;
}

static bool field_is(const char *f, size_t n, const char *name)
{
    return n == strlen(name) && memcmp(f, name, n) == 0;
}

static void copy_field(char *dst, size_t size, const char *v, size_t n)
{
    if (n >= size)
        n = size - 1;
    memcpy(dst, v, n);
    dst[n] = '\0';
}

ipw_err ipw_sse_feed_line(struct ipw_sse *s, const char *line, size_t len,
                          struct ipw_stream_chunk *out, ipw_errbuf *eb)
{
    ipw_stream_chunk_init(out);
    if (!s->started) {
        s->started = true;
        if (len >= 3 && memcmp(line, "\xEF\xBB\xBF", 3) == 0) {
            line += 3;
            len -= 3;
        }
    }
    if (len == 0)
        return dispatch(s, out, eb);
    if (line[0] == ':')
        return IPW_OK;
    const char *colon = memchr(line, ':', len);
    size_t flen = colon ? (size_t)(colon - line) : len;
    const char *val = colon ? colon + 1 : line + len;
    size_t vlen = (size_t)(line + len - val);
    if (vlen && *val == ' ') {
        val++;
        vlen--;
    }
    if (field_is(line, flen, "data"))
        return append(s, val, vlen, eb);
    if (field_is(line, flen, "event"))
        copy_field(s->event, sizeof s->event, val, vlen);
    else if (field_is(line, flen, "id") && !memchr(val, '\0', vlen))
        copy_field(s->last_id, sizeof s->last_id, val, vlen);
    /* retry: and unknown fields are ignored, as the SSE standard says */
    return IPW_OK;
}

ipw_err ipw_sse_finish(struct ipw_sse *s, struct ipw_stream_chunk *out, ipw_errbuf *eb)
{
    ipw_stream_chunk_init(out);
    return dispatch(s, out, eb);
}

/* ---- the chat.completion.chunk payload ---------------------------------------------------- */

static void take_string(json_t *obj, const char *key, const char **s, size_t *n)
{
    json_t *v = json_object_get(obj, key);
    if (json_is_string(v)) {
        *s = json_string_value(v);
        *n = json_string_length(v);
    }
}

static long get_tokens(const json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    if (json_is_integer(v) && json_integer_value(v) >= 0 && json_integer_value(v) <= 0x7fffffff)
        return (long)json_integer_value(v);
    if (json_is_real(v) && isfinite(json_real_value(v)) && json_real_value(v) >= 0 &&
        json_real_value(v) <= 2147483647.0)
        return (long)json_real_value(v);
    return -1;
}

/* choices[] entry with index 0 (servers send one choice per chunk; n > 1 is not measured) */
static json_t *first_choice(json_t *choices)
{
    size_t i;
    json_t *c;
    json_array_foreach(choices, i, c)
    {
        json_t *idx = json_object_get(c, "index");
        if (!idx || (json_is_integer(idx) && json_integer_value(idx) == 0))
            return json_is_object(c) ? c : NULL;
    }
    return NULL;
}

static ipw_err malformed(const char *what, const char *data, size_t len, ipw_errbuf *eb)
{
    return ipw_stream_malformed("event data", what, data, len, eb);
}

ipw_err ipw_openai_parse_data(const char *data, size_t len, const char *event,
                              struct ipw_stream_chunk *out, ipw_errbuf *eb)
{
    ipw_stream_chunk_init(out);
    size_t b = 0, e = len;
    while (b < e && (data[b] == ' ' || data[b] == '\t' || data[b] == '\n'))
        b++;
    while (e > b && (data[e - 1] == ' ' || data[e - 1] == '\t' || data[e - 1] == '\n'))
        e--;
    if (e - b == 6 && memcmp(data + b, "[DONE]", 6) == 0) {
        out->kind = IPW_CHUNK_DATA;
        out->done = true;
        return IPW_OK;
    }
    if (e == b)
        return IPW_OK; /* "data:" with nothing: a keep-alive some proxies send */
    json_error_t je;
    json_t *root = json_loadb(data + b, e - b, JSON_ALLOW_NUL, &je);
    if (!root) {
        char what[200], text[120];
        /* jansson quotes the bytes near the error, which may be anything */
        ipw_stream_clean(text, sizeof text, je.text, strlen(je.text));
        snprintf(what, sizeof what, "%s at column %d", text, je.column);
        return malformed(what, data + b, e - b, eb);
    }
    if (!json_is_object(root)) {
        json_decref(root);
        return malformed("not a JSON object", data + b, e - b, eb);
    }
    out->root = root;
    json_t *err = json_object_get(root, "error");
    const char *object = json_string_value(json_object_get(root, "object"));
    if ((event && strcmp(event, "error") == 0) || (err && !json_is_null(err)) ||
        (object && strcmp(object, "error") == 0)) {
        out->kind = IPW_CHUNK_ERROR;
        ipw_stream_error_text(data + b, e - b, out->error, sizeof out->error);
        return IPW_OK;
    }
    out->kind = IPW_CHUNK_DATA;
    json_t *choice = first_choice(json_object_get(root, "choices"));
    if (choice) {
        json_t *delta = json_object_get(choice, "delta");
        if (!json_is_object(delta))
            delta = json_object_get(choice, "message");
        if (json_is_object(delta)) {
            take_string(delta, "content", &out->content, &out->content_len);
            take_string(delta, "reasoning_content", &out->reasoning, &out->reasoning_len);
            if (!out->reasoning)
                take_string(delta, "reasoning", &out->reasoning, &out->reasoning_len);
            json_t *tc = json_object_get(delta, "tool_calls");
            if (json_is_array(tc) && json_array_size(tc))
                out->tool_calls = tc;
        } else {
            take_string(choice, "text", &out->content, &out->content_len);
        }
        out->finish_reason = json_string_value(json_object_get(choice, "finish_reason"));
    }
    json_t *usage = json_object_get(root, "usage");
    if (json_is_object(usage)) {
        out->stats = json_incref(usage);
        out->prompt_tokens = get_tokens(usage, "prompt_tokens");
        out->completion_tokens = get_tokens(usage, "completion_tokens");
    }
    return IPW_OK;
}
