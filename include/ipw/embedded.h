/* Data files compiled into the library (everything under data/): the built-in dataset and the
 * hardware and model specs shared by the sim client and the simulator. */
#ifndef IPW_EMBEDDED_H
#define IPW_EMBEDDED_H

#include <stddef.h>

struct ipw_embedded_file {
    const char *path; /* relative to data/, e.g. "datasets/ipw.jsonl" */
    const unsigned char *data; /* NUL-terminated */
    const size_t *len;         /* without the terminator */
};

extern const struct ipw_embedded_file ipw_embedded_files[];

/* The file at path, or NULL. */
const struct ipw_embedded_file *ipw_embedded_find(const char *path);

#endif
