/* Fuzzes the Scaphandre metrics parser of `ipw lab` (--scaphandre): the first input byte picks
 * how many of the next bytes are the match string, the rest is the exporter's text. The result
 * must be a finite, non-negative power, counted lines only on success, and a one-line message. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ipw/lab.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    size_t mlen = data[0] % 17;
    if (mlen + 1 > size)
        mlen = size - 1;
    char match[17];
    memcpy(match, data + 1, mlen);
    match[mlen] = '\0';
    const char *text = (const char *)data + 1 + mlen;
    size_t len = size - 1 - mlen;
    /* a copy of exactly len bytes, so a read past the end is caught by ASan */
    char *copy = malloc(len ? len : 1);
    if (!copy)
        return 0;
    memcpy(copy, text, len);
    double w;
    int n;
    ipw_errbuf eb = {0};
    ipw_err rc = ipw_lab_scaph_parse(copy, len, match, &w, &n, &eb);
    if (rc == IPW_OK && (!(w >= 0) || !isfinite(w) || n <= 0))
        abort();
    if (rc != IPW_OK && (n != 0 || strchr(eb.msg, '\n')))
        abort();
    free(copy);
    return 0;
}
