/* The published-accuracy table (data/accuracy/published.json, embedded) and the modelled
 * correctness drawn from it for the sim backend's mcq and exact answers. */
#include "ipw/published_accuracy.h"

#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "ipw/embedded.h"
#include "ipw/splitmix.h"

#define TABLE_PATH "accuracy/published.json"

static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static json_t *g_table; /* parsed once, read-only afterwards */

static void load_table(void)
{
    const struct ipw_embedded_file *f = ipw_embedded_find(TABLE_PATH);
    if (f)
        g_table = json_loadb((const char *)f->data, *f->len, 0, NULL);
}

ipw_err ipw_published_accuracy_get(const char *model, const char *kind,
                                   struct ipw_published_accuracy *out, ipw_errbuf *eb)
{
    memset(out, 0, sizeof *out);
    pthread_once(&g_once, load_table);
    if (!g_table)
        return ipw_fail(eb, IPW_E_INTERNAL, "the embedded %s is missing or malformed", TABLE_PATH);
    const json_t *e = json_object_get(json_object_get(json_object_get(g_table, "models"),
                                                      model ? model : ""),
                                      kind ? kind : "");
    const json_t *acc = json_object_get(e, "accuracy");
    const char *bench = json_string_value(json_object_get(e, "benchmark"));
    const char *src = json_string_value(json_object_get(e, "source"));
    if (!json_is_number(acc) || !bench || !src)
        return ipw_fail(eb, IPW_E_NOTFOUND, "no published %s accuracy for model %s in %s",
                        kind ? kind : "(none)", model ? model : "(none)", TABLE_PATH);
    double a = json_number_value(acc);
    if (!(a >= 0 && a <= 1))
        return ipw_fail(eb, IPW_E_INTERNAL, "%s: accuracy %g of %s is not in 0..1", TABLE_PATH,
                        a, model);
    out->accuracy = a;
    snprintf(out->benchmark, sizeof out->benchmark, "%s", bench);
    snprintf(out->source, sizeof out->source, "%s", src);
    return IPW_OK;
}

bool ipw_modelled_correct(const char *problem, uint64_t seed, double p)
{
    uint64_t h = 1469598103934665603ull;
    for (const char *s = problem ? problem : ""; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    /* splitmix64's finaliser spreads FNV-1a's weak low bits over the whole word */
    uint64_t u = ipw_splitmix64_mix(h ^ ipw_splitmix64_mix(seed + 0x9e3779b97f4a7c15ull));
    /* 53 bits: a uniform double in [0, 1) */
    return (double)(u >> 11) * (1.0 / 9007199254740992.0) < p;
}
