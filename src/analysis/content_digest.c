#include "analysis/content_digest.h"

#include <stdlib.h>
#include <xxhash.h>

struct ipw_content_digest {
    XXH3_state_t *state;
    uint64_t bytes;
};

struct ipw_content_digest *ipw_content_digest_new(void)
{
    struct ipw_content_digest *d = malloc(sizeof *d);
    if (!d)
        return NULL;
    d->state = XXH3_createState();
    if (!d->state || XXH3_128bits_reset(d->state) != XXH_OK) {
        ipw_content_digest_free(d);
        return NULL;
    }
    d->bytes = 0;
    return d;
}

void ipw_content_digest_update(struct ipw_content_digest *d, const void *data, size_t len)
{
    XXH3_128bits_update(d->state, data, len); /* fails only for a NULL state */
    d->bytes += len;
}

uint64_t ipw_content_digest_bytes(const struct ipw_content_digest *d)
{
    return d->bytes;
}

void ipw_content_digest_hex(const struct ipw_content_digest *d, char out[IPW_DIGEST_HEX])
{
    static const char hex[] = "0123456789abcdef";
    XXH128_canonical_t c; /* big-endian bytes: the order xxhsum prints */
    XXH128_canonicalFromHash(&c, XXH3_128bits_digest(d->state));
    for (size_t i = 0; i < sizeof c.digest; i++) {
        out[2 * i] = hex[c.digest[i] >> 4];
        out[2 * i + 1] = hex[c.digest[i] & 15];
    }
    out[2 * sizeof c.digest] = '\0';
}

void ipw_content_digest_free(struct ipw_content_digest *d)
{
    if (!d)
        return;
    XXH3_freeState(d->state);
    free(d);
}
