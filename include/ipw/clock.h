/* Time sources: CLOCK_MONOTONIC for arithmetic, CLOCK_REALTIME only for reported timestamps. */
#ifndef IPW_CLOCK_H
#define IPW_CLOCK_H

#include <stdint.h>

#define IPW_NS_PER_SEC 1000000000LL
#define IPW_NS_PER_MS 1000000LL

int64_t ipw_mono_ns(void);
int64_t ipw_real_ns(void);
/* Sleep until the monotonic time `deadline_ns` (absolute); returns early only on error. */
void ipw_sleep_until_ns(int64_t deadline_ns);
void ipw_sleep_ns(int64_t ns);
/* Parses "250ms", "1s", "1.5s", "2m", or a bare number of `default_unit_ns`; -1 when invalid. */
int64_t ipw_parse_duration_ns(const char *text, int64_t default_unit_ns);

#endif
