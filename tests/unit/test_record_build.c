/* The per-query record (profile/record_build.c) and the sticky JSON builder under it: the
 * record's fields, and an allocation failure at every possible point fails the whole record
 * (never a record with a field missing), without leaking. */
#include "ipw_test.h"

#include <stdlib.h>
#include <string.h>

#include "ipw/jsonutil.h"
#include "profile/record_build.h"

/* jansson's allocator, failing the n-th allocation from now (counting from 0) when armed */
static long allocs_left = -1;

static void *failing_malloc(size_t n)
{
    if (allocs_left == 0)
        return NULL;
    if (allocs_left > 0)
        allocs_left--;
    return malloc(n);
}

static struct ipw_chat_result res;
static struct ipw_dataset_record rec;
static struct ipw_query_outcome q;

static void fill(void)
{
    res = (struct ipw_chat_result){.content = "Paris", .reasoning = "think",
                                   .start_ns = 1000000000, .first_token_ns = 1200000000,
                                   .end_ns = 2000000000, .input_tokens = 12,
                                   .output_tokens = 30, .http_status = 200};
    rec = (struct ipw_dataset_record){.dataset_index = 3, .problem = "Capital of France?",
                                      .answer = "Paris", .subject = "geo", .kind = "exact"};
    q = (struct ipw_query_outcome){.record_index = 7, .rec = &rec, .model = "m", .res = &res,
                                   .start_unix = 1.7e9, .end_unix = 1.7e9 + 1,
                                   .e_start = 1000000000, .e_first = 1200000000,
                                   .e_end = 2000000000, .main_domain = IPW_DOMAIN_GPU,
                                   .have_energy = true, .share_seconds = 1, .have_idle = true,
                                   .idle_power_w = 10, .concurrency = 1};
    q.total.valid = q.prefill.valid = q.decode.valid = 1u << IPW_DOMAIN_GPU;
    q.total.joules[IPW_DOMAIN_GPU] = 100;
    q.prefill.joules[IPW_DOMAIN_GPU] = 20;
    q.decode.joules[IPW_DOMAIN_GPU] = 80;
}

static void test_record_fields(void **state)
{
    (void)state;
    fill();
    json_t *o = NULL;
    ipw_errbuf eb = {0};
    assert_int_equal(ipw_profile_record_json(&q, &o, &eb), IPW_OK);
    assert_non_null(o);
    assert_int_equal(json_integer_value(json_object_get(o, "record_index")), 7);
    assert_string_equal(ipw_json_get_string(o, "status"), "ok");
    assert_string_equal(ipw_json_get_string(o, "reasoning"), "think");
    json_t *em = json_object_get(
        json_object_get(json_object_get(o, "model_metrics"), "m"), "energy_metrics");
    double j = 0;
    assert_true(ipw_json_get_number(em, "per_query_joules", &j));
    assert_double_equal(j, 100, 0);
    assert_true(ipw_json_get_number(em, "active_joules", &j));
    assert_double_equal(j, 90, 1e-12); /* 100 J less 10 W idle for its 1 s share */
    json_decref(o);
}

/* Fail the first, second, ... allocation until the record builds: each failure must fail the
 * record loudly; the build that succeeds must equal the one without injected failures. */
static void test_every_allocation_failure_fails_the_record(void **state)
{
    (void)state;
    fill();
    json_t *want = NULL;
    assert_int_equal(ipw_profile_record_json(&q, &want, NULL), IPW_OK);
    char *want_text = json_dumps(want, JSON_SORT_KEYS);
    json_set_alloc_funcs(failing_malloc, free);
    long n;
    for (n = 0; n < 100000; n++) {
        allocs_left = n;
        json_t *o = (json_t *)1;
        ipw_errbuf eb = {0};
        ipw_err e = ipw_profile_record_json(&q, &o, &eb);
        allocs_left = -1;
        if (e == IPW_OK) { /* n is past the last allocation: the whole record */
            char *text = json_dumps(o, JSON_SORT_KEYS);
            assert_string_equal(text, want_text);
            free(text);
            json_decref(o);
            break;
        }
        assert_int_equal(e, IPW_E_NOMEM);
        assert_null(o);
        assert_non_null(strstr(eb.msg, "the record of query 7"));
    }
    json_set_alloc_funcs(malloc, free);
    assert_true(n > 50); /* the record allocates at every member: many points were tried */
    free(want_text);
    json_decref(want);
}

static void test_jb(void **state)
{
    (void)state;
    struct ipw_jb jb = {0};
    json_t *o = json_object();
    assert_non_null(ipw_jb_set(&jb, o, "a", json_integer(1)));
    assert_null(ipw_jb_set(&jb, o, "b", NULL)); /* a constructor that failed */
    assert_null(ipw_jb_set(&jb, NULL, "c", json_string("x"))); /* consumed, not leaked */
    assert_null(ipw_jb_push(&jb, NULL, json_string("y")));
    assert_int_equal(jb.err, IPW_E_NOMEM);
    assert_string_equal(jb.key, "b"); /* the first failure is named */
    struct ipw_jb outer = {0};
    ipw_jb_merge(&outer, &jb);
    ipw_errbuf eb = {0};
    assert_int_equal(ipw_jb_finish(&outer, &eb, "the test document"), IPW_E_NOMEM);
    assert_non_null(strstr(eb.msg, "the test document (at \"b\")"));
    struct ipw_jb ok = {0};
    json_t *arr = json_array();
    assert_non_null(ipw_jb_push(&ok, arr, json_true()));
    assert_int_equal(ipw_jb_finish(&ok, NULL, "x"), IPW_OK);
    json_decref(arr);
    json_decref(o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_record_fields),
        cmocka_unit_test(test_every_allocation_failure_fails_the_record),
        cmocka_unit_test(test_jb),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
