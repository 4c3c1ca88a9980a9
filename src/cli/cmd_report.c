/* `ipw report RUN_DIR|SIM_SUMMARY...`: one self-contained HTML page for one run or simulation
 * summary, or several side by side. */
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "commands.h"
#include "ipw/log.h"
#include "ipw/options.h"
#include "ipw/plots.h"
#include "ipw/report.h"

#define MAX_RUNS 64

int cmd_report(int argc, char **argv)
{
    const char *output = NULL, *log_level = NULL;
    struct ipw_option opts[] = {
        {"output", IPW_OPT_STRING, &output, "FILE",
         "where to write (default RUN_DIR/report.html for one run or next to one simulation "
         "summary, ./report.html for several)"},
        IPW_OPT_LOG_LEVEL(log_level, "warn"),
        IPW_OPT_END};
    struct ipw_command_help help = {
        "ipw report RUN_DIR|SIM_SUMMARY.json... [--output report.html]",
        "Writes one self-contained HTML page (inline CSS and SVG plots, no scripts, nothing "
        "fetched) with each run's accuracy, intelligence per joule and per watt, energy per "
        "query, prefill/decode split, latency percentiles, regressions and plots; with several "
        "runs, a side-by-side comparison table first. Runs not analysed yet are analysed "
        "locally first (no judge). An `ipw simulate --summary` file (or a directory holding it "
        "as summary.json) is shown like a run, every figure marked modelled, with the plots "
        "`ipw simulate --plots` drew next to it.",
        "examples:\n  ipw report runs/profile_H10080GB_llama_3_1_8b_ipw\n"
        "  ipw report runs/profile_* --output compare.html\n"
        "  ipw simulate ... --summary sim/summary.json --plots sim && ipw report sim"};
    const char *pos[MAX_RUNS];
    size_t npos = 0;
    enum ipw_parse_result pr =
        ipw_parse_options(argc, argv, "ipw report", opts, &help, pos, MAX_RUNS, &npos);
    if (pr != IPW_PARSE_OK)
        return pr == IPW_PARSE_HELP ? 0 : 2;
    ipw_log_apply_option(log_level, IPW_LOG_WARN);
    if (npos == 0) {
        fprintf(stderr, "ipw report: give at least one run directory or simulation summary (try "
                        "--help)\n");
        return 2;
    }
    /* the same run twice would be drawn twice and "compared" with itself */
    size_t kept = 0;
    for (size_t i = 0; i < npos; i++) {
        char ri[PATH_MAX], rj[PATH_MAX];
        bool dup = false;
        for (size_t j = 0; j < kept && !dup; j++)
            dup = strcmp(pos[i], pos[j]) == 0 ||
                  (realpath(pos[i], ri) && realpath(pos[j], rj) && strcmp(ri, rj) == 0);
        if (dup)
            fprintf(stderr, "ipw report: warning: %s is given more than once; it is shown once\n",
                    pos[i]);
        else
            pos[kept++] = pos[i];
    }
    npos = kept;
    char path[4200];
    struct stat st;
    if (output && stat(output, &st) == 0 && S_ISDIR(st.st_mode))
        /* a directory: the report goes inside it, named as usual */
        snprintf(path, sizeof path, "%s/report.html", output);
    else if (output)
        snprintf(path, sizeof path, "%s", output);
    else if (npos == 1 && stat(pos[0], &st) == 0 && !S_ISDIR(st.st_mode)) {
        /* a simulation summary file: the report goes next to it */
        const char *slash = strrchr(pos[0], '/');
        if (slash)
            snprintf(path, sizeof path, "%.*s/report.html", (int)(slash - pos[0]), pos[0]);
        else
            snprintf(path, sizeof path, "report.html");
    } else if (npos == 1)
        snprintf(path, sizeof path, "%s/report.html", pos[0]);
    else
        snprintf(path, sizeof path, "report.html");
    ipw_errbuf eb = {0};
    ipw_err e = ipw_report_write(pos, npos, path, &eb);
    ipw_plot_release_fonts();
    if (e != IPW_OK) {
        fprintf(stderr, "ipw report: %s\n", eb.msg);
        return 1;
    }
    printf("wrote %s\n", path);
    return 0;
}
