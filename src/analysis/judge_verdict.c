/* The LLM judge's pure part: the endpoint URL, the prompt (clipped fields), the cache key and
 * the verdict parser (the fuzz target, fuzz/fuzz_judge_verdict.c). No I/O: the worker pool
 * that POSTs the prompts is judge.c. */
#include "ipw/judge.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "analysis/sha256.h"
#include "analysis/text.h"

#define RESPONSE_KEEP 24000 /* characters of a response shown to the judge */
#define RESPONSE_HEAD 4000
#define FIELD_KEEP 16000    /* characters of a problem or reference */

/* ---- endpoint, prompt, verdicts ------------------------------------------------------------ */

ipw_err ipw_judge_endpoint(const char *base, char *out, size_t size, ipw_errbuf *eb)
{
    if (!base || !*base)
        return ipw_fail(eb, IPW_E_INVALID, "no judge URL; give --eval-base-url");
    const char *rest = NULL;
    if (strncasecmp(base, "http://", 7) == 0)
        rest = base + 7;
    else if (strncasecmp(base, "https://", 8) == 0)
        rest = base + 8;
    if (!rest || !*rest || *rest == '/')
        return ipw_fail(eb, IPW_E_INVALID,
                        "judge URL '%s' is not an http:// or https:// URL; give e.g. "
                        "--eval-base-url https://api.openai.com/v1",
                        base);
    size_t len = strlen(base);
    while (len > 0 && base[len - 1] == '/')
        len--;
    const char *path = strchr(rest, '/');
    bool has_path = path && path < base + len;
    static const char suffix[] = "/chat/completions";
    bool full = len >= sizeof suffix - 1 &&
                strncmp(base + len - (sizeof suffix - 1), suffix, sizeof suffix - 1) == 0;
    int n = snprintf(out, size, "%.*s%s", (int)len, base,
                     full ? "" : has_path ? "/chat/completions" : "/v1/chat/completions");
    if (n < 0 || (size_t)n >= size)
        return ipw_fail(eb, IPW_E_RANGE, "judge URL '%.80s...' is too long", base);
    return IPW_OK;
}

void ipw_judge_url_for_display(const char *url, char *out, size_t size)
{
    const char *scheme = strstr(url, "://");
    const char *host = scheme ? scheme + 3 : url;
    const char *slash = strchr(host, '/');
    const char *at = strchr(host, '@');
    if (at && (!slash || at < slash))
        snprintf(out, size, "%.*s%s", (int)(host - url), url, at + 1);
    else
        snprintf(out, size, "%s", url);
}

/* Drops markdown and a "Verdict:" style prefix from a line, lower-cased into out. */
static void bare_line(const char *b, const char *e, char *out, size_t size)
{
    size_t n = 0;
    for (const char *p = b; p < e && n + 1 < size; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '*' || c == '`' || c == '#' || c == '>' || c == '_' || c == '"')
            continue;
        out[n++] = (char)tolower(c);
    }
    out[n] = '\0';
    static const char *const prefixes[] = {"final verdict", "verdict", "final answer", "answer",
                                           "grade", "result", "judgment", "judgement"};
    char *s = out;
    while (*s == ' ' || *s == '\t')
        s++;
    for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++) {
        size_t l = strlen(prefixes[i]);
        if (strncmp(s, prefixes[i], l) == 0 && (s[l] == ':' || s[l] == '-' || s[l] == ' ')) {
            s += l;
            while (*s == ':' || *s == '-' || *s == ' ')
                s++;
            break;
        }
    }
    size_t l = strlen(s);
    while (l && (isspace((unsigned char)s[l - 1]) || strchr(".!:;,", s[l - 1])))
        l--;
    memmove(out, s, l);
    out[l] = '\0';
}

static int word_verdict(const char *w)
{
    static const char *const yes[] = {"correct", "true", "yes"};
    static const char *const no[] = {"incorrect", "false", "no", "not correct", "wrong"};
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++)
        if (strcmp(w, yes[i]) == 0)
            return 1;
    for (size_t i = 0; i < sizeof no / sizeof no[0]; i++)
        if (strcmp(w, no[i]) == 0)
            return 0;
    return -1;
}

static int object_verdict(const json_t *o)
{
    static const char *const keys[] = {"correct", "is_correct", "verdict"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        const json_t *v = json_object_get(o, keys[i]);
        if (json_is_boolean(v))
            return json_is_true(v);
        if (json_is_string(v)) {
            char w[32];
            const char *s = json_string_value(v);
            bare_line(s, s + strlen(s), w, sizeof w);
            int r = word_verdict(w);
            if (r >= 0)
                return r;
        }
    }
    return -1;
}

int ipw_judge_parse_verdict(const char *content)
{
    if (!content)
        return -1;
    const char *s = ipw_text_after_think(content);
    size_t len = strlen(s);
    /* the last JSON object in the text that carries a verdict */
    for (size_t i = len; i-- > 0;) {
        if (s[i] != '{')
            continue;
        json_error_t je;
        json_t *j = json_loadb(s + i, len - i, JSON_DISABLE_EOF_CHECK, &je);
        int v = json_is_object(j) ? object_verdict(j) : -1;
        json_decref(j);
        if (v >= 0)
            return v;
    }
    /* else a last non-empty line that is a bare verdict */
    const char *e = s + len;
    while (e > s && isspace((unsigned char)e[-1]))
        e--;
    const char *b = e;
    while (b > s && b[-1] != '\n')
        b--;
    if (b == e || e - b > 200)
        return -1;
    char w[256];
    bare_line(b, e, w, sizeof w);
    return word_verdict(w);
}

int ipw_judge_parse_completion(const char *body, size_t len)
{
    json_t *j = json_loadb(body, len, 0, NULL);
    const json_t *msg = json_object_get(json_array_get(json_object_get(j, "choices"), 0),
                                        "message");
    int v = ipw_judge_parse_verdict(json_string_value(json_object_get(msg, "content")));
    json_decref(j);
    return v;
}

/* Back up from p to the start of a UTF-8 character. */
static const char *utf8_start(const char *base, const char *p)
{
    while (p > base && ((unsigned char)*p & 0xC0) == 0x80)
        p--;
    return p;
}

/* text, or its head and tail around a marker when longer than keep (a response's final answer
 * is at its end). Always valid UTF-8 when text is. */
static json_t *clipped(const char *text, size_t keep, size_t head)
{
    size_t n = strlen(text);
    if (n <= keep)
        return json_string(text);
    const char *h_end = utf8_start(text, text + head);
    const char *t_start = utf8_start(text, text + n - (keep - head));
    char mid[96];
    snprintf(mid, sizeof mid, "\n[... %zu characters cut ...]\n", (size_t)(t_start - h_end));
    size_t hl = (size_t)(h_end - text), tl = strlen(t_start), ml = strlen(mid);
    char *buf = malloc(hl + ml + tl + 1);
    if (!buf)
        return NULL;
    memcpy(buf, text, hl);
    memcpy(buf + hl, mid, ml);
    memcpy(buf + hl + ml, t_start, tl + 1);
    json_t *s = json_string(buf);
    free(buf);
    return s;
}

static const char system_prompt[] =
    "You grade answers for a benchmark. You are given a question, its reference answer, and a "
    "model's response. Decide whether the response's final answer agrees with the reference "
    "answer. Judge the final answer only, not the reasoning, style or length. Equivalent forms "
    "count as agreeing (a different wording, unit or number format with the same value). A "
    "response that gives several conflicting final answers, refuses, or stops before giving an "
    "answer is incorrect. Reply with exactly one JSON object and nothing else: "
    "{\"correct\": true} or {\"correct\": false}.";

json_t *ipw_judge_request(const char *model, const char *problem, const char *reference,
                          const char *response)
{
    json_t *q = clipped(problem ? problem : "", FIELD_KEEP, FIELD_KEEP / 2);
    json_t *r = clipped(reference ? reference : "", FIELD_KEEP, FIELD_KEEP / 2);
    json_t *a = clipped(response ? response : "", RESPONSE_KEEP, RESPONSE_HEAD);
    json_t *body = NULL;
    if (q && r && a) {
        const char *parts[] = {"Question:\n<<<\n",
                               json_string_value(q),
                               "\n>>>\n\nReference answer:\n<<<\n",
                               json_string_value(r),
                               "\n>>>\n\nModel response:\n<<<\n",
                               json_string_value(a),
                               "\n>>>\n\nIs the model response correct? Reply with "
                               "{\"correct\": true} or {\"correct\": false}."};
        size_t len = 1;
        for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++)
            len += strlen(parts[i]);
        char *user = malloc(len);
        if (user) {
            user[0] = '\0';
            for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++)
                strcat(user, parts[i]);
            body = json_pack("{s:s, s:[{s:s, s:s}, {s:s, s:s}], s:b}", "model",
                             model ? model : "", "messages", "role", "system", "content",
                             system_prompt, "role", "user", "content", user, "stream", 0);
            free(user);
        }
    }
    json_decref(q);
    json_decref(r);
    json_decref(a);
    return body;
}

void ipw_judge_key(const char *model, const char *problem, const char *reference,
                   const char *response, char hex[65])
{
    struct ipw_sha256 s;
    ipw_sha256_init(&s);
    const char *parts[] = {IPW_JUDGE_PROMPT_VERSION, model, problem, reference, response};
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
        const char *p = parts[i] ? parts[i] : "";
        ipw_sha256_update(&s, p, strlen(p) + 1); /* the NUL separates the fields */
    }
    uint8_t d[32];
    ipw_sha256_final(&s, d);
    ipw_sha256_hex(d, hex);
}
