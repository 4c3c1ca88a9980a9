/* A JSON array of objects, streamed: a small scanner finds where each top-level element ends
 * (tracking strings and nesting), so every element is parsed on its own, reported with the
 * line it starts on, and a broken element is skipped without losing the others. */
#include <string.h>

#include "datasets/rows_impl.h"

static bool ws(int ch) { return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n'; }

/* Next byte or -1 at the end (-2 on a read error); counts lines. */
static int next(struct rows_ctx *c)
{
    int f = rows_src_fill(&c->src);
    if (f <= 0)
        return f == 0 ? -1 : -2;
    int ch = *c->src.p++;
    if (ch == '\n')
        c->line++;
    return ch;
}

static int skip_ws(struct rows_ctx *c)
{
    int ch;
    do
        ch = next(c);
    while (ch >= 0 && ws(ch));
    return ch;
}

static ipw_err element(struct rows_ctx *c, size_t line, bool over, ipw_errbuf *eb)
{
    if (over)
        return rows_bad(c, line, eb, "array element longer than %zu bytes (the row limit)",
                        c->max_row);
    size_t n = c->rb.n;
    while (n && ws((unsigned char)c->rb.d[n - 1]))
        n--;
    json_error_t je;
    json_t *j = json_loadb(c->rb.d, n, JSON_REJECT_DUPLICATES, &je);
    if (!j) {
        char ex[64];
        rows_excerpt(c->rb.d, n, ex, sizeof ex);
        return rows_bad(c, line, eb, "invalid JSON in array element: %s (element starts '%s')",
                        je.text, ex);
    }
    if (!json_is_object(j)) {
        json_decref(j);
        return rows_bad(c, line, eb, "array element is not a JSON object");
    }
    return rows_emit(c, j, line, eb);
}

ipw_err rows_read_json(struct rows_ctx *c, ipw_errbuf *eb)
{
    rows_skip_bom(c);
    int ch = skip_ws(c);
    if (ch == -2)
        return rows_src_error(c, eb);
    if (ch == -1)
        return IPW_OK; /* an empty file has no rows */
    if (ch != '[')
        return rows_fatal(c, IPW_E_INVALID, c->line, eb,
                          "expected a JSON array of objects ('[' first); for one object per "
                          "line use a .jsonl file");
    bool first = true;
    for (;;) {
        ch = skip_ws(c);
        if (ch == -2)
            return rows_src_error(c, eb);
        if (ch == -1)
            return rows_fatal(c, IPW_E_INVALID, c->line, eb,
                              "the JSON array is not closed (missing ']')");
        if (ch == ']' && first)
            break;
        size_t start = c->line;
        c->rb.n = 0;
        bool over = false, in_str = false, esc = false;
        int depth = 0;
        for (;;) {
            if (!in_str && depth == 0 && (ch == ',' || ch == ']'))
                break;
            if (in_str) {
                if (esc)
                    esc = false;
                else if (ch == '\\')
                    esc = true;
                else if (ch == '"')
                    in_str = false;
            } else if (ch == '"') {
                in_str = true;
            } else if (ch == '{' || ch == '[') {
                depth++;
            } else if ((ch == '}' || ch == ']') && depth > 0) {
                depth--; /* a stray '}' at the top stays inside this (malformed) element */
            }
            if (!over) {
                int r = rbuf_addc(&c->rb, (char)ch);
                if (r < 0)
                    return rows_fatal(c, IPW_E_NOMEM, start, eb, "out of memory");
                over = r > 0;
            }
            ch = next(c);
            if (ch == -2)
                return rows_src_error(c, eb);
            if (ch == -1)
                return rows_fatal(c, IPW_E_INVALID, start, eb,
                                  "the array element starting here is not closed before the end "
                                  "of the file");
        }
        first = false;
        if (c->rb.n == 0 && !over) {
            /* "[{..},]" is tolerated; "[,{..}]" or "{..},,{..}" is a missing element */
            if (ch == ']')
                break;
            ipw_err e = rows_bad(c, start, eb, "empty array element");
            if (e != IPW_OK)
                return e;
            continue;
        }
        ipw_err e = element(c, start, over, eb);
        if (e != IPW_OK)
            return e;
        if (ch == ']')
            break;
    }
    ch = skip_ws(c);
    if (ch == -2)
        return rows_src_error(c, eb);
    if (ch != -1)
        return rows_fatal(c, IPW_E_INVALID, c->line, eb, "unexpected text after the JSON array");
    return IPW_OK;
}
