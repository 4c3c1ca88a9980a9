/* CUDA_VISIBLE_DEVICES parsing for the GPU collectors. CUDA itself silently stops at the first
 * bad entry; a measurement tool must not guess which GPUs it measured, so every bad entry here
 * is an error that says what was wrong. */
#include "gpu_select.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static bool all_digits(const char *s, size_t n)
{
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isdigit((unsigned char)s[i]))
            return false;
    return true;
}

static bool is_word(const char *s, size_t n, const char *w)
{
    return strlen(w) == n && strncasecmp(s, w, n) == 0;
}

/* The UUID list, shortened, for "did you mean" messages. */
static void list_uuids(char *out, size_t size, unsigned ndev, const char *const *uuids)
{
    size_t len = 0;
    out[0] = '\0';
    for (unsigned i = 0; i < ndev && len + 8 < size; i++) {
        int w = snprintf(out + len, size - len, "%s%u=%s", i ? ", " : "", i,
                         uuids && uuids[i] && uuids[i][0] ? uuids[i] : "?");
        if (w < 0)
            break;
        len += (size_t)w;
    }
}

/* Index of the one device whose UUID starts with entry (GPU- head optional), or -1 with why. */
static int match_uuid(const char *e, size_t n, unsigned ndev, const char *const *uuids, int *nmatch)
{
    bool headed = n >= 4 && strncasecmp(e, "GPU-", 4) == 0;
    int found = -1;
    *nmatch = 0;
    for (unsigned i = 0; i < ndev; i++) {
        const char *u = uuids ? uuids[i] : NULL;
        if (!u || !u[0])
            continue;
        if (!headed && strncasecmp(u, "GPU-", 4) == 0)
            u += 4;
        if (strlen(u) >= n && strncasecmp(u, e, n) == 0) {
            found = (int)i;
            (*nmatch)++;
        }
    }
    return *nmatch == 1 ? found : -1;
}

ipw_err ipw_gpu_select(const char *var, const char *spec, unsigned ndev, const char *const *uuids,
                       unsigned *sel, unsigned *nsel, unsigned max, ipw_errbuf *eb)
{
    *nsel = 0;
    const char *s = spec ? spec : "all";
    while (isspace((unsigned char)*s))
        s++;
    size_t total = strlen(s);
    while (total && isspace((unsigned char)s[total - 1]))
        total--;
    if (is_word(s, total, "all")) {
        if (ndev > max)
            return ipw_fail(eb, IPW_E_NOMEM,
                            "%u GPUs found but at most %u can be measured; set "
                            "%s to choose which",
                            ndev, max, var);
        for (unsigned i = 0; i < ndev; i++)
            sel[i] = i;
        *nsel = ndev;
        return IPW_OK;
    }
    if (total == 0 || is_word(s, total, "none") || is_word(s, total, "void") ||
        is_word(s, total, "nodevfiles") || (total >= 2 && s[0] == '-'))
        return ipw_fail(eb, IPW_E_NOTFOUND,
                        "%s='%.*s' hides every GPU; unset it, set it to all, or list the GPUs "
                        "to measure",
                        var, (int)(total > 64 ? 64 : total), s);
    char known[384];
    const char *p = s, *end = s + total;
    while (p <= end) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *stop = comma ? comma : end;
        const char *a = p, *b = stop;
        while (a < b && isspace((unsigned char)*a))
            a++;
        while (b > a && isspace((unsigned char)b[-1]))
            b--;
        size_t n = (size_t)(b - a);
        int idx = -1;
        if (n == 0)
            return ipw_fail(eb, IPW_E_INVALID,
                            "%s='%s' has an empty entry; remove the extra "
                            "comma",
                            var, spec);
        if (all_digits(a, n)) {
            unsigned long v = 0;
            for (size_t i = 0; i < n && v <= ndev; i++)
                v = v * 10 + (unsigned long)(a[i] - '0');
            if (v >= ndev)
                return ipw_fail(eb, IPW_E_INVALID,
                                "%s entry '%.*s' names GPU %.*s but only %u GPU%s found "
                                "(indices 0-%u); fix %s",
                                var, (int)n, a, (int)n, a, ndev, ndev == 1 ? " was" : "s were",
                                ndev ? ndev - 1 : 0, var);
            idx = (int)v;
        } else if (n >= 4 && strncasecmp(a, "MIG-", 4) == 0) {
            return ipw_fail(eb, IPW_E_INVALID,
                            "%s entry '%.*s' is a MIG instance; ipw measures whole GPUs, so name "
                            "the parent GPU's index or UUID",
                            var, (int)n, a);
        } else {
            int nmatch;
            idx = match_uuid(a, n, ndev, uuids, &nmatch);
            if (idx < 0) {
                list_uuids(known, sizeof known, ndev, uuids);
                return ipw_fail(eb, IPW_E_INVALID,
                                "%s entry '%.*s' %s (GPUs: %s); use an index or a longer UUID "
                                "prefix",
                                var, (int)n, a,
                                nmatch > 1 ? "matches more than one GPU" : "matches no GPU", known);
            }
        }
        for (unsigned k = 0; k < *nsel; k++)
            if (sel[k] == (unsigned)idx)
                return ipw_fail(eb, IPW_E_INVALID,
                                "%s='%s' names GPU %d twice; list each GPU "
                                "once",
                                var, spec, idx);
        if (*nsel >= max)
            return ipw_fail(eb, IPW_E_NOMEM,
                            "%s names more than %u GPUs, the most ipw can "
                            "measure",
                            var, max);
        sel[(*nsel)++] = (unsigned)idx;
        if (!comma)
            break;
        p = comma + 1;
    }
    return IPW_OK;
}
