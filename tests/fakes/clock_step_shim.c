/* The wall clock stepped under a running program, as an LD_PRELOAD library: while the file
 * named by IPW_FAULT_CLOCK_STEP_FILE exists, CLOCK_REALTIME (and its coarse variant),
 * gettimeofday and time read that many seconds off (the file holds a signed number, e.g.
 * 3600 or -3600). A test writes the file mid-run to step the clock of every process that
 * loaded the library at once, as an administrator's `date -s` or an NTP step does; the
 * monotonic clocks are left alone, as the kernel leaves them. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

/* The step in ns now: the file is read on every call (a test's clock reads are few). */
static long long step_ns(void)
{
    const char *path = getenv("IPW_FAULT_CLOCK_STEP_FILE");
    if (!path || !*path)
        return 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    char buf[32];
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = 0;
    return (long long)(strtod(buf, NULL) * 1e9);
}

static int real_clock_gettime(clockid_t id, struct timespec *ts)
{
    static int (*fn)(clockid_t, struct timespec *);
    if (!fn)
        fn = (int (*)(clockid_t, struct timespec *))dlsym(RTLD_NEXT, "clock_gettime");
    return fn(id, ts);
}

static void shift(struct timespec *ts, long long ns)
{
    long long t = (long long)ts->tv_sec * 1000000000LL + ts->tv_nsec + ns;
    ts->tv_sec = (time_t)(t / 1000000000LL);
    ts->tv_nsec = (long)(t % 1000000000LL);
    if (ts->tv_nsec < 0) {
        ts->tv_nsec += 1000000000L;
        ts->tv_sec--;
    }
}

__attribute__((visibility("default"))) int clock_gettime(clockid_t id, struct timespec *ts)
{
    int rc = real_clock_gettime(id, ts);
    if (rc == 0 && (id == CLOCK_REALTIME || id == CLOCK_REALTIME_COARSE))
        shift(ts, step_ns());
    return rc;
}

__attribute__((visibility("default"))) int gettimeofday(struct timeval *tv, void *tz)
{
    (void)tz;
    struct timespec ts;
    int rc = clock_gettime(CLOCK_REALTIME, &ts);
    if (rc == 0) {
        tv->tv_sec = ts.tv_sec;
        tv->tv_usec = ts.tv_nsec / 1000;
    }
    return rc;
}

__attribute__((visibility("default"))) time_t time(time_t *out)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    if (out)
        *out = ts.tv_sec;
    return ts.tv_sec;
}
