/* Result codes and error messages shared by every ipw module.
 * A function that can fail returns an ipw_err and, when given an ipw_errbuf, writes one
 * sentence saying what failed, with which input, and what to do about it. */
#ifndef IPW_ERR_H
#define IPW_ERR_H

#include <stddef.h>

typedef enum ipw_err {
    IPW_OK = 0,
    IPW_E_INVALID,     /* bad argument or malformed input */
    IPW_E_NOMEM,       /* allocation failed or a bound was reached */
    IPW_E_IO,          /* read/write/socket failure */
    IPW_E_PERM,        /* permission denied */
    IPW_E_NOTFOUND,    /* file, library, symbol, device or record missing */
    IPW_E_UNSUPPORTED, /* the hardware or library cannot do this */
    IPW_E_TIMEOUT,     /* a deadline passed */
    IPW_E_RANGE,       /* value or time window outside what is held */
    IPW_E_PROTOCOL,    /* a peer broke the protocol */
    IPW_E_LOST,        /* a device or connection went away */
    IPW_E_CANCELLED,   /* stopped on request */
    IPW_E_EXISTS,      /* something already exists */
    IPW_E_INTERNAL     /* a bug in ipw */
} ipw_err;

#define IPW_ERRMSG_MAX 512

typedef struct ipw_errbuf {
    ipw_err code;
    char msg[IPW_ERRMSG_MAX];
} ipw_errbuf;

/* Short stable name of a code ("invalid", "permission", ...). */
const char *ipw_err_name(ipw_err code);

/* Record code and a printf-formatted message in eb (which may be NULL); returns code so that
 * callers can write `return ipw_fail(eb, IPW_E_IO, "cannot open %s: %s", path, strerror(errno));` */
ipw_err ipw_fail(ipw_errbuf *eb, ipw_err code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prefix the message already in eb with more context ("reading records.jsonl: <old message>"). */
void ipw_err_prefix(ipw_errbuf *eb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

void ipw_errbuf_clear(ipw_errbuf *eb);

#endif
