/* The energy lab (SPEC §5): one prompt measured precisely and repeatedly — the prefill/decode
 * split from synchronous counter snapshots, idle-baseline-subtracted ("active") energies, the
 * energy of the inference server's own process tree (E_llm), batch statistics, A/B comparison,
 * calibration, estimates from coefficient tables, carbon, and a SQLite store.
 *
 * Two kinds of callers drive it: the `ipw lab` command line and the lab's web page (`ipw lab
 * serve`). Both go through the engine below:
 *
 *   struct ipw_lab_engine_config cfg;  ipw_lab_engine_config_init(&cfg);  ...fill it...
 *   ipw_lab_engine_open(&cfg, &eng, &eb);         opens the client and the telemetry once
 *   ipw_lab_engine_batch(eng, &batch, &res, &eb); N runs of one or more variants, interleaved
 *   ipw_lab_engine_close(eng);
 *
 * Events (struct ipw_lab_event) are delivered to cfg.on_event, synchronously, on the thread that
 * called ipw_lab_engine_batch (token events on the client's streaming thread, which is the same
 * thread for every client ipw has). A callback must return quickly: it runs between a counter
 * snapshot and the next read of the stream. One batch runs at a time per engine: a second call
 * while one runs gets IPW_E_EXISTS. ipw_lab_engine_cancel may be called from any thread or a
 * signal handler: the run in flight is abandoned at the next streamed chunk, the batch returns
 * IPW_E_CANCELLED, and the runs already finished are kept (and stored, when a store is given).
 *
 * Every energy is in Wh; a value that could not be measured is NaN (JSON null), never 0. */
#ifndef IPW_LAB_H
#define IPW_LAB_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "ipw/err.h"
#include "ipw/stats.h"

/* One default grid intensity everywhere: the world average, IEA Electricity 2025. */
#define IPW_LAB_DEFAULT_GRID_G_PER_KWH 445.0
#define IPW_LAB_MAX_INJECT 16
#define IPW_LAB_MAX_VARIANTS 8
#define IPW_LAB_MAX_RUNS 10000
/* Scaphandre's exporter refreshes at most every 2 s and freezes when polled faster. */
#define IPW_LAB_SCAPH_MIN_POLL_NS (2000000000LL)
/* |M_eff - E_llm| / E_llm at or above this is flagged (the original's 20 %). */
#define IPW_LAB_M_EFF_FLAG_PCT 20.0

/* ---- composing the request (SPEC §5.2 step 1) ------------------------------------------------ */

struct ipw_lab_injection {
    const char *label; /* shown in the system prompt as [label]; the file name when none given */
    const char *text;
};

struct ipw_lab_prompt {
    const char *user;    /* the prompt (required) */
    const char *system;  /* base system prompt; NULL = none */
    const char *context; /* conversation context; NULL = none */
    size_t n_inject;
    struct ipw_lab_injection inject[IPW_LAB_MAX_INJECT];
};

/* The system message sent: base system, then the context wrapped in <conversation_context> tags
 * (unless it already is), then each injection after a "---" separator with its label, joined by
 * blank lines. *out is NULL when all parts are empty (the request then has no system message).
 * Free with free(). */
ipw_err ipw_lab_compose_system(const struct ipw_lab_prompt *p, char **out, ipw_errbuf *eb);
/* The original's approximation, for servers that report no prompt tokens: UTF-8 characters / 4
 * per message plus 4 per message. NULL messages are skipped. */
long ipw_lab_estimate_prompt_tokens(const char *system, const char *user);

/* ---- one run's figures (SPEC §5.2, keys of §5.4) --------------------------------------------- */

enum ipw_lab_e_llm_source {
    IPW_LAB_E_LLM_NONE = 0,
    IPW_LAB_E_LLM_PROCTREE,   /* CPU-time share of the server's process tree (+ GPU share) */
    IPW_LAB_E_LLM_SCAPHANDRE, /* a Scaphandre exporter's per-process power, integrated */
    IPW_LAB_E_LLM_TOTAL,      /* no attribution possible: the whole measured energy */
};
const char *ipw_lab_e_llm_source_name(enum ipw_lab_e_llm_source s); /* "proctree", ... */

struct ipw_lab_run {
    /* identity */
    char variant[64];
    char model[128];
    char client[16];
    char collector[32];     /* platform that measured: rapl, nvidia, ..., sim, remote */
    char energy_source[16]; /* counter | integrated | modeled | none */
    char prompt_sha256[65]; /* of the composed system + "\n\n" + user text */
    int64_t started_unix_ns;
    int batch_index; /* 0-based position in its batch */

    /* measured (raw) */
    bool have_energy;         /* false: no counter readable; every Wh below is NaN */
    double prefill_wh, decode_wh, total_wh;
    double cpu_wh, gpu_wh;    /* parts of total_wh from the CPU package and the GPU (NaN: none) */
    double idle_watts;        /* baseline over the same domains as total_wh; NaN when none */
    double ttft_s, decode_s, latency_s;
    long input_tokens, output_tokens; /* -1 unknown */
    bool tokens_estimated;
    long injection_overhead_tokens;   /* -1 unknown */
    bool overhead_estimated;
    /* Ollama's prompt_eval_duration + eval_duration in s; NaN when the server gives none */
    double server_eval_s;

    /* E_llm inputs: CPU-time shares of the server's process tree over the run */
    double cpu_share_busy;     /* of the machine's busy CPU time (NaN: not measured) */
    double cpu_share_capacity; /* of all CPU time, idle included (Scaphandre's convention) */
    double gpu_share;          /* NVML per-process utilisation share (NaN: not available) */
    double scaph_wh;           /* Scaphandre's integrated process energy (NaN: not used) */

    /* derived by ipw_lab_run_derive */
    double closure_error_wh;
    double prefill_active_wh, decode_active_wh, total_active_wh;
    double wh_per_1000_etokens; /* total / output tokens x 1000; NaN: "insufficient tokens" */
    double prefill_wh_per_1000_input_tokens, decode_wh_per_1000_output_tokens;
    double active_wh_per_1000_etokens;
    double prefill_active_wh_per_1000_input_tokens, decode_active_wh_per_1000_output_tokens;
    double e_llm_wh;          /* share of busy time (sums to the package over all processes) */
    double e_llm_capacity_wh; /* share of capacity (idle power attributed to nobody) */
    enum ipw_lab_e_llm_source e_llm_source;
    double m_eff_wh, m_eff_deviation_pct;
    bool m_eff_flagged;
    double grid_g_per_kwh, carbon_g;

    char answer_excerpt[256];
    char error[IPW_ERRMSG_MAX]; /* "" when the run succeeded */
};

/* Sets every measured and derived number to NaN / -1 and the strings to "". */
void ipw_lab_run_init(struct ipw_lab_run *r);
/* Computes the derived fields from the measured ones (pure; the formulas of docs/lab.md):
 * closure, active energies max(0, E - P_idle x dt) per phase, per-1000-token figures, E_llm
 * (proctree, else Scaphandre, else total), M_eff and its flag, carbon at grid_g_per_kwh. */
void ipw_lab_run_derive(struct ipw_lab_run *r, double grid_g_per_kwh);
/* The run as SPEC §5.4's JSON object (snake_case keys, units in the names, NaN as null). */
json_t *ipw_lab_run_to_json(const struct ipw_lab_run *r);

/* ---- statistics (SPEC §5.3) -------------------------------------------------------------------- */

struct ipw_lab_ci {
    double lo, hi; /* NaN when fewer than 2 values */
};

#define IPW_LAB_BOOTSTRAP_RESAMPLES 2000
#define IPW_LAB_BOOTSTRAP_SEED 0x1b5eedULL

/* 95 % bootstrap (percentile) interval of the median, IPW_LAB_BOOTSTRAP_RESAMPLES resamples
 * drawn with a fixed seed, so the same values give the same interval. */
ipw_err ipw_lab_bootstrap_median_ci(const double *v, size_t n, uint64_t seed,
                                    struct ipw_lab_ci *out, ipw_errbuf *eb);
/* median(b) - median(a) and its 95 % bootstrap interval (each sample resampled on its own). */
ipw_err ipw_lab_median_diff_ci(const double *a, size_t na, const double *b, size_t nb,
                               uint64_t seed, double *diff, struct ipw_lab_ci *out,
                               ipw_errbuf *eb);
/* Two-sided Mann-Whitney U test: U of sample a, and the p-value — exact (the distribution of U
 * counted) when both samples have at most 20 values and there are no ties, else the normal
 * approximation with tie and continuity corrections (SciPy's method="auto" rule, widened). */
ipw_err ipw_lab_mann_whitney(const double *a, size_t na, const double *b, size_t nb, double *u,
                             double *p, ipw_errbuf *eb);
/* Runs needed for the median's 95 % CI half-width to be target_pct % of the median, assuming
 * the width shrinks as 1/sqrt(n): ceil(n x (half_width% / target)^2), at least n. 0 when it
 * cannot be said (fewer than 2 runs, median 0). */
long ipw_lab_recommended_runs(size_t n, double median, const struct ipw_lab_ci *ci,
                              double target_pct);

/* One statistic over a batch: SPEC §5.3's summary plus the median's CI. */
struct ipw_lab_stat {
    struct ipw_summary s; /* n, avg(mean), median, std (population), p5, p95, cv, min, max */
    struct ipw_lab_ci median_ci;
};
ipw_err ipw_lab_stat_compute(const double *v, size_t n, struct ipw_lab_stat *out, ipw_errbuf *eb);

enum ipw_lab_metric {
    IPW_LAB_M_WH_PER_1000_ETOKENS = 0,
    IPW_LAB_M_TOTAL_WH,
    IPW_LAB_M_TOTAL_ACTIVE_WH,
    IPW_LAB_M_PREFILL_WH,
    IPW_LAB_M_DECODE_WH,
    IPW_LAB_M_E_LLM_WH,
    IPW_LAB_M_TTFT_S,
    IPW_LAB_M_DECODE_S,
    IPW_LAB_M_LATENCY_S,
    IPW_LAB_M_INPUT_TOKENS,
    IPW_LAB_M_OUTPUT_TOKENS,
    IPW_LAB_M_COUNT
};
const char *ipw_lab_metric_name(enum ipw_lab_metric m); /* the §5.4 key, e.g. "total_wh" */
/* The metric's value in a run; NaN when unavailable. */
double ipw_lab_metric_value(const struct ipw_lab_run *r, enum ipw_lab_metric m);

struct ipw_lab_summary {
    char variant[64];
    size_t runs, failed;
    struct ipw_lab_stat stat[IPW_LAB_M_COUNT]; /* over the runs where the metric exists */
    long injection_overhead_tokens;           /* the last run's; -1 unknown */
};
/* Summary of the successful runs of `variant` (NULL: all runs). */
ipw_err ipw_lab_summarize(const struct ipw_lab_run *runs, size_t n, const char *variant,
                          struct ipw_lab_summary *out, ipw_errbuf *eb);
json_t *ipw_lab_summary_to_json(const struct ipw_lab_summary *s);

/* compare: variant b against a on Wh/1000 e-tokens. */
struct ipw_lab_comparison {
    char a[64], b[64];
    enum ipw_lab_metric metric;
    double median_a, median_b, diff; /* median(b) - median(a) */
    struct ipw_lab_ci diff_ci;
    double u, p;
    char verdict[512]; /* the plain-language line */
};
ipw_err ipw_lab_compare(const struct ipw_lab_run *runs, size_t n, const char *a, const char *b,
                        enum ipw_lab_metric metric, struct ipw_lab_comparison *out,
                        ipw_errbuf *eb);
json_t *ipw_lab_comparison_to_json(const struct ipw_lab_comparison *c);

/* ---- carbon and estimates (SPEC §5.2 step 7, §5.3) --------------------------------------- */

struct ipw_lab_country {
    const char *code; /* ISO 3166 alpha-2, or "GLOBAL" */
    const char *name;
    double g_per_kwh;
    int year;
};
/* The country table shipped in data/lab/emissions.json (the Energy Lab's, MIT). */
ipw_err ipw_lab_countries(const struct ipw_lab_country **out, size_t *n, ipw_errbuf *eb);
/* g CO2e/kWh of a country code (case-insensitive). An unknown code is IPW_E_NOTFOUND with a
 * message suggesting the closest codes and names. */
ipw_err ipw_lab_country_intensity(const char *code, double *g_per_kwh, ipw_errbuf *eb);
static inline double ipw_lab_carbon_g(double wh, double g_per_kwh)
{
    return wh / 1000.0 * g_per_kwh;
}

struct ipw_lab_benchmark {
    char name[128];
    char source[128]; /* "preset", "Hugging Face AI Energy Score", "Jegham et al. 2025", ... */
    char description[160];
    double c_in, c_out; /* Wh per 1000 input / output tokens */
    int64_t updated_unix; /* 0 for built-in entries */
    bool builtin;
};
/* The built-in coefficient tables: the original's six presets, then the rows of the external
 * tables (data/lab/benchmark_data). */
ipw_err ipw_lab_builtin_benchmarks(const struct ipw_lab_benchmark **out, size_t *n,
                                   ipw_errbuf *eb);
/* Wh = input/1000 x c_in + output/1000 x c_out. */
static inline double ipw_lab_estimate_wh(const struct ipw_lab_benchmark *b, double input_tokens,
                                         double output_tokens)
{
    return input_tokens / 1000.0 * b->c_in + output_tokens / 1000.0 * b->c_out;
}
/* "rapl_calibrated_<model>" with ':' and spaces as '_'. */
void ipw_lab_calibrated_name(const char *model, char *out, size_t size);

/* ---- the store (SPEC §5.4) ---------------------------------------------------------------- */

#define IPW_LAB_SCHEMA_VERSION 2

struct ipw_lab_store;

/* Opens (creating it and its directory when absent) and migrates the database. A database that
 * is read-only, locked past busy_timeout_ms, not a database, or from a newer schema is an error
 * naming the file and the fix, and the file is left untouched. path NULL: the default. */
ipw_err ipw_lab_store_open(const char *path, int busy_timeout_ms, struct ipw_lab_store **out,
                           ipw_errbuf *eb);
void ipw_lab_store_close(struct ipw_lab_store *s);
/* $IPW_LAB_DB, else $XDG_DATA_HOME/ipw/lab.db, else ~/.local/share/ipw/lab.db. */
void ipw_lab_store_default_path(char *out, size_t size);
const char *ipw_lab_store_path(const struct ipw_lab_store *s);

/* A batch row; returns its id. kind: "run", "compare", "calibrate". */
ipw_err ipw_lab_store_begin_batch(struct ipw_lab_store *s, const char *kind, const char *model,
                                  const char *client, int runs_planned, int64_t *batch_id,
                                  ipw_errbuf *eb);
ipw_err ipw_lab_store_end_batch(struct ipw_lab_store *s, int64_t batch_id, const json_t *summary,
                                ipw_errbuf *eb);
/* Saved at once, committed before returning: a crash afterwards loses nothing. */
ipw_err ipw_lab_store_add_run(struct ipw_lab_store *s, int64_t batch_id,
                              const struct ipw_lab_run *r, const char *prompt_text,
                              int64_t *run_id, ipw_errbuf *eb);
/* Newest first; limit 0 = all. Runs come back with the stored fields. */
ipw_err ipw_lab_store_runs(struct ipw_lab_store *s, size_t limit, struct ipw_lab_run **out,
                           int64_t **ids, size_t *n, ipw_errbuf *eb);
/* Calibrated / user benchmarks: put replaces an existing one of the same name. */
ipw_err ipw_lab_store_put_benchmark(struct ipw_lab_store *s, const struct ipw_lab_benchmark *b,
                                    ipw_errbuf *eb);
ipw_err ipw_lab_store_remove_benchmark(struct ipw_lab_store *s, const char *name,
                                       ipw_errbuf *eb);
ipw_err ipw_lab_store_benchmarks(struct ipw_lab_store *s, struct ipw_lab_benchmark **out,
                                 size_t *n, ipw_errbuf *eb);
/* Built-in, then stored; IPW_E_NOTFOUND listing the names when none matches. */
ipw_err ipw_lab_benchmark_find(struct ipw_lab_store *s, const char *name,
                               struct ipw_lab_benchmark *out, ipw_errbuf *eb);
/* Session totals over every stored run: the runs' Wh (never an estimate), tokens, carbon.
 * modelled_runs counts the runs whose energy a model gave (the sim collector or client,
 * cpu-model), so a total that includes them is not called measured. */
struct ipw_lab_totals {
    long runs, modelled_runs;
    double total_wh, active_wh, carbon_g;
    long input_tokens, output_tokens;
};
ipw_err ipw_lab_store_totals(struct ipw_lab_store *s, struct ipw_lab_totals *out, ipw_errbuf *eb);

/* export: one CSV row per run (header first) or a JSON array of runs, written to f. */
ipw_err ipw_lab_export(struct ipw_lab_store *s, const char *format, FILE *f, ipw_errbuf *eb);

/* ---- per-process attribution (SPEC §5.2 step 6) ------------------------------------------- */

/* CPU time of a process tree and of the machine, in clock ticks, at one instant. */
struct ipw_lab_cpu_snapshot {
    uint64_t tree_ticks;    /* utime+stime+cutime+cstime of the root and every live descendant */
    uint64_t idle_ticks;    /* machine: idle + iowait (exact on a tickless kernel) */
    uint64_t busy_ticks;    /* machine: the other columns (tick-sampled: for the record only) */
    int64_t mono_ns;        /* when /proc/stat was read */
    int ncpu;               /* cpuN lines in /proc/stat */
    int processes;          /* in the tree */
};
ipw_err ipw_lab_cpu_snapshot(const char *procfs_root, int root_pid,
                             struct ipw_lab_cpu_snapshot *out, ipw_errbuf *eb);
/* The same, cheaply repeated: a tracker remembers the last listing of /proc and the tree, so a
 * snapshot reads the stat files of the tree's members and of processes born since the previous
 * snapshot only (the first one reads them all). The processes are read under procfs_root,
 * /proc/stat under machine_root (NULL: the same root). */
struct ipw_lab_proctree;
ipw_err ipw_lab_proctree_open(const char *procfs_root, const char *machine_root, int root_pid,
                              struct ipw_lab_proctree **out, ipw_errbuf *eb);
ipw_err ipw_lab_proctree_snapshot(struct ipw_lab_proctree *t, struct ipw_lab_cpu_snapshot *out,
                                  ipw_errbuf *eb);
void ipw_lab_proctree_close(struct ipw_lab_proctree *t);
/* The tree's members at the last snapshot (borrowed until the next snapshot). */
const int *ipw_lab_proctree_pids(const struct ipw_lab_proctree *t, size_t *n);
/* Shares of the tree between two snapshots: of the capacity ncpu x elapsed wall time, and of
 * the busy time, that capacity less idle (NaN when no time passed or nothing was busy). */
void ipw_lab_cpu_shares(const struct ipw_lab_cpu_snapshot *a, const struct ipw_lab_cpu_snapshot *b,
                        double *share_busy, double *share_capacity);
/* The process listening on TCP `port` (IPv4 or IPv6): /proc/net/tcp{,6} -> socket inode ->
 * /proc/<pid>/fd. IPW_E_NOTFOUND names the port; IPW_E_PERM when sockets were found but their
 * owner's fds could not be read. */
ipw_err ipw_lab_find_listener(const char *procfs_root, int port, int *pid, ipw_errbuf *eb);
/* The port of a client URL (default 80/443 by scheme); -1 when none can be found. */
int ipw_lab_url_port(const char *url);

/* Scaphandre's Prometheus text: the sum of scaph_process_power_consumption_microwatts samples
 * whose line contains `match`, in W. IPW_E_NOTFOUND when no line matched. Pure (fuzzed). */
ipw_err ipw_lab_scaph_parse(const char *text, size_t len, const char *match, double *watts,
                            int *matched, ipw_errbuf *eb);
/* Right-rectangle integration of polled power: each poll's value (the exporter's mean power
 * since its previous refresh) times the interval that ends at that poll; the first poll only
 * opens the window. */
struct ipw_lab_scaph_integral {
    bool primed;
    int64_t last_ns;
    double joules;
    int polls;
};
void ipw_lab_scaph_add(struct ipw_lab_scaph_integral *it, int64_t t_ns, double watts);

/* ---- the engine --------------------------------------------------------------------------- */

enum ipw_lab_event_kind {
    IPW_LAB_EV_BASELINE = 0, /* watts, seconds */
    IPW_LAB_EV_SNAPSHOT,     /* phase ("start", "first_token", "end"), joules (cumulative) */
    IPW_LAB_EV_FIRST_TOKEN,  /* seconds (TTFT) */
    IPW_LAB_EV_TOKEN,        /* text (a content or thinking delta), thinking */
    IPW_LAB_EV_METRIC,       /* name, value, unit: each figure as it becomes known */
    IPW_LAB_EV_RUN_DONE,     /* run */
    IPW_LAB_EV_BATCH_DONE,   /* runs_done, runs_total */
    IPW_LAB_EV_ERROR,        /* text; run when a run failed */
    IPW_LAB_EV_PROGRESS,     /* runs_done, runs_total, eta_s (before each run) */
    IPW_LAB_EV_LOG,          /* text: a line worth showing (server found, E_llm source, ...) */
};
const char *ipw_lab_event_name(enum ipw_lab_event_kind k); /* "baseline", "snapshot", ... */

struct ipw_lab_event {
    enum ipw_lab_event_kind kind;
    const char *variant; /* of the run concerned, or NULL */
    int run_index;       /* 0-based within the batch; -1 for batch-level events */
    const char *phase;   /* SNAPSHOT */
    const char *name;    /* METRIC */
    const char *unit;    /* METRIC */
    const char *text;    /* TOKEN, ERROR, LOG */
    bool thinking;       /* TOKEN */
    double value;        /* METRIC; watts for BASELINE; joules for SNAPSHOT; s for FIRST_TOKEN */
    double seconds;      /* BASELINE duration */
    int runs_done, runs_total;
    double eta_s;        /* PROGRESS; NaN before the first run finished */
    int64_t mono_ns;     /* SNAPSHOT: the boundary's CLOCK_MONOTONIC time; BASELINE: its end */
    const struct ipw_lab_run *run; /* RUN_DONE, ERROR of a run */
};
typedef void (*ipw_lab_event_fn)(void *ud, const struct ipw_lab_event *ev);

struct ipw_lab_engine_config {
    const char *client;          /* ollama | openai | vllm | sim */
    const char *base_url;        /* NULL: the client's default */
    const char *model;
    const json_t *client_params; /* extra request parameters (borrowed) */
    long max_tokens;             /* default 1000 */
    double temperature;          /* NaN: the server's default */
    long seed;                   /* -1: none */
    const char *collector;       /* "auto" (default; "sim" for the sim client) or a name */
    double cpu_tdp_w, cpu_idle_w; /* cpu-model coefficients; 0: $IPW_CPU_TDP/IDLE or defaults */
    const char *const *monitors; /* remote energy monitors HOST:PORT; NULL/0 = local */
    size_t n_monitors;
    int64_t interval_ns;         /* sampling period; default 50 ms */
    int64_t baseline_ns;         /* idle baseline before each run; default 0.5 s; 0 = none */
    const char *server_pid;      /* "auto" (default), "none", or a pid */
    const char *scaphandre_url;  /* NULL: $SCAPHANDRE_URL, else none */
    const char *scaphandre_match;/* NULL: $SCAPHANDRE_OLLAMA_MATCH, else "ollama" */
    double grid_g_per_kwh;       /* default IPW_LAB_DEFAULT_GRID_G_PER_KWH */
    const char *procfs_root;     /* the server's processes; NULL: $IPW_PROCFS_ROOT, else /proc
                                  * (/proc/stat is read where the collectors read it:
                                  * $IPW_PROCFS_ROOT, else /proc) */
    int64_t connect_timeout_ns, idle_timeout_ns;
    ipw_lab_event_fn on_event;
    void *event_ud;
    struct ipw_lab_store *store; /* runs saved as they finish when non-NULL */
};
void ipw_lab_engine_config_init(struct ipw_lab_engine_config *cfg);

struct ipw_lab_variant {
    char name[64];
    struct ipw_lab_prompt prompt; /* strings borrowed for the batch's duration */
};

struct ipw_lab_batch {
    size_t n_variants; /* >= 1; several are run interleaved: A B A B ... */
    struct ipw_lab_variant variant[IPW_LAB_MAX_VARIANTS];
    int runs;          /* per variant */
    const char *kind;  /* stored batch kind: "run" (default), "compare", "calibrate" */
};

struct ipw_lab_batch_result {
    struct ipw_lab_run *runs; /* in the order they ran; free with ipw_lab_batch_result_free */
    size_t n;
    int64_t batch_id;         /* in the store; 0 without one */
};
void ipw_lab_batch_result_free(struct ipw_lab_batch_result *r);

struct ipw_lab_engine;

/* Opens the client (health and model checked: a missing model names the server and the models
 * it has) and the telemetry. No readable counter is IPW_E_UNSUPPORTED, naming every collector
 * tried and why, and offering --client sim or `ipw lab estimate`. */
ipw_err ipw_lab_engine_open(const struct ipw_lab_engine_config *cfg, struct ipw_lab_engine **out,
                            ipw_errbuf *eb);
/* Runs the batch. Failed runs are kept with their error; the batch goes on (it stops after 5
 * failures in a row, returning the last error). */
ipw_err ipw_lab_engine_batch(struct ipw_lab_engine *e, const struct ipw_lab_batch *b,
                             struct ipw_lab_batch_result *res, ipw_errbuf *eb);
/* Async-signal-safe. */
void ipw_lab_engine_cancel(struct ipw_lab_engine *e);
bool ipw_lab_engine_busy(const struct ipw_lab_engine *e);
/* What measures: the collector's platform ("rapl", "nvidia", ..., "remote"). */
const char *ipw_lab_engine_collector(const struct ipw_lab_engine *e);
/* The served models (JSON array of strings; caller decrefs), for the page's model picker. */
ipw_err ipw_lab_engine_models(struct ipw_lab_engine *e, json_t **models, ipw_errbuf *eb);
void ipw_lab_engine_close(struct ipw_lab_engine *e);

/* ---- shared by the command line and the web page ---------------------------------------- */

/* The batch rows, newest first (limit 0 = all), as a JSON array of {id, kind, model, client,
 * runs_planned, created_at, finished_at (null while running or when cut short), summary (what
 * ipw_lab_store_end_batch stored, or null)}. */
ipw_err ipw_lab_store_batches(struct ipw_lab_store *s, size_t limit, json_t **rows,
                              ipw_errbuf *eb);
/* Removes a batch row and its runs in one transaction; IPW_E_NOTFOUND when there is none. */
ipw_err ipw_lab_store_remove_batch(struct ipw_lab_store *s, int64_t id, ipw_errbuf *eb);
/* The calibration rule (SPEC §5.3): c_in = median prefill Wh per 1000 input tokens, c_out =
 * median decode Wh per 1000 output tokens over the successful runs, measured separately; named
 * `name`, else rapl_calibrated_<model>. IPW_E_RANGE when no run has both. */
ipw_err ipw_lab_calibrate_benchmark(const struct ipw_lab_run *runs, size_t n, const char *model,
                                    const char *name, struct ipw_lab_benchmark *out,
                                    ipw_errbuf *eb);
/* SPEC §5.4's objects: a benchmark {name, source, description, c_in_wh_per_1000,
 * c_out_wh_per_1000, updated_at, builtin}, and an estimate {benchmark, input_tokens,
 * output_tokens, c_in_wh_per_1000, c_out_wh_per_1000, wh, grid_g_per_kwh, carbon_g, modelled}. */
json_t *ipw_lab_benchmark_to_json(const struct ipw_lab_benchmark *b);
json_t *ipw_lab_estimate_to_json(const struct ipw_lab_benchmark *b, long input_tokens,
                                 long output_tokens, double grid_g_per_kwh);

#endif
