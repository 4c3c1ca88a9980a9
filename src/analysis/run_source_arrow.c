/* The second record source of the run reader: a run's HuggingFace Arrow dataset
 * (data-*.arrow named by state.json). It lets `ipw analyze` read a run that has no
 * records.jsonl — one written by the original Python tool, which keeps only the Arrow dataset.
 * Rows become records as records.jsonl holds them: dataset_metadata parsed back from its JSON
 * text, record_index from the row's position when the row has none. The whole dataset is read
 * at once (bounded by the Arrow reader's limits); records.jsonl stays the streaming path. */
#include "run_source_arrow.h"

#include <stdlib.h>

#include "ipw/hf_dataset.h"

struct arrow_src {
    json_t *rows;
    size_t next;
};

static ipw_err arrow_next(void *state, const char **text, size_t *len, json_t **record,
                          long *line, bool *terminated, bool *eof, ipw_errbuf *eb)
{
    (void)text, (void)len, (void)eb;
    struct arrow_src *s = state;
    *terminated = true;
    *line = 0;
    if (s->next >= json_array_size(s->rows)) {
        *eof = true;
        return IPW_OK;
    }
    *eof = false;
    json_t *row = json_array_get(s->rows, s->next);
    json_t *rec = json_copy(row); /* shallow: the row keeps its children alive */
    const char *meta = json_string_value(json_object_get(row, "dataset_metadata"));
    if (meta) {
        json_t *parsed = json_loads(meta, JSON_DECODE_ANY, NULL);
        if (parsed)
            json_object_set_new(rec, "dataset_metadata", parsed);
    }
    if (!json_is_integer(json_object_get(rec, "record_index")))
        json_object_set_new(rec, "record_index", json_integer((json_int_t)s->next));
    s->next++;
    *record = rec;
    return IPW_OK;
}

static ipw_err arrow_rewind(void *state, ipw_errbuf *eb)
{
    (void)eb;
    ((struct arrow_src *)state)->next = 0;
    return IPW_OK;
}

static void arrow_close(void *state)
{
    struct arrow_src *s = state;
    if (s) {
        json_decref(s->rows);
        free(s);
    }
}

const struct ipw_run_source_ops ipw_run_source_arrow = {"the Arrow dataset", arrow_next,
                                                        arrow_rewind, arrow_close};

ipw_err ipw_run_source_arrow_open(const char *run_dir, void **state, ipw_errbuf *eb)
{
    struct arrow_src *s = calloc(1, sizeof *s);
    if (!s)
        return ipw_fail(eb, IPW_E_NOMEM, "out of memory opening %s", run_dir);
    ipw_err e = ipw_hf_dataset_load(run_dir, &s->rows, NULL, eb);
    if (e != IPW_OK) {
        free(s);
        return e;
    }
    *state = s;
    return IPW_OK;
}
