/* Fuzzes row -> record conversion of every dataset preset (MMLU-Pro, SuperGPQA, ipw, and the
 * generic jsonl with dotted field paths) on arbitrary JSON objects, and checks what a record
 * promises: problem/answer/subject set, a known kind, and an MCQ answer among its options. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ipw/dataset.h"

static void check(const char *id, const struct ipw_dataset_record *r)
{
    if (!r->problem || !r->answer || !r->subject || !r->subject[0] || r->metadata)
        abort();
    if (strcmp(r->kind, "mcq") && strcmp(r->kind, "exact") && strcmp(r->kind, "open"))
        abort();
    if (!strcmp(r->kind, "mcq")) {
        if (strlen(r->answer) != 1 || r->answer[0] < 'A' || r->answer[0] > 'Z')
            abort();
        if (strcmp(id, "jsonl") != 0) { /* presets letter their options themselves */
            char pat[5] = {'\n', r->answer[0], '.', ' ', '\0'};
            if (!strstr(r->problem, pat))
                abort();
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *row = json_loadb((const char *)data, size, 0, NULL);
    if (!json_is_object(row)) {
        json_decref(row);
        return 0;
    }
    static const char *const ids[] = {"mmlu-pro", "supergpqa", "ipw", "jsonl", "jsonl"};
    json_t *mapped = json_pack("{s:s, s:s, s:s, s:s}", "prompt_field", "q.text", "answer_field",
                               "a.0", "subject_field", "meta.s", "kind_field", "k");
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
        json_t *copy = json_deep_copy(row); /* conversion may normalise the row in place */
        struct ipw_dataset_record rec;
        ipw_errbuf eb = {0};
        ipw_err e = ipw_dataset_convert_row(ids[i], i == 4 ? mapped : NULL, copy, &rec, &eb);
        if (e == IPW_OK) {
            check(ids[i], &rec);
            ipw_dataset_record_clear(&rec);
        } else if (eb.msg[0] == '\0' || rec.problem || rec.answer) {
            abort();
        }
        json_decref(copy);
    }
    json_decref(mapped);
    json_decref(row);
    return 0;
}
