/* MMLU-Pro (TIGER-Lab/MMLU-Pro) rows: question, options, answer letter and answer_index,
 * category. Prompt exactly "{question}\n\nOptions:\nA. {o0}\n…\n\nRespond with the correct
 * letter." (SPEC §3.7); the answer is the letter. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "datasets/presets.h"

/* answer_index as written: an integer, an integral real, or a decimal string (CSV).
 * *idx = -1 when absent or empty. */
static ipw_err answer_index(json_t *row, long *idx, ipw_errbuf *eb)
{
    *idx = -1;
    json_t *v = json_object_get(row, "answer_index");
    if (!v || json_is_null(v))
        return IPW_OK;
    if (json_is_integer(v)) {
        json_int_t i = json_integer_value(v);
        if (i < 0 || i > 1000)
            return ipw_fail(eb, IPW_E_INVALID, "field 'answer_index' is %lld, out of range",
                            (long long)i);
        *idx = (long)i;
        return IPW_OK;
    }
    if (json_is_real(v)) {
        double d = json_real_value(v);
        if (!(d >= 0 && d <= 1000) || d != (double)(long)d)
            return ipw_fail(eb, IPW_E_INVALID, "field 'answer_index' is %g, not an index", d);
        *idx = (long)d;
        return IPW_OK;
    }
    const char *s = json_string_value(v);
    if (!s)
        return ipw_fail(eb, IPW_E_INVALID, "field 'answer_index' is not a number");
    while (isspace((unsigned char)*s))
        s++;
    if (!*s)
        return IPW_OK;
    char *end;
    long i = strtol(s, &end, 10);
    while (isspace((unsigned char)*end))
        end++;
    if (end == s || *end || i < 0 || i > 1000)
        return ipw_fail(eb, IPW_E_INVALID, "field 'answer_index' is '%.40s', not an index", s);
    *idx = i;
    json_object_set_new(row, "answer_index", json_integer(i)); /* as in the HF dataset */
    return IPW_OK;
}

static ipw_err convert(void *state, json_t *row, struct ipw_dataset_record *rec, ipw_errbuf *eb)
{
    (void)state;
    char *question = ds_string_field(row, "question");
    if (!question)
        return ipw_fail(eb, IPW_E_INVALID,
                        json_is_string(json_object_get(row, "question"))
                            ? "field 'question' is empty"
                            : "missing field 'question'");
    json_t *opts = NULL;
    ipw_err e = ds_options(row, "options", &opts, eb);
    if (e != IPW_OK) {
        free(question);
        return e;
    }
    size_t n = json_array_size(opts);
    char letter;
    long idx;
    e = ds_letter(json_object_get(row, "answer"), "answer", n, &letter, eb);
    if (e == IPW_OK)
        e = answer_index(row, &idx, eb);
    if (e == IPW_OK && idx >= (long)n)
        e = ipw_fail(eb, IPW_E_INVALID, "field 'answer_index' is %ld but there are only %zu "
                                        "options", idx, n);
    if (e == IPW_OK && !letter && idx < 0)
        e = ipw_fail(eb, IPW_E_INVALID, "missing field 'answer' (and 'answer_index')");
    if (e == IPW_OK && letter && idx >= 0 && letter - 'A' != idx)
        e = ipw_fail(eb, IPW_E_INVALID,
                     "field 'answer' is %c but 'answer_index' %ld means %c; fix one of them",
                     letter, idx, (char)('A' + idx));
    if (e == IPW_OK) {
        static const char *const subj[] = {"category", NULL};
        e = ds_mcq_record(row, question, opts, letter ? letter : (char)('A' + idx), "\n\n",
                          "Respond with the correct letter.", subj, rec, eb);
    }
    free(question);
    json_decref(opts);
    return e;
}

static const char *const params[] = {NULL};

const struct ipw_ds_preset ipw_ds_mmlu_pro = {
    .id = "mmlu-pro",
    .title = "MMLU-Pro",
    .description = "TIGER-Lab/MMLU-Pro rows from a local JSONL/JSON/CSV file (--dataset-path)",
    .needs_path = true,
    .params = params,
    .path_hint = "a JSONL, JSON or CSV export of TIGER-Lab/MMLU-Pro (see docs/datasets.md)",
    .convert = convert,
};
