/* Fuzz target for the XML plist reader and the powermetrics sample parser built on it: any
 * input must be parsed or refused with a message, never crash, and a parsed tree must be
 * walkable end to end. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "telemetry/plist.h"
#include "telemetry/powermetrics.h"

static size_t walk(const struct ipw_plist *p, int node, int depth)
{
    size_t seen = 1;
    double v;
    const char *t = ipw_plist_text(p, node);
    const char *k = ipw_plist_key(p, node);
    seen += (t && strlen(t) > 0) + (k && strlen(k) > 0);
    if (ipw_plist_number(p, node, &v))
        seen += v > 0;
    if (depth > IPW_PLIST_MAX_DEPTH + 1)
        abort(); /* the reader promised a depth limit */
    for (int c = ipw_plist_first(p, node); c >= 0; c = ipw_plist_next(p, c))
        seen += walk(p, c, depth + 1);
    return seen;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ipw_plist *p;
    ipw_errbuf eb = {0};
    if (ipw_plist_parse((const char *)data, size, &p, &eb) == IPW_OK) {
        int root = ipw_plist_root(p);
        if (root < 0)
            abort();
        walk(p, root, 1);
        ipw_plist_dict_get(p, root, "processor");
        ipw_plist_free(p);
    } else if (!eb.msg[0]) {
        abort(); /* a refusal always says why */
    }
    struct ipw_pm_sample s;
    ipw_powermetrics_parse_sample((const char *)data, size, &s, &eb);
    return 0;
}
