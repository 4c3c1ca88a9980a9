/* Core helpers: statistics against numpy's definitions, duration parsing, option parsing,
 * atomic files, hardware labels. */
#include "ipw_test.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ipw/clock.h"
#include "ipw/fsutil.h"
#include "ipw/jsonutil.h"
#include "ipw/options.h"
#include "ipw/stats.h"
#include "ipw/sysinfo.h"

static void test_percentiles_match_numpy(void **state)
{
    (void)state;
    double v[] = {7, 1, 3, 10, 4};
    /* numpy.percentile([7,1,3,10,4], [0,5,25,50,90,100]) */
    assert_double_equal(ipw_percentile(v, 5, 0), 1.0, 1e-12);
    assert_double_equal(ipw_percentile(v, 5, 5), 1.4, 1e-12);
    assert_double_equal(ipw_percentile(v, 5, 25), 3.0, 1e-12);
    assert_double_equal(ipw_percentile(v, 5, 50), 4.0, 1e-12);
    assert_double_equal(ipw_percentile(v, 5, 90), 8.8, 1e-12);
    assert_double_equal(ipw_percentile(v, 5, 100), 10.0, 1e-12);
    assert_true(isnan(ipw_percentile(v, 0, 50)));
    struct ipw_summary s;
    assert_int_equal(ipw_summarize(v, 5, &s), 0);
    assert_double_equal(s.avg, 5.0, 1e-12);
    assert_double_equal(s.std, sqrt(10.0), 1e-12); /* population: var = 50/5 */
    assert_double_equal(s.cv, sqrt(10.0) / 5.0, 1e-12);
    struct ipw_welford w;
    ipw_welford_init(&w);
    for (int i = 0; i < 5; i++)
        ipw_welford_add(&w, v[i]);
    assert_double_equal(ipw_welford_std(&w, 1), sqrt(12.5), 1e-12);
}

static void test_durations(void **state)
{
    (void)state;
    assert_int_equal(ipw_parse_duration_ns("250ms", IPW_NS_PER_SEC), 250 * IPW_NS_PER_MS);
    assert_int_equal(ipw_parse_duration_ns("1.5s", IPW_NS_PER_SEC), 1500 * IPW_NS_PER_MS);
    assert_int_equal(ipw_parse_duration_ns("2", IPW_NS_PER_SEC), 2 * IPW_NS_PER_SEC);
    assert_int_equal(ipw_parse_duration_ns("50", IPW_NS_PER_MS), 50 * IPW_NS_PER_MS);
    assert_int_equal(ipw_parse_duration_ns("2m", IPW_NS_PER_SEC), 120 * IPW_NS_PER_SEC);
    assert_true(ipw_parse_duration_ns("fast", IPW_NS_PER_SEC) < 0);
    assert_true(ipw_parse_duration_ns("-1s", IPW_NS_PER_SEC) < 0);
    assert_true(ipw_parse_duration_ns("1parsec", IPW_NS_PER_SEC) < 0);
}

static void test_options(void **state)
{
    (void)state;
    const char *name = NULL, *mode = "a";
    long n = 5;
    bool flag = false;
    struct ipw_strlist list = {0};
    int64_t dur = 0;
    static const char *const modes[] = {"a", "b", NULL};
    struct ipw_option opts[] = {{"name", IPW_OPT_STRING, &name, "S", "a name"},
                                {"n", IPW_OPT_INT, &n, "N", "count", 1, 10},
                                {"flag", IPW_OPT_FLAG, &flag, NULL, "a flag"},
                                {"param", IPW_OPT_LIST, &list, "K=V", "repeatable"},
                                {"every", IPW_OPT_DURATION, &dur, "D", "period"},
                                {"mode", IPW_OPT_CHOICE, &mode, "M", "mode", 0, 0, modes},
                                IPW_OPT_END};
    char *argv[] = {"cmd", "--name", "x", "--n=7", "--flag", "--param", "a=1", "--param=b=2",
                    "pos1", "--every", "100ms", "--mode", "b"};
    const char *pos[2];
    size_t npos = 0;
    assert_int_equal(ipw_parse_options(13, argv, "cmd", opts, NULL, pos, 2, &npos), IPW_PARSE_OK);
    assert_string_equal(name, "x");
    assert_int_equal(n, 7);
    assert_true(flag);
    assert_int_equal(list.n, 2);
    assert_string_equal(list.v[1], "b=2");
    assert_int_equal(npos, 1);
    assert_string_equal(pos[0], "pos1");
    assert_int_equal(dur, 100 * IPW_NS_PER_MS);
    assert_string_equal(mode, "b");
    char *bad1[] = {"cmd", "--nope"};
    assert_int_equal(ipw_parse_options(2, bad1, "cmd", opts, NULL, pos, 2, &npos),
                     IPW_PARSE_ERROR);
    char *bad2[] = {"cmd", "--n", "11"};
    assert_int_equal(ipw_parse_options(3, bad2, "cmd", opts, NULL, pos, 2, &npos),
                     IPW_PARSE_ERROR);
    char *bad3[] = {"cmd", "--mode", "c"};
    assert_int_equal(ipw_parse_options(3, bad3, "cmd", opts, NULL, pos, 2, &npos),
                     IPW_PARSE_ERROR);
    char *bad4[] = {"cmd", "--name"};
    assert_int_equal(ipw_parse_options(2, bad4, "cmd", opts, NULL, pos, 2, &npos),
                     IPW_PARSE_ERROR);
    char key[16];
    const char *val;
    assert_true(ipw_split_kv("max_tokens=64", key, sizeof key, &val));
    assert_string_equal(key, "max_tokens");
    assert_string_equal(val, "64");
    assert_false(ipw_split_kv("=x", key, sizeof key, &val));
    assert_false(ipw_split_kv("novalue", key, sizeof key, &val));
}

static void test_atomic_files(void **state)
{
    (void)state;
    char *dir = ipw_test_mkdtemp("ipw-core");
    char path[4096];
    snprintf(path, sizeof path, "%s/a/b/c", dir);
    assert_int_equal(ipw_mkdir_p(path, NULL), IPW_OK);
    strcat(path, "/f.txt");
    assert_int_equal(ipw_write_file_atomic(path, "one", 3, NULL), IPW_OK);
    assert_int_equal(ipw_write_file_atomic(path, "second", 6, NULL), IPW_OK);
    char *text;
    size_t len;
    assert_int_equal(ipw_read_file(path, 100, &text, &len, NULL), IPW_OK);
    assert_string_equal(text, "second");
    free(text);
    ipw_errbuf eb = {0};
    assert_int_equal(ipw_read_file(path, 3, &text, &len, &eb), IPW_E_RANGE);
    assert_null(text);
    assert_int_equal(ipw_read_file(path, 6, &text, &len, NULL), IPW_OK); /* exactly the limit */
    assert_int_equal(len, 6);
    free(text);
    assert_int_equal(ipw_read_file(path, 5, &text, &len, NULL), IPW_E_RANGE); /* one over */
    /* a file larger than the first allocation grows and arrives whole */
    size_t big = 100000;
    char *data = malloc(big);
    for (size_t i = 0; i < big; i++)
        data[i] = (char)('a' + i % 26);
    assert_int_equal(ipw_write_file_atomic(path, data, big, NULL), IPW_OK);
    assert_int_equal(ipw_read_file(path, big, &text, &len, NULL), IPW_OK);
    assert_int_equal(len, big);
    assert_memory_equal(text, data, big);
    assert_int_equal(text[big], '\0');
    free(text);
    assert_int_equal(ipw_read_file(path, big - 1, &text, &len, NULL), IPW_E_RANGE);
    free(data);
    assert_int_equal(ipw_read_file("/nonexistent/x", 3, &text, &len, &eb), IPW_E_NOTFOUND);
    assert_non_null(strstr(eb.msg, "/nonexistent/x"));
    ipw_test_rmtree(dir);
    assert_false(ipw_path_exists(dir));
    free(dir);
}

static void test_hardware_label(void **state)
{
    (void)state;
    char out[64];
    ipw_hardware_label("NVIDIA H100 80GB HBM3", NULL, out, sizeof out);
    assert_string_equal(out, "H10080GB");
    ipw_hardware_label("NVIDIA GeForce RTX 4090", NULL, out, sizeof out);
    assert_string_equal(out, "RTX4090");
    ipw_hardware_label("NVIDIA A100-SXM4-80GB", NULL, out, sizeof out);
    assert_string_equal(out, "A10080GB");
    ipw_hardware_label("", "Intel(R) Xeon(R) Platinum 8480+ CPU @ 2.00GHz", out, sizeof out);
    assert_string_equal(out, "XeonPlatinum8480");
    ipw_hardware_label("Apple M2 Max", NULL, out, sizeof out);
    assert_string_equal(out, "M2Max");
    ipw_hardware_label(NULL, NULL, out, sizeof out);
    assert_string_equal(out, "UNKNOWN_HW");
}

static void test_error_messages_stay_utf8(void **state)
{
    (void)state;
    /* a message cut inside a multi-byte character must not end in half of it */
    char big[IPW_ERRMSG_MAX + 8];
    memset(big, 'x', sizeof big);
    big[IPW_ERRMSG_MAX - 2] = '\xc3'; /* 'é' = C3 A9 straddles the cut */
    big[IPW_ERRMSG_MAX - 1] = '\xa9';
    big[sizeof big - 1] = '\0';
    ipw_errbuf eb;
    ipw_fail(&eb, IPW_E_IO, "%s", big);
    size_t n = strlen(eb.msg);
    assert_true(n < IPW_ERRMSG_MAX);
    assert_true((unsigned char)eb.msg[n - 1] < 0x80);
    ipw_fail(&eb, IPW_E_IO, "short é");
    assert_string_equal(eb.msg, "short é");
}

static void test_json_reals_short_and_exact(void **state)
{
    (void)state;
    json_t *o = json_pack("{s:f, s:f, s:f, s:f, s:s, s:i, s:[f, f]}", "a", 0.05, "b", 130.0, "c",
                          0.1 + 0.2, "d", -1.5e-300, "s", "0.050000000000000003 \"1.0\"", "i",
                          42, "l", 1e22, 3.0);
    char *text = ipw_json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    assert_string_equal(text, "{\"a\":0.05,\"b\":130.0,\"c\":0.30000000000000004,"
                              "\"d\":-1.5e-300,\"s\":\"0.050000000000000003 \\\"1.0\\\"\","
                              "\"i\":42,\"l\":[1e22,3.0]}");
    free(text);
    json_decref(o);
    /* every double survives the trip through text exactly */
    uint64_t x = 0x243F6A8885A308D3ull;
    for (int i = 0; i < 20000; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        double v;
        memcpy(&v, &x, sizeof v);
        if (!isfinite(v))
            continue;
        json_t *a = json_pack("[f]", v);
        char *t = ipw_json_dumps(a, JSON_COMPACT);
        json_t *back = json_loads(t, 0, NULL);
        assert_non_null(back);
        double w = json_number_value(json_array_get(back, 0));
        if (memcmp(&v, &w, sizeof v) != 0 && !(v == 0 && w == 0))
            fail_msg("%.17g came back as %.17g via %s", v, w, t);
        free(t);
        json_decref(a);
        json_decref(back);
    }
}

/* What ipw_json_dumps must print for v, by the plain method: jansson's %.17g text, replaced by
 * the first %.15g / %.16g / %.17g that reads back to v when that is no longer. */
static void reference_real(double v, char *out, size_t size)
{
    json_t *a = json_pack("[f]", v);
    char *t = json_dumps(a, JSON_COMPACT | JSON_REAL_PRECISION(17));
    size_t len = strlen(t) - 2;
    snprintf(out, size, "%.*s", (int)len, t + 1);
    free(t);
    json_decref(a);
    int sig = 0;
    bool lead = true;
    for (const char *c = out; *c && *c != 'e'; c++) {
        if (*c < '0' || *c > '9' || (lead && *c == '0'))
            continue;
        lead = false;
        sig++;
    }
    if (sig < 17 || !strpbrk(out, ".e"))
        return;
    for (int p = 15; p <= 17; p++) {
        char c[64];
        snprintf(c, sizeof c, "%.*g", p, v);
        if (strtod(c, NULL) != v)
            continue;
        if (!strpbrk(c, ".eE"))
            strcat(c, ".0");
        if (strlen(c) <= len)
            snprintf(out, size, "%s", c);
        return;
    }
}

static void check_real(double v)
{
    char want[64];
    reference_real(v, want, sizeof want);
    json_t *a = json_pack("[f]", v);
    char *t = ipw_json_dumps(a, JSON_COMPACT);
    char got[64];
    snprintf(got, sizeof got, "%.*s", (int)strlen(t) - 2, t + 1);
    if (strcmp(got, want) != 0)
        fail_msg("%.17g printed %s, the reference says %s", v, got, want);
    /* the streaming writers' formatter prints the same */
    char direct[IPW_JSON_REAL_MAX];
    size_t n = ipw_json_real_text(v, direct);
    if (n != strlen(got) || strcmp(direct, got) != 0)
        fail_msg("%.17g: ipw_json_real_text printed %s, ipw_json_dumps %s", v, direct, got);
    free(t);
    json_decref(a);
}

/* The shortest form is found by rounding digits as text: it must print exactly what the plain
 * printf-and-check method prints, on values of every shape (computed ratios that need 15 or 16
 * digits, carries like 9.999...e-5, halves, huge and tiny exponents, random bit patterns). */
static void test_json_reals_match_printf(void **state)
{
    (void)state;
    uint64_t x = 0x9E3779B97F4A7C15ull;
    for (int i = 1; i <= 1000; i++)
        for (int j = 1; j <= 30; j++) {
            check_real((double)i / j);
            check_real(i * 0.001 * j);
            check_real(-(double)j / i * 1e-7);
        }
    static const double special[] = {0.1 + 0.2, 9.9999999999999995e-5, 0.99999999999999994,
                                     999999999999999.94, 1e15 + 0.3, 1e16 / 3, 123456789012345.67,
                                     5e-324, 2.2250738585072014e-308, 1.7976931348623157e308,
                                     0.000123456789012345678, 1e-5 / 3, 1e21 / 7, 0.5, 2.5e-5};
    for (size_t i = 0; i < sizeof special / sizeof *special; i++) {
        check_real(special[i]);
        check_real(-special[i]);
    }
    for (int i = 0; i < 40000; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        double v;
        memcpy(&v, &x, sizeof v);
        if (isfinite(v))
            check_real(v);
        check_real((double)(x >> 11) / 9007199254740992.0 * 1000);
    }
    /* the range printed without printf (|v| in [1e-4, 1e15)): every binade, its edges, and
     * values that carry into one more digit */
    for (int i = 0; i < 200000; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        double v = ldexp((double)(x >> 11) / 9007199254740992.0 + 0.5, (int)(x % 66) - 16);
        check_real(i % 2 ? v : -v);
    }
    for (int e = -4; e <= 15; e++) {
        double t = pow(10, e);
        check_real(t);
        check_real(nextafter(t, 0));
        check_real(nextafter(t, INFINITY));
        check_real(t * (1 - 1e-16));
    }
}

/* ipw_json_put_string escapes as jansson does: the same bytes as ipw_json_dumps of the
 * string, on every byte value, escapes, multi-byte UTF-8, and invalid UTF-8 refused. */
static void test_json_put_string_matches_jansson(void **state)
{
    (void)state;
    static const char *const fixed[] = {"", "plain", "q\"uote", "back\\slash", "/slash",
                                        "\b\f\n\r\t", "\x01\x1f\x7f", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"};
    uint64_t x = 0x1234567887654321ull;
    for (int i = 0; i < 20000; i++) {
        char s[24];
        if (i < (int)(sizeof fixed / sizeof *fixed)) {
            snprintf(s, sizeof s, "%s", fixed[i]);
        } else {
            size_t n = (size_t)(i % 23);
            for (size_t k = 0; k < n; k++) {
                x ^= x << 13, x ^= x >> 7, x ^= x << 17;
                s[k] = (char)(x % 255 + 1); /* any byte but NUL */
            }
            s[n] = '\0';
        }
        json_t *j = json_string(s);
        struct ipw_buf b;
        ipw_buf_init(&b, 1024);
        bool ok = ipw_json_put_string(&b, s);
        assert_int_equal(ok, j != NULL);
        if (j) {
            char *want = ipw_json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
            assert_string_equal(ipw_buf_str(&b), want);
            free(want);
        } else {
            assert_int_equal(b.len, 0);
        }
        ipw_buf_free(&b);
        json_decref(j);
    }
}

/* What new users typed (issue 10): an option given twice, an empty path, a number too large
 * for a long. Each is a usage error, not a silent choice. */
static void test_options_user_mistakes(void **state)
{
    (void)state;
    const char *model = NULL, *dir = NULL;
    long n = 0;
    bool flag = false;
    struct ipw_strlist list = {0};
    struct ipw_option opts[] = {{"model", IPW_OPT_STRING, &model, "M", "model"},
                                {"output-dir", IPW_OPT_STRING, &dir, "DIR", "dir"},
                                {"n", IPW_OPT_INT, &n, "N", "count", 0, 0},
                                {"flag", IPW_OPT_FLAG, &flag, NULL, "a flag"},
                                {"param", IPW_OPT_LIST, &list, "K=V", "repeatable"},
                                IPW_OPT_END};
    char *twice[] = {"cmd", "--model", "a", "--model=b"};
    assert_int_equal(ipw_parse_options(4, twice, "cmd", opts, NULL, NULL, 0, NULL),
                     IPW_PARSE_ERROR);
    char *empty[] = {"cmd", "--output-dir", ""};
    assert_int_equal(ipw_parse_options(3, empty, "cmd", opts, NULL, NULL, 0, NULL),
                     IPW_PARSE_ERROR);
    char *huge[] = {"cmd", "--n", "99999999999999999999999"};
    assert_int_equal(ipw_parse_options(3, huge, "cmd", opts, NULL, NULL, 0, NULL),
                     IPW_PARSE_ERROR);
    char *repeat_ok[] = {"cmd", "--flag", "--flag", "--param", "a=1", "--param", "a=2"};
    assert_int_equal(ipw_parse_options(7, repeat_ok, "cmd", opts, NULL, NULL, 0, NULL),
                     IPW_PARSE_OK);
    assert_int_equal(list.n, 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_percentiles_match_numpy), cmocka_unit_test(test_durations),
        cmocka_unit_test(test_options),                 cmocka_unit_test(test_atomic_files),
        cmocka_unit_test(test_options_user_mistakes),
        cmocka_unit_test(test_json_put_string_matches_jansson),
        cmocka_unit_test(test_hardware_label),
        cmocka_unit_test(test_error_messages_stay_utf8),
        cmocka_unit_test(test_json_reals_short_and_exact),
        cmocka_unit_test(test_json_reals_match_printf),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
