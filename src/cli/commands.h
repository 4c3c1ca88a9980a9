/* Every subcommand of `ipw`, one source file each (cmd_<name>.c), git style. Each returns the
 * process exit code: 0 success, 1 failure of the job, 2 bad usage. */
#ifndef IPW_CLI_COMMANDS_H
#define IPW_CLI_COMMANDS_H

#include <stddef.h>

/* One entry of ipw's command table (ipw.c): its word, its function and a one-line summary. */
struct ipw_cli_command {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *summary;
};

/* `ipw __docs OUTDIR`: man pages and shell completions from the commands' option tables
 * (docgen.c). */
int ipw_cli_docgen(int argc, char **argv, const struct ipw_cli_command *cmds, size_t ncmds);

int cmd_telemetry(int argc, char **argv);
int cmd_monitor(int argc, char **argv);

/* The energy monitor's whole command line (`energy-monitor` and `ipw monitor`); prog names
 * the program in messages and help. */
int ipw_cli_monitor_main(int argc, char **argv, const char *prog);
int cmd_analyze(int argc, char **argv);
int cmd_profile(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_list(int argc, char **argv);
int cmd_top(int argc, char **argv);

/* The cpu-model collector's coefficients, the same two options on every command that opens a
 * collector (telemetry, monitor, profile, lab, top): `tdp` and `idle` are doubles, 0 when not
 * given. */
#define IPW_CLI_OPT_CPU_MODEL(tdp, idle)                                                       \
    {"cpu-tdp", IPW_OPT_DOUBLE, &(tdp), "W",                                                   \
     "cpu-model: TDP of one CPU package (default: from the CPU table by model name)", 1, 5000,  \
     NULL, 0},                                                                                 \
    {"cpu-idle", IPW_OPT_DOUBLE, &(idle), "W",                                                 \
     "cpu-model: idle power of one CPU package (default 5% of TDP)", 0.1, 5000, NULL, 0}
/* --cpu-tdp / --cpu-idle (0 when not given) into a collector configuration, over the
 * IPW_CPU_TDP / IPW_CPU_IDLE environment values. */
struct ipw_collector_config;
void ipw_cli_cpu_model_flags(struct ipw_collector_config *cfg, double tdp_w, double idle_w);
int cmd_lab(int argc, char **argv);
/* `ipw lab serve` (cmd_lab_serve.c); argv[0] is "serve". */
int ipw_cli_lab_serve(int argc, char **argv);

/* The headline figures of an analysis, as `ipw analyze` prints them (also after a profile). */
struct ipw_analyze_result;
void ipw_cli_print_analysis(const char *dir, const struct ipw_analyze_result *r);
int cmd_plot(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_simulate(int argc, char **argv);
/* The predict modes of `ipw simulate` (issue 14): argv[0] is "calibrate" for the first. */
int ipw_cli_simulate_calibrate(int argc, char **argv);
/* `ipw simulate --from-run ...`: the whole argv of `simulate`. */
int ipw_cli_simulate_fromrun(int argc, char **argv);
/* `ipw simulate ... --sweep P=V,...`: the whole argv of `simulate`. */
int ipw_cli_simulate_sweep(int argc, char **argv);

/* Installs SIGINT/SIGTERM handlers that set a flag instead of killing the process, so that
 * commands can finish what they measured and write it out; a second signal ends the process
 * at once. The one signal policy of every command (cli_common.c). */
void ipw_cli_install_stop_handlers(void);
/* Back to the default actions (and no hook): a command's measured part is over. */
void ipw_cli_remove_stop_handlers(void);
int ipw_cli_stop_requested(void);
/* Called from the signal handler after the flag is set (so it must be async-signal-safe);
 * NULL removes it. Used to wake an event loop that is blocked in poll. */
void ipw_cli_set_stop_hook(void (*hook)(void *ud), void *ud);

/* --client-base-url checked before anything connects: prints "<prog>: <why>" and returns 2
 * (a usage error) for a URL that cannot be right, 0 otherwise (NULL is the client's default). */
int ipw_cli_check_base_url(const char *prog, const char *url);

/* The directory of an output file written at the end of a long command must exist and be
 * writable now: 0 if so, else prints "<prog>: cannot write <flag> <path>: ..." and returns 1
 * (cli_outpath.c). */
int ipw_cli_check_output_dir(const char *prog, const char *flag, const char *path);

#endif
