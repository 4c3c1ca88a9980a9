/* Helpers shared by the GPU collectors: the per-tick error record (first message kept, the
 * rest counted) and the grouped notes ("energy integrated on GPU 1,3 (...)") built at open. */
#ifndef IPW_TELEMETRY_GPU_COMMON_H
#define IPW_TELEMETRY_GPU_COMMON_H

#include "ipw/collector.h"
#include "ipw/err.h"

struct ipw_tick_err {
    ipw_err code; /* IPW_E_LOST wins over any other code */
    unsigned count;
    ipw_errbuf msg;
};

void ipw_tick_fail(struct ipw_tick_err *te, ipw_err code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* IPW_OK when nothing failed; else the code, with the first message (and how many more) in eb. */
ipw_err ipw_tick_result(struct ipw_tick_err *te, ipw_errbuf *eb);

/* Devices that took the same fallback at open, and the first reason given. */
struct ipw_devlist {
    char text[160];
    const char *why;
};

void ipw_devlist_add(struct ipw_devlist *l, unsigned index, const char *why);
/* Append fmt (two %s: the device list, the reason) to c->info.notes when the list is not empty. */
void ipw_devlist_note(struct ipw_collector *c, const char *fmt, const struct ipw_devlist *l);

#endif
