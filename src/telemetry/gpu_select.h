/* Which GPUs a collector measures: CUDA_VISIBLE_DEVICES-style selection by index or UUID. */
#ifndef IPW_TELEMETRY_GPU_SELECT_H
#define IPW_TELEMETRY_GPU_SELECT_H

#include "ipw/err.h"

/* spec: the variable's value (NULL or "all" = every device). Entries are comma-separated
 * indices ("0,2") or UUIDs, full or a unique prefix, with or without the "GPU-" head.
 * uuids[i] is device i's UUID (NULL or "" when unknown). Writes the chosen indices, in the
 * order given, to sel (room for max) and their number to nsel. An entry that names no device,
 * names one twice, or is ambiguous is IPW_E_INVALID; a value that hides every device
 * ("", "none", "-1", ...) is IPW_E_NOTFOUND. `var` names the variable in messages. */
ipw_err ipw_gpu_select(const char *var, const char *spec, unsigned ndev, const char *const *uuids,
                       unsigned *sel, unsigned *nsel, unsigned max, ipw_errbuf *eb);

#endif
