/* HuggingFace `datasets` folders (what Dataset.save_to_disk writes and load_from_disk reads):
 * features derived from our Arrow schema, dataset_info.json, state.json, and loading one. */
#include "ipw/hf_dataset.h"

#include <stdlib.h>
#include <string.h>

#include "ipw/fsutil.h"
#include "ipw/jsonutil.h"
#include "results/arrow.h"

static json_t *value_feature(const char *dtype)
{
    return json_pack("{s:s, s:s}", "dtype", dtype, "_type", "Value");
}

static json_t *feature_of(const struct ipw_arrow_field *f, ipw_errbuf *eb)
{
    switch (f->type) {
    case IPW_ARROW_NULL: return value_feature("null");
    case IPW_ARROW_BOOL: return value_feature("bool");
    case IPW_ARROW_INT:
    case IPW_ARROW_FLOAT: {
        /* ipw_arrow_type_name gives int64/uint8/float32/...: the HF dtype names exactly */
        return value_feature(ipw_arrow_type_name(f));
    }
    case IPW_ARROW_UTF8: return value_feature("string");
    case IPW_ARROW_LARGE_UTF8: return value_feature("large_string");
    case IPW_ARROW_STRUCT: {
        /* a dict of features is an Arrow struct in `datasets` */
        json_t *o = json_object();
        for (size_t i = 0; o && i < f->n_children; i++) {
            json_t *c = feature_of(f->children[i], eb);
            if (!c || json_object_set_new(o, f->children[i]->name, c) != 0) {
                json_decref(o);
                return NULL;
            }
        }
        return o;
    }
    case IPW_ARROW_LIST: {
        /* a one-element JSON list is `datasets`' spelling of an Arrow list */
        json_t *c = feature_of(f->children[0], eb);
        return c ? json_pack("[o]", c) : NULL;
    }
    default: break;
    }
    ipw_fail(eb, IPW_E_UNSUPPORTED, "Arrow column %s of type %s has no HuggingFace feature type",
             f->name, ipw_arrow_type_name(f));
    return NULL;
}

json_t *ipw_hf_features(const struct ipw_arrow_field *schema, ipw_errbuf *eb)
{
    if (!schema || schema->type != IPW_ARROW_STRUCT) {
        ipw_fail(eb, IPW_E_INVALID, "HF features need a struct schema");
        return NULL;
    }
    json_t *f = feature_of(schema, eb);
    if (!f && eb && eb->code == IPW_OK)
        ipw_fail(eb, IPW_E_NOMEM, "out of memory deriving HF features");
    return f;
}

char *ipw_hf_schema_metadata(const json_t *features)
{
    json_t *md = json_pack("{s:{s:O}}", "info", "features", (json_t *)features);
    if (!md)
        return NULL;
    char *s = json_dumps(md, JSON_COMPACT);
    json_decref(md);
    return s;
}

ipw_err ipw_hf_write_dataset_info(const char *dir, const json_t *features, ipw_errbuf *eb)
{
    char path[4096];
    ipw_err e = ipw_path_join(path, sizeof path, dir, IPW_HF_INFO_FILE, eb);
    if (e != IPW_OK)
        return e;
    /* the keys in sorted order, as `datasets` writes them */
    json_t *info = json_pack("{s:s, s:s, s:O, s:s, s:s}", "citation", "", "description", "",
                             "features", (json_t *)features, "homepage", "", "license", "");
    if (!info)
        return ipw_fail(eb, IPW_E_NOMEM, "out of memory building %s", path);
    e = ipw_json_write_file(path, info, eb);
    json_decref(info);
    return e;
}

ipw_err ipw_hf_write_state(const char *dir, const char *fingerprint, ipw_errbuf *eb)
{
    char path[4096];
    ipw_err e = ipw_path_join(path, sizeof path, dir, IPW_HF_STATE_FILE, eb);
    if (e != IPW_OK)
        return e;
    json_t *st = json_pack("{s:[{s:s}], s:s, s:n, s:{}, s:n, s:b, s:n}", "_data_files",
                           "filename", IPW_HF_DATA_FILE, "_fingerprint", fingerprint,
                           "_format_columns", "_format_kwargs", "_format_type",
                           "_output_all_columns", 0, "_split");
    if (!st)
        return ipw_fail(eb, IPW_E_NOMEM, "out of memory building %s", path);
    e = ipw_json_write_file(path, st, eb);
    json_decref(st);
    return e;
}

/* A data file named in state.json must stay inside the folder. */
static bool plain_name(const char *s)
{
    return s && *s && !strchr(s, '/') && strcmp(s, ".") && strcmp(s, "..");
}

ipw_err ipw_hf_dataset_load(const char *dir, json_t **rows, json_t **features, ipw_errbuf *eb)
{
    *rows = NULL;
    if (features)
        *features = NULL;
    char path[4096];
    ipw_err e = ipw_path_join(path, sizeof path, dir, IPW_HF_STATE_FILE, eb);
    if (e != IPW_OK)
        return e;
    if (!ipw_path_exists(path)) {
        char dd[4096];
        if (ipw_path_join(dd, sizeof dd, dir, "dataset_dict.json", NULL) == IPW_OK &&
            ipw_path_exists(dd))
            return ipw_fail(eb, IPW_E_INVALID,
                            "%s holds a DatasetDict; point at one of its split folders (e.g. "
                            "%s/train)",
                            dir, dir);
        return ipw_fail(eb, IPW_E_NOTFOUND,
                        "%s has no %s; it is not a folder written by Dataset.save_to_disk", dir,
                        IPW_HF_STATE_FILE);
    }
    json_t *state;
    if ((e = ipw_json_load_file(path, 1 << 20, &state, eb)) != IPW_OK)
        return e;
    json_t *files = json_object_get(state, "_data_files");
    if (!json_is_array(files) || json_array_size(files) == 0) {
        json_decref(state);
        return ipw_fail(eb, IPW_E_INVALID, "%s has no _data_files list", path);
    }
    json_t *all = json_array();
    struct ipw_arrow_field *schema = NULL;
    size_t i;
    json_t *entry;
    json_array_foreach(files, i, entry)
    {
        const char *name = json_string_value(json_object_get(entry, "filename"));
        char file[4096];
        if (!plain_name(name)) {
            e = ipw_fail(eb, IPW_E_INVALID,
                         "%s lists a data file \"%s\" that is not a plain file name in the folder",
                         path, name ? name : "(none)");
            break;
        }
        if ((e = ipw_path_join(file, sizeof file, dir, name, eb)) != IPW_OK)
            break;
        struct ipw_arrow_reader *r;
        if ((e = ipw_arrow_reader_open_file(file, 0, NULL, &r, eb)) != IPW_OK)
            break;
        if (!schema) {
            schema = ipw_arrow_field_copy(ipw_arrow_reader_schema(r));
            if (!schema)
                e = ipw_fail(eb, IPW_E_NOMEM, "out of memory reading %s", file);
        } else if (!ipw_arrow_field_equal(schema, ipw_arrow_reader_schema(r))) {
            e = ipw_fail(eb, IPW_E_INVALID, "%s has a different schema from the first data file",
                         file);
        }
        while (e == IPW_OK) {
            struct ipw_arrow_batch *b;
            if ((e = ipw_arrow_reader_next(r, &b, eb)) != IPW_OK || !b)
                break;
            e = ipw_arrow_batch_append_rows(b, all, eb);
            ipw_arrow_batch_free(b);
        }
        if (e != IPW_OK)
            ipw_err_prefix(eb, "reading %s", file);
        ipw_arrow_reader_free(r);
        if (e != IPW_OK)
            break;
    }
    json_decref(state);
    if (e == IPW_OK && features) {
        json_t *info = NULL;
        char ipath[4096];
        if (ipw_path_join(ipath, sizeof ipath, dir, IPW_HF_INFO_FILE, NULL) == IPW_OK &&
            ipw_path_exists(ipath) && (e = ipw_json_load_file(ipath, 64 << 20, &info, eb)) != IPW_OK) {
            info = NULL;
        }
        json_t *f = json_object_get(info, "features");
        if (e == IPW_OK)
            *features = json_is_object(f) ? json_incref(f) : ipw_hf_features(schema, eb);
        if (e == IPW_OK && !*features)
            e = eb ? eb->code : IPW_E_INVALID;
        json_decref(info);
    }
    ipw_arrow_field_free(schema);
    if (e != IPW_OK) {
        json_decref(all);
        return e;
    }
    *rows = all;
    return IPW_OK;
}
