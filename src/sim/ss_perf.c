/* Profile bundles and the original's lookup rules: dense / per-sequence 1-D interpolation
 * (clamped below, extrapolated above, truncated to int ns), the 4-D attention grid (linear
 * bracket per axis, bilinear within a (prefill_chunk, n_decode) slice, nearest slice when a
 * corner is missing) and the skew correction with meta.yaml's bucket axes. Times load as
 * ns = round-half-even(time_us * 1000), at least 1, as pandas does in the original. */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sim/predict/roof.h"
#include "ss.h"

static int64_t us_to_ns(double us)
{
    double v = nearbyint(us * 1000.0);
    return v < 1 ? 1 : (int64_t)v;
}

/* Reads a CSV file into rows of fields; calls fn for each data row. */
typedef ipw_err (*row_fn)(void *ud, char **f, int nf, const char *path, long no, ipw_errbuf *eb);

static ipw_err read_csv(const char *path, const char *const *want, int nwant, row_fn fn, void *ud,
                        bool *missing, ipw_errbuf *eb)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        if (missing && errno == ENOENT) {
            *missing = true;
            return IPW_OK;
        }
        return ipw_fail(eb, IPW_E_NOTFOUND, "cannot open %s: %s", path, strerror(errno));
    }
    char *line = NULL;
    size_t cap = 0;
    long no = 0;
    int idx[16];
    bool have_header = false;
    ipw_err e = IPW_OK;
    char *fld[64];
    while (getline(&line, &cap, f) >= 0) {
        no++;
        size_t n = strlen(line);
        while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            line[--n] = '\0';
        if (!n)
            continue;
        int nf = 0;
        for (char *p = line;;) {
            if (nf == 64)
                break;
            fld[nf++] = p;
            char *c = strchr(p, ',');
            if (!c)
                break;
            *c = '\0';
            p = c + 1;
        }
        if (!have_header) { /* the first line that is not blank */
            have_header = true;
            for (int w = 0; w < nwant; w++) {
                idx[w] = -1;
                for (int i = 0; i < nf; i++)
                    if (strcmp(fld[i], want[w]) == 0)
                        idx[w] = i;
                if (idx[w] < 0) {
                    e = ipw_fail(eb, IPW_E_INVALID, "%s: column '%s' is missing from the header",
                                 path, want[w]);
                    goto out;
                }
            }
            continue;
        }
        char *sel[16];
        for (int w = 0; w < nwant; w++) {
            if (idx[w] >= nf) {
                e = ipw_fail(eb, IPW_E_INVALID, "%s:%ld: expected %d columns", path, no, nwant);
                goto out;
            }
            sel[w] = fld[idx[w]];
        }
        if ((e = fn(ud, sel, nwant, path, no, eb)))
            goto out;
    }
out:
    free(line);
    fclose(f);
    return e;
}

static ipw_err num(const char *s, double *v, const char *path, long no, ipw_errbuf *eb)
{
    char *end;
    errno = 0;
    *v = strtod(s, &end);
    if (end == s || *end || errno)
        return ipw_fail(eb, IPW_E_INVALID, "%s:%ld: '%s' is not a number", path, no, s);
    /* every table value becomes an int64 count or nanoseconds: refuse what cannot (inf, nan,
     * 1e100), which would be undefined behaviour to convert */
    if (!(fabs(*v) <= 1e15))
        return ipw_fail(eb, IPW_E_INVALID,
                        "%s:%ld: '%s' is out of range (table values are finite, below 1e15)",
                        path, no, s);
    return IPW_OK;
}

/* ---- 1-D tables (dense.csv: layer,tokens,time_us; per_sequence.csv: layer,sequences,...) ---- */
struct raw1 {
    char layer[32];
    int64_t key, ns;
    size_t order;
};
struct raw1v {
    struct raw1 *r;
    size_t n, cap;
};

static ipw_err add1(void *ud, char **f, int nf, const char *path, long no, ipw_errbuf *eb)
{
    (void)nf;
    struct raw1v *v = ud;
    double k, t;
    ipw_err e;
    if ((e = num(f[1], &k, path, no, eb)) || (e = num(f[2], &t, path, no, eb)))
        return e;
    if (v->n == v->cap) {
        v->cap = v->cap ? v->cap * 2 : 256;
        struct raw1 *nr = realloc(v->r, v->cap * sizeof *nr);
        if (!nr)
            return ipw_fail(eb, IPW_E_NOMEM, "out of memory reading %s", path);
        v->r = nr;
    }
    struct raw1 *r = &v->r[v->n];
    snprintf(r->layer, sizeof r->layer, "%s", f[0]);
    r->key = (int64_t)k;
    r->ns = us_to_ns(t);
    r->order = v->n++;
    return IPW_OK;
}

static int cmp1(const void *a, const void *b)
{
    const struct raw1 *x = a, *y = b;
    int c = strcmp(x->layer, y->layer);
    if (c)
        return c;
    if (x->key != y->key)
        return x->key < y->key ? -1 : 1;
    return x->order < y->order ? -1 : 1;
}

static ipw_err load_1d(const char *path, const char *keycol, struct ss_tab1d **out, size_t *nout,
                       ipw_errbuf *eb)
{
    const char *want[] = {"layer", keycol, "time_us"};
    struct raw1v v = {0};
    bool missing = false;
    ipw_err e = read_csv(path, want, 3, add1, &v, &missing, eb);
    *out = NULL;
    *nout = 0;
    if (e || missing) {
        free(v.r);
        return e;
    }
    if (v.n) /* a table with only its header has no rows (and v.r is NULL) */
        qsort(v.r, v.n, sizeof *v.r, cmp1);
    struct ss_tab1d *t = calloc(v.n ? v.n : 1, sizeof *t);
    if (!t) {
        free(v.r);
        return ipw_fail(eb, IPW_E_NOMEM, "out of memory reading %s", path);
    }
    size_t nt = 0;
    for (size_t i = 0; i < v.n;) {
        size_t j = i;
        while (j < v.n && strcmp(v.r[j].layer, v.r[i].layer) == 0)
            j++;
        struct ss_tab1d *tb = &t[nt++];
        snprintf(tb->name, sizeof tb->name, "%s", v.r[i].layer);
        tb->keys = malloc((j - i) * sizeof *tb->keys);
        tb->vals = malloc((j - i) * sizeof *tb->vals);
        if (!tb->keys || !tb->vals) {
            e = ipw_fail(eb, IPW_E_NOMEM, "out of memory reading %s", path);
            break;
        }
        for (size_t k = i; k < j; k++) {
            /* duplicate keys: last row in the file wins */
            if (tb->n && tb->keys[tb->n - 1] == v.r[k].key)
                tb->vals[tb->n - 1] = v.r[k].ns;
            else {
                tb->keys[tb->n] = v.r[k].key;
                tb->vals[tb->n++] = v.r[k].ns;
            }
        }
        i = j;
    }
    free(v.r);
    *out = t;
    *nout = nt;
    return e;
}

/* ---- attention.csv ---- */
struct raw4 {
    int64_t pc, kp, nd, kd, ns;
    size_t order;
};
struct raw4v {
    struct raw4 *r;
    size_t n, cap;
};

static ipw_err add4(void *ud, char **f, int nf, const char *path, long no, ipw_errbuf *eb)
{
    (void)nf;
    struct raw4v *v = ud;
    double x[5];
    for (int i = 0; i < 5; i++) {
        ipw_err e = num(f[i], &x[i], path, no, eb);
        if (e)
            return e;
    }
    if (v->n == v->cap) {
        v->cap = v->cap ? v->cap * 2 : 4096;
        struct raw4 *nr = realloc(v->r, v->cap * sizeof *nr);
        if (!nr)
            return ipw_fail(eb, IPW_E_NOMEM, "out of memory reading %s", path);
        v->r = nr;
    }
    struct raw4 *r = &v->r[v->n];
    r->pc = (int64_t)x[0];
    r->kp = (int64_t)x[1];
    r->nd = (int64_t)x[2];
    r->kd = (int64_t)x[3];
    r->ns = us_to_ns(x[4]);
    r->order = v->n++;
    return IPW_OK;
}

static int cmp4(const void *a, const void *b)
{
    const struct raw4 *x = a, *y = b;
#define C(f)                                                                                       \
    if (x->f != y->f)                                                                              \
        return x->f < y->f ? -1 : 1;
    C(pc) C(nd) C(kp) C(kd)
#undef C
    return x->order < y->order ? -1 : 1;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static size_t uniq(int64_t *v, size_t n)
{
    if (n)
        qsort(v, n, sizeof *v, cmp_i64);
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (!m || v[m - 1] != v[i])
            v[m++] = v[i];
    return m;
}

static ipw_err load_attn(const char *path, struct ss_attn *a, bool *present, ipw_errbuf *eb)
{
    const char *want[] = {"prefill_chunk", "kv_prefill", "n_decode", "kv_decode", "time_us"};
    struct raw4v v = {0};
    bool missing = false;
    memset(a, 0, sizeof *a);
    ipw_err e = read_csv(path, want, 5, add4, &v, &missing, eb);
    *present = !missing && !e;
    if (e || missing || !v.n) {
        free(v.r);
        if (!e && !missing)
            *present = false;
        return e;
    }
    qsort(v.r, v.n, sizeof *v.r, cmp4);
    a->pc_vals = malloc(v.n * sizeof(int64_t));
    a->nd_vals = malloc(v.n * sizeof(int64_t));
    a->slices = calloc(v.n, sizeof *a->slices);
    if (!a->pc_vals || !a->nd_vals || !a->slices) {
        free(v.r);
        return ipw_fail(eb, IPW_E_NOMEM, "out of memory reading %s", path);
    }
    for (size_t i = 0; i < v.n; i++) {
        a->pc_vals[i] = v.r[i].pc;
        a->nd_vals[i] = v.r[i].nd;
    }
    a->npc = uniq(a->pc_vals, v.n);
    a->nnd = uniq(a->nd_vals, v.n);
    for (size_t i = 0; i < v.n;) {
        size_t j = i;
        while (j < v.n && v.r[j].pc == v.r[i].pc && v.r[j].nd == v.r[i].nd)
            j++;
        struct ss_attn_slice *s = &a->slices[a->nslices++];
        s->pc = v.r[i].pc;
        s->nd = v.r[i].nd;
        s->kp = malloc((j - i) * sizeof *s->kp);
        s->rows = calloc(j - i, sizeof *s->rows);
        if (!s->kp || !s->rows) {
            e = ipw_fail(eb, IPW_E_NOMEM, "out of memory reading %s", path);
            break;
        }
        for (size_t k = i; k < j;) {
            size_t l = k;
            while (l < j && v.r[l].kp == v.r[k].kp)
                l++;
            struct ss_attn_row *row = &s->rows[s->n];
            s->kp[s->n++] = v.r[k].kp;
            row->kd = malloc((l - k) * sizeof *row->kd);
            row->v = malloc((l - k) * sizeof *row->v);
            if (!row->kd || !row->v) {
                e = ipw_fail(eb, IPW_E_NOMEM, "out of memory reading %s", path);
                goto done;
            }
            for (size_t m = k; m < l; m++) {
                if (row->n && row->kd[row->n - 1] == v.r[m].kd)
                    row->v[row->n - 1] = v.r[m].ns;
                else {
                    row->kd[row->n] = v.r[m].kd;
                    row->v[row->n++] = v.r[m].ns;
                }
            }
            k = l;
        }
        i = j;
    }
done:
    free(v.r);
    return e;
}

/* ---- skew_fit.csv ---- */
struct skv {
    struct ss_skew_entry *e;
    size_t n, cap;
};

static ipw_err addskew(void *ud, char **f, int nf, const char *path, long no, ipw_errbuf *eb)
{
    (void)nf;
    struct skv *v = ud;
    double pc, alpha;
    ipw_err e;
    if ((e = num(f[0], &pc, path, no, eb)) || (e = num(f[5], &alpha, path, no, eb)))
        return e;
    if (v->n == v->cap) {
        v->cap = v->cap ? v->cap * 2 : 1024;
        struct ss_skew_entry *ne = realloc(v->e, v->cap * sizeof *ne);
        if (!ne)
            return ipw_fail(eb, IPW_E_NOMEM, "out of memory reading %s", path);
        v->e = ne;
    }
    char key[256];
    snprintf(key, sizeof key, "pc=%lld|%s|%s|%s|%s", (long long)pc, f[1], f[2], f[3], f[4]);
    v->e[v->n].key = strdup(key);
    if (!v->e[v->n].key)
        return ipw_fail(eb, IPW_E_NOMEM, "out of memory reading %s", path);
    v->e[v->n++].alpha = alpha;
    return IPW_OK;
}

static int cmpskew(const void *a, const void *b)
{
    return strcmp(((const struct ss_skew_entry *)a)->key, ((const struct ss_skew_entry *)b)->key);
}

/* ---- bundle ---- */
static ipw_err load_axes(const struct ss_ynode *ax, struct ss_skew_axes *out, const char *path,
                         ipw_errbuf *eb)
{
    struct {
        const char *bins, *labels;
        double *b;
        char (*l)[24];
        int *n;
    } spec[] = {{"n_bins", "n_labels", out->n_bins, out->n_labels, &out->nn},
                {"skew_rate_bins", "skew_rate_labels", out->sr_bins, out->sr_labels, &out->nsr},
                {"kv_big_bins", "kv_big_labels", out->kvb_bins, out->kvb_labels, &out->nkvb},
                {"kp_bins", "kp_labels", out->kp_bins, out->kp_labels, &out->nkp}};
    for (int s = 0; s < 4; s++) {
        const struct ss_ynode *b = ss_yaml_get(ax, spec[s].bins), *l = ss_yaml_get(ax, spec[s].labels);
        if (!b || !l || !b->is_list || !l->is_list || b->nlist != l->nlist + 1 || l->nlist > 31 ||
            l->nlist == 0)
            return ipw_fail(eb, IPW_E_INVALID, "%s: skew_fit.bucket_axes.%s must be a list one "
                            "longer than %s", path, spec[s].bins, spec[s].labels);
        for (size_t i = 0; i < b->nlist; i++) {
            char *end;
            spec[s].b[i] = strtod(b->list[i], &end);
            if (*end || end == b->list[i])
                return ipw_fail(eb, IPW_E_INVALID, "%s: skew_fit.bucket_axes.%s[%zu] '%s' is not "
                                "a number", path, spec[s].bins, i, b->list[i]);
        }
        for (size_t i = 0; i < l->nlist; i++)
            snprintf(spec[s].l[i], 24, "%s", l->list[i]);
        *spec[s].n = (int)l->nlist;
    }
    return IPW_OK;
}

static void default_axes(struct ss_skew_axes *a)
{
    static const double nb[] = {0, 2, 4, 8, 16, 32, 64, 128, 1000000};
    static const char *nl[] = {"n<=2", "n<=4", "n<=8", "n<=16", "n<=32", "n<=64", "n<=128", "n>128"};
    static const double kb[] = {0, 1024, 4096, 16384, 1000000000};
    static const char *kl[] = {"kvB<=1k", "kvB<=4k", "kvB<=16k", "kvB>16k"};
    static const double sb[] = {-0.01, 0.05, 0.15, 0.40, 0.70, 1.01};
    static const char *sl[] = {"sr<=5%", "sr<=15%", "sr<=40%", "sr<=70%", "sr>70%"};
    static const double pb[] = {-1, 0, 2048, 1000000000};
    static const char *pl[] = {"kp=0", "kp<=2k", "kp>2k"};
    a->nn = 8;
    a->nkvb = 4;
    a->nsr = 5;
    a->nkp = 3;
    for (int i = 0; i < 9; i++)
        a->n_bins[i] = nb[i];
    for (int i = 0; i < 8; i++)
        snprintf(a->n_labels[i], 24, "%s", nl[i]);
    for (int i = 0; i < 5; i++)
        a->kvb_bins[i] = kb[i];
    for (int i = 0; i < 4; i++)
        snprintf(a->kvb_labels[i], 24, "%s", kl[i]);
    for (int i = 0; i < 6; i++)
        a->sr_bins[i] = sb[i];
    for (int i = 0; i < 5; i++)
        snprintf(a->sr_labels[i], 24, "%s", sl[i]);
    for (int i = 0; i < 4; i++)
        a->kp_bins[i] = pb[i];
    for (int i = 0; i < 3; i++)
        snprintf(a->kp_labels[i], 24, "%s", pl[i]);
}

static void list_dir(const char *dir, char *out, size_t len, bool tp_only)
{
    out[0] = '\0';
    DIR *d = opendir(dir);
    if (!d) {
        snprintf(out, len, "none");
        return;
    }
    struct dirent *de;
    size_t w = 0;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.' || (tp_only && strncmp(de->d_name, "tp", 2) != 0))
            continue;
        int k = snprintf(out + w, len - w, "%s%s", w ? ", " : "", de->d_name);
        if (k < 0 || (size_t)k >= len - w)
            break;
        w += (size_t)k;
    }
    closedir(d);
    if (!w)
        snprintf(out, len, "none");
}

ipw_err ss_bundle_open(const char *data_dir, const char *hardware, const struct ss_model *m,
                       const char *variant, struct ss_bundle *b, ipw_errbuf *eb)
{
    memset(b, 0, sizeof *b);
    snprintf(b->hardware, sizeof b->hardware, "%s", hardware);
    snprintf(b->variant, sizeof b->variant, "%s", variant);
    snprintf(b->root, sizeof b->root, "%s/profiler/perf/%s/%s/%s", data_dir, hardware, m->name,
             variant);
    DIR *d = opendir(b->root);
    if (!d) {
        char parent[SS_PATH], have[512];
        snprintf(parent, sizeof parent, "%s/profiler/perf/%s/%s", data_dir, hardware, m->name);
        list_dir(parent, have, sizeof have, false);
        return ipw_fail(eb, IPW_E_NOTFOUND, "profile folder %s not found (variant '%s' for "
                        "hardware '%s' and model '%s'); variants that exist there: %s", b->root,
                        variant, hardware, m->name, have);
    }
    struct dirent *de;
    while ((de = readdir(d)))
        if (strncmp(de->d_name, "tp", 2) == 0 && b->ntps < 16) {
            char *end;
            long tp = strtol(de->d_name + 2, &end, 10);
            if (!*end && end != de->d_name + 2 && tp > 0)
                b->tps[b->ntps++] = (int)tp;
        }
    closedir(d);
    for (int i = 0; i < b->ntps; i++)
        for (int j = i + 1; j < b->ntps; j++)
            if (b->tps[j] < b->tps[i]) {
                int t = b->tps[i];
                b->tps[i] = b->tps[j];
                b->tps[j] = t;
            }
    char path[SS_PATH + 64];
    snprintf(path, sizeof path, "%s/profiler/models/%s.yaml", data_dir, m->model_type);
    ipw_err e = ss_arch_load(path, &b->arch, eb);
    if (e)
        return e;
    snprintf(path, sizeof path, "%s/meta.yaml", b->root);
    struct ss_ynode meta;
    if ((e = ss_yaml_load(path, &meta, eb)))
        return e;
    default_axes(&b->axes);
    const struct ss_ynode *fit = ss_yaml_get(&meta, "skew_fit");
    if (fit) {
        b->skew_block = true;
        const struct ss_ynode *en = ss_yaml_get(fit, "enabled");
        b->skew_enabled = en && en->scalar && strcmp(en->scalar, "true") == 0;
        const struct ss_ynode *ad = ss_yaml_get(fit, "alpha_default");
        if (ad && ad->scalar) {
            b->block_alpha_default = strtod(ad->scalar, NULL);
            b->has_block_alpha_default = true;
        }
        const struct ss_ynode *ax = ss_yaml_get(fit, "bucket_axes");
        if (ax && (e = load_axes(ax, &b->axes, path, eb)))
            goto out;
        const struct ss_ynode *per = ss_yaml_get(fit, "per_tp");
        for (int i = 0; per && i < b->ntps; i++) {
            char k[16];
            snprintf(k, sizeof k, "%d", b->tps[i]);
            const struct ss_ynode *ent = ss_yaml_get(per, k);
            struct ss_tptab *t = &b->tabs[i];
            t->tp = b->tps[i];
            if (!ent)
                continue;
            t->has_entry = true;
            const struct ss_ynode *a = ss_yaml_get(ent, "alpha_default");
            t->alpha_default = a && a->scalar ? strtod(a->scalar, NULL) : 0.0;
            const struct ss_ynode *bt = ss_yaml_get(ent, "bucket_table");
            if (b->skew_enabled && bt && bt->scalar && *bt->scalar) {
                char csv[SS_PATH * 2];
                snprintf(csv, sizeof csv, "%s/%s", b->root, bt->scalar);
                const char *want[] = {"pc", "n_label", "skew_rate_label", "kv_big_label", "kp_label",
                                      "alpha"};
                struct skv v = {0};
                bool missing = false;
                if ((e = read_csv(csv, want, 6, addskew, &v, &missing, eb))) {
                    for (size_t j = 0; j < v.n; j++)
                        free(v.e[j].key);
                    free(v.e);
                    goto out;
                }
                if (v.n)
                    qsort(v.e, v.n, sizeof *v.e, cmpskew);
                t->alphas = v.e;
                t->nalphas = v.n;
            }
        }
    }
    for (int i = 0; i < b->ntps; i++)
        b->tabs[i].tp = b->tps[i];
out:
    ss_yaml_free(&meta);
    return e;
}

static struct ss_tptab *tptab(struct ss_bundle *b, int tp)
{
    for (int i = 0; i < b->ntps; i++)
        if (b->tabs[i].tp == tp)
            return &b->tabs[i];
    return NULL;
}

static ipw_err load_tp(struct ss_bundle *b, struct ss_tptab *t, ipw_errbuf *eb)
{
    if (t->loaded)
        return IPW_OK;
    char path[SS_PATH + 64];
    ipw_err e;
    snprintf(path, sizeof path, "%s/tp%d/dense.csv", b->root, t->tp);
    if ((e = load_1d(path, "tokens", &t->dense, &t->ndense, eb)))
        return e;
    snprintf(path, sizeof path, "%s/tp%d/per_sequence.csv", b->root, t->tp);
    if ((e = load_1d(path, "sequences", &t->perseq, &t->nperseq, eb)))
        return e;
    snprintf(path, sizeof path, "%s/tp%d/attention.csv", b->root, t->tp);
    bool present;
    if ((e = load_attn(path, &t->attn, &present, eb)))
        return e;
    t->loaded = true;
    return IPW_OK;
}

ipw_err ss_bundle_need_tp(struct ss_bundle *b, int tp, const char *cfg_path, const char *key,
                          ipw_errbuf *eb)
{
    if (b->roof)
        return IPW_OK; /* the roofline model has every TP degree the heads allow */
    struct ss_tptab *t = tptab(b, tp);
    if (!t) {
        char have[256] = "";
        size_t w = 0;
        for (int i = 0; i < b->ntps; i++)
            w += (size_t)snprintf(have + w, sizeof have - w, "%s%d", i ? ", " : "", b->tps[i]);
        return ipw_fail(eb, IPW_E_NOTFOUND, "%s: %s: no profile tables for TP=%d: folder %s/tp%d/ "
                        "does not exist; TP degrees profiled for this bundle: %s", cfg_path, key, tp,
                        b->root, tp, w ? have : "none");
    }
    ipw_err e = load_tp(b, t, eb);
    if (e)
        return e;
    struct ss_tptab *t1 = tptab(b, 1);
    return t1 ? load_tp(b, t1, eb) : IPW_OK;
}

void ss_bundle_free(struct ss_bundle *b)
{
    ss_roof_free(b->roof);
    b->roof = NULL;
    for (int i = 0; i < b->ntps; i++) {
        struct ss_tptab *t = &b->tabs[i];
        for (size_t j = 0; j < t->ndense; j++) {
            free(t->dense[j].keys);
            free(t->dense[j].vals);
        }
        for (size_t j = 0; j < t->nperseq; j++) {
            free(t->perseq[j].keys);
            free(t->perseq[j].vals);
        }
        free(t->dense);
        free(t->perseq);
        for (size_t j = 0; j < t->attn.nslices; j++) {
            struct ss_attn_slice *s = &t->attn.slices[j];
            for (size_t k = 0; k < s->n; k++) {
                free(s->rows[k].kd);
                free(s->rows[k].v);
            }
            free(s->rows);
            free(s->kp);
        }
        free(t->attn.slices);
        free(t->attn.pc_vals);
        free(t->attn.nd_vals);
        for (size_t j = 0; j < t->nalphas; j++)
            free(t->alphas[j].key);
        free(t->alphas);
    }
    memset(b, 0, sizeof *b);
}

/* ---- lookups ---- */

/* bisect.bisect_right */
static size_t bisect_right(const int64_t *k, size_t n, int64_t q)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (q < k[mid])
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

/* _lookup_1d: the float result (before truncation). */
static double lookup_1d(const int64_t *keys, const int64_t *vals, size_t n, int64_t q)
{
    if (!n)
        return 0;
    if (n == 1)
        return (double)vals[0];
    size_t idx = bisect_right(keys, n, q), lo, hi;
    if (idx == 0)
        return (double)vals[0];
    if (idx >= n) {
        lo = n - 2;
        hi = n - 1;
    } else {
        lo = idx - 1;
        hi = idx;
    }
    if (keys[hi] == keys[lo])
        return (double)vals[lo];
    double t = (double)(q - keys[lo]) / (double)(keys[hi] - keys[lo]);
    return (double)vals[lo] + t * (double)(vals[hi] - vals[lo]);
}

int64_t ss_lookup_1d(const int64_t *keys, const int64_t *vals, size_t n, int64_t q)
{
    int64_t v = (int64_t)lookup_1d(keys, vals, n, q < 1 ? 1 : q);
    return v < 1 ? 1 : v;
}

const struct ss_tab1d *ss_table_for(struct ss_bundle *b, const char *layer, int tp, bool perseq)
{
    bool stable = false;
    ss_arch_category(&b->arch, layer, &stable);
    struct ss_tptab *t = tptab(b, stable && tptab(b, 1) ? 1 : tp);
    if (!t || !t->loaded)
        return NULL;
    struct ss_tab1d *tabs = perseq ? t->perseq : t->dense;
    size_t n = perseq ? t->nperseq : t->ndense;
    for (size_t i = 0; i < n; i++)
        if (strcmp(tabs[i].name, layer) == 0)
            return &tabs[i];
    return NULL;
}

static ipw_err lookup_tab(struct ss_bundle *b, const char *layer, int tp, int64_t q, bool perseq,
                          int64_t *ns, ipw_errbuf *eb)
{
    bool stable = false;
    ss_arch_category(&b->arch, layer, &stable);
    int eff = tp;
    if (stable && tptab(b, 1))
        eff = 1;
    struct ss_tptab *t = tptab(b, eff);
    if (!t || !t->loaded)
        return ipw_fail(eb, IPW_E_INTERNAL, "profile tables for tp=%d not loaded", eff);
    struct ss_tab1d *tabs = perseq ? t->perseq : t->dense;
    size_t n = perseq ? t->nperseq : t->ndense;
    for (size_t i = 0; i < n; i++)
        if (strcmp(tabs[i].name, layer) == 0) {
            *ns = ss_lookup_1d(tabs[i].keys, tabs[i].vals, tabs[i].n, q);
            return IPW_OK;
        }
    return ipw_fail(eb, IPW_E_NOTFOUND, "%s/tp%d/%s: no rows for layer '%s' (the architecture "
                    "catalogue and the table disagree)", b->root, eff,
                    perseq ? "per_sequence.csv" : "dense.csv", layer);
}

ipw_err ss_lookup_dense(struct ss_bundle *b, const char *layer, int tp, int64_t tokens, int64_t *ns,
                        ipw_errbuf *eb)
{
    return lookup_tab(b, layer, tp, tokens, false, ns, eb);
}

ipw_err ss_lookup_perseq(struct ss_bundle *b, const char *layer, int tp, int64_t seqs, int64_t *ns,
                         ipw_errbuf *eb)
{
    return lookup_tab(b, layer, tp, seqs, true, ns, eb);
}

/* _axis_bracket */
static void bracket(const int64_t *v, size_t n, int64_t q, size_t *lo, size_t *hi, double *t)
{
    *lo = *hi = 0;
    *t = 0.0;
    if (n == 1 || q <= v[0])
        return;
    size_t idx = bisect_right(v, n, q);
    if (idx >= n) {
        *lo = n - 2;
        *hi = n - 1;
    } else {
        *lo = idx - 1;
        *hi = idx;
    }
    if (v[*hi] == v[*lo])
        return;
    *t = (double)(q - v[*lo]) / (double)(v[*hi] - v[*lo]);
}

static const struct ss_attn_slice *find_slice(const struct ss_attn *a, int64_t pc, int64_t nd)
{
    size_t lo = 0, hi = a->nslices;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        const struct ss_attn_slice *s = &a->slices[mid];
        if (s->pc == pc && s->nd == nd)
            return s;
        if (s->pc < pc || (s->pc == pc && s->nd < nd))
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

static double row_lookup(const struct ss_attn_row *r, int64_t kd)
{
    if (r->n == 1)
        return (double)r->v[0];
    size_t lo, hi;
    double t;
    bracket(r->kd, r->n, kd < 0 ? 0 : kd, &lo, &hi, &t);
    return (double)r->v[lo] + t * (double)(r->v[hi] - r->v[lo]);
}

static bool slice_lookup(const struct ss_attn_slice *s, int64_t kp, int64_t kd, double *out)
{
    if (!s || !s->n)
        return false;
    size_t lo, hi;
    double t;
    bracket(s->kp, s->n, kp < 0 ? 0 : kp, &lo, &hi, &t);
    double vlo = row_lookup(&s->rows[lo], kd);
    if (lo == hi) {
        *out = vlo;
        return true;
    }
    double vhi = row_lookup(&s->rows[hi], kd);
    *out = vlo + t * (vhi - vlo);
    return true;
}

/* The slice nearest (pc, nd) by squared distance; first in sorted order on ties */
static const struct ss_attn_slice *nearest(const struct ss_attn *a, int64_t pc, int64_t nd)
{
    const struct ss_attn_slice *best = NULL;
    double bd = 0;
    for (size_t i = 0; i < a->nslices; i++) {
        double dp = (double)(a->slices[i].pc - pc), dn = (double)(a->slices[i].nd - nd);
        double d = dp * dp + dn * dn;
        if (!best || d < bd) {
            best = &a->slices[i];
            bd = d;
        }
    }
    return best;
}

static void frame_corner(const struct ss_attn *a, int64_t pc, int64_t nd,
                         const struct ss_attn_slice **at, const struct ss_attn_slice **near)
{
    *at = find_slice(a, pc, nd);
    *near = *at && (*at)->n ? NULL : nearest(a, pc, nd);
}

/* What ss_attn_raw looks up from pc and nd alone (a->nslices > 0) */
static void attn_frame(const struct ss_attn *a, int64_t pcq, int64_t ndq, struct ss_attn_frame *f)
{
    size_t lpc, hpc, lnd, hnd;
    bracket(a->pc_vals, a->npc, pcq, &lpc, &hpc, &f->tpc);
    bracket(a->nd_vals, a->nnd, ndq, &lnd, &hnd, &f->tnd);
    int64_t pcs[4] = {a->pc_vals[lpc], a->pc_vals[lpc], a->pc_vals[hpc], a->pc_vals[hpc]};
    int64_t nds[4] = {a->nd_vals[lnd], a->nd_vals[hnd], a->nd_vals[lnd], a->nd_vals[hnd]};
    for (int i = 0; i < 4; i++)
        frame_corner(a, pcs[i], nds[i], &f->at[i], &f->near[i]);
    f->pc = pcq;
    f->nd = ndq;
    f->valid = true;
}

/* a corner's value: its own slice, else the nearest one's when that is not 0 */
static double corner(const struct ss_attn_slice *at, const struct ss_attn_slice *near, int64_t kp,
                     int64_t kd)
{
    double v;
    if (slice_lookup(at, kp, kd, &v))
        return v;
    if (near && slice_lookup(near, kp, kd, &v) && v != 0.0)
        return v;
    return 0.0;
}

static int64_t attn_eval(const struct ss_attn_frame *f, int64_t kp, int64_t kd)
{
    double c00 = corner(f->at[0], f->near[0], kp, kd);
    double c01 = corner(f->at[1], f->near[1], kp, kd);
    double c10 = corner(f->at[2], f->near[2], kp, kd);
    double c11 = corner(f->at[3], f->near[3], kp, kd);
    double v0 = c00 + f->tnd * (c01 - c00);
    double v1 = c10 + f->tnd * (c11 - c10);
    double out = v0 + f->tpc * (v1 - v0);
    int64_t r = (int64_t)out;
    return r < 1 ? 1 : r;
}

int64_t ss_attn_raw(const struct ss_attn *a, int64_t pc, int64_t kp, int64_t nd, int64_t kd)
{
    if (!a->nslices)
        return 1;
    struct ss_attn_frame f;
    attn_frame(a, pc < 0 ? 0 : pc, nd < 0 ? 0 : nd, &f);
    return attn_eval(&f, kp, kd);
}

/* ss_attn_raw through the table's frame of the last batch */
static int64_t attn_raw_framed(struct ss_tptab *t, int64_t pc, int64_t kp, int64_t nd, int64_t kd)
{
    int64_t pcq = pc < 0 ? 0 : pc, ndq = nd < 0 ? 0 : nd;
    struct ss_attn_frame *f = &t->attn_frame;
    if (!f->valid || f->pc != pcq || f->nd != ndq)
        attn_frame(&t->attn, pcq, ndq, f);
    return attn_eval(f, kp, kd);
}

/* The bucket of v: the first whose upper bin edge is >= v, else the last. */
static int bucket_index(const double *bins, int n, double v)
{
    for (int i = 0; i < n; i++)
        if (v <= bins[i + 1])
            return i;
    return n - 1;
}

/* The four bucket indices (n, skew rate, kv_big, kp) of a batch; false when the skew model is
 * off, *alpha then holding the answer. */
static bool skew_buckets(const struct ss_bundle *b, const struct ss_tptab *t, int64_t n,
                         double skew_rate, int64_t kv_big, int64_t kp, int ix[4], double *alpha)
{
    *alpha = 0.0;
    if (!b->skew_block || !b->skew_enabled)
        return false;
    if (!t || !t->has_entry) {
        *alpha = b->has_block_alpha_default ? b->block_alpha_default : 0.0;
        return false;
    }
    const struct ss_skew_axes *ax = &b->axes;
    double sr = skew_rate < 0 ? 0 : skew_rate > 1 ? 1 : skew_rate;
    ix[0] = bucket_index(ax->n_bins, ax->nn, (double)n);
    ix[1] = bucket_index(ax->sr_bins, ax->nsr, sr);
    ix[2] = bucket_index(ax->kvb_bins, ax->nkvb, (double)kv_big);
    ix[3] = bucket_index(ax->kp_bins, ax->nkp, (double)kp);
    return true;
}

/* skew_fit.csv's alpha for pc and the buckets' labels, its default when absent */
static double skew_alpha_at(const struct ss_bundle *b, const struct ss_tptab *t, int64_t pc,
                            const int ix[4])
{
    const struct ss_skew_axes *ax = &b->axes;
    char key[256];
    snprintf(key, sizeof key, "pc=%lld|%s|%s|%s|%s", (long long)pc, ax->n_labels[ix[0]],
             ax->sr_labels[ix[1]], ax->kvb_labels[ix[2]], ax->kp_labels[ix[3]]);
    struct ss_skew_entry probe = {key, 0};
    const struct ss_skew_entry *hit =
        bsearch(&probe, t->alphas, t->nalphas, sizeof *t->alphas, cmpskew);
    if (hit)
        return hit->alpha;
    return t->alpha_default;
}

double ss_skew_alpha(const struct ss_bundle *b, const struct ss_tptab *t, int64_t pc, int64_t n,
                     double skew_rate, int64_t kv_big, int64_t kp)
{
    int ix[4];
    double alpha;
    if (!skew_buckets(b, t, n, skew_rate, kv_big, kp, ix, &alpha))
        return alpha;
    return skew_alpha_at(b, t, pc, ix);
}

/* ss_skew_alpha through the table's memo (the same value: a pure function of pc and the
 * bucket indices, which are below 32 each and packed in 5 bits) */
static double skew_alpha_memo(const struct ss_bundle *b, struct ss_tptab *t, int64_t pc,
                              int64_t n, double skew_rate, int64_t kv_big, int64_t kp)
{
    int ix[4];
    double alpha;
    if (!skew_buckets(b, t, n, skew_rate, kv_big, kp, ix, &alpha))
        return alpha;
    if (ix[0] < 0 || ix[1] < 0 || ix[2] < 0 || ix[3] < 0) /* an axis without labels */
        return skew_alpha_at(b, t, pc, ix);
    uint32_t key = (uint32_t)ix[0] | (uint32_t)ix[1] << 5 | (uint32_t)ix[2] << 10 |
                   (uint32_t)ix[3] << 15;
    struct ss_skew_memo *m = &t->skew_memo[(key ^ (uint32_t)pc * 7u ^ key >> 7) & 15u];
    if (!m->used || m->pc != pc || m->buckets != key) {
        m->pc = pc;
        m->buckets = key;
        m->alpha = skew_alpha_at(b, t, pc, ix);
        m->used = true;
    }
    return m->alpha;
}

/* Python's round(): half to even. */
static int64_t pyround(double v)
{
    return (int64_t)nearbyint(v);
}

ipw_err ss_lookup_attention(struct ss_bundle *b, int tp, int64_t pc, int64_t kp, int64_t nd,
                            int64_t kd_mean, int64_t kd_max, int64_t kd_min, int64_t *ns,
                            ipw_errbuf *eb)
{
    struct ss_tptab *t = tptab(b, tp);
    if (!t || !t->loaded || !t->attn.nslices)
        return ipw_fail(eb, IPW_E_NOTFOUND, "%s/tp%d/attention.csv: no attention profile", b->root,
                        tp);
    int64_t t_mean = attn_raw_framed(t, pc, kp, nd, kd_mean);
    if (nd <= 1 || kd_max == kd_mean) {
        *ns = t_mean;
        return IPW_OK;
    }
    int64_t gap = kd_max - kd_min;
    double sr = gap > 0 ? (double)(kd_mean - kd_min) / (double)gap : 0.5;
    double alpha = skew_alpha_memo(b, t, pc, nd, sr, kd_max, kp);
    if (alpha == 0.0) {
        *ns = t_mean;
        return IPW_OK;
    }
    int64_t t_max = attn_raw_framed(t, pc, kp, nd, kd_max);
    if (t_max <= t_mean) {
        *ns = t_mean;
        return IPW_OK;
    }
    int64_t v = pyround((double)t_mean + alpha * (double)(t_max - t_mean));
    *ns = v < 1 ? 1 : v;
    return IPW_OK;
}
