/* Bounded line splitter for streamed HTTP bodies: bytes arrive in arbitrary chunks; complete
 * lines (LF, CRLF or lone CR terminated) come out, joined across chunk boundaries. */
#include <stdlib.h>
#include <string.h>

#include "ipw/chatstream.h"

void ipw_linesplit_init(struct ipw_linesplit *ls, size_t max_line)
{
    memset(ls, 0, sizeof *ls);
    ls->max = max_line ? max_line : IPW_STREAM_MAX_LINE;
}

void ipw_linesplit_free(struct ipw_linesplit *ls)
{
    free(ls->buf);
    ls->buf = NULL;
    ls->len = ls->cap = 0;
}

static ipw_err too_long(const struct ipw_linesplit *ls, ipw_errbuf *eb)
{
    return ipw_fail(eb, IPW_E_RANGE,
                    "line %lu of the response is longer than the %zu-byte line limit; the server "
                    "is not sending a line-based stream, or a single chunk is unreasonably large",
                    ls->lines + 1, ls->max);
}

static ipw_err carry(struct ipw_linesplit *ls, const char *p, size_t n, ipw_errbuf *eb)
{
    if (n > ls->max - ls->len)
        return too_long(ls, eb);
    if (ls->len + n > ls->cap) {
        size_t cap = ls->cap ? ls->cap : 256;
        while (cap < ls->len + n)
            cap *= 2;
        if (cap > ls->max)
            cap = ls->max;
        char *nb = realloc(ls->buf, cap);
        if (!nb)
            return ipw_fail(eb, IPW_E_NOMEM, "out of memory buffering a %zu-byte line",
                            ls->len + n);
        ls->buf = nb;
        ls->cap = cap;
    }
    memcpy(ls->buf + ls->len, p, n);
    ls->len += n;
    return IPW_OK;
}

ipw_err ipw_linesplit_feed(struct ipw_linesplit *ls, const char *data, size_t n, ipw_line_fn fn,
                           void *ud, ipw_errbuf *eb)
{
    size_t i = 0;
    if (n == 0)
        return IPW_OK;
    if (ls->last_cr && data[0] == '\n')
        i = 1;
    ls->last_cr = false;
    while (i < n) {
        const char *start = data + i, *end = data + n;
        const char *lf = memchr(start, '\n', (size_t)(end - start));
        const char *cr = memchr(start, '\r', (size_t)((lf ? lf : end) - start));
        const char *term = cr ? cr : lf;
        if (!term)
            return carry(ls, start, (size_t)(end - start), eb);
        size_t seg = (size_t)(term - start);
        ipw_err e;
        if (ls->len == 0) {
            /* the common case: the whole line is inside this chunk, no copy */
            if (seg > ls->max)
                return too_long(ls, eb);
            e = fn(ud, start, seg, eb);
        } else {
            e = carry(ls, start, seg, eb);
            if (e != IPW_OK)
                return e;
            e = fn(ud, ls->buf, ls->len, eb);
            ls->len = 0;
        }
        ls->lines++;
        if (e != IPW_OK)
            return e;
        i += seg + 1;
        if (*term == '\r') {
            if (i < n && data[i] == '\n')
                i++;
            else if (i == n)
                ls->last_cr = true;
        }
    }
    return IPW_OK;
}

ipw_err ipw_linesplit_finish(struct ipw_linesplit *ls, ipw_line_fn fn, void *ud, ipw_errbuf *eb)
{
    ls->last_cr = false;
    if (ls->len == 0)
        return IPW_OK;
    size_t len = ls->len;
    ls->len = 0;
    ls->lines++;
    return fn(ud, ls->buf, len, eb);
}
