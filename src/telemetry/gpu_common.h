/* Helpers shared by the GPU collectors: the per-tick error record (first message kept, the
 * rest counted) and the grouped notes ("energy integrated on GPU 1,3 (...)") built at open. */
#ifndef IPW_TELEMETRY_GPU_COMMON_H
#define IPW_TELEMETRY_GPU_COMMON_H

#include "ipw/collector.h"
#include "telemetry/collector_priv.h"
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

/* Folding per-GPU values into the machine's reading: power, energy and memory summed,
 * temperature and utilization averaged. A sum over some GPUs would understate the machine, so
 * an aggregate is set only when every GPU gave that value this tick. */
struct ipw_gpu_sum {
    double sum[IPW_DF_COUNT];
    unsigned n[IPW_DF_COUNT];
    bool any_average, any_integrated;
};

/* One GPU's values; average: its power is a windowed average; integrated: its energy comes
 * from integrating power rather than a counter. */
void ipw_gpu_sum_add(struct ipw_gpu_sum *s, const struct ipw_device_reading *dr, bool average,
                     bool integrated);
void ipw_gpu_sum_finish(const struct ipw_gpu_sum *s, unsigned ndev, struct ipw_reading *r);

/* Devices that took the same fallback at open, and the first reason given. */
struct ipw_devlist {
    char text[160];
    const char *why;
};

void ipw_devlist_add(struct ipw_devlist *l, unsigned index, const char *why);
/* Append fmt (two %s: the device list, the reason) to c->info.notes when the list is not empty. */
void ipw_devlist_note(struct ipw_collector *c, const char *fmt, const struct ipw_devlist *l);

#endif
