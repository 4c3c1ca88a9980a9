/* Shared pieces of the GPU collectors (see gpu_common.h). */
#include "gpu_common.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void ipw_tick_fail(struct ipw_tick_err *te, ipw_err code, const char *fmt, ...)
{
    if (te->count++ == 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(te->msg.msg, sizeof te->msg.msg, fmt, ap);
        va_end(ap);
    }
    if (te->code != IPW_E_LOST)
        te->code = code;
}

ipw_err ipw_tick_result(struct ipw_tick_err *te, ipw_errbuf *eb)
{
    if (te->count == 0)
        return IPW_OK;
    if (te->count > 1) {
        size_t len = strlen(te->msg.msg);
        snprintf(te->msg.msg + len, sizeof te->msg.msg - len, " (and %u more failure%s this tick)",
                 te->count - 1, te->count > 2 ? "s" : "");
    }
    return ipw_fail(eb, te->code, "%s", te->msg.msg);
}

void ipw_devlist_add(struct ipw_devlist *l, unsigned index, const char *why)
{
    size_t len = strlen(l->text);
    if (len + 12 < sizeof l->text)
        snprintf(l->text + len, sizeof l->text - len, "%s%u", len ? "," : "", index);
    if (!l->why)
        l->why = why;
}

void ipw_devlist_note(struct ipw_collector *c, const char *fmt, const struct ipw_devlist *l)
{
    if (!l->text[0])
        return;
    char *buf = c->info.notes;
    size_t size = sizeof c->info.notes, len = strlen(buf);
    if (len + 4 >= size)
        return;
    if (len)
        len += (size_t)snprintf(buf + len, size - len, "; ");
    if (len < size)
        snprintf(buf + len, size - len, fmt, l->text, l->why ? l->why : "");
}
