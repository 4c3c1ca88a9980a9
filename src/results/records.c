/* The durable records log (records.jsonl): bounded line reading, crash-torn tail detection and
 * repair, duplicate detection, the resume set, and fsync'ed appends. */
#include "ipw/jsonutil.h"
#include "ipw/records.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ipw/buf.h"
#include "ipw/fsutil.h"

/* ---- a small open-addressing map record_index -> failed flag ----------------------------------- */

struct idxmap {
    int64_t *key; /* -1 = empty slot */
    uint8_t *failed;
    size_t cap, n;
};

static size_t slot_of(const struct idxmap *m, int64_t k)
{
    uint64_t h = (uint64_t)k * 0x9E3779B97F4A7C15ull;
    size_t i = (size_t)(h >> 17) & (m->cap - 1);
    while (m->key[i] != -1 && m->key[i] != k)
        i = (i + 1) & (m->cap - 1);
    return i;
}

static bool idxmap_grow(struct idxmap *m)
{
    struct idxmap nm = {.cap = m->cap ? m->cap * 2 : 1024};
    nm.key = malloc(nm.cap * sizeof *nm.key);
    nm.failed = malloc(nm.cap);
    if (!nm.key || !nm.failed) {
        free(nm.key);
        free(nm.failed);
        return false;
    }
    memset(nm.key, 0xFF, nm.cap * sizeof *nm.key); /* all -1 */
    for (size_t i = 0; i < m->cap; i++) {
        if (m->key[i] == -1)
            continue;
        size_t s = slot_of(&nm, m->key[i]);
        nm.key[s] = m->key[i];
        nm.failed[s] = m->failed[i];
        nm.n++;
    }
    free(m->key);
    free(m->failed);
    *m = nm;
    return true;
}

/* Returns -1 on OOM, else 1 when k was present (its old flag in *old), 0 when new. */
static int idxmap_put(struct idxmap *m, int64_t k, bool failed, bool *old)
{
    if ((m->n + 1) * 2 > m->cap && !idxmap_grow(m))
        return -1;
    size_t s = slot_of(m, k);
    int was = m->key[s] == k;
    if (was && old)
        *old = m->failed[s];
    if (!was)
        m->n++;
    m->key[s] = k;
    m->failed[s] = failed;
    return was;
}

static int idxmap_get(const struct idxmap *m, int64_t k, bool *failed)
{
    if (!m->cap)
        return 0;
    size_t s = slot_of(m, k);
    if (m->key[s] != k)
        return 0;
    *failed = m->failed[s];
    return 1;
}

static void idxmap_free(struct idxmap *m)
{
    free(m->key);
    free(m->failed);
    memset(m, 0, sizeof *m);
}

/* ---- scanning -------------------------------------------------------------------------------- */

static ipw_err errno_fail(ipw_errbuf *eb, const char *what, const char *path)
{
    int e = errno;
    ipw_err code = e == ENOENT ? IPW_E_NOTFOUND : e == EACCES || e == EPERM ? IPW_E_PERM
                   : e == ENOSPC                                           ? IPW_E_NOMEM
                                                                           : IPW_E_IO;
    return ipw_fail(eb, code, "cannot %s %s: %s", what, path, strerror(e));
}

static bool blank(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
            return false;
    return true;
}

/* Parses one line into a record; on failure says why in why[] and returns NULL. */
static json_t *parse_record(const char *s, size_t n, int64_t *index, char *why, size_t whylen)
{
    json_error_t je;
    json_t *j = json_loadb(s, n, JSON_ALLOW_NUL, &je);
    if (!j) {
        snprintf(why, whylen, "is not valid JSON (column %d: %s)", je.column, je.text);
        return NULL;
    }
    json_t *ri = json_object_get(j, "record_index");
    if (!json_is_object(j) || !json_is_integer(ri) || json_integer_value(ri) < 0) {
        snprintf(why, whylen, "is not a record (a JSON object with an integer record_index >= 0)");
        json_decref(j);
        return NULL;
    }
    *index = (int64_t)json_integer_value(ri);
    return j;
}

struct scan {
    const char *path;
    uint64_t base; /* where the scan started; line numbers count from there */
    ipw_records_fn fn;
    void *ctx;
    struct ipw_records_info *info;
    struct idxmap seen;
    ipw_errbuf *eb;
};

static ipw_err deliver(struct scan *sc, json_t *rec, int64_t index, size_t line, uint64_t off,
                       size_t len)
{
    struct ipw_records_info *in = sc->info;
    int was = idxmap_put(&sc->seen, index, false, NULL);
    if (was < 0)
        return ipw_fail(sc->eb, IPW_E_NOMEM, "out of memory reading %s", sc->path);
    if (was) {
        if (!in->duplicates) {
            in->first_duplicate = index;
            in->first_duplicate_line = line;
        }
        in->duplicates++;
    }
    in->records++;
    if (index > in->max_index)
        in->max_index = index;
    return sc->fn ? sc->fn(sc->ctx, rec, index, line, off, len, sc->eb) : IPW_OK;
}

static ipw_err whole_line(struct scan *sc, const char *s, size_t n, size_t line, uint64_t off)
{
    if (blank(s, n))
        return IPW_OK;
    char why[256];
    int64_t index;
    json_t *rec = parse_record(s, n, &index, why, sizeof why);
    if (!rec)
        return ipw_fail(sc->eb, IPW_E_INVALID,
                        "%s line %zu%s %s: the log is damaged there; move that line out of the "
                        "file and run again",
                        sc->path, line, sc->base ? " (counting from a saved position)" : "",
                        why);
    ipw_err e = deliver(sc, rec, index, line, off, n);
    json_decref(rec);
    return e;
}

/* The last bytes had no newline: a whole record that lost only its newline, or a torn write. */
static ipw_err tail_line(struct scan *sc, const char *s, size_t n, size_t line, uint64_t off)
{
    char why[256];
    int64_t index;
    json_t *rec = blank(s, n) ? NULL : parse_record(s, n, &index, why, sizeof why);
    if (!rec) {
        sc->info->torn_tail = true;
        sc->info->torn_offset = off;
        sc->info->torn_bytes = n;
        return IPW_OK;
    }
    sc->info->unterminated_tail = true;
    ipw_err e = deliver(sc, rec, index, line, off, n);
    json_decref(rec);
    return e;
}

/* The caller's info (or local when it passed none), cleared: nothing seen yet. */
static struct ipw_records_info *info_start(struct ipw_records_info *info,
                                           struct ipw_records_info *local)
{
    if (!info)
        info = local;
    memset(info, 0, sizeof *info);
    info->first_duplicate = -1;
    info->max_index = -1;
    return info;
}

ipw_err ipw_records_scan(const char *path, ipw_records_fn fn, void *ctx,
                         struct ipw_records_info *info, ipw_errbuf *eb)
{
    return ipw_records_scan_from(path, 0, fn, ctx, info, eb);
}

ipw_err ipw_records_scan_from(const char *path, uint64_t offset, ipw_records_fn fn, void *ctx,
                              struct ipw_records_info *info, ipw_errbuf *eb)
{
    struct ipw_records_info local;
    info = info_start(info, &local);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno_fail(eb, "open", path);

    if (offset && lseek(fd, (off_t)offset, SEEK_SET) != (off_t)offset) {
        ipw_err e = errno_fail(eb, "seek in", path);
        close(fd);
        return e;
    }
    struct scan sc = {path, offset, fn, ctx, info, {0}, eb};
    /* read 1 MiB at a time, or the whole rest of a smaller file at once: the log is scanned
     * on every resume and repair, and most logs are small (a file that grows meanwhile is still
     * read to its end, in more reads) */
    size_t chunk = (size_t)1 << 20;
    struct stat st;
    if (fstat(fd, &st) == 0 && st.st_size >= 0) {
        uint64_t rest = (uint64_t)st.st_size > offset ? (uint64_t)st.st_size - offset : 0;
        if (rest + 1 < chunk)
            chunk = rest + 1 < 4096 ? 4096 : (size_t)rest + 1;
    }
    char *buf = malloc(chunk);
    struct ipw_buf line; /* a line spanning chunks is gathered here */
    ipw_buf_init(&line, IPW_RECORDS_MAX_LINE);
    size_t line_no = 0;
    uint64_t file_off = offset, line_off = offset;
    ipw_err e = buf ? IPW_OK : ipw_fail(eb, IPW_E_NOMEM, "out of memory reading %s", path);
    while (e == IPW_OK) {
        ssize_t r = read(fd, buf, chunk);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            e = errno_fail(eb, "read", path);
            break;
        }
        if (r == 0)
            break;
        size_t p = 0, got = (size_t)r;
        while (p < got && e == IPW_OK) {
            char *nl = memchr(buf + p, '\n', got - p);
            size_t seg = nl ? (size_t)(nl - (buf + p)) : got - p;
            if (line.len + seg > IPW_RECORDS_MAX_LINE) {
                e = ipw_fail(eb, IPW_E_RANGE,
                             "%s line %zu is longer than the %zu-byte limit; the file is not a "
                             "records log or is damaged",
                             path, line_no + 1, IPW_RECORDS_MAX_LINE);
                break;
            }
            if (nl && line.len == 0) { /* the common case: the whole line is in this chunk */
                line_no++;
                e = whole_line(&sc, buf + p, seg, line_no, file_off + p);
            } else {
                if (line.len == 0)
                    line_off = file_off + p;
                if (ipw_buf_add(&line, buf + p, seg) != IPW_OK) {
                    e = ipw_fail(eb, IPW_E_NOMEM, "out of memory reading %s", path);
                    break;
                }
                if (nl) {
                    line_no++;
                    e = whole_line(&sc, line.p, line.len, line_no, line_off);
                    ipw_buf_reset(&line);
                }
            }
            p += seg + (nl ? 1 : 0);
        }
        file_off += got;
    }
    if (e == IPW_OK && line.len > 0) {
        line_no++;
        e = tail_line(&sc, line.p, line.len, line_no, line_off);
    }
    info->lines = line_no;
    info->end_offset = info->torn_tail ? info->torn_offset : file_off;
    free(buf);
    ipw_buf_free(&line);
    close(fd);
    idxmap_free(&sc.seen);
    return e;
}

/* ---- loading --------------------------------------------------------------------------------- */

struct entry {
    int64_t index;
    size_t line;
    json_t *rec;
    bool failed;
};

struct entries {
    struct entry *v;
    size_t n, cap;
    bool keep_json;
};

static ipw_err collect(void *ctx, json_t *rec, int64_t index, size_t line, uint64_t off,
                       size_t len, ipw_errbuf *eb)
{
    struct entries *es = ctx;
    if (ipw_grow(&es->v, &es->cap, es->n + 1, sizeof *es->v, SIZE_MAX) != IPW_OK)
        return ipw_fail(eb, IPW_E_NOMEM, "out of memory loading records");
    const char *status = json_string_value(json_object_get(rec, "status"));
    es->v[es->n++] = (struct entry){index, line, es->keep_json ? json_incref(rec) : NULL,
                                    status && !strcmp(status, "failed")};
    return IPW_OK;
}

static int by_index_then_line(const void *a, const void *b)
{
    const struct entry *x = a, *y = b;
    if (x->index != y->index)
        return x->index < y->index ? -1 : 1;
    return x->line < y->line ? -1 : x->line > y->line;
}

/* Sorts and keeps, of each record_index, the entry of the latest line. */
static void sort_latest(struct entries *es)
{
    if (es->n > 1)
        qsort(es->v, es->n, sizeof *es->v, by_index_then_line);
    size_t k = 0;
    for (size_t i = 0; i < es->n; i++) {
        if (i + 1 < es->n && es->v[i + 1].index == es->v[i].index) {
            json_decref(es->v[i].rec);
            continue;
        }
        es->v[k++] = es->v[i];
    }
    es->n = k;
}

static void entries_free(struct entries *es)
{
    for (size_t i = 0; i < es->n; i++)
        json_decref(es->v[i].rec);
    free(es->v);
}

ipw_err ipw_records_load(const char *path, json_t **records, struct ipw_records_info *info,
                         ipw_errbuf *eb)
{
    *records = NULL;
    struct entries es = {.keep_json = true};
    ipw_err e = ipw_records_scan(path, collect, &es, info, eb);
    if (e == IPW_OK) {
        sort_latest(&es);
        json_t *arr = json_array();
        for (size_t i = 0; arr && i < es.n; i++) {
            if (json_array_append(arr, es.v[i].rec) != 0) {
                json_decref(arr);
                arr = NULL;
            }
        }
        if (!arr)
            e = ipw_fail(eb, IPW_E_NOMEM, "out of memory loading %s", path);
        *records = arr;
    }
    entries_free(&es);
    return e;
}

ipw_err ipw_records_finished(const char *path, bool retry_failed, struct ipw_records_done *out,
                             struct ipw_records_info *info, ipw_errbuf *eb)
{
    out->index = NULL;
    out->n = 0;
    struct entries es = {.keep_json = false};
    ipw_err e = ipw_records_scan(path, collect, &es, info, eb);
    if (e == IPW_OK) {
        sort_latest(&es);
        out->index = malloc((es.n ? es.n : 1) * sizeof *out->index);
        if (!out->index)
            e = ipw_fail(eb, IPW_E_NOMEM, "out of memory reading %s", path);
        for (size_t i = 0; e == IPW_OK && i < es.n; i++)
            if (!(retry_failed && es.v[i].failed))
                out->index[out->n++] = es.v[i].index;
    }
    entries_free(&es);
    return e;
}

bool ipw_records_done_has(const struct ipw_records_done *d, int64_t record_index)
{
    size_t lo = 0, hi = d->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (d->index[mid] == record_index)
            return true;
        if (d->index[mid] < record_index)
            lo = mid + 1;
        else
            hi = mid;
    }
    return false;
}

void ipw_records_done_free(struct ipw_records_done *d)
{
    free(d->index);
    d->index = NULL;
    d->n = 0;
}

/* ---- repair and append ------------------------------------------------------------------------ */

ipw_err ipw_records_repair(const char *path, struct ipw_records_info *info, ipw_errbuf *eb)
{
    struct ipw_records_info local;
    if (!info)
        info = &local;
    ipw_err e = ipw_records_scan(path, NULL, NULL, info, eb);
    if (e != IPW_OK || (!info->torn_tail && !info->unterminated_tail))
        return e;
    int fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
    if (fd < 0)
        return errno_fail(eb, "open for repair", path);
    if (info->torn_tail) {
        if (ftruncate(fd, (off_t)info->torn_offset) != 0)
            e = errno_fail(eb, "truncate the torn last line of", path);
    } else if (write(fd, "\n", 1) != 1) {
        e = errno_fail(eb, "complete the last line of", path);
    }
    if (e == IPW_OK && fsync(fd) != 0)
        e = errno_fail(eb, "flush", path);
    close(fd);
    if (e == IPW_OK)
        info->repaired = true;
    return e;
}

struct ipw_records_log {
    int fd;
    char *path;
    struct idxmap idx;
    size_t count;
};

static ipw_err remember(void *ctx, json_t *rec, int64_t index, size_t line, uint64_t off,
                        size_t len, ipw_errbuf *eb)
{
    struct ipw_records_log *log = ctx;
    const char *status = json_string_value(json_object_get(rec, "status"));
    if (idxmap_put(&log->idx, index, status && !strcmp(status, "failed"), NULL) < 0)
        return ipw_fail(eb, IPW_E_NOMEM, "out of memory reading %s", log->path);
    log->count++;
    return IPW_OK;
}

static void fsync_parent(const char *path)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash == dir)
        slash[1] = '\0';
    else if (slash)
        *slash = '\0';
    else
        snprintf(dir, sizeof dir, ".");
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

ipw_err ipw_records_open(const char *path, bool resume, struct ipw_records_log **out,
                         struct ipw_records_info *info, ipw_errbuf *eb)
{
    *out = NULL;
    struct ipw_records_info local;
    info = info_start(info, &local);
    struct ipw_records_log *log = calloc(1, sizeof *log);
    if (!log || !(log->path = strdup(path))) {
        free(log);
        return ipw_fail(eb, IPW_E_NOMEM, "out of memory opening %s", path);
    }
    log->fd = -1;
    ipw_err e = IPW_OK;
    bool exists = ipw_path_exists(path);
    if (resume && exists) {
        e = ipw_records_repair(path, info, eb);
        if (e == IPW_OK) {
            /* the second scan reads the repaired file; report what the repair found */
            struct ipw_records_info before = *info;
            e = ipw_records_scan(path, remember, log, info, eb);
            info->torn_tail = before.torn_tail;
            info->torn_offset = before.torn_offset;
            info->torn_bytes = before.torn_bytes;
            info->unterminated_tail = before.unterminated_tail;
            info->repaired = before.repaired;
        }
        if (e == IPW_OK && (log->fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC)) < 0)
            e = errno_fail(eb, "open for appending", path);
    } else {
        log->fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0644);
        if (log->fd < 0 && errno == EEXIST)
            e = ipw_fail(eb, IPW_E_EXISTS,
                         "%s already exists; continue that run with --resume or start again "
                         "with --overwrite",
                         path);
        else if (log->fd < 0)
            e = errno_fail(eb, "create", path);
        else
            fsync_parent(path);
    }
    if (e != IPW_OK) {
        ipw_records_close(log);
        return e;
    }
    *out = log;
    return IPW_OK;
}

ipw_err ipw_records_append(struct ipw_records_log *log, const json_t *rec, ipw_errbuf *eb)
{
    json_t *ri = json_object_get(rec, "record_index");
    if (!json_is_object(rec) || !json_is_integer(ri) || json_integer_value(ri) < 0)
        return ipw_fail(eb, IPW_E_INVALID,
                        "cannot append to %s: a record must be a JSON object with an integer "
                        "record_index >= 0",
                        log->path);
    int64_t index = (int64_t)json_integer_value(ri);
    bool was_failed = false;
    if (idxmap_get(&log->idx, index, &was_failed) && !was_failed)
        return ipw_fail(eb, IPW_E_EXISTS,
                        "record_index %lld is already in %s; a finished query is never "
                        "recorded twice",
                        (long long)index, log->path);
    char *line = ipw_json_dumps(rec, JSON_COMPACT);
    if (!line)
        return ipw_fail(eb, IPW_E_NOMEM, "cannot serialize record %lld for %s", (long long)index,
                        log->path);
    size_t len = strlen(line);
    ipw_err e = IPW_OK;
    if (len > IPW_RECORDS_MAX_LINE)
        e = ipw_fail(eb, IPW_E_RANGE,
                     "record %lld is %zu bytes as JSON, over the %zu-byte line limit of %s; "
                     "shorten its response or metadata",
                     (long long)index, len, IPW_RECORDS_MAX_LINE, log->path);
    /* room in the index first, so that nothing can fail after the line is on disk */
    if (e == IPW_OK && (log->idx.n + 1) * 2 > log->idx.cap && !idxmap_grow(&log->idx))
        e = ipw_fail(eb, IPW_E_NOMEM, "out of memory tracking records of %s", log->path);
    struct stat st;
    if (e == IPW_OK && fstat(log->fd, &st) != 0)
        e = errno_fail(eb, "stat", log->path);
    if (e == IPW_OK) {
        e = ipw_append_line_durable(log->fd, line, len, log->path, eb);
        /* a partial line would damage the log for every later record: cut it off again */
        if (e != IPW_OK && ftruncate(log->fd, st.st_size) != 0)
            ipw_err_prefix(eb, "%s may now end in a partial line (run with --resume to repair "
                               "it)", log->path);
    }
    free(line);
    if (e != IPW_OK)
        return e;
    const char *status = json_string_value(json_object_get(rec, "status"));
    idxmap_put(&log->idx, index, status && !strcmp(status, "failed"), NULL);
    log->count++;
    return IPW_OK;
}

size_t ipw_records_count(const struct ipw_records_log *log) { return log->count; }

void ipw_records_close(struct ipw_records_log *log)
{
    if (!log)
        return;
    if (log->fd >= 0)
        close(log->fd);
    idxmap_free(&log->idx);
    free(log->path);
    free(log);
}
