/* splitmix64 (ipw/splitmix.h), written once for every reproducible draw. */
#include "ipw/splitmix.h"

uint64_t ipw_splitmix64_mix(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

uint64_t ipw_splitmix64_next(uint64_t *state)
{
    return ipw_splitmix64_mix(*state += 0x9E3779B97F4A7C15ull);
}
