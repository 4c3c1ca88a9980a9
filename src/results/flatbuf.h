/* A minimal FlatBuffers builder and bounds-checked reader: just what Arrow IPC metadata
 * (Schema.fbs, Message.fbs) needs. No external flatbuffers library; everything little-endian. */
#ifndef IPW_RESULTS_FLATBUF_H
#define IPW_RESULTS_FLATBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- builder --------------------------------------------------------------------------------
 * Builds back to front like the reference implementation: children (strings, vectors, tables)
 * are created first and referred to by the offset returned (distance from the buffer's end).
 * Errors (out of memory, the size bound, misuse) are sticky: check fbb_finish's result. */
#define FBB_MAX_FIELDS 16

struct fbb {
    uint8_t *buf; /* the data lies in buf[cap - size, cap) */
    size_t cap, size, max_size;
    size_t minalign;
    uint32_t slot[FBB_MAX_FIELDS]; /* offset of each field of the table being built; 0 = unset */
    unsigned nslots;
    size_t table_start;
    bool in_table, failed;
};

void fbb_init(struct fbb *b, size_t max_size);
void fbb_free(struct fbb *b);
/* Back to empty, keeping the allocation. */
void fbb_reset(struct fbb *b);

uint32_t fbb_string(struct fbb *b, const char *s, size_t len);
/* A vector of n inline elements (scalars or structs) already laid out little-endian. */
uint32_t fbb_vector(struct fbb *b, const void *elems, size_t n, size_t elem_size, size_t align);
/* A vector of offsets to strings or tables created earlier. */
uint32_t fbb_offset_vector(struct fbb *b, const uint32_t *offs, size_t n);

void fbb_table_start(struct fbb *b);
void fbb_add_u8(struct fbb *b, unsigned id, uint8_t v);
void fbb_add_i16(struct fbb *b, unsigned id, int16_t v);
void fbb_add_i32(struct fbb *b, unsigned id, int32_t v);
void fbb_add_i64(struct fbb *b, unsigned id, int64_t v);
void fbb_add_offset(struct fbb *b, unsigned id, uint32_t off);
uint32_t fbb_table_end(struct fbb *b);

/* Writes the root offset; on success *out and *len describe the finished buffer (owned by b; its
 * length is a multiple of the largest alignment used). Returns false on any earlier error. */
bool fbb_finish(struct fbb *b, uint32_t root, const uint8_t **out, size_t *len);

/* ---- reader ---------------------------------------------------------------------------------
 * Every accessor checks bounds and alignment (relative to the buffer start) against the whole
 * buffer before reading; malformed input yields -1, never an out-of-bounds read.
 * Return convention: 1 present, 0 absent (default applied), -1 malformed. */
struct fb_table {
    const uint8_t *buf;
    size_t len;
    size_t pos; /* table start */
    size_t vt;  /* vtable start */
    uint16_t vt_size, tbl_size;
};

struct fb_vec {
    const uint8_t *buf;
    size_t len;
    size_t data; /* first element */
    uint32_t n;
    size_t elem_size;
};

int fb_root(const uint8_t *buf, size_t len, struct fb_table *out);
int fb_bool(const struct fb_table *t, unsigned id, bool dflt, bool *out);
int fb_u8(const struct fb_table *t, unsigned id, uint8_t dflt, uint8_t *out);
int fb_i16(const struct fb_table *t, unsigned id, int16_t dflt, int16_t *out);
int fb_i32(const struct fb_table *t, unsigned id, int32_t dflt, int32_t *out);
int fb_i64(const struct fb_table *t, unsigned id, int64_t dflt, int64_t *out);
int fb_table(const struct fb_table *t, unsigned id, struct fb_table *out);
/* A vector of inline elements of elem_size bytes aligned to align. */
int fb_vector(const struct fb_table *t, unsigned id, size_t elem_size, size_t align,
              struct fb_vec *out);
/* A string: *s points into the buffer (NUL-terminated there, as FlatBuffers requires). */
int fb_string(const struct fb_table *t, unsigned id, const char **s, uint32_t *len);
/* Elements of a vector of offsets (fb_vector with elem_size 4, align 4). */
int fb_vec_table(const struct fb_vec *v, uint32_t i, struct fb_table *out);
const uint8_t *fb_vec_elem(const struct fb_vec *v, uint32_t i);

static inline uint16_t fb_rd16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }
static inline uint32_t fb_rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline uint64_t fb_rd64(const uint8_t *p)
{
    return (uint64_t)fb_rd32(p) | (uint64_t)fb_rd32(p + 4) << 32;
}
static inline void fb_wr32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}
static inline void fb_wr64(uint8_t *p, uint64_t v)
{
    fb_wr32(p, (uint32_t)v);
    fb_wr32(p + 4, (uint32_t)(v >> 32));
}

#endif
