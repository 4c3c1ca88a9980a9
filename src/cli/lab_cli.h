/* The pieces of `ipw lab` shared by its subcommands (cmd_lab.c dispatches; lab_run_cli.c runs,
 * compares and calibrates; lab_store_cli.c estimates and reads the store). Not public. */
#ifndef IPW_CLI_LAB_CLI_H
#define IPW_CLI_LAB_CLI_H

#include "ipw/lab.h"

int ipw_lab_cli_run(int argc, char **argv, const char *sub);     /* run, compare, calibrate */
int ipw_lab_cli_estimate(int argc, char **argv);
int ipw_lab_cli_benchmarks(int argc, char **argv);
int ipw_lab_cli_history(int argc, char **argv);
int ipw_lab_cli_export(int argc, char **argv);

/* --country CC / --grid-intensity G into g/kWh (default 445); on error prints it and returns
 * 2. */
int ipw_lab_cli_grid(const char *prog, const char *country, double grid, double *out);
/* Opens the store (--db or the default); prints the one-line error and returns 1 on failure. */
int ipw_lab_cli_open_store(const char *prog, const char *db, struct ipw_lab_store **out);
/* A number for a table cell: "-" when unknown. */
const char *ipw_lab_cli_num(double v, char *buf, size_t size);

#endif
