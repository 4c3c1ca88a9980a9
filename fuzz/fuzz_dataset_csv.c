/* Fuzzes the CSV row reader (quotes, doubled quotes, CR/LF/CRLF, widths, limits) and the
 * list-cell parser on every cell it produces, as the MMLU-Pro/SuperGPQA presets use it. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "datasets/dataset_rows.h"

static ipw_err on_row(void *ud, json_t *row, size_t index, size_t line, ipw_errbuf *eb)
{
    (void)ud;
    (void)index;
    (void)eb;
    if (!json_is_object(row) || line == 0)
        abort();
    const char *key;
    json_t *v;
    json_object_foreach(row, key, v)
    {
        if (!json_is_string(v))
            abort(); /* every CSV cell is a string */
        json_t *list = NULL;
        ipw_errbuf le = {0};
        if (ipw_rows_parse_list(json_string_value(v), json_string_length(v), &list, &le) ==
            IPW_OK) {
            size_t i;
            json_t *item;
            json_array_foreach(list, i, item) if (!json_is_string(item)) abort();
            json_decref(list);
        } else if (list || le.msg[0] == '\0') {
            abort();
        }
    }
    return IPW_OK;
}

static ipw_err on_bad(void *ud, size_t index, size_t line, const char *msg, ipw_errbuf *eb)
{
    (void)ud;
    (void)index;
    (void)eb;
    if (strncmp(msg, "c:", 2) != 0 || line == 0)
        abort();
    return IPW_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ipw_rows_sink sink = {NULL, on_row, on_bad};
    struct ipw_rows_opts o = {IPW_ROWS_CSV, 512, "c"};
    ipw_errbuf eb = {0};
    ipw_err e = ipw_rows_read_mem(data, size, &o, &sink, &eb);
    if (e != IPW_OK && eb.msg[0] == '\0')
        abort();
    /* the whole input as one list cell too */
    json_t *list = NULL;
    if (ipw_rows_parse_list((const char *)data, size, &list, &eb) == IPW_OK)
        json_decref(list);
    return 0;
}
