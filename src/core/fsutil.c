/* Durable file operations. Every result file is written through here so a crash leaves either
 * the old or the new version, never half of one. */
#include "ipw/fsutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ipw/buf.h"

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
    /* one byte past the limit is read, to tell "exactly max_len" from "larger" */
    struct ipw_buf b;
    ipw_buf_init(&b, max_len < SIZE_MAX ? max_len + 1 : max_len);
    ipw_err e = IPW_OK;
    for (;;) {
        size_t want = b.cap > b.len + 1 ? b.cap - b.len - 1 : 4096;
        if (want > b.max - b.len)
            want = b.max - b.len;
        if (want == 0)
            break; /* the limit plus one byte was read */
        e = ipw_buf_reserve(&b, want);
        if (e != IPW_OK)
            break;
        ssize_t r = read(fd, b.p + b.len, want);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int err = errno;
            close(fd);
            ipw_buf_free(&b);
            return ipw_fail(eb, errno_code(err), "cannot read %s: %s", path, strerror(err));
        }
        if (r == 0)
            break;
        ipw_buf_commit(&b, (size_t)r);
    }
    close(fd);
    if (e == IPW_OK && b.len > max_len)
        e = IPW_E_RANGE;
    if (e == IPW_OK)
        e = ipw_buf_take(&b, out, len);
    else
        ipw_buf_free(&b);
    if (e == IPW_E_RANGE)
        return ipw_fail(eb, e, "%s is larger than the %zu-byte limit", path, max_len);
    if (e != IPW_OK)
        return ipw_fail(eb, e, "out of memory reading %s", path);
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
