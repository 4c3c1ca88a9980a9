/* Fuzzes the local scoring: mcq letter extraction and exact-answer comparison on arbitrary
 * responses and references (input: "reference \x01 prompt \x01 response"). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ipw/scoring.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    char *ref = s, *prompt = "", *resp = s;
    char *sep = strchr(s, '\x01');
    if (sep) {
        *sep = '\0';
        prompt = sep + 1;
        resp = prompt;
        char *sep2 = strchr(prompt, '\x01');
        if (sep2) {
            *sep2 = '\0';
            resp = sep2 + 1;
        }
    }
    enum ipw_mcq_rule rule;
    for (char max = 'A'; max <= 'Z'; max += 5) {
        char c = ipw_mcq_extract(resp, max, &rule);
        if (c && (c < 'A' || c > max))
            abort();
        if ((c == 0) != (rule == IPW_MCQ_NONE))
            abort();
    }
    char letter;
    enum ipw_verdict v = ipw_score_mcq(resp, ref, prompt, &rule, &letter);
    if ((unsigned)v > IPW_VERDICT_FAILED)
        abort();
    char extracted[64];
    enum ipw_exact_rule er;
    v = ipw_score_exact(resp, ref, &er, extracted, sizeof extracted);
    if (v == IPW_VERDICT_FAILED || strlen(extracted) >= sizeof extracted)
        abort();
    /* a response equal to its reference is correct (unless the reference itself holds a
     * reasoning block, which responses drop) */
    char norm[64];
    ipw_exact_normalize(ref, norm, sizeof norm);
    if (norm[0] && strlen(ref) < 60 && !strstr(ref, "</think>") &&
        ipw_score_exact(ref, ref, NULL, NULL, 0) !=
                                           IPW_VERDICT_CORRECT)
        abort();
    double d;
    ipw_exact_parse_number(resp, &d);
    ipw_item_kind_infer(prompt, ref);
    ipw_mcq_max_letter(prompt);
    free(s);
    return 0;
}
