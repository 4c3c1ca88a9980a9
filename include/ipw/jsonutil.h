/* Small helpers on top of jansson used by every module that reads or writes JSON files. */
#ifndef IPW_JSONUTIL_H
#define IPW_JSONUTIL_H

#include <jansson.h>
#include <stdbool.h>

#include "ipw/err.h"

/* json_dumps for everything ipw writes: reals in their shortest form that reads back to the
 * same double (0.05, not jansson's 0.050000000000000003), so files are exact and readable.
 * flags as for json_dumps (any JSON_REAL_PRECISION is overridden). Free with free(). */
char *ipw_json_dumps(const json_t *j, size_t flags);

/* A JSON number, or null when !valid or the value is not finite (JSON has no NaN). */
json_t *ipw_json_real_or_null(double v, bool valid);
/* Load a JSON file (bounded to max_bytes); the error names the file, line and column. */
ipw_err ipw_json_load_file(const char *path, size_t max_bytes, json_t **out, ipw_errbuf *eb);
/* Serialize with 2-space indentation, sorted as inserted, and write atomically. */
ipw_err ipw_json_write_file(const char *path, const json_t *j, ipw_errbuf *eb);
/* Numeric value of an integer or real member; false when absent or not a number. */
bool ipw_json_get_number(const json_t *obj, const char *key, double *out);
/* A JSON string from bytes that may not be valid UTF-8 (model output, server error bodies):
 * invalid sequences become U+FFFD instead of the whole value being lost. NULL -> "". */
json_t *ipw_json_string_lossy(const char *s);
json_t *ipw_json_stringn_lossy(const char *s, size_t len);

/* Append a printf-formatted string (at most 511 bytes, kept valid UTF-8) to a JSON array:
 * the "warnings" lists of the analysis files. */
void ipw_json_append_fmt(json_t *arr, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* String member or NULL. */
const char *ipw_json_get_string(const json_t *obj, const char *key);

#endif
