/* The run reader: flattening a record, model resolution, kind inference, malformed and
 * cut-short lines, long lines, rewinding, and clear errors for directories that are not runs. */
#include "ipw_test.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "analysis/record_scan.h"
#include "ipw/analysis.h"
#include "ipw/run_reader.h"

static const char *rec_a =
    "{\"record_index\":0,\"problem\":\"Q?\\nA. x\\nB. y\",\"answer\":\"B\",\"subject\":\"s\","
    "\"kind\":\"mcq\",\"status\":\"ok\",\"model_answers\":{\"m1\":\"B\"},"
    "\"model_metrics\":{\"m1\":{\"energy_metrics\":{\"per_query_joules\":10,\"total_joules\":"
    "12.5,\"active_joules\":null,\"prefill_joules\":1,\"decode_joules\":9,\"energy_source\":"
    "\"counter\"},\"latency_metrics\":{\"time_to_first_token_seconds\":0.1,"
    "\"total_query_seconds\":2},\"power_metrics\":{\"gpu\":{\"per_query_watts\":{\"avg\":5},"
    "\"total_watts\":{\"avg\":6.25}}},\"token_metrics\":{\"input\":10,\"output\":20,"
    "\"total\":null},\"lm_correctness\":true}}}\n";

static char *make_run(const char *records, const char *summary)
{
    char *dir = ipw_test_mkdtemp("ipw-reader");
    ipw_test_write(dir, "records.jsonl", records);
    if (summary)
        ipw_test_write(dir, "summary.json", summary);
    return dir;
}

static void test_flatten(void **state)
{
    (void)state;
    char *dir = make_run(rec_a, "{\"model\":\"m1\",\"hardware_label\":\"H100\",\"dataset\":"
                                "\"ipw\",\"telemetry\":{\"platform\":\"nvidia\"}}");
    struct ipw_run_reader *r;
    assert_int_equal(ipw_run_reader_open(dir, NULL, &r, NULL), IPW_OK);
    assert_string_equal(ipw_run_reader_info(r)->hardware_label, "H100");
    assert_string_equal(ipw_run_reader_info(r)->platform, "nvidia");
    struct ipw_run_query q;
    bool eof;
    assert_int_equal(ipw_run_reader_next(r, &q, &eof, NULL), IPW_OK);
    assert_false(eof);
    assert_int_equal(q.line, 1);
    assert_int_equal(q.kind, IPW_KIND_MCQ);
    assert_true(q.kind_given);
    assert_string_equal(q.response, "B");
    assert_string_equal(q.reference, "B");
    assert_int_equal(q.prior_correct, 1);
    assert_double_equal(q.energy_j, 10, 0);
    assert_double_equal(q.total_j, 12.5, 0);
    assert_true(isnan(q.active_j));
    assert_double_equal(q.total_tokens, 30, 0); /* null total: input + output */
    assert_double_equal(q.power_avg_w, 5, 0);
    assert_double_equal(q.total_power_avg_w, 6.25, 0);
    assert_string_equal(q.energy_source, "counter");
    assert_int_equal(ipw_run_reader_next(r, &q, &eof, NULL), IPW_OK);
    assert_true(eof);
    /* a second pass */
    assert_int_equal(ipw_run_reader_rewind(r, NULL), IPW_OK);
    assert_int_equal(ipw_run_reader_next(r, &q, &eof, NULL), IPW_OK);
    assert_false(eof);
    assert_int_equal(q.record_index, 0);
    ipw_run_reader_close(r);
    ipw_test_rmtree(dir);
    free(dir);
}

/* Whether the energies are modelled comes from summary.json's "modelled" (the source's
 * capability), never from the platform's name; runs saved before it say "sim". */
static void test_modelled_from_summary(void **state)
{
    (void)state;
    struct {
        const char *summary;
        bool modelled;
    } cases[] = {
        {"{\"modelled\":true,\"telemetry\":{\"platform\":\"remote\"}}", true},
        {"{\"modelled\":false,\"telemetry\":{\"platform\":\"sim\"}}", false},
        {"{\"modelled\":false,\"telemetry\":{\"platform\":\"nvidia\"}}", false},
        {"{\"telemetry\":{\"platform\":\"sim\"}}", true},     /* an old run */
        {"{\"telemetry\":{\"platform\":\"nvidia\"}}", false}, /* an old run */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *dir = make_run(rec_a, cases[i].summary);
        struct ipw_run_reader *r;
        assert_int_equal(ipw_run_reader_open(dir, NULL, &r, NULL), IPW_OK);
        assert_int_equal(ipw_run_reader_info(r)->modelled, cases[i].modelled);
        ipw_run_reader_close(r);
        ipw_test_rmtree(dir);
        free(dir);
    }
}

static void test_model_resolution(void **state)
{
    (void)state;
    /* no summary: the only model in the records; a summary naming another tag: still found */
    char *dir = make_run(rec_a, NULL);
    struct ipw_run_reader *r;
    struct ipw_run_query q;
    bool eof;
    assert_int_equal(ipw_run_reader_open(dir, NULL, &r, NULL), IPW_OK);
    assert_int_equal(ipw_run_reader_next(r, &q, &eof, NULL), IPW_OK);
    assert_string_equal(ipw_run_reader_model(r), "m1");
    assert_double_equal(q.energy_j, 10, 0);
    ipw_run_reader_close(r);
    struct ipw_run_reader_options o = {.model = "m1:latest"};
    assert_int_equal(ipw_run_reader_open(dir, &o, &r, NULL), IPW_OK);
    assert_int_equal(ipw_run_reader_next(r, &q, &eof, NULL), IPW_OK);
    assert_string_equal(q.response, "B");
    ipw_run_reader_close(r);
    ipw_test_rmtree(dir);
    free(dir);

    /* two models: the one asked for, and an error for one that is not there */
    dir = make_run("{\"model_answers\":{\"m1\":\"A\",\"m2\":\"B\"}}\n", NULL);
    o.model = "m2";
    assert_int_equal(ipw_run_reader_open(dir, &o, &r, NULL), IPW_OK);
    assert_int_equal(ipw_run_reader_next(r, &q, &eof, NULL), IPW_OK);
    assert_string_equal(q.response, "B");
    ipw_run_reader_close(r);
    o.model = "m3";
    ipw_errbuf eb = {0};
    assert_int_equal(ipw_run_reader_open(dir, &o, &r, NULL), IPW_OK);
    assert_int_equal(ipw_run_reader_next(r, &q, &eof, &eb), IPW_E_NOTFOUND);
    assert_non_null(strstr(eb.msg, "--model"));
    ipw_run_reader_close(r);
    /* nobody named one: the first */
    assert_int_equal(ipw_run_reader_open(dir, NULL, &r, NULL), IPW_OK);
    assert_int_equal(ipw_run_reader_next(r, &q, &eof, NULL), IPW_OK);
    assert_string_equal(ipw_run_reader_model(r), "m1");
    assert_string_equal(q.response, "A");
    ipw_run_reader_close(r);
    ipw_test_rmtree(dir);
    free(dir);
}

static void test_minimal_record(void **state)
{
    (void)state;
    /* nothing but a prompt: every number NAN, strings empty, kind inferred */
    json_t *j = json_loads("{\"problem\":\"Explain tides.\",\"answer\":\"The moon.\"}", 0, NULL);
    struct ipw_run_query q;
    ipw_run_query_from_json(j, "m", &q);
    assert_false(q.kind_given);
    assert_int_equal(q.kind, IPW_KIND_OPEN);
    assert_string_equal(q.response, "");
    assert_int_equal(q.record_index, -1);
    assert_true(isnan(q.energy_j) && isnan(q.latency_s) && isnan(q.total_tokens));
    assert_int_equal(q.prior_correct, -1);
    assert_false(q.failed);
    json_decref(j);
    /* an error without a status is a failure; wrong types read as null */
    j = json_loads("{\"error\":\"timeout\",\"model_metrics\":{\"m\":{\"energy_metrics\":"
                   "{\"per_query_joules\":\"12\"}}}}",
                   0, NULL);
    ipw_run_query_from_json(j, "m", &q);
    assert_true(q.failed);
    assert_true(isnan(q.energy_j));
    json_decref(j);
}

/* rec_a with another record_index (the same index twice means a superseded record) */
static const char *rec_n(int n, char *buf, size_t size)
{
    snprintf(buf, size, "{\"record_index\":%d%s", n, rec_a + strlen("{\"record_index\":0"));
    return buf;
}

static void test_malformed(void **state)
{
    (void)state;
    char text[4096], r1[1024], r2[1024];
    snprintf(text, sizeof text, "%s\n%s{\"broken\": \n%s", rec_a, rec_n(1, r1, sizeof r1),
             rec_n(2, r2, sizeof r2));
    char *dir = make_run(text, NULL);
    struct ipw_run_reader *r;
    struct ipw_run_query q;
    bool eof;
    ipw_errbuf eb = {0};
    assert_int_equal(ipw_run_reader_open(dir, NULL, &r, NULL), IPW_OK);
    assert_int_equal(ipw_run_reader_next(r, &q, &eof, &eb), IPW_OK);
    assert_int_equal(ipw_run_reader_next(r, &q, &eof, &eb), IPW_OK); /* blank line skipped */
    assert_int_equal(q.line, 3);
    assert_int_equal(ipw_run_reader_next(r, &q, &eof, &eb), IPW_E_INVALID);
    assert_non_null(strstr(eb.msg, "records.jsonl:4:"));
    ipw_run_reader_close(r);
    struct ipw_run_reader_options o = {.skip_malformed = true};
    assert_int_equal(ipw_run_reader_open(dir, &o, &r, NULL), IPW_OK);
    int n = 0;
    for (;;) {
        assert_int_equal(ipw_run_reader_next(r, &q, &eof, NULL), IPW_OK);
        if (eof)
            break;
        n++;
    }
    assert_int_equal(n, 3);
    const char *first;
    assert_int_equal(ipw_run_reader_skipped(r, &first), 1);
    assert_non_null(strstr(first, ":4:"));
    ipw_run_reader_close(r);
    ipw_test_rmtree(dir);
    free(dir);

    /* a last line cut short (no newline) is skipped even without skip_malformed */
    snprintf(text, sizeof text, "%s{\"record_index\": 1, \"probl", rec_a);
    dir = make_run(text, NULL);
    assert_int_equal(ipw_run_reader_open(dir, NULL, &r, NULL), IPW_OK);
    assert_int_equal(ipw_run_reader_next(r, &q, &eof, NULL), IPW_OK);
    assert_int_equal(ipw_run_reader_next(r, &q, &eof, NULL), IPW_OK);
    assert_true(eof);
    assert_int_equal(ipw_run_reader_skipped(r, &first), 1);
    assert_non_null(strstr(first, "cut short"));
    ipw_run_reader_close(r);
    ipw_test_rmtree(dir);
    free(dir);
}

static void test_line_limit(void **state)
{
    (void)state;
    size_t n = 300000;
    char *text = malloc(n + 64);
    strcpy(text, "{\"problem\":\"");
    memset(text + 12, 'x', n);
    strcpy(text + 12 + n, "\"}\n");
    char *dir = make_run(text, NULL);
    struct ipw_run_reader *r;
    struct ipw_run_query q;
    bool eof;
    ipw_errbuf eb = {0};
    struct ipw_run_reader_options o = {.max_line_bytes = 100000};
    assert_int_equal(ipw_run_reader_open(dir, &o, &r, NULL), IPW_OK);
    assert_int_equal(ipw_run_reader_next(r, &q, &eof, &eb), IPW_E_RANGE);
    assert_non_null(strstr(eb.msg, "records.jsonl:1"));
    ipw_run_reader_close(r);
    /* under the default limit it spans several reads and parses */
    assert_int_equal(ipw_run_reader_open(dir, NULL, &r, NULL), IPW_OK);
    assert_int_equal(ipw_run_reader_next(r, &q, &eof, &eb), IPW_OK);
    assert_int_equal(strlen(q.problem), n);
    ipw_run_reader_close(r);
    ipw_test_rmtree(dir);
    free(dir);
    free(text);
}

static void test_not_a_run(void **state)
{
    (void)state;
    struct ipw_run_reader *r;
    ipw_errbuf eb = {0};
    assert_int_equal(ipw_run_reader_open("/nonexistent/run", NULL, &r, &eb), IPW_E_NOTFOUND);
    assert_non_null(strstr(eb.msg, "does not exist"));
    char *dir = ipw_test_mkdtemp("ipw-reader");
    assert_int_equal(ipw_run_reader_open(dir, NULL, &r, &eb), IPW_E_NOTFOUND);
    assert_non_null(strstr(eb.msg, "not a run directory"));
    ipw_test_write(dir, "data-00000-of-00001.arrow", "x");
    assert_int_equal(ipw_run_reader_open(dir, NULL, &r, &eb), IPW_E_NOTFOUND);
    assert_non_null(strstr(eb.msg, "Arrow"));
    ipw_test_write(dir, "records.jsonl", "");
    ipw_test_write(dir, "summary.json", "{not json");
    assert_int_equal(ipw_run_reader_open(dir, NULL, &r, &eb), IPW_OK); /* bad summary: ignored */
    assert_false(ipw_run_reader_info(r)->has_summary);
    ipw_run_reader_close(r);
    char file[512];
    snprintf(file, sizeof file, "%s/records.jsonl", dir);
    assert_int_equal(ipw_run_reader_open(file, NULL, &r, &eb), IPW_E_INVALID);
    assert_non_null(strstr(eb.msg, "not a directory"));
    ipw_test_rmtree(dir);
    free(dir);
}

/* The fast line scanner: what it accepts and refuses (as jansson), and the same query as the
 * jansson path on the same text. */
static void test_scanner(void **state)
{
    (void)state;
    struct ipw_scan_arena arena = {0};
    struct ipw_run_query fast, slow;
    struct ipw_scan_result res;
    const char *good[] = {
        rec_a,
        "{\"problem\":\"caf\\u00e9 \\ud83d\\ude00 \\\"q\\\" \\/\\t\",\"answer\":\"B\","
        "\"model_answers\":{\"m\":\"A\",\"m\":\"C\"},\"model_metrics\":{\"x\":{"
        "\"energy_metrics\":{\"per_query_joules\":1e2,\"per_query_joules\":-0.5E-3}}}}",
        "{\"dataset_metadata\":{\"kind\":\"exact\"},\"status\":null,\"error\":\"boom\","
        "\"model_answers\":{\"a\\u0062\":\"x\",\"ab\":\"y\"},\"record_index\":3.0}",
        "  {}  \r\n",
        "{\"model_metrics\":{\"m\":{\"energy_metrics\":{\"per_query_joules\":10,"
        "\"gpu_joules\":10,\"cpu_joules\":2.5,\"dram_joules\":0.5}}}}",
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        const char *models[] = {"m", ""};
        for (size_t k = 0; k < 2; k++) {
            assert_true(ipw_record_scan(good[i], strlen(good[i]), models[k], &arena, &fast,
                                        &res));
            json_t *j = json_loads(good[i], 0, NULL);
            assert_non_null(j);
            ipw_run_query_from_json(j, models[k], &slow);
            assert_string_equal(fast.problem, slow.problem);
            assert_string_equal(fast.response, slow.response);
            assert_string_equal(fast.error, slow.error);
            assert_int_equal(fast.kind, slow.kind);
            assert_int_equal(fast.kind_given, slow.kind_given);
            assert_int_equal(fast.failed, slow.failed);
            assert_int_equal(fast.record_index, slow.record_index);
            assert_true(fast.energy_j == slow.energy_j ||
                        (isnan(fast.energy_j) && isnan(slow.energy_j)));
            /* the per-domain joules --from-run compares (NAN where absent) */
            assert_true(fast.gpu_j == slow.gpu_j || (isnan(fast.gpu_j) && isnan(slow.gpu_j)));
            assert_true(fast.cpu_j == slow.cpu_j || (isnan(fast.cpu_j) && isnan(slow.cpu_j)));
            assert_true(fast.dram_j == slow.dram_j ||
                        (isnan(fast.dram_j) && isnan(slow.dram_j)));
            if (i == 4 && k == 0)
                assert_true(fast.gpu_j == 10 && fast.cpu_j == 2.5 && fast.dram_j == 0.5);
            assert_true(fast.total_tokens == slow.total_tokens ||
                        (isnan(fast.total_tokens) && isnan(slow.total_tokens)));
            json_decref(j);
        }
    }
    assert_true(ipw_record_scan(good[1], strlen(good[1]), "m", &arena, &fast, &res));
    assert_string_equal(fast.problem, "caf\xC3\xA9 \xF0\x9F\x98\x80 \"q\" /\t");
    assert_string_equal(fast.response, "C"); /* the last duplicate wins */
    assert_double_equal(fast.energy_j, -0.5e-3, 0);
    assert_true(ipw_record_scan(good[2], strlen(good[2]), "", &arena, &fast, &res));
    assert_string_equal(fast.response, "y"); /* "a\u0062" and "ab" are one key */
    assert_int_equal(fast.record_index, -1);  /* 3.0 is not an integer */

    const char *bad[] = {"{\"a\":01}", "{\"a\":1.}", "{\"a\":1}x", "{\"a\":\"\\u0000\"}",
                         "{\"a\":\"\\udc00\"}", "{\"a\":\"\\ud800x\"}", "{\"a\":\"\x01\"}",
                         "{\"a\":\"\xC3\"}", "{\"a\":12345678901234567890}", "{\"a\":1e400}",
                         "{\"a\":tru}", "{\"a\" 1}", "{\"a\":1,}", "{\"a\":[1,]}", "\"x\"",
                         "", "{\"a\":\"\\x\"}", "{\"a\":-}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (ipw_record_scan(bad[i], strlen(bad[i]), "m", &arena, &fast, &res))
            fail_msg("accepted %s", bad[i]);
        assert_null(json_loads(bad[i], 0, NULL));
        assert_false(res.not_object);
        assert_true(res.error[0] != '\0');
    }
    assert_false(ipw_record_scan("[1, 2]", 6, "m", &arena, &fast, &res));
    assert_true(res.not_object);
    /* nesting beyond 2048 levels is refused, like jansson */
    char deep[5000];
    memset(deep, '[', 2100);
    memset(deep + 2100, ']', 2100);
    deep[4200] = '\0';
    assert_false(ipw_record_scan(deep, strlen(deep), "m", &arena, &fast, &res));
    assert_non_null(strstr(res.error, "depth"));
    ipw_scan_arena_free(&arena);
}

/* --resume runs a failed query again and appends its new record: the later line of a
 * record_index is the query's record, the earlier one is not counted (on every pass). */
static void test_superseded(void **state)
{
    (void)state;
    const char *recs =
        "{\"record_index\":0,\"problem\":\"a\",\"status\":\"ok\",\"model_answers\":{\"m\":\"x\"}}\n"
        "{\"record_index\":1,\"problem\":\"b\",\"status\":\"failed\",\"error\":\"HTTP 500\"}\n"
        "{\"problem\":\"c\",\"record_index\":2,\"status\":\"failed\",\"error\":\"timeout\"}\n"
        "\n"
        "{\"record_index\":3,\"problem\":\"d\",\"status\":\"ok\",\"model_answers\":{\"m\":\"y\"}}\n"
        "{\"record_index\":1,\"problem\":\"b\",\"status\":\"ok\",\"model_answers\":{\"m\":\"z\"}}\n"
        "{\"status\":\"ok\",\"record_index\":2,\"problem\":\"c\",\"model_answers\":{\"m\":\"w\"}}\n"
        /* a crash while writing a rerun of record 0: a torn line supersedes nothing */
        "{\"record_index\":0,\"problem\":\"a\",\"sta";
    char *dir = make_run(recs, NULL);
    struct ipw_run_reader *r;
    assert_int_equal(ipw_run_reader_open(dir, NULL, &r, NULL), IPW_OK);
    for (int pass = 0; pass < 2; pass++) {
        long want[] = {0, 3, 1, 2};
        const char *answers[] = {"x", "y", "z", "w"};
        struct ipw_run_query q;
        bool eof;
        for (int i = 0; i < 4; i++) {
            assert_int_equal(ipw_run_reader_next(r, &q, &eof, NULL), IPW_OK);
            assert_false(eof);
            assert_int_equal(q.record_index, want[i]);
            assert_false(q.failed);
            assert_string_equal(q.response, answers[i]);
        }
        assert_int_equal(ipw_run_reader_next(r, &q, &eof, NULL), IPW_OK);
        assert_true(eof);
        assert_int_equal(ipw_run_reader_rewind(r, NULL), IPW_OK);
    }
    ipw_run_reader_close(r);
    ipw_test_rmtree(dir);
    free(dir);
}

/* XXH3-128 of the whole file in one call, in the hex xxhsum prints: the reader and the stamp
 * digest it in chunks as they read. */
static void one_shot_digest(const char *dir, char hex[IPW_DIGEST_HEX])
{
    char path[4200];
    snprintf(path, sizeof path, "%s/records.jsonl", dir);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    long size = ftell(f);
    rewind(f);
    char *buf = malloc((size_t)size + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)size, f), (size_t)size);
    fclose(f);
    XXH128_canonical_t c;
    XXH128_canonicalFromHash(&c, XXH3_128bits(buf, (size_t)size));
    for (size_t i = 0; i < sizeof c.digest; i++)
        snprintf(hex + 2 * i, 3, "%02x", c.digest[i]);
    free(buf);
}

/* The reader's digest is the stamp of the log read again, and the file's XXH3-128 taken whole. */
static void assert_digest_of_log(const struct ipw_run_reader *r, const char *dir, size_t size)
{
    uint64_t bytes;
    char hex[IPW_DIGEST_HEX], whole[IPW_DIGEST_HEX];
    assert_true(ipw_run_reader_digest(r, &bytes, hex));
    assert_int_equal(strlen(hex), 32);
    json_t *stamp;
    assert_int_equal(ipw_analysis_source(dir, &stamp, NULL), IPW_OK);
    assert_string_equal(hex, json_string_value(json_object_get(stamp, "xxh3_128")));
    one_shot_digest(dir, whole);
    assert_string_equal(hex, whole);
    assert_int_equal(bytes, size);
    json_decref(stamp);
}

/* The records a reader gives in one whole pass, following a single_pass restart as a caller
 * must (what was gathered before it is dropped); *restarts counts them. */
static int whole_pass(struct ipw_run_reader *r, long *index, char answers[][8], int max,
                      int *restarts)
{
    int n = 0;
    for (;;) {
        struct ipw_run_query q;
        bool eof;
        assert_int_equal(ipw_run_reader_next(r, &q, &eof, NULL), IPW_OK);
        if (eof && ipw_run_reader_restarted(r)) {
            (*restarts)++;
            n = 0;
            continue;
        }
        if (eof)
            return n;
        assert_true(n < max);
        index[n] = q.record_index;
        snprintf(answers[n], 8, "%s", q.response);
        n++;
    }
}

/* single_pass reads the log once when no record_index comes twice, with the digest known at
 * the end of that pass; a repeated index ends the pass, and the pass made again gives what the
 * two-pass reader gives (test_superseded), as does a rewind before the end. */
static void test_single_pass(void **state)
{
    (void)state;
    struct ipw_run_reader_options single = {.single_pass = true};
    const char *clean = "{\"record_index\":0,\"model_answers\":{\"m\":\"x\"}}\n"
                        "{\"problem\":\"b\",\"record_index\":1,\"model_answers\":{\"m\":\"y\"}}\n"
                        "{\"record_index\":0,\"problem\":\"torn\",\"sta";
    char *dir = make_run(clean, NULL);
    struct ipw_run_reader *r;
    assert_int_equal(ipw_run_reader_open(dir, &single, &r, NULL), IPW_OK);
    uint64_t bytes;
    char hex[IPW_DIGEST_HEX];
    assert_false(ipw_run_reader_digest(r, &bytes, hex)); /* not read yet */
    long index[8];
    char answers[8][8];
    int restarts = 0;
    /* a torn line repeating an index supersedes nothing, so the single pass goes through */
    assert_int_equal(whole_pass(r, index, answers, 8, &restarts), 2);
    assert_int_equal(restarts, 0);
    assert_digest_of_log(r, dir, strlen(clean));
    ipw_run_reader_close(r);
    ipw_test_rmtree(dir);
    free(dir);

    const char *resumed =
        "{\"record_index\":0,\"problem\":\"a\",\"status\":\"ok\",\"model_answers\":{\"m\":\"x\"}}\n"
        "{\"record_index\":1,\"problem\":\"b\",\"status\":\"failed\",\"error\":\"HTTP 500\"}\n"
        "{\"problem\":\"c\",\"record_index\":2,\"status\":\"failed\",\"error\":\"timeout\"}\n"
        "{\"record_index\":3,\"problem\":\"d\",\"status\":\"ok\",\"model_answers\":{\"m\":\"y\"}}\n"
        "{\"record_index\":1,\"problem\":\"b\",\"status\":\"ok\",\"model_answers\":{\"m\":\"z\"}}\n"
        "{\"status\":\"ok\",\"record_index\":2,\"problem\":\"c\",\"model_answers\":{\"m\":\"w\"}}\n";
    const long want[] = {0, 3, 1, 2};
    const char *want_answers[] = {"x", "y", "z", "w"};
    dir = make_run(resumed, NULL);
    for (int rewind_early = 0; rewind_early < 2; rewind_early++) {
        assert_int_equal(ipw_run_reader_open(dir, &single, &r, NULL), IPW_OK);
        restarts = 0;
        if (rewind_early) {
            struct ipw_run_query q;
            bool eof;
            assert_int_equal(ipw_run_reader_next(r, &q, &eof, NULL), IPW_OK);
            assert_int_equal(ipw_run_reader_rewind(r, NULL), IPW_OK);
        }
        for (int pass = 0; pass < 2; pass++) {
            assert_int_equal(whole_pass(r, index, answers, 8, &restarts), 4);
            for (int i = 0; i < 4; i++) {
                assert_int_equal(index[i], want[i]);
                assert_string_equal(answers[i], want_answers[i]);
            }
            assert_true(ipw_run_reader_digest(r, &bytes, hex));
            assert_int_equal(bytes, strlen(resumed));
            assert_int_equal(ipw_run_reader_rewind(r, NULL), IPW_OK);
        }
        /* the first index that comes again ends the single pass, once; after a rewind the
         * reader knew them all from the start */
        assert_int_equal(restarts, rewind_early ? 0 : 1);
        ipw_run_reader_close(r);
    }
    ipw_test_rmtree(dir);
    free(dir);
}

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static uint64_t next_rand(void)
{
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return rng;
}

/* A number as a writer might print it: %.6f (what the profiler writes), %.17g, integers,
 * exponents, more than 15 significant digits (up to 19 and beyond), zeros after the point, -0,
 * subnormals, the 1e22 / 1e23 edge of exact powers of ten. */
static void random_number(char *out, size_t size)
{
    double v = (double)(next_rand() >> 11) / 9007199254740992.0 * 2000.0;
    unsigned long long big = next_rand() % 10000000000000000000ull;
    switch (next_rand() % 17) {
    /* 16 to 19 significant digits and zeros after the point, which the scanner converts in
     * 128-bit integers or by dropping the zeros, and 20 or more, which go to strtod */
    case 12: snprintf(out, size, "%.*f", (int)(next_rand() % 20), v); break;
    case 13: snprintf(out, size, "%llu.000000", big / 1000000000ull); break;
    case 14: snprintf(out, size, "0.%019llu", big); break;
    case 15: snprintf(out, size, "%llu.%llu", big % 100000000000ull, big / 100000000ull); break;
    case 16: snprintf(out, size, "%llu", big % 9223372036854775807ull); break; /* int64 */
    case 0: snprintf(out, size, "%.6f", v); break;
    case 1: snprintf(out, size, "%.17g", v); break;
    case 2: snprintf(out, size, "%ld", (long)(next_rand() % 100000)); break;
    case 3: snprintf(out, size, "%.3e", v * 1e-9); break;
    case 4: snprintf(out, size, "-%.15g", v); break;
    case 5: snprintf(out, size, "%.4f", v / 1000); break;
    case 6: snprintf(out, size, "12345678901234567.%u", (unsigned)(next_rand() % 1000)); break;
    case 7: snprintf(out, size, "%s", next_rand() % 2 ? "-0" : "-0.0"); break;
    case 8: snprintf(out, size, "0.%015u", (unsigned)(next_rand() % 1000000000)); break;
    case 9: snprintf(out, size, "%s", next_rand() % 2 ? "1e22" : "10000000000000000000000.0"); break;
    case 10: snprintf(out, size, "4.9e-324"); break;
    default: snprintf(out, size, "%.16g", v * 1e-3);
    }
}

static bool same_num(double a, double b)
{
    return memcmp(&a, &b, sizeof a) == 0 || (isnan(a) && isnan(b));
}

/* The scanner (the fast path) against the jansson document path it replaced, on every field of
 * 3,000 generated records: numbers of every shape (compared bit for bit), escaped keys and
 * strings, duplicate members, several models, absent and null members. */
static void test_scanner_matches_jansson(void **state)
{
    (void)state;
    struct ipw_scan_arena arena = {0};
    char line[4096];
    for (int i = 0; i < 3000; i++) {
        char n[12][64];
        for (int k = 0; k < 12; k++)
            random_number(n[k], sizeof n[k]);
        const char *model = next_rand() % 4 ? "m" : "m\\u0032";
        const char *extra = next_rand() % 3 ? "" : ",\"other\":{\"energy_metrics\":{}}";
        const char *dup = next_rand() % 5 ? ""
                                          : ",\"energy_metrics\":{\"per_query_joules\":7.25}";
        snprintf(line, sizeof line,
                 "{\"record_index\":%d,\"schema\":\"ipw.record/1\",\"problem\":\"Q %d\\n\\u00e9\","
                 "\"answer\":\"%c\",\"kind\":%s,\"request_start_time\":%s,\"status\":%s,"
                 "\"model_answers\":{\"%s\":\"The answer is (%c)\"%s},"
                 "\"model_metrics\":{\"%s\":{\"energy_metrics\":{\"per_query_joules\":%s,"
                 "\"total_joules\":%s,\"active_joules\":%s,\"prefill_joules\":%s,"
                 "\"decode_joules\":%s,\"idle_power_watts\":%s,\"energy_source\":\"counter\"}%s,"
                 "\"latency_metrics\":{\"time_to_first_token_seconds\":%s,"
                 "\"total_query_seconds\":%s,\"decode_seconds\":null},"
                 "\"power_metrics\":{\"gpu\":{\"per_query_watts\":{\"avg\":%s},"
                 "\"total_watts\":{\"avg\":%s,\"max\":[1,{\"a\":2}]}}},"
                 "\"token_metrics\":{\"input\":%s,\"output\":%s},"
                 "\"evaluation\":{\"is_correct\":%s}}%s}}",
                 i, i, 'A' + i % 4, i % 3 ? "\"mcq\"" : "null", n[0],
                 i % 7 ? "\"ok\"" : "\"failed\"", model, 'A' + (i + 1) % 4,
                 i % 11 ? "" : ",\"m2\":\"x\"", model, n[1], n[2], n[3], n[4], n[5], n[6], dup,
                 n[7], n[8], n[9], n[10], n[11], n[2], i % 2 ? "true" : "false", extra);
        json_t *j = json_loads(line, 0, NULL);
        if (!j)
            fail_msg("the generator wrote invalid JSON: %s", line);
        const char *models[] = {"m", "m2", ""};
        for (size_t k = 0; k < 3; k++) {
            struct ipw_run_query fast, slow;
            struct ipw_scan_result res;
            assert_true(ipw_record_scan(line, strlen(line), models[k], &arena, &fast, &res));
            ipw_run_query_from_json(j, models[k], &slow);
            const double *fa[] = {&fast.input_tokens, &fast.output_tokens, &fast.total_tokens,
                                  &fast.energy_j, &fast.total_j, &fast.active_j,
                                  &fast.prefill_j, &fast.decode_j, &fast.idle_w, &fast.ttft_s,
                                  &fast.latency_s, &fast.decode_s, &fast.start_s,
                                  &fast.power_avg_w, &fast.total_power_avg_w};
            const double *sl[] = {&slow.input_tokens, &slow.output_tokens, &slow.total_tokens,
                                  &slow.energy_j, &slow.total_j, &slow.active_j,
                                  &slow.prefill_j, &slow.decode_j, &slow.idle_w, &slow.ttft_s,
                                  &slow.latency_s, &slow.decode_s, &slow.start_s,
                                  &slow.power_avg_w, &slow.total_power_avg_w};
            for (size_t f = 0; f < sizeof fa / sizeof *fa; f++)
                if (!same_num(*fa[f], *sl[f]))
                    fail_msg("field %zu: %.17g (scanner) vs %.17g (jansson) in %s", f, *fa[f],
                             *sl[f], line);
            assert_string_equal(fast.problem, slow.problem);
            assert_string_equal(fast.reference, slow.reference);
            assert_string_equal(fast.response, slow.response);
            assert_string_equal(fast.schema, slow.schema);
            assert_string_equal(fast.energy_source, slow.energy_source);
            assert_int_equal(fast.kind, slow.kind);
            assert_int_equal(fast.kind_given, slow.kind_given);
            assert_int_equal(fast.failed, slow.failed);
            assert_int_equal(fast.prior_correct, slow.prior_correct);
            assert_int_equal(fast.record_index, slow.record_index);
        }
        json_decref(j);
    }
    ipw_scan_arena_free(&arena);
}

/* The reader's first pass digests records.jsonl as it reads it: the same stamp as reading
 * the file again. */
static void test_digest_in_first_pass(void **state)
{
    (void)state;
    char *dir = make_run(rec_a, NULL);
    struct ipw_run_reader *r;
    assert_int_equal(ipw_run_reader_open(dir, NULL, &r, NULL), IPW_OK);
    assert_digest_of_log(r, dir, strlen(rec_a));
    ipw_run_reader_close(r);
    ipw_test_rmtree(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_flatten),   cmocka_unit_test(test_model_resolution),
        cmocka_unit_test(test_minimal_record), cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_line_limit), cmocka_unit_test(test_not_a_run),
        cmocka_unit_test(test_modelled_from_summary),
        cmocka_unit_test(test_scanner),    cmocka_unit_test(test_superseded),
        cmocka_unit_test(test_scanner_matches_jansson),
        cmocka_unit_test(test_digest_in_first_pass), cmocka_unit_test(test_single_pass),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
