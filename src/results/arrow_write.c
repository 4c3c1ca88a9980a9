/* Arrow IPC stream writer: JSON rows are buffered column by column and emitted as record
 * batches (continuation marker, int32 metadata length, flatbuffer Message padded to 8, body of
 * 8-byte aligned buffers), then the end-of-stream marker. Memory is bounded by one batch and
 * one row (a row that starts the next batch is appended, then taken back before the flush). */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "results/arrow.h"
#include "ipw/buf.h"
#include "results/arrow_format.h"
#include "results/flatbuf.h"

struct wbuf {
    uint8_t *p;
    size_t len, cap;
};

struct wcol {
    const struct ipw_arrow_field *f;
    struct wbuf valid, values, offsets;
    int64_t length, null_count;
    size_t n_child;
    struct wcol *child;
    size_t name_len;
    size_t pos;    /* where its member was in the parent object last time (rows share a shape) */
    uint64_t seen; /* the object visit (writer's stamp) that gave this column its value */
    /* STRUCT only: the child whose member sat at each position of the previous row's object
     * (-1: none), this row's value at the positions that matched no child, and whether two
     * children share a name (then every child not matched is looked up by name) */
    int32_t *at;
    const json_t **val;
    size_t n_at;
    bool twins;
};

struct out_buf {
    const uint8_t *p;
    size_t len;
};

struct ipw_arrow_writer {
    struct ipw_arrow_field *schema;
    struct wcol root; /* children are the columns; the root itself is not emitted */
    size_t batch_rows, batch_bytes;
    size_t buf_rows, buf_bytes;
    ipw_arrow_sink_fn sink;
    void *ctx;
    struct fbb fbb;
    bool broken, finished;
    struct ipw_arrow_writer_stats st;
    /* per-batch scratch, sized once from the schema */
    size_t n_nodes, n_bufs;
    uint8_t *nodes, *bufs; /* FieldNode / Buffer structs, 16 bytes each */
    struct out_buf *out;
    uint64_t stamp; /* counts object visits, for wcol.seen */
};

static const uint8_t zeros[ARROW_ALIGN];

static size_t pad8(size_t n) { return (n + ARROW_ALIGN - 1) & ~(size_t)(ARROW_ALIGN - 1); }

static bool wbuf_reserve(struct wbuf *b, size_t more)
{
    if (more <= b->cap - b->len) /* the common case: room already there */
        return true;
    return more <= SIZE_MAX - b->len &&
           ipw_grow(&b->p, &b->cap, b->len + more, 1, SIZE_MAX) == IPW_OK;
}

static bool wbuf_put(struct wbuf *b, const void *p, size_t n)
{
    if (!wbuf_reserve(b, n))
        return false;
    if (n)
        memcpy(b->p + b->len, p, n);
    b->len += n;
    return true;
}

/* Sets bit `i` of a bitmap being filled in order (bits LSB first). */
static bool bit_put(struct wbuf *b, int64_t i, bool v)
{
    if (i % 8 == 0) {
        uint8_t z = 0;
        if (!wbuf_put(b, &z, 1))
            return false;
    }
    if (v)
        b->p[i / 8] |= (uint8_t)(1u << (i % 8));
    return true;
}

static void col_free(struct wcol *c)
{
    for (size_t i = 0; i < c->n_child; i++)
        col_free(&c->child[i]);
    free(c->child);
    free(c->at);
    free(c->val);
    free(c->valid.p);
    free(c->values.p);
    free(c->offsets.p);
}

static bool col_reset(struct wcol *c)
{
    c->valid.len = c->values.len = c->offsets.len = 0;
    c->length = c->null_count = 0;
    if (c->f->type == IPW_ARROW_UTF8) {
        int32_t zero = 0;
        if (!wbuf_put(&c->offsets, &zero, 4))
            return false;
    }
    for (size_t i = 0; i < c->n_child; i++)
        if (!col_reset(&c->child[i]))
            return false;
    return true;
}

static int by_name(const void *a, const void *b)
{
    return strcmp((*(const struct ipw_arrow_field *const *)a)->name,
                  (*(const struct ipw_arrow_field *const *)b)->name);
}

/* Whether two children of f share a name, into *twins; false when out of memory. */
static bool find_twins(const struct ipw_arrow_field *f, bool *twins)
{
    *twins = false;
    if (f->n_children < 2)
        return true;
    const struct ipw_arrow_field **v = malloc(f->n_children * sizeof *v);
    if (!v)
        return false;
    memcpy(v, f->children, f->n_children * sizeof *v);
    qsort(v, f->n_children, sizeof *v, by_name);
    for (size_t i = 1; i < f->n_children && !*twins; i++)
        *twins = strcmp(v[i - 1]->name, v[i]->name) == 0;
    free(v);
    return true;
}

static ipw_err col_init(struct wcol *c, const struct ipw_arrow_field *f, int depth,
                        ipw_errbuf *eb)
{
    memset(c, 0, sizeof *c);
    c->f = f;
    c->name_len = f->name ? strlen(f->name) : 0;
    if (depth > IPW_ARROW_MAX_DEPTH)
        return ipw_fail(eb, IPW_E_RANGE, "Arrow schema nests deeper than %d levels at field %s",
                        IPW_ARROW_MAX_DEPTH, f->name);
    switch (f->type) {
    case IPW_ARROW_NULL:
    case IPW_ARROW_BOOL:
    case IPW_ARROW_UTF8:
    case IPW_ARROW_STRUCT: break;
    case IPW_ARROW_INT:
        if (f->bit_width == 64 && f->is_signed)
            break;
        /* fall through */
    default:
        return ipw_fail(eb, IPW_E_UNSUPPORTED,
                        "the Arrow writer cannot write field %s of type %s; use null, bool, "
                        "int64, float64, utf8 or struct",
                        f->name, ipw_arrow_type_name(f));
    case IPW_ARROW_FLOAT:
        if (f->bit_width != 64)
            return ipw_fail(eb, IPW_E_UNSUPPORTED,
                            "the Arrow writer cannot write field %s of type %s; use float64",
                            f->name, ipw_arrow_type_name(f));
        break;
    }
    if (f->type != IPW_ARROW_STRUCT && f->n_children)
        return ipw_fail(eb, IPW_E_INVALID, "Arrow field %s of type %s cannot have children",
                        f->name, ipw_arrow_type_name(f));
    if (f->n_children) {
        c->child = calloc(f->n_children, sizeof *c->child);
        if (!c->child)
            return ipw_fail(eb, IPW_E_NOMEM, "out of memory building Arrow columns");
        c->n_child = f->n_children;
        for (size_t i = 0; i < f->n_children; i++) {
            ipw_err e = col_init(&c->child[i], f->children[i], depth + 1, eb);
            if (e != IPW_OK)
                return e;
        }
    }
    if (f->type == IPW_ARROW_STRUCT) {
        c->n_at = c->n_child + 16; /* room for a few members without a column among the others */
        c->at = malloc(c->n_at * sizeof *c->at);
        c->val = malloc(c->n_at * sizeof *c->val);
        if (!c->at || !c->val || !find_twins(f, &c->twins))
            return ipw_fail(eb, IPW_E_NOMEM, "out of memory building Arrow columns");
        for (size_t i = 0; i < c->n_at; i++)
            c->at[i] = -1;
    }
    return IPW_OK;
}

/* ---- appending a row -------------------------------------------------------------------------- */

/* A row is appended in one pass over its JSON, each object walked once in member order, each
 * value checked and appended to its column as it is met. A value of the wrong type stops the
 * pass and the columns are cut back to the rows before (col_cut): rows are almost always
 * valid, so checking the whole row first would read every value twice. */

struct path {
    const char *name[IPW_ARROW_MAX_DEPTH + 2];
    int n;
};

struct row_pass {
    struct ipw_arrow_writer *w;
    struct path p;  /* the STRUCT columns being walked, below the root */
    size_t bytes;   /* the row's share of the batch, counted as the batch_bytes bound wants */
    ipw_errbuf *eb;
};

static ipw_err bad_value(const struct row_pass *x, const struct ipw_arrow_field *f,
                         const json_t *v)
{
    char where[512] = "";
    size_t used = 0;
    for (int i = 0; i <= x->p.n && used < sizeof where; i++)
        used += (size_t)snprintf(where + used, sizeof where - used, "%s%s", i ? "." : "",
                                 i < x->p.n ? x->p.name[i] : f->name);
    static const char *const kinds[] = {"object", "array", "string", "integer",
                                        "real",   "true",  "false",  "null"};
    int t = json_typeof(v);
    return ipw_fail(x->eb, IPW_E_INVALID,
                    "Arrow column %s has type %s but the row gives a JSON %s; fix the value or "
                    "the schema",
                    where, ipw_arrow_type_name(f), t >= 0 && t < 8 ? kinds[t] : "value");
}

static ipw_err no_memory(struct row_pass *x)
{
    x->w->broken = true;
    return ipw_fail(x->eb, IPW_E_NOMEM, "out of memory buffering an Arrow row");
}

static bool real_is_int64(double d)
{
    return d == floor(d) && d >= -9223372036854775808.0 && d < 9223372036854775808.0;
}

static bool put8(struct wbuf *b, const void *v)
{
    if (!wbuf_reserve(b, 8))
        return false;
    memcpy(b->p + b->len, v, 8);
    b->len += 8;
    return true;
}

/* Compared inline: names are short, and a memcmp call per member was 5-7 % of the writer's time. */
static bool is_named(const struct wcol *c, const char *k, size_t kl)
{
    if (kl != c->name_len)
        return false;
    for (size_t i = 0; i < kl; i++)
        if (k[i] != c->f->name[i])
            return false;
    return true;
}

/* A null in column c (and in each child of a STRUCT: a null struct still takes their slot). */
static bool put_null(struct wcol *c)
{
    int64_t i = c->length++;
    c->null_count++;
    bool ok = true;
    switch (c->f->type) {
    case IPW_ARROW_NULL: return true;
    case IPW_ARROW_BOOL: ok = bit_put(&c->values, i, false); break;
    case IPW_ARROW_INT:
    case IPW_ARROW_FLOAT: ok = put8(&c->values, &(uint64_t){0}); break;
    case IPW_ARROW_UTF8: ok = wbuf_put(&c->offsets, &(int32_t){(int32_t)c->values.len}, 4); break;
    case IPW_ARROW_STRUCT:
        for (size_t k = 0; k < c->n_child && ok; k++)
            ok = put_null(&c->child[k]);
        break;
    default: break;
    }
    return ok && bit_put(&c->valid, i, false);
}

static ipw_err put_object(struct wcol *c, const json_t *o, struct row_pass *x);

/* Checks value v (NULL: absent) against column c and appends it. */
static ipw_err put(struct wcol *c, const json_t *v, struct row_pass *x)
{
    if (!v || json_is_null(v))
        return put_null(c) ? IPW_OK : no_memory(x);
    const struct ipw_arrow_field *f = c->f;
    int64_t i = c->length;
    bool ok = true;
    switch (f->type) {
    case IPW_ARROW_BOOL:
        if (!json_is_boolean(v))
            return bad_value(x, f, v);
        ok = bit_put(&c->values, i, json_is_true(v));
        break;
    case IPW_ARROW_INT: {
        int64_t n;
        if (json_is_integer(v))
            n = (int64_t)json_integer_value(v);
        else if (json_is_real(v) && real_is_int64(json_real_value(v)))
            n = (int64_t)json_real_value(v);
        else
            return bad_value(x, f, v);
        ok = put8(&c->values, &n);
        break;
    }
    case IPW_ARROW_FLOAT: {
        double d;
        if (json_is_real(v))
            d = json_real_value(v);
        else if (json_is_integer(v))
            d = (double)json_integer_value(v);
        else
            return bad_value(x, f, v);
        ok = put8(&c->values, &d);
        break;
    }
    case IPW_ARROW_UTF8: {
        if (!json_is_string(v))
            return bad_value(x, f, v);
        size_t n = json_string_length(v);
        if (n > IPW_ARROW_MAX_STRING)
            return ipw_fail(x->eb, IPW_E_RANGE,
                            "a value of Arrow column %s is %zu bytes, over the %zu-byte limit",
                            f->name, n, IPW_ARROW_MAX_STRING);
        x->bytes += n;
        ok = wbuf_put(&c->values, json_string_value(v), n) &&
             wbuf_put(&c->offsets, &(int32_t){(int32_t)c->values.len}, 4);
        break;
    }
    case IPW_ARROW_STRUCT: {
        if (!json_is_object(v))
            return bad_value(x, f, v);
        x->p.name[x->p.n++] = f->name;
        ipw_err e = put_object(c, v, x);
        x->p.n--;
        if (e != IPW_OK)
            return e;
        break;
    }
    default: return bad_value(x, f, v); /* IPW_ARROW_NULL: only null fits */
    }
    if (!ok || !bit_put(&c->valid, i, true))
        return no_memory(x);
    c->length++;
    return IPW_OK;
}

/* Appends object o's members to the children of STRUCT column c (not c's own slot). Rows come
 * from one builder, so a member sits where it sat in the previous row: the child found there
 * last time is tried with one key comparison. A member that matches no child that way waits in
 * c->val; each child left over is then looked up by name, and where it was found is
 * remembered. The members are a linked list: in a row that is not in the cache each link is a
 * miss, and the next link is only known once the previous one has arrived; so the next member
 * is prefetched before the current one's value is appended, which hides part of the wait.
 * (Following the whole list first, prefetching the values on the way, was slower.) */
static ipw_err put_object(struct wcol *c, const json_t *o, struct row_pass *x)
{
    uint64_t stamp = ++x->w->stamp;
    size_t m = 0, unmatched = 0;
    x->bytes += 8 * c->n_child;
    for (void *it = json_object_iter((json_t *)o), *next; it; it = next, m++) {
        next = json_object_iter_next((json_t *)o, it);
        if (next)
            __builtin_prefetch(next);
        const json_t *v = json_object_iter_value(it);
        int32_t g = m < c->n_at ? c->at[m] : -1;
        if (g >= 0 && is_named(&c->child[g], json_object_iter_key(it),
                               json_object_iter_key_len(it))) {
            c->child[g].seen = stamp;
            ipw_err e = put(&c->child[g], v, x);
            if (e != IPW_OK)
                return e;
            continue;
        }
        unmatched++;
        if (m < c->n_at) {
            c->at[m] = -1;
            c->val[m] = v;
        }
    }
    size_t kept = m < c->n_at ? m : c->n_at;
    for (size_t k = 0; k < c->n_child; k++) {
        struct wcol *ch = &c->child[k];
        if (ch->seen == stamp)
            continue;
        /* every member matched a child (and names are unique): this one is absent */
        const json_t *v = unmatched || c->twins ? json_object_get(o, ch->f->name) : NULL;
        for (size_t g = 0; v && g < kept; g++)
            if (c->at[g] < 0 && c->val[g] == v) {
                if (ch->pos < c->n_at && c->at[ch->pos] == (int32_t)k)
                    c->at[ch->pos] = -1;
                c->at[g] = (int32_t)k;
                ch->pos = g;
                break;
            }
        ipw_err e = put(ch, v, x);
        if (e != IPW_OK)
            return e;
    }
    return IPW_OK;
}

/* Cuts a bitmap back to its first n bits. */
static void bits_cut(struct wbuf *b, int64_t n)
{
    b->len = (size_t)(n + 7) / 8;
    if (n % 8)
        b->p[n / 8] &= (uint8_t)((1u << (n % 8)) - 1);
}

/* Cuts column c (and its children) back to its first n rows: a row refused half way. */
static void col_cut(struct wcol *c, int64_t n)
{
    for (size_t k = 0; k < c->n_child; k++)
        col_cut(&c->child[k], n);
    if (c->length <= n)
        return;
    c->length = n;
    switch (c->f->type) {
    case IPW_ARROW_NULL: c->null_count = n; return;
    case IPW_ARROW_BOOL: bits_cut(&c->values, n); break;
    case IPW_ARROW_INT:
    case IPW_ARROW_FLOAT: c->values.len = 8 * (size_t)n; break;
    case IPW_ARROW_UTF8: {
        int32_t end;
        memcpy(&end, c->offsets.p + 4 * n, 4);
        c->offsets.len = 4 * ((size_t)n + 1);
        c->values.len = (size_t)end;
        break;
    }
    default: break;
    }
    bits_cut(&c->valid, n);
    int64_t valid = 0;
    for (size_t i = 0; i < c->valid.len; i++)
        valid += __builtin_popcount(c->valid.p[i]);
    c->null_count = n - valid;
}

/* ---- flatbuffer metadata ------------------------------------------------------------------------ */

static uint32_t build_type(struct fbb *b, const struct ipw_arrow_field *f, uint8_t *tag)
{
    fbb_table_start(b);
    switch (f->type) {
    case IPW_ARROW_NULL: *tag = ARROW_T_NULL; break;
    case IPW_ARROW_BOOL: *tag = ARROW_T_BOOL; break;
    case IPW_ARROW_UTF8: *tag = ARROW_T_UTF8; break;
    case IPW_ARROW_STRUCT: *tag = ARROW_T_STRUCT; break;
    case IPW_ARROW_INT:
        *tag = ARROW_T_INT;
        fbb_add_i32(b, INT_BIT_WIDTH, 64);
        fbb_add_u8(b, INT_IS_SIGNED, 1);
        break;
    case IPW_ARROW_FLOAT:
        *tag = ARROW_T_FLOATING_POINT;
        fbb_add_i16(b, FLOATING_PRECISION, ARROW_DOUBLE);
        break;
    default: *tag = 0; break;
    }
    return fbb_table_end(b);
}

static uint32_t build_field(struct fbb *b, const struct ipw_arrow_field *f)
{
    uint32_t *kids = NULL;
    if (f->n_children) {
        kids = malloc(f->n_children * sizeof *kids);
        if (!kids) {
            b->failed = true;
            return 0;
        }
        for (size_t i = 0; i < f->n_children; i++)
            kids[i] = build_field(b, f->children[i]);
    }
    /* children is always present: Arrow C++ rejects a Field without it */
    uint32_t children = fbb_offset_vector(b, kids, f->n_children);
    free(kids);
    uint32_t name = fbb_string(b, f->name, strlen(f->name));
    uint8_t tag;
    uint32_t type = build_type(b, f, &tag);
    fbb_table_start(b);
    fbb_add_offset(b, FIELD_NAME, name);
    fbb_add_u8(b, FIELD_NULLABLE, f->nullable ? 1 : 0);
    fbb_add_u8(b, FIELD_TYPE_TYPE, tag);
    fbb_add_offset(b, FIELD_TYPE, type);
    fbb_add_offset(b, FIELD_CHILDREN, children);
    return fbb_table_end(b);
}

static uint32_t build_metadata(struct fbb *b, const json_t *md)
{
    size_t n = md ? json_object_size(md) : 0, i = 0;
    uint32_t *kv = malloc((n ? n : 1) * sizeof *kv);
    if (!kv) {
        b->failed = true;
        return 0;
    }
    const char *key;
    json_t *val;
    json_object_foreach((json_t *)md, key, val)
    {
        uint32_t k = fbb_string(b, key, strlen(key));
        uint32_t v = fbb_string(b, json_string_value(val), json_string_length(val));
        fbb_table_start(b);
        fbb_add_offset(b, KEYVALUE_KEY, k);
        fbb_add_offset(b, KEYVALUE_VALUE, v);
        kv[i++] = fbb_table_end(b);
    }
    uint32_t vec = fbb_offset_vector(b, kv, i);
    free(kv);
    return vec;
}

static uint32_t build_message(struct fbb *b, uint8_t header_type, uint32_t header,
                              int64_t body_len)
{
    fbb_table_start(b);
    fbb_add_i64(b, MESSAGE_BODY_LENGTH, body_len);
    fbb_add_offset(b, MESSAGE_HEADER, header);
    fbb_add_i16(b, MESSAGE_VERSION, ARROW_V5);
    fbb_add_u8(b, MESSAGE_HEADER_TYPE, header_type);
    return fbb_table_end(b);
}

static ipw_err out(struct ipw_arrow_writer *w, const void *p, size_t n, ipw_errbuf *eb)
{
    ipw_err e = w->sink(w->ctx, p, n, eb);
    if (e != IPW_OK)
        w->broken = true;
    else
        w->st.bytes += n;
    return e;
}

/* Frame and emit one message whose flatbuffer is being built in w->fbb with the given root. */
static ipw_err emit_message(struct ipw_arrow_writer *w, uint32_t root, ipw_errbuf *eb)
{
    const uint8_t *fb;
    size_t len;
    if (!fbb_finish(&w->fbb, root, &fb, &len)) {
        w->broken = true;
        return ipw_fail(eb, IPW_E_NOMEM,
                        "cannot build Arrow message metadata (out of memory or over %zu bytes)",
                        w->fbb.max_size);
    }
    size_t padded = pad8(len);
    uint8_t prefix[8];
    fb_wr32(prefix, ARROW_CONTINUATION);
    fb_wr32(prefix + 4, (uint32_t)padded);
    ipw_err e = out(w, prefix, 8, eb);
    if (e == IPW_OK)
        e = out(w, fb, len, eb);
    if (e == IPW_OK && padded > len)
        e = out(w, zeros, padded - len, eb);
    return e;
}

static ipw_err write_schema(struct ipw_arrow_writer *w, const json_t *md, ipw_errbuf *eb)
{
    struct fbb *b = &w->fbb;
    fbb_reset(b);
    uint32_t *cols = malloc((w->schema->n_children ? w->schema->n_children : 1) * sizeof *cols);
    if (!cols)
        return ipw_fail(eb, IPW_E_NOMEM, "out of memory building the Arrow schema");
    for (size_t i = 0; i < w->schema->n_children; i++)
        cols[i] = build_field(b, w->schema->children[i]);
    uint32_t fields = fbb_offset_vector(b, cols, w->schema->n_children);
    free(cols);
    uint32_t meta = md && json_object_size(md) ? build_metadata(b, md) : 0;
    fbb_table_start(b);
    fbb_add_i16(b, SCHEMA_ENDIANNESS, 0);
    fbb_add_offset(b, SCHEMA_FIELDS, fields);
    if (meta)
        fbb_add_offset(b, SCHEMA_CUSTOM_METADATA, meta);
    uint32_t schema = fbb_table_end(b);
    return emit_message(w, build_message(b, ARROW_MSG_SCHEMA, schema, 0), eb);
}

/* Lists nodes and buffers of a column and its children in pre-order. */
static void collect(struct ipw_arrow_writer *w, const struct wcol *c, size_t *ni, size_t *bi,
                    uint64_t *body)
{
    uint8_t *node = w->nodes + 16 * (*ni)++;
    fb_wr64(node, (uint64_t)c->length);
    fb_wr64(node + 8, (uint64_t)c->null_count);
    const struct out_buf none = {NULL, 0};
    struct out_buf b[3];
    size_t nb = 0;
    size_t bitmap = (size_t)(c->length + 7) / 8;
    switch (c->f->type) {
    case IPW_ARROW_NULL: break;
    case IPW_ARROW_STRUCT:
        b[nb++] = c->null_count ? (struct out_buf){c->valid.p, bitmap} : none;
        break;
    case IPW_ARROW_UTF8:
        b[nb++] = c->null_count ? (struct out_buf){c->valid.p, bitmap} : none;
        b[nb++] = (struct out_buf){c->offsets.p, c->offsets.len};
        b[nb++] = (struct out_buf){c->values.p, c->values.len};
        break;
    case IPW_ARROW_BOOL:
        b[nb++] = c->null_count ? (struct out_buf){c->valid.p, bitmap} : none;
        b[nb++] = (struct out_buf){c->values.p, bitmap};
        break;
    default:
        b[nb++] = c->null_count ? (struct out_buf){c->valid.p, bitmap} : none;
        b[nb++] = (struct out_buf){c->values.p, c->values.len};
        break;
    }
    for (size_t k = 0; k < nb; k++) {
        uint8_t *d = w->bufs + 16 * *bi;
        fb_wr64(d, *body);
        fb_wr64(d + 8, b[k].len);
        w->out[(*bi)++] = b[k];
        *body += pad8(b[k].len);
    }
    for (size_t k = 0; k < c->n_child; k++)
        collect(w, &c->child[k], ni, bi, body);
}

static size_t count_bufs(const struct ipw_arrow_field *f)
{
    size_t n = 0;
    switch (f->type) {
    case IPW_ARROW_NULL: n = 0; break;
    case IPW_ARROW_STRUCT: n = 1; break;
    case IPW_ARROW_UTF8: n = 3; break;
    default: n = 2; break;
    }
    for (size_t i = 0; i < f->n_children; i++)
        n += count_bufs(f->children[i]);
    return n;
}

ipw_err ipw_arrow_writer_flush(struct ipw_arrow_writer *w, ipw_errbuf *eb)
{
    if (w->broken || w->finished)
        return ipw_fail(eb, IPW_E_INVALID, "the Arrow writer is %s",
                        w->finished ? "finished" : "in error after an earlier failure");
    if (w->buf_rows == 0)
        return IPW_OK;
    size_t ni = 0, bi = 0;
    uint64_t body = 0;
    for (size_t k = 0; k < w->root.n_child; k++)
        collect(w, &w->root.child[k], &ni, &bi, &body);

    struct fbb *b = &w->fbb;
    fbb_reset(b);
    uint32_t nodes = fbb_vector(b, w->nodes, ni, 16, 8);
    uint32_t bufs = fbb_vector(b, w->bufs, bi, 16, 8);
    fbb_table_start(b);
    fbb_add_i64(b, BATCH_LENGTH, (int64_t)w->buf_rows);
    fbb_add_offset(b, BATCH_NODES, nodes);
    fbb_add_offset(b, BATCH_BUFFERS, bufs);
    uint32_t batch = fbb_table_end(b);
    ipw_err e = emit_message(w, build_message(b, ARROW_MSG_RECORD_BATCH, batch, (int64_t)body),
                             eb);
    for (size_t k = 0; k < bi && e == IPW_OK; k++) {
        if (w->out[k].len)
            e = out(w, w->out[k].p, w->out[k].len, eb);
        size_t pad = pad8(w->out[k].len) - w->out[k].len;
        if (e == IPW_OK && pad)
            e = out(w, zeros, pad, eb);
    }
    if (e != IPW_OK)
        return e;
    w->st.batches++;
    w->buf_rows = w->buf_bytes = 0;
    if (!col_reset(&w->root)) {
        w->broken = true;
        return ipw_fail(eb, IPW_E_NOMEM, "out of memory resetting Arrow columns");
    }
    return IPW_OK;
}

ipw_err ipw_arrow_writer_new(const struct ipw_arrow_field *schema, const json_t *metadata,
                             const struct ipw_arrow_writer_options *opt, ipw_arrow_sink_fn sink,
                             void *sink_ctx, struct ipw_arrow_writer **outp, ipw_errbuf *eb)
{
    *outp = NULL;
    if (!schema || schema->type != IPW_ARROW_STRUCT || !sink)
        return ipw_fail(eb, IPW_E_INVALID,
                        "an Arrow schema must be a struct field whose children are the columns");
    if (metadata) {
        if (!json_is_object(metadata))
            return ipw_fail(eb, IPW_E_INVALID, "Arrow schema metadata must be a JSON object");
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)metadata, k, v)
        {
            if (!json_is_string(v))
                return ipw_fail(eb, IPW_E_INVALID,
                                "Arrow schema metadata value for key %s is not a string", k);
        }
    }
    if (ipw_arrow_field_count(schema) > IPW_ARROW_MAX_FIELDS)
        return ipw_fail(eb, IPW_E_RANGE, "Arrow schema has more than %d fields",
                        IPW_ARROW_MAX_FIELDS);
    struct ipw_arrow_writer *w = calloc(1, sizeof *w);
    if (!w)
        return ipw_fail(eb, IPW_E_NOMEM, "out of memory creating the Arrow writer");
    fbb_init(&w->fbb, (size_t)1 << 30);
    w->sink = sink;
    w->ctx = sink_ctx;
    w->batch_rows = opt && opt->batch_rows ? opt->batch_rows : 1000;
    w->batch_bytes = opt && opt->batch_bytes ? opt->batch_bytes : (size_t)64 << 20;
    if (w->batch_bytes > IPW_ARROW_MAX_STRING)
        w->batch_bytes = IPW_ARROW_MAX_STRING;
    ipw_err e = IPW_OK;
    w->schema = ipw_arrow_field_copy(schema);
    if (!w->schema)
        e = ipw_fail(eb, IPW_E_NOMEM, "out of memory copying the Arrow schema");
    if (e == IPW_OK)
        e = col_init(&w->root, w->schema, 0, eb);
    if (e == IPW_OK) {
        w->n_nodes = ipw_arrow_field_count(w->schema) - 1;
        w->n_bufs = count_bufs(w->schema) - 1;
        w->nodes = malloc(16 * (w->n_nodes + 1));
        w->bufs = malloc(16 * (w->n_bufs + 1));
        w->out = malloc(sizeof *w->out * (w->n_bufs + 1));
        if (!w->nodes || !w->bufs || !w->out || !col_reset(&w->root))
            e = ipw_fail(eb, IPW_E_NOMEM, "out of memory creating the Arrow writer");
    }
    if (e == IPW_OK)
        e = write_schema(w, metadata, eb);
    if (e != IPW_OK) {
        ipw_arrow_writer_free(w);
        return e;
    }
    *outp = w;
    return IPW_OK;
}

ipw_err ipw_arrow_writer_append(struct ipw_arrow_writer *w, const json_t *row, ipw_errbuf *eb)
{
    if (w->broken || w->finished)
        return ipw_fail(eb, IPW_E_INVALID, "the Arrow writer is %s",
                        w->finished ? "finished" : "in error after an earlier failure");
    if (!json_is_object(row))
        return ipw_fail(eb, IPW_E_INVALID, "an Arrow row must be a JSON object");
    struct row_pass x = {.w = w, .eb = eb};
    ipw_err e = put_object(&w->root, row, &x);
    if (e == IPW_OK && w->buf_rows && w->buf_bytes + x.bytes > w->batch_bytes) {
        /* the row starts the next batch: taken back, the batch emitted, the row put again */
        col_cut(&w->root, (int64_t)w->buf_rows);
        e = ipw_arrow_writer_flush(w, eb);
        x.bytes = 0;
        if (e == IPW_OK)
            e = put_object(&w->root, row, &x);
    }
    if (e != IPW_OK) {
        if (!w->broken)
            col_cut(&w->root, (int64_t)w->buf_rows);
        return e;
    }
    w->buf_rows++;
    w->buf_bytes += x.bytes;
    w->st.rows++;
    if (w->buf_rows >= w->batch_rows || w->buf_bytes >= w->batch_bytes)
        return ipw_arrow_writer_flush(w, eb);
    return IPW_OK;
}

ipw_err ipw_arrow_writer_copy_batches(struct ipw_arrow_writer *w, const uint8_t *data, size_t len,
                                      uint64_t rows, uint64_t batches, ipw_errbuf *eb)
{
    ipw_err e = ipw_arrow_writer_flush(w, eb);
    if (e != IPW_OK)
        return e;
    if (len % ARROW_ALIGN)
        return ipw_fail(eb, IPW_E_INVALID, "copied Arrow batches must span a multiple of 8 bytes");
    if (len && (e = out(w, data, len, eb)) != IPW_OK)
        return e;
    w->st.rows += rows;
    w->st.batches += batches;
    return IPW_OK;
}

ipw_err ipw_arrow_writer_finish(struct ipw_arrow_writer *w, ipw_errbuf *eb)
{
    ipw_err e = ipw_arrow_writer_flush(w, eb);
    if (e != IPW_OK)
        return e;
    uint8_t eos[8];
    fb_wr32(eos, ARROW_CONTINUATION);
    fb_wr32(eos + 4, 0);
    e = out(w, eos, 8, eb);
    w->finished = true;
    return e;
}

void ipw_arrow_writer_stats(const struct ipw_arrow_writer *w, struct ipw_arrow_writer_stats *st)
{
    *st = w->st;
}

void ipw_arrow_writer_free(struct ipw_arrow_writer *w)
{
    if (!w)
        return;
    if (w->schema)
        col_free(&w->root);
    ipw_arrow_field_free(w->schema);
    fbb_free(&w->fbb);
    free(w->nodes);
    free(w->bufs);
    free(w->out);
    free(w);
}
