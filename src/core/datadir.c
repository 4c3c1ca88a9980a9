/* ipw_datadir_find: the three places on-disk data is looked for, in order (include/ipw/datadir.h). */
#include "ipw/datadir.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef IPW_SOURCE_DATA_DIR
#define IPW_SOURCE_DATA_DIR ""
#endif

static int exists(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0;
}

static ipw_err put(char *out, size_t outlen, const char *path, char *msg, size_t msglen)
{
    if (strlen(path) + 1 > outlen) {
        if (msg && msglen)
            snprintf(msg, msglen, "data path %s is longer than %zu bytes", path, outlen - 1);
        return IPW_E_RANGE;
    }
    memcpy(out, path, strlen(path) + 1);
    return IPW_OK;
}

ipw_err ipw_datadir_find(const char *rel, char *out, size_t outlen, char *msg, size_t msglen)
{
    char cand[3][PATH_MAX];
    int n = 0;
    const char *env = getenv("IPW_DATA_DIR");
    if (!rel || !out || outlen == 0) {
        if (msg && msglen)
            snprintf(msg, msglen, "ipw_datadir_find: no path given");
        return IPW_E_INVALID;
    }
    if (env && *env)
        snprintf(cand[n++], PATH_MAX, "%s/%s", env, rel);
    char exe[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (len > 0) {
        exe[len] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash) {
            *slash = '\0';
            snprintf(cand[n++], PATH_MAX, "%s/../share/ipw/%s", exe, rel);
        }
    }
    if (IPW_SOURCE_DATA_DIR[0])
        snprintf(cand[n++], PATH_MAX, "%s/%s", IPW_SOURCE_DATA_DIR, rel);
    for (int i = 0; i < n; i++)
        if (exists(cand[i]))
            return put(out, outlen, cand[i], msg, msglen);
    if (msg && msglen) {
        int w = snprintf(msg, msglen, "data '%s' not found (looked in", rel);
        for (int i = 0; i < n && w >= 0 && (size_t)w < msglen; i++)
            w += snprintf(msg + w, msglen - (size_t)w, "%s %s", i ? "," : "", cand[i]);
        if (w >= 0 && (size_t)w < msglen)
            snprintf(msg + w, msglen - (size_t)w, "); set IPW_DATA_DIR to the folder holding it");
    }
    return IPW_E_NOTFOUND;
}
