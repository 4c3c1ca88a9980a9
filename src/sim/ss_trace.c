/* The workload JSONL, read one line at a time so memory follows the requests in flight, not
 * the trace: {"input_toks", "output_toks", "arrival_time_ns"[, "input_tok_ids",
 * "output_tok_ids"]} per line. A hand-written scanner (the token-id arrays make up nearly all
 * of a trace's bytes and a general JSON tree would cost more than the simulation). Every
 * malformed line is reported as file:line with what was expected. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ss.h"

struct scan {
    const char *p, *end;
    const char *path;
    long no;
    ipw_errbuf *eb;
    bool skim; /* only the arrival and the ids a line takes (ss_trace_skim_line) */
};

static void ws(struct scan *s)
{
    while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\r' || *s->p == '\n'))
        s->p++;
}

static ipw_err fail(struct scan *s, const char *what)
{
    return ipw_fail(s->eb, IPW_E_INVALID, "%s:%ld: %s", s->path, s->no, what);
}

static ipw_err expect(struct scan *s, char c)
{
    ws(s);
    if (s->p >= s->end || *s->p != c) {
        char msg[64];
        snprintf(msg, sizeof msg, "expected '%c' (each line must be one JSON object)", c);
        return fail(s, msg);
    }
    s->p++;
    return IPW_OK;
}

static ipw_err str(struct scan *s, char *out, size_t len)
{
    ipw_err e = expect(s, '"');
    if (e)
        return e;
    size_t n = 0;
    while (s->p < s->end && *s->p != '"') {
        if (*s->p == '\\') {
            s->p++;
            if (s->p >= s->end)
                break;
        }
        if (n + 1 < len)
            out[n++] = *s->p;
        s->p++;
    }
    if (s->p >= s->end)
        return fail(s, "unterminated string");
    s->p++;
    out[n] = '\0';
    return IPW_OK;
}

static ipw_err integer(struct scan *s, int64_t *v, const char *key)
{
    ws(s);
    const char *st = s->p;
    bool neg = false;
    if (s->p < s->end && *s->p == '-') {
        neg = true;
        s->p++;
    }
    uint64_t x = 0;
    int digits = 0;
    while (s->p < s->end && (unsigned)(*s->p - '0') < 10) {
        x = x * 10 + (uint64_t)(*s->p - '0');
        s->p++;
        if (++digits > 18) {
            char msg[96];
            snprintf(msg, sizeof msg, "'%s' is too large", key);
            return fail(s, msg);
        }
    }
    if (!digits || (s->p < s->end && (*s->p == '.' || *s->p == 'e' || *s->p == 'E'))) {
        s->p = st;
        char msg[96];
        snprintf(msg, sizeof msg, "'%s' must be an integer", key);
        return fail(s, msg);
    }
    *v = neg ? -(int64_t)x : (int64_t)x;
    return IPW_OK;
}

/* Skips any JSON value (for keys the simulator does not use). */
static ipw_err skip(struct scan *s, int depth)
{
    ws(s);
    if (s->p >= s->end)
        return fail(s, "unexpected end of line");
    if (depth > 64)
        return fail(s, "nested too deeply");
    char c = *s->p;
    if (c == '"') {
        char tmp[8];
        return str(s, tmp, sizeof tmp);
    }
    if (c == '{' || c == '[') {
        char close = c == '{' ? '}' : ']';
        s->p++;
        ws(s);
        if (s->p < s->end && *s->p == close) {
            s->p++;
            return IPW_OK;
        }
        for (;;) {
            ipw_err e;
            if (c == '{') {
                char k[8];
                if ((e = str(s, k, sizeof k)) || (e = expect(s, ':')))
                    return e;
            }
            if ((e = skip(s, depth + 1)))
                return e;
            ws(s);
            if (s->p < s->end && *s->p == ',') {
                s->p++;
                continue;
            }
            return expect(s, close);
        }
    }
    while (s->p < s->end && *s->p != ',' && *s->p != '}' && *s->p != ']' && *s->p != ' ')
        s->p++;
    return IPW_OK;
}

/* How many of the 8 bytes of w (in memory order) are ASCII digits before the first that is
 * not: a byte is a digit when its high nibble is 3 and adding 6 keeps it so. A carry out of a
 * byte of 0xFA or more only reaches bytes after it, which do not count. */
static int digit_run(uint64_t w)
{
    const uint64_t hi = 0xF0F0F0F0F0F0F0F0ull;
    uint64_t t = (w & hi) | (((w + 0x0606060606060606ull) & hi) >> 4);
    uint64_t bad = t ^ 0x3333333333333333ull;
    return bad ? __builtin_ctzll(bad) >> 3 : 8;
}

/* The value of the first k (1..7) digit bytes of w: shifted up so that they are the low-order
 * digits of eight, then combined pairwise (10a+b, then 100a+b, then 10000a+b) by multiplies. */
static uint32_t digits_value(uint64_t w, int k)
{
    uint64_t v = (w - 0x3030303030303030ull) << (8 * (8 - k));
    v = v * 10 + (v >> 8);
    v = (((v & 0x000000FF000000FFull) * (100 + (1000000ull << 32))) +
         (((v >> 16) & 0x000000FF000000FFull) * (1 + (10000ull << 32)))) >>
        32;
    return (uint32_t)v;
}

/* (*out)[i] = v, the array doubled when full */
static inline ipw_err store_id(struct scan *s, int32_t **out, size_t i, size_t *cap, int32_t v)
{
    if (i == *cap) {
        size_t nc = *cap ? *cap * 2 : 256;
        int32_t *nb = realloc(*out, nc * sizeof *nb);
        if (!nb)
            return ipw_fail(s->eb, IPW_E_NOMEM, "out of memory reading %s", s->path);
        *out = nb;
        *cap = nc;
    }
    (*out)[i] = v;
    return IPW_OK;
}

static ipw_err ids(struct scan *s, int32_t **out, size_t *n, const char *key)
{
    ipw_err e = expect(s, '[');
    if (e)
        return e;
    size_t cap = 0;
    *n = 0;
    if (s->skim && !out) { /* an id list holds no brackets: its end is the next ']' */
        const char *q = memchr(s->p, ']', (size_t)(s->end - s->p));
        if (!q)
            return fail(s, "unterminated token id list");
        s->p = q + 1;
        return IPW_OK;
    }
    ws(s);
    if (s->p < s->end && *s->p == ']') {
        s->p++;
        return IPW_OK;
    }
    const char *p = s->p, *end = s->end;
    for (;;) {
        /* the token ids are nearly all of a trace's bytes. Fastest: "123," / "123, " / "123]"
         * with 1..7 digits, the number's length and value from one 8-byte word, while 16 bytes
         * are left (p[k] and the space after the comma are then inside the line) */
        while (end - p >= 16) {
            uint64_t w;
            memcpy(&w, p, 8);
            int k = digit_run(w);
            char c = p[k];
            if (k < 1 || k > 7 || (c != ',' && c != ']'))
                break;
            if (out && (e = store_id(s, out, *n, &cap, (int32_t)digits_value(w, k))))
                return e;
            (*n)++;
            p += k;
            if (c == ']') {
                s->p = p;
                return expect(s, ']');
            }
            p += 1 + (p[1] == ' ');
        }
        /* then the plain case near the end of the line (non-negative integers of up to 9
         * digits separated by "," or ", "), the general scanner for anything else */
        while (p < end && *p == ' ')
            p++;
        const char *st = p;
        int64_t v;
        int k = 0;
        uint64_t w = 0;
        if (end - p >= 8) { /* the number's length from one 8-byte word, no branch per digit */
            memcpy(&w, p, 8);
            k = digit_run(w);
        }
        if (k >= 1 && k <= 7 && (p[k] == ',' || p[k] == ']' || p[k] == ' ')) {
            v = (int64_t)digits_value(w, k);
            p += k;
            goto stored;
        }
        uint32_t x = 0;
        unsigned d;
        while (p < end && (d = (unsigned)(*p - '0')) < 10 && p - st < 9) {
            x = x * 10 + d;
            p++;
        }
        if (p > st && p < end && (*p == ',' || *p == ']' || *p == ' ')) {
            v = (int64_t)x;
        } else {
            s->p = st;
            if ((e = integer(s, &v, key)))
                return e;
            p = s->p;
        }
    stored:
        if (out && (e = store_id(s, out, *n, &cap, (int32_t)v)))
            return e;
        (*n)++;
        while (p < end && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'))
            p++;
        if (p < end && *p == ',') {
            p++;
            continue;
        }
        s->p = p;
        return expect(s, ']');
    }
}

/* Finishes a parsed request: token ids joined, the reached length set up. */
static ipw_err finish(struct scan *s, struct ss_req *r, bool keep, int32_t *in_ids, size_t n_in,
                      int32_t *out_ids, size_t n_out, const char *where)
{
    ipw_err e = IPW_OK;
    char msg[160];
    if (r->input < 1 || r->output < 1) {
        snprintf(msg, sizeof msg, "%s'%s' must be at least 1", where,
                 r->input < 1 ? "input_toks" : "output_toks");
        e = fail(s, msg);
    }
    if (!e && keep && n_in) {
        r->toks = malloc((n_in + n_out) * sizeof *r->toks);
        if (!r->toks)
            e = ipw_fail(s->eb, IPW_E_NOMEM, "out of memory reading %s", s->path);
        else {
            memcpy(r->toks, in_ids, n_in * sizeof *r->toks);
            if (n_out)
                memcpy(r->toks + n_in, out_ids, n_out * sizeof *r->toks);
            r->ntoks = n_in + n_out;
        }
    }
    free(in_ids);
    free(out_ids);
    if (e)
        return e;
    r->output += r->input; /* internally the length the sequence reaches */
    r->num_reached = r->input;
    r->is_init = true;
    r->end_time = r->latency = r->queuing_delay = r->ttft = r->tpot = -1;
    return IPW_OK;
}

/* One request object: a flat trace line (top) or an entry of a session's sub_requests. A top
 * object with session_id / sub_requests becomes the session's first sub-request, the others
 * chained on next_sub (released one after another by the run loop). */
static ipw_err parse_obj(struct scan *s, bool keep, bool top, struct ss_req *r, int *nsub)
{
    bool have_in = false, have_out = false, have_arr = false, session = false;
    int32_t *in_ids = NULL, *out_ids = NULL;
    size_t n_in = 0, n_out = 0;
    struct ss_req *subs = NULL, **tail = &subs;
    int count = 0;
    ipw_err e = expect(s, '{');
    ws(s);
    if (!e && s->p < s->end && *s->p == '}')
        s->p++;
    else
        while (!e) {
            char key[64];
            if ((e = str(s, key, sizeof key)) || (e = expect(s, ':')))
                break;
            if (!strcmp(key, "input_toks")) {
                e = integer(s, &r->input, key);
                have_in = true;
            } else if (!strcmp(key, "output_toks")) {
                e = integer(s, &r->output, key);
                have_out = true;
            } else if (top && !strcmp(key, "arrival_time_ns")) {
                e = integer(s, &r->arrival, key);
                have_arr = true;
            } else if (!top && !strcmp(key, "tool_duration_ns")) {
                e = integer(s, &r->tool_ns, key);
                if (!e && r->tool_ns < 0)
                    e = fail(s, "'tool_duration_ns' must not be negative");
            } else if (!strcmp(key, "input_tok_ids")) {
                e = ids(s, keep ? &in_ids : NULL, &n_in, key);
            } else if (!strcmp(key, "output_tok_ids")) {
                e = ids(s, keep ? &out_ids : NULL, &n_out, key);
            } else if (top && !strcmp(key, "sub_requests")) {
                session = true;
                if ((e = expect(s, '[')))
                    break;
                ws(s);
                if (s->p < s->end && *s->p == ']') {
                    s->p++;
                } else
                    for (;;) {
                        struct ss_req *q = calloc(1, sizeof *q);
                        if (!q) {
                            e = ipw_fail(s->eb, IPW_E_NOMEM, "out of memory reading %s", s->path);
                            break;
                        }
                        *tail = q;
                        tail = &q->next_sub;
                        count++;
                        if ((e = parse_obj(s, keep, false, q, NULL)))
                            break;
                        ws(s);
                        if (s->p < s->end && *s->p == ',') {
                            s->p++;
                            continue;
                        }
                        e = expect(s, ']');
                        break;
                    }
            } else if (top && !strcmp(key, "session_id")) {
                session = true;
                e = skip(s, 0);
            } else {
                e = skip(s, 0);
            }
            if (e)
                break;
            ws(s);
            if (s->p < s->end && *s->p == ',') {
                s->p++;
                continue;
            }
            e = expect(s, '}');
            break;
        }
    if (e && subs) {
        ss_req_free(subs); /* frees the chain */
        subs = NULL;
    }
    if (!e && session) {
        if (!have_arr)
            e = fail(s, "'arrival_time_ns' is missing (an integer, ns from t = 0)");
        else if (!subs)
            e = fail(s, "a session needs a non-empty 'sub_requests' list");
        else if (r->arrival < 0)
            e = fail(s, "'arrival_time_ns' must not be negative");
        free(in_ids);
        free(out_ids);
        if (!e) {
            int64_t arrival = r->arrival;
            *r = *subs; /* the first sub-request takes the session's place */
            free(subs);
            r->arrival = arrival;
            r->session = true;
            if (nsub)
                *nsub = count;
            return IPW_OK;
        }
        ss_req_free(subs); /* frees the chain */
        return e;
    }
    if (!e && (!have_in || !have_out || (top && !have_arr))) {
        const char *where = top ? "" : "sub_requests: ";
        char msg[160];
        snprintf(msg, sizeof msg, "%s%s", where,
                 !have_in    ? "'input_toks' is missing (a positive integer)"
                 : !have_out ? "'output_toks' is missing (a positive integer)"
                             : "'arrival_time_ns' is missing (an integer, ns from t = 0)");
        e = fail(s, msg);
    }
    if (!e && top && r->arrival < 0)
        e = fail(s, "'arrival_time_ns' must not be negative");
    if (e) {
        free(in_ids);
        free(out_ids);
        return e;
    }
    if (nsub)
        *nsub = 1;
    return finish(s, r, keep, in_ids, n_in, out_ids, n_out, top ? "" : "sub_requests: ");
}

static ipw_err parse_line(const char *line, size_t len, const char *path, long lineno,
                         bool keep_tokens, bool skim, struct ss_req *r, int *nsub_out,
                         ipw_errbuf *eb)
{
    struct scan s = {line, line + len, path, lineno, eb, skim};
    memset(r, 0, sizeof *r);
    int nsub = 0;
    ipw_err e = parse_obj(&s, keep_tokens, true, r, &nsub);
    if (!e) {
        ws(&s);
        if (s.p != s.end)
            e = fail(&s, "unexpected text after the JSON object");
    }
    if (e) {
        struct ss_req *n = r->next_sub;
        free(r->toks);
        memset(r, 0, sizeof *r);
        ss_req_free(n); /* frees the chain */
        return e;
    }
    if (nsub_out)
        *nsub_out = nsub;
    return IPW_OK;
}

ipw_err ss_trace_parse_line(const char *line, size_t len, const char *path, long lineno,
                            bool keep_tokens, struct ss_req *r, ipw_errbuf *eb)
{
    return parse_line(line, len, path, lineno, keep_tokens, false, r, NULL, eb);
}

ipw_err ss_trace_skim_line(const char *line, size_t len, const char *path, long lineno,
                           int64_t *arrival, int *nids, ipw_errbuf *eb)
{
    struct ss_req r;
    ipw_err e = parse_line(line, len, path, lineno, false, true, &r, nids, eb);
    if (e)
        return e;
    *arrival = r.arrival;
    ss_req_free(r.next_sub);
    free(r.toks);
    return IPW_OK;
}

ipw_err ss_trace_open(struct ss_trace *t, const char *path, long limit, bool keep_tokens,
                      ipw_errbuf *eb)
{
    memset(t, 0, sizeof *t);
    snprintf(t->path, sizeof t->path, "%s", path);
    t->f = fopen(path, "r");
    if (!t->f)
        return ipw_fail(eb, IPW_E_NOTFOUND, "cannot open dataset %s: %s", path, strerror(errno));
    t->limit = limit;
    t->keep_tokens = keep_tokens;
    t->last_arrival = INT64_MIN;
    /* a line is kilobytes of token ids: read in large chunks, and from a pipe let the writer
     * stay ahead by as much (fewer reads and context switches; a failure only costs speed) */
    setvbuf(t->f, NULL, _IOFBF, 1 << 20);
    struct stat st;
    if (!fstat(fileno(t->f), &st) && S_ISFIFO(st.st_mode))
        (void)fcntl(fileno(t->f), F_SETPIPE_SZ, 1 << 20);
    ipw_err e = ss_trace_order(t, eb);
    return e ? e : ss_trace_advance(t, eb);
}

/* The next non-blank line into t->buf (its length, -1 at the end): the file's next line, or
 * with an order index the next line by arrival, its ids taken from the index. */
static ssize_t next_line(struct ss_trace *t, const char **line)
{
    for (;;) {
        if (t->order) {
            if (t->next_order >= t->norder)
                return -1;
            const struct ss_tidx *x = &t->order[t->next_order++];
            if (fseeko(t->f, x->off, SEEK_SET))
                return -1;
            t->line = x->line;
            t->next_id = x->first_id;
        }
        ssize_t n = getline(&t->buf, &t->cap, t->f);
        if (n < 0)
            return -1;
        if (!t->order)
            t->line++;
        const char *p = t->buf;
        while (n && (p[n - 1] == '\n' || p[n - 1] == '\r' || p[n - 1] == ' '))
            n--;
        if (n) {
            *line = p;
            return n;
        }
    }
}

ipw_err ss_trace_advance(struct ss_trace *t, ipw_errbuf *eb)
{
    t->ahead = NULL;
    if (!t->f || (t->limit > 0 && t->loaded >= t->limit))
        return IPW_OK;
    const char *p;
    ssize_t n = next_line(t, &p);
    if (n < 0)
        return ferror(t->f) ? ipw_fail(eb, IPW_E_IO, "reading %s: %s", t->path, strerror(errno))
                            : IPW_OK;
    struct ss_req *r = malloc(sizeof *r);
    if (!r)
        return ipw_fail(eb, IPW_E_NOMEM, "out of memory reading %s", t->path);
    ipw_err e = ss_trace_parse_line(p, (size_t)n, t->path, t->line, t->keep_tokens, r, eb);
    if (e) {
        free(r);
        return e;
    }
    if (r->arrival < t->last_arrival) { /* only a pipe: a file out of order is indexed */
        ss_req_free(r);
        return ipw_fail(eb, IPW_E_INVALID,
                        "%s:%ld: arrival_time_ns goes backwards; a trace read from a pipe is "
                        "streamed and must be sorted by arrival time (a regular file is sorted "
                        "as the original does)",
                        t->path, t->line);
    }
    t->last_arrival = r->arrival;
    r->id = t->next_id++;
    for (struct ss_req *q = r->next_sub; q; q = q->next_sub) {
        q->id = t->next_id++;
        t->deferred++;
    }
    t->loaded++;
    t->ahead = r;
    return IPW_OK;
}

void ss_trace_close(struct ss_trace *t)
{
    if (t->f)
        fclose(t->f);
    if (t->ahead)
        ss_req_free(t->ahead);
    free(t->buf);
    free(t->order);
    memset(t, 0, sizeof *t);
}

void ss_req_free(struct ss_req *r)
{
    if (!r)
        return;
    for (struct ss_req *q = r->next_sub, *n; q; q = n) { /* sub-requests never released */
        n = q->next_sub;
        q->next_sub = NULL;
        ss_req_free(q);
    }
    free(r->toks);
    free(r->hashes);
    free(r->itl);
    free(r->blocks);
    free(r);
}
