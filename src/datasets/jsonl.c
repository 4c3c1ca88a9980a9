/* The generic dataset: any JSONL (or JSON/CSV) file, its fields named by --dataset-param
 * prompt_field=… answer_field=… subject_field=… kind_field=… (dotted paths reach nested
 * values), or kind=/subject= fixed for every row. Defaults read the ipw layout (problem,
 * answer, subject, kind); rows without a kind are "open". */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "datasets/presets.h"

struct jl {
    char *prompt, *answer, *subject, *kind_field;
    char *subject_fixed;
    char kind[8];
    bool answer_explicit;
    bool no_answers;   /* answer_field=none: prompts without references, nothing to score */
    size_t rows, answered; /* rows converted, and those that had the answer field */
    char fields[160];  /* the first row's field names, for the message when none answered */
};

static void fini(void *state)
{
    struct jl *j = state;
    if (!j)
        return;
    free(j->prompt);
    free(j->answer);
    free(j->subject);
    free(j->kind_field);
    free(j->subject_fixed);
    free(j);
}

static bool valid_kind(const char *k, char out[8])
{
    static const char *const kinds[] = {"mcq", "exact", "open"};
    for (size_t i = 0; i < 3; i++)
        if (!strcasecmp(k, kinds[i])) {
            strcpy(out, kinds[i]);
            return true;
        }
    return false;
}

/* A string parameter, or def when not given. */
static ipw_err param(const json_t *params, const char *key, const char *def, char **out,
                     bool *given, ipw_errbuf *eb)
{
    json_t *v = json_object_get(params, key);
    if (given)
        *given = v != NULL;
    const char *s = v ? json_string_value(v) : def;
    if (v && (!s || !*s))
        return ipw_fail(eb, IPW_E_INVALID, "--dataset-param %s needs a non-empty name", key);
    *out = s ? strdup(s) : NULL;
    if (s && !*out)
        return ipw_fail(eb, IPW_E_NOMEM, "out of memory");
    return IPW_OK;
}

static ipw_err init(const json_t *params, void **state, ipw_errbuf *eb)
{
    struct jl *j = calloc(1, sizeof *j);
    if (!j)
        return ipw_fail(eb, IPW_E_NOMEM, "out of memory");
    *state = j;
    ipw_err e = param(params, "prompt_field", "problem", &j->prompt, NULL, eb);
    if (e == IPW_OK)
        e = param(params, "answer_field", "answer", &j->answer, &j->answer_explicit, eb);
    if (e == IPW_OK && j->answer_explicit && strcmp(j->answer, "none") == 0)
        j->no_answers = true;
    if (e == IPW_OK)
        e = param(params, "subject_field", "subject", &j->subject, NULL, eb);
    if (e == IPW_OK)
        e = param(params, "kind_field", "kind", &j->kind_field, NULL, eb);
    if (e == IPW_OK)
        e = param(params, "subject", NULL, &j->subject_fixed, NULL, eb);
    char *kind = NULL;
    if (e == IPW_OK)
        e = param(params, "kind", NULL, &kind, NULL, eb);
    if (e == IPW_OK && kind && !valid_kind(kind, j->kind))
        e = ipw_fail(eb, IPW_E_INVALID,
                     "--dataset-param kind=%s is not a kind; use mcq, exact or open", kind);
    free(kind);
    return e;
}

static void note_fields(struct jl *j, const json_t *row)
{
    const char *key;
    const json_t *v;
    size_t n = 0;
    json_object_foreach((json_t *)row, key, v)
    {
        (void)v;
        int w = snprintf(j->fields + n, sizeof j->fields - n, "%s%s", n ? ", " : "", key);
        if (w < 0 || (size_t)w >= sizeof j->fields - n) {
            memcpy(j->fields + sizeof j->fields - 4, "...", 4); /* cut short, and says so */
            break;
        }
        n += (size_t)w;
    }
}

/* A file whose rows never have the answer field would be profiled in full and then scored as
 * "unevaluated" (blaming the judge): say so before anything is measured. */
static ipw_err finish(void *state, const char *label, ipw_errbuf *eb)
{
    struct jl *j = state;
    if (j->no_answers || j->answered || !j->rows)
        return IPW_OK;
    return ipw_fail(eb, IPW_E_INVALID,
                    "no row of %s has the answer field '%s' (fields seen: %s); use "
                    "--dataset-param answer_field=NAME, or answer_field=none for prompts "
                    "without reference answers",
                    label, j->answer, j->fields[0] ? j->fields : "none");
}

static ipw_err convert(void *state, json_t *row, struct ipw_dataset_record *rec, ipw_errbuf *eb)
{
    struct jl *j = state;
    json_t *pv = ds_get(row, j->prompt);
    if (!pv)
        return ipw_fail(eb, IPW_E_INVALID, "missing field '%s' (the prompt; set "
                                           "--dataset-param prompt_field=NAME)", j->prompt);
    if (!json_is_string(pv))
        return ipw_fail(eb, IPW_E_INVALID, "field '%s' (the prompt) is not a string",
                        j->prompt);
    char *trimmed = ds_strdup_trim(json_string_value(pv));
    bool empty = trimmed && !*trimmed;
    free(trimmed);
    if (empty)
        return ipw_fail(eb, IPW_E_INVALID, "field '%s' (the prompt) is empty", j->prompt);
    rec->problem = strdup(json_string_value(pv)); /* sent exactly as written */

    json_t *av = j->no_answers ? NULL : ds_get(row, j->answer);
    if (!av && j->answer_explicit && !j->no_answers)
        return ipw_fail(eb, IPW_E_INVALID, "missing field '%s' (the answer)", j->answer);
    if (j->rows++ == 0)
        note_fields(j, row);
    j->answered += av != NULL;
    char *raw = ds_text(av);
    rec->answer = ds_strdup_trim(raw ? raw : "");
    free(raw);

    if (j->kind[0]) {
        ds_set_kind(rec, j->kind);
    } else {
        json_t *kv = ds_get(row, j->kind_field);
        if (kv && (!json_is_string(kv) || !valid_kind(json_string_value(kv), rec->kind)))
            return ipw_fail(eb, IPW_E_INVALID,
                            "field '%s' must be mcq, exact or open", j->kind_field);
        if (!kv)
            ds_set_kind(rec, "open");
    }
    if (!rec->problem || !rec->answer)
        return ipw_fail(eb, IPW_E_NOMEM, "out of memory");
    if (!strcmp(rec->kind, "mcq")) {
        const char *a = rec->answer;
        if (strlen(a) != 1 || !isalpha((unsigned char)a[0]))
            return ipw_fail(eb, IPW_E_INVALID,
                            "a multiple-choice row needs a one-letter answer, '%s' is '%.40s'",
                            j->answer, a);
        rec->answer[0] = (char)toupper((unsigned char)a[0]);
    }
    if (j->subject_fixed) {
        rec->subject = strdup(j->subject_fixed);
        return rec->subject ? IPW_OK : ipw_fail(eb, IPW_E_NOMEM, "out of memory");
    }
    char *subj = ds_text(ds_get(row, j->subject));
    rec->subject = subj ? ds_strdup_trim(subj) : NULL;
    free(subj);
    if (rec->subject && !*rec->subject) {
        free(rec->subject);
        rec->subject = NULL;
    }
    if (!rec->subject)
        rec->subject = strdup("general");
    return rec->subject ? IPW_OK : ipw_fail(eb, IPW_E_NOMEM, "out of memory");
}

static const char *const params[] = {"prompt_field", "answer_field", "subject_field",
                                     "kind_field",   "kind",         "subject",       NULL};

const struct ipw_ds_preset ipw_ds_jsonl = {
    .id = "jsonl",
    .title = NULL,
    .description = "any JSONL/JSON/CSV with --dataset-param prompt_field=... answer_field=...",
    .needs_path = true,
    .params = params,
    .path_hint = "a JSONL (or JSON/CSV) file with one prompt per row; name its fields with "
                 "--dataset-param prompt_field=NAME answer_field=NAME",
    .init = init,
    .convert = convert,
    .finish = finish,
    .fini = fini,
};
