/* The pieces of the CPU power model (the cpu-model collector, docs/collectors/cpu-model.md):
 * the TDP table and its model-name matching, /proc/stat utilisation, and the load curve.
 * Nothing here measures anything: every value is modelled. */
#ifndef IPW_CPU_MODEL_H
#define IPW_CPU_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "ipw/err.h"

/* The load curve, per CPU package: P(u) = idle + (full - idle) * u with u the busy share of
 * the CPU time, idle = 5 % and full load = 70 % of TDP unless the user gives them. Fitted to
 * CodeCarbon's RAPL measurements of four CPUs at 10-100 % load (the doc has the table). */
#define IPW_CPU_IDLE_FRACTION 0.05
#define IPW_CPU_FULL_FRACTION 0.70
/* TDP assumed when the CPU is not in the table (CodeCarbon's own default). */
#define IPW_CPU_DEFAULT_TDP_W 85.0
/* DRAM: 3 W per 8 GB of installed memory (CodeCarbon's methodology), independent of load. */
#define IPW_DRAM_W_PER_GIB 0.375

#define IPW_CPU_TABLE_MAX_ROWS 20000
#define IPW_CPU_TABLE_MAX_LINE 512

struct ipw_cpu_table;

/* Parses a "Name,TDP" CSV (a header line first; names may be double-quoted with commas and ""
 * inside). A malformed line fails naming its number; at most IPW_CPU_TABLE_MAX_ROWS rows and
 * IPW_CPU_TABLE_MAX_LINE bytes a line. `what` names the input in messages. */
ipw_err ipw_cpu_table_parse(const char *text, size_t len, const char *what,
                            struct ipw_cpu_table **out, ipw_errbuf *eb);
/* The table at $IPW_CPU_TABLE when set, else the one shipped (data/cpu/cpu_power.csv). */
ipw_err ipw_cpu_table_load(struct ipw_cpu_table **out, ipw_errbuf *eb);
void ipw_cpu_table_free(struct ipw_cpu_table *t);
size_t ipw_cpu_table_rows(const struct ipw_cpu_table *t);

/* The entry for a /proc/cpuinfo model name ("Intel(R) Xeon(R) CPU E5-2620 v3 @ 2.40GHz"):
 * both are reduced to lower-case words without trademarks, "CPU", "Processor", "N-Core", the
 * clock after '@' and "with ... Graphics"; the entry must name a model number (a word with a
 * digit) and all its words must be in the model name; the entry with the most words wins.
 * Returns the entry's name as written in the table and its TDP, or NULL. */
const char *ipw_cpu_table_match(const struct ipw_cpu_table *t, const char *model_name,
                                double *tdp_w);

/* CPU time from /proc/stat's aggregate "cpu" line, in clock ticks. busy is user, nice,
 * system, irq and softirq; idle is idle and iowait; steal (another guest's time) and guest
 * (already in user) are left out. */
struct ipw_cpu_times {
    uint64_t busy, idle;
};
ipw_err ipw_procstat_parse(const char *text, size_t len, struct ipw_cpu_times *out,
                           ipw_errbuf *eb);
/* Busy share between two readings, 0 to 1; -1 when no tick passed. */
double ipw_cpu_busy_share(const struct ipw_cpu_times *before, const struct ipw_cpu_times *after);

/* What the model runs on: per package, and how many packages. */
struct ipw_cpu_power_model {
    double tdp_w, idle_w, full_w; /* per package */
    unsigned packages;
    double dram_w;                /* whole machine */
};
/* CPU package power (all packages) at busy share u (clamped to 0..1). */
double ipw_cpu_model_power(const struct ipw_cpu_power_model *m, double u);

#endif
