/* Ollama's streaming format: one JSON object per line. Interprets a line of POST /api/chat (or
 * /api/generate) into content/thinking deltas, the final counts and durations, or an error. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "ipw/chatstream.h"

static const char *const ollama_stats[] = {"prompt_eval_count", "eval_count",
                                           "prompt_eval_duration", "eval_duration",
                                           "load_duration", "total_duration"};

static bool blank(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n')
            return false;
    return true;
}

/* A non-negative count or duration; servers write integers, but accept whole reals too. */
static bool get_count(const json_t *obj, const char *key, long long *out)
{
    json_t *v = json_object_get(obj, key);
    if (json_is_integer(v)) {
        if (json_integer_value(v) < 0)
            return false;
        *out = (long long)json_integer_value(v);
        return true;
    }
    if (json_is_real(v)) {
        double d = json_real_value(v);
        if (!isfinite(d) || d < 0 || d > 9e18)
            return false;
        *out = (long long)d;
        return true;
    }
    return false;
}

static void take_string(json_t *obj, const char *key, const char **s, size_t *n)
{
    json_t *v = json_object_get(obj, key);
    if (json_is_string(v)) {
        *s = json_string_value(v);
        *n = json_string_length(v);
    }
}

static ipw_err malformed(const char *what, const char *line, size_t len, ipw_errbuf *eb)
{
    return ipw_stream_malformed("NDJSON line", what, line, len, eb);
}

ipw_err ipw_ndjson_parse_line(const char *line, size_t len, struct ipw_stream_chunk *out,
                              ipw_errbuf *eb)
{
    ipw_stream_chunk_init(out);
    if (blank(line, len))
        return IPW_OK;
    json_error_t je;
    json_t *root = json_loadb(line, len, JSON_ALLOW_NUL, &je);
    if (!root) {
        char what[200], text[120];
        /* jansson quotes the bytes near the error, which may be anything */
        ipw_stream_clean(text, sizeof text, je.text, strlen(je.text));
        snprintf(what, sizeof what, "%s at column %d", text, je.column);
        return malformed(what, line, len, eb);
    }
    if (!json_is_object(root)) {
        json_decref(root);
        return malformed("not a JSON object", line, len, eb);
    }
    out->root = root;
    json_t *err = json_object_get(root, "error");
    if (err && !json_is_null(err)) {
        out->kind = IPW_CHUNK_ERROR;
        ipw_stream_error_text(line, len, out->error, sizeof out->error);
        return IPW_OK;
    }
    out->kind = IPW_CHUNK_DATA;
    json_t *msg = json_object_get(root, "message");
    if (json_is_object(msg)) {
        take_string(msg, "content", &out->content, &out->content_len);
        take_string(msg, "thinking", &out->reasoning, &out->reasoning_len);
        json_t *tc = json_object_get(msg, "tool_calls");
        if (json_is_array(tc) && json_array_size(tc))
            out->tool_calls = tc;
    } else {
        take_string(root, "response", &out->content, &out->content_len);
        take_string(root, "thinking", &out->reasoning, &out->reasoning_len);
    }
    out->done = json_is_true(json_object_get(root, "done"));
    if (out->done) {
        out->finish_reason = json_string_value(json_object_get(root, "done_reason"));
        json_t *stats = json_object();
        for (size_t i = 0; stats && i < sizeof ollama_stats / sizeof ollama_stats[0]; i++) {
            long long v;
            if (get_count(root, ollama_stats[i], &v))
                json_object_set_new(stats, ollama_stats[i], json_integer((json_int_t)v));
        }
        out->stats = stats;
        long long v;
        if (get_count(root, "prompt_eval_count", &v) && v <= 0x7fffffffLL)
            out->prompt_tokens = (long)v;
        if (get_count(root, "eval_count", &v) && v <= 0x7fffffffLL)
            out->completion_tokens = (long)v;
    }
    return IPW_OK;
}
