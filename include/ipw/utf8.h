/* UTF-8 validation shared by everything that must hand valid text to JSON or Arrow: model
 * output, server error bodies, Arrow strings, record lines. */
#ifndef IPW_UTF8_H
#define IPW_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/* Length (1..4) of the valid UTF-8 sequence at p, given `left` readable bytes (left >= 1);
 * 0 when it is invalid: a stray or truncated sequence, an overlong form, a surrogate or a
 * code point past U+10FFFF. Any ASCII byte, NUL included, is a sequence of 1. */
size_t ipw_utf8_seq(const unsigned char *p, size_t left);

/* Whether all n bytes at s are valid UTF-8 (NUL bytes allowed). */
bool ipw_utf8_valid(const void *s, size_t n);

#endif
