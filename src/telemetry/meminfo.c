/* CPU memory in use from /proc/meminfo (MemTotal - MemAvailable). The file stays open and is
 * re-read with pread, because a 50 ms sampler should not pay for open/close every tick. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ipw/collector.h"
#include "telemetry/collector_priv.h"

struct ipw_meminfo {
    int fd;
    int64_t read_at; /* monotonic ns of the cached value, 0 = none */
    double used_mb;
};

ipw_err ipw_meminfo_open(const char *procfs_root, struct ipw_meminfo **out, ipw_errbuf *eb)
{
    char path[512];
    snprintf(path, sizeof path, "%s/meminfo", procfs_root ? procfs_root : "/proc");
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return ipw_fail(eb, IPW_E_NOTFOUND, "cannot open %s: %s; CPU memory unavailable", path,
                        strerror(errno));
    struct ipw_meminfo *m = malloc(sizeof *m);
    if (!m) {
        close(fd);
        return ipw_fail(eb, IPW_E_NOMEM, "out of memory");
    }
    m->fd = fd;
    m->read_at = 0;
    m->used_mb = 0;
    *out = m;
    return IPW_OK;
}

static int field_kb(const char *text, const char *key, long long *kb)
{
    const char *p = strstr(text, key);
    if (!p || (p != text && p[-1] != '\n'))
        return -1;
    p += strlen(key);
    char *end;
    long long v = strtoll(p, &end, 10);
    if (end == p)
        return -1;
    *kb = v;
    return 0;
}

ipw_err ipw_meminfo_used_mb(struct ipw_meminfo *m, double *used_mb)
{
    char buf[8192];
    ssize_t n = pread(m->fd, buf, sizeof buf - 1, 0);
    if (n <= 0)
        return IPW_E_IO;
    buf[n] = '\0';
    long long total, avail;
    if (field_kb(buf, "MemTotal:", &total) || field_kb(buf, "MemAvailable:", &avail))
        return IPW_E_PROTOCOL;
    *used_mb = (double)(total - avail) / 1024.0;
    return IPW_OK;
}

ipw_err ipw_meminfo_used_mb_cached(struct ipw_meminfo *m, int64_t now_ns, int64_t max_age_ns,
                                   double *used_mb)
{
    if (m->read_at && max_age_ns > 0 && now_ns - m->read_at < max_age_ns && now_ns >= m->read_at) {
        *used_mb = m->used_mb;
        return IPW_OK;
    }
    ipw_err e = ipw_meminfo_used_mb(m, used_mb);
    if (e == IPW_OK) {
        m->read_at = now_ns;
        m->used_mb = *used_mb;
    }
    return e;
}

void ipw_meminfo_close(struct ipw_meminfo *m)
{
    if (m) {
        close(m->fd);
        free(m);
    }
}
