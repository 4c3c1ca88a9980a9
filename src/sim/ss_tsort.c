/* Traces whose arrivals are not in order. The original loads the first --num-reqs lines of
 * the JSONL, numbers the requests in file order (a session takes one id per sub-request) and
 * then sorts them by arrival time with a stable sort. ipw streams a trace instead, so a
 * regular file is skimmed once before the run: if its arrivals never go backwards it is
 * streamed as before; otherwise an index of (arrival, offset, line, first id) per line,
 * sorted the same stable way, decides the order the lines are read in. The index costs 32
 * bytes per line of an unsorted file and nothing for a sorted one. A pipe cannot be read
 * twice: it must be sorted (ss_trace_advance says so with file:line). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ss.h"

/* arrival first, then file order: qsort is not stable, the line number makes it so */
static int by_arrival(const void *a, const void *b)
{
    const struct ss_tidx *x = a, *y = b;
    if (x->arrival != y->arrival)
        return x->arrival < y->arrival ? -1 : 1;
    return (x->line > y->line) - (x->line < y->line);
}

ipw_err ss_trace_order(struct ss_trace *t, ipw_errbuf *eb)
{
    struct stat st;
    if (fstat(fileno(t->f), &st) || !S_ISREG(st.st_mode))
        return IPW_OK; /* a pipe: streamed, checked line by line */
    struct ss_tidx *v = NULL;
    size_t n = 0, cap = 0;
    bool sorted = true;
    int64_t last = INT64_MIN, id = 0;
    long lineno = 0;
    ipw_err e = IPW_OK;
    for (;;) {
        if (t->limit > 0 && (long)n >= t->limit)
            break;
        off_t off = ftello(t->f);
        ssize_t len = getline(&t->buf, &t->cap, t->f);
        if (len < 0)
            break;
        lineno++;
        while (len && (t->buf[len - 1] == '\n' || t->buf[len - 1] == '\r' ||
                       t->buf[len - 1] == ' '))
            len--;
        if (!len)
            continue;
        int64_t arrival;
        int nids = 0;
        if ((e = ss_trace_skim_line(t->buf, (size_t)len, t->path, lineno, &arrival, &nids, eb)))
            break;
        if (n == cap) {
            size_t nc = cap ? cap * 2 : 1024;
            struct ss_tidx *nv = realloc(v, nc * sizeof *nv);
            if (!nv) {
                e = ipw_fail(eb, IPW_E_NOMEM, "out of memory indexing %s (%zu lines)", t->path, n);
                break;
            }
            v = nv;
            cap = nc;
        }
        v[n++] = (struct ss_tidx){arrival, id, off, lineno};
        id += nids;
        if (arrival < last)
            sorted = false;
        last = arrival;
    }
    if (!e && ferror(t->f))
        e = ipw_fail(eb, IPW_E_IO, "reading %s: %s", t->path, strerror(errno));
    if (e || sorted) {
        free(v);
        if (!e) {
            rewind(t->f);
            clearerr(t->f);
        }
        return e;
    }
    qsort(v, n, sizeof *v, by_arrival);
    t->order = v;
    t->norder = n;
    t->next_order = 0;
    return IPW_OK;
}
