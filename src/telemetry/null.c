/* The null collector: no power or energy anywhere, only CPU memory (added by the generic
 * sampling step). It is the last resort of auto-detection and always opens. */
#include <string.h>

#include "ipw/collector.h"
#include "telemetry/collector_priv.h"

static ipw_err null_open(struct ipw_collector *c, ipw_errbuf *eb)
{
    (void)eb;
    c->info.main_domain = IPW_DOMAIN_CPU;
    c->info.ndev = 0;
    return IPW_OK;
}

static ipw_err null_sample(struct ipw_collector *c, struct ipw_reading *r,
                           struct ipw_device_reading *dev, ipw_errbuf *eb)
{
    (void)c, (void)r, (void)dev, (void)eb;
    return IPW_OK;
}

static void null_close(struct ipw_collector *c) { (void)c; }

const struct ipw_collector_ops ipw_collector_null = {
    .name = "null",
    .aliases = NULL,
    .description = "no power counters: CPU memory only",
    .auto_rank = 5,
    .caps = 0,
    .main_domain = IPW_DOMAIN_CPU,
    .open = null_open, .sample = null_sample, .close = null_close};
