/* splitmix64 (Steele, Lea and Flood; the seeder of xoshiro): small, fast, and the same on
 * every platform, so every reproducible draw of the program (the --seed sample, the lab's
 * bootstrap, the sim's modelled answers and token counts) comes out the same everywhere. */
#ifndef IPW_SPLITMIX_H
#define IPW_SPLITMIX_H

#include <stdint.h>

/* The next value of the sequence: *state advances by the golden-ratio increment and is then
 * mixed. */
uint64_t ipw_splitmix64_next(uint64_t *state);
/* The mixing step alone: a 64-bit hash in which every input bit reaches every output bit. */
uint64_t ipw_splitmix64_mix(uint64_t z);

#endif
