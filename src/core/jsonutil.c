/* jansson conveniences: null for missing numbers, bounded atomic file I/O with clear errors. */
#include "ipw/jsonutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ipw/fsutil.h"

json_t *ipw_json_real_or_null(double v, bool valid)
{
    return valid && isfinite(v) ? json_real(v) : json_null();
}

ipw_err ipw_json_load_file(const char *path, size_t max_bytes, json_t **out, ipw_errbuf *eb)
{
    char *text;
    size_t len;
    *out = NULL;
    ipw_err e = ipw_read_file(path, max_bytes, &text, &len, eb);
    if (e != IPW_OK)
        return e;
    json_error_t je;
    json_t *j = json_loadb(text, len, JSON_ALLOW_NUL, &je);
    free(text);
    if (!j)
        return ipw_fail(eb, IPW_E_INVALID, "%s is not valid JSON (line %d, column %d: %s)", path,
                        je.line, je.column, je.text);
    *out = j;
    return IPW_OK;
}

ipw_err ipw_json_write_file(const char *path, const json_t *j, ipw_errbuf *eb)
{
    char *text = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(17));
    if (!text)
        return ipw_fail(eb, IPW_E_NOMEM, "cannot serialize JSON for %s", path);
    size_t len = strlen(text);
    /* end with a newline like any text file */
    char *withnl = realloc(text, len + 2);
    if (!withnl) {
        free(text);
        return ipw_fail(eb, IPW_E_NOMEM, "out of memory writing %s", path);
    }
    withnl[len] = '\n';
    withnl[len + 1] = '\0';
    ipw_err e = ipw_write_file_atomic(path, withnl, len + 1, eb);
    free(withnl);
    return e;
}

bool ipw_json_get_number(const json_t *obj, const char *key, double *out)
{
    json_t *v = json_object_get(obj, key);
    if (!json_is_number(v))
        return false;
    *out = json_number_value(v);
    return true;
}

const char *ipw_json_get_string(const json_t *obj, const char *key)
{
    return json_string_value(json_object_get(obj, key));
}
