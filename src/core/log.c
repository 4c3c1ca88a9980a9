/* Leveled logging to stderr with a timestamp; thread-safe because each line is one fprintf. */
#include "ipw/log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static atomic_int g_level = -1;

const char *const ipw_log_level_names[] = {"error", "warn", "info", "debug", "trace", NULL};

int ipw_log_parse_level(const char *name)
{
    for (int i = 0; ipw_log_level_names[i]; i++)
        if (name && strcmp(name, ipw_log_level_names[i]) == 0)
            return i;
    return -1;
}

ipw_log_level ipw_log_get_level(void)
{
    int lv = atomic_load(&g_level);
    if (lv < 0) {
        lv = ipw_log_parse_level(getenv("IPW_LOG_LEVEL"));
        if (lv < 0)
            lv = IPW_LOG_WARN;
        atomic_store(&g_level, lv);
    }
    return (ipw_log_level)lv;
}

void ipw_log_set_level(ipw_log_level level) { atomic_store(&g_level, (int)level); }

void ipw_log_apply_option(const char *given, ipw_log_level dflt)
{
    int lv = ipw_log_parse_level(given);
    if (lv < 0)
        lv = ipw_log_parse_level(getenv("IPW_LOG_LEVEL"));
    ipw_log_set_level(lv < 0 ? dflt : (ipw_log_level)lv);
}

void ipw_log(ipw_log_level level, const char *fmt, ...)
{
    if (level > ipw_log_get_level())
        return;
    char line[2048];
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    int n = snprintf(line, sizeof line, "%02d:%02d:%02d.%03ld %-5s ", tm.tm_hour, tm.tm_min,
                     tm.tm_sec, ts.tv_nsec / 1000000, ipw_log_level_names[level]);
    va_list ap;
    va_start(ap, fmt);
    if (n > 0 && (size_t)n < sizeof line)
        vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
    va_end(ap);
    fprintf(stderr, "%s\n", line);
}
