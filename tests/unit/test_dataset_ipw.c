/* The built-in ipw dataset (data/datasets/ipw.jsonl): enough items, every kind present, every
 * multiple-choice answer a letter among its own options, no duplicate ids or problems, and the
 * whole file loads through the same path `ipw profile --dataset ipw` uses, with nothing skipped. */
#include "ipw_test.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "ipw/dataset.h"
#include "ipw/embedded.h"

/* Letters of the "X. text" lines of the Options block, in order; -1 if the block is not the
 * documented layout ("\n\nOptions:\nA. …\nB. …\n\nRespond with the correct letter."). */
static int option_letters(const char *problem, char *letters, size_t max)
{
    const char *p = strstr(problem, "\n\nOptions:\n");
    const char *tail = strstr(problem, "\n\nRespond with the correct letter.");
    if (!p || !tail || tail < p || strcmp(tail, "\n\nRespond with the correct letter.") != 0)
        return -1;
    p += strlen("\n\nOptions:\n");
    int n = 0;
    while (p < tail) {
        if (!isupper((unsigned char)p[0]) || p[1] != '.' || p[2] != ' ' || (size_t)n >= max)
            return -1;
        letters[n++] = p[0];
        const char *nl = strchr(p, '\n');
        if (!nl || nl > tail)
            break;
        p = nl + 1;
    }
    return n;
}

static void test_builtin_items_are_valid(void **state)
{
    (void)state;
    const struct ipw_embedded_file *f = ipw_embedded_find("datasets/ipw.jsonl");
    assert_non_null(f);
    const char *text = (const char *)f->data;
    size_t count = 0, kinds[3] = {0}, cap = 512;
    char **ids = calloc(cap, sizeof *ids), **problems = calloc(cap, sizeof *problems);
    const char *line = text;
    while (*line) {
        const char *nl = strchr(line, '\n');
        size_t len = nl ? (size_t)(nl - line) : strlen(line);
        json_error_t je;
        json_t *o = json_loadb(line, len, 0, &je);
        if (!o)
            fail_msg("ipw.jsonl:%zu: %s", count + 1, je.text);
        const char *id = json_string_value(json_object_get(o, "id"));
        const char *problem = json_string_value(json_object_get(o, "problem"));
        const char *answer = json_string_value(json_object_get(o, "answer"));
        const char *subject = json_string_value(json_object_get(o, "subject"));
        const char *kind = json_string_value(json_object_get(o, "kind"));
        const char *difficulty = json_string_value(json_object_get(o, "difficulty"));
        if (!id || !problem || !answer || !subject || !kind || !difficulty || !*answer ||
            !*subject || !*problem)
            fail_msg("ipw.jsonl:%zu: an item needs id, problem, answer, subject, kind, "
                     "difficulty",
                     count + 1);
        if (strcmp(difficulty, "easy") && strcmp(difficulty, "medium") &&
            strcmp(difficulty, "hard"))
            fail_msg("%s: difficulty '%s'", id, difficulty);
        if (!strcmp(kind, "mcq")) {
            kinds[0]++;
            char letters[26];
            int n = option_letters(problem, letters, sizeof letters);
            if (n < 2)
                fail_msg("%s: the Options block is not in the documented layout", id);
            for (int i = 0; i < n; i++)
                if (letters[i] != 'A' + i)
                    fail_msg("%s: options are not lettered A, B, C, ... in order", id);
            if (strlen(answer) != 1 || answer[0] < 'A' || answer[0] >= 'A' + n)
                fail_msg("%s: answer '%s' is not one of its %d option letters", id, answer, n);
        } else if (!strcmp(kind, "exact")) {
            kinds[1]++;
            /* exact answers are short and unambiguous: a number or a word or two */
            if (strlen(answer) > 20 || strchr(answer, '\n'))
                fail_msg("%s: exact answer '%s' is too long to compare exactly", id, answer);
        } else if (!strcmp(kind, "open")) {
            kinds[2]++;
            if (strlen(answer) < 20)
                fail_msg("%s: an open item needs a real reference answer", id);
        } else {
            fail_msg("%s: kind '%s'", id, kind);
        }
        for (size_t k = 0; k < count; k++) {
            if (!strcmp(ids[k], id))
                fail_msg("duplicate id %s", id);
            if (!strcmp(problems[k], problem))
                fail_msg("%s repeats the problem of %s", id, ids[k]);
        }
        if (count == cap) {
            cap *= 2;
            ids = realloc(ids, cap * sizeof *ids);
            problems = realloc(problems, cap * sizeof *problems);
        }
        ids[count] = strdup(id);
        problems[count] = strdup(problem);
        count++;
        json_decref(o);
        if (!nl)
            break;
        line = nl + 1;
    }
    assert_true(count >= 200);
    assert_true(kinds[0] > 0 && kinds[1] > 0 && kinds[2] > 0);
    /* the mix the dataset promises: about 45 % mcq, 35 % exact, 20 % open */
    assert_true(kinds[0] * 100 / count >= 35 && kinds[0] * 100 / count <= 55);
    assert_true(kinds[1] * 100 / count >= 25 && kinds[1] * 100 / count <= 45);
    assert_true(kinds[2] * 100 / count >= 12 && kinds[2] * 100 / count <= 30);
    for (size_t k = 0; k < count; k++) {
        free(ids[k]);
        free(problems[k]);
    }
    free(ids);
    free(problems);

    /* loading it as the profiler does keeps every item, with nothing skipped */
    struct ipw_dataset *ds = NULL;
    ipw_errbuf eb = {0};
    struct ipw_dataset_options o = {0};
    if (ipw_dataset_load("ipw", &o, &ds, &eb) != IPW_OK)
        fail_msg("%s", eb.msg);
    assert_int_equal(ds->n, count);
    assert_int_equal(ds->skipped_rows, 0);
    assert_string_equal(ds->id, "ipw");
    assert_string_equal(ds->name, "ipw (built-in)");
    size_t subjects = 0;
    for (size_t i = 0; i < ds->n; i++) {
        assert_int_equal(ds->rec[i].dataset_index, i);
        assert_non_null(json_object_get(ds->rec[i].metadata, "id"));
        bool seen = false;
        for (size_t k = 0; k < i && !seen; k++)
            seen = !strcmp(ds->rec[k].subject, ds->rec[i].subject);
        subjects += !seen;
    }
    assert_true(subjects >= 10);
    ipw_dataset_free(ds);
}

static void test_builtin_sample(void **state)
{
    (void)state;
    /* --max-queries 20 --seed 1 on the built-in set: a spread, and the same every time */
    struct ipw_dataset_options o = {.max_queries = 20, .seed = 1, .seed_given = true};
    struct ipw_dataset *a = NULL, *b = NULL;
    ipw_errbuf eb = {0};
    assert_int_equal(ipw_dataset_load("ipw", &o, &a, &eb), IPW_OK);
    assert_int_equal(ipw_dataset_load("ipw", &o, &b, &eb), IPW_OK);
    assert_int_equal(a->n, 20);
    for (size_t i = 0; i < a->n; i++)
        assert_string_equal(a->rec[i].problem, b->rec[i].problem);
    ipw_dataset_free(a);
    ipw_dataset_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_builtin_items_are_valid),
        cmocka_unit_test(test_builtin_sample),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
