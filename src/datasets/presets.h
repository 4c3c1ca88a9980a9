/* Private to the datasets: one preset per dataset id (how a source row becomes a record), and
 * the field helpers the presets share. */
#ifndef IPW_DATASETS_PRESETS_H
#define IPW_DATASETS_PRESETS_H

#include <jansson.h>
#include <stdbool.h>

#include "ipw/dataset.h"

/* Everything that names or describes a dataset is here too: the registry (dataset.c) derives
 * --dataset's choices, `ipw list datasets` and the messages from these. */
struct ipw_ds_preset {
    const char *id;
    const char *title;         /* "MMLU-Pro", for the dataset's display name */
    const char *description;   /* one line for `ipw list datasets` */
    bool is_default;           /* the dataset used when none is named (exactly one) */
    bool needs_path;           /* reads --dataset-path (else built in) */
    const char *const *params; /* --dataset-param keys it accepts, besides format/max_row_bytes */
    const char *path_hint;     /* what --dataset-path should be, for the missing-path error */
    ipw_err (*init)(const json_t *params, void **state, ipw_errbuf *eb); /* may be NULL */
    /* Sets problem, answer, subject and kind; the row may be normalised in place (a list cell
     * parsed). A malformed row is IPW_E_INVALID with a message that names the field but not the
     * file or line (the caller adds them). */
    ipw_err (*convert)(void *state, json_t *row, struct ipw_dataset_record *rec, ipw_errbuf *eb);
    /* Called once every row is read (may be NULL): checks that hold for the whole file, such
     * as a field no row has (label names the file in messages). */
    ipw_err (*finish)(void *state, const char *label, ipw_errbuf *eb);
    void (*fini)(void *state); /* may be NULL */
};

extern const struct ipw_ds_preset ipw_ds_builtin;
extern const struct ipw_ds_preset ipw_ds_mmlu_pro;
extern const struct ipw_ds_preset ipw_ds_supergpqa;
extern const struct ipw_ds_preset ipw_ds_jsonl;

/* The value at key, or, when key has dots and no member is named so, at the dotted path
 * ("meta.subject", "messages.0.content"). NULL when absent or JSON null. */
json_t *ds_get(const json_t *row, const char *key);
/* Text of a scalar (string as is; numbers, booleans as JSON writes them; arrays and objects as
 * compact JSON). NULL for null or on ENOMEM. */
char *ds_text(const json_t *v);
/* malloc'd copy of s without leading/trailing blanks. */
char *ds_strdup_trim(const char *s);
/* Trimmed, non-empty string member, as a malloc'd copy (NULL when absent/empty/not a string). */
char *ds_string_field(const json_t *row, const char *key);
/* The options list of an MCQ row: a JSON array, or a text cell holding a JSON/Python list
 * (then replaced in the row by the parsed array). Each item becomes a string. */
ipw_err ds_options(json_t *row, const char *key, json_t **opts, ipw_errbuf *eb);
/* A one-letter answer ("C", "c", " C ") at most max_letters into the alphabet; '\0' if absent. */
ipw_err ds_letter(const json_t *v, const char *key, size_t nopt, char *letter, ipw_errbuf *eb);
/* "{question}{sep}Options:\nA. o0\nB. o1…{sep}{tail}" with sep "\n\n" or "\n". */
char *ds_mcq_prompt(const char *question, const json_t *opts, const char *sep, const char *tail);
/* Sets rec->subject to the first non-empty string member among keys, else "general". */
ipw_err ds_subject(const json_t *row, const char *const *keys, struct ipw_dataset_record *rec,
                   ipw_errbuf *eb);
void ds_set_kind(struct ipw_dataset_record *rec, const char *kind);
/* Fills an mcq record: the ds_mcq_prompt prompt, the answer letter and the subject. */
ipw_err ds_mcq_record(const json_t *row, const char *question, const json_t *opts, char letter,
                      const char *sep, const char *tail, const char *const *subject_keys,
                      struct ipw_dataset_record *rec, ipw_errbuf *eb);

#define DS_MAX_OPTIONS 26

#endif
