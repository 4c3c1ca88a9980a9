/* Flattens a records.jsonl line without a JSON document: one validating pass over the line
 * records where the fields analysis needs are (as raw spans), then only those spans are
 * converted. Acceptance follows jansson (UTF-8, escapes, surrogates, no \u0000, number
 * grammar, integer and real overflow, nesting depth 2048, nothing after the value); duplicate
 * keys resolve to the last, as in jansson. */
#include "analysis/record_scan.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "ipw/decimal.h"
#include "ipw/utf8.h"

#define MAX_DEPTH 2048

struct span {
    const char *b, *e; /* a whole value, quotes included for strings; b == NULL: absent */
};

struct sc {
    const char *start, *p, *end;
    int depth;
    bool failed;
    bool escaped; /* the last string had a backslash escape */
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

static void ws_run(struct sc *c)
{
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r'))
        c->p++;
}

/* Whitespace: a byte above the space is none, so the usual case (no whitespace at all, as our
 * writer prints) is one test, inline. */
static inline void ws(struct sc *c)
{
    if (c->p < c->end && (unsigned char)*c->p <= ' ')
        ws_run(c);
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

/* Eight bytes at a time: nonzero when any of them is a quote, a backslash, a control byte or
 * not ASCII (exact as a yes/no answer, which is all it is used for). */
static uint64_t special8(uint64_t x)
{
    const uint64_t ones = 0x0101010101010101ull, high = 0x8080808080808080ull;
    uint64_t q = x ^ (ones * '"'), b = x ^ (ones * '\\');
    /* (v - ones) & ~v & high is nonzero exactly when v has a zero byte; a byte borrows only
     * when it is below the subtrahend, so a false mark never appears without a true one */
    uint64_t quote = (q - ones) & ~q, bslash = (b - ones) & ~b, ctrl = (x - ones * 0x20) & ~x;
    return (quote | bslash | ctrl | x) & high;
}

static bool string(struct sc *c)
{
    c->p++;
    c->escaped = false;
    while (c->p < c->end) {
        /* the common case first: a run of plain ASCII, 16 or 8 bytes at a time, then byte by
         * byte */
        const char *q = c->p;
#ifdef __SSE2__
        /* signed compare: bytes >= 0x80 are negative, so "below 0x20" also finds non-ASCII */
        const __m128i quote = _mm_set1_epi8('"'), bslash = _mm_set1_epi8('\\'),
                      space = _mm_set1_epi8(0x20);
        while (c->end - q >= 16) {
            __m128i v = _mm_loadu_si128((const __m128i *)(const void *)q);
            __m128i sp = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, bslash)),
                                      _mm_cmplt_epi8(v, space));
            int mask = _mm_movemask_epi8(sp);
            if (mask) {
                q += __builtin_ctz((unsigned)mask);
                goto special; /* q is at the first byte that is not plain */
            }
            q += 16;
        }
#endif
        while (c->end - q >= 8) {
            uint64_t w;
            memcpy(&w, q, 8);
            if (special8(w))
                break;
            q += 8;
        }
        while (q < c->end && plain_byte[(unsigned char)*q])
            q++;
#ifdef __SSE2__
    special:
#endif
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
            c->escaped = true;
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

/* Called for each key of an object with c->p at the member's value, which it must parse (and
 * so validate): a picker parses the values it wants into spans, and descends into the objects
 * it wants members of, in the same pass. */
typedef bool (*member_fn)(void *ud, struct sc *c, const char *kb, const char *ke, bool plain);

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
        ws(c);
        if (c->p >= c->end || *c->p != ':')
            return fail(c, "':' expected");
        c->p++;
        ws(c);
        bool plain = !c->escaped;
        struct span v;
        bool ok = on_member ? on_member(ud, c, kb, ke, plain) : value(c, &v);
        if (!ok)
            return false;
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
            /* the run up to the next escape, whole */
            const char *esc = memchr(p, '\\', (size_t)(e - p));
            size_t run = (size_t)((esc ? esc : e) - p);
            memcpy(out + n, p, run);
            n += run;
            p += run;
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

/* A key as text: the raw bytes when it has no escapes, else decoded into tmp (NULL when too
 * long to be any name we look for). */
static const char *key_text(const char *kb, const char *ke, bool plain, char *tmp, size_t size,
                            size_t *len)
{
    if (plain) {
        *len = (size_t)(ke - kb);
        return kb;
    }
    if ((size_t)(ke - kb) >= size)
        return NULL;
    *len = decode(kb, ke, tmp);
    return tmp;
}

/* ---- what a record's members are wanted for ---------------------------------------------- */

/* Spans of the top level (and dataset_metadata.kind) */
enum { T_INDEX, T_PROBLEM, T_ANSWER, T_SUBJECT, T_ERROR, T_STATUS, T_KIND, T_SCHEMA, T_START,
       T_META_KIND, T_N };
/* Spans of one model's member of model_metrics */
enum { M_LC, M_IS_CORRECT, M_RESP, M_TIN, M_TOUT, M_TTOT, M_E_QUERY, M_E_TOTAL, M_E_ACTIVE,
       M_E_PREFILL, M_E_DECODE, M_E_IDLE, M_E_GPU, M_E_CPU, M_E_DRAM, M_E_SOURCE, M_L_TTFT, M_L_TOTAL, M_L_DECODE,
       M_P_QUERY, M_P_TOTAL, M_N };

enum special { PLAIN, ANSWERS, METRICS };

/* A member picked out of an object: its value into slot[leaf], or (child) the members of its
 * object, whose spans slot[first, first + n) are cleared first: a later duplicate key replaces
 * an earlier one whole, as in jansson. */
struct field {
    const char *name;
    size_t len;
    int leaf; /* -1: none */
    const struct node *child;
    int first, n;
    enum special special;
};

/* A key finds its field through a small table per object (most keys are not wanted, and
 * comparing each with every wanted name was a tenth of the scan): its bucket, from the key's
 * length and first and last bytes, holds the field's index + 1, 0 when no wanted name falls
 * there, MANY when several do (then they are compared in turn). Filled once, on first use. */
#define BUCKETS 64
#define MANY 255

struct node {
    const struct field *f;
    size_t n;
    unsigned char *bucket; /* BUCKETS entries */
};

#define LEAF(k, slot) {k, sizeof k - 1, slot, NULL, 0, 0, PLAIN}
#define NEST(k, nd, a, b) {k, sizeof k - 1, -1, &nd, a, (b) - (a) + 1, PLAIN}
#define NODE(arr) {arr, sizeof arr / sizeof arr[0], (unsigned char[BUCKETS]){0}}

static const struct field avg_q_f[] = {LEAF("avg", M_P_QUERY)};
static const struct field avg_t_f[] = {LEAF("avg", M_P_TOTAL)};
static const struct node avg_q = NODE(avg_q_f), avg_t = NODE(avg_t_f);
static const struct field gpu_f[] = {NEST("per_query_watts", avg_q, M_P_QUERY, M_P_QUERY),
                                     NEST("total_watts", avg_t, M_P_TOTAL, M_P_TOTAL)};
static const struct node gpu = NODE(gpu_f);
static const struct field power_f[] = {NEST("gpu", gpu, M_P_QUERY, M_P_TOTAL)};
static const struct node power = NODE(power_f);
static const struct field eval_f[] = {LEAF("is_correct", M_IS_CORRECT)};
static const struct node eval = NODE(eval_f);
static const struct field tok_f[] = {LEAF("input", M_TIN), LEAF("output", M_TOUT),
                                     LEAF("total", M_TTOT)};
static const struct node tok = NODE(tok_f);
static const struct field energy_f[] = {
    LEAF("per_query_joules", M_E_QUERY), LEAF("total_joules", M_E_TOTAL),
    LEAF("active_joules", M_E_ACTIVE),   LEAF("prefill_joules", M_E_PREFILL),
    LEAF("decode_joules", M_E_DECODE),   LEAF("idle_power_watts", M_E_IDLE),
    LEAF("gpu_joules", M_E_GPU),         LEAF("cpu_joules", M_E_CPU),
    LEAF("dram_joules", M_E_DRAM),       LEAF("energy_source", M_E_SOURCE)};
static const struct node energy = NODE(energy_f);
static const struct field lat_f[] = {LEAF("time_to_first_token_seconds", M_L_TTFT),
                                     LEAF("total_query_seconds", M_L_TOTAL),
                                     LEAF("decode_seconds", M_L_DECODE)};
static const struct node lat = NODE(lat_f);
static const struct field metrics_f[] = {
    LEAF("lm_correctness", M_LC),
    NEST("evaluation", eval, M_IS_CORRECT, M_IS_CORRECT),
    LEAF("lm_response", M_RESP),
    NEST("token_metrics", tok, M_TIN, M_TTOT),
    NEST("energy_metrics", energy, M_E_QUERY, M_E_SOURCE),
    NEST("latency_metrics", lat, M_L_TTFT, M_L_DECODE),
    NEST("power_metrics", power, M_P_QUERY, M_P_TOTAL)};
static const struct node metrics = NODE(metrics_f);
static const struct field meta_f[] = {LEAF("kind", T_META_KIND)};
static const struct node meta = NODE(meta_f);
static const struct field top_f[] = {
    LEAF("record_index", T_INDEX), LEAF("problem", T_PROBLEM), LEAF("answer", T_ANSWER),
    LEAF("subject", T_SUBJECT),    LEAF("error", T_ERROR),     LEAF("status", T_STATUS),
    LEAF("kind", T_KIND),          LEAF("schema", T_SCHEMA),
    LEAF("request_start_time", T_START),
    NEST("dataset_metadata", meta, T_META_KIND, T_META_KIND),
    {"model_answers", 13, -1, NULL, 0, 0, ANSWERS},
    {"model_metrics", 13, -1, NULL, 0, 0, METRICS}};
static const struct node top = NODE(top_f);

static const struct node *const all_nodes[] = {&avg_q, &avg_t, &gpu, &power,   &eval, &tok,
                                               &energy, &lat, &metrics, &meta, &top};

static unsigned bucket_of(const char *key, size_t len)
{
    return (unsigned)(len * 5 + (unsigned char)key[0] * 3 + (unsigned char)key[len - 1]) &
           (BUCKETS - 1);
}

static pthread_once_t buckets_once = PTHREAD_ONCE_INIT;

static void fill_buckets(void)
{
    for (size_t i = 0; i < sizeof all_nodes / sizeof all_nodes[0]; i++) {
        const struct node *nd = all_nodes[i];
        for (size_t k = 0; k < nd->n; k++) {
            unsigned char *b = &nd->bucket[bucket_of(nd->f[k].name, nd->f[k].len)];
            *b = *b ? MANY : (unsigned char)(k + 1);
        }
    }
}

/* The wanted field named key[0, len), or NULL. */
static const struct field *find_field(const struct node *nd, const char *key, size_t len)
{
    if (!len)
        return NULL; /* no wanted name is empty */
    unsigned b = nd->bucket[bucket_of(key, len)];
    if (b != MANY) {
        const struct field *t = b ? &nd->f[b - 1] : NULL;
        return t && t->len == len && memcmp(t->name, key, len) == 0 ? t : NULL;
    }
    for (size_t i = 0; i < nd->n; i++) {
        const struct field *t = &nd->f[i];
        if (t->len == len && memcmp(t->name, key, len) == 0)
            return t;
    }
    return NULL;
}

/* A member keyed by model name (model_answers, model_metrics): the member named model, else
 * the only member (by_model of run_reader.c). For model_metrics each of the two candidates
 * keeps the spans of its members. */
struct keyed {
    struct span match, first;
    const char *first_kb, *first_ke;
    bool first_plain, other;
    struct span match_m[M_N], first_m[M_N];
};

struct rec {
    const char *model;
    size_t model_len;
    struct span top[T_N];
    struct keyed answers, metrics;
};

struct picker {
    const struct node *nd;
    struct span *slot;
    struct rec *rec;
};

static void clear(struct span *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        s[i].b = s[i].e = NULL;
}

static bool pick_member(void *ud, struct sc *c, const char *kb, const char *ke, bool plain);

/* One member of model_answers (slot NULL) or model_metrics (slot: room for M_N spans). */
static bool keyed_member(struct keyed *k, const struct rec *r, struct sc *c, const char *kb,
                         const char *ke, bool plain, struct span *slot)
{
    char tmp[512];
    size_t len;
    const char *key = key_text(kb, ke, plain, tmp, sizeof tmp, &len);
    bool is_match = r->model_len && key && len == r->model_len && memcmp(key, r->model, len) == 0;
    bool is_first = !k->first_kb;
    if (is_first) {
        k->first_kb = kb;
        k->first_ke = ke;
        k->first_plain = plain;
    } else {
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
        is_first = same;
        k->other |= !same;
    }
    struct span v = {c->p, NULL};
    if (slot)
        clear(slot, M_N);
    bool ok;
    if (slot && (is_match || is_first) && c->p < c->end && *c->p == '{') {
        struct picker sub = {&metrics, slot, NULL};
        ok = object(c, pick_member, &sub);
    } else {
        ok = value(c, &v);
    }
    v.e = c->p;
    if (is_match) {
        k->match = v;
        if (slot)
            memcpy(k->match_m, slot, sizeof k->match_m);
    }
    if (is_first) {
        k->first = v;
        if (slot)
            memcpy(k->first_m, slot, sizeof k->first_m);
    }
    return ok;
}

static bool answers_member(void *ud, struct sc *c, const char *kb, const char *ke, bool plain)
{
    struct rec *r = ud;
    return keyed_member(&r->answers, r, c, kb, ke, plain, NULL);
}

static bool metrics_member(void *ud, struct sc *c, const char *kb, const char *ke, bool plain)
{
    struct rec *r = ud;
    struct span slot[M_N];
    return keyed_member(&r->metrics, r, c, kb, ke, plain, slot);
}

static bool pick_member(void *ud, struct sc *c, const char *kb, const char *ke, bool plain)
{
    struct picker *pk = ud;
    char tmp[64];
    size_t len;
    const char *key = key_text(kb, ke, plain, tmp, sizeof tmp, &len);
    const struct field *f = key ? find_field(pk->nd, key, len) : NULL;
    struct span v;
    if (!f)
        return value(c, &v);
    if (f->special != PLAIN) {
        /* the last model_answers / model_metrics is the one that counts */
        struct keyed *k = f->special == ANSWERS ? &pk->rec->answers : &pk->rec->metrics;
        memset(k, 0, sizeof *k);
        if (c->p < c->end && *c->p == '{')
            return object(c, f->special == ANSWERS ? answers_member : metrics_member, pk->rec);
        return value(c, &v);
    }
    if (f->leaf >= 0)
        return value(c, &pk->slot[f->leaf]);
    clear(pk->slot + f->first, (size_t)f->n);
    if (c->p < c->end && *c->p == '{') {
        struct picker sub = {f->child, pk->slot, pk->rec};
        return object(c, pick_member, &sub);
    }
    return value(c, &v);
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

/* Exact powers of ten: every one up to 1e22 is a double without rounding. */
static const double pow10_exact[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                       1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                       1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/* A validated JSON number. Plain decimals with at most 15 significant digits and a small
 * exponent are one exact integer times or divided by an exact power of ten: a single IEEE
 * operation, so correctly rounded and equal to strtod's result (Clinger's fast path). The rest
 * goes through strtod. */
static double snum(struct span s)
{
    if (!s.b || !(*s.b == '-' || digit(*s.b)))
        return NAN;
    const char *p = s.b;
    bool neg = *p == '-';
    p += neg;
    /* up to 19 significant digits exactly in m; the value is m / 10^scale */
    uint64_t m = 0;
    int digits = 0, scale = 0;
    bool fast = true;
    for (; p < s.e && digit(*p); p++) {
        if (m || *p != '0')
            digits++;
        if (digits > 19) {
            fast = false;
            break;
        }
        m = m * 10 + (uint64_t)(*p - '0');
    }
    if (fast && p < s.e && *p == '.') {
        for (p++; p < s.e && digit(*p); p++) {
            if (m || *p != '0')
                digits++;
            if (digits > 19) {
                fast = false;
                break;
            }
            m = m * 10 + (uint64_t)(*p - '0');
            scale++;
        }
    }
    if (fast && p == s.e) {
        /* trailing zeros of the fraction say nothing: 1763680000.000000 is 1763680000 */
        while (scale > 0 && m % 10 == 0 && m)
            m /= 10, scale--;
        double v;
        bool done = false;
        if (m <= (1ull << 53) && scale <= 22) {
            /* one exact integer over an exact power of ten: a single rounding (Clinger) */
            v = (double)m / pow10_exact[scale];
            done = true;
        } else {
            /* 16 to 19 digits: exactly in 128-bit integers instead of strtod's big numbers */
            done = ipw_decimal_to_double(m, scale, &v);
        }
        /* "-0" is jansson's integer 0, which becomes +0.0; "-0.0" is a real, -0.0 */
        if (done)
            return neg && (m || scale) ? -v : v;
    }
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

/* The member of a keyed object that counts: the one named model, else the only one. */
static const struct keyed *chosen(const struct keyed *k)
{
    return k->match.b || (k->first_kb && !k->other) ? k : NULL;
}

bool ipw_record_scan(const char *line, size_t len, const char *model,
                     struct ipw_scan_arena *arena, struct ipw_run_query *q,
                     struct ipw_scan_result *res)
{
    memset(res, 0, sizeof *res);
    memset(q, 0, sizeof *q);
    pthread_once(&buckets_once, fill_buckets);
    struct sc c = {.start = line, .p = line, .end = line + len, .res = res};
    ws(&c);
    struct rec r;
    memset(&r, 0, sizeof r);
    r.model = model ? model : "";
    r.model_len = strlen(r.model);
    clear(r.top, T_N);
    bool is_object = c.p < c.end && *c.p == '{';
    if (is_object) {
        struct picker pk = {&top, r.top, &r};
        if (!object(&c, pick_member, &pk))
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
    const struct span *t = r.top;
    q->record_index = -1;
    if (is_integer(t[T_INDEX]))
        q->record_index = (long)strtoll(t[T_INDEX].b, NULL, 10);
    q->schema = sstr_or_empty(t[T_SCHEMA], &o);
    q->start_s = snum(t[T_START]);
    q->problem = sstr_or_empty(t[T_PROBLEM], &o);
    q->reference = sstr_or_empty(t[T_ANSWER], &o);
    q->subject = sstr_or_empty(t[T_SUBJECT], &o);
    q->error = sstr_or_empty(t[T_ERROR], &o);
    const char *status = sstr(t[T_STATUS], &o);
    q->failed = status ? strcmp(status, "failed") == 0 : *q->error != '\0';
    const char *kind = sstr(t[T_KIND], &o);
    if (!kind)
        kind = sstr(t[T_META_KIND], &o);
    q->kind_given = ipw_item_kind_parse(kind, &q->kind);
    if (!q->kind_given)
        q->kind = ipw_item_kind_infer(q->problem, q->reference);

    const struct keyed *ka = &r.answers, *km = &r.metrics;
    const struct keyed *ca = chosen(ka), *cm = chosen(km);
    struct span answer = {NULL, NULL};
    if (ca)
        answer = ka->match.b ? ka->match : ka->first;
    struct span none[M_N];
    clear(none, M_N);
    const struct span *m = !cm ? none : km->match.b ? km->match_m : km->first_m;
    res->model_found = ka->match.b || km->match.b;
    const struct keyed *named = ka->first_kb ? ka : km->first_kb ? km : NULL;
    if (named) {
        res->many_models = named->other;
        char *dst = o.buf + o.used;
        o.used += decode(named->first_kb, named->first_ke, dst) + 1;
        res->first_model = dst;
    }
    q->response = answer.b && *answer.b == '"' ? sstr(answer, &o) : sstr_or_empty(m[M_RESP], &o);
    q->prior_correct = sbool(m[M_LC]);
    if (q->prior_correct < 0)
        q->prior_correct = sbool(m[M_IS_CORRECT]);

    q->input_tokens = snum(m[M_TIN]);
    q->output_tokens = snum(m[M_TOUT]);
    q->total_tokens = snum(m[M_TTOT]);
    if (isnan(q->total_tokens) && !(isnan(q->input_tokens) && isnan(q->output_tokens)))
        q->total_tokens = (isnan(q->input_tokens) ? 0 : q->input_tokens) +
                          (isnan(q->output_tokens) ? 0 : q->output_tokens);
    q->energy_j = snum(m[M_E_QUERY]);
    q->total_j = snum(m[M_E_TOTAL]);
    q->active_j = snum(m[M_E_ACTIVE]);
    q->prefill_j = snum(m[M_E_PREFILL]);
    q->decode_j = snum(m[M_E_DECODE]);
    q->idle_w = snum(m[M_E_IDLE]);
    q->gpu_j = snum(m[M_E_GPU]);
    q->cpu_j = snum(m[M_E_CPU]);
    q->dram_j = snum(m[M_E_DRAM]);
    q->energy_source = sstr_or_empty(m[M_E_SOURCE], &o);
    q->ttft_s = snum(m[M_L_TTFT]);
    q->latency_s = snum(m[M_L_TOTAL]);
    q->decode_s = snum(m[M_L_DECODE]);
    q->power_avg_w = snum(m[M_P_QUERY]);
    q->total_power_avg_w = snum(m[M_P_TOTAL]);
    return true;
}

void ipw_scan_arena_free(struct ipw_scan_arena *a)
{
    free(a->p);
    a->p = NULL;
    a->cap = 0;
}
