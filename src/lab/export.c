/* `ipw lab export`: every stored run as CSV (one row per run, the §5.4 keys as columns) or as a
 * JSON array of the same objects `ipw lab run --json` prints. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ipw/csv.h"
#include "ipw/jsonutil.h"
#include "ipw/lab.h"

static void csv_value(FILE *f, const json_t *v)
{
    if (json_is_null(v) || !v)
        return;
    if (json_is_string(v)) {
        ipw_csv_put_field(f, json_string_value(v));
        return;
    }
    char *t = ipw_json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
    if (t)
        fputs(t, f);
    free(t);
}

ipw_err ipw_lab_export(struct ipw_lab_store *s, const char *format, FILE *f, ipw_errbuf *eb)
{
    bool csv = strcmp(format, "csv") == 0;
    if (!csv && strcmp(format, "json") != 0)
        return ipw_fail(eb, IPW_E_INVALID, "unknown export format '%s'; use csv or json", format);
    struct ipw_lab_run *runs;
    int64_t *ids;
    size_t n;
    ipw_err rc = ipw_lab_store_runs(s, 0, &runs, &ids, &n, eb);
    if (rc != IPW_OK)
        return rc;
    json_t *arr = json_array();
    /* oldest first in files */
    for (size_t i = n; i-- > 0;) {
        json_t *o = ipw_lab_run_to_json(&runs[i]);
        json_object_set_new(o, "id", json_integer(ids[i]));
        json_array_append_new(arr, o);
    }
    if (csv) {
        json_t *first = json_array_get(arr, 0);
        const char *key;
        json_t *v;
        /* the header from a run's keys: every run object has the same keys in the same order */
        json_t *proto = first ? first : ipw_lab_run_to_json(&(struct ipw_lab_run){0});
        bool sep = false;
        json_object_foreach(proto, key, v)
        {
            fputs(sep ? "," : "", f);
            ipw_csv_put_field(f, key);
            sep = true;
        }
        fputs("\r\n", f);
        if (!first)
            json_decref(proto);
        size_t i;
        json_t *o;
        json_array_foreach(arr, i, o)
        {
            sep = false;
            json_object_foreach(o, key, v)
            {
                fputs(sep ? "," : "", f);
                csv_value(f, v);
                sep = true;
            }
            fputs("\r\n", f);
        }
    } else {
        char *t = ipw_json_dumps(arr, JSON_INDENT(2));
        if (t) {
            fputs(t, f);
            fputc('\n', f);
        }
        free(t);
    }
    json_decref(arr);
    free(runs);
    free(ids);
    if (fflush(f) != 0 || ferror(f))
        return ipw_fail(eb, IPW_E_IO, "cannot write the export: %s", strerror(errno));
    return IPW_OK;
}
