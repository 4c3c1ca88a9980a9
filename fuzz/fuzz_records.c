/* Fuzzes the records.jsonl reader and repair: any file content must scan to records or a clean
 * error, and after a repair the file must scan without a torn tail. The input is written to a
 * file in the scratch directory (tmpfs; fuzz_scratch.h), which the reader opens by path. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "fuzz_scratch.h"
#include "ipw/records.h"

static ipw_err count(void *ctx, json_t *rec, int64_t index, size_t line, uint64_t off, size_t len,
                     ipw_errbuf *eb)
{
    (*(size_t *)ctx)++;
    return IPW_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char path[96];
    if (!path[0]) {
        const char *dir = fuzz_scratch_dir();
        if (!dir)
            return 0;
        snprintf(path, sizeof path, "%s/records.jsonl", dir);
    }
    FILE *f = fopen(path, "wb");
    if (!f)
        return 0;
    fwrite(data, 1, size, f);
    fclose(f);
    ipw_errbuf eb = {0};
    struct ipw_records_info info;
    size_t n = 0;
    if (ipw_records_scan(path, count, &n, &info, &eb) == IPW_OK) {
        if (n != info.records)
            abort();
        struct ipw_records_done done;
        if (ipw_records_finished(path, true, &done, NULL, &eb) == IPW_OK)
            ipw_records_done_free(&done);
        if (ipw_records_repair(path, &info, &eb) == IPW_OK) {
            struct ipw_records_info after;
            size_t m = 0;
            /* a repaired log reads back clean, with the same records */
            if (ipw_records_scan(path, count, &m, &after, &eb) != IPW_OK || after.torn_tail ||
                after.unterminated_tail || m != n)
                abort();
        }
    }
    unlink(path);
    return 0;
}
