/* `ipw`: finds the subcommand in the table and hands it the rest of the command line. */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "ipw/log.h"
#include "ipw/version.h"

static const struct ipw_cli_command commands[] = {
    {"profile", cmd_profile, "measure the energy of every query of a dataset on a server"},
    {"run", cmd_run, "run an agent through multi-turn tasks in a sandbox, energy per turn"},
    {"lab", cmd_lab, "measure one prompt live: prefill/decode, active energy, E_llm, A/B tests"},
    {"telemetry", cmd_telemetry, "print live telemetry readings (local collector or a monitor)"},
    {"top", cmd_top, "a live full-screen view of power: this machine's devices or a fleet"},
    {"monitor", cmd_monitor, "run the energy monitor: gRPC telemetry stream + Prometheus"},
    {"analyze", cmd_analyze, "score a run: accuracy, intelligence per joule/watt, regressions"},
    {"plot", cmd_plot, "draw a run's latency, energy, power and token plots (PNG and SVG)"},
    {"report", cmd_report, "write one self-contained HTML report of one or more runs"},
    {"simulate", cmd_simulate, "simulate an LLM serving cluster and its power (LLMServingSim 2.x)"},
    {"list", cmd_list, "list the clients, datasets, analyses and collectors of this build"},
};

static void usage(FILE *out)
{
    fprintf(out, "usage: ipw [--version] [--help] <command> [<args>]\n\n"
                 "ipw measures what LLM inference costs in energy, and how much intelligence it\n"
                 "buys per joule and per watt.\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(out, "  %-12s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\nRun 'ipw <command> --help' for the options of a command.\n");
}

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN);
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *name = argv[1];
    if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0 || strcmp(name, "help") == 0) {
        if (argc > 2 && strcmp(name, "help") == 0) {
            char *sub[] = {argv[2], "--help", NULL};
            for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
                if (strcmp(commands[i].name, argv[2]) == 0)
                    return commands[i].fn(2, sub);
        }
        usage(stdout);
        return 0;
    }
    /* hidden: the build generates man pages and completions with it */
    if (strcmp(name, "__docs") == 0)
        return ipw_cli_docgen(argc - 1, argv + 1, commands, sizeof commands / sizeof commands[0]);
    if (strcmp(name, "--version") == 0 || strcmp(name, "version") == 0) {
        printf("ipw %s\n", IPW_VERSION);
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(commands[i].name, name) == 0)
            return commands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "ipw: '%s' is not an ipw command. See 'ipw --help'.\n", name);
    return 2;
}
