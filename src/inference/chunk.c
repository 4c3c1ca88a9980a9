/* Helpers shared by the stream parsers: chunk lifetime, one-line, valid-UTF-8 excerpts of
 * untrusted server text for error messages, and the one message for malformed input. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "ipw/chatstream.h"
#include "ipw/utf8.h"

void ipw_stream_chunk_init(struct ipw_stream_chunk *c)
{
    memset(c, 0, sizeof *c);
    c->prompt_tokens = c->completion_tokens = -1;
}

void ipw_stream_chunk_clear(struct ipw_stream_chunk *c)
{
    json_decref(c->stats);
    json_decref(c->root);
    ipw_stream_chunk_init(c);
}

/* Copies at most max input bytes of text into out as one line of valid UTF-8: control bytes
 * and invalid sequences become \xNN (or a space when `spaces`). Returns true when cut. */
static bool put_clean(char *out, size_t size, const char *text, size_t len, size_t max,
                      bool spaces)
{
    size_t o = 0, i = 0;
    const unsigned char *p = (const unsigned char *)text;
    bool cut = false;
    if (size == 0)
        return true;
    while (i < len) {
        size_t k = ipw_utf8_seq(p + i, len - i);
        if (i + (k ? k : 1) > max) {
            cut = true;
            break;
        }
        char tmp[8];
        size_t tn;
        if (k == 1 && p[i] >= 0x20 && p[i] != 0x7F) {
            tmp[0] = (char)p[i];
            tn = 1;
        } else if (k > 1) {
            memcpy(tmp, p + i, k);
            tn = k;
        } else if (spaces) {
            tmp[0] = ' ';
            tn = 1;
            k = 1;
        } else {
            snprintf(tmp, sizeof tmp, "\\x%02X", p[i]);
            tn = 4;
            k = 1;
        }
        if (o + tn + 1 > size) {
            cut = true;
            break;
        }
        memcpy(out + o, tmp, tn);
        o += tn;
        i += k;
    }
    out[o] = '\0';
    return cut;
}

void ipw_stream_excerpt(char *out, size_t size, const char *text, size_t len, size_t max)
{
    if (size < 8) {
        if (size)
            out[0] = '\0';
        return;
    }
    out[0] = '"';
    /* room for the closing quote, an ellipsis (3 bytes) and the NUL */
    bool cut = put_clean(out + 1, size - 5, text, len, max, false);
    size_t o = strlen(out);
    if (cut) {
        memcpy(out + o, "\xE2\x80\xA6", 3);
        o += 3;
    }
    out[o++] = '"';
    out[o] = '\0';
}

void ipw_stream_clean(char *out, size_t size, const char *text, size_t len)
{
    put_clean(out, size, text, len, len, false);
}

void ipw_stream_utf8_fix(char *msg)
{
    size_t len = strlen(msg), i = 0;
    const unsigned char *p = (const unsigned char *)msg;
    while (i < len) {
        size_t k = ipw_utf8_seq(p + i, len - i);
        if (k == 0) {
            bool tail = len - i < 4 && (p[i] & 0xC0) == 0xC0;
            for (size_t j = i + 1; tail && j < len; j++)
                tail = (p[j] & 0xC0) == 0x80;
            if (tail) { /* a sequence cut short at the end */
                msg[i] = '\0';
                return;
            }
            msg[i] = '?'; /* a stray byte in the middle */
            k = 1;
        }
        i += k;
    }
}

static const char *error_message(json_t *root)
{
    json_t *err = json_object_get(root, "error");
    if (json_is_string(err))
        return json_string_value(err);
    if (json_is_object(err)) {
        const char *m = json_string_value(json_object_get(err, "message"));
        if (m)
            return m;
    }
    const char *m = json_string_value(json_object_get(root, "message"));
    if (m)
        return m;
    json_t *detail = json_object_get(root, "detail");
    if (json_is_string(detail))
        return json_string_value(detail);
    if (json_is_array(detail)) /* FastAPI validation errors: [{"msg": ...}, ...] */
        return json_string_value(json_object_get(json_array_get(detail, 0), "msg"));
    return NULL;
}

void ipw_stream_error_text(const char *body, size_t len, char *out, size_t size)
{
    if (size == 0)
        return;
    out[0] = '\0';
    if (!body || len == 0) {
        snprintf(out, size, "(empty body)");
        return;
    }
    json_t *root = json_loadb(body, len, JSON_DECODE_ANY, NULL);
    const char *m = json_is_object(root) ? error_message(root) : NULL;
    if (m && *m) {
        if (put_clean(out, size > 4 ? size - 4 : size, m, strlen(m), size, true))
            strcat(out, "\xE2\x80\xA6");
    } else {
        if (put_clean(out, size > 4 ? size - 4 : size, body, len, 200, true))
            strcat(out, "\xE2\x80\xA6");
    }
    json_decref(root);
}

ipw_err ipw_stream_malformed(const char *what, const char *why, const char *bytes, size_t len,
                             ipw_errbuf *eb)
{
    char ex[240]; /* escaped bytes take 4 characters: the output bound matters too */
    ipw_stream_excerpt(ex, sizeof ex, bytes, len, 120);
    ipw_err e = ipw_fail(eb, IPW_E_PROTOCOL, "malformed %s from the server (%s): %s", what, why,
                         ex);
    if (eb)
        ipw_stream_utf8_fix(eb->msg); /* a cut at the buffer end may split a character */
    return e;
}
