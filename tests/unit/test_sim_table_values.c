/* ipw simulate's profile tables refuse a value no int64 can hold (1e100, nan, inf) with the
 * file and line, instead of converting it (undefined behaviour, found by fuzz_servesim_tables).
 * A data dir links every shipped file of the RTX4090 / Llama-3.1-8B bundle but the one table
 * a case replaces. */
#include "ipw_test.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sim/ss.h"

#define MODEL "meta-llama/Llama-3.1-8B"
#define BUNDLE "profiler/perf/RTX4090/" MODEL "/bf16"

static const char *const files[] = {
    "configs/model/" MODEL ".json", "profiler/models/llama.yaml", BUNDLE "/meta.yaml",
    BUNDLE "/tp1/dense.csv",        BUNDLE "/tp1/per_sequence.csv", BUNDLE "/tp1/attention.csv",
    BUNDLE "/tp1/skew.csv",         BUNDLE "/tp1/skew_fit.csv",
};

/* Loads the bundle's tp1 tables with `table` (a path in files[]) replaced by `text`; returns
 * the error code, the message in eb. */
static ipw_err load_with(const char *table, const char *text, ipw_errbuf *eb)
{
    char *dir = ipw_test_mkdtemp("ipw-simvalues");
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        ipw_test_write(dir, files[i], strcmp(files[i], table) == 0 ? text : "");
        if (strcmp(files[i], table) == 0)
            continue;
        char src[1024], dst[1024];
        snprintf(src, sizeof src, "%s/data/sim/%s", ipw_test_source_dir(), files[i]);
        snprintf(dst, sizeof dst, "%s/%s", dir, files[i]);
        assert_int_equal(unlink(dst), 0);
        assert_int_equal(symlink(src, dst), 0);
    }
    struct ss_model m;
    struct ss_bundle b;
    assert_int_equal(ss_model_load(dir, MODEL, &m, eb), IPW_OK);
    assert_int_equal(ss_bundle_open(dir, "RTX4090", &m, "bf16", &b, eb), IPW_OK);
    ipw_err e = ss_bundle_need_tp(&b, 1, "test", "tp", eb);
    ss_bundle_free(&b);
    ipw_test_rmtree(dir);
    free(dir);
    return e;
}

static void expect_refused(const char *table, const char *text, const char *where)
{
    ipw_errbuf eb = {0};
    assert_int_equal(load_with(table, text, &eb), IPW_E_INVALID);
    if (!strstr(eb.msg, where) || !strstr(eb.msg, "out of range"))
        fail_msg("message '%s' should name %s and say out of range", eb.msg, where);
}

static void test_attention_value_too_large(void **state)
{
    (void)state;
    expect_refused(BUNDLE "/tp1/attention.csv",
                   "prefill_chunk,kv_prefill,n_decode,kv_decode,time_us\n"
                   "0,0,1,16,9.31067\n0,0,1,1e100,9.3\n",
                   "attention.csv:3: '1e100'");
}

static void test_attention_value_nan(void **state)
{
    (void)state;
    expect_refused(BUNDLE "/tp1/attention.csv",
                   "prefill_chunk,kv_prefill,n_decode,kv_decode,time_us\n0,0,1,nan,9.3\n",
                   "attention.csv:2: 'nan'");
}

static void test_dense_time_inf(void **state)
{
    (void)state;
    expect_refused(BUNDLE "/tp1/dense.csv", "layer,tokens,time_us\nact_fn,1,inf\n",
                   "dense.csv:2: 'inf'");
}

/* the bound is not so tight that a real table fails: the shipped one loads */
static void test_shipped_tables_load(void **state)
{
    (void)state;
    char path[1024];
    snprintf(path, sizeof path, "%s/data/sim/%s", ipw_test_source_dir(),
             BUNDLE "/tp1/dense.csv");
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    static char text[1 << 20];
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    assert_true(n > 0 && n < sizeof text - 1);
    text[n] = '\0';
    ipw_errbuf eb = {0};
    assert_int_equal(load_with(BUNDLE "/tp1/dense.csv", text, &eb), IPW_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_attention_value_too_large),
        cmocka_unit_test(test_attention_value_nan),
        cmocka_unit_test(test_dense_time_inf),
        cmocka_unit_test(test_shipped_tables_load),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
