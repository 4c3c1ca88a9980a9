/* gRPC message framing, grpc-timeout and grpc-message encoding (src/grpc/frame.c). */
#include <stdlib.h>
#include <string.h>

#include "grpc/grpc.h"
#include "ipw_test.h"

struct got {
    int n;
    size_t len[16];
    uint8_t first[16];
};

static int collect(void *ud, const uint8_t *msg, size_t len)
{
    struct got *g = ud;
    if (g->n < 16) {
        g->len[g->n] = len;
        g->first[g->n] = len ? msg[0] : 0;
    }
    g->n++;
    return 0;
}

static size_t frame(uint8_t *out, const uint8_t *msg, uint32_t len)
{
    ipw_grpc_frame_header(out, len);
    if (len)
        memcpy(out + IPW_GRPC_FRAME_HEADER, msg, len);
    return IPW_GRPC_FRAME_HEADER + len;
}

static void test_header_is_big_endian(void **state)
{
    (void)state;
    uint8_t h[5];
    ipw_grpc_frame_header(h, 0x01020304);
    assert_int_equal(h[0], 0);
    assert_int_equal(h[1], 1);
    assert_int_equal(h[2], 2);
    assert_int_equal(h[3], 3);
    assert_int_equal(h[4], 4);
}

/* Three messages (one empty) delivered one byte at a time and all at once give the same. */
static void test_deframe_any_split(void **state)
{
    (void)state;
    uint8_t wire[64], a[] = {7, 8, 9}, b[] = {42};
    size_t n = frame(wire, a, 3);
    n += frame(wire + n, NULL, 0);
    n += frame(wire + n, b, 1);
    for (size_t step = 1; step <= n; step++) {
        struct ipw_grpc_deframer d;
        struct got g = {0};
        ipw_grpc_deframer_init(&d, 1024);
        for (size_t off = 0; off < n; off += step)
            assert_int_equal(ipw_grpc_deframer_feed(&d, wire + off, off + step > n ? n - off : step,
                                                    collect, &g),
                             0);
        assert_int_equal(g.n, 3);
        assert_int_equal(g.len[0], 3);
        assert_int_equal(g.first[0], 7);
        assert_int_equal(g.len[1], 0);
        assert_int_equal(g.len[2], 1);
        assert_int_equal(g.first[2], 42);
        assert_true(ipw_grpc_deframer_idle(&d));
        ipw_grpc_deframer_free(&d);
    }
}

static void test_deframe_partial_is_not_idle(void **state)
{
    (void)state;
    uint8_t wire[16], a[] = {1, 2, 3, 4};
    size_t n = frame(wire, a, 4);
    struct ipw_grpc_deframer d;
    struct got g = {0};
    ipw_grpc_deframer_init(&d, 1024);
    assert_int_equal(ipw_grpc_deframer_feed(&d, wire, n - 1, collect, &g), 0);
    assert_int_equal(g.n, 0);
    assert_false(ipw_grpc_deframer_idle(&d));
    assert_int_equal(ipw_grpc_deframer_feed(&d, wire + n - 1, 1, collect, &g), 0);
    assert_int_equal(g.n, 1);
    assert_true(ipw_grpc_deframer_idle(&d));
    ipw_grpc_deframer_free(&d);
}

/* An oversized message is refused from its 5-byte prefix: nothing of it is buffered. */
static void test_oversized_refused_at_header(void **state)
{
    (void)state;
    uint8_t h[5];
    ipw_grpc_frame_header(h, (uint32_t)IPW_GRPC_MAX_MESSAGE + 1);
    struct ipw_grpc_deframer d;
    ipw_grpc_deframer_init(&d, IPW_GRPC_MAX_MESSAGE);
    assert_int_equal(ipw_grpc_deframer_feed(&d, h, 5, collect, &(struct got){0}),
                     IPW_GRPC_RESOURCE_EXHAUSTED);
    assert_null(d.body.p);
    assert_non_null(strstr(d.errmsg, "exceeds"));
    /* sticky */
    assert_int_equal(ipw_grpc_deframer_feed(&d, h, 1, collect, NULL), IPW_GRPC_RESOURCE_EXHAUSTED);
    ipw_grpc_deframer_free(&d);
    /* exactly the limit is fine */
    ipw_grpc_deframer_init(&d, 8);
    uint8_t wire[16], m8[8] = {0};
    size_t n = frame(wire, m8, 8);
    struct got g = {0};
    assert_int_equal(ipw_grpc_deframer_feed(&d, wire, n, collect, &g), 0);
    assert_int_equal(g.n, 1);
    ipw_grpc_deframer_free(&d);
}

static void test_flags(void **state)
{
    (void)state;
    uint8_t h[6] = {1, 0, 0, 0, 1, 9};
    struct ipw_grpc_deframer d;
    ipw_grpc_deframer_init(&d, 64);
    assert_int_equal(ipw_grpc_deframer_feed(&d, h, 6, collect, &(struct got){0}),
                     IPW_GRPC_UNIMPLEMENTED);
    ipw_grpc_deframer_free(&d);
    h[0] = 0x80;
    ipw_grpc_deframer_init(&d, 64);
    assert_int_equal(ipw_grpc_deframer_feed(&d, h, 6, collect, &(struct got){0}),
                     IPW_GRPC_INTERNAL);
    ipw_grpc_deframer_free(&d);
}

static int stop_after_first(void *ud, const uint8_t *msg, size_t len)
{
    (void)msg, (void)len;
    (*(int *)ud)++;
    return 99;
}

static void test_callback_stops_feed(void **state)
{
    (void)state;
    uint8_t wire[32], a[] = {1};
    size_t n = frame(wire, a, 1);
    n += frame(wire + n, a, 1);
    struct ipw_grpc_deframer d;
    int calls = 0;
    ipw_grpc_deframer_init(&d, 64);
    assert_int_equal(ipw_grpc_deframer_feed(&d, wire, n, stop_after_first, &calls), 99);
    assert_int_equal(calls, 1);
    ipw_grpc_deframer_free(&d);
}

static void test_timeout_parse(void **state)
{
    (void)state;
    assert_true(ipw_grpc_parse_timeout("1S", 2) == 1000000000LL);
    assert_true(ipw_grpc_parse_timeout("250m", 4) == 250000000LL);
    assert_true(ipw_grpc_parse_timeout("3u", 2) == 3000LL);
    assert_true(ipw_grpc_parse_timeout("7n", 2) == 7LL);
    assert_true(ipw_grpc_parse_timeout("2M", 2) == 120000000000LL);
    assert_true(ipw_grpc_parse_timeout("1H", 2) == 3600000000000LL);
    assert_true(ipw_grpc_parse_timeout("99999999H", 9) == INT64_MAX);
    assert_true(ipw_grpc_parse_timeout("123456789S", 10) == -1); /* 9 digits */
    assert_true(ipw_grpc_parse_timeout("S", 1) == -1);
    assert_true(ipw_grpc_parse_timeout("10x", 3) == -1);
    assert_true(ipw_grpc_parse_timeout("1-S", 3) == -1);
}

static void test_timeout_format_round_trip(void **state)
{
    (void)state;
    const int64_t cases[] = {1, 999, 1000, 1500000, 250000000, 1000000000LL, 123456789012LL,
                             86400LL * 1000000000LL};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char buf[16];
        ipw_grpc_format_timeout(cases[i], buf, sizeof buf);
        int64_t back = ipw_grpc_parse_timeout(buf, strlen(buf));
        assert_true(back >= cases[i]);                    /* never earlier */
        assert_true((double)back <= (double)cases[i] * 1.00001 + 1); /* and barely later */
        assert_true(strlen(buf) <= 9);
    }
}

static void test_percent(void **state)
{
    (void)state;
    char enc[64], dec[64];
    ipw_grpc_percent_encode("bad 100% \xc3\xa9\n", enc, sizeof enc);
    assert_string_equal(enc, "bad 100%25 %C3%A9%0A");
    ipw_grpc_percent_decode(enc, strlen(enc), dec, sizeof dec);
    assert_string_equal(dec, "bad 100% \xc3\xa9\n");
    /* truncation never splits an escape and always terminates */
    ipw_grpc_percent_encode("%%%%", enc, 8);
    assert_string_equal(enc, "%25%25");
    ipw_grpc_percent_decode("%4", 2, dec, sizeof dec);
    assert_string_equal(dec, "%4");
    ipw_grpc_percent_decode("%00x", 4, dec, sizeof dec);
    assert_string_equal(dec, "?x");
}

static void test_code_names(void **state)
{
    (void)state;
    assert_string_equal(ipw_grpc_code_name(0), "OK");
    assert_string_equal(ipw_grpc_code_name(4), "DEADLINE_EXCEEDED");
    assert_string_equal(ipw_grpc_code_name(8), "RESOURCE_EXHAUSTED");
    assert_string_equal(ipw_grpc_code_name(12), "UNIMPLEMENTED");
    assert_string_equal(ipw_grpc_code_name(99), "UNKNOWN");
    assert_string_equal(ipw_grpc_code_name(-1), "UNKNOWN");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_header_is_big_endian),
        cmocka_unit_test(test_deframe_any_split),
        cmocka_unit_test(test_deframe_partial_is_not_idle),
        cmocka_unit_test(test_oversized_refused_at_header),
        cmocka_unit_test(test_flags),
        cmocka_unit_test(test_callback_stops_feed),
        cmocka_unit_test(test_timeout_parse),
        cmocka_unit_test(test_timeout_format_round_trip),
        cmocka_unit_test(test_percent),
        cmocka_unit_test(test_code_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
