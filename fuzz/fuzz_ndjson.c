/* Fuzzes the Ollama stream path without sockets: bytes -> line splitter -> NDJSON parser.
 * The input is split twice (whole, then in small chunks); both must give the same lines, and
 * every error message must be one line of valid UTF-8 that fits its buffer. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ipw/chatstream.h"

struct digest {
    unsigned long lines;
    uint64_t hash;
};

static void check_message(const char *msg)
{
    size_t n = strnlen(msg, IPW_ERRMSG_MAX);
    if (n >= IPW_ERRMSG_MAX || memchr(msg, '\n', n))
        abort();
    json_t *s = json_string(msg); /* NULL when not valid UTF-8 */
    if (!s)
        abort();
    json_decref(s);
}

static ipw_err on_line(void *ud, const char *line, size_t len, ipw_errbuf *eb)
{
    struct digest *d = ud;
    d->lines++;
    for (size_t i = 0; i < len; i++)
        d->hash = (d->hash ^ (uint8_t)line[i]) * 1099511628211ull;
    d->hash = (d->hash ^ 0xFF) * 1099511628211ull;
    struct ipw_stream_chunk c;
    ipw_errbuf peb = {0};
    ipw_err e = ipw_ndjson_parse_line(line, len, &c, &peb);
    if (e != IPW_OK) {
        check_message(peb.msg);
        if (c.root || c.stats)
            abort();
    } else {
        if (c.kind == IPW_CHUNK_ERROR)
            check_message(c.error);
        if (c.content && c.content_len > len)
            abort();
        if (c.done && !c.stats)
            abort();
    }
    ipw_stream_chunk_clear(&c);
    return IPW_OK;
}

static struct digest run(const uint8_t *data, size_t size, size_t step)
{
    struct digest d = {0, 1469598103934665603ull};
    struct ipw_linesplit ls;
    ipw_errbuf eb = {0};
    ipw_linesplit_init(&ls, 4096);
    for (size_t off = 0; off < size; off += step) {
        size_t n = size - off < step ? size - off : step;
        if (ipw_linesplit_feed(&ls, (const char *)data + off, n, on_line, &d, &eb) != IPW_OK) {
            check_message(eb.msg);
            d.lines = (unsigned long)-1; /* over-long line: both splits must agree on that too */
            ipw_linesplit_free(&ls);
            return d;
        }
    }
    if (ipw_linesplit_finish(&ls, on_line, &d, &eb) != IPW_OK)
        abort();
    ipw_linesplit_free(&ls);
    return d;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct digest whole = run(data, size, size ? size : 1);
    struct digest pieces = run(data, size, 1 + size % 7);
    if (whole.lines != pieces.lines ||
        (whole.lines != (unsigned long)-1 && whole.hash != pieces.hash))
        abort();
    char out[64];
    ipw_stream_error_text((const char *)data, size, out, sizeof out);
    check_message(out);
    return 0;
}
