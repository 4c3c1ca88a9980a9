/* `--server-pid auto`: the process listening on the client URL's port, found as `ss -lp` does:
 * the listening socket's inode in /proc/net/tcp and tcp6, then the /proc/<pid>/fd link that
 * points at socket:[inode]. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ipw/lab.h"

#define MAX_INODES 64
#define TCP_LISTEN 0x0A

/* Inodes of sockets listening on port in one of /proc/net/tcp{,6}. */
static size_t listening_inodes(const char *root, const char *file, int port,
                               unsigned long *inodes, size_t n, size_t max)
{
    char path[4200], line[512];
    snprintf(path, sizeof path, "%s/net/%s", root, file);
    FILE *f = fopen(path, "re");
    if (!f)
        return n;
    if (!fgets(line, sizeof line, f)) { /* header */
        fclose(f);
        return n;
    }
    while (n < max && fgets(line, sizeof line, f)) {
        /* sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode */
        char local[64];
        unsigned st;
        unsigned long inode;
        if (sscanf(line, " %*s %63s %*s %x %*s %*s %*s %*s %*s %lu", local, &st, &inode) != 3)
            continue;
        const char *colon = strrchr(local, ':');
        if (!colon || st != TCP_LISTEN || inode == 0)
            continue;
        if ((int)strtol(colon + 1, NULL, 16) == port)
            inodes[n++] = inode;
    }
    fclose(f);
    return n;
}

ipw_err ipw_lab_find_listener(const char *procfs_root, int port, int *pid, ipw_errbuf *eb)
{
    const char *root = procfs_root ? procfs_root : "/proc";
    unsigned long inodes[MAX_INODES];
    size_t n = listening_inodes(root, "tcp", port, inodes, 0, MAX_INODES);
    n = listening_inodes(root, "tcp6", port, inodes, n, MAX_INODES);
    if (n == 0)
        return ipw_fail(eb, IPW_E_NOTFOUND,
                        "no process listens on port %d here (per %s/net/tcp and tcp6): the "
                        "server may run on another machine or in a container; give --server-pid "
                        "PID or --server-pid none",
                        port, root);
    DIR *d = opendir(root);
    if (!d)
        return ipw_fail(eb, IPW_E_IO, "cannot list %s: %s", root, strerror(errno));
    struct dirent *de;
    int unreadable = 0;
    while ((de = readdir(d)) != NULL) {
        if (!isdigit((unsigned char)de->d_name[0]))
            continue;
        char fddir[4200];
        snprintf(fddir, sizeof fddir, "%s/%s/fd", root, de->d_name);
        DIR *fd = opendir(fddir);
        if (!fd) {
            unreadable += errno == EACCES;
            continue;
        }
        struct dirent *fe;
        while ((fe = readdir(fd)) != NULL) {
            char link[4500], target[128];
            snprintf(link, sizeof link, "%s/%s", fddir, fe->d_name);
            ssize_t len = readlink(link, target, sizeof target - 1);
            if (len <= 0)
                continue;
            target[len] = '\0';
            unsigned long ino;
            if (sscanf(target, "socket:[%lu]", &ino) != 1)
                continue;
            for (size_t i = 0; i < n; i++)
                if (inodes[i] == ino) {
                    *pid = atoi(de->d_name);
                    closedir(fd);
                    closedir(d);
                    return IPW_OK;
                }
        }
        closedir(fd);
    }
    closedir(d);
    if (unreadable)
        return ipw_fail(eb, IPW_E_PERM,
                        "a socket listens on port %d but its process could not be found (%d "
                        "processes' fds were not readable); run as the server's user or root, "
                        "or give --server-pid PID",
                        port, unreadable);
    return ipw_fail(eb, IPW_E_NOTFOUND,
                    "a socket listens on port %d but no process here holds it (another network "
                    "namespace?); give --server-pid PID or none",
                    port);
}

int ipw_lab_url_port(const char *url)
{
    if (!url)
        return -1;
    const char *p = strstr(url, "://");
    bool https = strncmp(url, "https", 5) == 0;
    p = p ? p + 3 : url;
    const char *end = p + strcspn(p, "/?#");
    const char *colon = NULL;
    if (*p == '[') { /* [v6]:port */
        const char *rb = memchr(p, ']', (size_t)(end - p));
        colon = rb && rb + 1 < end && rb[1] == ':' ? rb + 1 : NULL;
    } else {
        colon = memchr(p, ':', (size_t)(end - p));
    }
    if (!colon)
        return https ? 443 : 80;
    char *e;
    long port = strtol(colon + 1, &e, 10);
    return e == end && port > 0 && port < 65536 ? (int)port : -1;
}
