/* A JSON array of objects, streamed: a small scanner finds where each top-level element ends
 * (tracking strings and nesting), so every element is parsed on its own, reported with the
 * line it starts on, and a broken element is skipped without losing the others. */
#include <string.h>

#include "datasets/rows_impl.h"

static bool ws(int ch) { return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n'; }

/* The next byte that is not a blank, left unread: -1 at the end, -2 on a read error. */
static int peek_nonws(struct rows_ctx *c)
{
    for (;;) {
        int f = rows_src_fill(&c->src);
        if (f <= 0)
            return f == 0 ? -1 : -2;
        while (c->src.p < c->src.end) {
            int ch = *c->src.p;
            if (!ws(ch))
                return ch;
            if (ch == '\n')
                c->line++;
            c->src.p++;
        }
    }
}

struct scan {
    bool in_str, esc, over;
    int depth;
    int term; /* ',' or ']' that ended the element */
};

/* Copies one element into c->rb (runs of bytes at a time), up to the ',' or ']' that ends it
 * at the top level, which is consumed. 1 done, 0 end of file first, -1 read error, -2 ENOMEM. */
static int scan_element(struct rows_ctx *c, struct scan *s)
{
    for (;;) {
        int f = rows_src_fill(&c->src);
        if (f <= 0)
            return f == 0 ? 0 : -1;
        const unsigned char *p = c->src.p, *end = c->src.end, *from = p;
        bool done = false;
        for (; p < end; p++) {
            unsigned char ch = *p;
            if (ch == '\n')
                c->line++;
            if (s->in_str) {
                if (s->esc)
                    s->esc = false;
                else if (ch == '\\')
                    s->esc = true;
                else if (ch == '"')
                    s->in_str = false;
            } else if (s->depth == 0 && (ch == ',' || ch == ']')) {
                done = true;
                break;
            } else if (ch == '"') {
                s->in_str = true;
            } else if (ch == '{' || ch == '[') {
                s->depth++;
            } else if ((ch == '}' || ch == ']') && s->depth > 0) {
                s->depth--; /* a stray '}' at the top stays inside this (malformed) element */
            }
        }
        if (!s->over) {
            ipw_err r = ipw_buf_add(&c->rb, from, (size_t)(p - from));
            if (r == IPW_E_NOMEM)
                return -2;
            s->over = r == IPW_E_RANGE;
        }
        c->src.p = p;
        if (done) {
            s->term = *c->src.p++;
            return 1;
        }
    }
}

static ipw_err element(struct rows_ctx *c, size_t line, bool over, ipw_errbuf *eb)
{
    if (over)
        return rows_bad(c, line, eb, "array element longer than %zu bytes (the row limit)",
                        c->max_row);
    size_t n = c->rb.len;
    while (n && ws((unsigned char)c->rb.p[n - 1]))
        n--;
    json_error_t je;
    json_t *j = json_loadb(c->rb.p, n, JSON_REJECT_DUPLICATES, &je);
    if (!j) {
        char ex[64];
        rows_excerpt(c->rb.p, n, ex, sizeof ex);
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
    int ch = peek_nonws(c);
    if (ch == -2)
        return rows_src_error(c, eb);
    if (ch == -1)
        return IPW_OK; /* an empty file has no rows */
    if (ch != '[')
        return rows_fatal(c, IPW_E_INVALID, c->line, eb,
                          "expected a JSON array of objects ('[' first); for one object per "
                          "line use a .jsonl file");
    c->src.p++;
    for (bool first = true;; first = false) {
        ch = peek_nonws(c);
        if (ch == -2)
            return rows_src_error(c, eb);
        if (ch == -1)
            return rows_fatal(c, IPW_E_INVALID, c->line, eb,
                              "the JSON array is not closed (missing ']')");
        if (ch == ']' && first) {
            c->src.p++;
            break;
        }
        size_t start = c->line;
        struct scan s = {0};
        ipw_buf_reset(&c->rb);
        int r = scan_element(c, &s);
        if (r == -1)
            return rows_src_error(c, eb);
        if (r == -2)
            return rows_fatal(c, IPW_E_NOMEM, start, eb, "out of memory");
        if (r == 0)
            return rows_fatal(c, IPW_E_INVALID, start, eb,
                              "the array element starting here is not closed before the end "
                              "of the file");
        ipw_err e;
        if (c->rb.len == 0 && !s.over) {
            /* "[{..},]" is tolerated; "[,{..}]" or "{..},,{..}" is a missing element */
            if (s.term == ']')
                break;
            e = rows_bad(c, start, eb, "empty array element");
        } else {
            e = element(c, start, s.over, eb);
        }
        if (e != IPW_OK)
            return e;
        if (s.term == ']')
            break;
    }
    ch = peek_nonws(c);
    if (ch == -2)
        return rows_src_error(c, eb);
    if (ch != -1)
        return rows_fatal(c, IPW_E_INVALID, c->line, eb, "unexpected text after the JSON array");
    return IPW_OK;
}
