/* Bounded line splitter for streamed HTTP bodies: bytes arrive in arbitrary chunks; complete
 * lines (LF, CRLF or lone CR terminated) come out, joined across chunk boundaries. */
#include <stdlib.h>
#include <string.h>

#include "ipw/chatstream.h"

void ipw_linesplit_init(struct ipw_linesplit *ls, size_t max_line)
{
    memset(ls, 0, sizeof *ls);
    ipw_buf_init(&ls->line, max_line ? max_line : IPW_STREAM_MAX_LINE);
}

void ipw_linesplit_free(struct ipw_linesplit *ls)
{
    ipw_buf_free(&ls->line);
}

static ipw_err too_long(const struct ipw_linesplit *ls, ipw_errbuf *eb)
{
    return ipw_fail(eb, IPW_E_RANGE,
                    "line %lu of the response is longer than the %zu-byte line limit; the server "
                    "is not sending a line-based stream, or a single chunk is unreasonably large",
                    ls->lines + 1, ls->line.max);
}

static ipw_err carry(struct ipw_linesplit *ls, const char *p, size_t n, ipw_errbuf *eb)
{
    ipw_err e = ipw_buf_add(&ls->line, p, n);
    if (e == IPW_E_RANGE)
        return too_long(ls, eb);
    if (e != IPW_OK)
        return ipw_fail(eb, e, "out of memory buffering a %zu-byte line", ls->line.len + n);
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
        if (ls->line.len == 0) {
            /* the common case: the whole line is inside this chunk, no copy */
            if (seg > ls->line.max)
                return too_long(ls, eb);
            e = fn(ud, start, seg, eb);
        } else {
            e = carry(ls, start, seg, eb);
            if (e != IPW_OK)
                return e;
            e = fn(ud, ls->line.p, ls->line.len, eb);
            ipw_buf_reset(&ls->line);
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
    if (ls->line.len == 0)
        return IPW_OK;
    ls->lines++;
    ipw_err e = fn(ud, ls->line.p, ls->line.len, eb);
    ipw_buf_reset(&ls->line);
    return e;
}
