/* CSV (RFC 4180): a header row names the columns; quoted fields may hold commas, doubled
 * quotes and line breaks; LF, CRLF or CR end a record. Each record becomes an object of
 * strings keyed by the header. A record of the wrong width, or over the row limit, is a
 * malformed row and reading goes on; a quote left open at the end of the file is fatal. */
#include <stdlib.h>
#include <string.h>

#include "datasets/rows_impl.h"

#define CSV_MAX_FIELDS 65536

enum { F_START, F_UNQ, F_Q, F_QQ };

struct csv {
    struct field {
        size_t start, len; /* of one field of the current record, in c->rb */
    } *f;
    size_t nf, capf;
    size_t fstart;
    bool fquoted, over, after_quote_text, blank;
    size_t qline; /* line where the current quoted field opened */
    char **names; /* header */
    size_t ncols;
    bool have_header;
};

static void csv_free(struct csv *s)
{
    for (size_t i = 0; i < s->ncols; i++)
        free(s->names[i]);
    free(s->names);
    free(s->f);
}

static int add(struct rows_ctx *c, struct csv *s, char ch)
{
    if (s->over)
        return 0;
    ipw_err r = ipw_buf_add(&c->rb, &ch, 1);
    if (r == IPW_E_RANGE)
        s->over = true;
    return r == IPW_E_NOMEM ? -1 : 0;
}

static int end_field(struct rows_ctx *c, struct csv *s)
{
    size_t len = s->over ? 0 : c->rb.len - s->fstart;
    if (s->nf == 0)
        s->blank = len == 0 && !s->fquoted;
    if (s->nf >= CSV_MAX_FIELDS) {
        s->over = true;
    } else if (!s->over) {
        if (ipw_grow(&s->f, &s->capf, s->nf + 1, sizeof *s->f, CSV_MAX_FIELDS) != IPW_OK)
            return -1;
        s->f[s->nf] = (struct field){s->fstart, len};
    }
    s->nf++;
    s->fstart = c->rb.len;
    s->fquoted = false;
    return 0;
}

static bool has_nul(const char *p, size_t n) { return memchr(p, '\0', n) != NULL; }

static ipw_err header(struct rows_ctx *c, struct csv *s, size_t line, ipw_errbuf *eb)
{
    if (s->over)
        return rows_fatal(c, IPW_E_INVALID, line, eb,
                          "the CSV header row is longer than %zu bytes or has more than %d "
                          "columns",
                          c->max_row, CSV_MAX_FIELDS);
    s->names = calloc(s->nf, sizeof *s->names);
    if (!s->names)
        return rows_fatal(c, IPW_E_NOMEM, line, eb, "out of memory");
    s->ncols = s->nf;
    for (size_t i = 0; i < s->nf; i++) {
        const char *p = c->rb.p + s->f[i].start;
        size_t n = s->f[i].len;
        json_t *probe = json_stringn(p, n); /* validates UTF-8 */
        if (!probe || has_nul(p, n)) {
            json_decref(probe);
            return rows_fatal(c, IPW_E_INVALID, line, eb,
                              "CSV header column %zu is not valid UTF-8 text", i + 1);
        }
        json_decref(probe);
        s->names[i] = strndup(p, n);
        if (!s->names[i])
            return rows_fatal(c, IPW_E_NOMEM, line, eb, "out of memory");
        for (size_t k = 0; k < i; k++)
            if (!strcmp(s->names[k], s->names[i]))
                return rows_fatal(c, IPW_E_INVALID, line, eb,
                                  "CSV header names column '%s' twice", s->names[i]);
    }
    s->have_header = true;
    return IPW_OK;
}

static ipw_err end_row(struct rows_ctx *c, struct csv *s, size_t line, ipw_errbuf *eb)
{
    ipw_err e = IPW_OK;
    if (s->nf == 1 && s->blank && !s->over) {
        /* a blank line (before the header or between records) */
    } else if (!s->have_header) {
        e = header(c, s, line, eb);
    } else if (s->over) {
        e = rows_bad(c, line, eb, "CSV record longer than %zu bytes (the row limit)", c->max_row);
    } else if (s->after_quote_text) {
        e = rows_bad(c, line, eb, "text after a closing quote (a quote inside a quoted field "
                                  "must be doubled: \"\")");
    } else if (s->nf != s->ncols) {
        e = rows_bad(c, line, eb, "the record has %zu fields, the header has %zu", s->nf,
                     s->ncols);
    } else {
        json_t *row = json_object();
        if (!row)
            return rows_fatal(c, IPW_E_NOMEM, line, eb, "out of memory");
        for (size_t i = 0; i < s->nf && e == IPW_OK; i++) {
            const char *p = c->rb.p + s->f[i].start;
            json_t *v = has_nul(p, s->f[i].len) ? NULL : json_stringn(p, s->f[i].len);
            if (!v) {
                json_decref(row);
                row = NULL;
                e = rows_bad(c, line, eb, "field '%s' is not valid UTF-8 text", s->names[i]);
            } else {
                json_object_set_new(row, s->names[i], v);
            }
        }
        if (row)
            e = rows_emit(c, row, line, eb);
    }
    ipw_buf_reset(&c->rb);
    s->nf = 0;
    s->fstart = 0;
    s->over = s->after_quote_text = s->fquoted = false;
    return e;
}

ipw_err rows_read_csv(struct rows_ctx *c, ipw_errbuf *eb)
{
    struct csv s = {0};
    ipw_err e = IPW_OK;
    int state = F_START;
    bool skip_lf = false, pending = false; /* pending: a record has started */
    size_t row_line = c->line;
    if (ipw_buf_add(&c->rb, "", 0) == IPW_E_NOMEM) /* fields of an all-empty record still point somewhere */
        return rows_fatal(c, IPW_E_NOMEM, 1, eb, "out of memory");
    rows_skip_bom(c);
    for (;;) {
        int f = rows_src_fill(&c->src);
        if (f < 0) {
            e = rows_src_error(c, eb);
            goto out;
        }
        if (f == 0)
            break;
        const unsigned char *p = c->src.p, *end = c->src.end;
        while (p < end) {
            char ch = (char)*p++;
            if (skip_lf) {
                skip_lf = false;
                if (ch == '\n')
                    continue;
            }
            pending = true;
            int r = 0;
            switch (state) {
            case F_START:
                if (ch == '"') {
                    state = F_Q;
                    s.fquoted = true;
                    s.qline = c->line;
                    break;
                }
                /* fallthrough */
            case F_UNQ:
            case F_QQ:
                if (state == F_QQ && ch == '"') {
                    r = add(c, &s, '"');
                    state = F_Q;
                } else if (ch == ',') {
                    r = end_field(c, &s);
                    state = F_START;
                } else if (ch == '\n' || ch == '\r') {
                    c->src.p = p;
                    if (end_field(c, &s) < 0) {
                        r = -1;
                        break;
                    }
                    e = end_row(c, &s, row_line, eb);
                    if (e != IPW_OK)
                        goto out;
                    skip_lf = ch == '\r';
                    c->line++;
                    row_line = c->line;
                    pending = false;
                    state = F_START;
                } else {
                    if (state == F_QQ)
                        s.after_quote_text = true;
                    r = add(c, &s, ch);
                    state = F_UNQ;
                }
                break;
            case F_Q:
                if (ch == '"') {
                    state = F_QQ;
                } else {
                    if (ch == '\n')
                        c->line++;
                    r = add(c, &s, ch);
                }
                break;
            }
            if (r < 0) {
                e = rows_fatal(c, IPW_E_NOMEM, row_line, eb, "out of memory");
                goto out;
            }
        }
        c->src.p = p;
    }
    if (state == F_Q) {
        e = rows_fatal(c, IPW_E_INVALID, s.qline, eb,
                       "a quoted field opened here is never closed (unbalanced '\"'); the rest "
                       "of the file is inside it");
        goto out;
    }
    if (pending) { /* last record without a line break */
        if (end_field(c, &s) < 0) {
            e = rows_fatal(c, IPW_E_NOMEM, row_line, eb, "out of memory");
            goto out;
        }
        e = end_row(c, &s, row_line, eb);
    }
out:
    csv_free(&s);
    return e;
}
