/* Arrow IPC stream format: schemas (a tree of fields), a writer that turns JSON rows into record
 * batches, and a validating reader that turns any stream back into JSON rows (SPEC §3.4,
 * docs/formats/arrow.md). Our own implementation: no Arrow or FlatBuffers library. Private to
 * src/results/ (and its tests, benchmark and fuzz target): the rest of the program reads and
 * writes run datasets through ipw/run_dataset.h and ipw/hf_dataset.h. */
#ifndef IPW_RESULTS_ARROW_H
#define IPW_RESULTS_ARROW_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "ipw/err.h"

/* ---- schema ---------------------------------------------------------------------------------- */

enum ipw_arrow_type {
    IPW_ARROW_NULL = 1,
    IPW_ARROW_BOOL,
    IPW_ARROW_INT,        /* bit_width 8/16/32/64, is_signed; the writer does int64 only */
    IPW_ARROW_FLOAT,      /* bit_width 16/32/64; the writer does float64 only */
    IPW_ARROW_UTF8,
    IPW_ARROW_STRUCT,
    IPW_ARROW_LARGE_UTF8, /* reader only */
    IPW_ARROW_LIST,       /* reader only: one child */
    IPW_ARROW_LARGE_LIST  /* reader only: one child */
};

struct ipw_arrow_field {
    char *name;
    enum ipw_arrow_type type;
    uint8_t bit_width;
    bool is_signed;
    bool nullable;
    size_t n_children;
    struct ipw_arrow_field **children;
    size_t cap_children;
};

/* Nesting and size bounds for schemas (reader and writer alike). */
#define IPW_ARROW_MAX_DEPTH 64
#define IPW_ARROW_MAX_FIELDS 100000

/* A nullable field; INT means int64 and FLOAT float64. NULL when out of memory. A schema is a
 * STRUCT field (any name) whose children are the columns. */
struct ipw_arrow_field *ipw_arrow_field_new(const char *name, enum ipw_arrow_type type);
/* Adds a new child to a STRUCT (or LIST) field and returns it; NULL when out of memory. */
struct ipw_arrow_field *ipw_arrow_field_add(struct ipw_arrow_field *parent, const char *name,
                                            enum ipw_arrow_type type);
/* Takes ownership of child (which is freed on failure). */
ipw_err ipw_arrow_field_adopt(struct ipw_arrow_field *parent, struct ipw_arrow_field *child,
                              ipw_errbuf *eb);
struct ipw_arrow_field *ipw_arrow_field_child(const struct ipw_arrow_field *f, const char *name);
struct ipw_arrow_field *ipw_arrow_field_copy(const struct ipw_arrow_field *f);
void ipw_arrow_field_free(struct ipw_arrow_field *f);
/* Fields in the tree, f included. */
size_t ipw_arrow_field_count(const struct ipw_arrow_field *f);
/* "utf8", "int64", "float64", "bool", "null", "struct", "list", ... */
const char *ipw_arrow_type_name(const struct ipw_arrow_field *f);
/* {"name","type","nullable"[,"children":[...]]}, for display and tests. */
json_t *ipw_arrow_field_to_json(const struct ipw_arrow_field *f);
bool ipw_arrow_field_equal(const struct ipw_arrow_field *a, const struct ipw_arrow_field *b);

/* ---- output sinks ------------------------------------------------------------------------------ */

typedef ipw_err (*ipw_arrow_sink_fn)(void *ctx, const void *data, size_t len, ipw_errbuf *eb);

/* Growable memory (ctx: struct ipw_arrow_mem *); max 0 means no bound. */
struct ipw_arrow_mem {
    uint8_t *data;
    size_t len, cap, max;
};
ipw_err ipw_arrow_mem_sink(void *ctx, const void *data, size_t len, ipw_errbuf *eb);

/* stdio (ctx: struct ipw_arrow_file_sink *); path is only used in messages. */
struct ipw_arrow_file_sink {
    FILE *f;
    const char *path;
};
ipw_err ipw_arrow_file_sink(void *ctx, const void *data, size_t len, ipw_errbuf *eb);

/* ---- writer ------------------------------------------------------------------------------------ */

struct ipw_arrow_writer_options {
    size_t batch_rows;  /* rows per record batch (default 1000, as HF datasets) */
    size_t batch_bytes; /* flush earlier once buffered data reaches this (default 64 MiB) */
};

/* Longest string value accepted (the int32 offsets of Utf8 bound a batch to 2 GiB). */
#define IPW_ARROW_MAX_STRING ((size_t)1 << 30)

struct ipw_arrow_writer;

/* Writes the Schema message at once. schema: a STRUCT whose children are the columns, using
 * NULL/BOOL/INT(64)/FLOAT(64)/UTF8/STRUCT only (copied). metadata: NULL or a JSON object of
 * string values, stored as the schema's custom_metadata. */
ipw_err ipw_arrow_writer_new(const struct ipw_arrow_field *schema, const json_t *metadata,
                             const struct ipw_arrow_writer_options *opt, ipw_arrow_sink_fn sink,
                             void *sink_ctx, struct ipw_arrow_writer **out, ipw_errbuf *eb);
/* Adds one row (a JSON object). A missing key or JSON null is a null; keys without a column
 * are ignored. A value of the wrong type is refused (IPW_E_INVALID, naming the field) and the
 * row is not added. Integral reals are accepted for int64, integers for float64. */
ipw_err ipw_arrow_writer_append(struct ipw_arrow_writer *w, const json_t *row, ipw_errbuf *eb);
/* Emits the buffered rows as one record batch (nothing when none is buffered). */
ipw_err ipw_arrow_writer_flush(struct ipw_arrow_writer *w, ipw_errbuf *eb);
/* Appends record batch messages already encoded for the same schema (a byte range of an earlier
 * stream of ours, from its first batch to before its end marker), after flushing any buffered
 * rows. rows/batches only feed the statistics. */
ipw_err ipw_arrow_writer_copy_batches(struct ipw_arrow_writer *w, const uint8_t *data, size_t len,
                                      uint64_t rows, uint64_t batches, ipw_errbuf *eb);
/* Flushes and writes the end-of-stream marker; the writer accepts nothing more. */
ipw_err ipw_arrow_writer_finish(struct ipw_arrow_writer *w, ipw_errbuf *eb);
void ipw_arrow_writer_free(struct ipw_arrow_writer *w);

struct ipw_arrow_writer_stats {
    uint64_t rows, batches, bytes;
};
void ipw_arrow_writer_stats(const struct ipw_arrow_writer *w, struct ipw_arrow_writer_stats *st);

/* ---- reader ------------------------------------------------------------------------------------ */

struct ipw_arrow_read_limits {
    int64_t max_batch_rows; /* default 1<<24 */
    uint64_t max_cells;     /* JSON values made per reader (default 1<<28) */
    uint32_t max_metadata;  /* bytes of one message's flatbuffer (default 64 MiB) */
};

struct ipw_arrow_reader;
struct ipw_arrow_batch;

/* Reads the Schema message of an IPC stream (also accepts the IPC file format, whose stream
 * follows the "ARROW1" magic). data must outlive the reader. limits may be NULL. */
ipw_err ipw_arrow_reader_open(const uint8_t *data, size_t len,
                              const struct ipw_arrow_read_limits *limits,
                              struct ipw_arrow_reader **out, ipw_errbuf *eb);
/* Maps a file read-only (at most max_bytes, 0 = 16 GiB) and opens it. */
ipw_err ipw_arrow_reader_open_file(const char *path, uint64_t max_bytes,
                                   const struct ipw_arrow_read_limits *limits,
                                   struct ipw_arrow_reader **out, ipw_errbuf *eb);
/* The schema: a STRUCT whose children are the columns. */
const struct ipw_arrow_field *ipw_arrow_reader_schema(const struct ipw_arrow_reader *r);
/* The schema's custom_metadata as a JSON object of strings (never NULL). */
const json_t *ipw_arrow_reader_metadata(const struct ipw_arrow_reader *r);
/* The next record batch, fully validated; *out is NULL at the end of the stream. */
ipw_err ipw_arrow_reader_next(struct ipw_arrow_reader *r, struct ipw_arrow_batch **out,
                              ipw_errbuf *eb);
/* Bytes consumed so far: the offset just past the last message read. */
uint64_t ipw_arrow_reader_offset(const struct ipw_arrow_reader *r);
/* Whether the end-of-stream marker was seen (a stream may also just end). */
bool ipw_arrow_reader_saw_eos(const struct ipw_arrow_reader *r);
void ipw_arrow_reader_free(struct ipw_arrow_reader *r);

int64_t ipw_arrow_batch_rows(const struct ipw_arrow_batch *b);
/* Row i as a JSON object (new reference). Non-finite floats become null; unsigned values
 * above INT64_MAX become reals. */
ipw_err ipw_arrow_batch_row(struct ipw_arrow_batch *b, int64_t i, json_t **out, ipw_errbuf *eb);
/* Appends every row of the batch to the JSON array rows. */
ipw_err ipw_arrow_batch_append_rows(struct ipw_arrow_batch *b, json_t *rows, ipw_errbuf *eb);
void ipw_arrow_batch_free(struct ipw_arrow_batch *b);

/* Whole stream in one call: {"schema": field json, "metadata": {...}, "batches": n,
 * "eos": whether the end-of-stream marker was there, "rows": [...]}. */
ipw_err ipw_arrow_read_json(const uint8_t *data, size_t len,
                            const struct ipw_arrow_read_limits *limits, json_t **out,
                            ipw_errbuf *eb);
ipw_err ipw_arrow_read_file_json(const char *path, const struct ipw_arrow_read_limits *limits,
                                 json_t **out, ipw_errbuf *eb);

#endif
