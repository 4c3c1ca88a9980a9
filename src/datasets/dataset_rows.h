/* Row readers under the datasets: JSON Lines, a JSON array and CSV (RFC 4180), each turning a
 * file (or a buffer) into one JSON object per row, streamed and bounded (docs/datasets.md). */
#ifndef IPW_DATASET_ROWS_H
#define IPW_DATASET_ROWS_H

#include <jansson.h>
#include <stddef.h>

#include "ipw/err.h"

enum ipw_rows_format {
    IPW_ROWS_AUTO = 0, /* by extension, then by content */
    IPW_ROWS_JSONL,    /* one object per line; blank lines and CRLF allowed */
    IPW_ROWS_JSON,     /* one array of objects */
    IPW_ROWS_CSV,      /* header row, then one record per row; every cell a string */
    IPW_ROWS_HF_DISK,  /* a HuggingFace save_to_disk folder (Arrow stream files) */
};

#define IPW_ROWS_DEFAULT_MAX_ROW_BYTES ((size_t)16 << 20)
#define IPW_ROWS_MAX_ROWS ((size_t)20000000)

struct ipw_rows_opts {
    enum ipw_rows_format format;
    size_t max_row_bytes; /* one line / element / CSV record; 0: the default (16 MiB) */
    const char *label;    /* names the input in messages ("mmlu.jsonl:17: ..."); NULL: path */
};

/* Receives rows in source order. index: 0-based position among the data rows (malformed rows
 * keep their place); line: 1-based line where the row starts. */
struct ipw_rows_sink {
    void *ud;
    /* row is borrowed: take a reference to keep it. Returning IPW_E_CANCELLED stops reading
     * early (the reader then returns IPW_E_CANCELLED); any other error stops with that error. */
    ipw_err (*row)(void *ud, json_t *row, size_t index, size_t line, ipw_errbuf *eb);
    /* A malformed row, msg = "label:line: what is wrong". IPW_OK skips it and reading goes on;
     * any other code stops with that error (strict mode). */
    ipw_err (*bad)(void *ud, size_t index, size_t line, const char *msg, ipw_errbuf *eb);
};

/* Reads the file at path, or the HuggingFace save_to_disk folder. A missing file is
 * IPW_E_NOTFOUND naming the path. */
ipw_err ipw_rows_read_file(const char *path, const struct ipw_rows_opts *opt,
                           const struct ipw_rows_sink *sink, ipw_errbuf *eb);
/* Same over a buffer (embedded data, fuzzers); label names it in messages. */
ipw_err ipw_rows_read_mem(const void *data, size_t len, const struct ipw_rows_opts *opt,
                          const struct ipw_rows_sink *sink, ipw_errbuf *eb);

/* Format from the file name (.jsonl/.ndjson, .json, .csv; .json holding JSON Lines, as
 * HuggingFace's to_json writes it, is told apart by its content) and the first bytes. */
enum ipw_rows_format ipw_rows_detect(const char *path, const void *head, size_t n);
const char *ipw_rows_format_name(enum ipw_rows_format f);
/* "jsonl", "json", "csv", "auto" → format; -1 when unknown. */
int ipw_rows_format_parse(const char *name);

/* A list written into one text cell: JSON (["0","2"]) or Python/numpy repr (['0', '2'],
 * ['0' '2']). *out is a new JSON array of strings (numbers keep their text). IPW_E_INVALID
 * with a short reason when the text is not such a list. */
ipw_err ipw_rows_parse_list(const char *text, size_t len, json_t **out, ipw_errbuf *eb);

#endif
