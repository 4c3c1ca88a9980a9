/* Fuzzes the calculator tool's expression parser: any text gives a finite number or an error,
 * with nesting bounded (no stack exhaustion). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent/calc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    double v;
    ipw_errbuf eb = {0};
    ipw_calc_eval(s, &v, &eb);
    free(s);
    return 0;
}
