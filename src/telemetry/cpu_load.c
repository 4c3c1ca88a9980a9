/* CPU utilisation from /proc/stat and the load curve that turns it into modelled package
 * power (src/telemetry/cpu_model.h). */
#include <stdlib.h>
#include <string.h>

#include "telemetry/cpu_model.h"

ipw_err ipw_procstat_parse(const char *text, size_t len, struct ipw_cpu_times *out,
                           ipw_errbuf *eb)
{
    /* the aggregate line comes first: "cpu  user nice system idle iowait irq softirq steal
     * guest guest_nice" (fields after idle appeared over the years; missing ones are 0) */
    if (len < 4 || strncmp(text, "cpu ", 4) != 0)
        return ipw_fail(eb, IPW_E_INVALID, "/proc/stat does not start with the 'cpu' line");
    unsigned long long v[10] = {0};
    const char *p = text + 4, *end = text + len;
    int n = 0;
    while (n < 10 && p < end && *p != '\n') {
        while (p < end && *p == ' ')
            p++;
        if (p >= end || *p == '\n')
            break;
        char *stop;
        char num[32];
        size_t k = 0;
        while (p < end && *p != ' ' && *p != '\n' && k + 1 < sizeof num)
            num[k++] = *p++;
        num[k] = '\0';
        v[n] = strtoull(num, &stop, 10);
        if (stop == num || *stop)
            return ipw_fail(eb, IPW_E_INVALID, "/proc/stat: 'cpu' field %d is '%s', not a count",
                            n + 1, num);
        n++;
    }
    if (n < 4)
        return ipw_fail(eb, IPW_E_INVALID, "/proc/stat: the 'cpu' line has %d fields, not 4 or "
                                           "more", n);
    out->busy = v[0] + v[1] + v[2] + v[5] + v[6];
    out->idle = v[3] + v[4];
    return IPW_OK;
}

double ipw_cpu_busy_share(const struct ipw_cpu_times *a, const struct ipw_cpu_times *b)
{
    if (b->busy < a->busy || b->idle < a->idle)
        return -1;
    uint64_t busy = b->busy - a->busy, total = busy + (b->idle - a->idle);
    return total ? (double)busy / (double)total : -1;
}

double ipw_cpu_model_power(const struct ipw_cpu_power_model *m, double u)
{
    u = u < 0 ? 0 : u > 1 ? 1 : u;
    return m->packages * (m->idle_w + (m->full_w - m->idle_w) * u);
}
