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

void ipw_gpu_sum_add(struct ipw_gpu_sum *s, const struct ipw_device_reading *dr, bool average,
                     bool integrated)
{
    for (int f = 0; f < IPW_DF_COUNT; f++)
        if (ipw_device_has(dr, (enum ipw_device_field)f)) {
            s->sum[f] += dr->v[f];
            s->n[f]++;
        }
    s->any_average |= ipw_device_has(dr, IPW_DF_POWER_W) && average;
    s->any_integrated |= integrated;
}

void ipw_gpu_sum_finish(const struct ipw_gpu_sum *s, unsigned all, struct ipw_reading *r)
{
    if (s->n[IPW_DF_POWER_W] == all) {
        ipw_reading_set(r, IPW_M_GPU_POWER_W, s->sum[IPW_DF_POWER_W]);
        r->power_source = s->any_average ? IPW_POWER_AVERAGE : IPW_POWER_INSTANT;
    }
    if (s->n[IPW_DF_ENERGY_J] == all) {
        ipw_reading_set(r, IPW_M_GPU_ENERGY_J, s->sum[IPW_DF_ENERGY_J]);
        r->energy_source[IPW_DOMAIN_GPU] =
            s->any_integrated ? IPW_ENERGY_INTEGRATED : IPW_ENERGY_COUNTER;
    }
    if (s->n[IPW_DF_TEMPERATURE_C] == all)
        ipw_reading_set(r, IPW_M_TEMPERATURE_C, s->sum[IPW_DF_TEMPERATURE_C] / all);
    if (s->n[IPW_DF_MEM_USED_MB] == all)
        ipw_reading_set(r, IPW_M_GPU_MEM_USED_MB, s->sum[IPW_DF_MEM_USED_MB]);
    if (s->n[IPW_DF_MEM_TOTAL_MB] == all)
        ipw_reading_set(r, IPW_M_GPU_MEM_TOTAL_MB, s->sum[IPW_DF_MEM_TOTAL_MB]);
    if (s->n[IPW_DF_UTIL_PCT] == all)
        ipw_reading_set(r, IPW_M_GPU_UTIL_PCT, s->sum[IPW_DF_UTIL_PCT] / all);
}
