/* Unit tests of the run's HuggingFace dataset: the typed schema, features, state.json and
 * dataset_info.json, rows from records (order, supersession, conformance), the log-streaming
 * path, and reading a save_to_disk folder back. */
#include "ipw_test.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>

#include "results/arrow.h"
#include "ipw/fsutil.h"
#include "ipw/hf_dataset.h"
#include "ipw/jsonutil.h"
#include "ipw/log.h"
#include "ipw/records.h"
#include "ipw/run_dataset.h"

static json_t *jload(const char *text)
{
    json_error_t je;
    json_t *j = json_loads(text, 0, &je);
    if (!j)
        fail_msg("bad JSON in test: %s", je.text);
    return j;
}

static json_t *metrics(double joules, json_int_t out)
{
    return json_pack("{s:{s:f, s:s}, s:{s:I, s:I, s:I}, s:b, s:s, s:{s:s, s:I}}",
                     "energy_metrics", "per_query_joules", joules, "energy_source", "counter",
                     "token_metrics", "input", (json_int_t)10, "output", out, "total", 10 + out,
                     "lm_correctness", out % 2, "lm_response", "resp", "gpu_info", "name",
                     "NVIDIA H100", "device_id", (json_int_t)3);
}

static json_t *record(int index, const char *model, double joules)
{
    json_t *r = json_pack("{s:i, s:s, s:s, s:s, s:{s:i, s:[i,i]}, s:{s:s}, s:{s:o}, s:s}",
                          "record_index", index, "problem", "Q ✓", "answer", "A", "subject",
                          "math", "dataset_metadata", "row", index, "list", 1, 2,
                          "model_answers", model, "answer text", "model_metrics", model,
                          metrics(joules, index), "status", "ok");
    return r;
}

static json_t *get_path(json_t *j, const char *dotted)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", dotted);
    for (char *tok = strtok(buf, "|"); tok && j; tok = strtok(NULL, "|"))
        j = json_object_get(j, tok);
    return j;
}

static void test_schema_and_features(void **state)
{
    (void)state;
    const char *models[] = {"a:1b", "b/c"};
    struct ipw_arrow_field *s = ipw_run_dataset_schema(models, 2);
    assert_non_null(s);
    const char *cols[] = {"problem", "answer", "dataset_metadata", "subject", "model_answers",
                          "model_metrics"};
    assert_int_equal(s->n_children, 6);
    for (int i = 0; i < 6; i++)
        assert_string_equal(s->children[i]->name, cols[i]);
    ipw_errbuf eb = {0};
    json_t *f = ipw_hf_features(s, &eb);
    assert_non_null(f);
    json_t *want = jload("{\"dtype\":\"string\",\"_type\":\"Value\"}");
    assert_true(json_equal(json_object_get(f, "problem"), want));
    assert_true(json_equal(get_path(f, "model_answers|b/c"), want));
    assert_true(json_equal(get_path(f, "model_metrics|a:1b|energy_metrics|energy_source"), want));
    json_decref(want);
    want = jload("{\"dtype\":\"int64\",\"_type\":\"Value\"}");
    assert_true(json_equal(get_path(f, "model_metrics|a:1b|token_metrics|output"), want));
    assert_true(json_equal(get_path(f, "model_metrics|b/c|system_info|cpu_count"), want));
    json_decref(want);
    want = jload("{\"dtype\":\"float64\",\"_type\":\"Value\"}");
    assert_true(json_equal(get_path(f, "model_metrics|a:1b|power_metrics|cpu|per_query_watts|median"),
                           want));
    json_decref(want);
    want = jload("{\"dtype\":\"bool\",\"_type\":\"Value\"}");
    assert_true(json_equal(get_path(f, "model_metrics|a:1b|lm_correctness"), want));
    json_decref(want);
    /* a dict of features has no _type: it is an Arrow struct in `datasets` */
    assert_null(get_path(f, "model_metrics|a:1b|_type"));
    assert_int_equal(json_object_size(get_path(f, "model_metrics|a:1b")), 11);
    char *md = ipw_hf_schema_metadata(f);
    json_t *mdj = jload(md);
    assert_true(json_equal(get_path(mdj, "info|features"), f));
    free(md);
    json_decref(mdj);
    json_decref(f);
    /* reader-only types: lists become one-element lists, unsigned and narrow types keep names */
    struct ipw_arrow_field *x = ipw_arrow_field_new("", IPW_ARROW_STRUCT);
    struct ipw_arrow_field *l = ipw_arrow_field_add(x, "l", IPW_ARROW_LIST);
    ipw_arrow_field_add(l, "item", IPW_ARROW_UTF8);
    struct ipw_arrow_field *u = ipw_arrow_field_add(x, "u", IPW_ARROW_INT);
    u->bit_width = 16;
    u->is_signed = false;
    ipw_arrow_field_add(x, "n", IPW_ARROW_NULL);
    f = ipw_hf_features(x, &eb);
    want = jload("{\"l\":[{\"dtype\":\"string\",\"_type\":\"Value\"}],"
                 "\"u\":{\"dtype\":\"uint16\",\"_type\":\"Value\"},"
                 "\"n\":{\"dtype\":\"null\",\"_type\":\"Value\"}}");
    assert_true(json_equal(f, want));
    json_decref(want);
    json_decref(f);
    ipw_arrow_field_free(x);
    ipw_arrow_field_free(s);
}

static json_t *load_json(const char *dir, const char *name)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    json_t *j;
    ipw_errbuf eb = {0};
    if (ipw_json_load_file(path, 1 << 24, &j, &eb) != IPW_OK)
        fail_msg("%s", eb.msg);
    return j;
}

static void assert_no_temp_files(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    while ((de = readdir(d)))
        if (strstr(de->d_name, ".tmp."))
            fail_msg("temporary file left behind: %s", de->d_name);
    closedir(d);
}

static void test_write_and_load(void **state)
{
    (void)state;
    char *dir = ipw_test_mkdtemp("ipw-run");
    /* out of order, a superseded duplicate, two models, nulls */
    json_t *recs[5] = {record(2, "m1", 3.5), record(0, "m1", 1.25), record(1, "m2", 2.0),
                       record(0, "m1", 9.75), jload("{\"record_index\":3,\"problem\":null}")};
    ipw_errbuf eb = {0};
    struct ipw_run_dataset_stats st;
    assert_int_equal(ipw_run_dataset_write(dir, recs, 5, &st, &eb), IPW_OK);
    assert_int_equal(st.rows, 4);
    assert_int_equal(st.models, 2);
    assert_int_equal(st.nulled_values, 0);
    assert_int_equal(st.unknown_keys, 0);
    assert_int_equal(strlen(st.fingerprint), 16);
    assert_no_temp_files(dir);

    json_t *state_j = load_json(dir, "state.json");
    json_t *want_state = json_pack(
        "{s:[{s:s}], s:s, s:n, s:{}, s:n, s:b, s:n}", "_data_files", "filename",
        "data-00000-of-00001.arrow", "_fingerprint", st.fingerprint, "_format_columns",
        "_format_kwargs", "_format_type", "_output_all_columns", 0, "_split");
    assert_true(json_equal(state_j, want_state));
    json_decref(want_state);
    json_decref(state_j);
    json_t *info = load_json(dir, "dataset_info.json");
    assert_int_equal(json_object_size(info), 5);
    const char *keys[] = {"citation", "description", "homepage", "license"};
    for (int i = 0; i < 4; i++)
        assert_string_equal(json_string_value(json_object_get(info, keys[i])), "");

    json_t *rows, *features;
    assert_int_equal(ipw_hf_dataset_load(dir, &rows, &features, &eb), IPW_OK);
    assert_true(json_equal(features, json_object_get(info, "features")));
    assert_int_equal(json_array_size(rows), 4);
    json_t *r0 = json_array_get(rows, 0);
    /* record 0: the later of the two lines */
    assert_double_equal(json_real_value(get_path(r0, "model_metrics|m1|energy_metrics|per_query_joules")),
                        9.75, 0);
    assert_true(json_is_null(get_path(r0, "model_metrics|m2")));
    assert_true(json_is_null(get_path(r0, "model_answers|m2")));
    assert_string_equal(json_string_value(get_path(r0, "model_answers|m1")), "answer text");
    assert_true(json_is_null(get_path(r0, "model_metrics|m1|latency_metrics")));
    assert_int_equal(json_integer_value(get_path(r0, "model_metrics|m1|gpu_info|device_id")), 3);
    assert_true(json_is_null(get_path(r0, "model_metrics|m1|gpu_info|vendor")));
    json_t *md = jload(json_string_value(json_object_get(r0, "dataset_metadata")));
    json_t *want_md = jload("{\"row\":0,\"list\":[1,2]}");
    assert_true(json_equal(md, want_md));
    json_decref(md);
    json_decref(want_md);
    json_t *r1 = json_array_get(rows, 1);
    assert_int_equal(json_integer_value(get_path(r1, "model_metrics|m2|token_metrics|output")), 1);
    assert_true(json_is_true(get_path(r1, "model_metrics|m2|lm_correctness")));
    json_t *r3 = json_array_get(rows, 3);
    assert_true(json_is_null(json_object_get(r3, "problem")));
    assert_true(json_is_null(json_object_get(r3, "dataset_metadata")));
    assert_true(json_is_null(json_object_get(r3, "model_metrics")));

    /* the schema carries the same features in its huggingface metadata */
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, IPW_HF_DATA_FILE);
    struct ipw_arrow_reader *rd;
    assert_int_equal(ipw_arrow_reader_open_file(path, 0, NULL, &rd, &eb), IPW_OK);
    json_t *hf = jload(json_string_value(json_object_get(ipw_arrow_reader_metadata(rd),
                                                         "huggingface")));
    assert_true(json_equal(get_path(hf, "info|features"), features));
    json_decref(hf);
    ipw_arrow_reader_free(rd);

    /* the same records through records.jsonl give the same bytes */
    char log_path[4096];
    snprintf(log_path, sizeof log_path, "%s/%s", dir, IPW_RECORDS_FILE);
    struct ipw_records_log *log;
    assert_int_equal(ipw_records_open(log_path, false, &log, NULL, &eb), IPW_OK);
    for (int i = 0; i < 5; i++) {
        if (i == 3) /* the log refuses a second finished record 0: write the file by hand */
            continue;
        assert_int_equal(ipw_records_append(log, recs[i], &eb), IPW_OK);
    }
    ipw_records_close(log);
    FILE *f = fopen(log_path, "a");
    char *line = json_dumps(recs[3], JSON_COMPACT | JSON_REAL_PRECISION(17));
    fprintf(f, "%s\n", line);
    free(line);
    fclose(f);
    struct ipw_run_dataset_stats st2;
    assert_int_equal(ipw_run_dataset_write_from_log(dir, false, &st2, &eb), IPW_OK);
    assert_int_equal(st2.rows, 4);
    assert_int_equal(st2.reused_rows, 0); /* the in-memory path leaves nothing to reuse */
    assert_no_temp_files(dir);
    json_t *rows2;
    assert_int_equal(ipw_hf_dataset_load(dir, &rows2, NULL, &eb), IPW_OK);
    assert_true(json_equal(rows, rows2));
    json_decref(rows2);

    json_decref(rows);
    json_decref(features);
    json_decref(info);
    for (int i = 0; i < 5; i++)
        json_decref(recs[i]);
    ipw_test_rmtree(dir);
    free(dir);
}

static void test_conformance_and_edges(void **state)
{
    (void)state;
    char *dir = ipw_test_mkdtemp("ipw-run");
    json_t *r = record(0, "m", 1.0);
    json_t *mm = get_path(r, "model_metrics|m");
    json_object_set_new(json_object_get(mm, "token_metrics"), "input", json_string("ten"));
    json_object_set_new(json_object_get(mm, "energy_metrics"), "ane_joules", json_real(1));
    json_object_set_new(json_object_get(mm, "token_metrics"), "output", json_real(7.0));
    json_object_set_new(r, "answer", json_integer(4));
    ipw_errbuf eb = {0};
    struct ipw_run_dataset_stats st;
    ipw_log_level old = ipw_log_get_level();
    ipw_log_set_level(IPW_LOG_ERROR); /* the warnings are expected */
    assert_int_equal(ipw_run_dataset_write(dir, &r, 1, &st, &eb), IPW_OK);
    ipw_log_set_level(old);
    assert_int_equal(st.nulled_values, 2);
    assert_int_equal(st.unknown_keys, 1);
    json_t *rows;
    assert_int_equal(ipw_hf_dataset_load(dir, &rows, NULL, &eb), IPW_OK);
    json_t *row = json_array_get(rows, 0);
    assert_true(json_is_null(get_path(row, "model_metrics|m|token_metrics|input")));
    assert_int_equal(json_integer_value(get_path(row, "model_metrics|m|token_metrics|output")), 7);
    assert_true(json_is_null(json_object_get(row, "answer")));
    assert_null(get_path(row, "model_metrics|m|energy_metrics|ane_joules"));
    json_decref(rows);
    json_decref(r);

    /* no records at all: a valid, empty dataset */
    assert_int_equal(ipw_run_dataset_write(dir, NULL, 0, &st, &eb), IPW_OK);
    assert_int_equal(st.rows, 0);
    assert_int_equal(ipw_hf_dataset_load(dir, &rows, NULL, &eb), IPW_OK);
    assert_int_equal(json_array_size(rows), 0);
    json_decref(rows);
    /* a record without record_index, a missing directory */
    json_t *bad = jload("{\"problem\":\"x\"}");
    assert_int_equal(ipw_run_dataset_write(dir, &bad, 1, &st, &eb), IPW_E_INVALID);
    json_decref(bad);
    char missing[4096];
    snprintf(missing, sizeof missing, "%s/nope", dir);
    assert_int_equal(ipw_run_dataset_write_from_log(missing, false, &st, &eb), IPW_E_NOTFOUND);
    assert_non_null(strstr(eb.msg, "nope"));
    assert_null(strstr(eb.msg, ": :")); /* one separator between context and cause */
    r = record(0, "m", 1.0);
    assert_int_equal(ipw_run_dataset_write(missing, &r, 1, &st, &eb), IPW_E_IO);
    assert_non_null(strstr(eb.msg, "nope"));
    assert_null(strstr(eb.msg, ": :"));
    json_decref(r);
    ipw_test_rmtree(dir);
    free(dir);
}

static void test_hf_folder_checks(void **state)
{
    (void)state;
    char *dir = ipw_test_mkdtemp("ipw-hf");
    ipw_errbuf eb = {0};
    json_t *rows;
    assert_int_equal(ipw_hf_dataset_load(dir, &rows, NULL, &eb), IPW_E_NOTFOUND);
    ipw_test_write(dir, "dataset_dict.json", "{\"splits\":[\"train\"]}");
    assert_int_equal(ipw_hf_dataset_load(dir, &rows, NULL, &eb), IPW_E_INVALID);
    assert_non_null(strstr(eb.msg, "DatasetDict"));
    ipw_test_write(dir, "state.json", "{\"_data_files\":[{\"filename\":\"../../etc/passwd\"}]}");
    assert_int_equal(ipw_hf_dataset_load(dir, &rows, NULL, &eb), IPW_E_INVALID);
    assert_non_null(strstr(eb.msg, "plain file name"));
    ipw_test_write(dir, "state.json", "{\"_data_files\":[]}");
    assert_int_equal(ipw_hf_dataset_load(dir, &rows, NULL, &eb), IPW_E_INVALID);
    ipw_test_write(dir, "state.json", "{\"_data_files\":[{\"filename\":\"x.arrow\"}]}");
    ipw_test_write(dir, "x.arrow", "not arrow at all");
    assert_int_equal(ipw_hf_dataset_load(dir, &rows, NULL, &eb), IPW_E_INVALID);
    assert_non_null(strstr(eb.msg, "x.arrow"));
    ipw_test_rmtree(dir);
    free(dir);
}

static json_t *logged(int index, const char *model)
{
    json_t *r = record(index, model, 0.5 + index);
    return r;
}

static void append_all(const char *dir, int from, int to, const char *model, bool create)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, IPW_RECORDS_FILE);
    ipw_errbuf eb = {0};
    struct ipw_records_log *log;
    assert_int_equal(ipw_records_open(path, !create, &log, NULL, &eb), IPW_OK);
    for (int i = from; i < to; i++) {
        json_t *r = logged(i, model);
        assert_int_equal(ipw_records_append(log, r, &eb), IPW_OK);
        json_decref(r);
    }
    ipw_records_close(log);
}

/* What a rebuild from scratch gives: the reference for every incremental rewrite. */
static json_t *rows_from_scratch(const char *dir)
{
    char *ref = ipw_test_mkdtemp("ipw-run-ref");
    char src[4096], dst[4096];
    snprintf(src, sizeof src, "%s/%s", dir, IPW_RECORDS_FILE);
    snprintf(dst, sizeof dst, "%s/%s", ref, IPW_RECORDS_FILE);
    char *text;
    size_t len;
    assert_int_equal(ipw_read_file(src, 1 << 26, &text, &len, NULL), IPW_OK);
    assert_int_equal(ipw_write_file_atomic(dst, text, len, NULL), IPW_OK);
    free(text);
    ipw_errbuf eb = {0};
    struct ipw_run_dataset_stats st;
    assert_int_equal(ipw_run_dataset_write_from_log(ref, true, &st, &eb), IPW_OK);
    assert_int_equal(st.reused_rows, 0);
    json_t *rows;
    assert_int_equal(ipw_hf_dataset_load(ref, &rows, NULL, &eb), IPW_OK);
    ipw_test_rmtree(ref);
    free(ref);
    return rows;
}

static void rewrite_and_compare(const char *dir, size_t want_rows, size_t want_reused)
{
    ipw_errbuf eb = {0};
    struct ipw_run_dataset_stats st;
    assert_int_equal(ipw_run_dataset_write_from_log(dir, false, &st, &eb), IPW_OK);
    assert_int_equal(st.rows, want_rows);
    assert_int_equal(st.reused_rows, want_reused);
    assert_no_temp_files(dir);
    json_t *rows, *ref = rows_from_scratch(dir);
    assert_int_equal(ipw_hf_dataset_load(dir, &rows, NULL, &eb), IPW_OK);
    assert_int_equal(json_array_size(rows), want_rows);
    assert_true(json_equal(rows, ref));
    json_decref(rows);
    json_decref(ref);
}

static void test_incremental_rewrites(void **state)
{
    (void)state;
    char *dir = ipw_test_mkdtemp("ipw-run");
    ipw_errbuf eb = {0};
    append_all(dir, 0, 250, "m", true);
    rewrite_and_compare(dir, 250, 0);
    /* the usual case: more records with larger indexes, same model */
    append_all(dir, 250, 350, "m", false);
    rewrite_and_compare(dir, 350, 250);
    rewrite_and_compare(dir, 350, 350); /* nothing new: a plain copy */
    /* a torn tail after the saved point is left out, then recovered */
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, IPW_RECORDS_FILE);
    FILE *f = fopen(path, "a");
    fputs("{\"record_index\":350,\"prob", f);
    fclose(f);
    rewrite_and_compare(dir, 350, 350);
    append_all(dir, 350, 360, "m", false); /* resume repairs the tail */
    rewrite_and_compare(dir, 360, 350);
    /* a new model: the schema changes, everything is rebuilt */
    append_all(dir, 360, 365, "other", false);
    rewrite_and_compare(dir, 365, 0);
    append_all(dir, 365, 370, "other", false);
    rewrite_and_compare(dir, 370, 365);
    /* a record that goes before those written (a retried failure): rebuilt in order */
    f = fopen(path, "a");
    json_t *late = logged(5, "m");
    json_object_set_new(late, "answer", json_string("retried"));
    char *line = json_dumps(late, JSON_COMPACT);
    fprintf(f, "%s\n", line);
    free(line);
    json_decref(late);
    fclose(f);
    rewrite_and_compare(dir, 370, 0);
    /* out of order, as with --concurrency > 1: 372 finishes before 371. Both are appended to
     * the previous batches, 371 after 372; the final rewrite sorts them. */
    append_all(dir, 372, 373, "m", false);
    struct ipw_run_dataset_stats st;
    assert_int_equal(ipw_run_dataset_write_from_log(dir, false, &st, &eb), IPW_OK);
    assert_int_equal(st.reused_rows, 370);
    append_all(dir, 371, 372, "m", false);
    assert_int_equal(ipw_run_dataset_write_from_log(dir, false, &st, &eb), IPW_OK);
    assert_int_equal(st.reused_rows, 371);
    json_t *rows, *ref = rows_from_scratch(dir);
    assert_int_equal(ipw_hf_dataset_load(dir, &rows, NULL, &eb), IPW_OK);
    assert_int_equal(json_array_size(rows), 372);
    assert_true(json_equal(json_array_get(rows, 370), json_array_get(ref, 371)));
    assert_true(json_equal(json_array_get(rows, 371), json_array_get(ref, 370)));
    json_decref(rows);
    assert_int_equal(ipw_run_dataset_write_from_log(dir, true, &st, &eb), IPW_OK);
    assert_int_equal(st.reused_rows, 0);
    assert_int_equal(ipw_hf_dataset_load(dir, &rows, NULL, &eb), IPW_OK);
    assert_true(json_equal(rows, ref));
    json_decref(rows);
    json_decref(ref);
    rewrite_and_compare(dir, 372, 372);
    /* the log changed before the saved point: rebuilt */
    char *text;
    size_t len;
    assert_int_equal(ipw_read_file(path, 1 << 26, &text, &len, NULL), IPW_OK);
    char *hit = strstr(text + len - 400, "Q ");
    assert_non_null(hit);
    hit[0] = 'R';
    assert_int_equal(ipw_write_file_atomic(path, text, len, NULL), IPW_OK);
    free(text);
    rewrite_and_compare(dir, 372, 0);
    /* a damaged previous file: rebuilt from the log, never trusted */
    char data[4096];
    snprintf(data, sizeof data, "%s/%s", dir, IPW_HF_DATA_FILE);
    assert_int_equal(ipw_read_file(data, 1 << 26, &text, &len, NULL), IPW_OK);
    text[len / 2] ^= 0x55;
    assert_int_equal(ipw_write_file_atomic(data, text, len / 2 + 8, NULL), IPW_OK);
    free(text);
    rewrite_and_compare(dir, 372, 0);
    ipw_test_rmtree(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_schema_and_features),
        cmocka_unit_test(test_write_and_load),
        cmocka_unit_test(test_conformance_and_edges),
        cmocka_unit_test(test_hf_folder_checks),
        cmocka_unit_test(test_incremental_rewrites),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
