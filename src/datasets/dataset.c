/* Dataset registry and loading: finds the preset for a dataset id, streams its rows through
 * the row readers, converts each to a record (reporting malformed rows with file:line), and
 * applies --max-queries (first N, or a seeded sample). */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "datasets/presets.h"
#include "ipw/buf.h"
#include "datasets/dataset_rows.h"
#include "ipw/embedded.h"
#include "ipw/log.h"
#include "ipw/options.h"

#define BUILTIN_FILE "datasets/ipw.jsonl"
#define LOGGED_SKIPS 20

/* The registry: adding a dataset is adding its preset file and one line here. */
static const struct ipw_ds_preset *const presets[] = {&ipw_ds_builtin, &ipw_ds_mmlu_pro,
                                                      &ipw_ds_supergpqa, &ipw_ds_jsonl};
#define NPRESETS (sizeof presets / sizeof presets[0])

/* By id; NULL picks the default preset. */
static const struct ipw_ds_preset *find_preset(const char *id)
{
    for (size_t i = 0; i < NPRESETS; i++)
        if (id ? !strcmp(presets[i]->id, id) : presets[i]->is_default)
            return presets[i];
    return NULL;
}

/* The derived lists, built once from the presets. */
static struct ipw_names g_ids;
static pthread_once_t g_derived = PTHREAD_ONCE_INIT;
static const char *preset_id(size_t i) { return i < NPRESETS ? presets[i]->id : NULL; }
static void derive(void) { ipw_names_build(&g_ids, NULL, preset_id, " or "); }

static const struct ipw_names *ids(void)
{
    pthread_once(&g_derived, derive);
    return &g_ids;
}

const char *const *ipw_dataset_choices(void) { return ids()->names; }
const char *ipw_dataset_choices_text(void) { return ids()->text; }

const char *ipw_dataset_default(void) { return find_preset(NULL)->id; }

const char *ipw_dataset_description(const char *id)
{
    const struct ipw_ds_preset *p = id ? find_preset(id) : NULL;
    return p ? p->description : NULL;
}

static ipw_err unknown_id(const char *id, ipw_errbuf *eb)
{
    return ipw_fail(eb, IPW_E_NOTFOUND, "unknown dataset '%s'; choose %s", id ? id : "(none)",
                    ipw_dataset_choices_text());
}

void ipw_dataset_record_clear(struct ipw_dataset_record *rec)
{
    if (!rec)
        return;
    free(rec->problem);
    free(rec->answer);
    free(rec->subject);
    json_decref(rec->metadata);
    memset(rec, 0, sizeof *rec);
}

void ipw_dataset_free(struct ipw_dataset *ds)
{
    if (!ds)
        return;
    for (size_t i = 0; i < ds->n; i++)
        ipw_dataset_record_clear(&ds->rec[i]);
    free(ds->rec);
    json_decref(ds->warnings);
    free(ds);
}

/* Common parameters every dataset accepts, then the preset's own. */
static const char *const common_params[] = {"format", "max_row_bytes", NULL};

static bool in_list(const char *const *list, const char *key)
{
    for (; list && *list; list++)
        if (!strcmp(*list, key))
            return true;
    return false;
}

static ipw_err check_params(const struct ipw_ds_preset *p, const json_t *params,
                            struct ipw_rows_opts *ro, ipw_errbuf *eb)
{
    if (params && !json_is_object(params))
        return ipw_fail(eb, IPW_E_INVALID, "dataset parameters must be a JSON object");
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)params, key, v)
    {
        if (in_list(common_params, key) || in_list(p->params, key))
            continue;
        char known[256] = "format, max_row_bytes";
        for (const char *const *k = p->params; *k; k++) {
            strncat(known, ", ", sizeof known - strlen(known) - 1);
            strncat(known, *k, sizeof known - strlen(known) - 1);
        }
        return ipw_fail(eb, IPW_E_INVALID, "unknown --dataset-param '%s' for dataset '%s' "
                                           "(known: %s)", key, p->id, known);
    }
    json_t *fmt = json_object_get(params, "format");
    if (fmt) {
        int f = json_is_string(fmt) ? ipw_rows_format_parse(json_string_value(fmt)) : -1;
        if (f < 0)
            return ipw_fail(eb, IPW_E_INVALID,
                            "--dataset-param format must be jsonl, json, csv or auto");
        ro->format = (enum ipw_rows_format)f;
    }
    json_t *mrb = json_object_get(params, "max_row_bytes");
    if (mrb) {
        double d = -1;
        if (json_is_number(mrb))
            d = json_number_value(mrb);
        else if (json_is_string(mrb)) {
            char *end;
            d = strtod(json_string_value(mrb), &end);
            if (*end)
                d = -1;
        }
        if (!(d >= 64 && d <= 1073741824.0))
            return ipw_fail(eb, IPW_E_INVALID,
                            "--dataset-param max_row_bytes must be a number of bytes between "
                            "64 and 1073741824");
        ro->max_row_bytes = (size_t)d;
    }
    return IPW_OK;
}

ipw_err ipw_dataset_convert_row(const char *id, const json_t *params, json_t *row,
                                struct ipw_dataset_record *rec, ipw_errbuf *eb)
{
    memset(rec, 0, sizeof *rec);
    const struct ipw_ds_preset *p = id ? find_preset(id) : NULL;
    if (!p)
        return unknown_id(id, eb);
    struct ipw_rows_opts ro = {0};
    ipw_err e = check_params(p, params, &ro, eb);
    void *state = NULL;
    if (e == IPW_OK && p->init)
        e = p->init(params, &state, eb);
    if (e == IPW_OK)
        e = json_is_object(row) ? p->convert(state, row, rec, eb)
                                : ipw_fail(eb, IPW_E_INVALID, "the row is not a JSON object");
    if (p->fini)
        p->fini(state);
    if (e != IPW_OK)
        ipw_dataset_record_clear(rec);
    return e;
}

/* --- loading ----------------------------------------------------------------------------- */

struct loader {
    const struct ipw_ds_preset *p;
    void *state;
    struct ipw_dataset *ds;
    size_t cap;
    const char *label; /* the input in messages */
    size_t stop_at;    /* 0: read everything */
    bool strict;
};

static ipw_err on_bad(void *ud, size_t index, size_t line, const char *msg, ipw_errbuf *eb)
{
    (void)index;
    (void)line;
    struct loader *L = ud;
    if (L->strict)
        return ipw_fail(eb, IPW_E_INVALID, "%s (strict mode: fix or remove the row)", msg);
    L->ds->skipped_rows++; /* logged once the load succeeds: a file with no usable row is one error */
    if (json_array_size(L->ds->warnings) < IPW_DATASET_MAX_WARNINGS)
        json_array_append_new(L->ds->warnings, json_string(msg));
    return IPW_OK;
}

static ipw_err on_row(void *ud, json_t *row, size_t index, size_t line, ipw_errbuf *eb)
{
    struct loader *L = ud;
    struct ipw_dataset *ds = L->ds;
    struct ipw_dataset_record rec = {0};
    ipw_errbuf re;
    ipw_errbuf_clear(&re);
    ipw_err e = L->p->convert(L->state, row, &rec, &re);
    if (e == IPW_E_INVALID) {
        ipw_dataset_record_clear(&rec);
        char msg[IPW_ERRMSG_MAX];
        snprintf(msg, sizeof msg, "%s:%zu: %s", L->label, line, re.msg);
        return on_bad(ud, index, line, msg, eb);
    }
    if (e != IPW_OK) {
        ipw_dataset_record_clear(&rec);
        return ipw_fail(eb, e, "%s:%zu: %s", L->label, line, re.msg);
    }
    if (ipw_grow(&ds->rec, &L->cap, ds->n + 1, sizeof *ds->rec, SIZE_MAX) != IPW_OK) {
        ipw_dataset_record_clear(&rec);
        return ipw_fail(eb, IPW_E_NOMEM, "out of memory after %zu records", ds->n);
    }
    rec.dataset_index = index;
    rec.metadata = json_incref(row);
    ds->rec[ds->n++] = rec;
    return L->stop_at && ds->n >= L->stop_at ? IPW_E_CANCELLED : IPW_OK;
}

static const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s && s[1] ? s + 1 : path;
}

/* Keeps the records at the sampled positions (ascending), frees the others. */
static ipw_err sample(struct ipw_dataset *ds, size_t k, uint64_t seed, ipw_errbuf *eb)
{
    size_t *pick;
    size_t got = ipw_dataset_sample_indices(ds->n, k, seed, &pick);
    if (!pick)
        return ipw_fail(eb, IPW_E_NOMEM, "out of memory sampling %zu of %zu records", k, ds->n);
    size_t w = 0, next = 0;
    for (size_t i = 0; i < ds->n; i++) {
        if (next < got && pick[next] == i) {
            ds->rec[w++] = ds->rec[i];
            next++;
        } else {
            ipw_dataset_record_clear(&ds->rec[i]);
        }
    }
    ds->n = w;
    free(pick);
    return IPW_OK;
}

static ipw_err read_rows(struct loader *L, const struct ipw_dataset_options *opt,
                         struct ipw_rows_opts *ro, ipw_errbuf *eb)
{
    struct ipw_rows_sink sink = {L, on_row, on_bad};
    if (opt->path && *opt->path) {
        ipw_err e = ipw_rows_read_file(opt->path, ro, &sink, eb);
        if (e == IPW_E_NOTFOUND)
            ipw_err_prefix(eb, "dataset file given by --dataset-path not found");
        else if (e == IPW_E_PERM)
            ipw_err_prefix(eb, "dataset file given by --dataset-path is not readable");
        return e;
    }
    const struct ipw_embedded_file *f = ipw_embedded_find(BUILTIN_FILE);
    if (!f)
        return ipw_fail(eb, IPW_E_INTERNAL, "the built-in dataset %s is missing from this build",
                        BUILTIN_FILE);
    ro->format = IPW_ROWS_JSONL;
    return ipw_rows_read_mem(f->data, *f->len, ro, &sink, eb);
}

ipw_err ipw_dataset_load(const char *id, const struct ipw_dataset_options *opt,
                         struct ipw_dataset **out, ipw_errbuf *eb)
{
    *out = NULL;
    static const struct ipw_dataset_options none = {0};
    if (!opt)
        opt = &none;
    const struct ipw_ds_preset *p = find_preset(id);
    if (!p)
        return unknown_id(id, eb);
    struct ipw_rows_opts ro = {0};
    ipw_err e = check_params(p, opt->params, &ro, eb);
    if (e != IPW_OK)
        return e;
    bool have_path = opt->path && *opt->path;
    if (p->needs_path && !have_path)
        return ipw_fail(eb, IPW_E_INVALID,
                        "dataset '%s' reads a local file: pass --dataset-path PATH, %s", p->id,
                        p->path_hint);

    struct ipw_dataset *ds = calloc(1, sizeof *ds);
    if (!ds)
        return ipw_fail(eb, IPW_E_NOMEM, "out of memory");
    ds->warnings = json_array();
    snprintf(ds->id, sizeof ds->id, "%s", p->id);
    if (!have_path)
        snprintf(ds->name, sizeof ds->name, "ipw (built-in)");
    else if (p->title)
        snprintf(ds->name, sizeof ds->name, "%s (%s)", p->title, base_name(opt->path));
    else
        snprintf(ds->name, sizeof ds->name, "%s", base_name(opt->path));

    struct loader L = {.p = p, .ds = ds, .strict = opt->strict};
    L.label = have_path ? opt->path : "ipw.jsonl (built-in)";
    ro.label = L.label;
    if (opt->max_queries > 0 && !opt->seed_given)
        L.stop_at = (size_t)opt->max_queries; /* the first N: no need to read further */
    if (p->init)
        e = p->init(opt->params, &L.state, eb);
    if (e == IPW_OK)
        e = read_rows(&L, opt, &ro, eb);
    if ((e == IPW_OK || e == IPW_E_CANCELLED) && ds->n && p->finish) {
        ipw_err fe = p->finish(L.state, L.label, eb);
        if (fe != IPW_OK)
            e = fe;
    }
    if (p->fini)
        p->fini(L.state);
    if (e == IPW_E_CANCELLED)
        e = IPW_OK;
    /* rows the reader saw, usable or not (fewer than the file holds when the first N sufficed) */
    ds->source_rows = ds->n + ds->skipped_rows;
    if (e == IPW_OK && ds->n == 0)
        e = ipw_fail(eb, IPW_E_INVALID, "%s has no usable rows (%zu read, %zu malformed%s%s)",
                     L.label, ds->source_rows, ds->skipped_rows,
                     json_array_size(ds->warnings) ? "; first: " : "",
                     json_array_size(ds->warnings)
                         ? json_string_value(json_array_get(ds->warnings, 0))
                         : "");
    if (e == IPW_OK && opt->seed_given && opt->max_queries > 0 &&
        (size_t)opt->max_queries < ds->n)
        e = sample(ds, (size_t)opt->max_queries, opt->seed, eb);
    if (e != IPW_OK) {
        ipw_dataset_free(ds);
        return e;
    }
    for (size_t i = 0; i < LOGGED_SKIPS && i < json_array_size(ds->warnings); i++)
        ipw_warn("skipping malformed row: %s", json_string_value(json_array_get(ds->warnings, i)));
    if (ds->skipped_rows)
        ipw_warn("%s: skipped %zu malformed row%s of %zu", L.label, ds->skipped_rows,
                 ds->skipped_rows == 1 ? "" : "s", ds->source_rows);
    if (opt->max_queries > 0 && (size_t)opt->max_queries > ds->n)
        ipw_info("%s: --max-queries %ld is more than the %zu records available; using all",
                 L.label, opt->max_queries, ds->n);
    *out = ds;
    return IPW_OK;
}
