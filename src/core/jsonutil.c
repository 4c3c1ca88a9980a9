/* jansson conveniences: null for missing numbers, bounded atomic file I/O with clear errors. */
#include "ipw/jsonutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ipw/fsutil.h"

json_t *ipw_json_real_or_null(double v, bool valid)
{
    return valid && isfinite(v) ? json_real(v) : json_null();
}

ipw_err ipw_json_load_file(const char *path, size_t max_bytes, json_t **out, ipw_errbuf *eb)
{
    char *text;
    size_t len;
    *out = NULL;
    ipw_err e = ipw_read_file(path, max_bytes, &text, &len, eb);
    if (e != IPW_OK)
        return e;
    json_error_t je;
    json_t *j = json_loadb(text, len, JSON_ALLOW_NUL, &je);
    free(text);
    if (!j)
        return ipw_fail(eb, IPW_E_INVALID, "%s is not valid JSON (line %d, column %d: %s)", path,
                        je.line, je.column, je.text);
    *out = j;
    return IPW_OK;
}

ipw_err ipw_json_write_file(const char *path, const json_t *j, ipw_errbuf *eb)
{
    char *text = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(17));
    if (!text)
        return ipw_fail(eb, IPW_E_NOMEM, "cannot serialize JSON for %s", path);
    size_t len = strlen(text);
    /* end with a newline like any text file */
    char *withnl = realloc(text, len + 2);
    if (!withnl) {
        free(text);
        return ipw_fail(eb, IPW_E_NOMEM, "out of memory writing %s", path);
    }
    withnl[len] = '\n';
    withnl[len + 1] = '\0';
    ipw_err e = ipw_write_file_atomic(path, withnl, len + 1, eb);
    free(withnl);
    return e;
}

bool ipw_json_get_number(const json_t *obj, const char *key, double *out)
{
    json_t *v = json_object_get(obj, key);
    if (!json_is_number(v))
        return false;
    *out = json_number_value(v);
    return true;
}

const char *ipw_json_get_string(const json_t *obj, const char *key)
{
    return json_string_value(json_object_get(obj, key));
}

/* Length of the valid UTF-8 sequence at p (1-4), or 0 when it is invalid (overlongs,
 * surrogates and code points above U+10FFFF included). */
static size_t utf8_seq(const unsigned char *p, size_t left)
{
    unsigned c = p[0];
    if (c < 0x80)
        return c ? 1 : 0; /* NUL is not allowed inside jansson strings */
    size_t n;
    unsigned cp;
    if (c >= 0xC2 && c <= 0xDF) {
        n = 2;
        cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if (left < n)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (p[i] & 0x3F);
    }
    if ((n == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
        (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
        return 0;
    return n;
}

json_t *ipw_json_stringn_lossy(const char *s, size_t len)
{
    if (!s)
        return json_string("");
    json_t *j = json_stringn(s, len);
    if (j)
        return j;
    /* at most 3 output bytes per input byte (U+FFFD is 3 bytes) */
    char *buf = malloc(len * 3 + 1);
    if (!buf)
        return json_string("");
    const unsigned char *p = (const unsigned char *)s;
    size_t o = 0;
    for (size_t i = 0; i < len;) {
        size_t n = utf8_seq(p + i, len - i);
        if (n) {
            memcpy(buf + o, p + i, n);
            o += n;
            i += n;
        } else {
            memcpy(buf + o, "\xEF\xBF\xBD", 3);
            o += 3;
            i++;
        }
    }
    j = json_stringn(buf, o);
    free(buf);
    return j ? j : json_string("");
}

json_t *ipw_json_string_lossy(const char *s) { return ipw_json_stringn_lossy(s, s ? strlen(s) : 0); }
