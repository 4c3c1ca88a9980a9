/* Builds a run's HuggingFace dataset from its records: the typed schema (ModelMetrics of
 * docs/formats/records.md for every model seen), each record conformed to it, the Arrow stream
 * written to a temporary file and renamed, then dataset_info.json and state.json. The
 * records.jsonl path (with reuse of the previous file) is in run_dataset_log.c. */
#include "ipw/jsonutil.h"
#include "ipw/run_dataset.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ipw/fsutil.h"
#include "ipw/hf_dataset.h"
#include "ipw/log.h"
#include "ipw/records.h"
#include "results/run_build.h"

/* ---- schema ------------------------------------------------------------------------------------ */

static bool add_floats(struct ipw_arrow_field *s, const char *const *names)
{
    for (; s && *names; names++)
        if (!ipw_arrow_field_add(s, *names, IPW_ARROW_FLOAT))
            return false;
    return s != NULL;
}

static bool add_stats(struct ipw_arrow_field *parent, const char *name)
{
    static const char *const stats[] = {"avg", "max", "median", "min", NULL};
    return add_floats(ipw_arrow_field_add(parent, name, IPW_ARROW_STRUCT), stats);
}

struct ipw_arrow_field *ipw_run_model_metrics_field(const char *name)
{
    static const char *const compute[] = {"flops_per_request", "macs_per_request", NULL};
    static const char *const energy[] = {"per_query_joules", "total_joules",  "gpu_joules",
                                         "cpu_joules",       "dram_joules",   "prefill_joules",
                                         "decode_joules",    "active_joules", "idle_power_watts",
                                         NULL};
    static const char *const latency[] = {"per_token_ms", "throughput_tokens_per_sec",
                                          "time_to_first_token_seconds", "total_query_seconds",
                                          "decode_seconds", NULL};
    struct ipw_arrow_field *m = ipw_arrow_field_new(name, IPW_ARROW_STRUCT);
    bool ok = m != NULL;
    ok = ok && add_floats(ipw_arrow_field_add(m, "compute_metrics", IPW_ARROW_STRUCT), compute);
    struct ipw_arrow_field *en = ok ? ipw_arrow_field_add(m, "energy_metrics", IPW_ARROW_STRUCT)
                                    : NULL;
    ok = ok && add_floats(en, energy) && ipw_arrow_field_add(en, "energy_source", IPW_ARROW_UTF8);
    ok = ok && add_floats(ipw_arrow_field_add(m, "latency_metrics", IPW_ARROW_STRUCT), latency);
    struct ipw_arrow_field *mem = ok ? ipw_arrow_field_add(m, "memory_metrics", IPW_ARROW_STRUCT)
                                     : NULL;
    ok = ok && add_stats(mem, "cpu_mb") && add_stats(mem, "gpu_mb");
    struct ipw_arrow_field *pw = ok ? ipw_arrow_field_add(m, "power_metrics", IPW_ARROW_STRUCT)
                                    : NULL;
    struct ipw_arrow_field *gpu = ok ? ipw_arrow_field_add(pw, "gpu", IPW_ARROW_STRUCT) : NULL;
    ok = ok && add_stats(gpu, "per_query_watts") && add_stats(gpu, "total_watts");
    struct ipw_arrow_field *cpu = ok ? ipw_arrow_field_add(pw, "cpu", IPW_ARROW_STRUCT) : NULL;
    ok = ok && add_stats(cpu, "per_query_watts");
    ok = ok && add_stats(m, "temperature_metrics");
    struct ipw_arrow_field *tok = ok ? ipw_arrow_field_add(m, "token_metrics", IPW_ARROW_STRUCT)
                                     : NULL;
    ok = ok && ipw_arrow_field_add(tok, "input", IPW_ARROW_INT) &&
         ipw_arrow_field_add(tok, "output", IPW_ARROW_INT) &&
         ipw_arrow_field_add(tok, "total", IPW_ARROW_INT);
    struct ipw_arrow_field *gi = ok ? ipw_arrow_field_add(m, "gpu_info", IPW_ARROW_STRUCT) : NULL;
    ok = ok && ipw_arrow_field_add(gi, "name", IPW_ARROW_UTF8) &&
         ipw_arrow_field_add(gi, "vendor", IPW_ARROW_UTF8) &&
         ipw_arrow_field_add(gi, "device_id", IPW_ARROW_INT) &&
         ipw_arrow_field_add(gi, "device_type", IPW_ARROW_UTF8) &&
         ipw_arrow_field_add(gi, "backend", IPW_ARROW_UTF8);
    struct ipw_arrow_field *si = ok ? ipw_arrow_field_add(m, "system_info", IPW_ARROW_STRUCT)
                                    : NULL;
    ok = ok && ipw_arrow_field_add(si, "os_name", IPW_ARROW_UTF8) &&
         ipw_arrow_field_add(si, "os_version", IPW_ARROW_UTF8) &&
         ipw_arrow_field_add(si, "kernel_version", IPW_ARROW_UTF8) &&
         ipw_arrow_field_add(si, "host_name", IPW_ARROW_UTF8) &&
         ipw_arrow_field_add(si, "cpu_count", IPW_ARROW_INT) &&
         ipw_arrow_field_add(si, "cpu_brand", IPW_ARROW_UTF8);
    ok = ok && ipw_arrow_field_add(m, "lm_correctness", IPW_ARROW_BOOL) &&
         ipw_arrow_field_add(m, "lm_response", IPW_ARROW_UTF8);
    if (!ok) {
        ipw_arrow_field_free(m);
        return NULL;
    }
    return m;
}

struct ipw_arrow_field *ipw_run_dataset_schema(const char *const *models, size_t n_models)
{
    struct ipw_arrow_field *s = ipw_arrow_field_new("", IPW_ARROW_STRUCT);
    bool ok = s && ipw_arrow_field_add(s, "problem", IPW_ARROW_UTF8) &&
              ipw_arrow_field_add(s, "answer", IPW_ARROW_UTF8) &&
              ipw_arrow_field_add(s, "dataset_metadata", IPW_ARROW_UTF8) &&
              ipw_arrow_field_add(s, "subject", IPW_ARROW_UTF8);
    struct ipw_arrow_field *ans = ok ? ipw_arrow_field_add(s, "model_answers", IPW_ARROW_STRUCT)
                                     : NULL;
    struct ipw_arrow_field *met = ans ? ipw_arrow_field_add(s, "model_metrics", IPW_ARROW_STRUCT)
                                      : NULL;
    ok = met != NULL;
    for (size_t i = 0; ok && i < n_models; i++) {
        ok = ipw_arrow_field_add(ans, models[i], IPW_ARROW_UTF8) != NULL &&
             ipw_arrow_field_adopt(met, ipw_run_model_metrics_field(models[i]), NULL) == IPW_OK;
    }
    if (!ok) {
        ipw_arrow_field_free(s);
        return NULL;
    }
    return s;
}

/* ---- records to rows --------------------------------------------------------------------------- */

static void note(char *dst, size_t size, const char *parent, const char *name)
{
    if (!*dst)
        snprintf(dst, size, "%s.%s", parent, name);
}

static bool leaf_ok(const struct ipw_arrow_field *f, const json_t *v)
{
    if (json_is_null(v))
        return true;
    switch (f->type) {
    case IPW_ARROW_NULL: return false;
    case IPW_ARROW_BOOL: return json_is_boolean(v);
    case IPW_ARROW_INT: {
        if (json_is_integer(v))
            return true;
        double d = json_is_real(v) ? json_real_value(v) : 0.5;
        return d >= -9.2e18 && d <= 9.2e18 && d == floor(d);
    }
    case IPW_ARROW_FLOAT: return json_is_number(v);
    case IPW_ARROW_UTF8: return json_is_string(v) && json_string_length(v) <= IPW_ARROW_MAX_STRING;
    default: return false;
    }
}

/* Whether v already fits f exactly (no wrong types, no extra keys): then it is used as is. */
static bool fits(const struct ipw_arrow_field *f, const json_t *v)
{
    if (f->type != IPW_ARROW_STRUCT)
        return leaf_ok(f, v);
    if (json_is_null(v))
        return true;
    if (!json_is_object(v))
        return false;
    const char *k;
    json_t *cv;
    json_object_foreach((json_t *)v, k, cv)
    {
        const struct ipw_arrow_field *c = ipw_arrow_field_child(f, k);
        if (!c || !fits(c, cv))
            return false;
    }
    return true;
}

/* A copy of v shaped to f: values of the wrong type become null, keys without a column go. */
static json_t *conform(const struct ipw_arrow_field *f, json_t *v, const char *path,
                       struct run_conform *cs)
{
    if (!v || fits(f, v))
        return v ? json_incref(v) : json_null();
    if (f->type != IPW_ARROW_STRUCT || !json_is_object(v)) {
        cs->nulled++;
        if (!cs->first_nulled[0])
            snprintf(cs->first_nulled, sizeof cs->first_nulled, "%s", path);
        return json_null();
    }
    json_t *o = json_object();
    const char *k;
    json_t *cv;
    json_object_foreach(v, k, cv)
    {
        const struct ipw_arrow_field *c = ipw_arrow_field_child(f, k);
        if (!c) {
            cs->unknown++;
            note(cs->first_unknown, sizeof cs->first_unknown, path, k);
            continue;
        }
        char sub[256];
        snprintf(sub, sizeof sub, "%s.%s", path, k);
        json_t *x = conform(c, cv, sub, cs);
        if (!o || !x || json_object_set_new(o, k, x) != 0) {
            json_decref(o);
            return NULL;
        }
    }
    return o;
}

static json_t *make_row(const struct ipw_arrow_field *schema, json_t *rec,
                        struct run_conform *cs)
{
    json_t *row = json_object();
    if (!row)
        return NULL;
    for (size_t i = 0; i < schema->n_children; i++) {
        const struct ipw_arrow_field *c = schema->children[i];
        json_t *v = json_object_get(rec, c->name), *x;
        if (!strcmp(c->name, "dataset_metadata") && v && !json_is_string(v) && !json_is_null(v)) {
            char *text = ipw_json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
            x = text ? json_string_nocheck(text) : NULL;
            free(text);
        } else {
            x = conform(c, v, c->name, cs);
        }
        if (!x || json_object_set_new(row, c->name, x) != 0) {
            json_decref(row);
            return NULL;
        }
    }
    return row;
}

/* ---- sources of records ------------------------------------------------------------------------ */

static int by_index_seq(const void *a, const void *b)
{
    const struct run_entry *x = a, *y = b;
    if (x->index != y->index)
        return x->index < y->index ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

size_t ipw_run_sort_latest(struct run_entry *v, size_t n)
{
    if (n > 1)
        qsort(v, n, sizeof *v, by_index_seq);
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (i + 1 == n || v[i + 1].index != v[i].index)
            v[k++] = v[i];
    return k;
}

/* Model names (keys of model_answers and model_metrics) gathered into a JSON object used as a
 * set; the schema lists them sorted so that it is the same whatever the order of records. */
bool ipw_run_add_models(json_t *set, const json_t *rec)
{
    static const char *const cols[] = {"model_answers", "model_metrics"};
    for (int c = 0; c < 2; c++) {
        const char *k;
        json_t *v;
        json_t *o = json_object_get(rec, cols[c]);
        if (!json_is_object(o))
            continue;
        json_object_foreach(o, k, v)
        {
            if (!json_object_get(set, k) && json_object_set_new(set, k, json_true()) != 0)
                return false;
        }
    }
    return true;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static struct ipw_arrow_field *schema_for(const json_t *set, size_t *n_models, ipw_errbuf *eb)
{
    size_t n = json_object_size(set), i = 0;
    const char **names = malloc((n ? n : 1) * sizeof *names);
    if (!names) {
        ipw_fail(eb, IPW_E_NOMEM, "out of memory building the run schema");
        return NULL;
    }
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)set, k, v) names[i++] = k;
    qsort(names, n, sizeof *names, cmp_str);
    struct ipw_arrow_field *s = ipw_run_dataset_schema(names, n);
    free(names);
    if (!s)
        ipw_fail(eb, IPW_E_NOMEM, "out of memory building the run schema");
    *n_models = n;
    return s;
}

/* ---- the Arrow file, written to a temporary name and renamed ----------------------------------- */

uint64_t ipw_run_hash_mix(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    return h;
}

ipw_err ipw_run_hashing_write(void *ctx, const void *data, size_t len, ipw_errbuf *eb)
{
    struct run_hashing_sink *s = ctx;
    const uint8_t *p = data;
    uint64_t h = s->h ^ len;
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        h = (h ^ w) * 0x100000001b3ull;
        h ^= h >> 29;
    }
    for (; i < len; i++)
        h = (h ^ p[i]) * 0x100000001b3ull;
    s->h = ipw_run_hash_mix(h);
    return ipw_arrow_file_sink(&s->file, data, len, eb);
}

ipw_err ipw_run_build_start(struct run_build *b, const json_t *models,
                            const json_t *ipw_meta, ipw_errbuf *eb)
{
    ipw_err e = ipw_path_join(b->path, sizeof b->path, b->run_dir, IPW_HF_DATA_FILE, eb);
    if (e != IPW_OK)
        return e;
    if (!(b->schema = schema_for(models, &b->n_models, eb)))
        return eb ? eb->code : IPW_E_NOMEM;
    json_t *features = ipw_hf_features(b->schema, eb);
    if (!features)
        return eb ? eb->code : IPW_E_NOMEM;
    char *hf = ipw_hf_schema_metadata(features);
    json_decref(features);
    json_t *md = hf ? json_pack("{s:s}", "huggingface", hf) : NULL;
    free(hf);
    char *ipw = ipw_meta ? json_dumps(ipw_meta, JSON_COMPACT) : NULL;
    if (md && ipw && json_object_set_new(md, IPW_RUN_META_KEY, json_string(ipw)) != 0) {
        json_decref(md);
        md = NULL;
    }
    free(ipw);
    if (!md)
        return ipw_fail(eb, IPW_E_NOMEM, "out of memory building the run schema metadata");
    snprintf(b->tmp, sizeof b->tmp, "%s.tmp.%ld", b->path, (long)getpid());
    int fd = open(b->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0 || !(b->f = fdopen(fd, "wb"))) {
        int en = errno;
        if (fd >= 0)
            close(fd);
        json_decref(md);
        return ipw_fail(eb, en == EACCES ? IPW_E_PERM : IPW_E_IO, "cannot create %s: %s", b->tmp,
                        strerror(en));
    }
    setvbuf(b->f, NULL, _IOFBF, 1 << 20);
    b->sink = (struct run_hashing_sink){{b->f, b->tmp}, 0x6970772d61727277ull};
    struct ipw_arrow_writer_options opt = {.batch_rows = 1000};
    e = ipw_arrow_writer_new(b->schema, md, &opt, ipw_run_hashing_write, &b->sink, &b->w, eb);
    json_decref(md);
    return e;
}

ipw_err ipw_run_build_add(struct run_build *b, json_t *rec, ipw_errbuf *eb)
{
    json_t *row = make_row(b->schema, rec, &b->cs);
    if (!row)
        return ipw_fail(eb, IPW_E_NOMEM, "out of memory converting a record to an Arrow row");
    ipw_err e = ipw_arrow_writer_append(b->w, row, eb);
    json_decref(row);
    if (e == IPW_OK)
        b->rows++;
    return e;
}

ipw_err ipw_run_build_commit(struct run_build *b, struct ipw_run_dataset_stats *st,
                             ipw_errbuf *eb)
{
    ipw_err e = ipw_arrow_writer_finish(b->w, eb);
    struct ipw_arrow_writer_stats ws;
    ipw_arrow_writer_stats(b->w, &ws);
    if (e == IPW_OK && (fflush(b->f) != 0 || fsync(fileno(b->f)) != 0))
        e = ipw_fail(eb, IPW_E_IO, "cannot flush %s: %s", b->tmp, strerror(errno));
    int rc = fclose(b->f);
    b->f = NULL;
    if (e == IPW_OK && rc != 0)
        e = ipw_fail(eb, IPW_E_IO, "cannot close %s: %s", b->tmp, strerror(errno));
    if (e == IPW_OK && rename(b->tmp, b->path) != 0)
        e = ipw_fail(eb, IPW_E_IO, "cannot rename %s to %s: %s", b->tmp, b->path,
                     strerror(errno));
    if (e != IPW_OK) {
        unlink(b->tmp); /* a file that failed must not keep the space of a full disk */
        return e;
    }
    int dfd = open(b->run_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    char fp[17];
    snprintf(fp, sizeof fp, "%016llx", (unsigned long long)b->sink.h);
    json_t *features = ipw_hf_features(b->schema, eb);
    if (!features)
        return eb ? eb->code : IPW_E_NOMEM;
    e = ipw_hf_write_dataset_info(b->run_dir, features, eb);
    json_decref(features);
    if (e == IPW_OK)
        e = ipw_hf_write_state(b->run_dir, fp, eb);
    if (e != IPW_OK)
        return e;
    if (b->cs.nulled)
        ipw_warn("%s: %zu value(s) of an unexpected type were written as null (first: %s); "
                 "records.jsonl keeps them",
                 b->path, b->cs.nulled, b->cs.first_nulled);
    if (b->cs.unknown)
        ipw_warn("%s: %zu key(s) have no Arrow column and were left out (first: %s); "
                 "records.jsonl keeps them",
                 b->path, b->cs.unknown, b->cs.first_unknown);
    if (st) {
        st->rows = b->rows;
        st->models = b->n_models;
        st->reused_rows = b->reused_rows;
        st->nulled_values = b->cs.nulled;
        st->unknown_keys = b->cs.unknown;
        st->arrow_bytes = ws.bytes;
        memcpy(st->fingerprint, fp, sizeof fp);
    }
    return IPW_OK;
}

void ipw_run_build_end(struct run_build *b)
{
    ipw_arrow_writer_free(b->w);
    ipw_arrow_field_free(b->schema);
    if (b->f) {
        fclose(b->f);
        unlink(b->tmp);
    }
}

/* ---- the two entry points ---------------------------------------------------------------------- */

ipw_err ipw_run_dataset_write(const char *run_dir, json_t *const *records, size_t n,
                              struct ipw_run_dataset_stats *st, ipw_errbuf *eb)
{
    if (st)
        memset(st, 0, sizeof *st);
    struct run_entry *v = malloc((n ? n : 1) * sizeof *v);
    json_t *models = json_object();
    ipw_err e = v && models ? IPW_OK : ipw_fail(eb, IPW_E_NOMEM, "out of memory");
    for (size_t i = 0; e == IPW_OK && i < n; i++) {
        json_t *ri = json_object_get(records[i], "record_index");
        if (!json_is_object(records[i]) || !json_is_integer(ri))
            e = ipw_fail(eb, IPW_E_INVALID, "record %zu given for %s has no integer record_index",
                         i, run_dir);
        else if (!ipw_run_add_models(models, records[i]))
            e = ipw_fail(eb, IPW_E_NOMEM, "out of memory");
        else
            v[i] = (struct run_entry){(int64_t)json_integer_value(ri), i, 0, 0};
    }
    struct run_build b = {.run_dir = run_dir};
    if (e == IPW_OK) {
        n = ipw_run_sort_latest(v, n);
        e = ipw_run_build_start(&b, models, NULL, eb);
    }
    for (size_t i = 0; e == IPW_OK && i < n; i++)
        e = ipw_run_build_add(&b, records[v[i].seq], eb);
    if (e == IPW_OK)
        e = ipw_run_build_commit(&b, st, eb);
    ipw_run_build_end(&b);
    json_decref(models);
    free(v);
    if (e != IPW_OK)
        ipw_err_prefix(eb, "writing the dataset of %s", run_dir);
    return e;
}
