/* The digest that stamps an analysis with the log it was computed from (source_stamp.c), taken
 * by the run reader as it reads. It is XXH3-128 (libxxhash): the stamp detects a log that grew
 * or changed since, not tampering, and on a million-record log (1.9 GB) SHA-256 cost 1.1 s of
 * CPU against 0.12 s for XXH3. Its hex is what `xxhsum -H2 FILE` prints. Not a public
 * interface. */
#ifndef IPW_ANALYSIS_CONTENT_DIGEST_H
#define IPW_ANALYSIS_CONTENT_DIGEST_H

#include <stddef.h>
#include <stdint.h>

#include "ipw/run_reader.h" /* IPW_DIGEST_HEX */

struct ipw_content_digest;

/* NULL when out of memory. */
struct ipw_content_digest *ipw_content_digest_new(void);
void ipw_content_digest_update(struct ipw_content_digest *d, const void *data, size_t len);
/* The bytes digested so far. */
uint64_t ipw_content_digest_bytes(const struct ipw_content_digest *d);
/* The digest of the bytes so far, as 32 lower-case hex digits and a NUL. */
void ipw_content_digest_hex(const struct ipw_content_digest *d, char out[IPW_DIGEST_HEX]);
void ipw_content_digest_free(struct ipw_content_digest *d);

#endif
