/* The Scaphandre poller of one run: a thread that reads the exporter no faster than every
 * min_interval (2 s: its exporter freezes when polled faster) and integrates the matched
 * processes' power with the right rectangle. Not a public interface. */
#ifndef IPW_LAB_SCAPH_POLL_H
#define IPW_LAB_SCAPH_POLL_H

#include <stdint.h>

#include "ipw/lab.h"

struct lab_scaph_poller;

/* Polls once at once (opening the window), then keeps polling. */
ipw_err lab_scaph_start(const char *url, const char *match, int64_t min_interval_ns,
                        struct lab_scaph_poller **out, ipw_errbuf *eb);
/* Ends the window now: waits until min_interval has passed since the last poll, polls once
 * more (its value covers the tail of the run) and returns the energy in J. */
ipw_err lab_scaph_stop(struct lab_scaph_poller *p, double *joules, int *polls, ipw_errbuf *eb);

#endif
