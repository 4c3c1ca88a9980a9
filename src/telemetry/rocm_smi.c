/* Placeholder until the amd collector lands: it never opens, so detection moves on. */
#include "ipw/collector.h"

static ipw_err ph_open(struct ipw_collector *c, ipw_errbuf *eb)
{
    (void)c;
    return ipw_fail(eb, IPW_E_UNSUPPORTED, "the amd collector is not built yet");
}
static ipw_err ph_sample(struct ipw_collector *c, struct ipw_reading *r,
                         struct ipw_device_reading *d, ipw_errbuf *eb)
{
    (void)c, (void)r, (void)d;
    return ipw_fail(eb, IPW_E_UNSUPPORTED, "the amd collector is not built yet");
}
static void ph_close(struct ipw_collector *c) { (void)c; }

const struct ipw_collector_ops ipw_collector_rocm = {
    .name = "amd", .open = ph_open, .sample = ph_sample, .close = ph_close};
