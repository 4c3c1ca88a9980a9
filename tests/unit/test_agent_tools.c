/* The agent's tools and sandbox: the calculator's grammar and errors, OpenAI tool-call fragments
 * and Ollama whole calls assembled into one list, shell quoting, and commands in the sandbox
 * under their limits (exit status, output cut and killed, wall-clock limit, the work dir only). */
#include "ipw_test.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/calc.h"
#include "agent/tools.h"
#include "inference/toolcalls.h"
#include "ipw/clock.h"

static void test_calculator(void **state)
{
    (void)state;
    struct {
        const char *e;
        double v;
    } ok[] = {{"1+2*3", 7},      {"(1+2)*3", 9},   {"2^10", 1024},  {"2**3**2", 512},
              {"-3^2", -9},      {"7 % 4", 3},     {"1.5e3/3", 500}, {" 10 - 2 - 3 ", 5},
              {"--4", 4},        {"(((2)))", 2}};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        double v;
        ipw_errbuf eb = {0};
        if (ipw_calc_eval(ok[i].e, &v, &eb) != IPW_OK)
            fail_msg("%s: %s", ok[i].e, eb.msg);
        assert_double_equal(v, ok[i].v, 1e-9);
    }
    const char *bad[] = {"", "1+", "(1", "1/0", "2 3", "abc", "1e999*10"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        double v;
        ipw_errbuf eb = {0};
        if (ipw_calc_eval(bad[i], &v, &eb) == IPW_OK)
            fail_msg("'%s' evaluated to %g", bad[i], v);
        assert_non_null(strstr(eb.msg, "calculator"));
    }
    char deep[400];
    memset(deep, '(', 200);
    strcpy(deep + 200, "1");
    double v;
    ipw_errbuf eb = {0};
    assert_int_equal(ipw_calc_eval(deep, &v, &eb), IPW_E_INVALID);
    assert_non_null(strstr(eb.msg, "nested too deeply"));
}

static void test_toolcall_fragments(void **state)
{
    (void)state;
    struct ipw_toolcalls t;
    ipw_toolcalls_init(&t);
    ipw_errbuf eb = {0};
    const char *frags[] = {
        "[{\"index\":0,\"id\":\"call_a\",\"type\":\"function\",\"function\":{\"name\":\"shell\","
        "\"arguments\":\"\"}}]",
        "[{\"index\":0,\"function\":{\"arguments\":\"{\\\"command\\\":\"}}]",
        "[{\"index\":0,\"function\":{\"arguments\":\"\\\"ls -l\\\"}\"}},"
        "{\"index\":1,\"id\":\"call_b\",\"function\":{\"name\":\"calc\",\"arguments\":\"{oops\"}}]",
    };
    for (size_t i = 0; i < 3; i++) {
        json_t *f = json_loads(frags[i], 0, NULL);
        assert_non_null(f);
        assert_int_equal(ipw_toolcalls_add_fragments(&t, f, &eb), IPW_OK);
        json_decref(f);
    }
    json_t *calls = ipw_toolcalls_take(&t);
    assert_int_equal(json_array_size(calls), 2);
    json_t *a = json_array_get(calls, 0), *b = json_array_get(calls, 1);
    assert_string_equal(json_string_value(json_object_get(a, "id")), "call_a");
    assert_string_equal(json_string_value(json_object_get(a, "name")), "shell");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(a, "arguments"), "command")), "ls -l");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(b, "arguments"), "_unparsed")),
        "{oops");
    json_decref(calls);

    ipw_toolcalls_init(&t);
    json_t *whole = json_loads("[{\"function\":{\"name\":\"shell\",\"arguments\":{\"command\":"
                               "\"pwd\"}}}]",
                               0, NULL);
    assert_int_equal(ipw_toolcalls_add_whole(&t, whole, &eb), IPW_OK);
    json_decref(whole);
    calls = ipw_toolcalls_take(&t);
    assert_string_equal(json_string_value(json_object_get(json_array_get(calls, 0), "id")),
                        "call_0");
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(json_array_get(calls, 0), "arguments"), "command")),
                        "pwd");
    json_decref(calls);

    ipw_toolcalls_init(&t);
    assert_null(ipw_toolcalls_take(&t));
    json_t *far = json_loads("[{\"index\":999,\"function\":{\"name\":\"x\"}}]", 0, NULL);
    assert_int_equal(ipw_toolcalls_add_fragments(&t, far, &eb), IPW_E_RANGE);
    json_decref(far);
    ipw_toolcalls_free(&t);
}

static void test_shell_quote(void **state)
{
    (void)state;
    char *q = ipw_shell_quote("it's $HOME");
    assert_string_equal(q, "'it'\\''s $HOME'");
    free(q);
}

static struct ipw_sandbox sb;

static void exec_ok(const char *script, struct ipw_exec_result *r)
{
    ipw_errbuf eb = {0};
    if (ipw_sandbox_exec(&sb, script, 0, r, &eb) != IPW_OK)
        fail_msg("%s: %s", script, eb.msg);
}

static void run_limits(enum ipw_sandbox_kind kind)
{
    struct ipw_sandbox_limits lim;
    ipw_sandbox_limits_default(&lim);
    lim.wall_ns = 2 * IPW_NS_PER_SEC;
    lim.output_keep = 100;
    lim.output_kill = 1 << 20;
    ipw_errbuf eb = {0};
    assert_int_equal(ipw_sandbox_create(&sb, kind, &lim, &eb), IPW_OK);
    struct ipw_exec_result r;
    exec_ok("echo hi > f; cat f; exit 3", &r);
    assert_int_equal(r.exit_code, 3);
    assert_string_equal(r.output, "hi\n");
    assert_string_equal(r.limit, "");
    ipw_exec_result_free(&r);

    exec_ok("seq 1 100000", &r); /* 588,895 bytes: kept 100, counted all */
    assert_int_equal(r.exit_code, 0);
    assert_int_equal(r.output_len, 100);
    assert_int_equal(r.output_total, 588895);
    char *text = ipw_agent_exec_text(&r);
    assert_non_null(strstr(text, "[output cut: 588895 bytes in all"));
    free(text);
    ipw_exec_result_free(&r);

    exec_ok("yes", &r);
    assert_string_equal(r.limit, "output");
    assert_true(r.output_total > (1u << 20));
    ipw_exec_result_free(&r);

    exec_ok("sleep 30", &r);
    assert_string_equal(r.limit, "timeout");
    assert_true(r.end_ns - r.start_ns < 20 * IPW_NS_PER_SEC);
    ipw_exec_result_free(&r);

    /* a background child holding the output pipe does not keep the command alive */
    exec_ok("sleep 30 & echo started", &r);
    assert_string_equal(r.limit, "");
    assert_true(r.end_ns - r.start_ns < 20 * IPW_NS_PER_SEC);
    ipw_exec_result_free(&r);
    ipw_sandbox_destroy(&sb);
}

static void test_sandbox_none(void **state)
{
    (void)state;
    run_limits(IPW_SANDBOX_NONE);
}

static void test_sandbox_bwrap(void **state)
{
    (void)state;
    ipw_errbuf eb = {0};
    if (ipw_sandbox_probe(IPW_SANDBOX_BWRAP, &eb) != IPW_OK) {
        print_message("skipped: %s\n", eb.msg);
        skip();
    }
    run_limits(IPW_SANDBOX_BWRAP);
    assert_int_equal(ipw_sandbox_create(&sb, IPW_SANDBOX_BWRAP, NULL, &eb), IPW_OK);
    struct ipw_exec_result r;
    exec_ok("pwd; touch /usr/ipw-x 2>/dev/null || echo ro; ls /home | wc -l", &r);
    assert_string_equal(r.output, "/work\nro\n0\n");
    ipw_exec_result_free(&r);
    ipw_sandbox_destroy(&sb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_calculator),       cmocka_unit_test(test_toolcall_fragments),
        cmocka_unit_test(test_shell_quote),      cmocka_unit_test(test_sandbox_none),
        cmocka_unit_test(test_sandbox_bwrap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
