/* Python-compatible MT19937 for the RAND routing policy (ss_rand.c). */
#ifndef IPW_SS_RAND_H
#define IPW_SS_RAND_H

#include <stdint.h>

struct ss_mt {
    uint32_t mt[624];
    int i;
};

void ss_mt_seed(struct ss_mt *m, uint32_t seed);
uint32_t ss_mt_randbelow(struct ss_mt *m, uint32_t n);

#endif
