/* Fuzzes the Arrow IPC reader: any bytes must give a schema and JSON rows or a clean error,
 * never a crash, an out-of-bounds read or unbounded work. */
#include <stdint.h>
#include <stdlib.h>

#include "results/arrow.h"
#include "ipw/hf_dataset.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* small bounds so that a hostile length cannot make the fuzzer spin */
    struct ipw_arrow_read_limits lim = {.max_batch_rows = 1 << 16, .max_cells = 1 << 18,
                                        .max_metadata = 1 << 20};
    ipw_errbuf eb = {0};
    struct ipw_arrow_reader *r;
    if (ipw_arrow_reader_open(data, size, &lim, &r, &eb) != IPW_OK)
        return 0;
    json_t *f = ipw_hf_features(ipw_arrow_reader_schema(r), &eb);
    json_decref(f);
    json_t *rows = json_array();
    for (int batches = 0; batches < 1000; batches++) {
        struct ipw_arrow_batch *b;
        if (ipw_arrow_reader_next(r, &b, &eb) != IPW_OK || !b)
            break;
        ipw_err e = ipw_arrow_batch_append_rows(b, rows, &eb);
        ipw_arrow_batch_free(b);
        if (e != IPW_OK)
            break;
    }
    json_decref(rows);
    ipw_arrow_reader_free(r);
    return 0;
}
