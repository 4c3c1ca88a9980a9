/* A list stored in one text cell, as CSV exports of list columns write it: JSON
 * (["0","2","3"]), Python repr (['0', '2', "it's"]) or numpy repr (['0' '2' '3'], items
 * separated by blanks only). Python string escapes are decoded to UTF-8. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "datasets/rows_impl.h"
#include "ipw/jsonutil.h"

static ipw_err from_json(json_t *arr, json_t **out, ipw_errbuf *eb)
{
    json_t *res = json_array();
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v)
    {
        json_t *s = NULL;
        if (json_is_string(v)) {
            s = json_incref(v);
        } else if (json_is_number(v)) {
            char *t = ipw_json_dumps(v, JSON_ENCODE_ANY);
            s = t ? json_string(t) : NULL;
            free(t);
        } else {
            json_decref(res);
            return ipw_fail(eb, IPW_E_INVALID, "list item %zu is not a string", i + 1);
        }
        if (!s || json_array_append_new(res, s) != 0) {
            json_decref(res);
            return ipw_fail(eb, IPW_E_NOMEM, "out of memory");
        }
    }
    *out = res;
    return IPW_OK;
}

struct pyp {
    const char *p, *end;
    struct ipw_buf b;
};

static void skip_ws(struct pyp *s)
{
    while (s->p < s->end && isspace((unsigned char)*s->p))
        s->p++;
}

static int hexval(int ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

static int put_utf8(struct ipw_buf *b, unsigned long cp)
{
    char u[4];
    int n;
    if (cp < 0x80) {
        u[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        u[0] = (char)(0xC0 | (cp >> 6));
        u[1] = (char)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        u[0] = (char)(0xE0 | (cp >> 12));
        u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        u[2] = (char)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        u[0] = (char)(0xF0 | (cp >> 18));
        u[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        u[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        u[3] = (char)(0x80 | (cp & 0x3F));
        n = 4;
    }
    return ipw_buf_add(b, u, (size_t)n) != IPW_OK;
}

/* One quoted Python string at s->p (optional u prefix) into s->b; NULL or a reason. */
static const char *py_string(struct pyp *s)
{
    if (s->p < s->end && (*s->p == 'u' || *s->p == 'U'))
        s->p++;
    if (s->p >= s->end || (*s->p != '\'' && *s->p != '"'))
        return "expected a quoted string";
    char q = *s->p++;
    while (s->p < s->end && *s->p != q) {
        char ch = *s->p++;
        if (ch == '\0')
            return "NUL byte in a string";
        if (ch != '\\') {
            if (ipw_buf_add(&s->b, &ch, 1) != IPW_OK)
                return "string too long";
            continue;
        }
        if (s->p >= s->end)
            break;
        char e = *s->p++;
        unsigned long cp = 0;
        int digits = 0;
        switch (e) {
        case 'n': cp = '\n'; break;
        case 't': cp = '\t'; break;
        case 'r': cp = '\r'; break;
        case 'a': cp = 7; break;
        case 'b': cp = 8; break;
        case 'f': cp = 12; break;
        case 'v': cp = 11; break;
        case '\\':
        case '\'':
        case '"': cp = (unsigned char)e; break;
        case '\n': continue; /* line continuation */
        case 'x': digits = 2; break;
        case 'u': digits = 4; break;
        case 'U': digits = 8; break;
        default:
            if (e >= '0' && e <= '7') { /* octal, up to three digits */
                cp = (unsigned long)(e - '0');
                for (int k = 0; k < 2 && s->p < s->end && *s->p >= '0' && *s->p <= '7'; k++)
                    cp = cp * 8 + (unsigned long)(*s->p++ - '0');
                break;
            }
            /* Python keeps unknown escapes as written */
            if (ipw_buf_add(&s->b, "\\", 1) != IPW_OK || ipw_buf_add(&s->b, &e, 1) != IPW_OK)
                return "string too long";
            continue;
        }
        for (int k = 0; k < digits; k++) {
            int h = s->p < s->end ? hexval((unsigned char)*s->p) : -1;
            if (h < 0)
                return "bad \\x, \\u or \\U escape";
            cp = cp * 16 + (unsigned long)h;
            s->p++;
        }
        if (cp == 0)
            return "NUL character in a string";
        if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return "escape is not a Unicode scalar value";
        if (put_utf8(&s->b, cp) != 0)
            return "string too long";
    }
    if (s->p >= s->end)
        return "unterminated string";
    s->p++;
    return NULL;
}

static const char *py_number(struct pyp *s)
{
    const char *start = s->p;
    while (s->p < s->end && (isdigit((unsigned char)*s->p) || strchr("+-.eE_", *s->p)))
        s->p++;
    if (s->p == start)
        return "expected a quoted string";
    return ipw_buf_add(&s->b, start, (size_t)(s->p - start)) != IPW_OK ? "number too long" : NULL;
}

static ipw_err from_python(const char *text, size_t len, json_t **out, ipw_errbuf *eb)
{
    struct pyp s = {text, text + len, {.max = len + 16}};
    json_t *res = json_array();
    const char *why = NULL;
    skip_ws(&s);
    if (s.p >= s.end || *s.p != '[') {
        why = "not a list (no '[')";
        goto fail;
    }
    s.p++;
    skip_ws(&s);
    bool need_sep = false;
    while (s.p < s.end && *s.p != ']') {
        if (need_sep) {
            if (*s.p == ',') {
                s.p++;
                skip_ws(&s);
                if (s.p < s.end && *s.p == ']')
                    break; /* trailing comma */
            } else if (!isspace((unsigned char)s.p[-1])) {
                why = "items must be separated by ',' or blanks";
                goto fail;
            }
        }
        if (s.p >= s.end)
            break; /* reported below as an unclosed list */
        ipw_buf_reset(&s.b);
        why = (*s.p == '\'' || *s.p == '"' || *s.p == 'u' || *s.p == 'U') ? py_string(&s)
                                                                           : py_number(&s);
        if (why)
            goto fail;
        json_t *v = json_stringn(ipw_buf_str(&s.b), s.b.len);
        if (!v) {
            why = "a string is not valid UTF-8";
            goto fail;
        }
        json_array_append_new(res, v);
        need_sep = true;
        skip_ws(&s);
    }
    if (s.p >= s.end) {
        why = "the list is not closed (missing ']')";
        goto fail;
    }
    s.p++;
    skip_ws(&s);
    if (s.p != s.end) {
        why = "text after the closing ']'";
        goto fail;
    }
    ipw_buf_free(&s.b);
    *out = res;
    return IPW_OK;
fail:
    ipw_buf_free(&s.b);
    json_decref(res);
    return ipw_fail(eb, IPW_E_INVALID, "%s", why);
}

ipw_err ipw_rows_parse_list(const char *text, size_t len, json_t **out, ipw_errbuf *eb)
{
    *out = NULL;
    json_error_t je;
    json_t *j = json_loadb(text, len, 0, &je);
    if (j && json_is_array(j)) {
        ipw_err e = from_json(j, out, eb);
        json_decref(j);
        return e;
    }
    json_decref(j);
    return from_python(text, len, out, eb);
}
