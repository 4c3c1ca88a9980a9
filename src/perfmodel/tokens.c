/* Token counts for the sim client without a tokenizer: an estimate of a byte-pair tokenizer of
 * the Llama 3 / Qwen2 kind (128k-152k vocabularies) from the text's character classes, and a
 * deterministic, hash-based output length per prompt. Method: docs/sim.md. */
#include "ipw/sim.h"

#include <math.h>
#include <string.h>

#include "ipw/splitmix.h"

/* Chat-template special tokens: <|begin_of_text|> once, then per message the header
 * (<|start_header_id|>, role, <|end_header_id|>, "\n\n") and <|eot_id|>, then the
 * assistant header that opens the answer. ChatML templates (Qwen) cost about the same. */
#define TEMPLATE_BOS 1
#define TEMPLATE_PER_MESSAGE 5
#define TEMPLATE_ASSISTANT 4

/* Length in bytes of the UTF-8 sequence at p; 1 for a stray or truncated one (it stops at the
 * first byte that is not a continuation, so it never reads past the terminating NUL). */
static size_t seq_len(const unsigned char *p)
{
    size_t n = *p >= 0xF0 && *p <= 0xF4 ? 4 : *p >= 0xE0 && *p <= 0xEF ? 3
             : *p >= 0xC2 && *p <= 0xDF ? 2 : 1;
    for (size_t k = 1; k < n; k++)
        if ((p[k] & 0xC0) != 0x80)
            return 1;
    return n;
}

static bool is_alpha(unsigned char c) { return (c | 0x20) >= 'a' && (c | 0x20) <= 'z'; }
static bool is_digit(unsigned char c) { return c >= '0' && c <= '9'; }
static bool is_space(unsigned char c) { return c == ' ' || c == '\t' || c == '\r'; }

/* Code points U+00C0..U+024F (accented Latin letters) count as letters in a word. */
static bool latin_letter(const unsigned char *p, size_t n)
{
    if (n != 2)
        return false;
    unsigned cp = ((unsigned)(p[0] & 0x1F) << 6) | (p[1] & 0x3F);
    return cp >= 0xC0 && cp <= 0x24F;
}

long ipw_sim_estimate_tokens(const char *text)
{
    if (!text)
        return 0;
    const unsigned char *p = (const unsigned char *)text;
    long tokens = 0;
    while (*p) {
        size_t n = seq_len(p);
        if (is_alpha(*p) || latin_letter(p, n)) {
            /* a word: common words are one token, long ones split every ~7 letters */
            long letters = 0;
            while (*p) {
                size_t m = seq_len(p);
                if (!(is_alpha(*p) || latin_letter(p, m)))
                    break;
                letters++;
                p += m;
            }
            tokens += 1 + (letters - 1) / 7;
        } else if (is_digit(*p)) {
            long digits = 0;
            while (is_digit(*p))
                digits++, p++;
            tokens += (digits + 2) / 3; /* numbers split in groups of three digits */
        } else if (is_space(*p)) {
            p++; /* a space joins the next word's token */
        } else if (*p == '\n') {
            while (*p == '\n')
                p++;
            tokens++;
        } else if (n == 1) {
            /* punctuation and symbols: runs merge in pairs ("..", "==", "**") */
            long run = 0;
            unsigned char c = *p;
            while (*p == c)
                run++, p++;
            tokens += (run + 1) / 2;
        } else {
            tokens++; /* other scripts: about one token per character */
            p += n;
        }
    }
    return tokens;
}

long ipw_sim_estimate_chat_tokens(const char *system, const char *prompt)
{
    long t = TEMPLATE_BOS + TEMPLATE_ASSISTANT;
    if (system && *system)
        t += TEMPLATE_PER_MESSAGE + ipw_sim_estimate_tokens(system);
    t += TEMPLATE_PER_MESSAGE + ipw_sim_estimate_tokens(prompt);
    return t;
}

static uint64_t fnv1a(uint64_t h, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
        h ^= *p;
        h *= 0x100000001B3ull;
    }
    return h;
}

long ipw_sim_output_tokens(const char *system, const char *prompt, uint64_t seed, long lo,
                           long hi)
{
    if (lo < 1)
        lo = 1;
    if (hi < lo)
        hi = lo;
    uint64_t h = fnv1a(0xCBF29CE484222325ull, system);
    h = fnv1a(h ^ 0x1F, prompt); /* separator: ("ab","c") and ("a","bc") differ */
    /* splitmix64's finaliser spreads every input bit over the output */
    h = ipw_splitmix64_mix(h ^ ipw_splitmix64_mix(seed + 0x9E3779B97F4A7C15ull));
    double f = (double)(h >> 11) * 0x1.0p-53; /* uniform in [0, 1) */
    double x = exp(log((double)lo) + f * (log((double)hi + 1) - log((double)lo)));
    long n = (long)floor(x);
    return n < lo ? lo : n > hi ? hi : n;
}
