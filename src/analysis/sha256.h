/* SHA-256 (FIPS 180-4), for judge cache keys and the lab's prompt hashes. Not a public
 * interface. */
#ifndef IPW_ANALYSIS_SHA256_H
#define IPW_ANALYSIS_SHA256_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ipw_sha256 {
    uint32_t h[8];
    uint64_t bytes;
    uint8_t block[64];
    size_t fill;
};

void ipw_sha256_init(struct ipw_sha256 *s);
void ipw_sha256_update(struct ipw_sha256 *s, const void *data, size_t len);
void ipw_sha256_final(struct ipw_sha256 *s, uint8_t out[32]);
/* Whether blocks go through the CPU's SHA instructions: allow false forces the portable rounds
 * (tests check both paths agree). Returns whether the instructions are now used. */
bool ipw_sha256_accelerated(bool allow);
/* 64 lower-case hex digits and a NUL. */
void ipw_sha256_hex(const uint8_t digest[32], char out[65]);

#endif
