/* Fuzzes the OpenAI-compatible stream path without sockets: bytes -> line splitter -> SSE
 * parser -> chat.completion.chunk interpretation. Split whole and in small chunks, the events
 * must agree; every error message must be one line of valid UTF-8 that fits its buffer. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ipw/chatstream.h"

struct digest {
    struct ipw_sse sse;
    unsigned long events, errors;
    uint64_t hash;
};

static void check_message(const char *msg)
{
    size_t n = strnlen(msg, IPW_ERRMSG_MAX);
    if (n >= IPW_ERRMSG_MAX || memchr(msg, '\n', n))
        abort();
    json_t *s = json_string(msg);
    if (!s)
        abort();
    json_decref(s);
}

static void mix(struct digest *d, const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        d->hash = (d->hash ^ (uint8_t)p[i]) * 1099511628211ull;
    d->hash = (d->hash ^ 0xFF) * 1099511628211ull;
}

static void account(struct digest *d, ipw_err e, struct ipw_stream_chunk *c, ipw_errbuf *eb)
{
    if (e != IPW_OK) {
        check_message(eb->msg);
        d->errors++;
        if (c->root || c->stats)
            abort();
    } else if (c->kind != IPW_CHUNK_NONE) {
        d->events++;
        if (c->kind == IPW_CHUNK_ERROR)
            check_message(c->error);
        if (c->content)
            mix(d, c->content, c->content_len);
        if (c->reasoning)
            mix(d, c->reasoning, c->reasoning_len);
        d->hash += (uint64_t)c->done + 3u * (uint64_t)(c->prompt_tokens + 1);
    }
    ipw_stream_chunk_clear(c);
}

static ipw_err on_line(void *ud, const char *line, size_t len, ipw_errbuf *eb)
{
    struct digest *d = ud;
    struct ipw_stream_chunk c;
    ipw_errbuf peb = {0};
    account(d, ipw_sse_feed_line(&d->sse, line, len, &c, &peb), &c, &peb);
    return IPW_OK;
}

static void run(const uint8_t *data, size_t size, size_t step, struct digest *d)
{
    memset(d, 0, sizeof *d);
    d->hash = 1469598103934665603ull;
    ipw_sse_init(&d->sse, 2048);
    struct ipw_linesplit ls;
    ipw_errbuf eb = {0};
    ipw_linesplit_init(&ls, 4096);
    for (size_t off = 0; off < size; off += step) {
        size_t n = size - off < step ? size - off : step;
        if (ipw_linesplit_feed(&ls, (const char *)data + off, n, on_line, d, &eb) != IPW_OK) {
            check_message(eb.msg);
            d->events = (unsigned long)-1;
            goto out;
        }
    }
    if (ipw_linesplit_finish(&ls, on_line, d, &eb) != IPW_OK)
        abort();
    struct ipw_stream_chunk c;
    ipw_errbuf peb = {0};
    account(d, ipw_sse_finish(&d->sse, &c, &peb), &c, &peb);
out:
    ipw_linesplit_free(&ls);
    ipw_sse_free(&d->sse);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct digest whole, pieces;
    run(data, size, size ? size : 1, &whole);
    run(data, size, 1 + size % 7, &pieces);
    if (whole.events != pieces.events ||
        (whole.events != (unsigned long)-1 &&
         (whole.hash != pieces.hash || whole.errors != pieces.errors)))
        abort();
    /* the payload parser on its own, as if the whole input were one event's data */
    struct ipw_stream_chunk c;
    ipw_errbuf eb = {0};
    if (ipw_openai_parse_data((const char *)data, size, "", &c, &eb) != IPW_OK)
        check_message(eb.msg);
    ipw_stream_chunk_clear(&c);
    return 0;
}
