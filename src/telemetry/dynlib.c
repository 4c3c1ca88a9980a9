/* Run-time loading of vendor libraries: no vendor header or link-time dependency, so ipw builds
 * and runs on machines without the driver, and tests load fakes through the same code. */
#include "dynlib.h"

#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

ipw_err ipw_dynlib_open(const char *override, const char *const *candidates, const char *env,
                        const char *what, const char *hint, void **handle, char *used,
                        size_t used_size, ipw_errbuf *eb)
{
    *handle = NULL;
    if (override && *override) {
        void *h = dlopen(override, RTLD_NOW | RTLD_LOCAL);
        if (!h) {
            const char *why = dlerror();
            return ipw_fail(eb, IPW_E_NOTFOUND, "cannot load %s from %s=%s (%s); fix or unset %s",
                            what, env, override, why ? why : "unknown error", env);
        }
        *handle = h;
        snprintf(used, used_size, "%s", override);
        return IPW_OK;
    }
    char tried[384] = "";
    size_t len = 0;
    for (const char *const *p = candidates; *p; p++) {
        void *h = dlopen(*p, RTLD_NOW | RTLD_LOCAL);
        if (h) {
            *handle = h;
            snprintf(used, used_size, "%s", *p);
            return IPW_OK;
        }
        if (len + 4 < sizeof tried) {
            int n = snprintf(tried + len, sizeof tried - len, "%s%s", len ? ", " : "", *p);
            len += n > 0 ? (size_t)n : 0;
            if (len >= sizeof tried)
                len = sizeof tried - 1;
        }
        (void)dlerror();
    }
    return ipw_fail(eb, IPW_E_NOTFOUND, "%s not found (tried %s); %s, or set %s to its path", what,
                    tried, hint, env);
}

ipw_err ipw_dynlib_resolve(void *handle, const struct ipw_dynsym *table, size_t n, void *api,
                           const char *libpath, ipw_errbuf *eb)
{
    for (size_t i = 0; i < n; i++) {
        void *p = NULL;
        for (size_t k = 0; k < 3 && table[i].names[k] && !p; k++)
            p = dlsym(handle, table[i].names[k]);
        /* POSIX guarantees that object and function pointers share a representation. */
        memcpy((char *)api + table[i].offset, &p, sizeof p);
        if (!p && table[i].required) {
            char names[160] = "";
            size_t len = 0;
            for (size_t k = 0; k < 3 && table[i].names[k]; k++) {
                int w = snprintf(names + len, sizeof names - len, "%s%s", k ? " or " : "",
                                 table[i].names[k]);
                len += w > 0 ? (size_t)w : 0;
                if (len >= sizeof names)
                    break;
            }
            return ipw_fail(eb, IPW_E_NOTFOUND,
                            "%s does not export %s: it is too old or not the expected library; "
                            "install a current driver or point the override at the right file",
                            libpath, names);
        }
    }
    return IPW_OK;
}

void ipw_dynlib_close(void *handle)
{
    if (handle)
        dlclose(handle);
}
