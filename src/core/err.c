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

/* A message cut at the buffer's end may split a UTF-8 character; drop the partial one, since
 * messages end up inside JSON records, which must be valid UTF-8. */
static void trim_partial_utf8(char *s)
{
    size_t n = strlen(s);
    size_t i = n;
    while (i > 0 && ((unsigned char)s[i - 1] & 0xC0) == 0x80 && n - i < 3)
        i--;
    if (i == 0)
        return;
    unsigned char lead = (unsigned char)s[i - 1];
    size_t want = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
    if (want > 1 && n - (i - 1) < want)
        s[i - 1] = '\0';
}

ipw_err ipw_fail(ipw_errbuf *eb, ipw_err code, const char *fmt, ...)
{
    if (eb) {
        va_list ap;
        va_start(ap, fmt);
        int len = vsnprintf(eb->msg, sizeof eb->msg, fmt, ap);
        va_end(ap);
        if (len >= (int)sizeof eb->msg)
            trim_partial_utf8(eb->msg);
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
    int len = snprintf(eb->msg, sizeof eb->msg, "%s: %s", head, old);
    if (len >= (int)sizeof eb->msg)
        trim_partial_utf8(eb->msg);
}

void ipw_errbuf_clear(ipw_errbuf *eb)
{
    if (eb) {
        eb->code = IPW_OK;
        eb->msg[0] = '\0';
    }
}
