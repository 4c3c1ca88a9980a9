/* Streams a run directory's queries for analysis: records.jsonl read line by line (bounded), each
 * line parsed alone and flattened into an ipw_run_query; summary.json read once. */
#include "ipw/run_reader.h"
#include "run_source_arrow.h"

#include "analysis/record_scan.h"
#include "analysis/content_digest.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ipw/buf.h"
#include "ipw/fsutil.h"
#include "ipw/jsonutil.h"
#include "ipw/log.h"

#define DEFAULT_MAX_LINE (64u << 20)
#define READ_CHUNK (1u << 20)
#define SUMMARY_MAX (16u << 20)

/* ---- the records.jsonl source ------------------------------------------------------------ */

struct jsonl_src {
    char path[4096];
    int fd;
    char *buf; /* read buffer: [pos, len) not yet consumed */
    size_t pos, len;
    char *line; /* the line being assembled when it spans reads */
    size_t line_len, line_cap, max_line;
    long lineno;
    bool eof;
    struct ipw_content_digest *digest; /* when set, every byte read is digested too */
};

static ipw_err jsonl_fill(struct jsonl_src *s, ipw_errbuf *eb)
{
    for (;;) {
        ssize_t n = read(s->fd, s->buf, READ_CHUNK);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return ipw_fail(eb, IPW_E_IO, "cannot read %s: %s", s->path, strerror(errno));
        s->pos = 0;
        s->len = (size_t)n;
        if (s->digest)
            ipw_content_digest_update(s->digest, s->buf, s->len);
        if (n == 0)
            s->eof = true;
        return IPW_OK;
    }
}

static ipw_err line_append(struct jsonl_src *s, const char *p, size_t n, ipw_errbuf *eb)
{
    if (s->line_len + n > s->max_line)
        return ipw_fail(eb, IPW_E_RANGE,
                        "%s:%ld is longer than the %zu-byte line limit; the file is damaged or "
                        "not a records log",
                        s->path, s->lineno + 1, s->max_line);
    if (s->line_len + n + 1 > s->line_cap) {
        size_t cap = s->line_cap ? s->line_cap : 4096;
        while (cap < s->line_len + n + 1)
            cap *= 2;
        char *nl = realloc(s->line, cap);
        if (!nl)
            return ipw_fail(eb, IPW_E_NOMEM, "out of memory reading %s", s->path);
        s->line = nl;
        s->line_cap = cap;
    }
    memcpy(s->line + s->line_len, p, n);
    s->line_len += n;
    s->line[s->line_len] = '\0';
    return IPW_OK;
}

/* One line (without '\n') as *text, *len: a view into the read buffer when the whole line is
 * there (the common case: no copy), else assembled in s->line. Valid until the next call.
 * *got false at the end of the file; *had_nl false for a last line with no newline. */
static ipw_err jsonl_read_line(struct jsonl_src *s, const char **text, size_t *len, bool *got,
                               bool *had_nl, ipw_errbuf *eb)
{
    s->line_len = 0;
    *got = false;
    *had_nl = false;
    *text = "";
    *len = 0;
    if (s->line)
        s->line[0] = '\0';
    for (;;) {
        if (s->pos == s->len) {
            if (s->eof)
                break;
            ipw_err e = jsonl_fill(s, eb);
            if (e != IPW_OK)
                return e;
            if (s->eof)
                break;
        }
        char *start = s->buf + s->pos;
        char *nl = memchr(start, '\n', s->len - s->pos);
        size_t n = nl ? (size_t)(nl - start) : s->len - s->pos;
        if (nl && !*got && n <= s->max_line) {
            s->pos += n + 1;
            s->lineno++;
            *got = *had_nl = true;
            *text = start;
            *len = n;
            return IPW_OK;
        }
        ipw_err e = line_append(s, start, n, eb);
        if (e != IPW_OK)
            return e;
        *got = true;
        s->pos += n + (nl ? 1 : 0);
        if (nl) {
            *had_nl = true;
            break;
        }
    }
    if (*got) {
        s->lineno++;
        *text = s->line;
        *len = s->line_len;
    }
    return IPW_OK;
}

static bool blank(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r')
            return false;
    return true;
}

static ipw_err jsonl_next(void *state, const char **text, size_t *len, json_t **record,
                          long *line, bool *terminated, bool *eof, ipw_errbuf *eb)
{
    struct jsonl_src *s = state;
    *record = NULL;
    *eof = false;
    for (;;) {
        bool got, had_nl;
        ipw_err e = jsonl_read_line(s, text, len, &got, &had_nl, eb);
        if (e != IPW_OK)
            return e;
        if (!got) {
            *eof = true;
            return IPW_OK;
        }
        *line = s->lineno;
        if (blank(*text, *len))
            continue;
        *terminated = had_nl;
        return IPW_OK;
    }
}

static ipw_err jsonl_rewind(void *state, ipw_errbuf *eb)
{
    struct jsonl_src *s = state;
    if (lseek(s->fd, 0, SEEK_SET) < 0)
        return ipw_fail(eb, IPW_E_IO, "cannot rewind %s: %s", s->path, strerror(errno));
    s->pos = s->len = 0;
    s->lineno = 0;
    s->eof = false;
    return IPW_OK;
}

static void jsonl_close(void *state)
{
    struct jsonl_src *s = state;
    if (!s)
        return;
    if (s->fd >= 0)
        close(s->fd);
    free(s->buf);
    free(s->line);
    free(s);
}

static const struct ipw_run_source_ops jsonl_ops = {"records.jsonl", jsonl_next, jsonl_rewind,
                                                    jsonl_close};

static ipw_err jsonl_open(const char *path, size_t max_line, void **out, ipw_errbuf *eb)
{
    struct jsonl_src *s = calloc(1, sizeof *s);
    if (!s)
        return ipw_fail(eb, IPW_E_NOMEM, "out of memory opening %s", path);
    snprintf(s->path, sizeof s->path, "%s", path);
    s->max_line = max_line;
    s->buf = malloc(READ_CHUNK);
    if (!s->buf) {
        jsonl_close(s);
        return ipw_fail(eb, IPW_E_NOMEM, "out of memory opening %s", path);
    }
    s->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (s->fd < 0) {
        int e = errno;
        jsonl_close(s);
        return ipw_fail(eb, e == ENOENT ? IPW_E_NOTFOUND : IPW_E_IO, "cannot open %s: %s", path,
                        strerror(e));
    }
    *out = s;
    return IPW_OK;
}

/* ---- flattening a record -------------------------------------------------------------------- */

static double num(const json_t *o, const char *key)
{
    const json_t *v = json_object_get(o, key);
    return json_is_number(v) ? json_number_value(v) : NAN;
}

static const char *str(const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "";
}

/* The member named model, or the only member when the name does not match (a tag spelled
 * differently in summary.json and the records). */
static const json_t *by_model(const json_t *obj, const char *model)
{
    const json_t *v = model && *model ? json_object_get(obj, model) : NULL;
    if (!v && json_is_object(obj) && json_object_size(obj) == 1) {
        void *it = json_object_iter((json_t *)obj);
        v = json_object_iter_value(it);
    }
    return v;
}

void ipw_run_query_from_json(const json_t *rec, const char *model, struct ipw_run_query *q)
{
    memset(q, 0, sizeof *q);
    const json_t *ri = json_object_get(rec, "record_index");
    q->record_index = json_is_integer(ri) ? (long)json_integer_value(ri) : -1;
    q->schema = str(rec, "schema");
    q->problem = str(rec, "problem");
    q->reference = str(rec, "answer");
    q->subject = str(rec, "subject");
    q->error = str(rec, "error");
    const char *status = json_string_value(json_object_get(rec, "status"));
    q->failed = status ? strcmp(status, "failed") == 0 : *q->error != '\0';

    const char *kind = json_string_value(json_object_get(rec, "kind"));
    if (!kind)
        kind = json_string_value(json_object_get(json_object_get(rec, "dataset_metadata"),
                                                 "kind"));
    q->kind_given = ipw_item_kind_parse(kind, &q->kind);
    if (!q->kind_given)
        q->kind = ipw_item_kind_infer(q->problem, q->reference);

    const json_t *m = by_model(json_object_get(rec, "model_metrics"), model);
    const json_t *answer = by_model(json_object_get(rec, "model_answers"), model);
    q->response = json_is_string(answer) ? json_string_value(answer) : str(m, "lm_response");

    const json_t *lc = json_object_get(m, "lm_correctness");
    if (!json_is_boolean(lc)) /* the original tool's evaluation block */
        lc = json_object_get(json_object_get(m, "evaluation"), "is_correct");
    q->prior_correct = json_is_boolean(lc) ? (json_is_true(lc) ? 1 : 0) : -1;

    const json_t *tok = json_object_get(m, "token_metrics");
    q->input_tokens = num(tok, "input");
    q->output_tokens = num(tok, "output");
    q->total_tokens = num(tok, "total");
    if (isnan(q->total_tokens) && !(isnan(q->input_tokens) && isnan(q->output_tokens)))
        q->total_tokens = (isnan(q->input_tokens) ? 0 : q->input_tokens) +
                          (isnan(q->output_tokens) ? 0 : q->output_tokens);

    const json_t *en = json_object_get(m, "energy_metrics");
    q->energy_j = num(en, "per_query_joules");
    q->total_j = num(en, "total_joules");
    q->gpu_j = num(en, "gpu_joules");
    q->cpu_j = num(en, "cpu_joules");
    q->dram_j = num(en, "dram_joules");
    q->active_j = num(en, "active_joules");
    q->prefill_j = num(en, "prefill_joules");
    q->decode_j = num(en, "decode_joules");
    q->idle_w = num(en, "idle_power_watts");
    q->energy_source = str(en, "energy_source");

    const json_t *lat = json_object_get(m, "latency_metrics");
    q->start_s = num(rec, "request_start_time");
    q->ttft_s = num(lat, "time_to_first_token_seconds");
    q->latency_s = num(lat, "total_query_seconds");
    q->decode_s = num(lat, "decode_seconds");

    const json_t *gpu = json_object_get(json_object_get(m, "power_metrics"), "gpu");
    q->power_avg_w = num(json_object_get(gpu, "per_query_watts"), "avg");
    q->total_power_avg_w = num(json_object_get(gpu, "total_watts"), "avg");
}

/* ---- the reader ----------------------------------------------------------------------------- */

struct ipw_run_reader {
    char dir[4096];
    const struct ipw_run_source_ops *ops;
    void *src;
    struct ipw_run_reader_options opts;
    struct ipw_run_info info;
    json_t *summary;
    json_t *current;
    struct ipw_scan_arena arena;
    char model[256];
    size_t skipped;
    char first_skip[IPW_ERRMSG_MAX];
    long warned_line; /* lines up to here were warned about; a later pass stays quiet on them */
    bool model_checked;
    long *superseded; /* sorted lines whose record_index comes again later (skipped) */
    size_t nsuperseded;
    char digest[IPW_DIGEST_HEX]; /* of records.jsonl as the first pass read it ("" if not whole) */
    uint64_t digest_bytes;
    /* single_pass: the first pass digests the log and notes each line's record_index (one bit
     * per index) instead of a pass of its own before; the first index seen twice ends it */
    bool single;
    bool restarted;
    struct ipw_content_digest *pass_digest;
    unsigned char *seen_bits;
    size_t seen_bytes;
    size_t max_line;
};

static void copy_str(char *dst, size_t size, const json_t *v)
{
    const char *s = json_string_value(v);
    snprintf(dst, size, "%s", s ? s : "");
}

static void load_info(struct ipw_run_reader *r)
{
    struct ipw_run_info *in = &r->info;
    in->generated_at = in->total_queries = NAN;
    char path[4200];
    snprintf(path, sizeof path, "%s/summary.json", r->dir);
    if (!ipw_path_exists(path))
        return;
    ipw_errbuf eb = {0};
    if (ipw_json_load_file(path, SUMMARY_MAX, &r->summary, &eb) != IPW_OK ||
        !json_is_object(r->summary)) {
        ipw_warn("ignoring %s: %s", path, eb.msg[0] ? eb.msg : "not a JSON object");
        json_decref(r->summary);
        r->summary = NULL;
        return;
    }
    const json_t *s = r->summary;
    in->has_summary = true;
    copy_str(in->model, sizeof in->model, json_object_get(s, "model"));
    copy_str(in->hardware_label, sizeof in->hardware_label, json_object_get(s, "hardware_label"));
    copy_str(in->dataset, sizeof in->dataset, json_object_get(s, "dataset"));
    if (!in->dataset[0])
        copy_str(in->dataset, sizeof in->dataset,
                 json_object_get(json_object_get(s, "profiler_config"), "dataset_id"));
    copy_str(in->dataset_name, sizeof in->dataset_name, json_object_get(s, "dataset_name"));
    const json_t *tel = json_object_get(s, "telemetry");
    copy_str(in->platform, sizeof in->platform, json_object_get(tel, "platform"));
    const json_t *modelled = json_object_get(s, "modelled");
    /* runs saved before "modelled" existed: only the sim collector modelled energy */
    in->modelled = json_is_boolean(modelled) ? json_is_true(modelled)
                                             : strcmp(in->platform, "sim") == 0;
    copy_str(in->collector, sizeof in->collector, json_object_get(tel, "collector"));
    copy_str(in->client, sizeof in->client,
             json_object_get(json_object_get(s, "profiler_config"), "client_id"));
    copy_str(in->gpu_name, sizeof in->gpu_name,
             json_object_get(json_object_get(s, "gpu_info"), "name"));
    copy_str(in->cpu_brand, sizeof in->cpu_brand,
             json_object_get(json_object_get(s, "system_info"), "cpu_brand"));
    ipw_json_get_number(s, "generated_at", &in->generated_at);
    ipw_json_get_number(s, "total_queries", &in->total_queries);
}

/* Does dir hold a dataset shard (data-*.arrow)? */
static bool has_arrow_file(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return false;
    bool found = false;
    struct dirent *e;
    while (!found && (e = readdir(d))) {
        size_t n = strlen(e->d_name);
        found = strncmp(e->d_name, "data-", 5) == 0 && n > 11 &&
                strcmp(e->d_name + n - 6, ".arrow") == 0;
    }
    closedir(d);
    return found;
}

/* ---- records superseded by a later line -------------------------------------------------- */

/* `ipw profile --resume` runs a failed query again and appends its new record: the same
 * record_index then appears twice and the later line is the query's record (as for the Arrow
 * dataset and summary.json). A first pass finds the earlier lines so that no query is counted
 * twice; it costs 24 bytes per record while it runs and 8 per superseded line after. When that
 * memory cannot be had the reader does not open (IPW_E_NOMEM): reading on without the pass
 * would count such a query twice. */
struct seen {
    long index, line;
    bool checked; /* the whole line was parsed */
};

static int cmp_seen(const void *x, const void *y)
{
    const struct seen *a = x, *b = y;
    if (a->index != b->index)
        return (a->index > b->index) - (a->index < b->index);
    return (a->line > b->line) - (a->line < b->line);
}

static int cmp_long(const void *x, const void *y)
{
    long a = *(const long *)x, b = *(const long *)y;
    return (a > b) - (a < b);
}

/* record_index of a line our writer wrote: it starts with it. -2 for any other line. */
static long quick_index(const char *text, size_t len)
{
    static const char head[] = "{\"record_index\":";
    size_t hl = sizeof head - 1;
    if (len > hl && memcmp(text, head, hl) == 0) {
        long v = 0;
        size_t i = hl, digits = 0;
        while (i < len && text[i] >= '0' && text[i] <= '9' && digits < 15)
            v = v * 10 + (text[i++] - '0'), digits++;
        if (digits && i < len && (text[i] == ',' || text[i] == '}'))
            return v;
    }
    return -2;
}

/* record_index of one line: the quick look when the line starts with it (*checked false: the
 * rest of the line is not looked at); anything else is parsed (*checked true). -1: not a
 * record. */
static long line_index(const char *text, size_t len, bool *checked)
{
    long quick = quick_index(text, len);
    *checked = quick == -2;
    if (quick != -2)
        return quick;
    json_t *rec = json_loadb(text, len, 0, NULL);
    const json_t *ri = json_object_get(rec, "record_index");
    long v = json_is_integer(ri) && json_integer_value(ri) >= 0 ? (long)json_integer_value(ri) : -1;
    json_decref(rec);
    return v;
}

struct seen_list {
    struct seen *v;
    size_t n, cap;
};

/* Calls fn for each line of the log (text, line number); false from fn stops (IPW_E_NOMEM: the
 * callbacks stop only for want of memory). With digest, the bytes read are digested too. IPW_OK
 * when the whole file was read; else why not (a line the main pass will report, or
 * IPW_E_NOMEM, after which the pass's result must not be used). */
static ipw_err each_line(const char *path, size_t max_line,
                         bool (*fn)(void *ctx, const char *text, size_t len, long line),
                         void *ctx, struct ipw_content_digest *digest)
{
    void *src;
    ipw_err e = jsonl_open(path, max_line, &src, NULL);
    if (e != IPW_OK)
        return e;
    ((struct jsonl_src *)src)->digest = digest;
    for (;;) {
        const char *text;
        size_t len;
        json_t *rec;
        long line;
        bool terminated, eof;
        if ((e = jsonl_next(src, &text, &len, &rec, &line, &terminated, &eof, NULL)) != IPW_OK)
            break;
        if (eof)
            break;
        if (!fn(ctx, text, len, line)) {
            e = IPW_E_NOMEM;
            break;
        }
    }
    jsonl_close(src);
    return e;
}

static bool collect_index(void *ctx, const char *text, size_t len, long line)
{
    struct seen_list *sl = ctx;
    bool checked;
    long index = line_index(text, len, &checked);
    if (index < 0)
        return true; /* the main pass reports what is wrong with it */
    if (ipw_grow(&sl->v, &sl->cap, sl->n + 1, sizeof *sl->v, SIZE_MAX / sizeof *sl->v) !=
        IPW_OK)
        return false; /* out of memory: the pass fails */
    sl->v[sl->n++] = (struct seen){index, line, checked};
    return true;
}

/* Lines whose quick look must be confirmed by a full parse (those sharing an index: a line
 * torn by a crash must not supersede a whole one). */
struct confirm {
    long *lines;
    size_t n;
    long *bad; /* lines that did not parse as records */
    size_t nbad;
};

static bool confirm_line(void *ctx, const char *text, size_t len, long line)
{
    struct confirm *c = ctx;
    if (!bsearch(&line, c->lines, c->n, sizeof line, cmp_long))
        return true;
    json_t *rec = json_loadb(text, len, 0, NULL);
    if (!json_is_integer(json_object_get(rec, "record_index")))
        c->bad[c->nbad++] = line;
    json_decref(rec);
    return true;
}

static bool same_index_next(const struct seen *v, size_t n, size_t i)
{
    return i + 1 < n && v[i].index == v[i + 1].index;
}

/* In a group of lines sharing an index (v sorted by index, then line). */
static bool shared(const struct seen *v, size_t n, size_t i)
{
    return same_index_next(v, n, i) || (i && v[i - 1].index == v[i].index);
}

static ipw_err find_superseded(struct ipw_run_reader *r, const char *path, size_t max_line,
                               ipw_errbuf *eb)
{
    struct seen_list sl = {0};
    /* this pass reads every byte: the analysis stamps its files with their digest (without
     * memory for it, the analysis reads the file again for it) */
    struct ipw_content_digest *digest = ipw_content_digest_new();
    ipw_err pass = each_line(path, max_line, collect_index, &sl, digest);
    if (pass == IPW_OK && digest) {
        r->digest_bytes = ipw_content_digest_bytes(digest);
        ipw_content_digest_hex(digest, r->digest);
    }
    ipw_content_digest_free(digest);
    if (pass == IPW_E_NOMEM) {
        free(sl.v);
        return ipw_fail(eb, IPW_E_NOMEM,
                        "out of memory looking for records superseded by a later line in %s "
                        "(a query run again by --resume would be counted twice)",
                        path);
    }
    struct seen *v = sl.v;
    size_t n = sl.n;
    if (n > 1)
        qsort(v, n, sizeof *v, cmp_seen);
    struct confirm c = {0};
    bool oom = false;
    for (size_t i = 0; i < n; i++)
        if (shared(v, n, i) && !v[i].checked)
            c.n++;
    if (c.n) {
        c.lines = malloc(c.n * sizeof *c.lines);
        c.bad = malloc(c.n * sizeof *c.bad);
        size_t k = 0;
        for (size_t i = 0; c.lines && i < n; i++)
            if (shared(v, n, i) && !v[i].checked)
                c.lines[k++] = v[i].line;
        if (c.lines && c.bad) {
            qsort(c.lines, c.n, sizeof *c.lines, cmp_long);
            oom = each_line(path, max_line, confirm_line, &c, NULL) == IPW_E_NOMEM;
            qsort(c.bad, c.nbad, sizeof *c.bad, cmp_long);
        } else {
            oom = true;
        }
    }
    /* drop the lines that are not records, then every line but the last of an index */
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (!(c.nbad && bsearch(&v[i].line, c.bad, c.nbad, sizeof(long), cmp_long)))
            v[m++] = v[i];
    size_t k = 0;
    for (size_t i = 0; !oom && i < m; i++)
        if (same_index_next(v, m, i))
            k++;
    if (k && !(r->superseded = malloc(k * sizeof *r->superseded)))
        oom = true;
    if (k && r->superseded) {
        for (size_t i = 0; i < m; i++)
            if (same_index_next(v, m, i))
                r->superseded[r->nsuperseded++] = v[i].line;
        qsort(r->superseded, r->nsuperseded, sizeof *r->superseded, cmp_long);
        ipw_debug("%s: %zu records superseded by a later record of the same query", path,
                  r->nsuperseded);
    }
    free(c.lines);
    free(c.bad);
    free(v);
    if (oom)
        return ipw_fail(eb, IPW_E_NOMEM,
                        "out of memory looking for records superseded by a later line in %s "
                        "(a query run again by --resume would be counted twice)",
                        path);
    return IPW_OK;
}

static bool is_superseded(const struct ipw_run_reader *r, long line)
{
    return r->nsuperseded &&
           bsearch(&line, r->superseded, r->nsuperseded, sizeof line, cmp_long) != NULL;
}

/* ---- single_pass: the superseded records found on the way ------------------------------- */

/* Indices below 2^26 are noted in at most 8 MiB of bits (a run numbers its records from 0, so
 * a million-record run needs 125 KB); a larger one ends the single pass like a repeated one. */
#define SEEN_MAX_BYTES ((size_t)8 << 20)

/* Notes a line's record_index (as line_index reads it: the first pass's rule); false when it
 * was seen before, or cannot be noted. */
static bool note_index(struct ipw_run_reader *r, long index)
{
    if (index < 0)
        return true;
    if ((unsigned long)index / 8 >= SEEN_MAX_BYTES)
        return false;
    size_t byte = (size_t)index / 8, had = r->seen_bytes;
    if (byte >= had) {
        if (ipw_grow(&r->seen_bits, &r->seen_bytes, byte + 1, 1, SEEN_MAX_BYTES) != IPW_OK)
            return false; /* the two-pass way reports the want of memory */
        memset(r->seen_bits + had, 0, r->seen_bytes - had);
    }
    unsigned char bit = (unsigned char)(1u << (index % 8));
    if (r->seen_bits[byte] & bit)
        return false;
    r->seen_bits[byte] |= bit;
    return true;
}

static void end_single(struct ipw_run_reader *r)
{
    r->single = false;
    ((struct jsonl_src *)r->src)->digest = NULL;
    ipw_content_digest_free(r->pass_digest);
    r->pass_digest = NULL;
    free(r->seen_bits);
    r->seen_bits = NULL;
    r->seen_bytes = 0;
}

/* The single pass reached the end of the log with no index twice: nothing is superseded, and
 * the digest is whole. */
static void single_done(struct ipw_run_reader *r)
{
    if (r->pass_digest) {
        r->digest_bytes = ipw_content_digest_bytes(r->pass_digest);
        ipw_content_digest_hex(r->pass_digest, r->digest);
    }
    end_single(r);
}

/* The first pass ends before the log does; find the superseded records the two-pass way. */
static ipw_err single_abandon(struct ipw_run_reader *r, ipw_errbuf *eb)
{
    end_single(r);
    char path[4200];
    snprintf(path, sizeof path, "%s/records.jsonl", r->dir);
    return find_superseded(r, path, r->max_line, eb);
}

/* A record_index came again: some record given already may be superseded by a later line,
 * which a single pass cannot take back. Find them all, rewind, and end the pass here. */
static ipw_err start_over(struct ipw_run_reader *r, bool *eof, ipw_errbuf *eb)
{
    ipw_err e = single_abandon(r, eb);
    if (e == IPW_OK)
        e = r->ops->rewind(r->src, eb);
    r->skipped = 0; /* model_checked stays: the check is made on the first record, once */
    r->first_skip[0] = '\0';
    r->restarted = e == IPW_OK;
    *eof = true;
    return e;
}

ipw_err ipw_run_reader_open(const char *run_dir, const struct ipw_run_reader_options *opts,
                            struct ipw_run_reader **out, ipw_errbuf *eb)
{
    *out = NULL;
    if (!run_dir || !*run_dir)
        return ipw_fail(eb, IPW_E_INVALID, "no run directory given");
    if (!ipw_path_exists(run_dir))
        return ipw_fail(eb, IPW_E_NOTFOUND,
                        "run directory %s does not exist; give the directory `ipw profile` wrote "
                        "(runs/profile_<hardware>_<model>_<dataset>)",
                        run_dir);
    if (!ipw_is_dir(run_dir))
        return ipw_fail(eb, IPW_E_INVALID,
                        "%s is not a directory; give the run directory, not a file in it", run_dir);
    struct ipw_run_reader *r = calloc(1, sizeof *r);
    if (!r)
        return ipw_fail(eb, IPW_E_NOMEM, "out of memory opening %s", run_dir);
    snprintf(r->dir, sizeof r->dir, "%s", run_dir);
    if (opts)
        r->opts = *opts;
    size_t max_line = r->opts.max_line_bytes ? r->opts.max_line_bytes : DEFAULT_MAX_LINE;
    char path[4200];
    snprintf(path, sizeof path, "%s/records.jsonl", run_dir);
    ipw_err e;
    if (ipw_path_exists(path)) {
        e = jsonl_open(path, max_line, &r->src, eb);
        r->ops = &jsonl_ops;
        r->max_line = max_line;
        if (e == IPW_OK && r->opts.single_pass) {
            r->single = true; /* superseded records are looked for on the way */
            r->pass_digest = ipw_content_digest_new(); /* NULL: no digest on the way */
            ((struct jsonl_src *)r->src)->digest = r->pass_digest;
        } else if (e == IPW_OK && (e = find_superseded(r, path, max_line, eb)) != IPW_OK) {
            r->ops->close(r->src);
        }
    } else {
        /* no durable log: a run the original tool wrote keeps only the Arrow dataset */
        char state[4200];
        snprintf(state, sizeof state, "%s/state.json", run_dir);
        if (!ipw_path_exists(state) && has_arrow_file(run_dir)) {
            free(r);
            return ipw_fail(eb, IPW_E_NOTFOUND,
                            "%s has an Arrow file but neither records.jsonl nor state.json, so "
                            "it is not a complete HuggingFace dataset; copy the whole directory "
                            "`ipw profile` or datasets.save_to_disk wrote",
                            run_dir);
        }
        if (!ipw_path_exists(state)) {
            free(r);
            return ipw_fail(eb, IPW_E_NOTFOUND,
                            "%s is not a run directory: it has neither records.jsonl nor a "
                            "HuggingFace Arrow dataset (state.json); give the directory `ipw "
                            "profile` wrote",
                            run_dir);
        }
        e = ipw_run_source_arrow_open(run_dir, &r->src, eb);
        r->ops = &ipw_run_source_arrow;
    }
    if (e != IPW_OK) {
        free(r);
        return e;
    }
    load_info(r);
    snprintf(r->model, sizeof r->model, "%s",
             r->opts.model && *r->opts.model ? r->opts.model : r->info.model);
    *out = r;
    return IPW_OK;
}

/* The model named by a record when nobody said which: the only key of model_answers (or of
 * model_metrics), else the first. */
static void guess_model(struct ipw_run_reader *r, const json_t *rec)
{
    const json_t *o = json_object_get(rec, "model_answers");
    if (!json_is_object(o) || json_object_size(o) == 0)
        o = json_object_get(rec, "model_metrics");
    if (!json_is_object(o) || json_object_size(o) == 0)
        return;
    const char *k = json_object_iter_key(json_object_iter((json_t *)o));
    if (json_object_size(o) > 1)
        ipw_warn("%s: records hold answers of %zu models and summary.json names none; using "
                 "'%s' (choose with --model)",
                 r->dir, json_object_size(o), k);
    snprintf(r->model, sizeof r->model, "%s", k);
}

/* The message for a line the scanner refused. */
static void malformed(const struct ipw_run_reader *r, long line, const char *text, size_t len,
                      bool terminated, const struct ipw_scan_result *res, ipw_errbuf *eb)
{
    if (res->not_object) {
        /* text is a view into the read buffer, not NUL-terminated */
        ipw_fail(eb, IPW_E_INVALID, "%s/records.jsonl:%ld: a record must be a JSON object, got "
                 "'%.*s%s' - fix or delete that line (ipw analyze --skip-malformed leaves such "
                 "lines out)", r->dir, line, (int)(len > 40 ? 40 : len), text,
                 len > 40 ? "..." : "");
        return;
    }
    ipw_fail(eb, IPW_E_INVALID, "%s/records.jsonl:%ld: malformed record (column %zu: %s)%s",
             r->dir, line, res->error_offset + 1, res->error,
             terminated ? " - fix or delete that line (ipw analyze --skip-malformed leaves such "
                          "lines out)"
                        : " - the last line is cut short, as a crash mid-write leaves it");
}

ipw_err ipw_run_reader_next(struct ipw_run_reader *r, struct ipw_run_query *q, bool *eof,
                            ipw_errbuf *eb)
{
    json_decref(r->current);
    r->current = NULL;
    r->restarted = false;
    for (;;) {
        const char *text = NULL;
        size_t len = 0;
        json_t *rec = NULL;
        long line = 0;
        bool terminated = true;
        ipw_err e = r->ops->next(r->src, &text, &len, &rec, &line, &terminated, eof, eb);
        if (e == IPW_OK && *eof && r->single)
            single_done(r);
        if (e != IPW_OK || *eof)
            return e;
        /* single_pass: the index the two-pass reader's first pass would note for this line */
        long quick = r->single ? quick_index(text, len) : -2;
        if (line > 0 && is_superseded(r, line)) {
            json_decref(rec);
            continue;
        }
        if (rec) {
            if (!r->model[0])
                guess_model(r, rec);
            r->current = rec;
            ipw_run_query_from_json(rec, r->model, q);
            q->line = line;
            return IPW_OK;
        }
        struct ipw_scan_result res;
        bool ok = ipw_record_scan(text, len, r->model, &r->arena, q, &res);
        if (ok && !r->model[0] && res.first_model) {
            /* nobody named the model: take the records' (the first, when there are several) */
            if (res.many_models)
                ipw_warn("%s: records hold answers of several models and summary.json names "
                         "none; using '%s' (choose with --model)",
                         r->dir, res.first_model);
            snprintf(r->model, sizeof r->model, "%s", res.first_model);
            ok = ipw_record_scan(text, len, r->model, &r->arena, q, &res);
        }
        if (ok && !r->model_checked && res.first_model) {
            r->model_checked = true;
            if (!res.model_found && res.many_models)
                return ipw_fail(eb, IPW_E_NOTFOUND,
                                "%s/records.jsonl:%ld has no answers of model '%s' (it holds "
                                "'%s' and others); choose one with --model",
                                r->dir, line, r->model, res.first_model);
            if (!res.model_found) {
                ipw_warn("%s: the records have no answers of model '%s'; using the only model "
                         "there, '%s'",
                         r->dir, r->model, res.first_model);
                snprintf(r->model, sizeof r->model, "%s", res.first_model);
            }
        }
        if (ok && r->single && !note_index(r, quick != -2 ? quick : q->record_index))
            return start_over(r, eof, eb);
        if (ok) {
            q->line = line;
            return IPW_OK;
        }
        ipw_errbuf local = {0};
        malformed(r, line, text, len, terminated, &res, &local);
        if (r->opts.skip_malformed || !terminated) {
            if (r->skipped++ == 0)
                snprintf(r->first_skip, sizeof r->first_skip, "%s", local.msg);
            /* single_pass notes no index: jansson refuses what the scanner refuses, so the
             * two-pass reader's confirmation drops such a line whatever index it seems to
             * have, and it neither supersedes nor is superseded */
            if (line > r->warned_line) {
                ipw_warn("skipping %s", local.msg);
                r->warned_line = line;
            }
            continue;
        }
        if (eb)
            *eb = local;
        return IPW_E_INVALID;
    }
}

ipw_err ipw_run_reader_rewind(struct ipw_run_reader *r, ipw_errbuf *eb)
{
    json_decref(r->current);
    r->current = NULL;
    r->skipped = 0;
    r->first_skip[0] = '\0';
    r->model_checked = true; /* warned (or not) on the first pass */
    if (r->single) {
        /* the single pass was left before the end: nothing is known about superseded records */
        ipw_err e = single_abandon(r, eb);
        if (e != IPW_OK)
            return e;
    }
    return r->ops->rewind(r->src, eb);
}

bool ipw_run_reader_restarted(const struct ipw_run_reader *r) { return r->restarted; }

bool ipw_run_reader_digest(const struct ipw_run_reader *r, uint64_t *bytes,
                           char hex[IPW_DIGEST_HEX])
{
    if (!r->digest[0])
        return false;
    *bytes = r->digest_bytes;
    memcpy(hex, r->digest, IPW_DIGEST_HEX);
    return true;
}

const struct ipw_run_info *ipw_run_reader_info(const struct ipw_run_reader *r)
{
    return &r->info;
}
const json_t *ipw_run_reader_summary(const struct ipw_run_reader *r) { return r->summary; }
const char *ipw_run_reader_model(const struct ipw_run_reader *r) { return r->model; }
const char *ipw_run_reader_dir(const struct ipw_run_reader *r) { return r->dir; }

size_t ipw_run_reader_skipped(const struct ipw_run_reader *r, const char **first_message)
{
    if (first_message)
        *first_message = r->first_skip;
    return r->skipped;
}

void ipw_run_reader_close(struct ipw_run_reader *r)
{
    if (!r)
        return;
    json_decref(r->current);
    json_decref(r->summary);
    free(r->superseded);
    free(r->seen_bits);
    ipw_content_digest_free(r->pass_digest);
    ipw_scan_arena_free(&r->arena);
    if (r->ops)
        r->ops->close(r->src);
    free(r);
}
