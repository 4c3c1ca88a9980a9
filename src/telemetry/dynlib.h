/* Loading a vendor library at run time (NVML, ROCm SMI): try an override path or a list of
 * names, then fill a struct of function pointers from a table of symbol names. */
#ifndef IPW_TELEMETRY_DYNLIB_H
#define IPW_TELEMETRY_DYNLIB_H

#include <stdbool.h>
#include <stddef.h>

#include "ipw/err.h"

/* One function the collector wants: names tried in order (versioned first), and where its
 * pointer goes in the collector's api struct. */
struct ipw_dynsym {
    const char *names[3]; /* unused slots NULL */
    size_t offset;        /* offsetof(api struct, member) */
    bool required;
};

/* dlopen `override` when set (the IPW_*_LIBRARY variable, named by `env` in messages), else each
 * of `candidates` (NULL-terminated) in turn. `what` names the library for messages; `hint` says
 * what to do when nothing loads. The path that loaded is copied to `used`. */
ipw_err ipw_dynlib_open(const char *override, const char *const *candidates, const char *env,
                        const char *what, const char *hint, void **handle, char *used,
                        size_t used_size, ipw_errbuf *eb);

/* Resolve every entry of `table` into `api`. A missing required symbol is IPW_E_NOTFOUND naming
 * it; missing optional ones leave the pointer NULL. */
ipw_err ipw_dynlib_resolve(void *handle, const struct ipw_dynsym *table, size_t n, void *api,
                           const char *libpath, ipw_errbuf *eb);

void ipw_dynlib_close(void *handle);

#endif
