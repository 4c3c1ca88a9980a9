/* The built-in ipw dataset (data/datasets/ipw.jsonl, compiled in): items written for this
 * project, each with problem, answer, subject and kind. A file in the same layout can stand in
 * for it with --dataset-path. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "datasets/presets.h"

/* The option line "\nX. " must exist for a multiple-choice answer X. */
static bool has_option(const char *problem, char letter)
{
    char pat[5] = {'\n', letter, '.', ' ', '\0'};
    return strstr(problem, pat) != NULL;
}

static ipw_err convert(void *state, json_t *row, struct ipw_dataset_record *rec, ipw_errbuf *eb)
{
    (void)state;
    static const char *const fields[] = {"problem", "answer", "kind"};
    for (size_t i = 0; i < 3; i++) {
        json_t *v = json_object_get(row, fields[i]);
        if (!v)
            return ipw_fail(eb, IPW_E_INVALID, "missing field '%s'", fields[i]);
        if (!json_is_string(v))
            return ipw_fail(eb, IPW_E_INVALID, "field '%s' is not a string", fields[i]);
    }
    rec->problem = ds_string_field(row, "problem");
    rec->answer = ds_string_field(row, "answer");
    if (!rec->problem || !rec->answer)
        return ipw_fail(eb, IPW_E_INVALID, "field '%s' is empty",
                        rec->problem ? "answer" : "problem");
    const char *kind = json_string_value(json_object_get(row, "kind"));
    if (strcmp(kind, "mcq") && strcmp(kind, "exact") && strcmp(kind, "open"))
        return ipw_fail(eb, IPW_E_INVALID, "field 'kind' is '%.20s'; use mcq, exact or open",
                        kind);
    ds_set_kind(rec, kind);
    if (!strcmp(kind, "mcq")) {
        const char *a = rec->answer;
        if (strlen(a) != 1 || a[0] < 'A' || a[0] > 'Z')
            return ipw_fail(eb, IPW_E_INVALID, "multiple-choice answer '%.40s' is not a letter",
                            a);
        if (!has_option(rec->problem, a[0]))
            return ipw_fail(eb, IPW_E_INVALID,
                            "answer %c is not among the options of the problem (no line "
                            "\"%c. …\")",
                            a[0], a[0]);
    }
    static const char *const subj[] = {"subject", NULL};
    return ds_subject(row, subj, rec, eb);
}

static const char *const params[] = {NULL};

const struct ipw_ds_preset ipw_ds_builtin = {
    .id = "ipw",
    .title = "ipw",
    .description = "built-in mixed set (multiple choice, exact answers, open-ended), shipped "
                   "with ipw",
    .is_default = true,
    .needs_path = false,
    .params = params,
    .convert = convert,
};
