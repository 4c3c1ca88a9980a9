/* The run dataset rebuilt from records.jsonl with bounded memory: one pass indexes the lines and
 * gathers model names, a second converts them in record_index order. When the previous Arrow file
 * was built from a prefix of the same log (its schema metadata says how much), its record batches
 * are copied and only the records appended since are converted. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ipw/buf.h"
#include "ipw/fsutil.h"
#include "ipw/hf_dataset.h"
#include "ipw/log.h"
#include "ipw/records.h"
#include "ipw/run_dataset.h"
#include "results/run_build.h"

struct log_pass {
    struct run_entry *v;
    size_t n, cap;
    json_t *models;
};

static ipw_err log_collect(void *ctx, json_t *rec, int64_t index, size_t line, uint64_t off,
                           size_t len, ipw_errbuf *eb)
{
    struct log_pass *lp = ctx;
    if (ipw_grow(&lp->v, &lp->cap, lp->n + 1, sizeof *lp->v, SIZE_MAX) != IPW_OK)
        return ipw_fail(eb, IPW_E_NOMEM, "out of memory indexing records");
    lp->v[lp->n++] = (struct run_entry){index, line, off, len};
    return ipw_run_add_models(lp->models, rec)
               ? IPW_OK
               : ipw_fail(eb, IPW_E_NOMEM, "out of memory indexing records");
}

static void log_pass_reset(struct log_pass *lp)
{
    free(lp->v);
    json_decref(lp->models);
    memset(lp, 0, sizeof *lp);
    lp->models = json_object();
}

/* A hash of the (up to) 4 KiB of the log before `end`: a cheap check that the prefix the previous
 * file was built from is still the same. */
static bool tail_hash(int fd, uint64_t end, char out[17])
{
    uint8_t buf[4096];
    size_t n = end < sizeof buf ? (size_t)end : sizeof buf;
    if (n && pread(fd, buf, n, (off_t)(end - n)) != (ssize_t)n)
        return false;
    uint64_t h = end;
    for (size_t i = 0; i < n; i++)
        h = ipw_run_hash_mix(h ^ buf[i]) + i;
    snprintf(out, 17, "%016llx", (unsigned long long)h);
    return true;
}

struct prior {
    void *map;
    size_t map_len;
    const uint8_t *batches;
    size_t batches_len;
    uint64_t rows, n_batches, log_bytes;
    int64_t (*ranges)[2]; /* record_index values in the file: sorted, disjoint [first, last] */
    size_t n_ranges;
    json_t *models;
};

static void prior_free(struct prior *p)
{
    if (p->map)
        munmap(p->map, p->map_len);
    json_decref(p->models);
    free(p->ranges);
    memset(p, 0, sizeof *p);
}

/* The "indexes" metadata: [[first, last], ...] sorted and disjoint, covering `rows` values. */
static bool parse_ranges(const json_t *j, uint64_t rows, struct prior *p)
{
    size_t n = json_array_size(j);
    if (!json_is_array(j) || !(p->ranges = malloc((n ? n : 1) * sizeof *p->ranges)))
        return false;
    uint64_t covered = 0;
    for (size_t i = 0; i < n; i++) {
        json_t *r = json_array_get(j, i);
        json_t *a = json_array_get(r, 0), *b = json_array_get(r, 1);
        if (!json_is_integer(a) || !json_is_integer(b) || json_integer_value(a) < 0 ||
            json_integer_value(b) < json_integer_value(a) ||
            (i && json_integer_value(a) <= p->ranges[i - 1][1] + 1))
            return false;
        p->ranges[i][0] = (int64_t)json_integer_value(a);
        p->ranges[i][1] = (int64_t)json_integer_value(b);
        covered += (uint64_t)(p->ranges[i][1] - p->ranges[i][0]) + 1;
    }
    p->n_ranges = n;
    return covered == rows;
}

static bool in_ranges(const struct prior *p, int64_t x)
{
    size_t lo = 0, hi = p->n_ranges;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (x < p->ranges[mid][0])
            hi = mid;
        else if (x > p->ranges[mid][1])
            lo = mid + 1;
        else
            return true;
    }
    return false;
}

/* The ranges of the prior's indexes and the new (sorted, distinct) ones, merged. */
static json_t *merged_ranges(const struct prior *p, const struct run_entry *v, size_t n)
{
    json_t *out = json_array();
    size_t i = 0, k = 0;
    int64_t first = -1, last = -2;
    while (out && (i < (p ? p->n_ranges : 0) || k < n)) {
        int64_t a, b;
        if (k == n || (p && i < p->n_ranges && p->ranges[i][0] < v[k].index)) {
            a = p->ranges[i][0];
            b = p->ranges[i][1];
            i++;
        } else {
            a = b = v[k++].index;
        }
        if (a <= last + 1) {
            if (b > last)
                last = b;
            continue;
        }
        if (first >= 0 && json_array_append_new(out, json_pack("[I,I]", (json_int_t)first,
                                                               (json_int_t)last)) != 0) {
            json_decref(out);
            return NULL;
        }
        first = a;
        last = b;
    }
    if (out && first >= 0 &&
        json_array_append_new(out, json_pack("[I,I]", (json_int_t)first, (json_int_t)last)) != 0) {
        json_decref(out);
        return NULL;
    }
    return out;
}

/* Whether the previous Arrow file can be extended; *why says why not. */
static bool prior_load(const char *data_path, int log_fd, uint64_t log_size, struct prior *p,
                       const char **why)
{
    memset(p, 0, sizeof *p);
    *why = "there is no previous file";
    int fd = open(data_path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    struct stat st;
    if (fstat(fd, &st) != 0 || st.st_size < 16) {
        close(fd);
        *why = "the previous file is empty";
        return false;
    }
    p->map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (p->map == MAP_FAILED) {
        p->map = NULL;
        *why = "the previous file cannot be mapped";
        return false;
    }
    p->map_len = (size_t)st.st_size;
    struct ipw_arrow_reader *r = NULL;
    bool ok = false;
    json_t *meta = NULL;
    struct ipw_arrow_field *want = NULL;
    *why = "the previous file is not a valid Arrow stream";
    if (ipw_arrow_reader_open(p->map, p->map_len, NULL, &r, NULL) != IPW_OK)
        goto out;
    const char *ipw = json_string_value(json_object_get(ipw_arrow_reader_metadata(r),
                                                        IPW_RUN_META_KEY));
    meta = ipw ? json_loads(ipw, 0, NULL) : NULL;
    json_t *lb = json_object_get(meta, "log_bytes"), *rows = json_object_get(meta, "rows");
    const char *tail = json_string_value(json_object_get(meta, "log_tail"));
    *why = "the previous file does not say which records it holds";
    if (!json_is_integer(lb) || !json_is_integer(rows) || !tail || json_integer_value(lb) < 0 ||
        json_integer_value(rows) < 0 ||
        !parse_ranges(json_object_get(meta, "indexes"), (uint64_t)json_integer_value(rows), p))
        goto out;
    p->log_bytes = (uint64_t)json_integer_value(lb);
    p->rows = (uint64_t)json_integer_value(rows);
    char now[17];
    *why = "records.jsonl changed before the point the previous file was built from";
    if (p->log_bytes > log_size || !tail_hash(log_fd, p->log_bytes, now) || strcmp(now, tail))
        goto out;
    /* the schema must be exactly what this version builds for those models */
    const struct ipw_arrow_field *answers =
        ipw_arrow_field_child(ipw_arrow_reader_schema(r), "model_answers");
    *why = "the previous file's schema is not the current run schema";
    if (!answers || !(p->models = json_object()))
        goto out;
    const char **names = malloc((answers->n_children + 1) * sizeof *names);
    if (!names)
        goto out;
    for (size_t i = 0; i < answers->n_children; i++) {
        names[i] = answers->children[i]->name;
        json_object_set_new(p->models, names[i], json_true());
    }
    want = ipw_run_dataset_schema(names, answers->n_children);
    free(names);
    if (!want || !ipw_arrow_field_equal(want, ipw_arrow_reader_schema(r)))
        goto out;
    /* every batch validated before its bytes are trusted again */
    uint64_t start = ipw_arrow_reader_offset(r), end = start, got = 0;
    *why = "the previous file is damaged or incomplete";
    for (;;) {
        struct ipw_arrow_batch *b;
        if (ipw_arrow_reader_next(r, &b, NULL) != IPW_OK)
            goto out;
        if (!b)
            break;
        got += (uint64_t)ipw_arrow_batch_rows(b);
        p->n_batches++;
        end = ipw_arrow_reader_offset(r);
        ipw_arrow_batch_free(b);
    }
    if (!ipw_arrow_reader_saw_eos(r) || got != p->rows)
        goto out;
    p->batches = (const uint8_t *)p->map + start;
    p->batches_len = (size_t)(end - start);
    ok = true;
out:
    ipw_arrow_field_free(want);
    json_decref(meta);
    ipw_arrow_reader_free(r);
    if (!ok)
        prior_free(p);
    return ok;
}

/* The records after the prior's prefix can be appended to it: no new model, and every
 * record_index new (not in the file) and distinct. */
static bool extends(const struct prior *p, struct log_pass *lp, const char **why)
{
    const char *k;
    json_t *v;
    json_object_foreach(lp->models, k, v)
    {
        if (!json_object_get(p->models, k)) {
            *why = "a new model appeared";
            return false;
        }
    }
    size_t n = lp->n;
    lp->n = ipw_run_sort_latest(lp->v, lp->n);
    if (lp->n != n) {
        *why = "a new record repeats another new record's record_index";
        return false;
    }
    for (size_t i = 0; i < lp->n; i++) {
        if (in_ranges(p, lp->v[i].index)) {
            *why = "a new record supersedes one already written";
            return false;
        }
    }
    return true;
}

ipw_err ipw_run_dataset_write_from_log(const char *run_dir, bool final,
                                       struct ipw_run_dataset_stats *st, ipw_errbuf *eb)
{
    if (st)
        memset(st, 0, sizeof *st);
    char log_path[4096], data_path[4096];
    ipw_err e = ipw_path_join(log_path, sizeof log_path, run_dir, IPW_RECORDS_FILE, eb);
    if (e == IPW_OK)
        e = ipw_path_join(data_path, sizeof data_path, run_dir, IPW_HF_DATA_FILE, eb);
    if (e != IPW_OK)
        return e;
    int fd = open(log_path, O_RDONLY | O_CLOEXEC);
    struct stat lst;
    if (fd < 0 || fstat(fd, &lst) != 0) {
        int en = errno;
        if (fd >= 0)
            close(fd);
        e = ipw_fail(eb, en == ENOENT ? IPW_E_NOTFOUND : IPW_E_IO, "cannot open %s: %s",
                     log_path, strerror(en));
        ipw_err_prefix(eb, "writing the dataset of %s", run_dir);
        return e;
    }

    struct prior prior;
    const char *why;
    bool reuse = false;
    memset(&prior, 0, sizeof prior);
    why = "the final rewrite sorts every record";
    if (!final)
        reuse = prior_load(data_path, fd, (uint64_t)lst.st_size, &prior, &why);
    struct log_pass lp = {.models = json_object()};
    struct ipw_records_info info;
    if (!lp.models)
        e = ipw_fail(eb, IPW_E_NOMEM, "out of memory");
    if (e == IPW_OK && reuse) {
        e = ipw_records_scan_from(log_path, prior.log_bytes, log_collect, &lp, &info, eb);
        if (e == IPW_OK && !extends(&prior, &lp, &why)) {
            reuse = false;
            log_pass_reset(&lp);
        }
    }
    if (!reuse)
        ipw_debug("%s: rebuilding from all of records.jsonl (%s)", data_path, why);
    if (e == IPW_OK && !reuse) {
        prior_free(&prior);
        e = ipw_records_scan(log_path, log_collect, &lp, &info, eb);
        if (e == IPW_OK)
            lp.n = ipw_run_sort_latest(lp.v, lp.n);
    }

    struct run_build b = {.run_dir = run_dir};
    json_t *meta = NULL;
    char tail[17];
    if (e == IPW_OK && !tail_hash(fd, info.end_offset, tail))
        e = ipw_fail(eb, IPW_E_IO, "cannot read %s: %s", log_path, strerror(errno));
    if (e == IPW_OK) {
        json_t *ranges = merged_ranges(reuse ? &prior : NULL, lp.v, lp.n);
        meta = ranges ? json_pack("{s:I, s:s, s:I, s:o}", "log_bytes",
                                  (json_int_t)info.end_offset, "log_tail", tail, "rows",
                                  (json_int_t)((reuse ? prior.rows : 0) + lp.n), "indexes",
                                  ranges)
                      : NULL;
        if (!meta)
            e = ipw_fail(eb, IPW_E_NOMEM, "out of memory");
    }
    if (e == IPW_OK)
        e = ipw_run_build_start(&b, reuse ? prior.models : lp.models, meta, eb);
    if (e == IPW_OK && reuse) {
        e = ipw_arrow_writer_copy_batches(b.w, prior.batches, prior.batches_len, prior.rows,
                                          prior.n_batches, eb);
        b.rows += prior.rows;
        b.reused_rows = prior.rows;
    }
    char *line = NULL;
    if (e == IPW_OK && lp.n && !(line = malloc(IPW_RECORDS_MAX_LINE)))
        e = ipw_fail(eb, IPW_E_NOMEM, "out of memory reading %s", log_path);
    for (size_t i = 0; e == IPW_OK && i < lp.n; i++) {
        const struct run_entry *en = &lp.v[i];
        ssize_t got = pread(fd, line, en->len, (off_t)en->off);
        json_t *rec = got == (ssize_t)en->len ? json_loadb(line, en->len, JSON_ALLOW_NUL, NULL)
                                              : NULL;
        if (!rec) {
            e = ipw_fail(eb, IPW_E_IO, "%s changed while its dataset was being written",
                         log_path);
            break;
        }
        e = ipw_run_build_add(&b, rec, eb);
        json_decref(rec);
    }
    if (e == IPW_OK)
        e = ipw_run_build_commit(&b, st, eb);
    ipw_run_build_end(&b);
    free(line);
    json_decref(meta);
    prior_free(&prior);
    free(lp.v);
    json_decref(lp.models);
    close(fd);
    if (e != IPW_OK)
        ipw_err_prefix(eb, "writing the dataset of %s", run_dir);
    return e;
}
