/* Runs a piece of a test as an ordinary user, so that file permissions really apply: tests run
 * as root here and in CI, and root reads any file whatever its mode. */
#ifndef IPW_UNPRIV_H
#define IPW_UNPRIV_H

#include <stddef.h>
#include <stdio.h>

/* Forks; the child drops to uid/gid 65534 (nobody) when it is root, calls fn(ud, out) and
 * exits. What fn writes to out lands in buf (NUL-terminated, cut at size). Returns the child's
 * exit status: 0 when fn returned, 98 when privileges could not be dropped, other values when
 * it crashed (128 + signal). Make only async-signal-safe assumptions about the parent's other
 * threads: start none before calling. */
int ipw_test_unprivileged(void (*fn)(void *ud, FILE *out), void *ud, char *buf, size_t size);

#endif
