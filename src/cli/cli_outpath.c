/* Output files that a long command writes only when it ends (ipw simulate's CSV and summary,
 * a sweep's CSV): their directory is checked before the work starts, so that a mistyped path
 * costs one line rather than the whole run's results. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"

int ipw_cli_check_output_dir(const char *prog, const char *flag, const char *path)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash)
        snprintf(dir, sizeof dir, ".");
    else
        slash[slash == dir ? 1 : 0] = '\0'; /* "/x.csv" lives in "/" */
    if (access(dir, W_OK | X_OK) == 0)
        return 0;
    fprintf(stderr, "%s: cannot write %s %s: directory %s: %s; give a path in an existing, "
            "writable directory\n", prog, flag, path, dir, strerror(errno));
    return 1;
}
