/* The reproducible sample of --max-queries N --seed S: splitmix64 drives a partial
 * Fisher-Yates shuffle of the positions, using only 64-bit integer arithmetic so every machine
 * and every run draws the same items. The chosen positions are returned in source order. */
#include <stdlib.h>

#include "ipw/dataset.h"
#include "ipw/splitmix.h"

/* Uniform in [0, n) without modulo bias: draws below 2^64 mod n are rejected. */
static uint64_t below(uint64_t *state, uint64_t n)
{
    uint64_t threshold = (0 - n) % n;
    for (;;) {
        uint64_t r = ipw_splitmix64_next(state);
        if (r >= threshold)
            return r % n;
    }
}

static int cmp_size(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return x < y ? -1 : x > y;
}

size_t ipw_dataset_sample_indices(size_t total, size_t k, uint64_t seed, size_t **out)
{
    *out = NULL;
    if (k > total)
        k = total;
    size_t *a = malloc((total ? total : 1) * sizeof *a);
    if (!a)
        return 0;
    for (size_t i = 0; i < total; i++)
        a[i] = i;
    uint64_t state = seed;
    for (size_t i = 0; i < k; i++) {
        size_t j = i + (size_t)below(&state, (uint64_t)(total - i));
        size_t t = a[i];
        a[i] = a[j];
        a[j] = t;
    }
    qsort(a, k, sizeof *a, cmp_size);
    *out = a;
    return k;
}
