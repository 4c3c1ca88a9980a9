/* JSON Lines: one object per line. Blank lines are skipped, CRLF is accepted, a line longer
 * than the row limit or one that is not a JSON object is a malformed row (reading resumes at
 * the next line, so one bad line never hides the rest). */
#include <string.h>

#include "datasets/rows_impl.h"

static bool blank(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
            return false;
    return true;
}

static const char *json_kind(const json_t *j)
{
    switch (json_typeof(j)) {
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER:
    case JSON_REAL: return "a number";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    case JSON_NULL: return "null";
    default: return "an object";
    }
}

/* Parses one complete line held in c->rb. */
static ipw_err one_line(struct rows_ctx *c, size_t line, ipw_errbuf *eb)
{
    size_t n = c->rb.len;
    if (n && c->rb.p[n - 1] == '\r')
        n--;
    if (blank(c->rb.p, n))
        return IPW_OK;
    json_error_t je;
    json_t *j = json_loadb(c->rb.p, n, JSON_REJECT_DUPLICATES, &je);
    if (!j) {
        char ex[64];
        rows_excerpt(c->rb.p, n, ex, sizeof ex);
        return rows_bad(c, line, eb, "invalid JSON at column %d: %s (line starts '%s')",
                        je.column, je.text, ex);
    }
    if (!json_is_object(j)) {
        const char *k = json_kind(j);
        json_decref(j);
        return rows_bad(c, line, eb, "expected a JSON object, found %s", k);
    }
    return rows_emit(c, j, line, eb);
}

ipw_err rows_read_jsonl(struct rows_ctx *c, ipw_errbuf *eb)
{
    rows_skip_bom(c);
    for (;;) {
        ipw_buf_reset(&c->rb);
        bool over = false, got_nl = false, any = false;
        for (;;) {
            int f = rows_src_fill(&c->src);
            if (f < 0)
                return rows_src_error(c, eb);
            if (f == 0)
                break;
            any = true;
            size_t avail = (size_t)(c->src.end - c->src.p);
            const unsigned char *nl = memchr(c->src.p, '\n', avail);
            size_t take = nl ? (size_t)(nl - c->src.p) : avail;
            if (!over) {
                ipw_err r = ipw_buf_add(&c->rb, c->src.p, take);
                if (r == IPW_E_NOMEM)
                    return rows_fatal(c, IPW_E_NOMEM, c->line, eb, "out of memory");
                if (r == IPW_E_RANGE)
                    over = true; /* keep scanning to the newline, storing nothing */
            }
            c->src.p += take;
            if (nl) {
                c->src.p++;
                got_nl = true;
                break;
            }
        }
        if (!any && !got_nl)
            return IPW_OK;
        size_t line = c->line++;
        ipw_err e = over ? rows_bad(c, line, eb, "line longer than %zu bytes (the row limit)",
                                    c->max_row)
                         : one_line(c, line, eb);
        if (e != IPW_OK)
            return e;
        if (!got_nl)
            return IPW_OK;
    }
}
