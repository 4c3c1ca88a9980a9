/* Fuzzes the JSON Lines and JSON-array row readers (and format sniffing) on arbitrary bytes,
 * with a small row limit so the over-limit paths run too. Every row handed out must be an
 * object; every malformed row must come with a "label:line: " message. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "datasets/dataset_rows.h"

static ipw_err on_row(void *ud, json_t *row, size_t index, size_t line, ipw_errbuf *eb)
{
    (void)eb;
    size_t *seen = ud;
    if (!json_is_object(row) || line == 0 || index < *seen)
        abort();
    *seen = index + 1;
    return IPW_OK;
}

static ipw_err on_bad(void *ud, size_t index, size_t line, const char *msg, ipw_errbuf *eb)
{
    (void)eb;
    size_t *seen = ud;
    if (strncmp(msg, "f:", 2) != 0 || line == 0 || index < *seen)
        abort();
    *seen = index + 1;
    return IPW_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const enum ipw_rows_format fmts[] = {IPW_ROWS_JSONL, IPW_ROWS_JSON, IPW_ROWS_AUTO};
    for (size_t i = 0; i < sizeof fmts / sizeof fmts[0]; i++) {
        size_t seen = 0;
        struct ipw_rows_sink sink = {&seen, on_row, on_bad};
        struct ipw_rows_opts o = {fmts[i], 256, "f"};
        ipw_errbuf eb = {0};
        ipw_err e = ipw_rows_read_mem(data, size, &o, &sink, &eb);
        if (e != IPW_OK && eb.msg[0] == '\0')
            abort(); /* every failure explains itself */
    }
    return 0;
}
