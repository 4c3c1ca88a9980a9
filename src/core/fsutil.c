/* Durable file operations. Every result file is written through here so a crash leaves either
 * the old or the new version, never half of one. */
#include "ipw/fsutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static ipw_err errno_code(int e)
{
    switch (e) {
    case EACCES:
    case EPERM:
    case EROFS: return IPW_E_PERM;
    case ENOENT:
    case ENOTDIR: return IPW_E_NOTFOUND;
    case ENOMEM:
    case ENOSPC: return IPW_E_NOMEM;
    case EEXIST: return IPW_E_EXISTS;
    default: return IPW_E_IO;
    }
}

static void fsync_dir_of(const char *path)
{
    char copy[4096];
    snprintf(copy, sizeof copy, "%s", path);
    int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

/* Errors name path, the file the user asked for, not the temporary beside it. */
ipw_err ipw_write_file_atomic(const char *path, const void *data, size_t len, ipw_errbuf *eb)
{
    char tmp[4096];
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) >= sizeof tmp)
        return ipw_fail(eb, IPW_E_RANGE, "path too long: %s", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        int e = errno;
        return ipw_fail(eb, errno_code(e), "cannot write %s: %s", path, strerror(e));
    }
    const char *p = data;
    size_t left = len;
    while (left) {
        ssize_t w = write(fd, p, left);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            int e = errno;
            close(fd);
            unlink(tmp);
            return ipw_fail(eb, errno_code(e), "cannot write %s: %s", path, strerror(e));
        }
        p += w;
        left -= (size_t)w;
    }
    if (fsync(fd) != 0 || close(fd) != 0) {
        int e = errno;
        unlink(tmp);
        return ipw_fail(eb, errno_code(e), "cannot write %s: %s", path, strerror(e));
    }
    if (rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        return ipw_fail(eb, errno_code(e), "cannot rename %s to %s: %s", tmp, path, strerror(e));
    }
    fsync_dir_of(path);
    return IPW_OK;
}

ipw_err ipw_read_file(const char *path, size_t max_len, char **out, size_t *len, ipw_errbuf *eb)
{
    *out = NULL;
    if (len)
        *len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        return ipw_fail(eb, errno_code(e), "cannot open %s: %s", path, strerror(e));
    }
    size_t cap = max_len < 4096 ? max_len : 4096, n = 0;
    char *buf = malloc(cap + 1);
    if (!buf) {
        close(fd);
        return ipw_fail(eb, IPW_E_NOMEM, "out of memory reading %s", path);
    }
    for (;;) {
        if (n == cap) {
            char probe;
            ssize_t more = cap >= max_len ? read(fd, &probe, 1) : 0;
            if (cap >= max_len && more == 0)
                break; /* exactly max_len bytes */
            if (cap >= max_len) {
                free(buf);
                close(fd);
                return ipw_fail(eb, IPW_E_RANGE, "%s is larger than the %zu-byte limit", path,
                                max_len);
            }
            size_t ncap = cap * 2 > max_len ? max_len : cap * 2;
            char *nb = realloc(buf, ncap + 1);
            if (!nb) {
                free(buf);
                close(fd);
                return ipw_fail(eb, IPW_E_NOMEM, "out of memory reading %s", path);
            }
            buf = nb;
            cap = ncap;
        }
        ssize_t r = read(fd, buf + n, cap - n);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            int e = errno;
            free(buf);
            close(fd);
            return ipw_fail(eb, errno_code(e), "cannot read %s: %s", path, strerror(e));
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    close(fd);
    buf[n] = '\0';
    *out = buf;
    if (len)
        *len = n;
    return IPW_OK;
}

ipw_err ipw_mkdir_p(const char *path, ipw_errbuf *eb)
{
    char buf[4096];
    if ((size_t)snprintf(buf, sizeof buf, "%s", path) >= sizeof buf)
        return ipw_fail(eb, IPW_E_RANGE, "path too long: %s", path);
    for (char *p = buf + 1;; p++) {
        if (*p == '/' || *p == '\0') {
            char saved = *p;
            *p = '\0';
            if (mkdir(buf, 0755) != 0 && errno != EEXIST) {
                int e = errno;
                return ipw_fail(eb, errno_code(e), "cannot create directory %s: %s", buf,
                                strerror(e));
            }
            *p = saved;
            if (!saved)
                break;
        }
    }
    if (!ipw_is_dir(path))
        return ipw_fail(eb, IPW_E_EXISTS, "%s exists and is not a directory", path);
    return IPW_OK;
}

ipw_err ipw_remove_tree(const char *path, ipw_errbuf *eb)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return errno == ENOENT ? IPW_OK
                               : ipw_fail(eb, errno_code(errno), "cannot stat %s: %s", path,
                                          strerror(errno));
    if (S_ISDIR(st.st_mode)) {
        DIR *d = opendir(path);
        if (!d)
            return ipw_fail(eb, errno_code(errno), "cannot open directory %s: %s", path,
                            strerror(errno));
        struct dirent *de;
        while ((de = readdir(d))) {
            if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
                continue;
            char child[4096];
            if (ipw_path_join(child, sizeof child, path, de->d_name, eb) != IPW_OK ||
                ipw_remove_tree(child, eb) != IPW_OK) {
                closedir(d);
                return eb ? eb->code : IPW_E_IO;
            }
        }
        closedir(d);
        if (rmdir(path) != 0)
            return ipw_fail(eb, errno_code(errno), "cannot remove %s: %s", path, strerror(errno));
    } else if (unlink(path) != 0) {
        return ipw_fail(eb, errno_code(errno), "cannot remove %s: %s", path, strerror(errno));
    }
    return IPW_OK;
}

ipw_err ipw_append_line_durable(int fd, const char *line, size_t len, const char *path,
                                ipw_errbuf *eb)
{
    /* One write per record (line + newline) so a crash cannot interleave half-lines. */
    char stackbuf[8192];
    char *buf = len + 1 <= sizeof stackbuf ? stackbuf : malloc(len + 1);
    if (!buf)
        return ipw_fail(eb, IPW_E_NOMEM, "out of memory appending to %s", path);
    memcpy(buf, line, len);
    buf[len] = '\n';
    size_t left = len + 1;
    const char *p = buf;
    ipw_err rc = IPW_OK;
    while (left) {
        ssize_t w = write(fd, p, left);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            rc = ipw_fail(eb, errno_code(errno), "cannot append to %s: %s", path, strerror(errno));
            break;
        }
        p += w;
        left -= (size_t)w;
    }
    if (buf != stackbuf)
        free(buf);
    if (rc == IPW_OK && fdatasync(fd) != 0)
        rc = ipw_fail(eb, errno_code(errno), "cannot flush %s: %s", path, strerror(errno));
    return rc;
}

int ipw_path_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

int ipw_is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

ipw_err ipw_path_join(char *out, size_t size, const char *dir, const char *name, ipw_errbuf *eb)
{
    size_t dl = strlen(dir);
    int slash = dl > 0 && dir[dl - 1] == '/';
    if ((size_t)snprintf(out, size, "%s%s%s", dir, slash ? "" : "/", name) >= size)
        return ipw_fail(eb, IPW_E_RANGE, "path too long: %s/%s", dir, name);
    return IPW_OK;
}
