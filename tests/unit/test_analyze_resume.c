/* ipw analyze of a resumed run (a failed query run again by --resume appends its new record
 * under the same record_index): the analysis reads the log once and, when it meets an index a
 * second time, starts over knowing which lines are superseded. Its files must be those of the
 * same log with the superseded lines blanked out (same line numbers, nothing to leave out),
 * and the source stamp that of the file as it is. */
#include "ipw_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ipw/analysis.h"
#include "ipw/buf.h"
#include "ipw/jsonutil.h"

#define N 300

/* One record; failed ones (a rerun will supersede them) have no answer. */
static void put_record(struct ipw_buf *b, int i, bool failed, bool rerun)
{
    bool mcq = i % 2 == 0;
    char want[16], said[16];
    if (mcq) {
        snprintf(want, sizeof want, "%c", 'A' + i % 4);
        snprintf(said, sizeof said, "%c", 'A' + (i % 3 == 0 ? (i + 1) % 4 : i % 4));
    } else {
        snprintf(want, sizeof want, "%d", 17 * i);
        snprintf(said, sizeof said, "%d", i % 5 ? 17 * i : 17 * i + 1);
    }
    int in = 40 + i % 37, out = 5 + (i * 13) % 97;
    double lat = 0.02 + out / 85.0 + (rerun ? 0.5 : 0), e = 3.5 * lat + 0.01 * in;
    ipw_buf_putf(b,
                 "{\"record_index\":%d,\"problem\":\"Item %d\\nA. a\\nB. b\",\"answer\":\"%s\","
                 "\"kind\":\"%s\",\"status\":\"%s\",\"error\":%s,\"request_start_time\":%.6f,",
                 i, i, want, mcq ? "mcq" : "exact", failed ? "failed" : "ok",
                 failed ? "\"HTTP 500\"" : "null", 1763680000.0 + i * 2.0);
    if (failed) {
        ipw_buf_puts(b, "\"model_answers\":{},\"model_metrics\":{}}\n");
        return;
    }
    ipw_buf_putf(b,
                 "\"model_answers\":{\"m\":\"%s\"},\"model_metrics\":{\"m\":{\"energy_metrics\":"
                 "{\"per_query_joules\":%.6f,\"total_joules\":%.6f,\"prefill_joules\":%.6f,"
                 "\"decode_joules\":%.6f},\"latency_metrics\":{\"time_to_first_token_seconds\":"
                 "%.6f,\"total_query_seconds\":%.6f},\"power_metrics\":{\"gpu\":{"
                 "\"per_query_watts\":{\"avg\":%.4f}}},\"token_metrics\":{\"input\":%d,"
                 "\"output\":%d,\"total\":%d}}}}\n",
                 said, e, e * 1.4, e * 0.2, e * 0.8, 0.02, lat, e / lat, in, out, in + out);
}

/* The log: N records, every seventh failed; with `resumed` the failed ones run again at the
 * end (last first), and with `blank` their first lines left empty instead. */
static char *make_log(bool resumed, bool blank)
{
    struct ipw_buf b;
    ipw_buf_init(&b, 1 << 20);
    for (int i = 0; i < N; i++) {
        bool failed = resumed && i % 7 == 3;
        if (failed && blank)
            ipw_buf_puts(&b, "\n");
        else
            put_record(&b, i, failed, false);
    }
    for (int i = N - 1; resumed && i >= 0; i--)
        if (i % 7 == 3)
            put_record(&b, i, false, true);
    char *text;
    assert_int_equal(ipw_buf_take(&b, &text, NULL), IPW_OK);
    return text;
}

static char *analyse(const char *log)
{
    char *dir = ipw_test_mkdtemp("ipw-resume");
    ipw_test_write(dir, "records.jsonl", log);
    ipw_test_write(dir, "summary.json", "{\"model\":\"m\"}\n");
    ipw_errbuf eb = {0};
    struct ipw_analyze_result res;
    if (ipw_analyze_run(dir, NULL, &res, &eb) != IPW_OK)
        fail_msg("analyze: %s", eb.msg);
    assert_int_equal(res.records, N);
    return dir;
}

static char *slurp(const char *dir, const char *name)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/analysis/%s", dir, name);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    struct ipw_buf b;
    ipw_buf_init(&b, 1 << 20);
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        assert_int_equal(ipw_buf_add(&b, chunk, n), IPW_OK);
    fclose(f);
    char *text;
    assert_int_equal(ipw_buf_take(&b, &text, NULL), IPW_OK);
    return text;
}

/* An analysis document without its source stamp; checks the stamp is the file's as it is. */
static json_t *unstamped(const char *dir, const char *name)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/analysis/%s", dir, name);
    json_t *doc = json_load_file(path, 0, NULL);
    assert_non_null(doc);
    json_t *now;
    assert_int_equal(ipw_analysis_source(dir, &now, NULL), IPW_OK);
    json_t *was = json_object_get(doc, "source");
    assert_non_null(was);
    const char *keys[] = {"file", "bytes", "xxh3_128"};
    for (size_t i = 0; i < 3; i++)
        assert_true(json_equal(json_object_get(was, keys[i]), json_object_get(now, keys[i])));
    assert_int_equal(json_integer_value(json_object_get(was, "records")), N);
    json_decref(now);
    json_object_del(doc, "source");
    return doc;
}

static void test_resumed_run(void **state)
{
    (void)state;
    char *resumed = make_log(true, false), *blanked = make_log(true, true);
    char *a = analyse(resumed), *b = analyse(blanked);
    const char *docs[] = {"accuracy.json", "regression.json"};
    for (size_t i = 0; i < 2; i++) {
        json_t *x = unstamped(a, docs[i]), *y = unstamped(b, docs[i]);
        if (!json_equal(x, y))
            fail_msg("%s of the resumed run differs from the run without its superseded lines",
                     docs[i]);
        json_decref(x);
        json_decref(y);
    }
    char *sa = slurp(a, "scores.jsonl"), *sb = slurp(b, "scores.jsonl");
    assert_string_equal(sa, sb);
    /* the rerun's answers count, not the failed first tries */
    assert_null(strstr(sa, "\"verdict\":\"failed\""));
    free(sa);
    free(sb);
    ipw_test_rmtree(a);
    ipw_test_rmtree(b);
    free(a);
    free(b);
    free(resumed);
    free(blanked);
}

/* A log without reruns is read once; its stamp is still the whole file's. */
static void test_clean_run(void **state)
{
    (void)state;
    char *log = make_log(false, false);
    char *dir = analyse(log);
    json_decref(unstamped(dir, "accuracy.json"));
    json_decref(unstamped(dir, "regression.json"));
    ipw_test_rmtree(dir);
    free(dir);
    free(log);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_resumed_run),
                                       cmocka_unit_test(test_clean_run)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
