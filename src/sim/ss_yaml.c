/* A minimal YAML reader for the two YAML files the simulator reads: the architecture
 * catalogue (profiler/models/<type>.yaml) and a profile bundle's meta.yaml. It understands
 * block mappings by indentation, flow lists ([a, b]), plain or quoted scalars and comments:
 * the subset those files use. Anything else is an error naming file:line. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ss.h"

struct yline {
    int indent;
    char *text; /* without indentation and comment */
    long no;
};

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
        s[--n] = '\0';
    return s;
}

static char *unquote(char *s)
{
    size_t n = strlen(s);
    if (n >= 2 && ((s[0] == '\'' && s[n - 1] == '\'') || (s[0] == '"' && s[n - 1] == '"'))) {
        s[n - 1] = '\0';
        return s + 1;
    }
    return s;
}

/* Cuts a " #" comment that is not inside quotes. */
static void cut_comment(char *s)
{
    char q = 0;
    for (char *p = s; *p; p++) {
        if (q) {
            if (*p == q)
                q = 0;
        } else if (*p == '\'' || *p == '"') {
            q = *p;
        } else if (*p == '#' && (p == s || p[-1] == ' ' || p[-1] == '\t')) {
            *p = '\0';
            return;
        }
    }
}

static ipw_err parse_block(struct yline *l, size_t n, size_t *i, int indent, struct ss_ynode *out,
                           const char *path, ipw_errbuf *eb);

static ipw_err set_value(struct ss_ynode *k, char *val, const char *path, long no, ipw_errbuf *eb)
{
    if (*val == '[') {
        size_t len = strlen(val);
        if (val[len - 1] != ']')
            return ipw_fail(eb, IPW_E_INVALID, "%s:%ld: a flow list must end with ']' on the same line",
                            path, no);
        val[len - 1] = '\0';
        k->is_list = true;
        char *p = val + 1;
        while (*trim(p)) {
            char *comma = strchr(p, ',');
            if (comma)
                *comma = '\0';
            char **nl = realloc(k->list, (k->nlist + 1) * sizeof *nl);
            if (!nl)
                return ipw_fail(eb, IPW_E_NOMEM, "out of memory reading %s", path);
            k->list = nl;
            k->list[k->nlist] = strdup(unquote(trim(p)));
            if (!k->list[k->nlist])
                return ipw_fail(eb, IPW_E_NOMEM, "out of memory reading %s", path);
            k->nlist++;
            if (!comma)
                break;
            p = comma + 1;
        }
        return IPW_OK;
    }
    k->scalar = strdup(unquote(val));
    return k->scalar ? IPW_OK : ipw_fail(eb, IPW_E_NOMEM, "out of memory reading %s", path);
}

static ipw_err parse_block(struct yline *l, size_t n, size_t *i, int indent, struct ss_ynode *out,
                           const char *path, ipw_errbuf *eb)
{
    while (*i < n && l[*i].indent >= indent) {
        struct yline *ln = &l[*i];
        if (ln->indent != indent)
            return ipw_fail(eb, IPW_E_INVALID, "%s:%ld: unexpected indentation", path, ln->no);
        if (ln->text[0] == '-')
            return ipw_fail(eb, IPW_E_UNSUPPORTED,
                            "%s:%ld: block lists ('- item') are not supported; write [a, b]", path,
                            ln->no);
        char *colon = NULL;
        char q = 0;
        for (char *p = ln->text; *p; p++) {
            if (q) {
                if (*p == q)
                    q = 0;
            } else if (*p == '\'' || *p == '"') {
                q = *p;
            } else if (*p == ':' && (p[1] == '\0' || p[1] == ' ')) {
                colon = p;
                break;
            }
        }
        if (!colon)
            return ipw_fail(eb, IPW_E_INVALID, "%s:%ld: expected 'key: value'", path, ln->no);
        *colon = '\0';
        struct ss_ynode *nk = realloc(out->kids, (out->nkids + 1) * sizeof *nk);
        if (!nk)
            return ipw_fail(eb, IPW_E_NOMEM, "out of memory reading %s", path);
        out->kids = nk;
        struct ss_ynode *k = &out->kids[out->nkids++];
        memset(k, 0, sizeof *k);
        k->key = strdup(unquote(trim(ln->text)));
        if (!k->key)
            return ipw_fail(eb, IPW_E_NOMEM, "out of memory reading %s", path);
        char *val = trim(colon + 1);
        (*i)++;
        if (*val) {
            ipw_err e = set_value(k, val, path, ln->no, eb);
            if (e)
                return e;
        } else if (*i < n && l[*i].indent > indent) {
            ipw_err e = parse_block(l, n, i, l[*i].indent, k, path, eb);
            if (e)
                return e;
        } else {
            k->scalar = strdup("");
            if (!k->scalar)
                return ipw_fail(eb, IPW_E_NOMEM, "out of memory reading %s", path);
        }
    }
    return IPW_OK;
}

ipw_err ss_yaml_load(const char *path, struct ss_ynode *root, ipw_errbuf *eb)
{
    memset(root, 0, sizeof *root);
    FILE *f = fopen(path, "r");
    if (!f)
        return ipw_fail(eb, IPW_E_NOTFOUND, "cannot open %s: %s", path, strerror(errno));
    struct yline *l = NULL;
    size_t n = 0, cap = 0;
    char *buf = NULL;
    size_t bcap = 0;
    ssize_t len;
    long no = 0;
    ipw_err e = IPW_OK;
    while ((len = getline(&buf, &bcap, f)) >= 0) {
        no++;
        cut_comment(buf);
        int ind = 0;
        while (buf[ind] == ' ')
            ind++;
        if (buf[ind] == '\t') {
            e = ipw_fail(eb, IPW_E_INVALID, "%s:%ld: tabs are not allowed for indentation", path, no);
            break;
        }
        char *t = trim(buf);
        if (!*t || strcmp(t, "---") == 0)
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            struct yline *nl = realloc(l, cap * sizeof *nl);
            if (!nl) {
                e = ipw_fail(eb, IPW_E_NOMEM, "out of memory reading %s", path);
                break;
            }
            l = nl;
        }
        l[n].indent = ind;
        l[n].no = no;
        l[n].text = strdup(t);
        if (!l[n].text) {
            e = ipw_fail(eb, IPW_E_NOMEM, "out of memory reading %s", path);
            break;
        }
        n++;
    }
    free(buf);
    fclose(f);
    if (!e && n) {
        size_t i = 0;
        e = parse_block(l, n, &i, l[0].indent, root, path, eb);
        if (!e && i < n)
            e = ipw_fail(eb, IPW_E_INVALID, "%s:%ld: unexpected indentation", path, l[i].no);
    }
    for (size_t i = 0; i < n; i++)
        free(l[i].text);
    free(l);
    if (e)
        ss_yaml_free(root);
    return e;
}

void ss_yaml_free(struct ss_ynode *n)
{
    if (!n)
        return;
    for (size_t i = 0; i < n->nkids; i++)
        ss_yaml_free(&n->kids[i]);
    for (size_t i = 0; i < n->nlist; i++)
        free(n->list[i]);
    free(n->list);
    free(n->kids);
    free(n->key);
    free(n->scalar);
    memset(n, 0, sizeof *n);
}

const struct ss_ynode *ss_yaml_get(const struct ss_ynode *n, const char *key)
{
    if (!n)
        return NULL;
    for (size_t i = 0; i < n->nkids; i++)
        if (n->kids[i].key && strcmp(n->kids[i].key, key) == 0)
            return &n->kids[i];
    return NULL;
}
