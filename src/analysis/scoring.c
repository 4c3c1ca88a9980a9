/* Multiple-choice scoring: finds the option letter a response chose, by rules tried in order of
 * precedence (docs/formats/analysis.md lists them with examples), and item-kind helpers. */
#include "analysis/text.h"
#include "ipw/scoring.h"

#include <ctype.h>
#include <stdint.h>
#include <string.h>

const char *ipw_item_kind_name(enum ipw_item_kind k)
{
    switch (k) {
    case IPW_KIND_MCQ: return "mcq";
    case IPW_KIND_EXACT: return "exact";
    case IPW_KIND_OPEN: return "open";
    }
    return "open";
}

bool ipw_item_kind_parse(const char *name, enum ipw_item_kind *out)
{
    if (!name)
        return false;
    if (strcmp(name, "mcq") == 0)
        *out = IPW_KIND_MCQ;
    else if (strcmp(name, "exact") == 0)
        *out = IPW_KIND_EXACT;
    else if (strcmp(name, "open") == 0)
        *out = IPW_KIND_OPEN;
    else
        return false;
    return true;
}

const char *ipw_verdict_name(enum ipw_verdict v)
{
    switch (v) {
    case IPW_VERDICT_CORRECT: return "correct";
    case IPW_VERDICT_INCORRECT: return "incorrect";
    case IPW_VERDICT_FAILED: return "failed";
    case IPW_VERDICT_UNEVALUATED: break;
    }
    return "unevaluated";
}

const char *ipw_mcq_rule_name(enum ipw_mcq_rule r)
{
    static const char *const names[] = {"none",  "lone", "boxed",       "statement", "bold",
                                        "line",  "paren", "close-paren", "last-letter"};
    return (unsigned)r < sizeof names / sizeof names[0] ? names[r] : "none";
}

/* Bytes of multi-byte UTF-8 count as word characters so that a Latin letter next to an accented
 * one is not taken for a standalone option. */
static bool wordc(unsigned char c) { return isalnum(c) || c == '_' || c >= 0x80; }
static bool upper_in(unsigned char c, char max) { return c >= 'A' && c <= (unsigned char)max; }
static bool markup(unsigned char c) { return c == '*' || c == '_' || c == '`' || c == '~'; }

/* Case-insensitive prefix test; returns the length of word when s starts with it as a whole
 * word, else 0. */
static size_t word_at(const char *s, const char *word)
{
    /* the first letter decides most calls (every word start of a response is tried against
     * each head word): no strlen for those */
    if (tolower((unsigned char)s[0]) != word[0])
        return 0;
    size_t n = strlen(word);
    for (size_t i = 0; i < n; i++)
        if (tolower((unsigned char)s[i]) != word[i])
            return 0;
    return wordc((unsigned char)s[n]) ? 0 : n;
}

char ipw_mcq_max_letter(const char *problem)
{
    bool seen[26] = {false};
    const char *p = problem ? problem : "";
    while (*p) {
        while (*p == ' ' || *p == '\t')
            p++;
        const char *q = p;
        if (*q == '(')
            q++;
        if (*q >= 'A' && *q <= 'Z') {
            char c = q[1];
            bool opener = (*p == '(' && c == ')') ||
                          (*p != '(' && (c == '.' || c == ')' || c == ':'));
            if (opener && (q[2] == ' ' || q[2] == '\t'))
                seen[*q - 'A'] = true;
        }
        const char *nl = strchr(p, '\n');
        if (!nl)
            break;
        p = nl + 1;
    }
    if (!seen[0] || !seen[1])
        return 'J';
    int last = 1;
    while (last + 1 < 26 && seen[last + 1])
        last++;
    return (char)('A' + last);
}

char ipw_mcq_reference_letter(const char *reference)
{
    if (!reference)
        return 0;
    const char *p = reference;
    while (isspace((unsigned char)*p) || *p == '(' || markup((unsigned char)*p))
        p++;
    char c = (char)toupper((unsigned char)*p);
    if (c < 'A' || c > 'Z')
        return 0;
    p++;
    while (*p == ')' || *p == '.' || markup((unsigned char)*p) || isspace((unsigned char)*p))
        p++;
    return *p ? 0 : c;
}

/* Words after which "A" or "I" is still an option letter ("A is wrong", "B and C"). */
static bool letter_verb(const char *w)
{
    static const char *const verbs[] = {"is", "was", "and", "or", "seems", "appears", "fits",
                                        "matches", "remains", "because", "since"};
    for (size_t i = 0; i < sizeof verbs / sizeof verbs[0]; i++)
        if (word_at(w, verbs[i]))
            return true;
    return false;
}

/* Rule LONE: the whole response is one letter, possibly wrapped in markup and punctuation, or a
 * single short line that starts with an option marker ("B. 1945", "(C) Paris"). */
static char rule_lone(const char *s, char max)
{
    const char *b = s, *e = s + strlen(s);
    while (b < e && (isspace((unsigned char)*b) || markup((unsigned char)*b) || *b == '(' ||
                     *b == '[' || *b == '"' || *b == '\''))
        b++;
    while (e > b && (isspace((unsigned char)e[-1]) || markup((unsigned char)e[-1]) ||
                     strchr(").]:\"'", e[-1])))
        e--;
    if (e - b == 1) {
        unsigned char c = (unsigned char)toupper((unsigned char)*b);
        return upper_in(c, max) ? (char)c : 0;
    }
    /* one short line starting "X. text", "X) text" or "(X) text" */
    const char *t = s;
    while (isspace((unsigned char)*t) || markup((unsigned char)*t))
        t++;
    size_t len = strlen(t);
    while (len && isspace((unsigned char)t[len - 1]))
        len--;
    if (len == 0 || len > 200 || memchr(t, '\n', len))
        return 0;
    bool paren = *t == '(';
    const char *l = t + (paren ? 1 : 0);
    if (!upper_in((unsigned char)*l, max))
        return 0;
    if (paren ? l[1] != ')' : (l[1] != '.' && l[1] != ')'))
        return 0;
    const char *after = l + 2;
    while (markup((unsigned char)*after))
        after++;
    if (*after != ' ')
        return 0;
    /* "(A) is wrong, (B) is wrong, so (C)" walks through options, it does not pick one */
    while (*after == ' ')
        after++;
    if (letter_verb(after))
        return 0;
    for (const char *r = after; r < t + len; r++)
        if (*r == ')' && r - after >= 1 && upper_in((unsigned char)r[-1], max) &&
            (r - after == 1 || !wordc((unsigned char)r[-2])))
            return 0;
    return *l;
}

/* Rule BOXED: the last \boxed{X} (also \boxed{\text{X}}, \boxed{(X)}). */
static char rule_boxed(const char *s, char max)
{
    char found = 0;
    for (const char *p = strstr(s, "\\boxed{"); p; p = strstr(p + 1, "\\boxed{")) {
        const char *q = p + strlen("\\boxed{");
        static const char *const wraps[] = {"\\text{", "\\textbf{", "\\mathrm{", "\\mathbf{"};
        for (size_t i = 0; i < sizeof wraps / sizeof wraps[0]; i++)
            if (strncmp(q, wraps[i], strlen(wraps[i])) == 0)
                q += strlen(wraps[i]);
        while (*q == ' ' || *q == '(')
            q++;
        unsigned char c = (unsigned char)toupper((unsigned char)*q);
        if (upper_in(c, max) && !wordc((unsigned char)q[1]))
            found = (char)c;
    }
    return found;
}

/* Words that may sit between an answer phrase and the letter ("the answer is therefore C"). */
static const char *const bridge_words[] = {
    "is", "would", "will", "should", "must", "be", "was", "seems", "appears", "to", "option",
    "choice", "letter", "therefore", "thus", "then", "so", "here", "final", "correct", "right",
    "best", "most", "likely", "probably", "definitely", "clearly", "indeed", "hence",
    "think", "believe", "am", "with", "go", "answer", "the",
};

/* After an answer phrase ending at p: skips bridge words and punctuation, then reads the
 * letter. Returns it, or 0 when the phrase is not followed by a letter (or is negated). */
static char read_stated_letter(const char *p, char max)
{
    const char *start = p;
    for (;;) {
        while (*p && (isspace((unsigned char)*p) || markup((unsigned char)*p) ||
                      strchr(":=-\"'>,", *p)))
            p++;
        if (p - start > 60)
            return 0;
        if (word_at(p, "not") || word_at(p, "none") || word_at(p, "neither"))
            return 0;
        /* the pronoun in "the answer, I think, is C" (but "Answer: I" is option I) */
        if ((*p == 'I' || *p == 'i') && p[1] == ' ' && islower((unsigned char)p[2])) {
            p++;
            continue;
        }
        size_t n = 0;
        for (size_t i = 0; i < sizeof bridge_words / sizeof bridge_words[0] && !n; i++)
            n = word_at(p, bridge_words[i]);
        if (!n)
            break;
        p += n;
    }
    bool bracket = *p == '(' || *p == '[' || *p == '{';
    if (bracket)
        p++;
    while (markup((unsigned char)*p))
        p++;
    unsigned char c = (unsigned char)*p;
    if (c == '\0' || wordc((unsigned char)p[1]))
        return 0;
    if (upper_in(c, max))
        return (char)c;
    /* a lower-case letter only when unambiguous: bracketed, or ending the line/text */
    if (c >= 'a' && upper_in((unsigned char)toupper(c), max)) {
        if (bracket)
            return (char)toupper(c);
        const char *q = p + 1;
        while (*q == '.' || *q == ')' || markup((unsigned char)*q) || *q == ' ' || *q == '\t')
            q++;
        if (*q == '\0' || *q == '\n' || *q == '\r')
            return (char)toupper(c);
    }
    return 0;
}

/* Rule STATEMENT: the last "answer is X" / "Answer: X" / "correct option is X" / "I choose X". */
static char rule_statement(const char *s, char max)
{
    static const char *const heads[] = {"answer", "option", "choice", "letter", "choose",
                                        "select", "pick", "go with"};
    char found = 0;
    for (const char *p = s; *p; p++) {
        if (p != s && wordc((unsigned char)p[-1]))
            continue;
        for (size_t h = 0; h < sizeof heads / sizeof heads[0]; h++) {
            size_t n = word_at(p, heads[h]);
            if (!n)
                continue;
            /* "option"/"choice"/"letter" alone only name an option ("option A is wrong"):
             * they state the answer only after correct/right/best/final */
            if (h >= 1 && h <= 3) {
                const char *b = p;
                while (b > s && b[-1] == ' ')
                    b--;
                const char *w = b;
                while (w > s && isalpha((unsigned char)w[-1]))
                    w--;
                if (!(word_at(w, "correct") || word_at(w, "right") || word_at(w, "best") ||
                      word_at(w, "final")))
                    continue;
            }
            char c = read_stated_letter(p + n, max);
            if (c)
                found = c;
            break;
        }
    }
    return found;
}

static const char *line_end(const char *p)
{
    const char *nl = strchr(p, '\n');
    return nl ? nl : p + strlen(p);
}

/* Rule BOLD: the last **X** (or **X) text**, **(X)**) with nothing but punctuation after it on
 * its line: a bold letter followed by more text is usually a heading in a walk through the
 * options ("**A. London** - wrong"). */
static char rule_bold(const char *s, char max)
{
    char found = 0;
    const char *p = s;
    while ((p = strstr(p, "**")) != NULL) {
        const char *open = p + 2;
        const char *close = strstr(open, "**");
        if (!close)
            break;
        const char *nl = memchr(open, '\n', (size_t)(close - open));
        if (nl || close - open > 120) {
            p = nl ? nl : close;
            continue;
        }
        const char *q = open;
        while (*q == ' ' || *q == '(')
            q++;
        unsigned char c = (unsigned char)*q;
        bool ok = upper_in(c, max) && (q + 1 == close || !wordc((unsigned char)q[1]));
        if (ok) {
            const char *r = close + 2, *end = line_end(r);
            for (; r < end; r++)
                if (wordc((unsigned char)*r))
                    ok = false;
        }
        if (ok)
            found = (char)c;
        p = close + 2;
    }
    return found;
}

/* Rule LINE: the last line that holds only a letter ("C", "(C)", "C.", "> **C**"). */
static char rule_line(const char *s, char max)
{
    char found = 0;
    const char *p = s;
    while (*p) {
        const char *e = line_end(p);
        const char *b = p;
        while (b < e && (isspace((unsigned char)*b) || markup((unsigned char)*b) || *b == '>' ||
                         *b == '#' || *b == '(' || *b == '['))
            b++;
        const char *t = e;
        while (t > b && (isspace((unsigned char)t[-1]) || markup((unsigned char)t[-1]) ||
                         strchr(").]", t[-1])))
            t--;
        if (t - b == 1) {
            unsigned char c = (unsigned char)toupper((unsigned char)*b);
            if (upper_in(c, max))
                found = (char)c;
        }
        p = *e ? e + 1 : e;
    }
    return found;
}

/* Rule PAREN: the last "(X)". */
static char rule_paren(const char *s, char max)
{
    char found = 0;
    for (const char *p = strchr(s, '('); p; p = strchr(p + 1, '('))
        if (upper_in((unsigned char)p[1], max) && p[2] == ')')
            found = p[1];
    return found;
}

/* Rule CLOSEPAREN: the last "X)" not inside a word. */
static char rule_closeparen(const char *s, char max)
{
    char found = 0;
    for (const char *p = strchr(s, ')'); p; p = strchr(p + 1, ')'))
        if (p - s >= 1 && upper_in((unsigned char)p[-1], max) &&
            (p - s == 1 || !wordc((unsigned char)p[-2])))
            found = p[-1];
    return found;
}

/* Rule LAST_LETTER: the last standalone capital option letter, skipping the article "A" and the
 * pronoun "I" ("A good answer", "I think"), abbreviations ("U.S.") and contractions ("I'm"). */
static char rule_last_letter(const char *s, char max)
{
    char found = 0;
    size_t n = strlen(s);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!upper_in(c, max))
            continue;
        if (i > 0 && wordc((unsigned char)s[i - 1]))
            continue;
        unsigned char nx = (unsigned char)s[i + 1];
        if (wordc(nx))
            continue;
        /* abbreviations: "U.S.", "e.g. A.B." */
        if (nx == '.' && wordc((unsigned char)s[i + 2]))
            continue;
        if (i >= 2 && s[i - 1] == '.' && wordc((unsigned char)s[i - 2]))
            continue;
        if (i >= 2 && (s[i - 1] == '\'' || s[i - 1] == '-') && wordc((unsigned char)s[i - 2]))
            continue;
        if (c == 'A' || c == 'I') {
            if (c == 'I' && (nx == '\'' || (nx == 0xE2 && (unsigned char)s[i + 2] == 0x80)))
                continue; /* I'm, I’d */
            if (nx == ' ' && islower((unsigned char)s[i + 2]) && !letter_verb(s + i + 2))
                continue;
        }
        found = (char)c;
    }
    return found;
}

char ipw_mcq_extract(const char *response, char max_letter, enum ipw_mcq_rule *rule)
{
    if (rule)
        *rule = IPW_MCQ_NONE;
    if (!response)
        return 0;
    if (max_letter < 'A' || max_letter > 'Z')
        max_letter = 'J';
    const char *s = ipw_text_after_think(response);
    typedef char (*rule_fn)(const char *, char);
    static const struct {
        rule_fn fn;
        enum ipw_mcq_rule id;
    } rules[] = {
        {rule_lone, IPW_MCQ_LONE},           {rule_boxed, IPW_MCQ_BOXED},
        {rule_statement, IPW_MCQ_STATEMENT}, {rule_bold, IPW_MCQ_BOLD},
        {rule_line, IPW_MCQ_LINE},           {rule_paren, IPW_MCQ_PAREN},
        {rule_closeparen, IPW_MCQ_CLOSEPAREN}, {rule_last_letter, IPW_MCQ_LAST_LETTER},
    };
    for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++) {
        char c = rules[i].fn(s, max_letter);
        if (c) {
            if (rule)
                *rule = rules[i].id;
            return c;
        }
    }
    return 0;
}

enum ipw_verdict ipw_score_mcq(const char *response, const char *reference, const char *problem,
                               enum ipw_mcq_rule *rule, char *letter)
{
    if (rule)
        *rule = IPW_MCQ_NONE;
    if (letter)
        *letter = 0;
    char ref = ipw_mcq_reference_letter(reference);
    if (!ref)
        return IPW_VERDICT_UNEVALUATED;
    char max = ipw_mcq_max_letter(problem);
    if (ref > max)
        max = ref;
    char got = ipw_mcq_extract(response, max, rule);
    if (letter)
        *letter = got;
    return got == ref ? IPW_VERDICT_CORRECT : IPW_VERDICT_INCORRECT;
}

enum ipw_item_kind ipw_item_kind_infer(const char *problem, const char *reference)
{
    double v;
    if (ipw_mcq_reference_letter(reference) && reference && strlen(reference) <= 4) {
        /* a prompt listing at least options A and B (max letter found from its lines) */
        const char *p = problem ? problem : "";
        bool listed = strstr(p, "\nA.") || strstr(p, "\nA)") || strstr(p, "\n(A)") ||
                      strstr(p, "\nA:");
        if (listed)
            return IPW_KIND_MCQ;
    }
    if (reference && ipw_exact_parse_number(reference, &v))
        return IPW_KIND_EXACT;
    return IPW_KIND_OPEN;
}
