/* Python's random.Random(seed).randrange(n): MT19937 seeded with init_by_array([seed]) and
 * _randbelow's rejection sampling on getrandbits(n.bit_length()), so RAND routing picks the
 * same instances as the original with its fixed seed 42. */
#include "ss_rand.h"

static void init_genrand(struct ss_mt *m, uint32_t s)
{
    m->mt[0] = s;
    for (m->i = 1; m->i < 624; m->i++)
        m->mt[m->i] = 1812433253U * (m->mt[m->i - 1] ^ (m->mt[m->i - 1] >> 30)) + (uint32_t)m->i;
}

void ss_mt_seed(struct ss_mt *m, uint32_t seed)
{
    uint32_t key[1] = {seed};
    int i = 1, j = 0, klen = 1;
    init_genrand(m, 19650218U);
    for (int k = 624 > klen ? 624 : klen; k; k--) {
        m->mt[i] = (m->mt[i] ^ ((m->mt[i - 1] ^ (m->mt[i - 1] >> 30)) * 1664525U)) + key[j] +
                   (uint32_t)j;
        i++;
        j++;
        if (i >= 624) {
            m->mt[0] = m->mt[623];
            i = 1;
        }
        if (j >= klen)
            j = 0;
    }
    for (int k = 623; k; k--) {
        m->mt[i] = (m->mt[i] ^ ((m->mt[i - 1] ^ (m->mt[i - 1] >> 30)) * 1566083941U)) - (uint32_t)i;
        i++;
        if (i >= 624) {
            m->mt[0] = m->mt[623];
            i = 1;
        }
    }
    m->mt[0] = 0x80000000U;
    m->i = 624;
}

static uint32_t genrand(struct ss_mt *m)
{
    static const uint32_t mag[2] = {0, 0x9908b0dfU};
    uint32_t y;
    if (m->i >= 624) {
        int k;
        for (k = 0; k < 624 - 397; k++) {
            y = (m->mt[k] & 0x80000000U) | (m->mt[k + 1] & 0x7fffffffU);
            m->mt[k] = m->mt[k + 397] ^ (y >> 1) ^ mag[y & 1];
        }
        for (; k < 623; k++) {
            y = (m->mt[k] & 0x80000000U) | (m->mt[k + 1] & 0x7fffffffU);
            m->mt[k] = m->mt[k + (397 - 624)] ^ (y >> 1) ^ mag[y & 1];
        }
        y = (m->mt[623] & 0x80000000U) | (m->mt[0] & 0x7fffffffU);
        m->mt[623] = m->mt[396] ^ (y >> 1) ^ mag[y & 1];
        m->i = 0;
    }
    y = m->mt[m->i++];
    y ^= y >> 11;
    y ^= (y << 7) & 0x9d2c5680U;
    y ^= (y << 15) & 0xefc60000U;
    y ^= y >> 18;
    return y;
}

uint32_t ss_mt_randbelow(struct ss_mt *m, uint32_t n)
{
    if (n <= 1)
        return 0;
    int k = 0;
    for (uint32_t v = n; v; v >>= 1)
        k++;
    for (;;) {
        uint32_t r = genrand(m) >> (32 - k);
        if (r < n)
            return r;
    }
}
