/* `ipw lab`: the energy lab's command line (SPEC §5.1). Dispatches to the subcommand; the
 * measuring ones share their flags (lab_run_cli.c), the others read the tables and the store
 * (lab_store_cli.c). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "lab_cli.h"

static const struct {
    const char *name, *summary;
} subs[] = {
    {"run", "measure one prompt live, once or --runs N times"},
    {"compare", "measure variants of a prompt interleaved and compare them"},
    {"calibrate", "measure a model's Wh per 1000 input and output tokens into a benchmark"},
    {"estimate", "estimate Wh and carbon from a benchmark's coefficients"},
    {"benchmarks", "list, show, add or remove benchmarks"},
    {"history", "list the stored runs and the measured totals"},
    {"export", "write every stored run as CSV or JSON"},
    {"serve", "the lab as a local web page (live log, charts, batch table)"},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: ipw lab <subcommand> [options]\n\n"
               "Live energy tests of one prompt: prefill/decode split, active energy, the\n"
               "server's own share (E_llm), batches, A/B comparison, calibration, estimates.\n\n"
               "subcommands:\n");
    for (size_t i = 0; i < sizeof subs / sizeof subs[0]; i++)
        fprintf(f, "  %-11s %s\n", subs[i].name, subs[i].summary);
    fprintf(f, "\nRun 'ipw lab <subcommand> --help' for its options (docs/commands/lab.md).\n");
}

int ipw_lab_cli_grid(const char *prog, const char *country, double grid, double *out)
{
    if (country && !isnan(grid)) {
        fprintf(stderr, "%s: give --country or --grid-intensity, not both\n", prog);
        return 2;
    }
    *out = IPW_LAB_DEFAULT_GRID_G_PER_KWH;
    if (!isnan(grid)) {
        *out = grid;
    } else if (country) {
        ipw_errbuf eb = {0};
        if (ipw_lab_country_intensity(country, out, &eb) != IPW_OK) {
            fprintf(stderr, "%s: %s\n", prog, eb.msg);
            return 2;
        }
    }
    return 0;
}

int ipw_lab_cli_open_store(const char *prog, const char *db, struct ipw_lab_store **out)
{
    ipw_errbuf eb = {0};
    if (ipw_lab_store_open(db, 5000, out, &eb) != IPW_OK) {
        fprintf(stderr, "%s: %s\n", prog, eb.msg);
        return 1;
    }
    return 0;
}

const char *ipw_lab_cli_num(double v, char *buf, size_t size)
{
    if (!isfinite(v))
        snprintf(buf, size, "-");
    else
        snprintf(buf, size, "%.4g", v);
    return buf;
}

int cmd_lab(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *sub = argv[1];
    if (strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0 || strcmp(sub, "help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(sub, "run") == 0 || strcmp(sub, "compare") == 0 || strcmp(sub, "calibrate") == 0)
        return ipw_lab_cli_run(argc - 1, argv + 1, sub);
    if (strcmp(sub, "estimate") == 0)
        return ipw_lab_cli_estimate(argc - 1, argv + 1);
    if (strcmp(sub, "benchmarks") == 0)
        return ipw_lab_cli_benchmarks(argc - 1, argv + 1);
    if (strcmp(sub, "history") == 0)
        return ipw_lab_cli_history(argc - 1, argv + 1);
    if (strcmp(sub, "export") == 0)
        return ipw_lab_cli_export(argc - 1, argv + 1);
    if (strcmp(sub, "serve") == 0)
        return ipw_cli_lab_serve(argc - 1, argv + 1);
    fprintf(stderr, "ipw lab: '%s' is not a lab subcommand (run, compare, calibrate, estimate, "
                    "benchmarks, history, export, serve)\n",
            sub);
    return 2;
}
