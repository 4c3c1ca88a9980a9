/* A counter file that starts failing with EIO, as an LD_PRELOAD library: descriptors opened on
 * a path containing IPW_FAULT_EIO_PATH are remembered, and while the file named by
 * IPW_FAULT_EIO_FILE exists every read or pread on them fails with EIO, as a sysfs attribute
 * does when the driver behind it errs. Removing the file ends the fault. The tests use it on a
 * fake powercap tree, so the RAPL collector's own open/pread path meets the error. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#define MAX_FD 4096

static atomic_bool marked[MAX_FD];

static void mark(int fd, const char *path)
{
    const char *p = getenv("IPW_FAULT_EIO_PATH");
    if (fd >= 0 && fd < MAX_FD)
        atomic_store(&marked[fd], p && *p && path && strstr(path, p));
}

/* Whether a read of fd must fail now. */
static int failing(int fd)
{
    if (fd < 0 || fd >= MAX_FD || !atomic_load(&marked[fd]))
        return 0;
    const char *f = getenv("IPW_FAULT_EIO_FILE");
    struct stat st;
    return f && *f && stat(f, &st) == 0;
}

#define NEXT(type, name) ((type)dlsym(RTLD_NEXT, name))

static mode_t mode_arg(int flags, va_list ap)
{
    return (flags & (O_CREAT | O_TMPFILE)) ? (mode_t)va_arg(ap, int) : 0;
}

__attribute__((visibility("default"))) int open(const char *path, int flags, ...)
{
    va_list ap;
    va_start(ap, flags);
    mode_t m = mode_arg(flags, ap);
    va_end(ap);
    int fd = NEXT(int (*)(const char *, int, ...), "open")(path, flags, m);
    mark(fd, path);
    return fd;
}

__attribute__((visibility("default"))) int open64(const char *path, int flags, ...)
{
    va_list ap;
    va_start(ap, flags);
    mode_t m = mode_arg(flags, ap);
    va_end(ap);
    int fd = NEXT(int (*)(const char *, int, ...), "open64")(path, flags, m);
    mark(fd, path);
    return fd;
}

__attribute__((visibility("default"))) int openat(int dir, const char *path, int flags, ...)
{
    va_list ap;
    va_start(ap, flags);
    mode_t m = mode_arg(flags, ap);
    va_end(ap);
    int fd = NEXT(int (*)(int, const char *, int, ...), "openat")(dir, path, flags, m);
    mark(fd, path);
    return fd;
}

__attribute__((visibility("default"))) int close(int fd)
{
    if (fd >= 0 && fd < MAX_FD)
        atomic_store(&marked[fd], 0);
    return NEXT(int (*)(int), "close")(fd);
}

__attribute__((visibility("default"))) ssize_t read(int fd, void *buf, size_t n)
{
    if (failing(fd)) {
        errno = EIO;
        return -1;
    }
    return NEXT(ssize_t (*)(int, void *, size_t), "read")(fd, buf, n);
}

__attribute__((visibility("default"))) ssize_t pread(int fd, void *buf, size_t n, off_t off)
{
    if (failing(fd)) {
        errno = EIO;
        return -1;
    }
    return NEXT(ssize_t (*)(int, void *, size_t, off_t), "pread")(fd, buf, n, off);
}

__attribute__((visibility("default"))) ssize_t pread64(int fd, void *buf, size_t n, off_t off)
{
    if (failing(fd)) {
        errno = EIO;
        return -1;
    }
    return NEXT(ssize_t (*)(int, void *, size_t, off_t), "pread64")(fd, buf, n, off);
}
