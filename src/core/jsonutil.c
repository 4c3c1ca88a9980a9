/* jansson conveniences: null for missing numbers, bounded atomic file I/O with clear errors. */
#include "ipw/jsonutil.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ipw/decimal.h"
#include "ipw/fsutil.h"
#include "ipw/utf8.h"

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

/* The 17 significant digits and the decimal exponent of a %.17g number text:
 * |value| = d[0].d[1]...d[16] x 10^exp. False when the text is not of that shape. */
static bool split_digits(const char *s, size_t len, char d[17], int *exp, bool *neg)
{
    size_t i = 0, n = 0;
    int point = -1, lead = 0; /* digits before the point; zeros before the first significant */
    *neg = len && s[0] == '-';
    i = *neg;
    for (; i < len && s[i] != 'e' && s[i] != 'E'; i++) {
        if (s[i] == '.') {
            point = (int)(n + (size_t)lead);
            continue;
        }
        if (s[i] < '0' || s[i] > '9')
            return false;
        if (n == 0 && s[i] == '0') {
            lead++;
            continue;
        }
        if (n == 17)
            return false;
        d[n++] = s[i];
    }
    if (n != 17)
        return false;
    int e10 = 0;
    if (i < len) {
        char *end;
        long v = strtol(s + i + 1, &end, 10);
        if (end != s + len || v < -400 || v > 400)
            return false;
        e10 = (int)v;
    }
    int before = point < 0 ? (int)n + lead : point; /* digits written before the point */
    *exp = before - lead - 1 + e10;
    return true;
}

/* d[0..p) rounded from the 17 digits, formatted as printf's %.{p}g would print the double
 * those 17 digits stand for. Returns the length, 0 when the rounding direction cannot be told
 * from the 17 digits alone (the dropped part is exactly half of a unit). */
static size_t round_to(const char d17[17], int exp, bool neg, int p, char *out, size_t size)
{
    /* the 17 digits are the double rounded once: what they drop is within half a unit of the
     * 17th digit, so only a dropped part of exactly 5, 50 leaves the direction open */
    int cmp = d17[p] - '5';
    for (int k = p + 1; cmp == 0 && k < 17; k++)
        cmp = d17[k] != '0';
    if (cmp == 0)
        return 0;
    char d[17];
    memcpy(d, d17, (size_t)p);
    if (cmp > 0) {
        int k = p - 1;
        while (k >= 0 && d[k] == '9')
            d[k--] = '0';
        if (k < 0) {
            d[0] = '1';
            exp++;
        } else {
            d[k]++;
        }
    }
    int nd = p;
    while (nd > 1 && d[nd - 1] == '0')
        nd--;
    char buf[48];
    size_t o = 0;
    if (neg)
        buf[o++] = '-';
    if (exp >= -4 && exp < p) {
        if (exp < 0) {
            buf[o++] = '0';
            buf[o++] = '.';
            for (int k = 0; k < -exp - 1; k++)
                buf[o++] = '0';
            memcpy(buf + o, d, (size_t)nd);
            o += (size_t)nd;
        } else {
            for (int k = 0; k <= exp; k++)
                buf[o++] = k < nd ? d[k] : '0';
            if (nd > exp + 1) {
                buf[o++] = '.';
                memcpy(buf + o, d + exp + 1, (size_t)(nd - exp - 1));
                o += (size_t)(nd - exp - 1);
            }
        }
    } else {
        buf[o++] = d[0];
        if (nd > 1) {
            buf[o++] = '.';
            memcpy(buf + o, d + 1, (size_t)(nd - 1));
            o += (size_t)(nd - 1);
        }
        int n = snprintf(buf + o, sizeof buf - o, "e%c%02d", exp < 0 ? '-' : '+', abs(exp));
        o += (size_t)n;
    }
    if (o >= size)
        return 0;
    memcpy(out, buf, o);
    out[o] = '\0';
    return o;
}

/* The shortest %.Ng (N = 15..17) of the number text at s[0..len) that parses back to the same
 * double; jansson's ".0" on integral reals is kept so the value stays a real. 0: keep the text
 * (already the 17-digit form). The digits are rounded as text, not through printf, whose
 * big-number conversion was a quarter of `ipw analyze`'s time; printf is the fallback only for
 * a dropped part of exactly half a unit. */
static size_t shortest_real(const char *s, size_t len, char *out, size_t size)
{
    char buf[64];
    if (len >= sizeof buf)
        return 0;
    memcpy(buf, s, len);
    buf[len] = '\0';
    double v = strtod(buf, NULL);
    char d17[17];
    int exp;
    bool neg, split = split_digits(s, len, d17, &exp, &neg);
    for (int p = 15; p <= 16; p++) {
        size_t n = split ? round_to(d17, exp, neg, p, out, size) : 0;
        if (n == 0) {
            int w = snprintf(out, size, "%.*g", p, v);
            if (w <= 0 || (size_t)w >= size)
                return 0;
            n = (size_t)w;
        }
        if (strtod(out, NULL) == v) {
            if (!strpbrk(out, ".eE") && n + 2 < size) {
                memcpy(out + n, ".0", 3);
                n += 2;
            }
            return n;
        }
    }
    return 0;
}

/* A number token of jansson's %.17g output, rewritten to its shortest exact form into out
 * (room for 40). Returns the new length, 0 to keep the token as it is. */
static size_t shorter_token(const char *tok, size_t len, char *out)
{
    bool real = false;
    for (size_t k = 0; k < len; k++)
        real |= tok[k] == '.' || tok[k] == 'e' || tok[k] == 'E';
    /* %.17g printed fewer than 17 significant digits only when the value is exact in them:
     * already the shortest form, nothing to try */
    int sig = 0;
    bool lead = true;
    for (size_t k = 0; k < len && tok[k] != 'e' && tok[k] != 'E'; k++) {
        if (tok[k] < '0' || tok[k] > '9')
            continue;
        if (lead && tok[k] == '0')
            continue;
        lead = false;
        sig++;
    }
    size_t n = real && sig >= 17 ? shortest_real(tok, len, out, 40) : 0;
    return n && n <= len ? n : 0;
}

char *ipw_json_dumps(const json_t *j, size_t flags)
{
    flags &= ~(size_t)JSON_REAL_PRECISION(31);
    char *text = json_dumps(j, flags | JSON_REAL_PRECISION(17));
    if (!text)
        return NULL;
    /* rewrite each real number token outside strings, in place (it can only get shorter) */
    size_t o = 0;
    bool in_str = false;
    for (size_t i = 0; text[i];) {
        char c = text[i];
        if (in_str) {
            text[o++] = c;
            i++;
            if (c == '\\' && text[i])
                text[o++] = text[i++];
            else if (c == '"')
                in_str = false;
            continue;
        }
        if (c == '"') {
            in_str = true;
            text[o++] = text[i++];
            continue;
        }
        if (c == '-' || (c >= '0' && c <= '9')) {
            size_t start = i;
            while (text[i] && strchr("+-0123456789.eE", text[i]))
                i++;
            char best[40];
            size_t n = shorter_token(text + start, i - start, best);
            if (n) {
                memcpy(text + o, best, n);
                o += n;
            } else {
                memmove(text + o, text + start, i - start);
                o += i - start;
            }
            continue;
        }
        text[o++] = text[i++];
    }
    text[o] = '\0';
    return text;
}

/* digits (p of them, the first nonzero) in %g's fixed notation for exponent x, -4 <= x < p,
 * trailing zeros dropped, ".0" added when no point is left: what the slow path below prints for
 * such a value. Returns the length. */
static size_t fixed_text(bool neg, uint64_t digits, int p, int x, char *out)
{
    char d[24];
    int nd = p;
    for (int k = p - 1; k >= 0; k--, digits /= 10)
        d[k] = (char)('0' + digits % 10);
    while (nd > 1 && d[nd - 1] == '0')
        nd--;
    size_t o = 0;
    if (neg)
        out[o++] = '-';
    if (x < 0) {
        out[o++] = '0';
        out[o++] = '.';
        for (int k = 0; k < -x - 1; k++)
            out[o++] = '0';
        memcpy(out + o, d, (size_t)nd);
        o += (size_t)nd;
    } else {
        for (int k = 0; k <= x; k++)
            out[o++] = k < nd ? d[k] : '0';
        out[o++] = '.';
        if (nd > x + 1) {
            memcpy(out + o, d + x + 1, (size_t)(nd - x - 1));
            o += (size_t)(nd - x - 1);
        } else {
            out[o++] = '0';
        }
    }
    out[o] = '\0';
    return o;
}

/* The common case of ipw_json_real_text without printf or strtod: |v| in [1e-4, 1e15), where
 * every candidate prints in fixed notation. The digits at 17, 15 and 16 places and whether
 * they read back come exact from core/decimal.c. 0: not done here (out of range, or an exact
 * half that printf rounds by its own rule). */
static size_t fast_real_text(double v, char *out)
{
    bool neg = v < 0;
    double a = neg ? -v : v;
    if (!(a >= 1e-4 && a < 1e15))
        return 0;
    uint64_t d17;
    int x17;
    bool rt;
    if (!ipw_double_digits(a, 17, &d17, &x17, &rt) || x17 < -4 || x17 >= 17)
        return 0;
    size_t len17 = fixed_text(neg, d17, 17, x17, out);
    if (d17 % 10 == 0)
        return len17; /* %.17g needed fewer than 17 digits: already the shortest */
    for (int p = 15; p <= 16; p++) {
        uint64_t d;
        int x;
        if (!ipw_double_digits(a, p, &d, &x, &rt) || x < -4 || x >= p)
            return 0;
        if (!rt)
            continue;
        char t[IPW_JSON_REAL_MAX];
        size_t n = fixed_text(neg, d, p, x, t);
        if (n <= len17)
            memcpy(out, t, n + 1);
        return n <= len17 ? n : len17;
    }
    return len17;
}

size_t ipw_json_real_text(double v, char out[IPW_JSON_REAL_MAX])
{
    size_t fast = fast_real_text(v, out);
    if (fast)
        return fast;
    /* jansson's own text at precision 17 (its dtostr): "%.17g", ".0" when the value would read
     * back as an integer, and the exponent without '+' or leading zeros */
    char t[IPW_JSON_REAL_MAX];
    int w = snprintf(t, sizeof t, "%.17g", v);
    if (w <= 0 || (size_t)w + 3 > sizeof t)
        return 0;
    size_t len = (size_t)w;
    if (!strchr(t, '.') && !strchr(t, 'e')) {
        memcpy(t + len, ".0", 3);
        len += 2;
    }
    char *e = strchr(t, 'e');
    if (e) {
        char *start = e + 1, *end = start + 1;
        if (*start == '-')
            start++;
        while (*end == '0')
            end++;
        if (end != start) {
            memmove(start, end, len - (size_t)(end - t) + 1);
            len -= (size_t)(end - start);
        }
    }
    char best[40];
    size_t n = shorter_token(t, len, best);
    if (n) {
        memcpy(out, best, n);
        out[n] = '\0';
        return n;
    }
    memcpy(out, t, len + 1);
    return len;
}

bool ipw_json_put_string(struct ipw_buf *b, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t len = strlen(s);
    for (size_t i = 0; i < len;) {
        size_t n = ipw_utf8_seq(p + i, len - i);
        if (!n)
            return false; /* json_string() refuses it too */
        i += n;
    }
    ipw_buf_put(b, "\"", 1);
    size_t run = 0; /* bytes written as they are, pending */
    for (size_t i = 0; i < len; i++) {
        unsigned char c = p[i];
        if (c >= 0x20 && c != '"' && c != '\\') {
            run++;
            continue;
        }
        ipw_buf_put(b, s + i - run, run);
        run = 0;
        switch (c) {
        case '"': ipw_buf_put(b, "\\\"", 2); break;
        case '\\': ipw_buf_put(b, "\\\\", 2); break;
        case '\b': ipw_buf_put(b, "\\b", 2); break;
        case '\f': ipw_buf_put(b, "\\f", 2); break;
        case '\n': ipw_buf_put(b, "\\n", 2); break;
        case '\r': ipw_buf_put(b, "\\r", 2); break;
        case '\t': ipw_buf_put(b, "\\t", 2); break;
        default: ipw_buf_putf(b, "\\u%04X", c); /* as jansson: upper-case hex */
        }
    }
    ipw_buf_put(b, s + len - run, run);
    ipw_buf_put(b, "\"", 1);
    return true;
}

ipw_err ipw_json_write_file(const char *path, const json_t *j, ipw_errbuf *eb)
{
    char *text = ipw_json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
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
        size_t n = p[i] ? ipw_utf8_seq(p + i, len - i) : 0; /* no NUL inside jansson strings */
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

void ipw_json_append_fmt(json_t *arr, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    json_array_append_new(arr, ipw_json_string_lossy(buf));
}
