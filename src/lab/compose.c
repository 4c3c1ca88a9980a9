/* Composing the lab's request (SPEC §5.2 step 1): the system message built from the base
 * system prompt, the conversation context and the injections, the way the Energy Lab builds it,
 * and the character-count token estimate used when a server reports no prompt tokens. */
#include <stdlib.h>
#include <string.h>

#include "ipw/lab.h"

#define CTX_OPEN "<conversation_context>"
#define CTX_CLOSE "</conversation_context>"

static bool empty(const char *s) { return !s || !*s; }

/* Appends with a hard bound; the total was computed before, so overflow is a bug. */
static void put(char *buf, size_t *len, const char *s)
{
    size_t n = strlen(s);
    memcpy(buf + *len, s, n);
    *len += n;
    buf[*len] = '\0';
}

ipw_err ipw_lab_compose_system(const struct ipw_lab_prompt *p, char **out, ipw_errbuf *eb)
{
    *out = NULL;
    if (p->n_inject > IPW_LAB_MAX_INJECT)
        return ipw_fail(eb, IPW_E_INVALID, "at most %d injections are allowed, %zu were given",
                        IPW_LAB_MAX_INJECT, p->n_inject);
    bool ctx_tagged = !empty(p->context) && strstr(p->context, CTX_OPEN) != NULL;
    size_t need = 1;
    need += empty(p->system) ? 0 : strlen(p->system);
    if (!empty(p->context))
        need += 2 + strlen(p->context) + (ctx_tagged ? 0 : strlen(CTX_OPEN) + strlen(CTX_CLOSE) + 2);
    for (size_t i = 0; i < p->n_inject; i++) {
        if (empty(p->inject[i].text))
            continue;
        need += 2 + 5 + 2 + strlen(p->inject[i].label ? p->inject[i].label : "") + 3 +
                strlen(p->inject[i].text);
    }
    char *buf = malloc(need);
    if (!buf)
        return ipw_fail(eb, IPW_E_NOMEM, "out of memory composing the system prompt");
    size_t len = 0;
    buf[0] = '\0';
    if (!empty(p->system))
        put(buf, &len, p->system);
    if (!empty(p->context)) {
        if (len)
            put(buf, &len, "\n\n");
        if (!ctx_tagged)
            put(buf, &len, CTX_OPEN "\n");
        put(buf, &len, p->context);
        if (!ctx_tagged)
            put(buf, &len, "\n" CTX_CLOSE);
    }
    for (size_t i = 0; i < p->n_inject; i++) {
        if (empty(p->inject[i].text))
            continue;
        if (len)
            put(buf, &len, "\n\n");
        put(buf, &len, "---\n\n[");
        put(buf, &len, p->inject[i].label ? p->inject[i].label : "");
        put(buf, &len, "]\n");
        put(buf, &len, p->inject[i].text);
    }
    if (len == 0) {
        free(buf);
        return IPW_OK;
    }
    *out = buf;
    return IPW_OK;
}

/* Characters, not bytes: a continuation byte (10xxxxxx) does not start a character. */
static long utf8_chars(const char *s)
{
    long n = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        n += (*p & 0xC0) != 0x80;
    return n;
}

long ipw_lab_estimate_prompt_tokens(const char *system, const char *user)
{
    long t = 0;
    if (system)
        t += utf8_chars(system) / 4 + 4;
    if (user)
        t += utf8_chars(user) / 4 + 4;
    return t;
}
