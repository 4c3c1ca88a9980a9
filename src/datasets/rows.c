/* Row readers: picks the format of a dataset file, streams it through a bounded buffer and
 * hands each row to the caller; shared plumbing of the JSONL, JSON-array and CSV parsers. */
#include "datasets/rows_impl.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

/* One entry per input kind; a directory is read by the entry with read_dir (HuggingFace
 * save_to_disk folders, through the Arrow reader). */
struct rows_reader {
    enum ipw_rows_format fmt;
    const char *name;
    ipw_err (*read)(struct rows_ctx *c, ipw_errbuf *eb);
    ipw_err (*read_dir)(const char *path, const struct ipw_rows_opts *opt,
                        const struct ipw_rows_sink *sink, ipw_errbuf *eb);
};

static const struct rows_reader readers[] = {
    {IPW_ROWS_JSONL, "jsonl", rows_read_jsonl, NULL},
    {IPW_ROWS_JSON, "json", rows_read_json, NULL},
    {IPW_ROWS_CSV, "csv", rows_read_csv, NULL},
    {IPW_ROWS_HF_DISK, "hf-disk", NULL, rows_read_hf_disk},
};

static const struct rows_reader *reader_for(enum ipw_rows_format f)
{
    for (size_t i = 0; i < sizeof readers / sizeof readers[0]; i++)
        if (readers[i].fmt == f)
            return &readers[i];
    return NULL;
}

const char *ipw_rows_format_name(enum ipw_rows_format f)
{
    const struct rows_reader *r = reader_for(f);
    return r ? r->name : "auto";
}

int ipw_rows_format_parse(const char *name)
{
    if (!name || !strcmp(name, "auto"))
        return IPW_ROWS_AUTO;
    if (!strcmp(name, "ndjson"))
        return IPW_ROWS_JSONL;
    for (size_t i = 0; i < sizeof readers / sizeof readers[0]; i++)
        if (!strcmp(readers[i].name, name))
            return (int)readers[i].fmt;
    return -1;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcasecmp(s + n - m, suffix) == 0;
}

enum ipw_rows_format ipw_rows_detect(const char *path, const void *head, size_t n)
{
    const unsigned char *p = head, *end = p + n;
    if (n >= 3 && p[0] == 0xEF && p[1] == 0xBB && p[2] == 0xBF)
        p += 3;
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'))
        p++;
    int first = p < end ? *p : -1;
    if (path) {
        if (ends_with(path, ".jsonl") || ends_with(path, ".ndjson"))
            return IPW_ROWS_JSONL;
        if (ends_with(path, ".csv"))
            return IPW_ROWS_CSV;
        if (ends_with(path, ".json")) /* HF's to_json writes JSON Lines by default */
            return first == '[' ? IPW_ROWS_JSON : IPW_ROWS_JSONL;
    }
    if (first == '[')
        return IPW_ROWS_JSON;
    if (first == '{' || first == -1)
        return IPW_ROWS_JSONL;
    return IPW_ROWS_CSV;
}

/* --- byte source ------------------------------------------------------------------------- */

int rows_src_fill(struct rows_src *s)
{
    if (s->p < s->end)
        return 1;
    if (s->eof || s->fd < 0) {
        s->eof = true;
        return 0;
    }
    for (;;) {
        ssize_t r = read(s->fd, s->buf, ROWS_CHUNK);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            s->err = errno;
            s->eof = true;
            return -1;
        }
        if (r == 0) {
            s->eof = true;
            return 0;
        }
        s->p = s->buf;
        s->end = s->buf + r;
        return 1;
    }
}

ipw_err rows_src_error(struct rows_ctx *c, ipw_errbuf *eb)
{
    return ipw_fail(eb, IPW_E_IO, "cannot read %s (near line %zu): %s", c->src.path, c->line,
                    strerror(c->src.err));
}

void rows_skip_bom(struct rows_ctx *c)
{
    if (rows_src_fill(&c->src) <= 0)
        return;
    /* a file's first read returns at least 3 bytes unless the file is shorter */
    if (c->src.end - c->src.p >= 3 && c->src.p[0] == 0xEF && c->src.p[1] == 0xBB &&
        c->src.p[2] == 0xBF)
        c->src.p += 3;
}

/* --- reporting --------------------------------------------------------------------------- */

void rows_excerpt(const char *s, size_t n, char *out, size_t size)
{
    size_t o = 0;
    for (size_t i = 0; i < n && o + 4 < size; i++) {
        unsigned char ch = (unsigned char)s[i];
        out[o++] = ch >= 0x20 && ch != 0x7f ? (char)ch : '?';
    }
    if (o + 4 >= size && n > o) {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o] = '\0';
}

static ipw_err too_many(struct rows_ctx *c, size_t line, ipw_errbuf *eb)
{
    return rows_fatal(c, IPW_E_RANGE, line, eb,
                      "more than %zu rows; split the file or sample it before loading",
                      (size_t)IPW_ROWS_MAX_ROWS);
}

ipw_err rows_emit(struct rows_ctx *c, json_t *row, size_t line, ipw_errbuf *eb)
{
    if (c->index >= IPW_ROWS_MAX_ROWS) {
        json_decref(row);
        return too_many(c, line, eb);
    }
    size_t index = c->index++;
    ipw_err e = c->sink->row ? c->sink->row(c->sink->ud, row, index, line, eb) : IPW_OK;
    json_decref(row);
    return e;
}

ipw_err rows_bad(struct rows_ctx *c, size_t line, ipw_errbuf *eb, const char *fmt, ...)
{
    char what[384], msg[IPW_ERRMSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    snprintf(msg, sizeof msg, "%s:%zu: %s", c->label, line, what);
    if (c->index >= IPW_ROWS_MAX_ROWS)
        return too_many(c, line, eb);
    size_t index = c->index++;
    if (!c->sink->bad)
        return ipw_fail(eb, IPW_E_INVALID, "%s", msg);
    return c->sink->bad(c->sink->ud, index, line, msg, eb);
}

ipw_err rows_fatal(struct rows_ctx *c, ipw_err code, size_t line, ipw_errbuf *eb,
                   const char *fmt, ...)
{
    char what[384];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return ipw_fail(eb, code, "%s:%zu: %s", c->label, line, what);
}

/* --- entry points ------------------------------------------------------------------------ */

static ipw_err run(struct rows_ctx *c, const char *path_for_detect, enum ipw_rows_format fmt,
                   ipw_errbuf *eb)
{
    if (fmt == IPW_ROWS_AUTO) {
        if (rows_src_fill(&c->src) < 0)
            return rows_src_error(c, eb);
        fmt = ipw_rows_detect(path_for_detect, c->src.p, (size_t)(c->src.end - c->src.p));
    }
    const struct rows_reader *r = reader_for(fmt);
    if (!r || !r->read)
        return ipw_fail(eb, IPW_E_UNSUPPORTED, "%s: the %s format cannot be read from a file",
                        c->label, ipw_rows_format_name(fmt));
    c->line = 1;
    c->index = 0;
    ipw_err e = r->read(c, eb);
    ipw_buf_free(&c->rb);
    return e;
}

static size_t max_row_of(const struct ipw_rows_opts *opt)
{
    return opt && opt->max_row_bytes ? opt->max_row_bytes : IPW_ROWS_DEFAULT_MAX_ROW_BYTES;
}

ipw_err ipw_rows_read_mem(const void *data, size_t len, const struct ipw_rows_opts *opt,
                          const struct ipw_rows_sink *sink, ipw_errbuf *eb)
{
    struct rows_ctx c = {0};
    c.src.fd = -1;
    c.src.path = opt && opt->label ? opt->label : "(buffer)";
    c.src.p = data;
    c.src.end = c.src.p + (data ? len : 0);
    c.label = c.src.path;
    c.max_row = max_row_of(opt);
    ipw_buf_init(&c.rb, c.max_row);
    c.sink = sink;
    return run(&c, opt ? opt->label : NULL, opt ? opt->format : IPW_ROWS_AUTO, eb);
}

static bool looks_like_hf_folder(const char *path)
{
    char p[4096];
    snprintf(p, sizeof p, "%s/dataset_info.json", path);
    if (access(p, F_OK) == 0)
        return true;
    snprintf(p, sizeof p, "%s/dataset_dict.json", path);
    return access(p, F_OK) == 0;
}

ipw_err ipw_rows_read_file(const char *path, const struct ipw_rows_opts *opt,
                           const struct ipw_rows_sink *sink, ipw_errbuf *eb)
{
    enum ipw_rows_format fmt = opt ? opt->format : IPW_ROWS_AUTO;
    struct stat st;
    if (stat(path, &st) != 0) {
        int e = errno;
        return ipw_fail(eb, e == ENOENT || e == ENOTDIR ? IPW_E_NOTFOUND
                            : e == EACCES              ? IPW_E_PERM
                                                       : IPW_E_IO,
                        "cannot open %s: %s", path, strerror(e));
    }
    if (S_ISDIR(st.st_mode)) {
        const struct rows_reader *r = reader_for(IPW_ROWS_HF_DISK);
        if (fmt == IPW_ROWS_AUTO || fmt == IPW_ROWS_HF_DISK)
            return r->read_dir(path, opt, sink, eb);
        return ipw_fail(eb, IPW_E_INVALID, "%s is a directory%s, not a %s file", path,
                        looks_like_hf_folder(path) ? " (a HuggingFace dataset folder)" : "",
                        ipw_rows_format_name(fmt));
    }
    if (fmt == IPW_ROWS_HF_DISK)
        return ipw_fail(eb, IPW_E_INVALID, "%s is a file, not a HuggingFace dataset folder",
                        path);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        return ipw_fail(eb, e == ENOENT ? IPW_E_NOTFOUND : e == EACCES ? IPW_E_PERM : IPW_E_IO,
                        "cannot open %s: %s", path, strerror(e));
    }
    struct rows_ctx c = {0};
    c.src.fd = fd;
    c.src.path = path;
    c.src.buf = malloc(ROWS_CHUNK);
    if (!c.src.buf) {
        close(fd);
        return ipw_fail(eb, IPW_E_NOMEM, "out of memory reading %s", path);
    }
    c.src.p = c.src.end = c.src.buf;
    c.label = opt && opt->label ? opt->label : path;
    c.max_row = max_row_of(opt);
    ipw_buf_init(&c.rb, c.max_row);
    c.sink = sink;
    ipw_err e = run(&c, path, fmt, eb);
    free(c.src.buf);
    close(fd);
    return e;
}
