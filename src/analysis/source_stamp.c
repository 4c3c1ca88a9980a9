/* What a run's derived files were computed from: accuracy.json and regression.json carry a
 * "source" stamp (the records file, its size and XXH3-128 digest, the number of records), so that
 * `ipw plot` and `ipw report` can tell an analysis written before the run grew and recompute
 * it instead of drawing a 3-point fit over 8 points. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ipw/analysis.h"
#include "ipw/fsutil.h"
#include "ipw/jsonutil.h"
#include "analysis/content_digest.h"

/* records.jsonl when the run has one, else the Arrow dataset (what the run reader reads) */
static const char *const sources[] = {"records.jsonl", "data-00000-of-00001.arrow"};

static ipw_err digest_file(const char *path, uint64_t *bytes, char hex[IPW_DIGEST_HEX],
                          ipw_errbuf *eb)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return ipw_fail(eb, IPW_E_IO, "cannot read %s: %s", path, strerror(errno));
    struct ipw_content_digest *d = ipw_content_digest_new();
    if (!d) {
        close(fd);
        return ipw_fail(eb, IPW_E_NOMEM, "out of memory digesting %s", path);
    }
    unsigned char buf[1 << 16];
    for (;;) {
        ssize_t r = read(fd, buf, sizeof buf);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int e = errno;
            close(fd);
            ipw_content_digest_free(d);
            return ipw_fail(eb, IPW_E_IO, "cannot read %s: %s", path, strerror(e));
        }
        if (r == 0)
            break;
        ipw_content_digest_update(d, buf, (size_t)r);
    }
    close(fd);
    ipw_content_digest_hex(d, hex);
    *bytes = ipw_content_digest_bytes(d);
    ipw_content_digest_free(d);
    return IPW_OK;
}

json_t *ipw_analysis_stamp(const char *file, uint64_t bytes, const char *digest_hex)
{
    json_t *o = json_object();
    json_object_set_new(o, "file", json_string(file));
    json_object_set_new(o, "bytes", json_integer((json_int_t)bytes));
    json_object_set_new(o, "xxh3_128", json_string(digest_hex));
    return o;
}

ipw_err ipw_analysis_source(const char *run_dir, json_t **out, ipw_errbuf *eb)
{
    *out = NULL;
    for (size_t i = 0; i < sizeof sources / sizeof sources[0]; i++) {
        char path[4200];
        snprintf(path, sizeof path, "%s/%s", run_dir, sources[i]);
        if (!ipw_path_exists(path))
            continue;
        uint64_t bytes;
        char hex[IPW_DIGEST_HEX];
        ipw_err e = digest_file(path, &bytes, hex, eb);
        if (e != IPW_OK)
            return e;
        *out = ipw_analysis_stamp(sources[i], bytes, hex);
        return IPW_OK;
    }
    return ipw_fail(eb, IPW_E_NOTFOUND, "%s has neither records.jsonl nor an Arrow dataset",
                    run_dir);
}

bool ipw_analysis_current(const char *run_dir, const json_t *doc, char *why, size_t why_size)
{
    const json_t *was = json_object_get(doc, "source");
    const char *file = ipw_json_get_string(was, "file");
    const char *digest = ipw_json_get_string(was, "xxh3_128");
    double bytes = -1;
    ipw_json_get_number(was, "bytes", &bytes);
    if (!file || !digest || bytes < 0) {
        snprintf(why, why_size, "it does not say what it was computed from (an older ipw wrote it)");
        return false;
    }
    json_t *now = NULL;
    if (ipw_analysis_source(run_dir, &now, NULL) != IPW_OK) {
        snprintf(why, why_size, "the run's records cannot be read");
        return false;
    }
    double now_bytes = -1;
    ipw_json_get_number(now, "bytes", &now_bytes);
    bool same = strcmp(ipw_json_get_string(now, "file"), file) == 0 && now_bytes == bytes &&
                strcmp(ipw_json_get_string(now, "xxh3_128"), digest) == 0;
    if (!same)
        snprintf(why, why_size, "%s changed since (%.0f bytes then, %.0f now)",
                 ipw_json_get_string(now, "file"), bytes, now_bytes);
    json_decref(now);
    return same;
}
