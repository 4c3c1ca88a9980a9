/* Result code names and the message buffer that carries an error's explanation upwards. */
#include "ipw/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *ipw_err_name(ipw_err code)
{
    switch (code) {
    case IPW_OK: return "ok";
    case IPW_E_INVALID: return "invalid";
    case IPW_E_NOMEM: return "out of memory";
    case IPW_E_IO: return "i/o";
    case IPW_E_PERM: return "permission";
    case IPW_E_NOTFOUND: return "not found";
    case IPW_E_UNSUPPORTED: return "unsupported";
    case IPW_E_TIMEOUT: return "timeout";
    case IPW_E_RANGE: return "range";
    case IPW_E_PROTOCOL: return "protocol";
    case IPW_E_LOST: return "lost";
    case IPW_E_CANCELLED: return "cancelled";
    case IPW_E_EXISTS: return "exists";
    case IPW_E_INTERNAL: return "internal";
    }
    return "unknown";
}

ipw_err ipw_fail(ipw_errbuf *eb, ipw_err code, const char *fmt, ...)
{
    if (eb) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(eb->msg, sizeof eb->msg, fmt, ap);
        va_end(ap);
        eb->code = code;
    }
    return code;
}

void ipw_err_prefix(ipw_errbuf *eb, const char *fmt, ...)
{
    if (!eb)
        return;
    char head[IPW_ERRMSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(head, sizeof head, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    char old[IPW_ERRMSG_MAX];
    memcpy(old, eb->msg, sizeof old);
    old[sizeof old - 1] = '\0';
    snprintf(eb->msg, sizeof eb->msg, "%s: %s", head, old);
}

void ipw_errbuf_clear(ipw_errbuf *eb)
{
    if (eb) {
        eb->code = IPW_OK;
        eb->msg[0] = '\0';
    }
}
