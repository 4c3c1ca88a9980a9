/* The CPU TDP table (data/cpu/cpu_power.csv, from CodeCarbon) and the matching of a
 * /proc/cpuinfo model name against it (src/telemetry/cpu_model.h). */
#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ipw/buf.h"
#include "telemetry/cpu_model.h"
#include "ipw/embedded.h"
#include "ipw/fsutil.h"

#define MAX_WORDS 24

struct cpu_row {
    char *name;               /* as written in the table */
    double tdp_w;
    char *norm;               /* normalised words, NUL-separated */
    unsigned nwords;
    bool has_number;          /* one word holds a digit: a model number */
};

struct ipw_cpu_table {
    struct cpu_row *rows;
    size_t n, cap;
};

/* Lower-case words of a CPU name without the decoration that differs between the kernel's
 * string and the table: trademarks, "CPU", "Processor", "N-Core", the clock after '@', and
 * "with Radeon Graphics"-style suffixes. Words go to out (NUL-separated), count returned. */
static unsigned normalise(const char *in, char *out, size_t outlen, bool *has_number)
{
    char tmp[IPW_CPU_TABLE_MAX_LINE];
    size_t k = 0;
    for (const char *p = in; *p && k + 1 < sizeof tmp; p++) {
        if (*p == '@')
            break;
        if (*p == '(') { /* (R), (TM), (r), (tm) */
            const char *q = strchr(p, ')');
            if (q && q - p <= 3) {
                p = q;
                tmp[k++] = ' ';
                continue;
            }
        }
        unsigned char c = (unsigned char)*p;
        tmp[k++] = c == ',' || c == '\t' || c >= 0x80 ? ' ' : (char)tolower(c);
    }
    tmp[k] = '\0';
    unsigned n = 0;
    size_t at = 0;
    *has_number = false;
    for (char *save = NULL, *w = strtok_r(tmp, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
        if (strcmp(w, "with") == 0)
            break; /* "with Radeon Graphics", "with Radeon Vega Mobile Gfx" */
        size_t wl = strlen(w);
        if (strcmp(w, "cpu") == 0 || strcmp(w, "processor") == 0 ||
            (wl > 5 && strcmp(w + wl - 5, "-core") == 0 && isdigit((unsigned char)w[0])))
            continue;
        if (n >= MAX_WORDS || at + wl + 1 >= outlen)
            break;
        memcpy(out + at, w, wl + 1);
        at += wl + 1;
        n++;
        for (size_t i = 0; i < wl; i++)
            *has_number = *has_number || isdigit((unsigned char)w[i]);
    }
    return n;
}

static bool has_word(const char *words, unsigned n, const char *w)
{
    for (unsigned i = 0; i < n; i++, words += strlen(words) + 1)
        if (strcmp(words, w) == 0)
            return true;
    return false;
}

const char *ipw_cpu_table_match(const struct ipw_cpu_table *t, const char *model_name,
                                double *tdp_w)
{
    char words[IPW_CPU_TABLE_MAX_LINE];
    bool num;
    unsigned n = normalise(model_name ? model_name : "", words, sizeof words, &num);
    const struct cpu_row *best = NULL;
    for (size_t i = 0; t && i < t->n; i++) {
        const struct cpu_row *r = &t->rows[i];
        if (!r->has_number || !(r->tdp_w > 0) || r->nwords > n ||
            (best && r->nwords <= best->nwords))
            continue;
        bool all = true;
        const char *w = r->norm;
        for (unsigned k = 0; k < r->nwords && all; k++, w += strlen(w) + 1)
            all = has_word(words, n, w);
        if (all)
            best = r;
    }
    if (best && tdp_w)
        *tdp_w = best->tdp_w;
    return best ? best->name : NULL;
}

/* One CSV field at *p (quoted or not) into out; *p moves past it and its comma. */
static bool field(const char **p, const char *end, char *out, size_t outlen)
{
    size_t k = 0;
    const char *s = *p;
    if (s < end && *s == '"') {
        bool closed = false;
        for (s++; s < end && !closed; s++) {
            if (*s == '"') {
                if (s + 1 < end && s[1] == '"') {
                    s++;
                } else {
                    closed = true;
                    continue;
                }
            } else if (*s == '\n') {
                return false;
            }
            if (k + 1 >= outlen)
                return false;
            out[k++] = *s;
        }
        if (!closed || (s < end && *s != ','))
            return false;
    } else {
        for (; s < end && *s != ','; s++) {
            if (*s == '"' || k + 1 >= outlen)
                return false;
            out[k++] = *s;
        }
    }
    out[k] = '\0';
    *p = s < end ? s + 1 : s;
    return true;
}

static ipw_err add_row(struct ipw_cpu_table *t, const char *name, double tdp, ipw_errbuf *eb)
{
    if (ipw_grow(&t->rows, &t->cap, t->n + 1, sizeof *t->rows, IPW_CPU_TABLE_MAX_ROWS) != IPW_OK)
        return ipw_fail(eb, IPW_E_RANGE, "more than %d rows", IPW_CPU_TABLE_MAX_ROWS);
    struct cpu_row *r = &t->rows[t->n];
    char norm[IPW_CPU_TABLE_MAX_LINE];
    r->nwords = normalise(name, norm, sizeof norm, &r->has_number);
    size_t nl = 0;
    for (unsigned i = 0; i < r->nwords; i++)
        nl += strlen(norm + nl) + 1;
    r->name = strdup(name);
    r->norm = malloc(nl ? nl : 1);
    if (!r->name || !r->norm) {
        free(r->name);
        free(r->norm);
        return ipw_fail(eb, IPW_E_NOMEM, "out of memory");
    }
    memcpy(r->norm, norm, nl);
    r->tdp_w = tdp;
    t->n++;
    return IPW_OK;
}

ipw_err ipw_cpu_table_parse(const char *text, size_t len, const char *what,
                            struct ipw_cpu_table **out, ipw_errbuf *eb)
{
    *out = NULL;
    struct ipw_cpu_table *t = calloc(1, sizeof *t);
    if (!t)
        return ipw_fail(eb, IPW_E_NOMEM, "out of memory reading %s", what);
    const char *p = text, *end = text + len;
    unsigned line = 0;
    ipw_err e = IPW_OK;
    while (p < end && e == IPW_OK) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        const char *le = eol ? eol : end;
        line++;
        if (le > p && le[-1] == '\r')
            le--;
        if ((size_t)(le - p) >= IPW_CPU_TABLE_MAX_LINE) {
            e = ipw_fail(eb, IPW_E_INVALID, "%s line %u: longer than %d bytes", what, line,
                         IPW_CPU_TABLE_MAX_LINE - 1);
            break;
        }
        if (line == 1) {
            if (le - p < 8 || strncmp(p, "Name,TDP", 8) != 0)
                e = ipw_fail(eb, IPW_E_INVALID, "%s line 1: expected the header 'Name,TDP'",
                             what);
        } else if (le > p) {
            char name[IPW_CPU_TABLE_MAX_LINE], num[64];
            const char *q = p;
            char *stop = NULL;
            double tdp = 0;
            if (!memchr(p, ',', (size_t)(le - p)) || !field(&q, le, name, sizeof name) ||
                !name[0] || !field(&q, le, num, sizeof num) || q != le)
                e = ipw_fail(eb, IPW_E_INVALID, "%s line %u: expected 'name,TDP watts'", what,
                             line);
            else if ((tdp = strtod(num, &stop)), stop == num || *stop || !(tdp >= 0 && tdp < 5000))
                e = ipw_fail(eb, IPW_E_INVALID, "%s line %u: TDP '%s' is not a wattage", what,
                             line, num);
            else if ((e = add_row(t, name, tdp, eb)) != IPW_OK)
                ipw_err_prefix(eb, "%s line %u: ", what, line);
        }
        p = eol ? eol + 1 : end;
    }
    if (e == IPW_OK && t->n == 0)
        e = ipw_fail(eb, IPW_E_INVALID, "%s has no rows", what);
    if (e != IPW_OK) {
        ipw_cpu_table_free(t);
        return e;
    }
    *out = t;
    return IPW_OK;
}

ipw_err ipw_cpu_table_load(struct ipw_cpu_table **out, ipw_errbuf *eb)
{
    const char *path = getenv("IPW_CPU_TABLE");
    if (path && *path) {
        char *text = NULL;
        size_t len = 0;
        ipw_err e = ipw_read_file(path, 8u << 20, &text, &len, eb);
        if (e != IPW_OK)
            return e;
        e = ipw_cpu_table_parse(text, len, path, out, eb);
        free(text);
        return e;
    }
    const struct ipw_embedded_file *f = ipw_embedded_find("cpu/cpu_power.csv");
    if (!f)
        return ipw_fail(eb, IPW_E_NOTFOUND, "the CPU TDP table is not built in");
    return ipw_cpu_table_parse((const char *)f->data, *f->len, "data/cpu/cpu_power.csv", out,
                               eb);
}

void ipw_cpu_table_free(struct ipw_cpu_table *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->n; i++) {
        free(t->rows[i].name);
        free(t->rows[i].norm);
    }
    free(t->rows);
    free(t);
}

size_t ipw_cpu_table_rows(const struct ipw_cpu_table *t) { return t ? t->n : 0; }
