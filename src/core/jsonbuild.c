/* Building JSON documents with a sticky error (jsonutil.h, struct ipw_jb): one check at the
 * end instead of an ignored result per member, so a document is never used with fields
 * silently missing after an allocation failure. */
#include <stdio.h>

#include "ipw/jsonutil.h"

static void note(struct ipw_jb *jb, const char *where)
{
    if (jb->err != IPW_OK)
        return; /* the first failure is the one worth naming */
    jb->err = IPW_E_NOMEM;
    snprintf(jb->key, sizeof jb->key, "%s", where ? where : "?");
}

json_t *ipw_jb_set(struct ipw_jb *jb, json_t *obj, const char *key, json_t *val)
{
    /* json_object_set_new consumes val even when it fails, and fails on a NULL obj or val */
    if (json_object_set_new(obj, key, val) != 0) {
        note(jb, key);
        return NULL;
    }
    return val;
}

json_t *ipw_jb_push(struct ipw_jb *jb, json_t *arr, json_t *val)
{
    if (json_array_append_new(arr, val) != 0) {
        note(jb, "[]");
        return NULL;
    }
    return val;
}

void ipw_jb_merge(struct ipw_jb *jb, const struct ipw_jb *inner)
{
    if (inner->err != IPW_OK)
        note(jb, inner->key);
}

ipw_err ipw_jb_finish(const struct ipw_jb *jb, ipw_errbuf *eb, const char *what)
{
    if (jb->err == IPW_OK)
        return IPW_OK;
    return ipw_fail(eb, jb->err, "out of memory building %s (at \"%s\"); free memory and retry",
                    what, jb->key);
}
