/* Local scoring: mcq letter extraction on realistic model responses, exact-match normalisation
 * and numeric equality, kind inference. */
#include "ipw_test.h"

#include <string.h>

#include "ipw/scoring.h"

struct mcq_case {
    const char *response;
    char want; /* 0: no letter should be found */
    enum ipw_mcq_rule rule;
};

static const struct mcq_case mcq_cases[] = {
    /* lone letters */
    {"C", 'C', IPW_MCQ_LONE},
    {"  c\n", 'C', IPW_MCQ_LONE},
    {"(B)", 'B', IPW_MCQ_LONE},
    {"**D**", 'D', IPW_MCQ_LONE},
    {"A.", 'A', IPW_MCQ_LONE},
    {"I", 'I', IPW_MCQ_LONE},
    {"B. 1945", 'B', IPW_MCQ_LONE},
    {"(C) The mitochondria", 'C', IPW_MCQ_LONE},
    /* boxed */
    {"We compute 2+2 = 4, which is option B.\n\n\\boxed{B}", 'B', IPW_MCQ_BOXED},
    {"Thus the final answer is $\\boxed{\\text{E}}$.", 'E', IPW_MCQ_BOXED},
    {"A is wrong. B is wrong. \\boxed{(D)}", 'D', IPW_MCQ_BOXED},
    /* answer statements */
    {"The answer is (C).", 'C', IPW_MCQ_STATEMENT},
    {"Answer: C", 'C', IPW_MCQ_STATEMENT},
    {"answer: c", 'C', IPW_MCQ_STATEMENT},
    {"The correct option is C because the enthalpy change is negative.", 'C', IPW_MCQ_STATEMENT},
    {"Let me think step by step. Option A ignores friction, and option B double counts the "
     "normal force. Therefore, the answer is D.",
     'D', IPW_MCQ_STATEMENT},
    {"The answer is C. A is wrong because it confuses mass and weight; B is wrong because the "
     "units do not match; D overstates the effect.",
     'C', IPW_MCQ_STATEMENT},
    {"Final Answer: **B**", 'B', IPW_MCQ_STATEMENT},
    {"The correct answer is option J, since the series diverges.", 'J', IPW_MCQ_STATEMENT},
    {"Final answer:\n\n(A)", 'A', IPW_MCQ_STATEMENT},
    {"After eliminating the others, I'd go with B.", 'B', IPW_MCQ_STATEMENT},
    {"The answer, I think, is E.", 'E', IPW_MCQ_STATEMENT},
    {"The best choice is (F) since it preserves the invariant.", 'F', IPW_MCQ_STATEMENT},
    {"Answer: I", 'I', IPW_MCQ_STATEMENT},
    {"The answer is a bit subtle. Options A and B both fail the boundary test, so the remaining "
     "candidate is C",
     'C', IPW_MCQ_LAST_LETTER},
    {"The answer is not A. Looking again, it must be (B).", 'B', IPW_MCQ_PAREN},
    {"<think>Maybe the answer is A? No, A violates conservation.</think>The answer is D.", 'D',
     IPW_MCQ_STATEMENT},
    /* bold */
    {"Looking at each option, the only one consistent with Ohm's law is **C**.", 'C',
     IPW_MCQ_BOLD},
    {"**A. London** - wrong, that is England's capital.\n**B. Paris** - correct.\n**C. Berlin** - "
     "wrong.\n\nFinal: **B. Paris**",
     'B', IPW_MCQ_BOLD},
    /* a line holding only the letter */
    {"Let's evaluate.\nThe derivative of x^2 is 2x, matching the third option.\n\nC", 'C',
     IPW_MCQ_LINE},
    {"Reasoning: the reaction is exothermic.\n\n> (G)", 'G', IPW_MCQ_LINE},
    {"Reasoning: the reaction is exothermic.\n\n**(G)**", 'G', IPW_MCQ_BOLD},
    /* parentheses */
    {"(A) is wrong, (B) is wrong, so (C).", 'C', IPW_MCQ_PAREN},
    {"I believe it's (H), given the listed constraints.", 'H', IPW_MCQ_PAREN},
    {"Only D) satisfies both conditions.", 'D', IPW_MCQ_CLOSEPAREN},
    /* last standalone letter, with articles and pronouns skipped */
    {"A is wrong, B is wrong, so C", 'C', IPW_MCQ_LAST_LETTER},
    {"I think it's B. A good argument can be made for it.", 'B', IPW_MCQ_LAST_LETTER},
    {"Both A and D look plausible, but D accounts for the tax. I would pick D over A as a "
     "rule.",
     'D', IPW_MCQ_STATEMENT},
    {"It has to be G, I'm fairly sure.", 'G', IPW_MCQ_LAST_LETTER},
    {"In the U.S. system this is handled by E.", 'E', IPW_MCQ_LAST_LETTER},
    {"This is a classic result; B matches what I remember from the textbook.", 'B',
     IPW_MCQ_LAST_LETTER},
    {"Choice E seems right to me.", 'E', IPW_MCQ_LAST_LETTER},
    /* letters inside words and no answer at all */
    {"I cannot determine this from the information given.", 0, IPW_MCQ_NONE},
    {"A good approach is to consider the energy balance; I am not sure.", 0, IPW_MCQ_NONE},
    {"", 0, IPW_MCQ_NONE},
    {"Vitamin K-dependent factors include Factor X.", 0, IPW_MCQ_NONE},
    /* letters beyond the listed options are not answers (options A-D here) */
    {"Z", 0, IPW_MCQ_NONE},
};

static const char *problem_abcd =
    "Which of the following is a noble gas?\n\nOptions:\nA. Oxygen\nB. Argon\nC. Nitrogen\nD. "
    "Hydrogen\n\nRespond with the correct letter.";

static void test_mcq_cases(void **state)
{
    (void)state;
    size_t n = sizeof mcq_cases / sizeof mcq_cases[0];
    assert_true(n >= 40);
    for (size_t i = 0; i < n; i++) {
        const struct mcq_case *c = &mcq_cases[i];
        char max = 'J';
        if (strcmp(c->response, "Z") == 0)
            max = ipw_mcq_max_letter(problem_abcd);
        enum ipw_mcq_rule rule;
        char got = ipw_mcq_extract(c->response, max, &rule);
        if (got != c->want || rule != c->rule)
            fail_msg("case %zu: \"%s\": got '%c' by %s, want '%c' by %s", i, c->response,
                     got ? got : '-', ipw_mcq_rule_name(rule), c->want ? c->want : '-',
                     ipw_mcq_rule_name(c->rule));
    }
}

static void test_mcq_helpers(void **state)
{
    (void)state;
    assert_int_equal(ipw_mcq_max_letter(problem_abcd), 'D');
    assert_int_equal(ipw_mcq_max_letter("no options here"), 'J');
    assert_int_equal(ipw_mcq_max_letter("Q?\n(A) x\n(B) y\n(C) z\n"), 'C');
    assert_int_equal(ipw_mcq_reference_letter("C"), 'C');
    assert_int_equal(ipw_mcq_reference_letter(" (b) "), 'B');
    assert_int_equal(ipw_mcq_reference_letter("C."), 'C');
    assert_int_equal(ipw_mcq_reference_letter("Paris"), 0);
    assert_int_equal(ipw_mcq_reference_letter(""), 0);
    char letter;
    enum ipw_mcq_rule rule;
    assert_int_equal(ipw_score_mcq("The answer is (B).", "B", problem_abcd, &rule, &letter),
                     IPW_VERDICT_CORRECT);
    assert_int_equal(letter, 'B');
    assert_int_equal(ipw_score_mcq("The answer is (C).", "B", problem_abcd, &rule, &letter),
                     IPW_VERDICT_INCORRECT);
    assert_int_equal(ipw_score_mcq("I don't know.", "B", problem_abcd, &rule, &letter),
                     IPW_VERDICT_INCORRECT);
    assert_int_equal(letter, 0);
    assert_int_equal(ipw_score_mcq("B", "", problem_abcd, NULL, NULL), IPW_VERDICT_UNEVALUATED);
    /* the reference is always a valid letter even when the prompt's options are not parsed */
    assert_int_equal(ipw_score_mcq("E", "E", problem_abcd, NULL, NULL), IPW_VERDICT_CORRECT);
}

struct exact_case {
    const char *response, *reference;
    enum ipw_verdict want;
    enum ipw_exact_rule rule;
};

static const struct exact_case exact_cases[] = {
    {"42", "42", IPW_VERDICT_CORRECT, IPW_EXACT_WHOLE},
    {"42.0", "42", IPW_VERDICT_CORRECT, IPW_EXACT_WHOLE},
    {"4.2e1", "42", IPW_VERDICT_CORRECT, IPW_EXACT_WHOLE},
    {"1,000", "1000", IPW_VERDICT_CORRECT, IPW_EXACT_WHOLE},
    {"1000", "1,000", IPW_VERDICT_CORRECT, IPW_EXACT_WHOLE},
    {"3/4", "0.75", IPW_VERDICT_CORRECT, IPW_EXACT_WHOLE},
    {"$5", "5", IPW_VERDICT_CORRECT, IPW_EXACT_WHOLE},
    {"50%", "50", IPW_VERDICT_CORRECT, IPW_EXACT_WHOLE},
    {"  Paris. ", "Paris", IPW_VERDICT_CORRECT, IPW_EXACT_WHOLE},
    {"**The Pacific Ocean**", "Pacific Ocean", IPW_VERDICT_CORRECT, IPW_EXACT_WHOLE},
    {"\"mercury\"", "Mercury", IPW_VERDICT_CORRECT, IPW_EXACT_WHOLE},
    {"41", "42", IPW_VERDICT_INCORRECT, IPW_EXACT_LAST_LINE},
    {"6 times 7 is 42.", "42", IPW_VERDICT_CORRECT, IPW_EXACT_LAST_LINE},
    {"First, 12 * 3 = 36. Then 36 + 6 = 42.\nAnswer: 42", "42", IPW_VERDICT_CORRECT,
     IPW_EXACT_ANSWER_LINE},
    {"The answer is 42. Check: 42 / 6 = 7.", "42", IPW_VERDICT_CORRECT, IPW_EXACT_ANSWER_LINE},
    {"The answer is 40. Hmm, 6*7 = 42.", "42", IPW_VERDICT_INCORRECT, IPW_EXACT_ANSWER_LINE},
    {"Adding them up gives \\boxed{1{,}000}", "1000", IPW_VERDICT_CORRECT, IPW_EXACT_BOXED},
    {"Adding them up gives \\boxed{1000}", "1,000", IPW_VERDICT_CORRECT, IPW_EXACT_BOXED},
    {"Final answer:\n\n3.14159", "3.14159", IPW_VERDICT_CORRECT, IPW_EXACT_ANSWER_LINE},
    {"The capital of France is Paris.", "Paris", IPW_VERDICT_CORRECT, IPW_EXACT_LAST_LINE},
    {"Paris is lovely, but the capital of Australia is Canberra.", "Sydney",
     IPW_VERDICT_INCORRECT, IPW_EXACT_LAST_LINE},
    {"The chemical symbol is Au.\nAnswer: gold", "Gold", IPW_VERDICT_CORRECT,
     IPW_EXACT_ANSWER_LINE},
    {"Water boils at 100 degrees Celsius at sea level.\nSo the temperature is one hundred.", "100",
     IPW_VERDICT_CORRECT, IPW_EXACT_LAST_NUMBER},
    {"", "42", IPW_VERDICT_INCORRECT, IPW_EXACT_NONE},
    {"anything", "", IPW_VERDICT_UNEVALUATED, IPW_EXACT_NONE},
    {"There are 3rd-party tools; the count is 7", "7", IPW_VERDICT_CORRECT, IPW_EXACT_LAST_LINE},
    {"-0.5", "-1/2", IPW_VERDICT_CORRECT, IPW_EXACT_WHOLE},
    {"<think>maybe 12</think>The result is 13.", "13", IPW_VERDICT_CORRECT, IPW_EXACT_LAST_LINE},
    {"The answer is an apple.", "apple", IPW_VERDICT_CORRECT, IPW_EXACT_ANSWER_LINE},
    {"It is 1,234,567 in total", "1234567", IPW_VERDICT_CORRECT, IPW_EXACT_LAST_LINE},
};

static void test_exact_cases(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof exact_cases / sizeof exact_cases[0]; i++) {
        const struct exact_case *c = &exact_cases[i];
        enum ipw_exact_rule rule;
        char ext[256];
        enum ipw_verdict v = ipw_score_exact(c->response, c->reference, &rule, ext, sizeof ext);
        if (v != c->want || rule != c->rule)
            fail_msg("case %zu: \"%s\" vs \"%s\": got %s by %s (\"%s\"), want %s by %s", i,
                     c->response, c->reference, ipw_verdict_name(v), ipw_exact_rule_name(rule),
                     ext, ipw_verdict_name(c->want), ipw_exact_rule_name(c->rule));
    }
}

static void test_exact_normalize(void **state)
{
    (void)state;
    char out[64];
    ipw_exact_normalize("  The   Quick\tBrown FOX!! ", out, sizeof out);
    assert_string_equal(out, "quick brown fox");
    ipw_exact_normalize("(\xE2\x80\x9CParis\xE2\x80\x9D.)", out, sizeof out);
    assert_string_equal(out, "paris");
    ipw_exact_normalize("a", out, sizeof out);
    assert_string_equal(out, "a");
    ipw_exact_normalize("`x_1`", out, sizeof out);
    assert_string_equal(out, "x_1");
    ipw_exact_normalize("abcdef", out, 4);
    assert_string_equal(out, "abc");
    double v;
    assert_true(ipw_exact_parse_number("-4.2E1", &v));
    assert_double_equal(v, -42, 0);
    assert_true(ipw_exact_parse_number("1,000,000.5", &v));
    assert_double_equal(v, 1000000.5, 0);
    assert_false(ipw_exact_parse_number("1,00", &v));
    assert_false(ipw_exact_parse_number("inf", &v));
    assert_false(ipw_exact_parse_number("nan", &v));
    assert_false(ipw_exact_parse_number("0x10", &v));
    assert_false(ipw_exact_parse_number("42 km", &v));
    assert_false(ipw_exact_parse_number("1/0", &v));
    assert_true(ipw_exact_parse_number(".5", &v));
    assert_double_equal(v, 0.5, 0);
}

static void test_kind(void **state)
{
    (void)state;
    enum ipw_item_kind k;
    assert_true(ipw_item_kind_parse("exact", &k));
    assert_int_equal(k, IPW_KIND_EXACT);
    assert_false(ipw_item_kind_parse("essay", &k));
    assert_int_equal(ipw_item_kind_infer(problem_abcd, "B"), IPW_KIND_MCQ);
    assert_int_equal(ipw_item_kind_infer("How many legs does a spider have?", "8"),
                     IPW_KIND_EXACT);
    assert_int_equal(ipw_item_kind_infer("Explain photosynthesis.", "Plants turn light..."),
                     IPW_KIND_OPEN);
    /* a one-letter reference without listed options is not an mcq */
    assert_int_equal(ipw_item_kind_infer("Which vitamin is made in the skin?", "D"),
                     IPW_KIND_OPEN);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mcq_cases),      cmocka_unit_test(test_mcq_helpers),
        cmocka_unit_test(test_exact_cases),    cmocka_unit_test(test_exact_normalize),
        cmocka_unit_test(test_kind),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
