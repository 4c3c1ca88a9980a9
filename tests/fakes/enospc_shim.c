/* A full disk for one file, as an LD_PRELOAD library: files whose path contains
 * IPW_FAULT_ENOSPC_PATH accept IPW_FAULT_ENOSPC_AFTER bytes in all (default 0); past that,
 * write, pwrite, writev and fwrite on them fail with ENOSPC, a write that crosses the limit is
 * cut short as the kernel cuts it, and fflush / fclose of a stream that failed report ENOSPC.
 * Everything else passes through. The tests use it to fill the disk under records.jsonl, the
 * Arrow file or summary.json alone, which a small tmpfs could not do without root. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

#define MAX_FD 4096

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static bool marked[MAX_FD];      /* fd opened on a matching path */
static bool stream_failed[MAX_FD]; /* a stream on that fd had a write refused */
static long long used;           /* bytes the matching files took so far */

static const char *pattern(void)
{
    const char *p = getenv("IPW_FAULT_ENOSPC_PATH");
    return p && *p ? p : NULL;
}

static long long limit(void)
{
    const char *s = getenv("IPW_FAULT_ENOSPC_AFTER");
    return s ? atoll(s) : 0;
}

static void note_open(int fd, const char *path)
{
    const char *pat = pattern();
    if (fd < 0 || fd >= MAX_FD)
        return;
    pthread_mutex_lock(&lock);
    marked[fd] = pat && path && strstr(path, pat);
    stream_failed[fd] = false;
    pthread_mutex_unlock(&lock);
}

/* How many of n bytes a write to fd may take: n when fd is not a matching file; else what is
 * left of the limit (0: refuse with ENOSPC). */
static size_t allowance(int fd, size_t n)
{
    if (fd < 0 || fd >= MAX_FD)
        return n;
    pthread_mutex_lock(&lock);
    size_t ok = n;
    if (marked[fd]) {
        long long left = limit() - used;
        ok = left <= 0 ? 0 : (size_t)left < n ? (size_t)left : n;
        used += (long long)ok;
    }
    pthread_mutex_unlock(&lock);
    return ok;
}

#define REAL(name) static __typeof__(name) *real_##name; \
    if (!real_##name) real_##name = (__typeof__(name) *)dlsym(RTLD_NEXT, #name)

static mode_t mode_arg(int flags, va_list ap)
{
    return (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE ? (mode_t)va_arg(ap, int) : 0;
}

int open(const char *path, int flags, ...)
{
    REAL(open);
    va_list ap;
    va_start(ap, flags);
    mode_t m = mode_arg(flags, ap);
    va_end(ap);
    int fd = real_open(path, flags, m);
    note_open(fd, path);
    return fd;
}

int open64(const char *path, int flags, ...)
{
    REAL(open64);
    va_list ap;
    va_start(ap, flags);
    mode_t m = mode_arg(flags, ap);
    va_end(ap);
    int fd = real_open64(path, flags, m);
    note_open(fd, path);
    return fd;
}

int openat(int dirfd, const char *path, int flags, ...)
{
    REAL(openat);
    va_list ap;
    va_start(ap, flags);
    mode_t m = mode_arg(flags, ap);
    va_end(ap);
    int fd = real_openat(dirfd, path, flags, m);
    note_open(fd, path);
    return fd;
}

FILE *fopen(const char *path, const char *mode)
{
    REAL(fopen);
    FILE *f = real_fopen(path, mode);
    if (f)
        note_open(fileno(f), path);
    return f;
}

FILE *fopen64(const char *path, const char *mode)
{
    REAL(fopen64);
    FILE *f = real_fopen64(path, mode);
    if (f)
        note_open(fileno(f), path);
    return f;
}

ssize_t write(int fd, const void *buf, size_t n)
{
    REAL(write);
    size_t ok = allowance(fd, n);
    if (n && !ok) {
        errno = ENOSPC;
        return -1;
    }
    return real_write(fd, buf, ok);
}

ssize_t pwrite(int fd, const void *buf, size_t n, off_t off)
{
    REAL(pwrite);
    size_t ok = allowance(fd, n);
    if (n && !ok) {
        errno = ENOSPC;
        return -1;
    }
    return real_pwrite(fd, buf, ok, off);
}

ssize_t pwrite64(int fd, const void *buf, size_t n, off_t off)
{
    REAL(pwrite64);
    size_t ok = allowance(fd, n);
    if (n && !ok) {
        errno = ENOSPC;
        return -1;
    }
    return real_pwrite64(fd, buf, ok, off);
}

ssize_t writev(int fd, const struct iovec *iov, int cnt)
{
    REAL(writev);
    size_t n = 0;
    for (int i = 0; i < cnt; i++)
        n += iov[i].iov_len;
    size_t ok = allowance(fd, n);
    if (ok == n)
        return real_writev(fd, iov, cnt);
    if (!ok) {
        errno = ENOSPC;
        return -1;
    }
    /* cut short: the first ok bytes of the vector */
    ssize_t done = 0;
    for (int i = 0; i < cnt && ok; i++) {
        size_t k = iov[i].iov_len < ok ? iov[i].iov_len : ok;
        REAL(write);
        ssize_t w = real_write(fd, iov[i].iov_base, k);
        if (w < 0)
            return done ? done : -1;
        done += w;
        ok -= (size_t)w;
    }
    return done;
}

/* stdio writes through glibc's internal write, which LD_PRELOAD cannot reach: refuse at
 * fwrite instead, and make the stream's flush and close report it */
size_t fwrite(const void *p, size_t size, size_t nmemb, FILE *f)
{
    REAL(fwrite);
    int fd = fileno(f);
    size_t n = size * nmemb;
    size_t ok = allowance(fd, n);
    if (ok < n) {
        pthread_mutex_lock(&lock);
        if (fd >= 0 && fd < MAX_FD)
            stream_failed[fd] = true;
        pthread_mutex_unlock(&lock);
        size_t whole = size ? ok / size : 0;
        if (whole)
            real_fwrite(p, size, whole, f);
        errno = ENOSPC;
        return whole;
    }
    return real_fwrite(p, size, nmemb, f);
}

static bool failed_stream(FILE *f)
{
    int fd = f ? fileno(f) : -1;
    if (fd < 0 || fd >= MAX_FD)
        return false;
    pthread_mutex_lock(&lock);
    bool failed = stream_failed[fd];
    pthread_mutex_unlock(&lock);
    return failed;
}

int fflush(FILE *f)
{
    REAL(fflush);
    bool failed = failed_stream(f);
    int rc = real_fflush(f);
    if (failed) {
        errno = ENOSPC;
        return EOF;
    }
    return rc;
}

int fclose(FILE *f)
{
    REAL(fclose);
    bool failed = failed_stream(f);
    int fd = fileno(f);
    int rc = real_fclose(f);
    if (fd >= 0 && fd < MAX_FD) {
        pthread_mutex_lock(&lock);
        stream_failed[fd] = false;
        pthread_mutex_unlock(&lock);
    }
    if (failed) {
        errno = ENOSPC;
        return EOF;
    }
    return rc;
}
