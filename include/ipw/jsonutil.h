/* Small helpers on top of jansson used by every module that reads or writes JSON files. */
#ifndef IPW_JSONUTIL_H
#define IPW_JSONUTIL_H

#include <jansson.h>
#include <stdbool.h>

#include "ipw/buf.h"
#include "ipw/err.h"

/* json_dumps for everything ipw writes: reals in their shortest form that reads back to the
 * same double (0.05, not jansson's 0.050000000000000003), so files are exact and readable.
 * flags as for json_dumps (any JSON_REAL_PRECISION is overridden). Free with free(). */
char *ipw_json_dumps(const json_t *j, size_t flags);

/* Writers that stream many small records (scores.jsonl) format them without building a
 * document, byte for byte as ipw_json_dumps would: */
#define IPW_JSON_REAL_MAX 48
/* the text of a finite real (what ipw_json_dumps prints for json_real(v)); its length, 0 on
 * a value that does not fit */
size_t ipw_json_real_text(double v, char out[IPW_JSON_REAL_MAX]);
/* s as a quoted JSON string (as jansson escapes it) appended to b; false, with nothing
 * appended, when s is not valid UTF-8 (json_string() would refuse it) */
bool ipw_json_put_string(struct ipw_buf *b, const char *s);

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

/* ---- building JSON with a sticky error ------------------------------------------------------
 * jansson's json_object_set_new / json_array_append_new report a failed allocation (of the
 * value, or of the slot) only in a result that is easy to ignore; a document built that way can
 * silently miss fields. These wrappers remember the first failure (and the key it hit) in a
 * struct ipw_jb, so a builder calls them freely and checks once, with ipw_jb_finish(), before
 * the document is used. A NULL value or container counts as a failure (a json_* constructor
 * that ran out of memory); the value is always consumed, as with the _new functions. */
struct ipw_jb {
    ipw_err err;    /* IPW_OK until something failed */
    char key[64];   /* the member or array where the first failure happened */
};

/* obj[key] = val. Returns val (borrowed), or NULL when it failed. */
json_t *ipw_jb_set(struct ipw_jb *jb, json_t *obj, const char *key, json_t *val);
/* arr += val. Returns val (borrowed), or NULL when it failed. */
json_t *ipw_jb_push(struct ipw_jb *jb, json_t *arr, json_t *val);
/* Fold a failure of a nested builder (another struct ipw_jb) into this one. */
void ipw_jb_merge(struct ipw_jb *jb, const struct ipw_jb *inner);
/* IPW_OK, or the first failure, as "out of memory building <what> (at \"key\")". */
__attribute__((warn_unused_result)) ipw_err ipw_jb_finish(const struct ipw_jb *jb,
                                                          ipw_errbuf *eb, const char *what);

#endif
