/* Fuzzes CUDA_VISIBLE_DEVICES parsing (ipw_gpu_select): any value must give either an error
 * with a message or a selection of distinct, existing GPUs within the limit. First byte: how
 * many GPUs exist (0-8); the rest: the variable's value. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../src/telemetry/gpu_select.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 4096)
        return 0;
    unsigned ndev = data[0] % 9;
    char *spec = malloc(size);
    if (!spec)
        return 0;
    memcpy(spec, data + 1, size - 1);
    spec[size - 1] = '\0';
    static const char *const uuids[] = {
        "GPU-0004e2c8-1b3d-4f5a-9c7e-000000100000", "GPU-1114e2c8-1b3d-4f5a-9c7e-000000100001",
        "GPU-1115e2c8-1b3d-4f5a-9c7e-000000100002", "",
        "GPU-aaaa", "GPU-AAAB", "MIG-1234", "GPU-"};
    unsigned sel[4];
    unsigned n = 99;
    ipw_errbuf eb = {0};
    ipw_err e = ipw_gpu_select("CUDA_VISIBLE_DEVICES", spec, ndev, uuids, sel, &n, 4, &eb);
    if (e == IPW_OK) {
        if (n > 4)
            abort();
        for (unsigned i = 0; i < n; i++) {
            if (sel[i] >= ndev)
                abort();
            for (unsigned j = 0; j < i; j++)
                if (sel[i] == sel[j])
                    abort();
        }
    } else if (eb.msg[0] == '\0' || eb.code != e) {
        abort();
    }
    free(spec);
    return 0;
}
