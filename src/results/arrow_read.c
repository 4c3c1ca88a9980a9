/* Arrow IPC stream reader: validates every message (framing, flatbuffer bounds, field nodes,
 * buffer bounds and alignment, null counts, offsets, UTF-8) before any value is read, and turns
 * record batches into JSON rows. Hostile input gives an error, never a crash.
 * One file on purpose: the validation of a message and the reading of its values must agree
 * on every bound, and keeping them side by side is what makes that checkable (and fuzzed as
 * one unit, fuzz_arrow_read). */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "results/arrow.h"
#include "results/arrow_format.h"
#include "results/flatbuf.h"
#include "ipw/utf8.h"

struct rcol {
    const struct ipw_arrow_field *f;
    int64_t length, null_count;
    const uint8_t *valid; /* NULL when the column has no nulls */
    const uint8_t *values;
    size_t values_len;
    const uint8_t *offsets;
    size_t n_child;
    struct rcol *child;
};

struct ipw_arrow_batch {
    struct ipw_arrow_reader *r;
    int64_t length;
    struct rcol root;
};

struct ipw_arrow_reader {
    const uint8_t *data;
    size_t len, pos;
    void *map;
    size_t map_len;
    struct ipw_arrow_field *schema;
    json_t *metadata;
    struct ipw_arrow_read_limits lim;
    uint64_t cells, batches;
    bool eos, done;
};

struct msg {
    struct fb_table header;
    uint8_t type;
    const uint8_t *body;
    size_t body_len;
    size_t offset; /* of the message in the input, for error messages */
};

/* ---- UTF-8 ------------------------------------------------------------------------------------ */

/* ---- schema ------------------------------------------------------------------------------------ */

static const char *type_tag_name(uint8_t t)
{
    static const char *const names[] = {
        "NONE",      "Null",     "Int",      "FloatingPoint", "Binary",    "Utf8",
        "Bool",      "Decimal",  "Date",     "Time",          "Timestamp", "Interval",
        "List",      "Struct_",  "Union",    "FixedSizeBinary", "FixedSizeList", "Map",
        "Duration",  "LargeBinary", "LargeUtf8", "LargeList", "RunEndEncoded", "BinaryView",
        "Utf8View",  "ListView", "LargeListView"};
    return t < sizeof names / sizeof *names ? names[t] : "unknown";
}

static ipw_err bad(ipw_errbuf *eb, const char *what, size_t at)
{
    return ipw_fail(eb, IPW_E_INVALID,
                    "malformed Arrow IPC data at byte %zu: %s; the file is damaged or not an "
                    "Arrow stream",
                    at, what);
}

static ipw_err parse_field(const struct fb_table *t, int depth, size_t *count, size_t at,
                           struct ipw_arrow_field **out, ipw_errbuf *eb)
{
    *out = NULL;
    if (++*count > IPW_ARROW_MAX_FIELDS)
        return ipw_fail(eb, IPW_E_RANGE, "Arrow schema has more than %d fields",
                        IPW_ARROW_MAX_FIELDS);
    if (depth > IPW_ARROW_MAX_DEPTH)
        return ipw_fail(eb, IPW_E_RANGE, "Arrow schema nests deeper than %d levels",
                        IPW_ARROW_MAX_DEPTH);
    const char *name;
    uint32_t name_len;
    bool nullable;
    uint8_t tag;
    struct fb_table type, dict;
    struct fb_vec kids;
    if (fb_string(t, FIELD_NAME, &name, &name_len) < 0 ||
        fb_bool(t, FIELD_NULLABLE, false, &nullable) < 0 ||
        fb_u8(t, FIELD_TYPE_TYPE, 0, &tag) < 0 || fb_vector(t, FIELD_CHILDREN, 4, 4, &kids) < 0)
        return bad(eb, "a schema field's metadata is out of bounds", at);
    if (strlen(name) != name_len || !ipw_utf8_valid((const uint8_t *)name, name_len))
        return bad(eb, "a field name is not NUL-free UTF-8", at);
    int has_type = fb_table(t, FIELD_TYPE, &type);
    int has_dict = fb_table(t, FIELD_DICTIONARY, &dict);
    if (has_type < 0 || has_dict < 0)
        return bad(eb, "a schema field's type is out of bounds", at);
    if (has_dict)
        return ipw_fail(eb, IPW_E_UNSUPPORTED,
                        "Arrow field %s is dictionary-encoded, which ipw does not read", name);

    enum ipw_arrow_type ty;
    uint8_t width = 0;
    bool is_signed = false;
    switch (tag) {
    case ARROW_T_NULL: ty = IPW_ARROW_NULL; break;
    case ARROW_T_BOOL: ty = IPW_ARROW_BOOL; break;
    case ARROW_T_UTF8: ty = IPW_ARROW_UTF8; break;
    case ARROW_T_LARGE_UTF8: ty = IPW_ARROW_LARGE_UTF8; break;
    case ARROW_T_STRUCT: ty = IPW_ARROW_STRUCT; break;
    case ARROW_T_LIST: ty = IPW_ARROW_LIST; break;
    case ARROW_T_LARGE_LIST: ty = IPW_ARROW_LARGE_LIST; break;
    case ARROW_T_INT: {
        int32_t bw;
        if (!has_type || fb_i32(&type, INT_BIT_WIDTH, 0, &bw) < 0 ||
            fb_bool(&type, INT_IS_SIGNED, false, &is_signed) < 0)
            return bad(eb, "an Int type table is missing or out of bounds", at);
        if (bw != 8 && bw != 16 && bw != 32 && bw != 64)
            return bad(eb, "an Int type has a bit width other than 8, 16, 32 or 64", at);
        ty = IPW_ARROW_INT;
        width = (uint8_t)bw;
        break;
    }
    case ARROW_T_FLOATING_POINT: {
        int16_t prec;
        if (!has_type || fb_i16(&type, FLOATING_PRECISION, 0, &prec) < 0)
            return bad(eb, "a FloatingPoint type table is missing or out of bounds", at);
        if (prec < ARROW_HALF || prec > ARROW_DOUBLE)
            return bad(eb, "a FloatingPoint type has an unknown precision", at);
        ty = IPW_ARROW_FLOAT;
        width = prec == ARROW_HALF ? 16 : prec == ARROW_SINGLE ? 32 : 64;
        break;
    }
    default:
        return ipw_fail(eb, IPW_E_UNSUPPORTED,
                        "Arrow field %s has type %s (%u), which ipw does not read; supported: "
                        "null, bool, int, float, utf8, large_utf8, struct, list, large_list",
                        name, type_tag_name(tag), tag);
    }
    bool nested = ty == IPW_ARROW_STRUCT || ty == IPW_ARROW_LIST || ty == IPW_ARROW_LARGE_LIST;
    if (!nested && kids.n)
        return bad(eb, "a field of a primitive type has children", at);
    if ((ty == IPW_ARROW_LIST || ty == IPW_ARROW_LARGE_LIST) && kids.n != 1)
        return bad(eb, "a list field does not have exactly one child", at);

    struct ipw_arrow_field *f = ipw_arrow_field_new("", ty);
    char *nm = malloc((size_t)name_len + 1);
    if (!f || !nm) {
        free(nm);
        ipw_arrow_field_free(f);
        return ipw_fail(eb, IPW_E_NOMEM, "out of memory reading an Arrow schema");
    }
    memcpy(nm, name, name_len);
    nm[name_len] = '\0';
    free(f->name);
    f->name = nm;
    f->nullable = nullable;
    f->bit_width = width;
    f->is_signed = is_signed;
    for (uint32_t i = 0; i < kids.n; i++) {
        struct fb_table kt;
        struct ipw_arrow_field *k;
        if (fb_vec_table(&kids, i, &kt) < 0) {
            ipw_arrow_field_free(f);
            return bad(eb, "a child field is out of bounds", at);
        }
        ipw_err e = parse_field(&kt, depth + 1, count, at, &k, eb);
        if (e == IPW_OK)
            e = ipw_arrow_field_adopt(f, k, eb);
        if (e != IPW_OK) {
            ipw_arrow_field_free(f);
            return e;
        }
    }
    *out = f;
    return IPW_OK;
}

static ipw_err parse_metadata(const struct fb_table *t, unsigned id, json_t *md, size_t at,
                              ipw_errbuf *eb)
{
    struct fb_vec v;
    if (fb_vector(t, id, 4, 4, &v) < 0)
        return bad(eb, "custom_metadata is out of bounds", at);
    for (uint32_t i = 0; i < v.n; i++) {
        struct fb_table kv;
        const char *k, *val;
        uint32_t kl, vl;
        if (fb_vec_table(&v, i, &kv) < 0 || fb_string(&kv, KEYVALUE_KEY, &k, &kl) < 0 ||
            fb_string(&kv, KEYVALUE_VALUE, &val, &vl) < 0)
            return bad(eb, "a custom_metadata entry is out of bounds", at);
        if (strlen(k) != kl || !ipw_utf8_valid((const uint8_t *)k, kl) ||
            !ipw_utf8_valid((const uint8_t *)val, vl))
            return bad(eb, "a custom_metadata entry is not UTF-8", at);
        if (json_object_set_new(md, k, json_stringn_nocheck(val, vl)) != 0)
            return ipw_fail(eb, IPW_E_NOMEM, "out of memory reading Arrow metadata");
    }
    return IPW_OK;
}

/* ---- messages ---------------------------------------------------------------------------------- */

/* 1: a message in *m; 0: end of stream; error otherwise (returned through *err). */
static int next_message(struct ipw_arrow_reader *r, struct msg *m, ipw_err *err, ipw_errbuf *eb)
{
    *err = IPW_OK;
    if (r->done)
        return 0;
    size_t pos = r->pos, left = r->len - pos;
    if (left == 0) {
        r->done = true;
        return 0;
    }
    if (left < 8) {
        *err = bad(eb, "the stream ends inside a message prefix", pos);
        return -1;
    }
    if (fb_rd32(r->data + pos) != ARROW_CONTINUATION) {
        *err = bad(eb,
                   "no continuation marker FFFFFFFF (pre-0.15 streams without it are not read)",
                   pos);
        return -1;
    }
    uint32_t mlen = fb_rd32(r->data + pos + 4);
    if (mlen == 0) {
        r->pos += 8;
        r->eos = r->done = true;
        return 0;
    }
    if (mlen % ARROW_ALIGN) {
        *err = bad(eb, "the metadata length is not a multiple of 8", pos);
        return -1;
    }
    if (mlen > 0x7FFFFFFFu || mlen > r->lim.max_metadata) {
        *err = ipw_fail(eb, IPW_E_RANGE,
                        "Arrow message at byte %zu has %u bytes of metadata, over the %u-byte "
                        "limit",
                        pos, mlen, r->lim.max_metadata);
        return -1;
    }
    if (mlen > left - 8) {
        *err = bad(eb, "the stream ends inside message metadata", pos);
        return -1;
    }
    const uint8_t *meta = r->data + pos + 8;
    struct fb_table root;
    int16_t version;
    int64_t body_len;
    if (fb_root(meta, mlen, &root) < 0 || fb_i16(&root, MESSAGE_VERSION, 0, &version) < 0 ||
        fb_u8(&root, MESSAGE_HEADER_TYPE, 0, &m->type) < 0 ||
        fb_i64(&root, MESSAGE_BODY_LENGTH, 0, &body_len) < 0) {
        *err = bad(eb, "the Message flatbuffer is out of bounds", pos);
        return -1;
    }
    if (version != ARROW_V4 && version != ARROW_V5) {
        *err = ipw_fail(eb, IPW_E_UNSUPPORTED,
                        "Arrow message at byte %zu has metadata version V%d; ipw reads V4 and V5",
                        pos, version + 1);
        return -1;
    }
    if (fb_table(&root, MESSAGE_HEADER, &m->header) != 1) {
        *err = bad(eb, "the message header is missing or out of bounds", pos);
        return -1;
    }
    size_t body_at = pos + 8 + mlen;
    if (body_len < 0 || body_len % ARROW_ALIGN || (uint64_t)body_len > r->len - body_at) {
        *err = bad(eb, "the body length is negative, unaligned or past the end of the data", pos);
        return -1;
    }
    m->body = r->data + body_at;
    m->body_len = (size_t)body_len;
    m->offset = pos;
    r->pos = body_at + (size_t)body_len;
    return 1;
}

static ipw_err read_schema(struct ipw_arrow_reader *r, ipw_errbuf *eb)
{
    struct msg m;
    ipw_err e;
    int got = next_message(r, &m, &e, eb);
    if (got < 0)
        return e;
    if (got == 0)
        return ipw_fail(eb, IPW_E_INVALID, "the Arrow stream has no schema message");
    if (m.type != ARROW_MSG_SCHEMA)
        return bad(eb, "the first message is not a Schema", m.offset);
    int16_t endian;
    struct fb_vec fields;
    if (fb_i16(&m.header, SCHEMA_ENDIANNESS, 0, &endian) < 0 ||
        fb_vector(&m.header, SCHEMA_FIELDS, 4, 4, &fields) < 0)
        return bad(eb, "the Schema flatbuffer is out of bounds", m.offset);
    if (endian != 0)
        return ipw_fail(eb, IPW_E_UNSUPPORTED, "the Arrow stream is big-endian; ipw reads "
                                               "little-endian streams only");
    r->metadata = json_object();
    r->schema = ipw_arrow_field_new("", IPW_ARROW_STRUCT);
    if (!r->metadata || !r->schema)
        return ipw_fail(eb, IPW_E_NOMEM, "out of memory reading an Arrow schema");
    e = parse_metadata(&m.header, SCHEMA_CUSTOM_METADATA, r->metadata, m.offset, eb);
    size_t count = 1;
    for (uint32_t i = 0; i < fields.n && e == IPW_OK; i++) {
        struct fb_table ft;
        struct ipw_arrow_field *f;
        if (fb_vec_table(&fields, i, &ft) < 0)
            return bad(eb, "a schema field is out of bounds", m.offset);
        e = parse_field(&ft, 1, &count, m.offset, &f, eb);
        if (e == IPW_OK)
            e = ipw_arrow_field_adopt(r->schema, f, eb);
    }
    return e;
}

/* ---- record batches ---------------------------------------------------------------------------- */

struct bind_ctx {
    const struct msg *m;
    struct fb_vec nodes, bufs;
    uint32_t ni, bi;
    int64_t max_rows;
    ipw_errbuf *eb;
};

static ipw_err take_buffer(struct bind_ctx *c, const uint8_t **p, size_t *len)
{
    const uint8_t *d = fb_vec_elem(&c->bufs, c->bi++);
    if (!d)
        return bad(c->eb, "the record batch has fewer buffers than its schema needs",
                   c->m->offset);
    int64_t off = (int64_t)fb_rd64(d), n = (int64_t)fb_rd64(d + 8);
    if (off < 0 || n < 0 || off % ARROW_ALIGN || (uint64_t)off > c->m->body_len ||
        (uint64_t)n > c->m->body_len - (uint64_t)off)
        return bad(c->eb, "a buffer lies outside the message body or is not 8-byte aligned",
                   c->m->offset);
    *p = c->m->body + off;
    *len = (size_t)n;
    return IPW_OK;
}

static int64_t count_nulls(const uint8_t *bits, int64_t n)
{
    int64_t set = 0, full = n / 8;
    for (int64_t i = 0; i < full; i++)
        set += __builtin_popcount(bits[i]);
    for (int64_t i = full * 8; i < n; i++)
        set += (bits[i / 8] >> (i % 8)) & 1;
    return n - set;
}

static bool is_valid(const struct rcol *c, int64_t i)
{
    return !c->valid || ((c->valid[i / 8] >> (i % 8)) & 1);
}

static int64_t offset_at(const struct rcol *c, int64_t i)
{
    bool large = c->f->type == IPW_ARROW_LARGE_UTF8 || c->f->type == IPW_ARROW_LARGE_LIST;
    return large ? (int64_t)fb_rd64(c->offsets + 8 * i) : (int32_t)fb_rd32(c->offsets + 4 * i);
}

/* Offsets: length+1 entries, non-decreasing, within [0, limit]. */
static ipw_err check_offsets(struct bind_ctx *c, struct rcol *col, const uint8_t *p, size_t len,
                             uint64_t limit)
{
    size_t w = col->f->type == IPW_ARROW_LARGE_UTF8 || col->f->type == IPW_ARROW_LARGE_LIST ? 8
                                                                                          : 4;
    if (col->length == 0 && len == 0) {
        col->offsets = NULL;
        return IPW_OK;
    }
    if (len / w < (uint64_t)col->length + 1)
        return bad(c->eb, "an offsets buffer is shorter than its column", c->m->offset);
    col->offsets = p;
    int64_t prev = offset_at(col, 0);
    if (prev < 0 || (uint64_t)prev > limit)
        return bad(c->eb, "an offset is out of range", c->m->offset);
    for (int64_t i = 1; i <= col->length; i++) {
        int64_t o = offset_at(col, i);
        if (o < prev || (uint64_t)o > limit)
            return bad(c->eb, "offsets decrease or run past their data", c->m->offset);
        prev = o;
    }
    return IPW_OK;
}

static ipw_err bind(struct bind_ctx *c, struct rcol *col, const struct ipw_arrow_field *f)
{
    memset(col, 0, sizeof *col);
    col->f = f;
    const uint8_t *node = fb_vec_elem(&c->nodes, c->ni++);
    if (!node)
        return bad(c->eb, "the record batch has fewer field nodes than its schema has fields",
                   c->m->offset);
    col->length = (int64_t)fb_rd64(node);
    col->null_count = (int64_t)fb_rd64(node + 8);
    if (col->length < 0 || col->length > c->max_rows)
        return ipw_fail(c->eb, IPW_E_RANGE,
                        "Arrow column %s has %lld values in one batch (limit %lld) at byte %zu",
                        f->name, (long long)col->length, (long long)c->max_rows, c->m->offset);
    if (col->null_count < 0 || col->null_count > col->length)
        return bad(c->eb, "a null count is negative or larger than its column", c->m->offset);
    ipw_err e;
    const uint8_t *p;
    size_t len;
    size_t bitmap = (size_t)(col->length + 7) / 8;
    if (f->type == IPW_ARROW_NULL)
        return IPW_OK; /* no buffers in the IPC format; every value is null */

    if ((e = take_buffer(c, &p, &len)) != IPW_OK)
        return e;
    if (len == 0) {
        if (col->null_count)
            return bad(c->eb, "a column has nulls but no validity bitmap", c->m->offset);
    } else {
        if (len < bitmap)
            return bad(c->eb, "a validity bitmap is shorter than its column", c->m->offset);
        if (count_nulls(p, col->length) != col->null_count)
            return bad(c->eb, "a null count disagrees with its validity bitmap", c->m->offset);
        col->valid = col->null_count ? p : NULL;
    }

    switch (f->type) {
    case IPW_ARROW_BOOL:
    case IPW_ARROW_INT:
    case IPW_ARROW_FLOAT: {
        if ((e = take_buffer(c, &p, &len)) != IPW_OK)
            return e;
        size_t need = f->type == IPW_ARROW_BOOL ? bitmap : (size_t)col->length * (f->bit_width / 8);
        if (len < need)
            return bad(c->eb, "a values buffer is shorter than its column", c->m->offset);
        col->values = p;
        col->values_len = len;
        return IPW_OK;
    }
    case IPW_ARROW_UTF8:
    case IPW_ARROW_LARGE_UTF8: {
        const uint8_t *op, *dp;
        size_t olen, dlen;
        if ((e = take_buffer(c, &op, &olen)) != IPW_OK || (e = take_buffer(c, &dp, &dlen)) != IPW_OK)
            return e;
        col->values = dp;
        col->values_len = dlen;
        if ((e = check_offsets(c, col, op, olen, dlen)) != IPW_OK)
            return e;
        for (int64_t i = 0; i < col->length; i++) {
            if (!is_valid(col, i))
                continue;
            int64_t a = offset_at(col, i), b = offset_at(col, i + 1);
            if (!ipw_utf8_valid(dp + a, (size_t)(b - a)))
                return bad(c->eb, "a string value is not valid UTF-8", c->m->offset);
        }
        return IPW_OK;
    }
    case IPW_ARROW_LIST:
    case IPW_ARROW_LARGE_LIST: {
        const uint8_t *op;
        size_t olen;
        if ((e = take_buffer(c, &op, &olen)) != IPW_OK)
            return e;
        col->child = calloc(1, sizeof *col->child);
        if (!col->child)
            return ipw_fail(c->eb, IPW_E_NOMEM, "out of memory reading an Arrow batch");
        col->n_child = 1;
        if ((e = bind(c, &col->child[0], f->children[0])) != IPW_OK)
            return e;
        return check_offsets(c, col, op, olen, (uint64_t)col->child[0].length);
    }
    case IPW_ARROW_STRUCT:
        if (f->n_children) {
            col->child = calloc(f->n_children, sizeof *col->child);
            if (!col->child)
                return ipw_fail(c->eb, IPW_E_NOMEM, "out of memory reading an Arrow batch");
        }
        for (size_t k = 0; k < f->n_children; k++) {
            col->n_child = k + 1;
            if ((e = bind(c, &col->child[k], f->children[k])) != IPW_OK)
                return e;
            if (col->child[k].length < col->length)
                return bad(c->eb, "a struct child is shorter than its struct", c->m->offset);
        }
        return IPW_OK;
    default: return ipw_fail(c->eb, IPW_E_INTERNAL, "unexpected Arrow type in reader");
    }
}

static void rcol_free(struct rcol *c)
{
    for (size_t i = 0; i < c->n_child; i++)
        rcol_free(&c->child[i]);
    free(c->child);
}

void ipw_arrow_batch_free(struct ipw_arrow_batch *b)
{
    if (!b)
        return;
    rcol_free(&b->root);
    free(b);
}

static ipw_err read_batch(struct ipw_arrow_reader *r, const struct msg *m,
                          struct ipw_arrow_batch **out, ipw_errbuf *eb)
{
    struct bind_ctx c = {.m = m, .max_rows = r->lim.max_batch_rows, .eb = eb};
    int64_t length;
    struct fb_table comp;
    if (fb_i64(&m->header, BATCH_LENGTH, 0, &length) < 0 ||
        fb_vector(&m->header, BATCH_NODES, 16, 8, &c.nodes) < 0 ||
        fb_vector(&m->header, BATCH_BUFFERS, 16, 8, &c.bufs) < 0)
        return bad(eb, "the RecordBatch flatbuffer is out of bounds", m->offset);
    int has_comp = fb_table(&m->header, BATCH_COMPRESSION, &comp);
    if (has_comp < 0)
        return bad(eb, "the RecordBatch flatbuffer is out of bounds", m->offset);
    if (has_comp)
        return ipw_fail(eb, IPW_E_UNSUPPORTED,
                        "the Arrow record batch at byte %zu is compressed, which ipw does not "
                        "read; rewrite it uncompressed",
                        m->offset);
    if (length < 0 || length > r->lim.max_batch_rows)
        return ipw_fail(eb, IPW_E_RANGE, "Arrow record batch at byte %zu has %lld rows (limit "
                                         "%lld)",
                        m->offset, (long long)length, (long long)r->lim.max_batch_rows);
    struct ipw_arrow_batch *b = calloc(1, sizeof *b);
    if (!b)
        return ipw_fail(eb, IPW_E_NOMEM, "out of memory reading an Arrow batch");
    b->r = r;
    b->length = length;
    b->root.f = r->schema;
    b->root.length = length;
    ipw_err e = IPW_OK;
    size_t n = r->schema->n_children;
    if (n && !(b->root.child = calloc(n, sizeof *b->root.child)))
        e = ipw_fail(eb, IPW_E_NOMEM, "out of memory reading an Arrow batch");
    for (size_t k = 0; k < n && e == IPW_OK; k++) {
        b->root.n_child = k + 1;
        e = bind(&c, &b->root.child[k], r->schema->children[k]);
        if (e == IPW_OK && b->root.child[k].length != length)
            e = bad(eb, "a column's length differs from its record batch's", m->offset);
    }
    if (e == IPW_OK && (c.ni != c.nodes.n || c.bi != c.bufs.n))
        e = bad(eb, "the record batch has more field nodes or buffers than its schema needs",
                m->offset);
    if (e != IPW_OK) {
        ipw_arrow_batch_free(b);
        return e;
    }
    *out = b;
    return IPW_OK;
}

ipw_err ipw_arrow_reader_next(struct ipw_arrow_reader *r, struct ipw_arrow_batch **out,
                              ipw_errbuf *eb)
{
    *out = NULL;
    for (;;) {
        struct msg m;
        ipw_err e;
        int got = next_message(r, &m, &e, eb);
        if (got <= 0)
            return e;
        switch (m.type) {
        case ARROW_MSG_RECORD_BATCH:
            e = read_batch(r, &m, out, eb);
            if (e == IPW_OK)
                r->batches++;
            return e;
        case ARROW_MSG_SCHEMA: return bad(eb, "a second Schema message", m.offset);
        case ARROW_MSG_DICTIONARY_BATCH:
            return ipw_fail(eb, IPW_E_UNSUPPORTED,
                            "the Arrow stream has a dictionary batch at byte %zu; ipw does not "
                            "read dictionary-encoded data",
                            m.offset);
        default:
            return ipw_fail(eb, IPW_E_UNSUPPORTED,
                            "the Arrow stream has a message of type %u at byte %zu; ipw reads "
                            "schemas and record batches only",
                            m.type, m.offset);
        }
    }
}

/* ---- values to JSON ---------------------------------------------------------------------------- */

static double half_to_double(uint16_t h)
{
    int exp = (h >> 10) & 0x1F, mant = h & 0x3FF;
    double v = exp == 0 ? ldexp(mant, -24) : exp == 31 ? (mant ? NAN : INFINITY)
                                                       : ldexp(mant | 0x400, exp - 25);
    return h & 0x8000 ? -v : v;
}

static json_t *real_or_null(double d) { return isfinite(d) ? json_real(d) : json_null(); }

static ipw_err value(struct ipw_arrow_reader *r, const struct rcol *c, int64_t i, json_t **out,
                     ipw_errbuf *eb)
{
    *out = NULL;
    if (++r->cells > r->lim.max_cells)
        return ipw_fail(eb, IPW_E_RANGE,
                        "the Arrow data holds more than %llu values, over the reader's limit",
                        (unsigned long long)r->lim.max_cells);
    const struct ipw_arrow_field *f = c->f;
    json_t *v = NULL;
    if (f->type == IPW_ARROW_NULL || !is_valid(c, i)) {
        *out = json_null();
        return IPW_OK;
    }
    switch (f->type) {
    case IPW_ARROW_BOOL: v = json_boolean((c->values[i / 8] >> (i % 8)) & 1); break;
    case IPW_ARROW_INT: {
        const uint8_t *p = c->values + (size_t)i * (f->bit_width / 8);
        uint64_t u = f->bit_width == 8 ? p[0] : f->bit_width == 16 ? fb_rd16(p)
                                         : f->bit_width == 32      ? fb_rd32(p)
                                                                   : fb_rd64(p);
        if (f->is_signed) {
            int shift = 64 - f->bit_width;
            int64_t s = (int64_t)(u << shift) >> shift;
            v = json_integer((json_int_t)s);
        } else {
            v = u > INT64_MAX ? json_real((double)u) : json_integer((json_int_t)u);
        }
        break;
    }
    case IPW_ARROW_FLOAT: {
        const uint8_t *p = c->values + (size_t)i * (f->bit_width / 8);
        if (f->bit_width == 16) {
            v = real_or_null(half_to_double(fb_rd16(p)));
        } else if (f->bit_width == 32) {
            uint32_t u = fb_rd32(p);
            float x;
            memcpy(&x, &u, 4);
            v = real_or_null(x);
        } else {
            uint64_t u = fb_rd64(p);
            double x;
            memcpy(&x, &u, 8);
            v = real_or_null(x);
        }
        break;
    }
    case IPW_ARROW_UTF8:
    case IPW_ARROW_LARGE_UTF8: {
        int64_t a = offset_at(c, i), b = offset_at(c, i + 1);
        v = json_stringn_nocheck((const char *)c->values + a, (size_t)(b - a));
        break;
    }
    case IPW_ARROW_STRUCT:
        v = json_object();
        for (size_t k = 0; v && k < c->n_child; k++) {
            json_t *cv;
            ipw_err e = value(r, &c->child[k], i, &cv, eb);
            if (e != IPW_OK) {
                json_decref(v);
                return e;
            }
            if (json_object_set_new(v, c->child[k].f->name, cv) != 0) {
                json_decref(v);
                v = NULL;
            }
        }
        break;
    case IPW_ARROW_LIST:
    case IPW_ARROW_LARGE_LIST: {
        int64_t a = offset_at(c, i), b = offset_at(c, i + 1);
        v = json_array();
        for (int64_t k = a; v && k < b; k++) {
            json_t *cv;
            ipw_err e = value(r, &c->child[0], k, &cv, eb);
            if (e != IPW_OK) {
                json_decref(v);
                return e;
            }
            if (json_array_append_new(v, cv) != 0) {
                json_decref(v);
                v = NULL;
            }
        }
        break;
    }
    default: break;
    }
    if (!v)
        return ipw_fail(eb, IPW_E_NOMEM, "out of memory converting Arrow values to JSON");
    *out = v;
    return IPW_OK;
}

int64_t ipw_arrow_batch_rows(const struct ipw_arrow_batch *b) { return b->length; }

ipw_err ipw_arrow_batch_row(struct ipw_arrow_batch *b, int64_t i, json_t **out, ipw_errbuf *eb)
{
    *out = NULL;
    if (i < 0 || i >= b->length)
        return ipw_fail(eb, IPW_E_RANGE, "row %lld is outside the batch of %lld rows",
                        (long long)i, (long long)b->length);
    /* the root is a struct without nulls: its value is the row */
    return value(b->r, &b->root, i, out, eb);
}

ipw_err ipw_arrow_batch_append_rows(struct ipw_arrow_batch *b, json_t *rows, ipw_errbuf *eb)
{
    for (int64_t i = 0; i < b->length; i++) {
        json_t *row;
        ipw_err e = ipw_arrow_batch_row(b, i, &row, eb);
        if (e != IPW_OK)
            return e;
        if (json_array_append_new(rows, row) != 0)
            return ipw_fail(eb, IPW_E_NOMEM, "out of memory collecting Arrow rows");
    }
    return IPW_OK;
}

/* ---- opening ----------------------------------------------------------------------------------- */

static void set_limits(struct ipw_arrow_reader *r, const struct ipw_arrow_read_limits *l)
{
    r->lim.max_batch_rows = l && l->max_batch_rows > 0 ? l->max_batch_rows : (int64_t)1 << 24;
    r->lim.max_cells = l && l->max_cells ? l->max_cells : (uint64_t)1 << 28;
    r->lim.max_metadata = l && l->max_metadata ? l->max_metadata : 64u << 20;
}

ipw_err ipw_arrow_reader_open(const uint8_t *data, size_t len,
                              const struct ipw_arrow_read_limits *limits,
                              struct ipw_arrow_reader **out, ipw_errbuf *eb)
{
    *out = NULL;
    struct ipw_arrow_reader *r = calloc(1, sizeof *r);
    if (!r)
        return ipw_fail(eb, IPW_E_NOMEM, "out of memory opening Arrow data");
    set_limits(r, limits);
    r->data = data;
    r->len = data ? len : 0;
    /* The file format wraps a stream: magic, padding, stream, footer, footer size, magic. */
    if (r->len >= 18 && !memcmp(data, ARROW_FILE_MAGIC, 6) &&
        !memcmp(data + r->len - 6, ARROW_FILE_MAGIC, 6)) {
        uint32_t footer = fb_rd32(data + r->len - 10);
        if (footer > r->len - 18) {
            size_t at = r->len - 10;
            ipw_arrow_reader_free(r);
            return bad(eb, "the Arrow file footer size is out of range", at);
        }
        r->len = r->len - 10 - footer;
        r->pos = 8;
    }
    ipw_err e = read_schema(r, eb);
    if (e != IPW_OK) {
        ipw_arrow_reader_free(r);
        return e;
    }
    *out = r;
    return IPW_OK;
}

ipw_err ipw_arrow_reader_open_file(const char *path, uint64_t max_bytes,
                                   const struct ipw_arrow_read_limits *limits,
                                   struct ipw_arrow_reader **out, ipw_errbuf *eb)
{
    *out = NULL;
    if (!max_bytes)
        max_bytes = (uint64_t)16 << 30;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int en = errno;
        return ipw_fail(eb, en == ENOENT ? IPW_E_NOTFOUND : en == EACCES ? IPW_E_PERM : IPW_E_IO,
                        "cannot open %s: %s", path, strerror(en));
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return ipw_fail(eb, IPW_E_INVALID, "%s is not a regular file", path);
    }
    if ((uint64_t)st.st_size > max_bytes) {
        close(fd);
        return ipw_fail(eb, IPW_E_RANGE, "%s is %lld bytes, over the %llu-byte limit", path,
                        (long long)st.st_size, (unsigned long long)max_bytes);
    }
    if (st.st_size == 0) {
        close(fd);
        return ipw_fail(eb, IPW_E_INVALID, "%s is empty; it holds no Arrow stream", path);
    }
    void *map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    int en = errno;
    close(fd);
    if (map == MAP_FAILED)
        return ipw_fail(eb, IPW_E_IO, "cannot map %s: %s", path, strerror(en));
    ipw_err e = ipw_arrow_reader_open(map, (size_t)st.st_size, limits, out, eb);
    if (e != IPW_OK) {
        munmap(map, (size_t)st.st_size);
        ipw_err_prefix(eb, "reading %s", path);
        return e;
    }
    (*out)->map = map;
    (*out)->map_len = (size_t)st.st_size;
    return IPW_OK;
}

const struct ipw_arrow_field *ipw_arrow_reader_schema(const struct ipw_arrow_reader *r)
{
    return r->schema;
}

const json_t *ipw_arrow_reader_metadata(const struct ipw_arrow_reader *r) { return r->metadata; }

bool ipw_arrow_reader_saw_eos(const struct ipw_arrow_reader *r) { return r->eos; }

uint64_t ipw_arrow_reader_offset(const struct ipw_arrow_reader *r) { return r->pos; }

void ipw_arrow_reader_free(struct ipw_arrow_reader *r)
{
    if (!r)
        return;
    ipw_arrow_field_free(r->schema);
    json_decref(r->metadata);
    if (r->map)
        munmap(r->map, r->map_len);
    free(r);
}

static ipw_err read_all(struct ipw_arrow_reader *r, json_t **out, ipw_errbuf *eb)
{
    json_t *rows = json_array();
    json_t *res = json_object();
    ipw_err e = rows && res ? IPW_OK : ipw_fail(eb, IPW_E_NOMEM, "out of memory reading Arrow");
    while (e == IPW_OK) {
        struct ipw_arrow_batch *b;
        e = ipw_arrow_reader_next(r, &b, eb);
        if (e != IPW_OK || !b)
            break;
        e = ipw_arrow_batch_append_rows(b, rows, eb);
        ipw_arrow_batch_free(b);
    }
    if (e != IPW_OK) {
        json_decref(rows);
        json_decref(res);
        return e;
    }
    json_object_set_new(res, "schema", ipw_arrow_field_to_json(r->schema));
    json_object_set(res, "metadata", r->metadata);
    json_object_set_new(res, "batches", json_integer((json_int_t)r->batches));
    json_object_set_new(res, "eos", json_boolean(r->eos));
    json_object_set_new(res, "rows", rows);
    *out = res;
    return IPW_OK;
}

ipw_err ipw_arrow_read_json(const uint8_t *data, size_t len,
                            const struct ipw_arrow_read_limits *limits, json_t **out,
                            ipw_errbuf *eb)
{
    *out = NULL;
    struct ipw_arrow_reader *r;
    ipw_err e = ipw_arrow_reader_open(data, len, limits, &r, eb);
    if (e != IPW_OK)
        return e;
    e = read_all(r, out, eb);
    ipw_arrow_reader_free(r);
    return e;
}

ipw_err ipw_arrow_read_file_json(const char *path, const struct ipw_arrow_read_limits *limits,
                                 json_t **out, ipw_errbuf *eb)
{
    *out = NULL;
    struct ipw_arrow_reader *r;
    ipw_err e = ipw_arrow_reader_open_file(path, 0, limits, &r, eb);
    if (e != IPW_OK)
        return e;
    e = read_all(r, out, eb);
    if (e != IPW_OK)
        ipw_err_prefix(eb, "reading %s", path);
    ipw_arrow_reader_free(r);
    return e;
}
