/* Datasets (SPEC §3.7): exact prompt formats of MMLU-Pro and SuperGPQA, the three file formats
 * for each preset, malformed rows reported with file:line (skipped, or fatal when strict),
 * reproducible sampling, subject fallbacks and the generic jsonl field mapping. */
#include "ipw_test.h"

#include <stdlib.h>
#include <string.h>

#include "ipw/dataset.h"
#include "ipw/fsutil.h"
#include "ipw/run_dataset.h"
#include "datasets/dataset_rows.h"

static char *tmpdir;

static int setup(void **state)
{
    (void)state;
    tmpdir = ipw_test_mkdtemp("ipw-datasets");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    ipw_test_rmtree(tmpdir);
    free(tmpdir);
    return 0;
}

static char *path_of(const char *name)
{
    static char buf[4][4096];
    static int k;
    char *p = buf[k++ & 3];
    snprintf(p, 4096, "%s/%s", tmpdir, name);
    return p;
}

static json_t *J(const char *text)
{
    json_error_t je;
    json_t *j = json_loads(text, 0, &je);
    if (!j)
        fail_msg("bad test JSON: %s: %s", text, je.text);
    return j;
}

static void convert_ok(const char *id, const char *params, const char *row_text,
                       struct ipw_dataset_record *rec)
{
    json_t *row = J(row_text), *p = params ? J(params) : NULL;
    ipw_errbuf eb = {0};
    ipw_err e = ipw_dataset_convert_row(id, p, row, rec, &eb);
    if (e != IPW_OK)
        fail_msg("convert %s failed: %s", row_text, eb.msg);
    json_decref(row);
    json_decref(p);
}

static void convert_fails(const char *id, const char *params, const char *row_text,
                          const char *want)
{
    json_t *row = J(row_text), *p = params ? J(params) : NULL;
    struct ipw_dataset_record rec;
    ipw_errbuf eb = {0};
    ipw_err e = ipw_dataset_convert_row(id, p, row, &rec, &eb);
    if (e == IPW_OK)
        fail_msg("convert %s should have failed", row_text);
    if (!strstr(eb.msg, want))
        fail_msg("message '%s' lacks '%s'", eb.msg, want);
    assert_null(rec.problem);
    json_decref(row);
    json_decref(p);
}

static struct ipw_dataset *load(const char *id, const char *path, const char *params,
                                long maxq, bool seeded, uint64_t seed, bool strict)
{
    json_t *p = params ? J(params) : NULL;
    struct ipw_dataset_options o = {.path = path, .params = p, .max_queries = maxq,
                                    .seed = seed, .seed_given = seeded, .strict = strict};
    struct ipw_dataset *ds = NULL;
    ipw_errbuf eb = {0};
    ipw_err e = ipw_dataset_load(id, &o, &ds, &eb);
    json_decref(p);
    if (e != IPW_OK)
        fail_msg("load %s %s: %s", id, path ? path : "", eb.msg);
    return ds;
}

static ipw_err load_err(const char *id, const char *path, const char *params, bool strict,
                        ipw_errbuf *eb)
{
    json_t *p = params ? J(params) : NULL;
    struct ipw_dataset_options o = {.path = path, .params = p, .strict = strict};
    struct ipw_dataset *ds = NULL;
    ipw_err e = ipw_dataset_load(id, &o, &ds, eb);
    json_decref(p);
    assert_null(ds);
    return e;
}

/* The lines of a JSONL text as one JSON array, an element per line. */
static void jsonl_to_array(const char *jsonl, char *out, size_t size)
{
    size_t o = 0;
    out[o++] = '[';
    out[o++] = '\n';
    for (const char *p = jsonl; *p && o + 4 < size; p++) {
        if (*p == '\n' && p[1]) {
            out[o++] = ',';
            out[o++] = '\n';
        } else if (*p != '\n') {
            out[o++] = *p;
        }
    }
    out[o++] = '\n';
    out[o++] = ']';
    out[o] = '\0';
}

/* --- prompt formats ---------------------------------------------------------------------- */

static void test_mmlu_pro_prompt_exact(void **state)
{
    (void)state;
    struct ipw_dataset_record r;
    convert_ok("mmlu-pro", NULL,
               "{\"question\":\"What is 1+1?\",\"options\":[\"0\",\"2\",\"3\"],\"answer\":\"B\","
               "\"answer_index\":1,\"category\":\"math\",\"question_id\":7,\"src\":\"x\"}",
               &r);
    assert_string_equal(r.problem,
                        "What is 1+1?\n\nOptions:\nA. 0\nB. 2\nC. 3\n\nRespond with the correct "
                        "letter.");
    assert_string_equal(r.answer, "B");
    assert_string_equal(r.subject, "math");
    assert_string_equal(r.kind, "mcq");
    ipw_dataset_record_clear(&r);
}

static void test_supergpqa_prompt_exact(void **state)
{
    (void)state;
    struct ipw_dataset_record r;
    convert_ok("supergpqa", NULL,
               "{\"question\":\"What is 1+1?\",\"options\":[\"0\",\"2\",\"3\"],"
               "\"answer_letter\":\"B\",\"answer\":\"2\",\"discipline\":\"Science\","
               "\"field\":\"Mathematics\",\"subfield\":\"Arithmetic\",\"difficulty\":\"easy\","
               "\"uuid\":\"u1\"}",
               &r);
    assert_string_equal(r.problem,
                        "What is 1+1?\nOptions:\nA. 0\nB. 2\nC. 3\nRespond with the correct "
                        "letter only.");
    assert_string_equal(r.answer, "B");
    assert_string_equal(r.subject, "Arithmetic");
    assert_string_equal(r.kind, "mcq");
    ipw_dataset_record_clear(&r);
}

static void test_mmlu_pro_answers(void **state)
{
    (void)state;
    struct ipw_dataset_record r;
    /* letter derived from answer_index; category missing → general; question trimmed */
    convert_ok("mmlu-pro", NULL,
               "{\"question\":\"  Q?\\n\",\"options\":[\"a\",\"b\",\"c\",\"d\"],"
               "\"answer_index\":3}",
               &r);
    assert_string_equal(r.answer, "D");
    assert_string_equal(r.subject, "general");
    assert_string_equal(r.problem, "Q?\n\nOptions:\nA. a\nB. b\nC. c\nD. d\n\nRespond with the "
                                   "correct letter.");
    ipw_dataset_record_clear(&r);
    /* lowercase letter and a CSV-style string index that agrees */
    convert_ok("mmlu-pro", NULL,
               "{\"question\":\"Q\",\"options\":\"['a', 'b']\",\"answer\":\"b\","
               "\"answer_index\":\"1\"}",
               &r);
    assert_string_equal(r.answer, "B");
    ipw_dataset_record_clear(&r);
    convert_fails("mmlu-pro", NULL,
                  "{\"question\":\"Q\",\"options\":[\"a\",\"b\",\"c\"],\"answer\":\"C\","
                  "\"answer_index\":1}",
                  "field 'answer' is C but 'answer_index' 1 means B");
    convert_fails("mmlu-pro", NULL, "{\"question\":\"Q\",\"options\":[\"a\",\"b\"]}",
                  "missing field 'answer'");
    convert_fails("mmlu-pro", NULL,
                  "{\"question\":\"Q\",\"options\":[\"a\",\"b\"],\"answer\":\"E\"}",
                  "only 2 options");
    convert_fails("mmlu-pro", NULL,
                  "{\"question\":\"Q\",\"options\":[\"a\",\"b\"],\"answer_index\":5}",
                  "only 2 options");
    convert_fails("mmlu-pro", NULL, "{\"question\":\"Q\",\"answer\":\"A\"}",
                  "missing field 'options'");
    convert_fails("mmlu-pro", NULL, "{\"options\":[\"a\"],\"answer\":\"A\"}",
                  "missing field 'question'");
    convert_fails("mmlu-pro", NULL, "{\"question\":\"  \",\"options\":[\"a\"],\"answer\":\"A\"}",
                  "'question' is empty");
    convert_fails("mmlu-pro", NULL, "{\"question\":\"Q\",\"options\":[],\"answer\":\"A\"}",
                  "empty list");
    convert_fails("mmlu-pro", NULL,
                  "{\"question\":\"Q\",\"options\":[\"a\",{\"x\":1}],\"answer\":\"A\"}",
                  "option 2 of 'options' is not text");
    convert_fails("mmlu-pro", NULL,
                  "{\"question\":\"Q\",\"options\":[\"a\"],\"answer\":\"AB\"}",
                  "expected one letter");
    /* 26 options are fine (Z is the last letter), 27 are an error */
    char row[2048] = "{\"question\":\"Q\",\"answer\":\"Z\",\"options\":[";
    for (int i = 0; i < 27; i++)
        snprintf(row + strlen(row), sizeof row - strlen(row), "%s\"o%d\"", i ? "," : "", i);
    strcat(row, "]}");
    convert_fails("mmlu-pro", NULL, row, "27 options; at most 26");
    char *cut = strstr(row, ",\"o26\"");
    memmove(cut, cut + 6, strlen(cut + 6) + 1);
    convert_ok("mmlu-pro", NULL, row, &r);
    assert_non_null(strstr(r.problem, "\nZ. o25\n\nRespond"));
    ipw_dataset_record_clear(&r);
}

static void test_supergpqa_subjects(void **state)
{
    (void)state;
    struct ipw_dataset_record r;
    const char *base = "{\"question\":\"Q\",\"options\":[\"x\",\"y\"],\"answer_letter\":\"A\"";
    char row[512];
    snprintf(row, sizeof row, "%s,\"discipline\":\"D\",\"field\":\"F\",\"subfield\":\"\"}", base);
    convert_ok("supergpqa", NULL, row, &r);
    assert_string_equal(r.subject, "F");
    ipw_dataset_record_clear(&r);
    snprintf(row, sizeof row, "%s,\"discipline\":\"D\",\"field\":null}", base);
    convert_ok("supergpqa", NULL, row, &r);
    assert_string_equal(r.subject, "D");
    ipw_dataset_record_clear(&r);
    snprintf(row, sizeof row, "%s}", base);
    convert_ok("supergpqa", NULL, row, &r);
    assert_string_equal(r.subject, "general");
    ipw_dataset_record_clear(&r);
    /* without answer_letter the answer text picks the option */
    convert_ok("supergpqa", NULL, "{\"question\":\"Q\",\"options\":[\"x\",\"y\"],\"answer\":\"y\"}",
               &r);
    assert_string_equal(r.answer, "B");
    ipw_dataset_record_clear(&r);
    convert_fails("supergpqa", NULL, "{\"question\":\"Q\",\"options\":[\"x\",\"y\"],\"answer\":\"z\"}",
                  "matches no option");
    convert_fails("supergpqa", NULL,
                  "{\"question\":\"Q\",\"options\":[\"x\",\"y\"],\"answer_letter\":\"C\"}",
                  "only 2 options");
}

/* --- the three formats of each preset ---------------------------------------------------- */

static const char *MMLU_JSONL =
    "{\"question_id\":1,\"question\":\"What is 1+1?\",\"options\":[\"0\",\"2\",\"3\"],"
    "\"answer\":\"B\",\"answer_index\":1,\"category\":\"math\",\"src\":\"s1\"}\n"
    "{\"question_id\":2,\"question\":\"Pick \\\"c\\\", then stop\",\"options\":[\"a\",\"b, "
    "or not\",\"c\"],\"answer\":\"C\",\"answer_index\":2,\"category\":\"law\",\"src\":\"s2\"}\n";

static const char *MMLU_CSV =
    "question_id,question,options,answer,answer_index,category,src\r\n"
    "1,What is 1+1?,\"['0', '2', '3']\",B,1,math,s1\r\n"
    "2,\"Pick \"\"c\"\", then stop\",\"[\"\"a\"\", \"\"b, or not\"\", \"\"c\"\"]\",C,2,law,s2\r\n";

static void expect_mmlu_pair(struct ipw_dataset *ds)
{
    assert_int_equal(ds->n, 2);
    assert_string_equal(ds->rec[0].problem,
                        "What is 1+1?\n\nOptions:\nA. 0\nB. 2\nC. 3\n\nRespond with the correct "
                        "letter.");
    assert_string_equal(ds->rec[1].problem,
                        "Pick \"c\", then stop\n\nOptions:\nA. a\nB. b, or not\nC. c\n\nRespond "
                        "with the correct letter.");
    assert_string_equal(ds->rec[1].answer, "C");
    assert_string_equal(ds->rec[1].subject, "law");
    assert_int_equal(ds->rec[1].dataset_index, 1);
    /* the metadata is the source row; a CSV options cell becomes the list */
    json_t *opts = json_object_get(ds->rec[0].metadata, "options");
    assert_true(json_is_array(opts));
    assert_int_equal(json_array_size(opts), 3);
    assert_string_equal(json_string_value(json_object_get(ds->rec[1].metadata, "src")), "s2");
}

static void test_mmlu_pro_formats(void **state)
{
    (void)state;
    ipw_test_write(tmpdir, "m.jsonl", MMLU_JSONL);
    struct ipw_dataset *ds = load("mmlu-pro", path_of("m.jsonl"), NULL, 0, false, 0, true);
    expect_mmlu_pair(ds);
    assert_string_equal(ds->name, "MMLU-Pro (m.jsonl)");
    assert_string_equal(ds->id, "mmlu-pro");
    ipw_dataset_free(ds);

    /* a JSON array of the same rows (written over lines, as pretty printers do) */
    char arr[4096];
    jsonl_to_array(MMLU_JSONL, arr, sizeof arr);
    ipw_test_write(tmpdir, "m.json", arr);
    ds = load("mmlu-pro", path_of("m.json"), NULL, 0, false, 0, true);
    expect_mmlu_pair(ds);
    ipw_dataset_free(ds);

    ipw_test_write(tmpdir, "m.csv", MMLU_CSV);
    ds = load("mmlu-pro", path_of("m.csv"), NULL, 0, false, 0, true);
    expect_mmlu_pair(ds);
    assert_int_equal(json_integer_value(json_object_get(ds->rec[1].metadata, "answer_index")),
                     2);
    ipw_dataset_free(ds);

    /* .json holding JSON Lines (HF's to_json), and a name without extension: sniffed */
    ipw_test_write(tmpdir, "hf.json", MMLU_JSONL);
    ds = load("mmlu-pro", path_of("hf.json"), NULL, 0, false, 0, true);
    expect_mmlu_pair(ds);
    ipw_dataset_free(ds);
    ipw_test_write(tmpdir, "noext", MMLU_CSV);
    ds = load("mmlu-pro", path_of("noext"), NULL, 0, false, 0, true);
    expect_mmlu_pair(ds);
    ipw_dataset_free(ds);
    /* format forced by parameter */
    ipw_test_write(tmpdir, "rows.txt", MMLU_JSONL);
    ds = load("mmlu-pro", path_of("rows.txt"), "{\"format\":\"jsonl\"}", 0, false, 0, true);
    expect_mmlu_pair(ds);
    ipw_dataset_free(ds);
}

static const char *SGPQA_JSONL =
    "{\"uuid\":\"a\",\"question\":\"What is 1+1?\",\"options\":[\"0\",\"2\",\"3\"],"
    "\"answer\":\"2\",\"answer_letter\":\"B\",\"discipline\":\"Science\",\"field\":\"Math\","
    "\"subfield\":\"Arithmetic\",\"difficulty\":\"easy\",\"is_calculation\":true}\n"
    "{\"uuid\":\"b\",\"question\":\"Which is it's?\",\"options\":[\"it's\",\"its\"],"
    "\"answer\":\"it's\",\"answer_letter\":\"A\",\"discipline\":\"Literature\",\"field\":"
    "\"Language\",\"subfield\":\"\",\"difficulty\":\"hard\",\"is_calculation\":false}\n";

static const char *SGPQA_CSV =
    "uuid,question,options,answer,answer_letter,discipline,field,subfield,difficulty,"
    "is_calculation\n"
    "a,What is 1+1?,\"['0' '2' '3']\",2,B,Science,Math,Arithmetic,easy,True\n"
    "b,Which is it's?,\"[\"\"it's\"\", 'its']\",it's,A,Literature,Language,,hard,False\n";

static void expect_sgpqa_pair(struct ipw_dataset *ds)
{
    assert_int_equal(ds->n, 2);
    assert_string_equal(ds->rec[0].problem, "What is 1+1?\nOptions:\nA. 0\nB. 2\nC. 3\nRespond "
                                            "with the correct letter only.");
    assert_string_equal(ds->rec[0].subject, "Arithmetic");
    assert_string_equal(ds->rec[1].problem, "Which is it's?\nOptions:\nA. it's\nB. its\nRespond "
                                            "with the correct letter only.");
    assert_string_equal(ds->rec[1].answer, "A");
    assert_string_equal(ds->rec[1].subject, "Language");
}

static void test_supergpqa_formats(void **state)
{
    (void)state;
    ipw_test_write(tmpdir, "s.jsonl", SGPQA_JSONL);
    struct ipw_dataset *ds = load("supergpqa", path_of("s.jsonl"), NULL, 0, false, 0, true);
    expect_sgpqa_pair(ds);
    ipw_dataset_free(ds);
    char arr[4096];
    jsonl_to_array(SGPQA_JSONL, arr, sizeof arr);
    ipw_test_write(tmpdir, "s.json", arr);
    ds = load("supergpqa", path_of("s.json"), NULL, 0, false, 0, true);
    expect_sgpqa_pair(ds);
    ipw_dataset_free(ds);
    ipw_test_write(tmpdir, "s.csv", SGPQA_CSV);
    ds = load("supergpqa", path_of("s.csv"), NULL, 0, false, 0, true);
    expect_sgpqa_pair(ds);
    ipw_dataset_free(ds);
}

static void test_ipw_and_jsonl_formats(void **state)
{
    (void)state;
    ipw_test_write(tmpdir, "own.csv",
                   "id,problem,answer,subject,kind\n"
                   "x1,\"Name the colour of the sky.\nOne word.\",blue,physics,exact\n"
                   "x2,\"Pick one\n\nOptions:\nA. yes\nB. no\n\nRespond with the correct "
                   "letter.\",B,logic,mcq\n");
    struct ipw_dataset *ds = load("ipw", path_of("own.csv"), NULL, 0, false, 0, true);
    assert_int_equal(ds->n, 2);
    assert_string_equal(ds->rec[0].problem, "Name the colour of the sky.\nOne word.");
    assert_string_equal(ds->rec[1].kind, "mcq");
    assert_string_equal(ds->name, "ipw (own.csv)");
    ipw_dataset_free(ds);
    /* the jsonl preset's defaults read the same layout */
    ds = load("jsonl", path_of("own.csv"), NULL, 0, false, 0, true);
    assert_int_equal(ds->n, 2);
    assert_string_equal(ds->rec[0].answer, "blue");
    assert_string_equal(ds->rec[0].kind, "exact");
    assert_string_equal(ds->rec[1].subject, "logic");
    assert_string_equal(ds->name, "own.csv");
    ipw_dataset_free(ds);
    /* an mcq answer must be an option of the problem */
    ipw_test_write(tmpdir, "badmcq.jsonl",
                   "{\"problem\":\"Q\\n\\nOptions:\\nA. x\\nB. y\",\"answer\":\"C\","
                   "\"kind\":\"mcq\",\"subject\":\"s\"}\n");
    ipw_errbuf eb = {0};
    assert_int_equal(load_err("ipw", path_of("badmcq.jsonl"), NULL, true, &eb), IPW_E_INVALID);
    assert_non_null(strstr(eb.msg, "badmcq.jsonl:1: answer C is not among the options"));
}

/* --- malformed rows ---------------------------------------------------------------------- */

static void test_malformed_rows_reported(void **state)
{
    (void)state;
    ipw_test_write(tmpdir, "mmlu.jsonl",
                   "{\"question\":\"Q1\",\"options\":[\"a\",\"b\"],\"answer\":\"A\"}\n"
                   "\n"
                   "{\"question\":\"Q2\",\"answer\":\"A\"}\n"
                   "{\"question\":\"Q3\",\"options\":[\"a\",\"b\"],\"answer\":\"B\"}\r\n"
                   "{not json}\n"
                   "[1,2]\n"
                   "{\"question\":\"Q4\",\"options\":[\"a\",\"b\"],\"answer\":\"A\"}");
    struct ipw_dataset *ds = load("mmlu-pro", path_of("mmlu.jsonl"), NULL, 0, false, 0, false);
    assert_int_equal(ds->n, 3);
    assert_int_equal(ds->skipped_rows, 3);
    assert_int_equal(ds->source_rows, 6);
    /* dataset_index counts data rows (malformed ones keep their place, blank lines do not) */
    assert_int_equal(ds->rec[1].dataset_index, 2);
    assert_int_equal(ds->rec[2].dataset_index, 5);
    assert_int_equal(json_array_size(ds->warnings), 3);
    const char *w0 = json_string_value(json_array_get(ds->warnings, 0));
    char want[4200];
    snprintf(want, sizeof want, "%s:3: missing field 'options'", path_of("mmlu.jsonl"));
    assert_string_equal(w0, want);
    assert_non_null(strstr(json_string_value(json_array_get(ds->warnings, 1)),
                           "mmlu.jsonl:5: invalid JSON"));
    assert_non_null(strstr(json_string_value(json_array_get(ds->warnings, 2)),
                           "mmlu.jsonl:6: expected a JSON object, found an array"));
    ipw_dataset_free(ds);

    /* strict: the first malformed row is fatal, with the same file:line message */
    ipw_errbuf eb = {0};
    assert_int_equal(load_err("mmlu-pro", path_of("mmlu.jsonl"), NULL, true, &eb),
                     IPW_E_INVALID);
    assert_non_null(strstr(eb.msg, want));
    assert_non_null(strstr(eb.msg, "strict"));

    /* CSV: the line where a record starts, counting line breaks inside quoted fields */
    ipw_test_write(tmpdir, "bad.csv",
                   "question,options,answer\n"
                   "\"multi\nline\",\"['a','b']\",A\n"
                   "short,row\n"
                   "Q,\"['a']\",A\n"
                   "Q,\"['a']\"x,A\n");
    ds = load("mmlu-pro", path_of("bad.csv"), NULL, 0, false, 0, false);
    assert_int_equal(ds->n, 2);
    assert_string_equal(ds->rec[0].problem,
                        "multi\nline\n\nOptions:\nA. a\nB. b\n\nRespond with the correct letter.");
    assert_non_null(strstr(json_string_value(json_array_get(ds->warnings, 0)),
                           "bad.csv:4: the record has 2 fields, the header has 3"));
    assert_non_null(strstr(json_string_value(json_array_get(ds->warnings, 1)),
                           "bad.csv:6: text after a closing quote"));
    ipw_dataset_free(ds);

    /* JSON array: each element reported with the line it starts on */
    ipw_test_write(tmpdir, "bad.json",
                   "[\n  {\"question\":\"Q\",\"options\":[\"a\"],\"answer\":\"A\"},\n"
                   "  {\"question\":\"Q\", \"options\": [\"a\"],\n   \"answer\": \"B\"},\n"
                   "  {\"question\": oops},\n"
                   "  {\"question\":\"Q\",\"options\":[\"a\"],\"answer\":\"A\"}\n]\n");
    ds = load("mmlu-pro", path_of("bad.json"), NULL, 0, false, 0, false);
    assert_int_equal(ds->n, 2);
    assert_non_null(strstr(json_string_value(json_array_get(ds->warnings, 0)),
                           "bad.json:3: field 'answer' is B but there are only 1 options"));
    assert_non_null(strstr(json_string_value(json_array_get(ds->warnings, 1)),
                           "bad.json:5: invalid JSON in array element"));
    assert_int_equal(ds->rec[1].dataset_index, 3);
    ipw_dataset_free(ds);

    /* a file with no usable row is an error naming the first problem */
    ipw_test_write(tmpdir, "none.jsonl", "{\"question\":\"Q\"}\n");
    assert_int_equal(load_err("mmlu-pro", path_of("none.jsonl"), NULL, false, &eb),
                     IPW_E_INVALID);
    assert_non_null(strstr(eb.msg, "no usable rows"));
    assert_non_null(strstr(eb.msg, "none.jsonl:1: missing field 'options'"));
}

static void test_structural_errors(void **state)
{
    (void)state;
    ipw_errbuf eb = {0};
    ipw_test_write(tmpdir, "open.csv", "question,options,answer\nQ,\"['a']\",A\n\"never closed,x\n");
    assert_int_equal(load_err("mmlu-pro", path_of("open.csv"), NULL, false, &eb), IPW_E_INVALID);
    assert_non_null(strstr(eb.msg, "open.csv:3: a quoted field opened here is never closed"));
    ipw_test_write(tmpdir, "dup.csv", "question,question\nQ,Q\n");
    assert_int_equal(load_err("mmlu-pro", path_of("dup.csv"), NULL, false, &eb), IPW_E_INVALID);
    assert_non_null(strstr(eb.msg, "names column 'question' twice"));
    ipw_test_write(tmpdir, "unclosed.json", "[{\"question\":\"Q\"},\n{\"a\":[1,2}\n");
    assert_int_equal(load_err("mmlu-pro", path_of("unclosed.json"), NULL, false, &eb),
                     IPW_E_INVALID);
    assert_non_null(strstr(eb.msg, "unclosed.json:2: the array element starting here is not "
                                   "closed"));
    ipw_test_write(tmpdir, "tail.json", "[{\"question\":\"Q\",\"options\":[\"a\"],\"answer\":"
                                        "\"A\"}] trailing");
    assert_int_equal(load_err("mmlu-pro", path_of("tail.json"), NULL, false, &eb), IPW_E_INVALID);
    assert_non_null(strstr(eb.msg, "unexpected text after the JSON array"));
    ipw_test_write(tmpdir, "obj.json", "  x");
    assert_int_equal(load_err("mmlu-pro", path_of("obj.json"), "{\"format\":\"json\"}", false,
                              &eb),
                     IPW_E_INVALID);
    assert_non_null(strstr(eb.msg, "expected a JSON array"));
}

static void test_row_limit(void **state)
{
    (void)state;
    /* lines over max_row_bytes are malformed rows: reported, skipped, reading goes on */
    char big[600];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    char text[4096];
    snprintf(text, sizeof text,
             "{\"question\":\"Q\",\"options\":[\"a\"],\"answer\":\"A\"}\n"
             "{\"question\":\"%s\",\"options\":[\"a\"],\"answer\":\"A\"}\n"
             "{\"question\":\"Q2\",\"options\":[\"a\"],\"answer\":\"A\"}\n",
             big);
    ipw_test_write(tmpdir, "long.jsonl", text);
    struct ipw_dataset *ds =
        load("mmlu-pro", path_of("long.jsonl"), "{\"max_row_bytes\":256}", 0, false, 0, false);
    assert_int_equal(ds->n, 2);
    assert_non_null(strstr(json_string_value(json_array_get(ds->warnings, 0)),
                           "long.jsonl:2: line longer than 256 bytes"));
    ipw_dataset_free(ds);
    snprintf(text, sizeof text, "question,options,answer\nQ,\"['a']\",A\n\"%s\",\"['a']\",A\n"
                                "Q2,\"['a']\",A\n", big);
    ipw_test_write(tmpdir, "long.csv", text);
    ds = load("mmlu-pro", path_of("long.csv"), "{\"max_row_bytes\":\"256\"}", 0, false, 0,
              false);
    assert_int_equal(ds->n, 2);
    assert_string_equal(ds->rec[1].problem,
                        "Q2\n\nOptions:\nA. a\n\nRespond with the correct letter.");
    assert_non_null(strstr(json_string_value(json_array_get(ds->warnings, 0)),
                           "long.csv:3: CSV record longer than 256 bytes"));
    ipw_dataset_free(ds);
    snprintf(text, sizeof text, "[{\"question\":\"Q\",\"options\":[\"a\"],\"answer\":\"A\"},"
                                "{\"question\":\"%s\"},{\"question\":\"Q2\",\"options\":[\"a\"],"
                                "\"answer\":\"A\"}]", big);
    ipw_test_write(tmpdir, "long.json", text);
    ds = load("mmlu-pro", path_of("long.json"), "{\"max_row_bytes\":256}", 0, false, 0, false);
    assert_int_equal(ds->n, 2);
    assert_non_null(strstr(json_string_value(json_array_get(ds->warnings, 0)),
                           "longer than 256 bytes"));
    ipw_dataset_free(ds);
}

/* --- errors before reading --------------------------------------------------------------- */

static void test_path_and_param_errors(void **state)
{
    (void)state;
    ipw_errbuf eb = {0};
    assert_int_equal(load_err("mmlu-pro", NULL, NULL, false, &eb), IPW_E_INVALID);
    assert_non_null(strstr(eb.msg, "--dataset-path"));
    char missing[4200];
    snprintf(missing, sizeof missing, "%s/nope/mmlu.jsonl", tmpdir);
    assert_int_equal(load_err("supergpqa", missing, NULL, false, &eb), IPW_E_NOTFOUND);
    assert_non_null(strstr(eb.msg, "--dataset-path"));
    assert_non_null(strstr(eb.msg, missing));
    assert_int_equal(load_err("nope", NULL, NULL, false, &eb), IPW_E_NOTFOUND);
    assert_non_null(strstr(eb.msg, "choose ipw, mmlu-pro, supergpqa or jsonl"));
    /* the registry: ids in order, each described, ipw the default */
    const char *want[] = {"ipw", "mmlu-pro", "supergpqa", "jsonl", NULL};
    for (size_t i = 0; i < 5; i++) {
        if (!want[i]) {
            assert_null(ipw_dataset_choices()[i]);
            break;
        }
        assert_string_equal(ipw_dataset_choices()[i], want[i]);
        assert_non_null(ipw_dataset_description(want[i]));
    }
    assert_null(ipw_dataset_description("nope"));
    assert_string_equal(ipw_dataset_default(), "ipw");
    ipw_test_write(tmpdir, "p.jsonl", "{\"problem\":\"hi\"}\n");
    assert_int_equal(load_err("jsonl", path_of("p.jsonl"), "{\"promt_field\":\"x\"}", false, &eb),
                     IPW_E_INVALID);
    assert_non_null(strstr(eb.msg, "unknown --dataset-param 'promt_field'"));
    assert_int_equal(load_err("jsonl", path_of("p.jsonl"), "{\"kind\":\"essay\"}", false, &eb),
                     IPW_E_INVALID);
    assert_int_equal(load_err("jsonl", path_of("p.jsonl"), "{\"format\":\"xml\"}", false, &eb),
                     IPW_E_INVALID);
    /* a directory must be a HuggingFace save_to_disk folder (it has state.json) */
    ipw_test_write(tmpdir, "hfdir/dataset_info.json", "{}");
    assert_int_equal(load_err("mmlu-pro", path_of("hfdir"), NULL, false, &eb), IPW_E_INVALID);
    assert_non_null(strstr(eb.msg, "not a HuggingFace save_to_disk folder"));
    ipw_test_write(tmpdir, "dict/dataset_dict.json", "{\"splits\": [\"test\"]}");
    assert_int_equal(load_err("mmlu-pro", path_of("dict"), NULL, false, &eb), IPW_E_INVALID);
    assert_non_null(strstr(eb.msg, "one split's folder"));
}

/* A save_to_disk folder as input: here a run directory's own HuggingFace dataset (columns
 * problem, answer, subject, ...), the shape of the original tool's dataset folders. */
static void test_hf_folder_input(void **state)
{
    (void)state;
    json_t *recs[3];
    for (int i = 0; i < 3; i++) {
        char problem[64], answer[8];
        snprintf(problem, sizeof problem, "What is %d + %d?", i, i);
        snprintf(answer, sizeof answer, "%d", 2 * i);
        recs[i] = json_pack("{s:i, s:s, s:s, s:s, s:{}}", "record_index", i, "problem", problem,
                            "answer", answer, "subject", i == 1 ? "algebra" : "arithmetic",
                            "dataset_metadata");
    }
    struct ipw_run_dataset_stats st;
    ipw_errbuf eb = {0};
    assert_int_equal(ipw_mkdir_p(path_of("hf"), NULL), IPW_OK);
    if (ipw_run_dataset_write(path_of("hf"), recs, 3, &st, &eb) != IPW_OK)
        fail_msg("writing the folder: %s", eb.msg);
    struct ipw_dataset *ds =
        load("jsonl", path_of("hf"),
             "{\"prompt_field\":\"problem\",\"answer_field\":\"answer\","
             "\"subject_field\":\"subject\",\"kind\":\"exact\"}",
             0, false, 0, false);
    assert_int_equal(ds->n, 3);
    assert_string_equal(ds->rec[2].problem, "What is 2 + 2?");
    assert_string_equal(ds->rec[2].answer, "4");
    assert_string_equal(ds->rec[1].subject, "algebra");
    assert_string_equal(ds->rec[0].kind, "exact");
    ipw_dataset_free(ds);
    for (int i = 0; i < 3; i++)
        json_decref(recs[i]);
}

/* --- sampling ---------------------------------------------------------------------------- */

static void write_numbered(const char *name, int n)
{
    size_t cap = (size_t)n * 96 + 1;
    char *text = malloc(cap);
    size_t len = 0;
    for (int i = 0; i < n; i++)
        len += (size_t)snprintf(text + len, cap - len,
                                "{\"problem\":\"question %d\",\"answer\":\"%d\"}\n", i, i);
    ipw_test_write(tmpdir, name, text);
    free(text);
}

static void test_sampling(void **state)
{
    (void)state;
    write_numbered("n.jsonl", 100);
    /* no seed: the first N, in order */
    struct ipw_dataset *a = load("jsonl", path_of("n.jsonl"), NULL, 5, false, 0, true);
    assert_int_equal(a->n, 5);
    for (size_t i = 0; i < 5; i++)
        assert_int_equal(a->rec[i].dataset_index, i);
    ipw_dataset_free(a);

    /* seeded: the same sample every time, in source order, different for another seed */
    a = load("jsonl", path_of("n.jsonl"), NULL, 10, true, 7, true);
    struct ipw_dataset *b = load("jsonl", path_of("n.jsonl"), NULL, 10, true, 7, true);
    struct ipw_dataset *c = load("jsonl", path_of("n.jsonl"), NULL, 10, true, 8, true);
    assert_int_equal(a->n, 10);
    assert_int_equal(c->n, 10);
    int same_as_c = 0;
    for (size_t i = 0; i < 10; i++) {
        assert_int_equal(a->rec[i].dataset_index, b->rec[i].dataset_index);
        assert_string_equal(a->rec[i].problem, b->rec[i].problem);
        if (i)
            assert_true(a->rec[i].dataset_index > a->rec[i - 1].dataset_index);
        same_as_c += a->rec[i].dataset_index == c->rec[i].dataset_index;
    }
    assert_true(same_as_c < 10);
    /* not simply the first ten */
    assert_true(a->rec[9].dataset_index > 9);
    ipw_dataset_free(a);
    ipw_dataset_free(b);
    ipw_dataset_free(c);

    /* growing N with the same seed only adds items */
    a = load("jsonl", path_of("n.jsonl"), NULL, 5, true, 99, true);
    b = load("jsonl", path_of("n.jsonl"), NULL, 20, true, 99, true);
    for (size_t i = 0; i < a->n; i++) {
        bool found = false;
        for (size_t k = 0; k < b->n; k++)
            found |= a->rec[i].dataset_index == b->rec[k].dataset_index;
        assert_true(found);
    }
    ipw_dataset_free(a);
    ipw_dataset_free(b);

    /* more than the set: everything, seeded or not */
    a = load("jsonl", path_of("n.jsonl"), NULL, 1000, true, 3, true);
    assert_int_equal(a->n, 100);
    assert_int_equal(a->source_rows, 100);
    assert_int_equal(a->rec[99].dataset_index, 99);
    ipw_dataset_free(a);
    a = load("jsonl", path_of("n.jsonl"), NULL, 1000, false, 0, true);
    assert_int_equal(a->n, 100);
    ipw_dataset_free(a);
}

static void test_sample_indices_reference(void **state)
{
    (void)state;
    /* values of the algorithm in docs/datasets.md, computed by an independent Python version */
    struct {
        size_t total, k;
        uint64_t seed;
        size_t want[5];
    } cases[] = {{10, 3, 42, {2, 3, 4}},
                 {100, 5, 1, {53, 56, 61, 65, 66}},
                 {100, 5, 2, {10, 33, 60, 65, 77}},
                 {1000, 4, 0, {28, 321, 535, 922}}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        size_t *got;
        size_t n = ipw_dataset_sample_indices(cases[c].total, cases[c].k, cases[c].seed, &got);
        assert_int_equal(n, cases[c].k);
        for (size_t i = 0; i < n; i++)
            assert_int_equal(got[i], cases[c].want[i]);
        free(got);
    }
    size_t *got;
    assert_int_equal(ipw_dataset_sample_indices(3, 10, 5, &got), 3);
    assert_int_equal(got[0], 0);
    assert_int_equal(got[2], 2);
    free(got);
}

/* --- the generic jsonl preset ------------------------------------------------------------ */

static void test_jsonl_mapping(void **state)
{
    (void)state;
    struct ipw_dataset_record r;
    const char *map = "{\"prompt_field\":\"input.text\",\"answer_field\":\"target\","
                      "\"subject_field\":\"meta.topic\"}";
    convert_ok("jsonl", map,
               "{\"input\":{\"text\":\"Say hi\"},\"target\":42,\"meta\":{\"topic\":\"greet\"}}",
               &r);
    assert_string_equal(r.problem, "Say hi");
    assert_string_equal(r.answer, "42");
    assert_string_equal(r.subject, "greet");
    assert_string_equal(r.kind, "open"); /* the default kind */
    ipw_dataset_record_clear(&r);
    /* a member literally named with a dot wins over the path; arrays by index */
    convert_ok("jsonl", "{\"prompt_field\":\"messages.0.content\",\"answer_field\":\"a.b\"}",
               "{\"messages\":[{\"content\":\"first\"}],\"a.b\":\"flat\",\"a\":{\"b\":\"deep\"}}",
               &r);
    assert_string_equal(r.problem, "first");
    assert_string_equal(r.answer, "flat");
    assert_string_equal(r.subject, "general");
    ipw_dataset_record_clear(&r);
    /* kind from a field, or fixed for all rows; mcq answers are letters */
    convert_ok("jsonl", "{\"prompt_field\":\"q\",\"kind_field\":\"type\"}",
               "{\"q\":\"x\",\"answer\":\"b\",\"type\":\"MCQ\"}", &r);
    assert_string_equal(r.kind, "mcq");
    assert_string_equal(r.answer, "B");
    ipw_dataset_record_clear(&r);
    convert_ok("jsonl", "{\"kind\":\"exact\",\"subject\":\"fixed\"}",
               "{\"problem\":\"x\",\"answer\":\" Paris \",\"subject\":\"ignored\"}", &r);
    assert_string_equal(r.kind, "exact");
    assert_string_equal(r.answer, "Paris");
    assert_string_equal(r.subject, "fixed");
    ipw_dataset_record_clear(&r);
    /* no answer: "" unless answer_field was named */
    convert_ok("jsonl", NULL, "{\"problem\":\"open question\"}", &r);
    assert_string_equal(r.answer, "");
    ipw_dataset_record_clear(&r);
    convert_fails("jsonl", "{\"answer_field\":\"gold\"}", "{\"problem\":\"x\"}",
                  "missing field 'gold'");
    convert_fails("jsonl", "{\"prompt_field\":\"prompt\"}", "{\"problem\":\"x\"}",
                  "missing field 'prompt'");
    convert_fails("jsonl", NULL, "{\"problem\":7}", "is not a string");
    convert_fails("jsonl", NULL, "{\"problem\":\"x\",\"kind\":\"essay\"}",
                  "must be mcq, exact or open");
    convert_fails("jsonl", "{\"kind\":\"mcq\"}", "{\"problem\":\"x\",\"answer\":\"Paris\"}",
                  "one-letter answer");
}

/* --- list cells -------------------------------------------------------------------------- */

static void expect_list(const char *text, int n, const char *const *want)
{
    json_t *l = NULL;
    ipw_errbuf eb = {0};
    if (ipw_rows_parse_list(text, strlen(text), &l, &eb) != IPW_OK)
        fail_msg("%s: %s", text, eb.msg);
    assert_int_equal(json_array_size(l), n);
    for (int i = 0; i < n; i++)
        assert_string_equal(json_string_value(json_array_get(l, (size_t)i)), want[i]);
    json_decref(l);
}

static void test_list_cells(void **state)
{
    (void)state;
    static const char *const a[] = {"0", "2", "3"};
    expect_list("[\"0\",\"2\",\"3\"]", 3, a);
    expect_list("['0', '2', '3']", 3, a);
    expect_list(" ['0' '2'\n '3'] ", 3, a);
    expect_list("[0, 2, 3]", 3, a);
    expect_list("['0', '2', '3',]", 3, a);
    static const char *const b[] = {"it's", "say \"hi\"", "tab\there", "caf\xc3\xa9", "\xe2\x82\xac",
                                    "back\\slash", "\\d"};
    expect_list("[\"it's\", 'say \"hi\"', 'tab\\there', 'caf\\xe9', '\\u20ac', 'back\\\\slash', "
                "'\\d']",
                7, b);
    expect_list("[]", 0, NULL);
    const char *bad[] = {"", "['a'", "['a' 'b'", "[None]", "['a''b']", "'a'", "['a'] x",
                         "['\\x4']", "['\\ud800']", "[{\"a\":1}]"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        json_t *l = NULL;
        ipw_errbuf eb = {0};
        if (ipw_rows_parse_list(bad[i], strlen(bad[i]), &l, &eb) == IPW_OK)
            fail_msg("'%s' should not parse", bad[i]);
        assert_null(l);
    }
}

static void test_detect(void **state)
{
    (void)state;
    assert_int_equal(ipw_rows_detect("a.jsonl", "[", 1), IPW_ROWS_JSONL);
    assert_int_equal(ipw_rows_detect("a.JSON", " [", 2), IPW_ROWS_JSON);
    assert_int_equal(ipw_rows_detect("a.json", "{", 1), IPW_ROWS_JSONL);
    assert_int_equal(ipw_rows_detect("a.csv", "{", 1), IPW_ROWS_CSV);
    assert_int_equal(ipw_rows_detect("a", "\xef\xbb\xbf\n[", 5), IPW_ROWS_JSON);
    assert_int_equal(ipw_rows_detect("a", "{", 1), IPW_ROWS_JSONL);
    assert_int_equal(ipw_rows_detect("a", "q,a", 3), IPW_ROWS_CSV);
    assert_int_equal(ipw_rows_detect(NULL, "", 0), IPW_ROWS_JSONL);
}

/* Rows from a buffer with a BOM, CRLF and a lone CR; the sink sees index and line. */
struct seen {
    int rows, bad, with_a;
    size_t lines[8];
};

static ipw_err seen_row(void *ud, json_t *row, size_t index, size_t line, ipw_errbuf *eb)
{
    (void)index;
    (void)eb;
    struct seen *s = ud;
    s->with_a += json_object_get(row, "a") != NULL;
    if (s->rows < 8)
        s->lines[s->rows] = line;
    s->rows++;
    return IPW_OK;
}

static ipw_err seen_bad(void *ud, size_t index, size_t line, const char *msg, ipw_errbuf *eb)
{
    (void)index;
    (void)line;
    (void)msg;
    (void)eb;
    ((struct seen *)ud)->bad++;
    return IPW_OK;
}

static void test_csv_line_endings(void **state)
{
    (void)state;
    const char *text = "\xef\xbb\xbf" "a,b\r\n1,2\r\n\r\n3,\"x\r\ny\"\r4,5";
    struct seen s = {0};
    struct ipw_rows_sink sink = {&s, seen_row, seen_bad};
    struct ipw_rows_opts o = {IPW_ROWS_CSV, 0, "t.csv"};
    ipw_errbuf eb = {0};
    assert_int_equal(ipw_rows_read_mem(text, strlen(text), &o, &sink, &eb), IPW_OK);
    assert_int_equal(s.rows, 3);
    assert_int_equal(s.bad, 0);
    assert_int_equal(s.lines[0], 2);
    assert_int_equal(s.lines[1], 4);
    assert_int_equal(s.lines[2], 6);
    /* the header's first name lost its byte order mark */
    assert_int_equal(s.with_a, 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mmlu_pro_prompt_exact),
        cmocka_unit_test(test_supergpqa_prompt_exact),
        cmocka_unit_test(test_mmlu_pro_answers),
        cmocka_unit_test(test_supergpqa_subjects),
        cmocka_unit_test(test_mmlu_pro_formats),
        cmocka_unit_test(test_supergpqa_formats),
        cmocka_unit_test(test_ipw_and_jsonl_formats),
        cmocka_unit_test(test_malformed_rows_reported),
        cmocka_unit_test(test_structural_errors),
        cmocka_unit_test(test_row_limit),
        cmocka_unit_test(test_path_and_param_errors),
        cmocka_unit_test(test_hf_folder_input),
        cmocka_unit_test(test_sampling),
        cmocka_unit_test(test_sample_indices_reference),
        cmocka_unit_test(test_jsonl_mapping),
        cmocka_unit_test(test_list_cells),
        cmocka_unit_test(test_detect),
        cmocka_unit_test(test_csv_line_endings),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
