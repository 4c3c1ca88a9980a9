/* The XML property-list reader behind the powermetrics collector (see plist.h). One pass,
 * recursive descent with a depth limit; nodes live in one growing array, text in one pool. */
#include "telemetry/plist.h"

#include "ipw/buf.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NONE UINT32_MAX

struct node {
    uint8_t type;
    int32_t first, last, next; /* children of a container; the next sibling */
    uint32_t key;              /* pool offset of the key in the parent dict, or NONE */
    uint32_t text;             /* pool offset of string/date/data text, or NONE */
    double num;
};

struct ipw_plist {
    struct node *n;
    size_t count, cap;
    struct ipw_buf pool; /* offsets into it are uint32_t, so it stays below NONE */
    int root;
};

struct cur {
    const char *s;
    size_t len, pos;
    struct ipw_plist *p;
    ipw_errbuf *eb;
    ipw_err err; /* the first error; parsing stops there */
};

enum tag_kind { TAG_OPEN, TAG_CLOSE, TAG_EMPTY };

struct tag {
    enum tag_kind kind;
    const char *name;
    size_t nlen;
};

static int fail(struct cur *c, ipw_err code, const char *what)
{
    if (c->err == IPW_OK)
        c->err = ipw_fail(c->eb, code, "malformed plist at byte %zu of %zu: %s", c->pos, c->len,
                          what);
    return -1;
}

static bool at_end(const struct cur *c) { return c->pos >= c->len; }

static bool starts(const struct cur *c, const char *lit)
{
    size_t n = strlen(lit);
    return c->len - c->pos >= n && memcmp(c->s + c->pos, lit, n) == 0;
}

static void skip_ws(struct cur *c)
{
    while (!at_end(c) && (c->s[c->pos] == ' ' || c->s[c->pos] == '\t' || c->s[c->pos] == '\n' ||
                          c->s[c->pos] == '\r'))
        c->pos++;
}

/* Moves past the first occurrence of lit; false when the input ends first. */
static bool skip_past(struct cur *c, const char *lit)
{
    size_t n = strlen(lit);
    while (c->len - c->pos >= n) {
        if (memcmp(c->s + c->pos, lit, n) == 0) {
            c->pos += n;
            return true;
        }
        c->pos++;
    }
    c->pos = c->len;
    return false;
}

/* Whitespace and comments between elements. */
static int skip_space(struct cur *c)
{
    for (;;) {
        skip_ws(c);
        if (!starts(c, "<!--"))
            return 0;
        if (!skip_past(c, "-->"))
            return fail(c, IPW_E_PROTOCOL, "comment not closed (truncated?)");
    }
}

/* The prolog: XML declaration, DOCTYPE (with an internal subset in brackets), comments. */
static int skip_prolog(struct cur *c)
{
    if (starts(c, "\xEF\xBB\xBF"))
        c->pos += 3;
    for (;;) {
        if (skip_space(c))
            return -1;
        if (starts(c, "<?")) {
            if (!skip_past(c, "?>"))
                return fail(c, IPW_E_PROTOCOL, "processing instruction not closed");
        } else if (starts(c, "<!DOCTYPE")) {
            int brackets = 0;
            for (; !at_end(c); c->pos++) {
                char ch = c->s[c->pos];
                if (ch == '[')
                    brackets++;
                else if (ch == ']')
                    brackets--;
                else if (ch == '>' && brackets <= 0)
                    break;
            }
            if (at_end(c))
                return fail(c, IPW_E_PROTOCOL, "DOCTYPE not closed");
            c->pos++;
        } else {
            return 0;
        }
    }
}

static bool name_char(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           ch == '_' || ch == '-' || ch == '.' || ch == ':';
}

static int read_tag(struct cur *c, struct tag *t)
{
    if (at_end(c))
        return fail(c, IPW_E_PROTOCOL, "document ends where an element was expected (truncated)");
    if (c->s[c->pos] != '<')
        return fail(c, IPW_E_PROTOCOL, "text where an element was expected");
    c->pos++;
    t->kind = TAG_OPEN;
    if (!at_end(c) && c->s[c->pos] == '/') {
        t->kind = TAG_CLOSE;
        c->pos++;
    }
    t->name = c->s + c->pos;
    while (!at_end(c) && name_char(c->s[c->pos]))
        c->pos++;
    t->nlen = (size_t)(c->s + c->pos - t->name);
    if (!t->nlen)
        return fail(c, IPW_E_PROTOCOL, "element without a name");
    /* attributes (plist version="1.0") are skipped, quotes respected */
    char quote = 0;
    for (; !at_end(c); c->pos++) {
        char ch = c->s[c->pos];
        if (quote) {
            if (ch == quote)
                quote = 0;
        } else if (ch == '"' || ch == '\'') {
            quote = ch;
        } else if (ch == '>') {
            if (c->pos > 0 && c->s[c->pos - 1] == '/' && t->kind == TAG_OPEN)
                t->kind = TAG_EMPTY;
            c->pos++;
            return 0;
        } else if (ch == '<') {
            break;
        }
    }
    return fail(c, IPW_E_PROTOCOL, "element not closed with '>' (truncated?)");
}

static bool tag_is(const struct tag *t, const char *name)
{
    return t->nlen == strlen(name) && memcmp(t->name, name, t->nlen) == 0;
}

static int expect_close(struct cur *c, const char *name)
{
    struct tag t;
    if (read_tag(c, &t))
        return -1;
    if (t.kind != TAG_CLOSE || !tag_is(&t, name)) {
        char what[64];
        snprintf(what, sizeof what, "expected </%s>", name);
        return fail(c, IPW_E_PROTOCOL, what);
    }
    return 0;
}

static int pool_put(struct cur *c, const char *bytes, size_t n)
{
    ipw_err e = ipw_buf_add(&c->p->pool, bytes, n);
    if (e != IPW_OK)
        return fail(c, e, e == IPW_E_RANGE ? "text too large" : "out of memory");
    return 0;
}

static int put_utf8(struct cur *c, unsigned long cp)
{
    char b[4];
    size_t n;
    if (cp < 0x80) {
        b[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        b[0] = (char)(0xC0 | (cp >> 6));
        b[1] = (char)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        b[0] = (char)(0xE0 | (cp >> 12));
        b[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        b[2] = (char)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        b[0] = (char)(0xF0 | (cp >> 18));
        b[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        b[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        b[3] = (char)(0x80 | (cp & 0x3F));
        n = 4;
    }
    return pool_put(c, b, n);
}

static int entity(struct cur *c)
{
    size_t start = c->pos; /* at '&' */
    size_t end = start + 1;
    while (end < c->len && end - start <= 12 && c->s[end] != ';')
        end++;
    if (end >= c->len || c->s[end] != ';')
        return fail(c, IPW_E_PROTOCOL, "entity not terminated by ';'");
    const char *e = c->s + start + 1;
    size_t n = end - start - 1;
    static const struct {
        const char *name;
        char ch;
    } named[] = {{"lt", '<'}, {"gt", '>'}, {"amp", '&'}, {"quot", '"'}, {"apos", '\''}};
    for (size_t i = 0; i < sizeof named / sizeof named[0]; i++) {
        if (n == strlen(named[i].name) && memcmp(e, named[i].name, n) == 0) {
            c->pos = end + 1;
            return pool_put(c, &named[i].ch, 1);
        }
    }
    if (n >= 2 && e[0] == '#') {
        bool hex = e[1] == 'x' || e[1] == 'X';
        size_t i = hex ? 2 : 1;
        unsigned long cp = 0;
        if (i == n)
            return fail(c, IPW_E_PROTOCOL, "empty character reference");
        for (; i < n; i++) {
            char ch = e[i];
            unsigned d;
            if (ch >= '0' && ch <= '9')
                d = (unsigned)(ch - '0');
            else if (hex && ch >= 'a' && ch <= 'f')
                d = (unsigned)(ch - 'a' + 10);
            else if (hex && ch >= 'A' && ch <= 'F')
                d = (unsigned)(ch - 'A' + 10);
            else
                return fail(c, IPW_E_PROTOCOL, "bad character reference");
            cp = cp * (hex ? 16 : 10) + d;
            if (cp > 0x10FFFF)
                return fail(c, IPW_E_PROTOCOL, "character reference out of range");
        }
        if (cp == 0 || (cp >= 0xD800 && cp <= 0xDFFF))
            return fail(c, IPW_E_PROTOCOL, "character reference to an invalid character");
        c->pos = end + 1;
        return put_utf8(c, cp);
    }
    return fail(c, IPW_E_PROTOCOL, "unknown entity");
}

/* Character data up to the next element, decoded into the pool; *off gets its start. */
static int text(struct cur *c, uint32_t *off)
{
    *off = (uint32_t)c->p->pool.len;
    for (;;) {
        if (at_end(c))
            return fail(c, IPW_E_PROTOCOL, "document ends inside text (truncated)");
        if (starts(c, "<![CDATA[")) {
            c->pos += 9;
            size_t from = c->pos;
            if (!skip_past(c, "]]>"))
                return fail(c, IPW_E_PROTOCOL, "CDATA section not closed");
            if (pool_put(c, c->s + from, c->pos - 3 - from))
                return -1;
            continue;
        }
        if (starts(c, "<!--")) {
            if (!skip_past(c, "-->"))
                return fail(c, IPW_E_PROTOCOL, "comment not closed");
            continue;
        }
        char ch = c->s[c->pos];
        if (ch == '<')
            break;
        if (ch == '&') {
            if (entity(c))
                return -1;
            continue;
        }
        if (ch == '\0')
            return fail(c, IPW_E_PROTOCOL, "NUL byte inside text");
        size_t from = c->pos;
        while (!at_end(c) && c->s[c->pos] != '<' && c->s[c->pos] != '&' && c->s[c->pos] != '\0')
            c->pos++;
        if (pool_put(c, c->s + from, c->pos - from))
            return -1;
    }
    return pool_put(c, "", 1);
}

static int new_node(struct cur *c, enum ipw_plist_type type, uint32_t key)
{
    struct ipw_plist *p = c->p;
    if (p->count == IPW_PLIST_MAX_NODES)
        return fail(c, IPW_E_RANGE, "more values than the plist reader allows");
    ipw_err e = ipw_grow(&p->n, &p->cap, p->count + 1, sizeof *p->n, IPW_PLIST_MAX_NODES);
    if (e != IPW_OK)
        return fail(c, e, "out of memory");
    struct node *n = &p->n[p->count];
    memset(n, 0, sizeof *n);
    n->type = (uint8_t)type;
    n->first = n->last = n->next = -1;
    n->key = key;
    n->text = NONE;
    return (int)p->count++;
}

static void append(struct ipw_plist *p, int parent, int child)
{
    struct node *par = &p->n[parent];
    if (par->first < 0)
        par->first = child;
    else
        p->n[par->last].next = child;
    par->last = child;
}

static int number(struct cur *c, int node, bool integer, uint32_t off)
{
    const char *s = c->p->pool.p + off;
    while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
        s++;
    char buf[80];
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' || s[n - 1] == '\r'))
        n--;
    if (n == 0 || n >= sizeof buf)
        return fail(c, IPW_E_PROTOCOL, integer ? "bad <integer>" : "bad <real>");
    memcpy(buf, s, n);
    buf[n] = '\0';
    char *end;
    double v;
    errno = 0;
    if (integer) {
        bool neg = buf[0] == '-';
        const char *digits = buf + (neg || buf[0] == '+');
        int base = digits[0] == '0' && (digits[1] == 'x' || digits[1] == 'X') ? 16 : 10;
        if (digits[0] == '-' || digits[0] == '+')
            return fail(c, IPW_E_PROTOCOL, "bad <integer>");
        unsigned long long u = strtoull(digits, &end, base);
        if (*end || end == digits || errno == ERANGE)
            return fail(c, IPW_E_PROTOCOL, "bad <integer>");
        v = neg ? -(double)u : (double)u;
    } else {
        v = strtod(buf, &end);
        if (*end || end == buf)
            return fail(c, IPW_E_PROTOCOL, "bad <real>");
    }
    c->p->n[node].num = v;
    /* the digits are not kept as text */
    ipw_buf_truncate(&c->p->pool, off);
    return 0;
}

static int value(struct cur *c, int depth, uint32_t key);

static int container(struct cur *c, int node, int depth, bool is_dict)
{
    for (;;) {
        if (skip_space(c))
            return -1;
        if (starts(c, "</")) {
            return expect_close(c, is_dict ? "dict" : "array");
        }
        uint32_t key = NONE;
        if (is_dict) {
            struct tag t;
            if (read_tag(c, &t))
                return -1;
            if (!tag_is(&t, "key") || t.kind == TAG_CLOSE)
                return fail(c, IPW_E_PROTOCOL, "expected <key> in <dict>");
            if (t.kind == TAG_EMPTY) {
                key = (uint32_t)c->p->pool.len;
                if (pool_put(c, "", 1))
                    return -1;
            } else if (text(c, &key) || expect_close(c, "key")) {
                return -1;
            }
            if (skip_space(c))
                return -1;
        }
        int child = value(c, depth + 1, key);
        if (child < 0)
            return -1;
        append(c->p, node, child);
    }
}

static int value(struct cur *c, int depth, uint32_t key)
{
    if (depth > IPW_PLIST_MAX_DEPTH)
        return fail(c, IPW_E_RANGE, "values nested deeper than the plist reader allows");
    if (skip_space(c))
        return -1;
    struct tag t;
    if (read_tag(c, &t))
        return -1;
    if (t.kind == TAG_CLOSE)
        return fail(c, IPW_E_PROTOCOL, "closing element where a value was expected");
    static const struct {
        const char *name;
        enum ipw_plist_type type;
    } kinds[] = {{"dict", IPW_PLIST_DICT},       {"array", IPW_PLIST_ARRAY},
                 {"string", IPW_PLIST_STRING},   {"real", IPW_PLIST_REAL},
                 {"integer", IPW_PLIST_INTEGER}, {"true", IPW_PLIST_TRUE},
                 {"false", IPW_PLIST_FALSE},     {"date", IPW_PLIST_DATE},
                 {"data", IPW_PLIST_DATA}};
    size_t k = 0;
    while (k < sizeof kinds / sizeof kinds[0] && !tag_is(&t, kinds[k].name))
        k++;
    if (k == sizeof kinds / sizeof kinds[0]) {
        char what[80];
        snprintf(what, sizeof what, "unknown element <%.*s> where a value was expected",
                 (int)(t.nlen > 32 ? 32 : t.nlen), t.name);
        return fail(c, IPW_E_PROTOCOL, what);
    }
    enum ipw_plist_type type = kinds[k].type;
    int node = new_node(c, type, key);
    if (node < 0)
        return -1;
    if (t.kind == TAG_EMPTY) {
        if (type == IPW_PLIST_REAL || type == IPW_PLIST_INTEGER)
            return fail(c, IPW_E_PROTOCOL, "empty number");
        if (type == IPW_PLIST_STRING || type == IPW_PLIST_DATE || type == IPW_PLIST_DATA) {
            c->p->n[node].text = (uint32_t)c->p->pool.len;
            if (pool_put(c, "", 1))
                return -1;
        }
        return node;
    }
    switch (type) {
    case IPW_PLIST_DICT:
    case IPW_PLIST_ARRAY:
        if (container(c, node, depth, type == IPW_PLIST_DICT))
            return -1;
        return node;
    case IPW_PLIST_TRUE:
    case IPW_PLIST_FALSE:
        if (skip_space(c) || expect_close(c, kinds[k].name))
            return -1;
        return node;
    default: break;
    }
    uint32_t off;
    if (text(c, &off) || expect_close(c, kinds[k].name))
        return -1;
    if (type == IPW_PLIST_REAL || type == IPW_PLIST_INTEGER) {
        if (number(c, node, type == IPW_PLIST_INTEGER, off))
            return -1;
    } else {
        c->p->n[node].text = off;
    }
    return node;
}

ipw_err ipw_plist_parse(const char *s, size_t len, struct ipw_plist **out, ipw_errbuf *eb)
{
    *out = NULL;
    if (len > IPW_PLIST_MAX_INPUT)
        return ipw_fail(eb, IPW_E_RANGE, "plist of %zu bytes exceeds the %zu-byte limit", len,
                        IPW_PLIST_MAX_INPUT);
    struct ipw_plist *p = calloc(1, sizeof *p);
    if (!p)
        return ipw_fail(eb, IPW_E_NOMEM, "out of memory parsing a plist");
    p->root = -1;
    ipw_buf_init(&p->pool, (size_t)UINT32_MAX - 1);
    struct cur c = {.s = s, .len = len, .p = p, .eb = eb};
    struct tag t;
    if (skip_prolog(&c) == 0 && read_tag(&c, &t) == 0) {
        if (t.kind != TAG_OPEN || !tag_is(&t, "plist")) {
            fail(&c, IPW_E_PROTOCOL, "expected <plist>");
        } else {
            p->root = value(&c, 1, NONE);
            if (p->root >= 0 && skip_space(&c) == 0 && expect_close(&c, "plist") == 0 &&
                skip_space(&c) == 0 && !at_end(&c))
                fail(&c, IPW_E_PROTOCOL, "data after </plist>");
        }
    }
    if (c.err != IPW_OK) {
        ipw_plist_free(p);
        return c.err;
    }
    *out = p;
    return IPW_OK;
}

void ipw_plist_free(struct ipw_plist *p)
{
    if (!p)
        return;
    free(p->n);
    ipw_buf_free(&p->pool);
    free(p);
}

static const struct node *get(const struct ipw_plist *p, int node)
{
    return p && node >= 0 && (size_t)node < p->count ? &p->n[node] : NULL;
}

int ipw_plist_root(const struct ipw_plist *p) { return p ? p->root : -1; }
size_t ipw_plist_node_count(const struct ipw_plist *p) { return p ? p->count : 0; }

enum ipw_plist_type ipw_plist_type(const struct ipw_plist *p, int node)
{
    const struct node *n = get(p, node);
    return n ? (enum ipw_plist_type)n->type : (enum ipw_plist_type)0;
}

int ipw_plist_dict_get(const struct ipw_plist *p, int dict, const char *key)
{
    const struct node *d = get(p, dict);
    if (!d || d->type != IPW_PLIST_DICT)
        return -1;
    int found = -1;
    for (int i = d->first; i >= 0; i = p->n[i].next)
        if (p->n[i].key != NONE && strcmp(p->pool.p + p->n[i].key, key) == 0)
            found = i;
    return found;
}

int ipw_plist_first(const struct ipw_plist *p, int container)
{
    const struct node *n = get(p, container);
    return n ? n->first : -1;
}

int ipw_plist_next(const struct ipw_plist *p, int node)
{
    const struct node *n = get(p, node);
    return n ? n->next : -1;
}

const char *ipw_plist_key(const struct ipw_plist *p, int node)
{
    const struct node *n = get(p, node);
    return n && n->key != NONE ? p->pool.p + n->key : NULL;
}

bool ipw_plist_number(const struct ipw_plist *p, int node, double *out)
{
    const struct node *n = get(p, node);
    if (!n || (n->type != IPW_PLIST_REAL && n->type != IPW_PLIST_INTEGER))
        return false;
    *out = n->num;
    return true;
}

const char *ipw_plist_text(const struct ipw_plist *p, int node)
{
    const struct node *n = get(p, node);
    return n && n->text != NONE ? p->pool.p + n->text : NULL;
}

const char *ipw_plist_type_name(enum ipw_plist_type t)
{
    switch (t) {
    case IPW_PLIST_DICT: return "dict";
    case IPW_PLIST_ARRAY: return "array";
    case IPW_PLIST_STRING: return "string";
    case IPW_PLIST_REAL: return "real";
    case IPW_PLIST_INTEGER: return "integer";
    case IPW_PLIST_TRUE: return "true";
    case IPW_PLIST_FALSE: return "false";
    case IPW_PLIST_DATE: return "date";
    case IPW_PLIST_DATA: return "data";
    }
    return "none";
}
