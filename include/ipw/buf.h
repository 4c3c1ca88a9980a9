/* One bounded, growable byte buffer for every module (in the spirit of curl's dynbuf), and the
 * one grow helper for arrays of any element type.
 *
 * A buffer has a hard size limit and a sticky error: once an append fails (allocation failure,
 * IPW_E_NOMEM; the limit reached, IPW_E_RANGE) every later append fails with the same code and
 * leaves the content as it was, so a caller that builds text with many appends may check once,
 * at the end, with ipw_buf_status() or ipw_buf_take(). The content is always NUL-terminated. */
#ifndef IPW_BUF_H
#define IPW_BUF_H

#include <stdarg.h>
#include <stddef.h>

#include "ipw/err.h"

#define IPW_WUR __attribute__((warn_unused_result))

struct ipw_buf {
    char *p;       /* NULL until the first append; NUL-terminated after it */
    size_t len;    /* bytes held, not counting the terminating NUL */
    size_t cap;    /* bytes allocated */
    size_t max;    /* the hard limit on len */
    ipw_err err;   /* sticky: IPW_OK until an append fails */
};

/* An empty buffer that will hold at most max bytes (max > 0). Allocates nothing. */
void ipw_buf_init(struct ipw_buf *b, size_t max);
/* Free the memory; the buffer is empty again (same limit, error cleared). */
void ipw_buf_free(struct ipw_buf *b);
/* Empty it, keep the memory and the limit, clear the error: for reuse line after line. */
void ipw_buf_reset(struct ipw_buf *b);

/* Append n bytes / a string / printf output. Each returns the sticky error (IPW_OK on success);
 * on failure nothing of this append is kept. */
IPW_WUR ipw_err ipw_buf_add(struct ipw_buf *b, const void *data, size_t n);
IPW_WUR ipw_err ipw_buf_addstr(struct ipw_buf *b, const char *s);
IPW_WUR ipw_err ipw_buf_addf(struct ipw_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
IPW_WUR ipw_err ipw_buf_vaddf(struct ipw_buf *b, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

/* The same appends for builders that append many times and check once: the failure is kept in
 * the buffer and reported by ipw_buf_status() / ipw_buf_take(), which must be checked. */
void ipw_buf_put(struct ipw_buf *b, const void *data, size_t n);
void ipw_buf_puts(struct ipw_buf *b, const char *s);
void ipw_buf_putf(struct ipw_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Make room for n more bytes (plus the NUL) without appending: for writers that fill the tail
 * themselves (b->p + b->len) and then call ipw_buf_commit(). The one place memory grows. */
IPW_WUR ipw_err ipw_buf_reserve(struct ipw_buf *b, size_t n);
/* Count n bytes written at b->p + b->len after ipw_buf_reserve(b, >= n). */
void ipw_buf_commit(struct ipw_buf *b, size_t n);

/* Drop the first n bytes (a consumed line), keeping the rest at the front. */
void ipw_buf_consume(struct ipw_buf *b, size_t n);
/* Shorten to n bytes (n <= len). */
void ipw_buf_truncate(struct ipw_buf *b, size_t n);

/* The sticky error: IPW_OK while every append so far succeeded. */
IPW_WUR ipw_err ipw_buf_status(const struct ipw_buf *b);
/* The content ("" when nothing was appended); valid until the next append. */
const char *ipw_buf_str(const struct ipw_buf *b);
/* Hand the content (malloc'd, NUL-terminated, never NULL on success) to the caller and empty
 * the buffer. On a sticky error the content is freed and the error returned. len may be NULL. */
IPW_WUR ipw_err ipw_buf_take(struct ipw_buf *b, char **out, size_t *len);

/* Grow an array *arr of *cap elements of elem bytes so that it holds at least need elements,
 * at most max_elems: doubling from 16, then capped. IPW_E_RANGE past max_elems, IPW_E_NOMEM
 * when the allocation fails (the array is then left as it was). */
IPW_WUR ipw_err ipw_grow(void *arr, size_t *cap, size_t need, size_t elem, size_t max_elems);

#endif
