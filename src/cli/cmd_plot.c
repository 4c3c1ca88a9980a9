/* `ipw plot RUN_DIR`: draws the run's plots as PNG and SVG into RUN_DIR/plots/. */
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "ipw/log.h"
#include "ipw/options.h"
#include "ipw/plots.h"

int cmd_plot(int argc, char **argv)
{
    const char *format = "both", *out_dir = NULL, *log_level = NULL;
    static const char *const formats[] = {"png", "svg", "both", NULL};
    struct ipw_option opts[] = {
        {"format", IPW_OPT_CHOICE, &format, "FMT", "png, svg or both (default both)", 0, 0,
         formats},
        {"output-dir", IPW_OPT_STRING, &out_dir, "DIR", "where to write (default RUN_DIR/plots)"},
        IPW_OPT_LOG_LEVEL(log_level, "warn"),
        IPW_OPT_END};
    struct ipw_command_help help = {
        "ipw plot RUN_DIR [--format png|svg|both] [--output-dir DIR]",
        "Draws ttft, latency, energy and power against tokens (scatter with the least-squares "
        "line; the fits come from RUN_DIR/analysis/regression.json, or are computed when it is "
        "missing) and completion_tokens_kde (a Gaussian kernel density, Scott's bandwidth). "
        "Reads RUN_DIR/records.jsonl, or the run's Arrow dataset when it has none.",
        "example:\n  ipw plot runs/profile_H10080GB_llama_3_1_8b_ipw"};
    const char *pos[1];
    size_t npos = 0;
    enum ipw_parse_result pr = ipw_parse_options(argc, argv, "ipw plot", opts, &help, pos, 1, &npos);
    if (pr != IPW_PARSE_OK)
        return pr == IPW_PARSE_HELP ? 0 : 2;
    ipw_log_apply_option(log_level, IPW_LOG_WARN);
    if (npos != 1) {
        fprintf(stderr, "ipw plot: give one run directory (try --help)\n");
        return 2;
    }
    int f = strcmp(format, "png") == 0   ? IPW_PLOT_PNG
            : strcmp(format, "svg") == 0 ? IPW_PLOT_SVG
                                         : IPW_PLOT_PNG | IPW_PLOT_SVG;
    ipw_errbuf eb = {0};
    ipw_err e = ipw_plot_run(pos[0], out_dir, f, &eb);
    ipw_plot_release_fonts();
    if (e != IPW_OK) {
        fprintf(stderr, "ipw plot: %s\n", eb.msg);
        return 1;
    }
    /* the directory the plots really went to, so that the line can be copied into a shell */
    if (out_dir)
        printf("wrote %s/{ttft,latency,energy,power,completion_tokens_kde}.{%s}\n", out_dir,
               f == 3 ? "png,svg" : format);
    else
        printf("wrote %s/plots/{ttft,latency,energy,power,completion_tokens_kde}.{%s}\n", pos[0],
               f == 3 ? "png,svg" : format);
    return 0;
}
