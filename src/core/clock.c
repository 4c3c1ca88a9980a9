/* Monotonic and wall clocks, absolute sleeps, and duration parsing for command-line flags. */
#include "ipw/clock.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int64_t read_clock(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (int64_t)ts.tv_sec * IPW_NS_PER_SEC + ts.tv_nsec;
}

int64_t ipw_mono_ns(void) { return read_clock(CLOCK_MONOTONIC); }
int64_t ipw_real_ns(void) { return read_clock(CLOCK_REALTIME); }

void ipw_sleep_until_ns(int64_t deadline_ns)
{
    struct timespec ts = {.tv_sec = deadline_ns / IPW_NS_PER_SEC,
                          .tv_nsec = deadline_ns % IPW_NS_PER_SEC};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR) {
    }
}

void ipw_sleep_ns(int64_t ns)
{
    if (ns > 0)
        ipw_sleep_until_ns(ipw_mono_ns() + ns);
}

int64_t ipw_parse_duration_ns(const char *text, int64_t default_unit_ns)
{
    if (!text || !*text)
        return -1;
    char *end = NULL;
    errno = 0;
    double v = strtod(text, &end);
    if (errno || end == text || !isfinite(v) || v < 0)
        return -1;
    double unit = (double)default_unit_ns;
    if (*end) {
        if (strcmp(end, "ns") == 0) unit = 1;
        else if (strcmp(end, "us") == 0) unit = 1e3;
        else if (strcmp(end, "ms") == 0) unit = 1e6;
        else if (strcmp(end, "s") == 0) unit = 1e9;
        else if (strcmp(end, "m") == 0 || strcmp(end, "min") == 0) unit = 60e9;
        else if (strcmp(end, "h") == 0) unit = 3600e9;
        else return -1;
    }
    double ns = v * unit;
    if (ns > 9.0e18)
        return -1;
    return (int64_t)llround(ns);
}
