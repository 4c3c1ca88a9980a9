/* Exact-answer scoring: normalises both sides (case, spacing, punctuation, articles), compares
 * numbers by value, and picks the final answer out of a longer response (boxed, "Answer:" line,
 * last line, last number). The rules are listed in docs/formats/analysis.md. */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "analysis/text.h"
#include "ipw/scoring.h"

#define NORM_MAX 1024

const char *ipw_exact_rule_name(enum ipw_exact_rule r)
{
    static const char *const names[] = {"none", "whole", "boxed", "answer-line", "last-line",
                                        "last-number"};
    return (unsigned)r < sizeof names / sizeof names[0] ? names[r] : "none";
}

static bool edge_punct(unsigned char c) { return c && strchr(".,;:!?\"'()[]{}", c) != NULL; }

/* Length of a UTF-8 curly quote at p (“ ” ‘ ’), else 0. */
static size_t curly_quote(const char *p)
{
    const unsigned char *u = (const unsigned char *)p;
    return (u[0] == 0xE2 && u[1] == 0x80 && u[2] >= 0x98 && u[2] <= 0x9D) ? 3 : 0;
}

void ipw_exact_normalize(const char *in, char *out, size_t out_size)
{
    if (out_size == 0)
        return;
    char buf[NORM_MAX];
    size_t n = 0;
    bool space = false;
    for (const char *p = in ? in : ""; *p && n + 1 < sizeof buf; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '*' || c == '`' || c == '$')
            continue;
        if (isspace(c)) {
            space = n > 0;
            continue;
        }
        if (space && n + 2 < sizeof buf)
            buf[n++] = ' ';
        space = false;
        buf[n++] = (char)tolower(c);
    }
    buf[n] = '\0';
    /* surrounding punctuation and quotes, repeatedly: "(Paris.)" -> "paris" */
    char *b = buf, *e = buf + n;
    for (bool again = true; again;) {
        again = false;
        while (b < e && (edge_punct((unsigned char)*b) || *b == ' ') &&
               !(*b == '.' && isdigit((unsigned char)b[1]))) {
            b++;
            again = true;
        }
        size_t q;
        while ((q = curly_quote(b)) && b + q <= e) {
            b += q;
            again = true;
        }
        while (e > b && (edge_punct((unsigned char)e[-1]) || e[-1] == ' ')) {
            e--;
            again = true;
        }
        while (e - b >= 3 && curly_quote(e - 3)) {
            e -= 3;
            again = true;
        }
    }
    *e = '\0';
    static const char *const articles[] = {"the ", "an ", "a "};
    for (size_t i = 0; i < sizeof articles / sizeof articles[0]; i++) {
        size_t al = strlen(articles[i]);
        if ((size_t)(e - b) > al && strncmp(b, articles[i], al) == 0) {
            b += al;
            break;
        }
    }
    size_t len = (size_t)(e - b);
    if (len >= out_size)
        len = out_size - 1;
    memmove(out, b, len);
    out[len] = '\0';
}

/* Digits with optional thousands separators ("1,000,000"), copied without the commas into
 * out. Returns the characters consumed, 0 when p does not start that way. */
static size_t digits_grouped(const char *p, char *out, size_t *on, size_t cap)
{
    size_t i = 0, run = 0;
    bool grouped = false;
    while (isdigit((unsigned char)p[i]) && run < 400) {
        if (*on + 1 < cap)
            out[(*on)++] = p[i];
        i++;
        run++;
        if (p[i] == ',' && isdigit((unsigned char)p[i + 1]) && isdigit((unsigned char)p[i + 2]) &&
            isdigit((unsigned char)p[i + 3]) && !isdigit((unsigned char)p[i + 4]) &&
            (grouped || run <= 3)) {
            grouped = true;
            run = 0;
            i++;
        }
    }
    return i;
}

/* One decimal number at p ("-1,234.5e-3"); returns characters consumed (0 if none) and the
 * value. A number only, no fraction or percent. */
static size_t scan_decimal(const char *p, double *v)
{
    char tmp[512];
    size_t n = 0, i = 0;
    if (p[i] == '+' || p[i] == '-')
        tmp[n++] = p[i++];
    size_t d = digits_grouped(p + i, tmp, &n, sizeof tmp);
    i += d;
    if (p[i] == '.' && isdigit((unsigned char)p[i + 1])) {
        tmp[n++] = p[i++];
        while (isdigit((unsigned char)p[i]) && n + 1 < sizeof tmp)
            tmp[n++] = p[i++];
    } else if (d == 0) {
        return 0;
    }
    if ((p[i] == 'e' || p[i] == 'E') &&
        (isdigit((unsigned char)p[i + 1]) ||
         ((p[i + 1] == '+' || p[i + 1] == '-') && isdigit((unsigned char)p[i + 2])))) {
        tmp[n++] = p[i++];
        if (p[i] == '+' || p[i] == '-')
            tmp[n++] = p[i++];
        while (isdigit((unsigned char)p[i]) && n + 1 < sizeof tmp)
            tmp[n++] = p[i++];
    }
    tmp[n] = '\0';
    char *end;
    *v = strtod(tmp, &end);
    return *end == '\0' && isfinite(*v) ? i : 0;
}

/* A number with an optional fraction ("3/4") and percent sign; returns characters consumed. */
static size_t scan_number(const char *p, double *v)
{
    size_t n = scan_decimal(p, v);
    if (!n)
        return 0;
    if (p[n] == '/' && isdigit((unsigned char)p[n + 1])) {
        double den;
        size_t m = scan_decimal(p + n + 1, &den);
        if (m && den != 0) {
            *v /= den;
            n += 1 + m;
        }
    }
    if (p[n] == '%')
        n++;
    return n;
}

bool ipw_exact_parse_number(const char *text, double *out)
{
    char norm[NORM_MAX];
    ipw_exact_normalize(text, norm, sizeof norm);
    const char *p = norm;
    if (strncmp(p, "$", 1) == 0)
        p++;
    double v;
    size_t n = scan_number(p, &v);
    if (!n || p[n] != '\0')
        return false;
    *out = v;
    return true;
}

static bool same_number(double a, double b)
{
    double scale = fmax(fabs(a), fabs(b));
    return fabs(a - b) <= 1e-9 * scale || fabs(a - b) <= 1e-12;
}

/* The last number in [p, e) that is not part of a word ("H2O", "v3"). */
static bool last_number(const char *p, const char *e, double *out)
{
    bool found = false;
    for (const char *q = p; q < e; q++) {
        bool start = isdigit((unsigned char)*q) ||
                     ((*q == '-' || *q == '+' || *q == '.') && q + 1 < e &&
                      isdigit((unsigned char)q[1]));
        if (!start || (q > p && (isalnum((unsigned char)q[-1]) || q[-1] == '.' ||
                                 q[-1] == '_')))
            continue;
        char tmp[512];
        size_t len = (size_t)(e - q) < sizeof tmp - 1 ? (size_t)(e - q) : sizeof tmp - 1;
        memcpy(tmp, q, len);
        tmp[len] = '\0';
        double v;
        size_t n = scan_number(tmp, &v);
        if (!n)
            continue;
        if (isalpha((unsigned char)tmp[n]) && tmp[n] != 'e' && tmp[n] != 'E') {
            q += n - 1; /* "3rd", "2x": part of a word */
            continue;
        }
        *out = v;
        found = true;
        q += n - 1;
    }
    return found;
}

/* Copies [b, e) into out, bounded. */
static void span(const char *b, const char *e, char *out, size_t size)
{
    size_t n = (size_t)(e - b);
    if (n >= size)
        n = size - 1;
    memcpy(out, b, n);
    out[n] = '\0';
}

/* The content of the last \boxed{...}, braces balanced. */
static bool find_boxed(const char *s, char *out, size_t size)
{
    const char *last = NULL;
    for (const char *p = strstr(s, "\\boxed{"); p; p = strstr(p + 1, "\\boxed{"))
        last = p;
    if (!last)
        return false;
    const char *b = last + strlen("\\boxed{"), *q = b;
    int depth = 1;
    for (; *q; q++) {
        if (*q == '{')
            depth++;
        else if (*q == '}' && --depth == 0)
            break;
    }
    if (depth != 0)
        return false;
    span(b, q, out, size);
    /* LaTeX thousands separators: 1{,}000 */
    for (char *t = strstr(out, "{,}"); t; t = strstr(t, "{,}")) {
        *t = ',';
        memmove(t + 1, t + 3, strlen(t + 3) + 1);
    }
    /* \text{Paris} inside the box */
    char *t = strstr(out, "\\text{");
    if (t == out) {
        memmove(out, out + 6, strlen(out + 6) + 1);
        size_t l = strlen(out);
        if (l && out[l - 1] == '}')
            out[l - 1] = '\0';
    }
    return true;
}

static bool is_word_start(const char *s, const char *p)
{
    return p == s || !isalnum((unsigned char)p[-1]);
}

/* The text after the last "answer:" / "answer is" / "answer would be" / "answer =", up to the
 * end of its sentence; when the phrase ends its line, the next non-empty line. */
static bool find_answer_line(const char *s, char *out, size_t size)
{
    const char *best = NULL;
    for (const char *p = s; *p; p++) {
        if ((*p != 'a' && *p != 'A') || !is_word_start(s, p) || strncasecmp(p, "answer", 6) != 0)
            continue;
        const char *q = p + 6;
        if (isalpha((unsigned char)*q))
            continue;
        while (*q == ' ' || *q == '*' || *q == '\t')
            q++;
        bool stated = false;
        if (*q == ':' || *q == '=') {
            q++;
            stated = true;
        } else if (strncasecmp(q, "is", 2) == 0 && !isalpha((unsigned char)q[2])) {
            q += 2;
            stated = true;
        } else if (strncasecmp(q, "would be", 8) == 0 || strncasecmp(q, "should be", 9) == 0) {
            q += q[0] == 'w' || q[0] == 'W' ? 8 : 9;
            stated = true;
        }
        if (stated)
            best = q;
    }
    if (!best)
        return false;
    const char *b = best;
    while (*b == ' ' || *b == '\t' || *b == '*' || *b == ':')
        b++;
    if (*b == '\r' || *b == '\n' || *b == '\0') {
        while (isspace((unsigned char)*b))
            b++;
        if (!*b)
            return false;
    }
    const char *e = b;
    while (*e && *e != '\n' && *e != '\r') {
        /* a sentence ends at ". " that is not a decimal point or an abbreviation of one letter */
        if (*e == '.' && (e[1] == ' ' || e[1] == '\0' || e[1] == '\n') && e > b &&
            !(e - b == 1))
            break;
        e++;
    }
    span(b, e, out, size);
    return true;
}

static bool find_last_line(const char *s, char *out, size_t size)
{
    const char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        e--;
    if (e == s)
        return false;
    const char *b = e;
    while (b > s && b[-1] != '\n')
        b--;
    span(b, e, out, size);
    return true;
}

/* Does candidate give the reference? Numbers by value (the candidate's last number), text
 * normalised, equal or ending with the reference as whole words ("The capital is Paris"). */
static bool matches(const char *cand, const char *ref_norm, bool ref_is_num, double ref_num)
{
    if (ref_is_num) {
        double v;
        if (ipw_exact_parse_number(cand, &v))
            return same_number(v, ref_num);
        return last_number(cand, cand + strlen(cand), &v) && same_number(v, ref_num);
    }
    char norm[NORM_MAX];
    ipw_exact_normalize(cand, norm, sizeof norm);
    if (strcmp(norm, ref_norm) == 0)
        return true;
    size_t nl = strlen(norm), rl = strlen(ref_norm);
    return rl > 0 && nl > rl && norm[nl - rl - 1] == ' ' &&
           strcmp(norm + nl - rl, ref_norm) == 0;
}

enum ipw_verdict ipw_score_exact(const char *response, const char *reference,
                                 enum ipw_exact_rule *rule, char *extracted, size_t extracted_size)
{
    enum ipw_exact_rule dummy_rule;
    char dummy[8];
    if (!rule)
        rule = &dummy_rule;
    if (!extracted || extracted_size == 0) {
        extracted = dummy;
        extracted_size = sizeof dummy;
    }
    *rule = IPW_EXACT_NONE;
    extracted[0] = '\0';
    char ref_norm[NORM_MAX];
    ipw_exact_normalize(reference, ref_norm, sizeof ref_norm);
    if (!ref_norm[0])
        return IPW_VERDICT_UNEVALUATED;
    double ref_num = 0;
    bool ref_is_num = ipw_exact_parse_number(reference, &ref_num);
    const char *s = ipw_text_after_think(response ? response : "");

    char whole[NORM_MAX];
    ipw_exact_normalize(s, whole, sizeof whole);
    double v;
    if (strcmp(whole, ref_norm) == 0 ||
        (ref_is_num && ipw_exact_parse_number(s, &v) && same_number(v, ref_num))) {
        *rule = IPW_EXACT_WHOLE;
        span(whole, whole + strlen(whole), extracted, extracted_size);
        return IPW_VERDICT_CORRECT;
    }
    char cand[NORM_MAX];
    if (find_boxed(s, cand, sizeof cand))
        *rule = IPW_EXACT_BOXED;
    else if (find_answer_line(s, cand, sizeof cand))
        *rule = IPW_EXACT_ANSWER_LINE;
    else if (find_last_line(s, cand, sizeof cand))
        *rule = IPW_EXACT_LAST_LINE;
    else
        return IPW_VERDICT_INCORRECT; /* an empty answer is a wrong answer */

    if (*rule == IPW_EXACT_LAST_LINE && ref_is_num && !last_number(cand, cand + strlen(cand), &v)) {
        /* the last line has no number: take the response's last number */
        if (!last_number(s, s + strlen(s), &v)) {
            span(cand, cand + strlen(cand), extracted, extracted_size);
            return IPW_VERDICT_INCORRECT;
        }
        *rule = IPW_EXACT_LAST_NUMBER;
        snprintf(extracted, extracted_size, "%.17g", v);
        return same_number(v, ref_num) ? IPW_VERDICT_CORRECT : IPW_VERDICT_INCORRECT;
    }
    span(cand, cand + strlen(cand), extracted, extracted_size);
    return matches(cand, ref_norm, ref_is_num, ref_num) ? IPW_VERDICT_CORRECT
                                                        : IPW_VERDICT_INCORRECT;
}
