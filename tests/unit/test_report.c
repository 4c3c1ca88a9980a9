/* The report's building blocks: HTML escaping, and a whole report of a small run checked for
 * structure (no scripts, plot ids made unique, numbers carried exactly). */
#include "ipw_test.h"

#include <stdlib.h>
#include <string.h>

#include "ipw/analysis.h"
#include "ipw/fsutil.h"
#include "ipw/plots.h"
#include "ipw/report.h"

static void test_escape(void **state)
{
    (void)state;
    char *s = ipw_html_escape("<a href=\"x\">Tom & Jerry's</a>");
    assert_string_equal(s, "&lt;a href=&quot;x&quot;&gt;Tom &amp; Jerry&#39;s&lt;/a&gt;");
    free(s);
    s = ipw_html_escape(NULL);
    assert_string_equal(s, "");
    free(s);
    s = ipw_html_escape("caf\xC3\xA9 \xE2\x80\x94 ok");
    assert_string_equal(s, "caf\xC3\xA9 \xE2\x80\x94 ok");
    free(s);
}

static const char *record =
    "{\"record_index\":%d,\"problem\":\"Q%d?\\nA. x\\nB. y\",\"answer\":\"B\",\"kind\":\"mcq\","
    "\"status\":\"ok\",\"model_answers\":{\"m<1>\":\"%s\"},\"model_metrics\":{\"m<1>\":{"
    "\"energy_metrics\":{\"per_query_joules\":%d,\"prefill_joules\":1,\"decode_joules\":%d},"
    "\"latency_metrics\":{\"time_to_first_token_seconds\":0.1,\"total_query_seconds\":%d},"
    "\"power_metrics\":{\"gpu\":{\"per_query_watts\":{\"avg\":50}}},"
    "\"token_metrics\":{\"input\":%d,\"output\":%d,\"total\":%d}}}}\n";

static void test_report(void **state)
{
    (void)state;
    char *dir = ipw_test_mkdtemp("ipw-report");
    char text[8192] = "";
    for (int i = 0; i < 10; i++) {
        char line[1024];
        snprintf(line, sizeof line, record, i, i, i % 3 ? "B" : "A", 10 + i, 9 + i, 1 + i,
                 20 + i, 30 + 2 * i, 50 + 3 * i);
        strcat(text, line);
    }
    ipw_test_write(dir, "records.jsonl", text);
    ipw_test_write(dir, "summary.json",
                   "{\"model\":\"m<1>\",\"hardware_label\":\"H&W\",\"dataset\":\"ipw\"}");
    char out[512];
    snprintf(out, sizeof out, "%s/report.html", dir);
    const char *runs[] = {dir};
    ipw_errbuf eb = {0};
    assert_int_equal(ipw_report_write(runs, 1, out, &eb), IPW_OK);
    char *html;
    assert_int_equal(ipw_read_file(out, 64u << 20, &html, NULL, NULL), IPW_OK);
    assert_null(strstr(html, "<script"));
    assert_null(strstr(html, "m<1>"));
    assert_non_null(strstr(html, "m&lt;1&gt;"));
    assert_non_null(strstr(html, "H&amp;W"));
    assert_null(strstr(html, "<?xml"));
    assert_null(strstr(html, "id=\"glyph")); /* every plot id carries its prefix */
    assert_non_null(strstr(html, "id=\"r1p0-glyph"));
    assert_non_null(strstr(html, "id=\"r1p4-"));
    /* 6 of 10 answered B: accuracy 0.6, carried exactly */
    assert_non_null(strstr(html, "data-metric=\"accuracy\" data-value=\"0.59999999999999998\""));
    assert_non_null(strstr(html, ">60.00 %<"));
    free(html);
    /* the report analysed the run on its way */
    char acc[512];
    snprintf(acc, sizeof acc, "%s/analysis/accuracy.json", dir);
    assert_true(ipw_path_exists(acc));

    runs[0] = "/nonexistent/run";
    assert_int_equal(ipw_report_write(runs, 1, out, &eb), IPW_E_NOTFOUND);
    assert_non_null(strstr(eb.msg, "/nonexistent/run"));
    assert_int_equal(ipw_report_write(runs, 0, out, &eb), IPW_E_INVALID);
    ipw_test_rmtree(dir);
    free(dir);
}

/* A run directory of 10 records; `extra` joules added to each query's energy. */
static char *write_run(int extra)
{
    char *dir = ipw_test_mkdtemp("ipw-report-cmp");
    char text[8192] = "";
    for (int i = 0; i < 10; i++) {
        char line[1024];
        snprintf(line, sizeof line, record, i, i, i % 3 ? "B" : "A", 10 + i + extra,
                 9 + i + extra, 1 + i, 20 + i, 30 + 2 * i, 50 + 3 * i);
        strcat(text, line);
    }
    ipw_test_write(dir, "records.jsonl", text);
    ipw_test_write(dir, "summary.json", "{\"model\":\"m<1>\",\"dataset\":\"ipw\"}");
    return dir;
}

/* The comparison bolds every run at a column's best value and none when all runs share it. */
static void test_compare_bold(void **state)
{
    (void)state;
    char *a = write_run(0), *b = write_run(0), *c = write_run(5);
    const char *runs[] = {a, b, c};
    char out[512];
    snprintf(out, sizeof out, "%s/compare.html", a);
    ipw_errbuf eb = {0};
    assert_int_equal(ipw_report_write(runs, 3, out, &eb), IPW_OK);
    char *html;
    assert_int_equal(ipw_read_file(out, 64u << 20, &html, NULL, NULL), IPW_OK);
    const char *cmp = strstr(html, "id=\"comparison\"");
    assert_non_null(cmp);
    char *end = strstr(cmp, "</table>");
    assert_non_null(end);
    *end = '\0';
    static const char energy_best[] =
        "<td class=\"num best\" data-metric=\"avg_energy_joules_all_queries\" data-run=\"%d\"";
    char want[256];
    for (int run = 1; run <= 3; run++) {
        snprintf(want, sizeof want, energy_best, run);
        if (run < 3)
            assert_non_null(strstr(cmp, want)); /* the two cheapest runs tie: both bold */
        else
            assert_null(strstr(cmp, want));
    }
    /* every run has the same accuracy: nobody wins that column */
    assert_null(strstr(cmp, "<td class=\"num best\" data-metric=\"accuracy\""));
    free(html);
    for (int i = 0; i < 3; i++) {
        ipw_test_rmtree(runs[i]);
        free((char *)runs[i]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_escape),
        cmocka_unit_test(test_report),
        cmocka_unit_test(test_compare_bold),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    ipw_plot_release_fonts();
    return failed;
}
