/* Where ipw's on-disk data lives (data too large to compile in, e.g. the simulator's profile
 * bundles under data/sim): looked up at run time, not embedded. */
#ifndef IPW_DATADIR_H
#define IPW_DATADIR_H

#include <stddef.h>

#include "ipw/err.h"

/* Resolves the relative path rel (a file or a directory, e.g. "sim") to the first existing of
 * $IPW_DATA_DIR/rel, <directory of the running executable>/../share/ipw/rel and the source
 * tree's data/rel (a compile-time path, for running from a build directory). Writes the path
 * to out; IPW_E_NOTFOUND with a message listing the places tried, IPW_E_RANGE when out is too
 * small. msg may be NULL. */
ipw_err ipw_datadir_find(const char *rel, char *out, size_t outlen, char *msg, size_t msglen);

#endif
