/* The bounded growable buffer and the array grow helper (include/ipw/buf.h): every growth in
 * ipw goes through ipw_buf_reserve() or ipw_grow(), so limits and allocation failures are
 * handled in one place. */
#include "ipw/buf.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BUF_FIRST 256 /* first allocation; small enough for a line, doubled from there */

void ipw_buf_init(struct ipw_buf *b, size_t max)
{
    *b = (struct ipw_buf){.max = max};
}

void ipw_buf_free(struct ipw_buf *b)
{
    free(b->p);
    ipw_buf_init(b, b->max);
}

void ipw_buf_reset(struct ipw_buf *b)
{
    b->len = 0;
    b->err = IPW_OK;
    if (b->p)
        b->p[0] = '\0';
}

ipw_err ipw_buf_reserve(struct ipw_buf *b, size_t n)
{
    if (b->err != IPW_OK)
        return b->err;
    if (n > b->max - b->len) /* len never exceeds max, so this cannot wrap */
        return b->err = IPW_E_RANGE;
    size_t need = b->len + n + 1; /* + the NUL; at most max + 1 */
    if (need <= b->cap)
        return IPW_OK;
    size_t cap = b->cap ? b->cap : BUF_FIRST;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    if (cap > b->max + 1)
        cap = b->max + 1;
    char *np = realloc(b->p, cap);
    if (!np)
        return b->err = IPW_E_NOMEM;
    np[b->len] = '\0'; /* terminated from the first allocation on */
    b->p = np;
    b->cap = cap;
    return IPW_OK;
}

void ipw_buf_commit(struct ipw_buf *b, size_t n)
{
    b->len += n;
    b->p[b->len] = '\0';
}

ipw_err ipw_buf_add(struct ipw_buf *b, const void *data, size_t n)
{
    ipw_err e = ipw_buf_reserve(b, n);
    if (e != IPW_OK)
        return e;
    if (n)
        memcpy(b->p + b->len, data, n);
    ipw_buf_commit(b, n);
    return IPW_OK;
}

ipw_err ipw_buf_addstr(struct ipw_buf *b, const char *s)
{
    return ipw_buf_add(b, s, strlen(s));
}

ipw_err ipw_buf_vaddf(struct ipw_buf *b, const char *fmt, va_list ap)
{
    if (b->err != IPW_OK)
        return b->err;
    va_list ap2;
    va_copy(ap2, ap);
    size_t room = b->cap > b->len ? b->cap - b->len : 0;
    int n = vsnprintf(room ? b->p + b->len : NULL, room, fmt, ap2);
    va_end(ap2);
    if (n < 0)
        return b->err = IPW_E_INVALID; /* an encoding error in the format's arguments */
    if ((size_t)n >= room) {
        ipw_err e = ipw_buf_reserve(b, (size_t)n);
        if (e != IPW_OK) {
            if (b->p)
                b->p[b->len] = '\0'; /* the failed first attempt may have written past len */
            return e;
        }
        vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    } /* else it fitted: cap <= max + 1, so n < room also keeps len within max */
    ipw_buf_commit(b, (size_t)n);
    return IPW_OK;
}

ipw_err ipw_buf_addf(struct ipw_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    ipw_err e = ipw_buf_vaddf(b, fmt, ap);
    va_end(ap);
    return e;
}

/* The sticky variants: the result is already kept in b->err. */
void ipw_buf_put(struct ipw_buf *b, const void *data, size_t n)
{
    b->err = ipw_buf_add(b, data, n);
}

void ipw_buf_puts(struct ipw_buf *b, const char *s)
{
    b->err = ipw_buf_add(b, s, strlen(s));
}

void ipw_buf_putf(struct ipw_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    b->err = ipw_buf_vaddf(b, fmt, ap);
    va_end(ap);
}

void ipw_buf_consume(struct ipw_buf *b, size_t n)
{
    if (n >= b->len) {
        ipw_buf_truncate(b, 0);
        return;
    }
    memmove(b->p, b->p + n, b->len - n);
    ipw_buf_truncate(b, b->len - n);
}

void ipw_buf_truncate(struct ipw_buf *b, size_t n)
{
    if (n >= b->len)
        return;
    b->len = n;
    b->p[n] = '\0';
}

ipw_err ipw_buf_status(const struct ipw_buf *b)
{
    return b->err;
}

const char *ipw_buf_str(const struct ipw_buf *b)
{
    return b->p ? b->p : "";
}

ipw_err ipw_buf_take(struct ipw_buf *b, char **out, size_t *len)
{
    *out = NULL;
    if (len)
        *len = 0;
    ipw_err e = b->err;
    if (e == IPW_OK && !b->p)
        e = ipw_buf_reserve(b, 0);
    if (e != IPW_OK) {
        ipw_buf_free(b);
        return e;
    }
    *out = b->p;
    if (len)
        *len = b->len;
    b->p = NULL;
    ipw_buf_free(b);
    return IPW_OK;
}

ipw_err ipw_grow(void *arr, size_t *cap, size_t need, size_t elem, size_t max_elems)
{
    if (need <= *cap)
        return IPW_OK;
    if (need > max_elems || need > SIZE_MAX / elem)
        return IPW_E_RANGE;
    size_t ncap = *cap ? *cap : 16;
    while (ncap < need)
        ncap = ncap > SIZE_MAX / 2 ? need : ncap * 2;
    if (ncap > max_elems)
        ncap = max_elems;
    if (ncap > SIZE_MAX / elem)
        ncap = need;
    void *old;
    memcpy(&old, arr, sizeof old); /* arr is the address of a T* of any object type */
    void *np = realloc(old, ncap * elem);
    if (!np)
        return IPW_E_NOMEM;
    memcpy(arr, &np, sizeof np);
    *cap = ncap;
    return IPW_OK;
}
