/* records.jsonl, the durable per-query log of a profiling run (docs/formats/records.md): one
 * JSON object per line, appended with fsync; read back tolerating a line torn by a crash. */
#ifndef IPW_RECORDS_H
#define IPW_RECORDS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ipw/err.h"

#define IPW_RECORDS_FILE "records.jsonl"
/* Every record names its layout; the analysis refuses a major version it does not know (a
 * renamed field would otherwise be read as missing and silently substituted). */
#define IPW_RECORD_SCHEMA "ipw.record/1"
#define IPW_RECORD_SCHEMA_MAJOR 1
/* Longest line accepted, written or read. */
#define IPW_RECORDS_MAX_LINE ((size_t)16 << 20)

/* What a scan found besides the records themselves. */
struct ipw_records_info {
    size_t records;           /* complete records delivered (duplicates included) */
    size_t lines;             /* lines seen, blank ones included */
    size_t duplicates;        /* records whose record_index appeared on an earlier line */
    int64_t first_duplicate;  /* record_index of the first duplicate, -1 when none */
    size_t first_duplicate_line;
    bool torn_tail;           /* the file ended in a partial line that is not a record */
    uint64_t torn_offset;     /* where that partial line starts (the clean length) */
    uint64_t torn_bytes;
    bool unterminated_tail;   /* the last line is a whole record lacking its newline */
    bool repaired;            /* ipw_records_repair/open changed the file */
    uint64_t end_offset;      /* just past the last whole record read (a torn tail excluded) */
    int64_t max_index;        /* largest record_index, -1 when none */
};

/* Called for each complete record in file order; rec is borrowed (valid during the call).
 * offset/len locate the line (without its newline). Return non-OK to stop the scan. */
typedef ipw_err (*ipw_records_fn)(void *ctx, json_t *rec, int64_t record_index, size_t line,
                                  uint64_t offset, size_t len, ipw_errbuf *eb);

/* Reads every record without changing the file. A damaged line in the middle (not JSON, not an
 * object, no integer record_index >= 0) or a line over the limit is an error naming its line.
 * A torn last line is skipped and reported in info (which may be NULL). */
ipw_err ipw_records_scan(const char *path, ipw_records_fn fn, void *ctx,
                         struct ipw_records_info *info, ipw_errbuf *eb);

/* The same from byte offset on (the start of a line): the records appended after a point
 * remembered earlier. Line numbers in info and messages count from there. */
ipw_err ipw_records_scan_from(const char *path, uint64_t offset, ipw_records_fn fn, void *ctx,
                              struct ipw_records_info *info, ipw_errbuf *eb);

/* All records as a JSON array sorted by record_index; of duplicates the later line wins. */
ipw_err ipw_records_load(const char *path, json_t **records, struct ipw_records_info *info,
                         ipw_errbuf *eb);

/* Makes the file clean for appending: cuts a torn last line away, or completes a whole last
 * record with its missing newline; fsyncs. info->repaired says whether it changed anything. */
ipw_err ipw_records_repair(const char *path, struct ipw_records_info *info, ipw_errbuf *eb);

/* The set of record_index values a resumed run need not redo. */
struct ipw_records_done {
    int64_t *index; /* sorted, unique */
    size_t n;
};
/* With retry_failed, an index whose latest record has status "failed" is left out, so that
 * --resume runs it again (the new record then supersedes the failed one). */
ipw_err ipw_records_finished(const char *path, bool retry_failed, struct ipw_records_done *out,
                             struct ipw_records_info *info, ipw_errbuf *eb);
bool ipw_records_done_has(const struct ipw_records_done *d, int64_t record_index);
void ipw_records_done_free(struct ipw_records_done *d);

/* The log opened for appending. */
struct ipw_records_log;

/* resume false: creates path, failing with IPW_E_EXISTS if it exists. resume true: repairs the
 * file as ipw_records_repair does (or creates it when missing), then appends. info may be NULL. */
ipw_err ipw_records_open(const char *path, bool resume, struct ipw_records_log **out,
                         struct ipw_records_info *info, ipw_errbuf *eb);
/* Appends rec (an object with an integer record_index >= 0) as one line and fsyncs it. A
 * record_index already in the log is refused (IPW_E_EXISTS) unless the earlier record has status
 * "failed" (a retry). */
ipw_err ipw_records_append(struct ipw_records_log *log, const json_t *rec, ipw_errbuf *eb);
size_t ipw_records_count(const struct ipw_records_log *log);
void ipw_records_close(struct ipw_records_log *log);

#endif
