/* Private to the row readers: a buffered byte source (a file descriptor or a buffer), a
 * bounded row buffer, and the context each format's parser works in. */
#ifndef IPW_ROWS_IMPL_H
#define IPW_ROWS_IMPL_H

#include <stdbool.h>
#include <stddef.h>

#include "ipw/buf.h"
#include "datasets/dataset_rows.h"

#define ROWS_CHUNK 65536

struct rows_src {
    int fd;                /* -1 for a buffer */
    const char *path;      /* for read errors */
    const unsigned char *p, *end;
    unsigned char *buf;    /* ROWS_CHUNK bytes when reading a file */
    bool eof;
    int err;               /* errno of a failed read */
};

struct rows_ctx {
    struct rows_src src;
    const char *label;
    size_t max_row;
    const struct ipw_rows_sink *sink;
    size_t line;  /* current 1-based line */
    size_t index; /* next data row's index */
    struct ipw_buf rb; /* the row being read; its limit is max_row */
};

/* Makes src->p < src->end unless at the end: 1 bytes available, 0 end, -1 read error. */
int rows_src_fill(struct rows_src *s);
/* The read error as an ipw_err. */
ipw_err rows_src_error(struct rows_ctx *c, ipw_errbuf *eb);


/* Hands a parsed row to the sink (takes ownership of row). */
ipw_err rows_emit(struct rows_ctx *c, json_t *row, size_t line, ipw_errbuf *eb);
/* Reports a malformed row at line as "label:line: <fmt>" and counts it. */
ipw_err rows_bad(struct rows_ctx *c, size_t line, ipw_errbuf *eb, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* A fatal error at line: "label:line: <fmt>". */
ipw_err rows_fatal(struct rows_ctx *c, ipw_err code, size_t line, ipw_errbuf *eb,
                   const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* Skips a UTF-8 byte order mark at the very start. */
void rows_skip_bom(struct rows_ctx *c);
/* A printable excerpt of bad input, for messages. */
void rows_excerpt(const char *s, size_t n, char *out, size_t size);

ipw_err rows_read_jsonl(struct rows_ctx *c, ipw_errbuf *eb);
ipw_err rows_read_json(struct rows_ctx *c, ipw_errbuf *eb);
ipw_err rows_read_csv(struct rows_ctx *c, ipw_errbuf *eb);

/* A HuggingFace save_to_disk folder (rows_hf.c). */
ipw_err rows_read_hf_disk(const char *path, const struct ipw_rows_opts *opt,
                          const struct ipw_rows_sink *sink, ipw_errbuf *eb);

#endif
