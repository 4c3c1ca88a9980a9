/* Agent task sets and the scripted policy: one task parsed field by field, a JSONL set with its
 * errors named by line, the built-in set (at least 40 terminal tasks, each with a test and a
 * scripted solution), and the solve / fail / loop moves. */
#include "ipw_test.h"

#include <stdlib.h>
#include <string.h>

#include "ipw/agent.h"

static ipw_err parse_text(const char *json, struct ipw_agent_task *t, ipw_errbuf *eb)
{
    json_t *o = json_loads(json, 0, NULL);
    assert_non_null(o);
    ipw_err e = ipw_agent_task_parse(o, "t.jsonl line 1", t, eb);
    json_decref(o);
    return e;
}

static void test_task_fields(void **state)
{
    (void)state;
    struct ipw_agent_task t;
    ipw_errbuf eb = {0};
    assert_int_equal(parse_text("{\"id\":\"a-1\",\"instruction\":\"do it\",\"test\":\"true\","
                                "\"setup\":\"touch x\",\"solution\":[\"echo 1\",\"echo 2\"],"
                                "\"timeout_s\":5}",
                                &t, &eb),
                     IPW_OK);
    assert_string_equal(t.id, "a-1");
    assert_string_equal(t.category, "misc");
    assert_int_equal(t.kind, IPW_TASK_TERMINAL);
    assert_string_equal(t.setup, "touch x");
    assert_int_equal(t.n_solution, 2);
    assert_string_equal(t.solution[1], "echo 2");
    assert_int_equal(t.timeout_ns, 5000000000LL);
    ipw_agent_task_clear(&t);

    assert_int_equal(parse_text("{\"id\":\"q\",\"kind\":\"qa\",\"instruction\":\"2+2?\","
                                "\"answer\":\"4\"}",
                                &t, &eb),
                     IPW_OK);
    assert_int_equal(t.kind, IPW_TASK_QA);
    assert_string_equal(t.item_kind, "exact");
    ipw_agent_task_clear(&t);

    struct {
        const char *json, *want;
    } bad[] = {
        {"{\"id\":\"a\",\"instruction\":\"x\"}", "missing \"test\""},
        {"{\"id\":\"a\",\"test\":\"true\"}", "missing \"instruction\""},
        {"{\"id\":\"a b\",\"instruction\":\"x\",\"test\":\"true\"}", "\"id\" must be"},
        {"{\"id\":\"a\",\"kind\":\"web\",\"instruction\":\"x\",\"test\":\"t\"}", "terminal or qa"},
        {"{\"id\":\"a\",\"kind\":\"qa\",\"instruction\":\"x\"}", "missing \"answer\""},
        {"{\"id\":\"a\",\"instruction\":\"x\",\"test\":\"t\",\"solution\":[1]}", "step 1"},
        {"{\"id\":\"a\",\"instruction\":\"x\",\"test\":\"t\",\"timeout_s\":-1}", "timeout_s"},
        {"[1]", "JSON object"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ipw_errbuf_clear(&eb);
        assert_int_not_equal(parse_text(bad[i].json, &t, &eb), IPW_OK);
        if (!strstr(eb.msg, bad[i].want) || !strstr(eb.msg, "t.jsonl line 1"))
            fail_msg("%s: message '%s' lacks '%s'", bad[i].json, eb.msg, bad[i].want);
    }
}

static void test_jsonl_set(void **state)
{
    (void)state;
    const char *text = "# a comment\n\n"
                       "{\"id\":\"one\",\"instruction\":\"a\",\"test\":\"true\"}\n"
                       "{\"id\":\"two\",\"instruction\":\"b\",\"test\":\"true\"}\n";
    struct ipw_agent_taskset ts = {0};
    ipw_errbuf eb = {0};
    assert_int_equal(ipw_agent_tasks_parse(text, strlen(text), "mine.jsonl", &ts, &eb), IPW_OK);
    assert_int_equal(ts.n, 2);
    assert_non_null(ipw_agent_tasks_find(&ts, "two"));
    assert_null(ipw_agent_tasks_find(&ts, "three"));
    ipw_agent_tasks_free(&ts);

    const char *dup = "{\"id\":\"one\",\"instruction\":\"a\",\"test\":\"true\"}\n"
                      "{\"id\":\"one\",\"instruction\":\"b\",\"test\":\"true\"}\n";
    assert_int_equal(ipw_agent_tasks_parse(dup, strlen(dup), "mine.jsonl", &ts, &eb),
                     IPW_E_INVALID);
    assert_non_null(strstr(eb.msg, "mine.jsonl line 2"));
    assert_non_null(strstr(eb.msg, "used twice"));
    ipw_agent_tasks_free(&ts);

    const char *broken = "{\"id\":\"one\",\"instruction\":\"a\",\"test\":\"true\"}\n{nope\n";
    assert_int_equal(ipw_agent_tasks_parse(broken, strlen(broken), "m.jsonl", &ts, &eb),
                     IPW_E_INVALID);
    assert_non_null(strstr(eb.msg, "m.jsonl line 2: not JSON"));
    ipw_agent_tasks_free(&ts);
}

static void test_builtin_set(void **state)
{
    (void)state;
    struct ipw_agent_taskset ts;
    ipw_errbuf eb = {0};
    assert_int_equal(ipw_agent_tasks_load(IPW_AGENT_BUILTIN, NULL, 0, 0, false, &ts, &eb),
                     IPW_OK);
    assert_true(ts.n >= 40);
    const char *cats[] = {"files", "text", "programs", "git", "archives"};
    int per_cat[5] = {0};
    for (size_t i = 0; i < ts.n; i++) {
        const struct ipw_agent_task *t = &ts.task[i];
        assert_int_equal(t->kind, IPW_TASK_TERMINAL);
        assert_true(t->test[0] != '\0');
        assert_true(t->n_solution >= 1);
        for (int c = 0; c < 5; c++)
            per_cat[c] += strcmp(t->category, cats[c]) == 0;
    }
    for (int c = 0; c < 5; c++)
        if (per_cat[c] < 5)
            fail_msg("only %d built-in %s tasks", per_cat[c], cats[c]);
    ipw_agent_tasks_free(&ts);

    /* a reproducible sample, and the first N without a seed */
    struct ipw_agent_taskset a, b;
    assert_int_equal(ipw_agent_tasks_load(IPW_AGENT_BUILTIN, NULL, 7, 42, true, &a, &eb), IPW_OK);
    assert_int_equal(ipw_agent_tasks_load(IPW_AGENT_BUILTIN, NULL, 7, 42, true, &b, &eb), IPW_OK);
    assert_int_equal(a.n, 7);
    for (size_t i = 0; i < a.n; i++)
        assert_string_equal(a.task[i].id, b.task[i].id);
    ipw_agent_tasks_free(&a);
    ipw_agent_tasks_free(&b);
    assert_int_equal(ipw_agent_tasks_load("jsonl", NULL, 0, 0, false, &a, &eb), IPW_E_INVALID);
    assert_non_null(strstr(eb.msg, "--dataset-path"));
    assert_int_equal(ipw_agent_tasks_load("ipw", NULL, 5, 0, false, &a, &eb), IPW_OK);
    assert_int_equal(a.n, 5);
    assert_int_equal(a.task[0].kind, IPW_TASK_QA);
    ipw_agent_tasks_free(&a);
}

static void test_script(void **state)
{
    (void)state;
    struct ipw_agent_task t = {.kind = IPW_TASK_TERMINAL, .n_solution = 2};
    t.solution[0] = "echo a";
    t.solution[1] = "echo b";
    json_t *args;
    char *final;
    ipw_errbuf eb = {0};
    assert_int_equal(ipw_agent_script_next(&t, IPW_SCRIPT_SOLVE, 1, "shell", &args, &final, &eb),
                     IPW_OK);
    assert_null(final);
    assert_string_equal(json_string_value(json_object_get(args, "command")), "echo b");
    json_decref(args);
    assert_int_equal(ipw_agent_script_next(&t, IPW_SCRIPT_SOLVE, 2, "shell", &args, &final, &eb),
                     IPW_OK);
    assert_null(args);
    assert_non_null(final);
    free(final);
    assert_int_equal(ipw_agent_script_next(&t, IPW_SCRIPT_FAIL, 1, "shell", &args, &final, &eb),
                     IPW_OK);
    assert_null(args);
    free(final);
    for (size_t k = 0; k < 100; k += 33) {
        assert_int_equal(
            ipw_agent_script_next(&t, IPW_SCRIPT_LOOP, k, "shell", &args, &final, &eb), IPW_OK);
        assert_non_null(args);
        assert_null(final);
        json_decref(args);
    }
    enum ipw_agent_script m;
    assert_true(ipw_agent_script_parse("loop", &m) && m == IPW_SCRIPT_LOOP);
    assert_false(ipw_agent_script_parse("win", &m));
}

static void test_sessions(void **state)
{
    (void)state;
    const char *text =
        "{\"session_id\":\"a\",\"sub_requests\":[{\"input_toks\":100,\"output_toks\":20,"
        "\"tool_duration_ns\":5000},{\"input_toks\":180,\"output_toks\":7}]}\n"
        "{\"session_id\":7,\"messages\":[{\"role\":\"user\",\"content\":\"12345678\"},"
        "{\"role\":\"assistant\",\"content\":\"abcd\"},{\"role\":\"tool\",\"content\":\"x\","
        "\"tool_duration_ns\":9},{\"role\":\"assistant\",\"content\":\"done\"}]}\n";
    struct ipw_agent_taskset ts = {0};
    ipw_errbuf eb = {0};
    assert_int_equal(ipw_agent_sessions_parse(text, strlen(text), "s.jsonl", &ts, &eb), IPW_OK);
    assert_int_equal(ts.n, 2);
    assert_int_equal(ts.task[0].kind, IPW_TASK_REPLAY);
    assert_int_equal(ts.task[0].n_replay, 2);
    assert_int_equal(ts.task[0].replay[0].input_toks, 100);
    assert_int_equal(ts.task[0].replay[0].output_toks, 20);
    assert_int_equal(ts.task[0].replay[0].tool_ns, 5000);
    assert_int_equal(ts.task[0].replay[1].tool_ns, 0);
    assert_string_equal(ts.task[1].id, "7");
    assert_int_equal(ts.task[1].n_replay, 2);
    assert_int_equal(ts.task[1].replay[0].input_toks, 2); /* 8 bytes before it */
    assert_int_equal(ts.task[1].replay[0].output_toks, 1);
    assert_int_equal(ts.task[1].replay[0].tool_ns, 9);
    assert_int_equal(ts.task[1].replay[1].input_toks, 4); /* 8 + 4 + 1 bytes */
    ipw_agent_tasks_free(&ts);

    const char *bad[][2] = {
        {"{\"session_id\":\"a\"}\n", "sub_requests (a list) or messages"},
        {"{\"sub_requests\":[{\"input_toks\":-1,\"output_toks\":2}]}\n", "input_toks"},
        {"{\"sub_requests\":[{\"input_toks\":1,\"output_toks\":0}]}\n", ">= 1"},
        {"{\"sub_requests\":[]}\n", "1 to"},
        {"{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}\n", "no assistant"},
        {"{\"session_id\":\"a\",\"sub_requests\":[{\"input_toks\":1,\"output_toks\":1}]}\n"
         "{\"session_id\":\"a\",\"sub_requests\":[{\"input_toks\":1,\"output_toks\":1}]}\n",
         "used twice"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ipw_errbuf_clear(&eb);
        assert_int_equal(ipw_agent_sessions_parse(bad[i][0], strlen(bad[i][0]), "s.jsonl", &ts,
                                                  &eb),
                         IPW_E_INVALID);
        if (!strstr(eb.msg, bad[i][1]) || !strstr(eb.msg, "s.jsonl line"))
            fail_msg("'%s': message '%s' lacks '%s'", bad[i][0], eb.msg, bad[i][1]);
        ipw_agent_tasks_free(&ts);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_task_fields),
        cmocka_unit_test(test_jsonl_set),
        cmocka_unit_test(test_builtin_set),
        cmocka_unit_test(test_script),
        cmocka_unit_test(test_sessions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
