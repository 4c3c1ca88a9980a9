/* FlatBuffers encoding and checked decoding for the Arrow IPC metadata (see flatbuf.h).
 * Layout facts used here: a buffer starts with a uoffset to the root table; a table starts with
 * an soffset back to its vtable (vtable = table - soffset); a vtable is u16 vtable size, u16
 * table size, then one u16 per field (0 = absent); uoffsets point forward from where they are
 * stored; vectors and strings start with a u32 count (strings also end with a NUL). */
#include "results/flatbuf.h"

#include <stdlib.h>
#include <string.h>

/* ---- builder ---------------------------------------------------------------------------------- */

void fbb_init(struct fbb *b, size_t max_size)
{
    memset(b, 0, sizeof *b);
    b->max_size = max_size ? max_size : (size_t)1 << 30;
    b->minalign = 1;
}

void fbb_free(struct fbb *b)
{
    free(b->buf);
    memset(b, 0, sizeof *b);
}

void fbb_reset(struct fbb *b)
{
    uint8_t *buf = b->buf;
    size_t cap = b->cap, max = b->max_size;
    memset(b, 0, sizeof *b);
    b->buf = buf;
    b->cap = cap;
    b->max_size = max;
    b->minalign = 1;
}

static bool reserve(struct fbb *b, size_t more)
{
    if (b->failed)
        return false;
    if (more > b->max_size || b->size > b->max_size - more) {
        b->failed = true;
        return false;
    }
    if (b->size + more <= b->cap)
        return true;
    size_t ncap = b->cap ? b->cap : 256;
    while (ncap < b->size + more)
        ncap *= 2;
    uint8_t *nb = malloc(ncap);
    if (!nb) {
        b->failed = true;
        return false;
    }
    /* the used part sits at the end of the buffer */
    if (b->size)
        memcpy(nb + ncap - b->size, b->buf + b->cap - b->size, b->size);
    free(b->buf);
    b->buf = nb;
    b->cap = ncap;
    return true;
}

static uint8_t *push(struct fbb *b, size_t n)
{
    if (!reserve(b, n))
        return NULL;
    b->size += n;
    return b->buf + b->cap - b->size;
}

static void push_bytes(struct fbb *b, const void *p, size_t n)
{
    uint8_t *d = push(b, n);
    if (d && n)
        memcpy(d, p, n);
}

/* Pad so that after writing `additional` bytes the size is a multiple of align. */
static void prep(struct fbb *b, size_t align, size_t additional)
{
    if (align > b->minalign)
        b->minalign = align;
    size_t pad = (align - ((b->size + additional) & (align - 1))) & (align - 1);
    uint8_t *d = push(b, pad);
    if (d)
        memset(d, 0, pad);
}

static void push_u32(struct fbb *b, uint32_t v)
{
    uint8_t *d = push(b, 4);
    if (d)
        fb_wr32(d, v);
}

static uint32_t cur(const struct fbb *b) { return (uint32_t)b->size; }

uint32_t fbb_string(struct fbb *b, const char *s, size_t len)
{
    if (b->in_table || len > UINT32_MAX - 8) {
        b->failed = true;
        return 0;
    }
    prep(b, 4, len + 1);
    uint8_t *d = push(b, len + 1);
    if (d) {
        if (len)
            memcpy(d, s, len);
        d[len] = 0;
    }
    push_u32(b, (uint32_t)len);
    return cur(b);
}

uint32_t fbb_vector(struct fbb *b, const void *elems, size_t n, size_t elem_size, size_t align)
{
    if (b->in_table || (elem_size && n > (UINT32_MAX - 16) / elem_size)) {
        b->failed = true;
        return 0;
    }
    size_t bytes = n * elem_size;
    prep(b, 4, bytes);
    prep(b, align < 4 ? 4 : align, bytes);
    push_bytes(b, elems, bytes);
    push_u32(b, (uint32_t)n);
    return cur(b);
}

uint32_t fbb_offset_vector(struct fbb *b, const uint32_t *offs, size_t n)
{
    if (b->in_table || n > (UINT32_MAX - 16) / 4) {
        b->failed = true;
        return 0;
    }
    prep(b, 4, 4 * n);
    for (size_t i = n; i-- > 0;) {
        if (offs[i] == 0 || offs[i] > cur(b) + 4) {
            b->failed = true; /* refers to nothing built yet */
            return 0;
        }
        push_u32(b, cur(b) + 4 - offs[i]);
    }
    push_u32(b, (uint32_t)n);
    return cur(b);
}

void fbb_table_start(struct fbb *b)
{
    if (b->in_table)
        b->failed = true;
    b->in_table = true;
    b->nslots = 0;
    memset(b->slot, 0, sizeof b->slot);
    b->table_start = b->size;
}

static void add_scalar(struct fbb *b, unsigned id, const uint8_t *le, size_t n)
{
    if (!b->in_table || id >= FBB_MAX_FIELDS) {
        b->failed = true;
        return;
    }
    prep(b, n, 0);
    push_bytes(b, le, n);
    b->slot[id] = cur(b);
    if (id + 1 > b->nslots)
        b->nslots = id + 1;
}

void fbb_add_u8(struct fbb *b, unsigned id, uint8_t v) { add_scalar(b, id, &v, 1); }

void fbb_add_i16(struct fbb *b, unsigned id, int16_t v)
{
    uint16_t u = (uint16_t)v;
    uint8_t le[2] = {(uint8_t)u, (uint8_t)(u >> 8)};
    add_scalar(b, id, le, 2);
}

void fbb_add_i32(struct fbb *b, unsigned id, int32_t v)
{
    uint8_t le[4];
    fb_wr32(le, (uint32_t)v);
    add_scalar(b, id, le, 4);
}

void fbb_add_i64(struct fbb *b, unsigned id, int64_t v)
{
    uint8_t le[8];
    fb_wr64(le, (uint64_t)v);
    add_scalar(b, id, le, 8);
}

void fbb_add_offset(struct fbb *b, unsigned id, uint32_t off)
{
    if (!b->in_table || id >= FBB_MAX_FIELDS || off == 0) {
        b->failed = true;
        return;
    }
    prep(b, 4, 0);
    if (off > cur(b) + 4) {
        b->failed = true;
        return;
    }
    push_u32(b, cur(b) + 4 - off);
    b->slot[id] = cur(b);
    if (id + 1 > b->nslots)
        b->nslots = id + 1;
}

uint32_t fbb_table_end(struct fbb *b)
{
    if (!b->in_table) {
        b->failed = true;
        return 0;
    }
    b->in_table = false;
    prep(b, 4, 0);
    push_u32(b, 0); /* soffset to the vtable, patched below */
    uint32_t obj = cur(b);
    size_t tbl_size = obj - b->table_start;
    size_t vt_size = 4 + 2 * (size_t)b->nslots;
    if (tbl_size > 0xFFFF) {
        b->failed = true;
        return 0;
    }
    for (unsigned i = b->nslots; i-- > 0;) {
        uint16_t fo = b->slot[i] ? (uint16_t)(obj - b->slot[i]) : 0;
        uint8_t le[2] = {(uint8_t)fo, (uint8_t)(fo >> 8)};
        push_bytes(b, le, 2);
    }
    uint8_t hdr[4] = {(uint8_t)vt_size, (uint8_t)(vt_size >> 8), (uint8_t)tbl_size,
                      (uint8_t)(tbl_size >> 8)};
    push_bytes(b, hdr, 4);
    if (b->failed)
        return 0;
    uint32_t vt = cur(b);
    /* table - vtable, in addresses: the vtable lies before (below) the table */
    fb_wr32(b->buf + b->cap - obj, (uint32_t)(int32_t)(vt - obj));
    return obj;
}

bool fbb_finish(struct fbb *b, uint32_t root, const uint8_t **out, size_t *len)
{
    if (b->in_table || root == 0)
        b->failed = true;
    size_t align = b->minalign < 8 ? 8 : b->minalign;
    prep(b, align, 4);
    if (!b->failed && root <= cur(b) + 4)
        push_u32(b, cur(b) + 4 - root);
    else
        b->failed = true;
    if (b->failed)
        return false;
    *out = b->buf + b->cap - b->size;
    *len = b->size;
    return true;
}

/* ---- reader ----------------------------------------------------------------------------------- */

static int table_at(const uint8_t *buf, size_t len, size_t pos, struct fb_table *t)
{
    if (pos % 4 != 0 || len < 4 || pos > len - 4)
        return -1;
    int64_t soff = (int32_t)fb_rd32(buf + pos);
    int64_t vt = (int64_t)pos - soff;
    if (vt < 0 || vt % 2 != 0 || (uint64_t)vt > len - 4)
        return -1;
    uint16_t vt_size = fb_rd16(buf + vt), tbl_size = fb_rd16(buf + vt + 2);
    if (vt_size < 4 || vt_size % 2 != 0 || (size_t)vt_size > len - (size_t)vt)
        return -1;
    if (tbl_size < 4 || (size_t)tbl_size > len - pos)
        return -1;
    *t = (struct fb_table){buf, len, pos, (size_t)vt, vt_size, tbl_size};
    return 1;
}

int fb_root(const uint8_t *buf, size_t len, struct fb_table *out)
{
    if (!buf || len < 8)
        return -1;
    return table_at(buf, len, fb_rd32(buf), out);
}

/* Where field id lies (absolute position), checked to fit `size` bytes inside the table and to
 * be aligned to `size`. */
static int field_at(const struct fb_table *t, unsigned id, size_t size, size_t *at)
{
    size_t e = 4 + 2 * (size_t)id;
    if (e + 2 > t->vt_size)
        return 0;
    uint16_t fo = fb_rd16(t->buf + t->vt + e);
    if (fo == 0)
        return 0;
    if (fo < 4 || (size_t)fo + size > t->tbl_size)
        return -1;
    size_t p = t->pos + fo;
    if (p % size != 0)
        return -1;
    *at = p;
    return 1;
}

int fb_bool(const struct fb_table *t, unsigned id, bool dflt, bool *out)
{
    uint8_t v;
    int r = fb_u8(t, id, dflt ? 1 : 0, &v);
    *out = v != 0;
    return r;
}

int fb_u8(const struct fb_table *t, unsigned id, uint8_t dflt, uint8_t *out)
{
    size_t at;
    int r = field_at(t, id, 1, &at);
    *out = r == 1 ? t->buf[at] : dflt;
    return r;
}

int fb_i16(const struct fb_table *t, unsigned id, int16_t dflt, int16_t *out)
{
    size_t at;
    int r = field_at(t, id, 2, &at);
    *out = r == 1 ? (int16_t)fb_rd16(t->buf + at) : dflt;
    return r;
}

int fb_i32(const struct fb_table *t, unsigned id, int32_t dflt, int32_t *out)
{
    size_t at;
    int r = field_at(t, id, 4, &at);
    *out = r == 1 ? (int32_t)fb_rd32(t->buf + at) : dflt;
    return r;
}

int fb_i64(const struct fb_table *t, unsigned id, int64_t dflt, int64_t *out)
{
    size_t at;
    int r = field_at(t, id, 8, &at);
    *out = r == 1 ? (int64_t)fb_rd64(t->buf + at) : dflt;
    return r;
}

/* Follow the uoffset stored at `at`. */
static int deref(const uint8_t *buf, size_t len, size_t at, size_t *target)
{
    uint32_t off = fb_rd32(buf + at);
    if (off == 0 || off > len - at)
        return -1;
    *target = at + off;
    return 1;
}

int fb_table(const struct fb_table *t, unsigned id, struct fb_table *out)
{
    size_t at, target;
    int r = field_at(t, id, 4, &at);
    if (r != 1)
        return r;
    if (deref(t->buf, t->len, at, &target) != 1)
        return -1;
    return table_at(t->buf, t->len, target, out);
}

static int vector_at(const uint8_t *buf, size_t len, size_t pos, size_t elem_size, size_t align,
                     struct fb_vec *out)
{
    if (pos % 4 != 0 || len < 4 || pos > len - 4)
        return -1;
    uint32_t n = fb_rd32(buf + pos);
    size_t data = pos + 4;
    if (align > 1 && data % align != 0 && n > 0)
        return -1;
    if (elem_size && (uint64_t)n > (len - data) / elem_size)
        return -1;
    *out = (struct fb_vec){buf, len, data, n, elem_size};
    return 1;
}

int fb_vector(const struct fb_table *t, unsigned id, size_t elem_size, size_t align,
              struct fb_vec *out)
{
    size_t at, target;
    int r = field_at(t, id, 4, &at);
    if (r != 1) {
        *out = (struct fb_vec){t->buf, t->len, 0, 0, elem_size};
        return r;
    }
    if (deref(t->buf, t->len, at, &target) != 1)
        return -1;
    return vector_at(t->buf, t->len, target, elem_size, align, out);
}

int fb_string(const struct fb_table *t, unsigned id, const char **s, uint32_t *len)
{
    struct fb_vec v;
    *s = "";
    *len = 0;
    int r = fb_vector(t, id, 1, 1, &v);
    if (r != 1)
        return r;
    if (v.n >= t->len - v.data || t->buf[v.data + v.n] != 0)
        return -1; /* no room for, or no, terminating NUL */
    *s = (const char *)t->buf + v.data;
    *len = v.n;
    return 1;
}

const uint8_t *fb_vec_elem(const struct fb_vec *v, uint32_t i)
{
    return i < v->n ? v->buf + v->data + (size_t)i * v->elem_size : NULL;
}

int fb_vec_table(const struct fb_vec *v, uint32_t i, struct fb_table *out)
{
    if (i >= v->n || v->elem_size != 4)
        return -1;
    size_t at = v->data + (size_t)i * 4, target;
    if (deref(v->buf, v->len, at, &target) != 1)
        return -1;
    return table_at(v->buf, v->len, target, out);
}
