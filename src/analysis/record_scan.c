/* Flattens a records.jsonl line without a JSON document: one validating pass over the line
 * records where the fields analysis needs are (as raw spans), then only those spans are
 * converted. Acceptance follows jansson (UTF-8, escapes, surrogates, no \u0000, number
 * grammar, integer and real overflow, nesting depth 2048, nothing after the value); duplicate
 * keys resolve to the last, as in jansson. */
#include "analysis/record_scan.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ipw/utf8.h"

#define MAX_DEPTH 2048

struct span {
    const char *b, *e; /* a whole value, quotes included for strings; b == NULL: absent */
};

struct sc {
    const char *start, *p, *end;
    int depth;
    bool failed;
    struct ipw_scan_result *res;
};

static bool fail(struct sc *c, const char *msg)
{
    if (!c->failed) {
        c->failed = true;
        c->res->error_offset = (size_t)(c->p - c->start);
        snprintf(c->res->error, sizeof c->res->error, "%s", msg);
    }
    return false;
}

static void ws(struct sc *c)
{
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r'))
        c->p++;
}

static int hexval(char ch)
{
    return ch >= '0' && ch <= '9'   ? ch - '0'
           : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
           : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10
                                    : -1;
}

static bool hex4(const char *p, const char *end, unsigned *out)
{
    if (end - p < 4)
        return false;
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        int h = hexval(p[i]);
        if (h < 0)
            return false;
        v = v * 16 + (unsigned)h;
    }
    *out = v;
    return true;
}

/* A string at c->p (the opening quote); validates it and moves past the closing quote. */
/* Bytes a string can hold as they are: printable ASCII but the quote and the backslash. One
 * table load per byte instead of four compares: strings are most of a record's bytes. */
#define PLAIN16(b) 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1
static const unsigned char plain_byte[256] = {
    [0x20] = 1, 1, 0 /* " */, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x20..0x2F */
    PLAIN16(0x30), PLAIN16(0x40),
    [0x50] = 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0 /* \ */, 1, 1, 1, /* 0x50..0x5F */
    PLAIN16(0x60), PLAIN16(0x70),
};
#undef PLAIN16

static bool string(struct sc *c)
{
    c->p++;
    while (c->p < c->end) {
        /* the common case first: a run of plain ASCII */
        const char *q = c->p;
        while (q < c->end && plain_byte[(unsigned char)*q])
            q++;
        c->p = q;
        if (q == c->end)
            break;
        unsigned char ch = (unsigned char)*c->p;
        if (ch == '"') {
            c->p++;
            return true;
        }
        if (ch < 0x20)
            return fail(c, "control character in a string");
        if (ch == '\\') {
            if (c->end - c->p < 2)
                break;
            char e = c->p[1];
            if (e == 'u') {
                unsigned v;
                if (!hex4(c->p + 2, c->end, &v))
                    return fail(c, "invalid \\u escape");
                c->p += 6;
                if (v == 0)
                    return fail(c, "\\u0000 is not allowed");
                if (v >= 0xDC00 && v <= 0xDFFF)
                    return fail(c, "invalid Unicode: a lone low surrogate");
                if (v >= 0xD800 && v <= 0xDBFF) {
                    unsigned lo;
                    if (c->end - c->p < 2 || c->p[0] != '\\' || c->p[1] != 'u' ||
                        !hex4(c->p + 2, c->end, &lo) || lo < 0xDC00 || lo > 0xDFFF)
                        return fail(c, "invalid Unicode: a high surrogate without its pair");
                    c->p += 6;
                }
                continue;
            }
            if (!strchr("\"\\/bfnrt", e) || e == '\0')
                return fail(c, "invalid escape");
            c->p += 2;
            continue;
        }
        size_t n = ipw_utf8_seq((const unsigned char *)c->p, (size_t)(c->end - c->p));
        if (!n)
            return fail(c, "invalid UTF-8 in a string");
        c->p += n;
    }
    return fail(c, "unterminated string");
}

static bool digit(char ch) { return ch >= '0' && ch <= '9'; }

/* A number, by the JSON grammar; an integer must fit 64 bits and a real must not overflow. */
static bool number(struct sc *c)
{
    const char *b = c->p;
    if (c->p < c->end && *c->p == '-')
        c->p++;
    if (c->p >= c->end || !digit(*c->p))
        return fail(c, "invalid number");
    if (*c->p == '0') {
        c->p++;
        if (c->p < c->end && digit(*c->p))
            return fail(c, "invalid number: leading zero");
    } else {
        while (c->p < c->end && digit(*c->p))
            c->p++;
    }
    bool real = false;
    if (c->p < c->end && *c->p == '.') {
        real = true;
        c->p++;
        if (c->p >= c->end || !digit(*c->p))
            return fail(c, "invalid number");
        while (c->p < c->end && digit(*c->p))
            c->p++;
    }
    long exp10 = 0;
    if (c->p < c->end && (*c->p == 'e' || *c->p == 'E')) {
        real = true;
        c->p++;
        bool neg = false;
        if (c->p < c->end && (*c->p == '+' || *c->p == '-'))
            neg = *c->p++ == '-';
        if (c->p >= c->end || !digit(*c->p))
            return fail(c, "invalid number");
        while (c->p < c->end && digit(*c->p)) {
            if (exp10 < 100000)
                exp10 = exp10 * 10 + (*c->p - '0');
            c->p++;
        }
        if (neg)
            exp10 = -exp10;
    }
    size_t len = (size_t)(c->p - b);
    /* only long tokens or big exponents can overflow: convert just those */
    if ((!real && len >= 19) || (real && (len >= 300 || exp10 > 250))) {
        char small[64], *buf = len < sizeof small ? small : malloc(len + 1);
        if (!buf)
            return fail(c, "out of memory");
        memcpy(buf, b, len);
        buf[len] = '\0';
        errno = 0;
        bool bad;
        if (real) {
            double v = strtod(buf, NULL);
            bad = errno == ERANGE && (v == HUGE_VAL || v == -HUGE_VAL);
        } else {
            strtoll(buf, NULL, 10);
            bad = errno == ERANGE;
        }
        if (buf != small)
            free(buf);
        if (bad)
            return fail(c, real ? "real number overflow" : "too big integer");
    }
    return true;
}

static bool value(struct sc *c, struct span *out);

static bool literal(struct sc *c, const char *word)
{
    size_t n = strlen(word);
    if ((size_t)(c->end - c->p) < n || memcmp(c->p, word, n) != 0)
        return fail(c, "invalid token");
    c->p += n;
    return true;
}

/* Calls on_member for each key of the object at c->p (validated as it goes). */
typedef void (*member_fn)(void *ud, const char *kb, const char *ke, bool plain, struct span v);

static bool object(struct sc *c, member_fn on_member, void *ud)
{
    if (++c->depth > MAX_DEPTH)
        return fail(c, "maximum parsing depth reached");
    c->p++;
    ws(c);
    if (c->p < c->end && *c->p == '}') {
        c->p++;
        c->depth--;
        return true;
    }
    for (;;) {
        ws(c);
        if (c->p >= c->end || *c->p != '"')
            return fail(c, "string or '}' expected");
        const char *kb = c->p + 1;
        if (!string(c))
            return false;
        const char *ke = c->p - 1;
        bool plain = memchr(kb, '\\', (size_t)(ke - kb)) == NULL;
        ws(c);
        if (c->p >= c->end || *c->p != ':')
            return fail(c, "':' expected");
        c->p++;
        ws(c);
        struct span v;
        if (!value(c, &v))
            return false;
        if (on_member)
            on_member(ud, kb, ke, plain, v);
        ws(c);
        if (c->p < c->end && *c->p == ',') {
            c->p++;
            continue;
        }
        if (c->p < c->end && *c->p == '}') {
            c->p++;
            c->depth--;
            return true;
        }
        return fail(c, "',' or '}' expected");
    }
}

static bool array(struct sc *c)
{
    if (++c->depth > MAX_DEPTH)
        return fail(c, "maximum parsing depth reached");
    c->p++;
    ws(c);
    if (c->p < c->end && *c->p == ']') {
        c->p++;
        c->depth--;
        return true;
    }
    for (;;) {
        ws(c);
        struct span v;
        if (!value(c, &v))
            return false;
        ws(c);
        if (c->p < c->end && *c->p == ',') {
            c->p++;
            continue;
        }
        if (c->p < c->end && *c->p == ']') {
            c->p++;
            c->depth--;
            return true;
        }
        return fail(c, "',' or ']' expected");
    }
}

static bool value(struct sc *c, struct span *out)
{
    out->b = c->p;
    bool ok;
    if (c->p >= c->end)
        return fail(c, "unexpected end of input");
    switch (*c->p) {
    case '"': ok = string(c); break;
    case '{': ok = object(c, NULL, NULL); break;
    case '[': ok = array(c); break;
    case 't': ok = literal(c, "true"); break;
    case 'f': ok = literal(c, "false"); break;
    case 'n': ok = literal(c, "null"); break;
    default: ok = number(c);
    }
    out->e = c->p;
    return ok;
}

/* ---- decoding the spans that matter ----------------------------------------------------- */

/* Decodes a validated JSON string body [b, e) into out (room for e - b + 1 bytes). */
static size_t decode(const char *b, const char *e, char *out)
{
    size_t n = 0;
    for (const char *p = b; p < e;) {
        if (*p != '\\') {
            out[n++] = *p++;
            continue;
        }
        char x = p[1];
        p += 2;
        switch (x) {
        case 'b': out[n++] = '\b'; break;
        case 'f': out[n++] = '\f'; break;
        case 'n': out[n++] = '\n'; break;
        case 'r': out[n++] = '\r'; break;
        case 't': out[n++] = '\t'; break;
        case 'u': {
            unsigned v;
            hex4(p, e, &v);
            p += 4;
            if (v >= 0xD800 && v <= 0xDBFF) {
                unsigned lo;
                hex4(p + 2, e, &lo);
                p += 6;
                v = 0x10000 + ((v - 0xD800) << 10) + (lo - 0xDC00);
            }
            if (v < 0x80) {
                out[n++] = (char)v;
            } else if (v < 0x800) {
                out[n++] = (char)(0xC0 | (v >> 6));
                out[n++] = (char)(0x80 | (v & 0x3F));
            } else if (v < 0x10000) {
                out[n++] = (char)(0xE0 | (v >> 12));
                out[n++] = (char)(0x80 | ((v >> 6) & 0x3F));
                out[n++] = (char)(0x80 | (v & 0x3F));
            } else {
                out[n++] = (char)(0xF0 | (v >> 18));
                out[n++] = (char)(0x80 | ((v >> 12) & 0x3F));
                out[n++] = (char)(0x80 | ((v >> 6) & 0x3F));
                out[n++] = (char)(0x80 | (v & 0x3F));
            }
            break;
        }
        default: out[n++] = x; /* " \ / */
        }
    }
    out[n] = '\0';
    return n;
}

static bool key_is(const char *kb, const char *ke, bool plain, const char *want)
{
    size_t n = strlen(want);
    if (plain)
        return (size_t)(ke - kb) == n && memcmp(kb, want, n) == 0;
    char tmp[512];
    if ((size_t)(ke - kb) >= sizeof tmp)
        return false;
    return decode(kb, ke, tmp) == n && memcmp(tmp, want, n) == 0;
}

/* Picks the members named in keys[] out of an object. */
struct pick {
    const char *const *keys;
    size_t n;
    struct span *out;
};

static void on_pick(void *ud, const char *kb, const char *ke, bool plain, struct span v)
{
    struct pick *pk = ud;
    for (size_t i = 0; i < pk->n; i++)
        if (key_is(kb, ke, plain, pk->keys[i])) {
            pk->out[i] = v; /* the last duplicate wins, as in jansson */
            return;
        }
}

/* On a span already validated: the named members if it is an object. */
static void pick(struct span s, const char *const *keys, size_t n, struct span *out,
                 struct ipw_scan_result *res)
{
    for (size_t i = 0; i < n; i++)
        out[i].b = out[i].e = NULL;
    if (!s.b || *s.b != '{')
        return;
    struct sc c = {s.b, s.b, s.e, 0, false, res};
    struct pick pk = {keys, n, out};
    object(&c, on_pick, &pk);
}

/* The member named model, else the only member (by_model of run_reader.c). */
struct keyed {
    const char *model;
    struct span match, first;
    const char *first_kb, *first_ke;
    bool first_plain, other;
};

static void on_keyed(void *ud, const char *kb, const char *ke, bool plain, struct span v)
{
    struct keyed *k = ud;
    if (k->model && *k->model && key_is(kb, ke, plain, k->model))
        k->match = v;
    if (!k->first_kb) {
        k->first_kb = kb;
        k->first_ke = ke;
        k->first_plain = plain;
        k->first = v;
        return;
    }
    /* a duplicate of the first key replaces its value; any other key makes it ambiguous */
    bool same = (size_t)(ke - kb) == (size_t)(k->first_ke - k->first_kb) &&
                memcmp(kb, k->first_kb, (size_t)(ke - kb)) == 0;
    if (!same && !(plain && k->first_plain)) {
        char a[512], b[512];
        if ((size_t)(ke - kb) < sizeof a && (size_t)(k->first_ke - k->first_kb) < sizeof b) {
            size_t la = decode(kb, ke, a), lb = decode(k->first_kb, k->first_ke, b);
            same = la == lb && memcmp(a, b, la) == 0;
        }
    }
    if (same)
        k->first = v;
    else
        k->other = true;
}

static struct span keyed(struct span s, const char *model, struct keyed *k,
                         struct ipw_scan_result *res)
{
    memset(k, 0, sizeof *k);
    k->model = model;
    struct span none = {NULL, NULL};
    if (!s.b || *s.b != '{')
        return none;
    struct sc c = {s.b, s.b, s.e, 0, false, res};
    object(&c, on_keyed, k);
    if (k->match.b)
        return k->match;
    return k->first_kb && !k->other ? k->first : none;
}

struct out {
    char *buf;
    size_t used;
};

static const char *sstr(struct span s, struct out *o)
{
    if (!s.b || *s.b != '"')
        return NULL;
    char *dst = o->buf + o->used;
    size_t n = decode(s.b + 1, s.e - 1, dst);
    o->used += n + 1;
    return dst;
}

static const char *sstr_or_empty(struct span s, struct out *o)
{
    const char *v = sstr(s, o);
    return v ? v : "";
}

static double snum(struct span s)
{
    if (!s.b || !(*s.b == '-' || digit(*s.b)))
        return NAN;
    char small[64];
    size_t len = (size_t)(s.e - s.b);
    char *buf = len < sizeof small ? small : malloc(len + 1);
    if (!buf)
        return NAN;
    memcpy(buf, s.b, len);
    buf[len] = '\0';
    double v = strtod(buf, NULL);
    if (buf != small)
        free(buf);
    return v;
}

static int sbool(struct span s)
{
    if (!s.b)
        return -1;
    if (*s.b == 't')
        return 1;
    if (*s.b == 'f')
        return 0;
    return -1;
}

static bool is_integer(struct span s)
{
    if (!s.b || !(*s.b == '-' || digit(*s.b)))
        return false;
    for (const char *p = s.b; p < s.e; p++)
        if (*p == '.' || *p == 'e' || *p == 'E')
            return false;
    return true;
}

enum { T_INDEX, T_PROBLEM, T_ANSWER, T_SUBJECT, T_ERROR, T_STATUS, T_KIND, T_META,
       T_ANSWERS, T_METRICS, T_SCHEMA, T_START, T_N };
static const char *const top_keys[T_N] = {"record_index", "problem", "answer", "subject",
                                          "error", "status", "kind", "dataset_metadata",
                                          "model_answers", "model_metrics", "schema",
                                          "request_start_time"};

enum { M_LC, M_EVAL, M_RESP, M_TOK, M_EN, M_LAT, M_POW, M_N };
static const char *const metric_keys[M_N] = {"lm_correctness", "evaluation", "lm_response",
                                             "token_metrics", "energy_metrics",
                                             "latency_metrics", "power_metrics"};

bool ipw_record_scan(const char *line, size_t len, const char *model,
                     struct ipw_scan_arena *arena, struct ipw_run_query *q,
                     struct ipw_scan_result *res)
{
    memset(res, 0, sizeof *res);
    memset(q, 0, sizeof *q);
    struct sc c = {line, line, line + len, 0, false, res};
    ws(&c);
    struct span top[T_N];
    for (int i = 0; i < T_N; i++)
        top[i].b = top[i].e = NULL;
    bool is_object = c.p < c.end && *c.p == '{';
    if (is_object) {
        struct pick pk = {top_keys, T_N, top};
        if (!object(&c, on_pick, &pk))
            return false;
    } else if (c.p < c.end && *c.p == '[') {
        if (!array(&c))
            return false;
    } else {
        return fail(&c, "'[' or '{' expected"); /* as jansson: a document is one or the other */
    }
    ws(&c);
    if (c.p != c.end)
        return fail(&c, "end of file expected");
    if (!is_object) {
        res->not_object = true;
        return fail(&c, "not an object");
    }

    /* decoded strings never outgrow their escaped form: one reservation for them all */
    if (arena->cap < len + 64) {
        char *np = realloc(arena->p, len + 64);
        if (!np) {
            c.p = c.start;
            return fail(&c, "out of memory");
        }
        arena->p = np;
        arena->cap = len + 64;
    }
    struct out o = {arena->p, 0};
    q->record_index = -1;
    if (is_integer(top[T_INDEX]))
        q->record_index = (long)strtoll(top[T_INDEX].b, NULL, 10);
    q->schema = sstr_or_empty(top[T_SCHEMA], &o);
    q->start_s = snum(top[T_START]);
    q->problem = sstr_or_empty(top[T_PROBLEM], &o);
    q->reference = sstr_or_empty(top[T_ANSWER], &o);
    q->subject = sstr_or_empty(top[T_SUBJECT], &o);
    q->error = sstr_or_empty(top[T_ERROR], &o);
    const char *status = sstr(top[T_STATUS], &o);
    q->failed = status ? strcmp(status, "failed") == 0 : *q->error != '\0';
    const char *kind = sstr(top[T_KIND], &o);
    if (!kind) {
        static const char *const kk[] = {"kind"};
        struct span ks;
        pick(top[T_META], kk, 1, &ks, res);
        kind = sstr(ks, &o);
    }
    q->kind_given = ipw_item_kind_parse(kind, &q->kind);
    if (!q->kind_given)
        q->kind = ipw_item_kind_infer(q->problem, q->reference);

    struct keyed ka, km;
    struct span answer = keyed(top[T_ANSWERS], model, &ka, res);
    struct span metrics = keyed(top[T_METRICS], model, &km, res);
    res->model_found = ka.match.b || km.match.b;
    const struct keyed *named = ka.first_kb ? &ka : km.first_kb ? &km : NULL;
    if (named) {
        res->many_models = named->other;
        char *dst = o.buf + o.used;
        o.used += decode(named->first_kb, named->first_ke, dst) + 1;
        res->first_model = dst;
    }
    struct span m[M_N];
    pick(metrics, metric_keys, M_N, m, res);
    q->response = answer.b && *answer.b == '"' ? sstr(answer, &o) : sstr_or_empty(m[M_RESP], &o);
    q->prior_correct = sbool(m[M_LC]);
    if (q->prior_correct < 0) {
        static const char *const ek[] = {"is_correct"};
        struct span ic;
        pick(m[M_EVAL], ek, 1, &ic, res);
        q->prior_correct = sbool(ic);
    }

    static const char *const tok_keys[] = {"input", "output", "total"};
    struct span t[3];
    pick(m[M_TOK], tok_keys, 3, t, res);
    q->input_tokens = snum(t[0]);
    q->output_tokens = snum(t[1]);
    q->total_tokens = snum(t[2]);
    if (isnan(q->total_tokens) && !(isnan(q->input_tokens) && isnan(q->output_tokens)))
        q->total_tokens = (isnan(q->input_tokens) ? 0 : q->input_tokens) +
                          (isnan(q->output_tokens) ? 0 : q->output_tokens);

    static const char *const en_keys[] = {"per_query_joules", "total_joules", "active_joules",
                                          "prefill_joules",   "decode_joules",
                                          "idle_power_watts", "energy_source"};
    struct span en[7];
    pick(m[M_EN], en_keys, 7, en, res);
    q->energy_j = snum(en[0]);
    q->total_j = snum(en[1]);
    q->active_j = snum(en[2]);
    q->prefill_j = snum(en[3]);
    q->decode_j = snum(en[4]);
    q->idle_w = snum(en[5]);
    q->energy_source = sstr_or_empty(en[6], &o);

    static const char *const lat_keys[] = {"time_to_first_token_seconds", "total_query_seconds",
                                           "decode_seconds"};
    struct span la[3];
    pick(m[M_LAT], lat_keys, 3, la, res);
    q->ttft_s = snum(la[0]);
    q->latency_s = snum(la[1]);
    q->decode_s = snum(la[2]);

    static const char *const gpu_key[] = {"gpu"};
    static const char *const watt_keys[] = {"per_query_watts", "total_watts"};
    static const char *const avg_key[] = {"avg"};
    struct span gpu, w[2], avg;
    pick(m[M_POW], gpu_key, 1, &gpu, res);
    pick(gpu, watt_keys, 2, w, res);
    pick(w[0], avg_key, 1, &avg, res);
    q->power_avg_w = snum(avg);
    pick(w[1], avg_key, 1, &avg, res);
    q->total_power_avg_w = snum(avg);
    return true;
}

void ipw_scan_arena_free(struct ipw_scan_arena *a)
{
    free(a->p);
    a->p = NULL;
    a->cap = 0;
}
