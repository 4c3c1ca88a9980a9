/* Shared test helpers (see ipw_test.h). */
#include "ipw_test.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ipw/fsutil.h"

char *ipw_test_mkdtemp(const char *prefix)
{
    const char *tmp = getenv("TMPDIR");
    char buf[4096];
    snprintf(buf, sizeof buf, "%s/%s-XXXXXX", tmp && *tmp ? tmp : "/tmp", prefix);
    if (!mkdtemp(buf)) {
        perror("mkdtemp");
        abort();
    }
    return strdup(buf);
}

void ipw_test_rmtree(const char *path) { ipw_remove_tree(path, NULL); }

void ipw_test_write(const char *dir, const char *rel, const char *text)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, rel);
    char parent[4096];
    snprintf(parent, sizeof parent, "%s", path);
    char *slash = strrchr(parent, '/');
    if (slash) {
        *slash = '\0';
        if (ipw_mkdir_p(parent, NULL) != IPW_OK) {
            fprintf(stderr, "cannot create %s\n", parent);
            abort();
        }
    }
    FILE *f = fopen(path, "w");
    if (!f) {
        perror(path);
        abort();
    }
    fputs(text, f);
    fclose(f);
}

const char *ipw_test_source_dir(void)
{
    const char *s = getenv("IPW_TEST_SOURCE_DIR");
    return s ? s : ".";
}

const char *ipw_test_binary_dir(void)
{
    const char *s = getenv("IPW_TEST_BINARY_DIR");
    return s ? s : ".";
}

double ipw_test_rel_err(double a, double b)
{
    return b == 0 ? fabs(a) : fabs(a - b) / fabs(b);
}
