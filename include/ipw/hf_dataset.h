/* HuggingFace `datasets` save_to_disk folders: features JSON derived from an Arrow schema,
 * dataset_info.json and state.json (written atomically), and reading such a folder back. */
#ifndef IPW_HF_DATASET_H
#define IPW_HF_DATASET_H

#include <jansson.h>

#include "ipw/err.h"

/* A node of an Arrow schema; its type is private to src/results/ (results/arrow.h). */
struct ipw_arrow_field;

#define IPW_HF_DATA_FILE "data-00000-of-00001.arrow"
#define IPW_HF_INFO_FILE "dataset_info.json"
#define IPW_HF_STATE_FILE "state.json"

/* The `features` of a schema's columns, as `datasets` writes them: {"col": {"dtype": "string",
 * "_type": "Value"}, "nested": {"a": {...}}, "list": [{...}]}. NULL with eb set when a type has
 * no HF equivalent. */
json_t *ipw_hf_features(const struct ipw_arrow_field *schema, ipw_errbuf *eb);
/* The schema metadata that `datasets` stores under the key "huggingface":
 * {"info": {"features": ...}}, as compact JSON text (caller frees). */
char *ipw_hf_schema_metadata(const json_t *features);
/* dataset_info.json with citation, description, features, homepage and license. */
ipw_err ipw_hf_write_dataset_info(const char *dir, const json_t *features, ipw_errbuf *eb);
/* state.json with exactly the seven keys `datasets` writes for one data file. */
ipw_err ipw_hf_write_state(const char *dir, const char *fingerprint, ipw_errbuf *eb);

/* Reads a save_to_disk folder: the files named by state.json's _data_files (each an Arrow
 * stream), concatenated. *rows: JSON array of row objects; *features (may be NULL): those of
 * dataset_info.json, or derived from the schema when that file has none. */
ipw_err ipw_hf_dataset_load(const char *dir, json_t **rows, json_t **features, ipw_errbuf *eb);

#endif
