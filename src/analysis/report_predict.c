/* The report's "measured vs predicted" tables (issue 14 item 3): each prediction_<hw>.json an
 * `ipw simulate --from-run` wrote into the run directory becomes a table with the run's
 * measured figures beside the predicted ones, under a heading and a badge that say the
 * predicted column is modelled. Files that do not parse are skipped with a note. */
#include "analysis/report_predict.h"

#include <dirent.h>
#include <jansson.h>
#include <stdbool.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ipw/jsonutil.h"
#include "ipw/report.h"

static void esc(struct ipw_buf *b, const char *s)
{
    char *e = ipw_html_escape(s ? s : "");
    ipw_buf_puts(b, e ? e : "");
    free(e);
}

static void cell(struct ipw_buf *b, const json_t *side, const char *key, double scale)
{
    const json_t *v = json_object_get(side, key);
    if (json_is_number(v))
        ipw_buf_putf(b, "<td data-value=\"%.17g\">%.4g</td>", json_number_value(v),
                     json_number_value(v) * scale);
    else
        ipw_buf_puts(b, "<td>n/a</td>");
}

static int cmpstr(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void table(struct ipw_buf *b, const char *path, const char *name)
{
    json_error_t je;
    json_t *j = json_load_file(path, 0, &je);
    const json_t *m = json_object_get(j, "measured"), *p = json_object_get(j, "predicted");
    if (!json_is_object(m) || !json_is_object(p)) {
        ipw_buf_puts(b, "<p class=\"note\">");
        esc(b, name);
        ipw_buf_puts(b, " is not a prediction this version of ipw reads; skipped.</p>\n");
        json_decref(j);
        return;
    }
    static const struct {
        const char *label, *key;
        double scale;
    } rows[] = {{"energy per query (J)", "energy_per_query_j", 1},
                {"energy per output token (J)", "j_per_output_token", 1},
                {"power per query, mean (W)", "power_mean_w", 1},
                {"latency, mean (s)", "latency_mean_s", 1},
                {"latency, median (s)", "latency_p50_s", 1},
                {"time to first token, mean (ms)", "ttft_mean_s", 1e3},
                {"intelligence per joule", "ipj", 1},
                {"intelligence per watt", "ipw", 1}};
    json_t *tp = json_object_get(j, "tp");
    /* a sim-client run's side is modelled too (files before run_energy: measured) */
    const char *re = ipw_json_get_string(j, "run_energy");
    bool run_modelled = re && !strcmp(re, "modelled");
    ipw_buf_puts(b, run_modelled ? "<table class=\"prediction\"><caption>The run (modelled) vs "
                                   "predicted on "
                                 : "<table class=\"prediction\"><caption>Measured vs predicted on ");
    ipw_buf_putf(b, "%lld &times; ", (long long)(json_is_integer(tp) ? json_integer_value(tp) : 1));
    esc(b, json_string_value(json_object_get(j, "hardware")));
    ipw_buf_puts(b, " <span class=\"badge\">predicted: modelled</span></caption>\n<tr><th></th>");
    ipw_buf_puts(b, run_modelled ? "<th>run (modelled)</th>" : "<th>measured</th>");
    ipw_buf_puts(b, "<th>predicted (modelled)</th></tr>\n");
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        ipw_buf_puts(b, "<tr><th>");
        ipw_buf_puts(b, rows[i].label);
        ipw_buf_puts(b, "</th>");
        cell(b, m, rows[i].key, rows[i].scale);
        cell(b, p, rows[i].key, rows[i].scale);
        ipw_buf_puts(b, "</tr>\n");
    }
    ipw_buf_puts(b, "</table>\n<p class=\"note\">");
    esc(b, json_string_value(json_object_get(j, "note")));
    ipw_buf_puts(b, json_is_true(json_object_get(j, "sequential"))
                        ? "; replayed one query at a time, as in the run"
                        : "; replayed with the arrivals recorded in the file");
    ipw_buf_puts(b, " (");
    esc(b, name);
    ipw_buf_puts(b, ").</p>\n");
    json_decref(j);
}

void ipw_report_predictions(struct ipw_buf *b, const char *run_dir)
{
    DIR *d = opendir(run_dir);
    if (!d)
        return;
    char *names[64];
    size_t n = 0;
    struct dirent *de;
    while ((de = readdir(d)) && n < 64) {
        size_t len = strlen(de->d_name);
        if (!strncmp(de->d_name, "prediction_", 11) && len > 16 &&
            !strcmp(de->d_name + len - 5, ".json") && (names[n] = strdup(de->d_name)))
            n++;
    }
    closedir(d);
    if (!n)
        return;
    qsort(names, n, sizeof *names, cmpstr);
    ipw_buf_puts(b, "<div class=\"predictions\"><h3>What-if on other hardware "
                    "(ipw simulate --from-run)</h3>\n");
    for (size_t i = 0; i < n; i++) {
        char path[8192];
        snprintf(path, sizeof path, "%s/%s", run_dir, names[i]);
        table(b, path, names[i]);
        free(names[i]);
    }
    ipw_buf_puts(b, "</div>\n");
}
