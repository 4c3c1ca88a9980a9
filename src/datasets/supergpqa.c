/* SuperGPQA (m-a-p/SuperGPQA) rows: question, options, answer_letter (or the answer text),
 * discipline/field/subfield. Prompt exactly "{question}\nOptions:\nA. …\nB. …\nRespond with
 * the correct letter only." (SPEC §3.7); subject = subfield, else field, else discipline. */
#include <stdlib.h>
#include <string.h>

#include "datasets/presets.h"

/* Without answer_letter: the letter of the one option equal to the answer text. */
static ipw_err letter_from_text(json_t *row, const json_t *opts, char *letter, ipw_errbuf *eb)
{
    char *text = ds_string_field(row, "answer");
    if (!text)
        return ipw_fail(eb, IPW_E_INVALID, "missing field 'answer_letter'");
    size_t i, hits = 0;
    json_t *o;
    json_array_foreach(opts, i, o)
    {
        if (!strcmp(json_string_value(o), text)) {
            *letter = (char)('A' + i);
            hits++;
        }
    }
    free(text);
    if (hits != 1)
        return ipw_fail(eb, IPW_E_INVALID,
                        "missing field 'answer_letter' and the 'answer' text matches %s option",
                        hits ? "more than one" : "no");
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
    char letter = '\0';
    if (e == IPW_OK)
        e = ds_letter(json_object_get(row, "answer_letter"), "answer_letter",
                      json_array_size(opts), &letter, eb);
    if (e == IPW_OK && !letter)
        e = letter_from_text(row, opts, &letter, eb);
    if (e == IPW_OK) {
        static const char *const subj[] = {"subfield", "field", "discipline", NULL};
        e = ds_mcq_record(row, question, opts, letter, "\n",
                          "Respond with the correct letter only.", subj, rec, eb);
    }
    free(question);
    json_decref(opts);
    return e;
}

static const char *const params[] = {NULL};

const struct ipw_ds_preset ipw_ds_supergpqa = {
    .id = "supergpqa",
    .title = "SuperGPQA",
    .description = "m-a-p/SuperGPQA rows from a local file (--dataset-path)",
    .needs_path = true,
    .params = params,
    .path_hint = "a JSONL, JSON or CSV export of m-a-p/SuperGPQA (see docs/datasets.md)",
    .convert = convert,
};
