/* The web layer's request guards, as pure functions (unit-tested and fuzzed on their own):
 * which Host and Origin headers a request may carry, the per-process token, and the shape of
 * ids in paths. Why each rule exists is in docs/lab-api.md, "Security". */
#ifndef IPW_LABWEB_GUARD_H
#define IPW_LABWEB_GUARD_H

#include <stdbool.h>
#include <stddef.h>

#define LW_TOKEN_LEN 64 /* hex characters */
#define LW_ID_MAX 64    /* longest id in a path */

/* A Host header naming this server: loopback (127.x, localhost, [::1]) or, when remote access
 * was allowed, any well-formed host name or address; the port must be ours (absent only when
 * ours is 80). Refusing other names defeats DNS rebinding against a loopback server. */
bool lw_host_allowed(const char *host, int port, bool allow_remote);
/* An Origin header from this server's own page: absent (a non-browser client), or exactly
 * "http://" + the Host header. */
bool lw_origin_allowed(const char *origin, const char *host);
/* A new random token (LW_TOKEN_LEN hex characters + NUL); false when the system has no
 * randomness to give. */
bool lw_token_new(char out[LW_TOKEN_LEN + 1]);
/* Constant-time comparison, false for NULL. */
bool lw_token_equal(const char *given, const char *token);
/* An id in a path: 1..LW_ID_MAX characters of [A-Za-z0-9_.:-], not "." or "..". */
bool lw_id_valid(const char *id, size_t len);

#endif
