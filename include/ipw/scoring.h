/* Local scoring of model responses (SPEC §4.1): the chosen letter of a multiple-choice answer and
 * normalised exact-match comparison. Open-ended items need the LLM judge (ipw/judge.h). */
#ifndef IPW_SCORING_H
#define IPW_SCORING_H

#include <stdbool.h>
#include <stddef.h>

/* How an item is scored; from the record's "kind" (or inferred, see ipw_item_kind_infer). */
enum ipw_item_kind { IPW_KIND_MCQ = 0, IPW_KIND_EXACT, IPW_KIND_OPEN };

/* The outcome of scoring one query. FAILED: the query itself failed or the judge could not
 * give a verdict; never counted as wrong. */
enum ipw_verdict {
    IPW_VERDICT_UNEVALUATED = 0,
    IPW_VERDICT_CORRECT,
    IPW_VERDICT_INCORRECT,
    IPW_VERDICT_FAILED
};

const char *ipw_item_kind_name(enum ipw_item_kind k);
/* "mcq" | "exact" | "open"; false when the name is unknown. */
bool ipw_item_kind_parse(const char *name, enum ipw_item_kind *out);
/* For records without a "kind": mcq when the reference is a single letter and the prompt lists
 * lettered options, exact when the reference is a number, otherwise open. */
enum ipw_item_kind ipw_item_kind_infer(const char *problem, const char *reference);
const char *ipw_verdict_name(enum ipw_verdict v);

/* Which rule found the letter; the names are documented in docs/formats/analysis.md. */
enum ipw_mcq_rule {
    IPW_MCQ_NONE = 0,
    IPW_MCQ_LONE,        /* the whole response is one letter: "C", "(c)", "**C.**" */
    IPW_MCQ_BOXED,       /* \boxed{C} */
    IPW_MCQ_STATEMENT,   /* "the answer is (C)", "Answer: C", "correct option is C" */
    IPW_MCQ_BOLD,        /* **C** or **C) Paris** */
    IPW_MCQ_LINE,        /* a line holding only the letter: "C." on its own line */
    IPW_MCQ_PAREN,       /* the last "(C)" */
    IPW_MCQ_CLOSEPAREN,  /* the last "C)" */
    IPW_MCQ_LAST_LETTER  /* the last standalone option letter (articles/pronouns skipped) */
};
const char *ipw_mcq_rule_name(enum ipw_mcq_rule r);

/* Highest option letter listed in a prompt ("A." / "A)" / "(A)" at line starts, consecutive
 * from A); 'J' when the prompt lists none (MMLU-Pro has up to ten options). */
char ipw_mcq_max_letter(const char *problem);

/* The letter chosen in response (upper case, 'A'..max_letter), or 0 when none is found;
 * *rule (may be NULL) says which rule matched. Text before a closing </think> is ignored. */
char ipw_mcq_extract(const char *response, char max_letter, enum ipw_mcq_rule *rule);

/* The reference letter of an mcq item: "C", "(C)", "C." or "c"; 0 when it is not one letter. */
char ipw_mcq_reference_letter(const char *reference);

/* Normalises text for exact comparison into out (bounded): lower case, markdown emphasis and
 * surrounding punctuation removed, inner whitespace collapsed, leading article dropped. */
void ipw_exact_normalize(const char *in, char *out, size_t out_size);
/* Parses a number the way answers write them: "42", "-4.2e1", "1,000", "3/4", "50%", "$5";
 * false when text (after normalisation) is not exactly one number. */
bool ipw_exact_parse_number(const char *text, double *out);

/* Which part of the response an exact comparison used. */
enum ipw_exact_rule {
    IPW_EXACT_NONE = 0,
    IPW_EXACT_WHOLE,      /* the whole response equals the reference */
    IPW_EXACT_BOXED,      /* \boxed{...} */
    IPW_EXACT_ANSWER_LINE,/* the text after "answer:" / "answer is" */
    IPW_EXACT_LAST_LINE,  /* the last non-empty line */
    IPW_EXACT_LAST_NUMBER /* the last number in the response (numeric references) */
};
const char *ipw_exact_rule_name(enum ipw_exact_rule r);

/* Scores response against reference. Returns UNEVALUATED when the reference is empty.
 * extracted (may be NULL) receives the candidate answer that was compared. */
enum ipw_verdict ipw_score_exact(const char *response, const char *reference,
                                 enum ipw_exact_rule *rule, char *extracted, size_t extracted_size);

/* Scores an mcq response; UNEVALUATED when the reference is not a letter. */
enum ipw_verdict ipw_score_mcq(const char *response, const char *reference, const char *problem,
                               enum ipw_mcq_rule *rule, char *letter);

#endif
