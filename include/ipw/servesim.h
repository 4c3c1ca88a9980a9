/* ipw simulate: a discrete-event re-implementation of the LLMServingSim 2.x serving simulator
 * and its power model (SPEC §6, docs/commands/simulate.md, docs/sim-fidelity.md).
 *
 * Use: fill ipw_ss_options (ipw_ss_options_init gives the original's defaults), load the
 * inputs with ipw_ss_load (cluster config, model config, architecture, profile tables, all
 * validated), run with ipw_ss_run (the trace is streamed; finished requests go to a row
 * sink), then read the ipw_ss_result or write it with the ipw_ss_write_* functions. The
 * module knows no sockets and writes nothing itself except through the callbacks given. */
#ifndef IPW_SERVESIM_H
#define IPW_SERVESIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "ipw/err.h"

enum ipw_ss_routing { IPW_SS_ROUTE_LOAD, IPW_SS_ROUTE_RR, IPW_SS_ROUTE_RAND };
enum ipw_ss_storage { IPW_SS_STORE_NONE, IPW_SS_STORE_CPU, IPW_SS_STORE_CXL };

/* Run-wide settings; names and defaults are the original's CLI flags. */
struct ipw_ss_options {
    const char *cluster_config; /* path to the cluster-config JSON */
    const char *dataset;        /* workload JSONL */
    const char *data_dir;       /* root of configs/model, profiler/perf, profiler/models */
    const char *dtype;          /* NULL: the model's torch_dtype, else bfloat16 */
    const char *kv_cache_dtype; /* "auto" or "fp8" */
    long block_size;            /* 16 */
    long max_num_seqs;          /* 128; 0 = unlimited */
    long max_num_batched_tokens;       /* 2048; 0 = unlimited (clamped to max positions) */
    long long_prefill_token_threshold; /* 0 = off */
    double npu_memory_utilization;     /* 0.9 */
    bool enable_chunked_prefill;       /* true */
    bool enable_prefix_caching;        /* true */
    bool enable_prefix_sharing;        /* false */
    bool reserve_full_isl;             /* true */
    bool enable_local_offloading;      /* false: weights on the NPU are also loaded from its
                                        * memory (the original's --enable-local-offloading) */
    enum ipw_ss_storage prefix_storage;
    enum ipw_ss_routing routing;
    long num_reqs;       /* 0 = every entry */
    double log_interval; /* seconds of simulated time between heartbeats (1.0) */
    bool log_info;       /* --log-level INFO: per-batch log lines */
    /* PIM attention offloading (ss_pim.c): decode attention on the nodes' PIM channels
     * (cpu_mem.pim_config), optionally with the batch split into two interleaved sub-batches */
    bool enable_attn_offloading;
    bool enable_sub_batch_interleaving;
    /* fixes of the original's quirks (docs/sim-fidelity.md); all off = the original */
    bool fix_energy_at_completion; /* charge a batch's energy when it ends, not when scheduled */
    bool fix_standby_tail;         /* count the last partial poll of a standby window */
    bool fix_pp_link_bytes;        /* PP link energy from the bytes the stage SENDs move */
    bool fix_pd_link_bytes;        /* P/D link energy without the end-of-trace double count */
    bool fix_pim_attn_deps; /* NPU attention after a PIM block waits for its rotary_emb */
    bool fix_pim_seq_len;  /* PIM attention over each request's current length, not its prompt */
    /* --perf-model roofline: every instance's layer times from the roofline model (issue 14);
     * otherwise the profiled tables, and the roofline only where no bundle exists. */
    bool perf_roofline;
    const char *hardware_spec; /* a hardware spec JSON used for every roofline instance */
};

void ipw_ss_options_init(struct ipw_ss_options *o);

/* One finished request, as the original's per-request CSV row. itl points into the
 * simulator's memory and is valid only during the callback. */
struct ipw_ss_row {
    int instance;
    int64_t id;
    const char *model;
    int64_t input, output, arrival, end_time, latency, queuing_delay, ttft, tpot;
    const int64_t *itl;
    size_t n_itl;
};

/* Mean / median / 99th percentile of a latency, in milliseconds (numpy's definitions). */
struct ipw_ss_stat {
    double mean_ms, median_ms, p99_ms;
    bool present;
};

struct ipw_ss_instance_result {
    struct ipw_ss_stat ttft, tpot, itl;
    int64_t finished;
};

/* Energy of one node in joules, per device as the original prints it (net increments plus
 * the constant power times the run time), and the NPU's split into active, standby and idle. */
struct ipw_ss_node_energy {
    double base_node, npu, cpu, memory, link, nic, storage, total;
    double npu_active, npu_standby, npu_idle;
};

/* The cluster's modelled power per log interval split by component (watts: the interval's
 * energy of that component over the interval's length, summed over nodes, not rounded; the
 * parts add up to the heartbeat's watts within 0.01 W per node). */
enum ipw_ss_part {
    IPW_SS_PART_BASE,
    IPW_SS_PART_NPU_ACTIVE,
    IPW_SS_PART_NPU_STANDBY,
    IPW_SS_PART_NPU_IDLE,
    IPW_SS_PART_CPU,
    IPW_SS_PART_DRAM,
    IPW_SS_PART_LINK,
    IPW_SS_PART_NIC_STORAGE,
    IPW_SS_NPARTS
};
/* Its key in the --summary JSON ("base", "npu_active", ...) and its label in plots. */
const char *ipw_ss_part_key(enum ipw_ss_part p);
const char *ipw_ss_part_label(enum ipw_ss_part p);

struct ipw_ss_result {
    int64_t total_clock_ns;
    int64_t requests, input_tokens, generated_tokens, prompt_tokens, preemptions,
        recomputed_tokens;
    int64_t prefix_requested, prefix_npu_hit, prefix_lower_hit;
    size_t n_instances, n_nodes;
    struct ipw_ss_instance_result *instances;
    bool power;                    /* the cluster has a power block on every node */
    struct ipw_ss_node_energy *nodes;
    double total_energy_j;
    double *power_w;               /* one per heartbeat, cluster watts */
    double (*power_parts_w)[IPW_SS_NPARTS]; /* one row per heartbeat, n_power rows */
    size_t n_power;
    size_t power_dropped;          /* heartbeats past the series' bound, printed but not kept */
    double *prompt_tps, *gen_tps;  /* per heartbeat interval, tokens/s */
    size_t n_throughput;
    double log_interval;
    bool roofline; /* some layer times were modelled from the roofline, not profiled */
    const struct ipw_ss_inputs *inputs; /* what the run was made from (not owned); may be NULL */
};

struct ipw_ss_sim;

/* What a simulation was made from, for the --summary JSON (issue 14): the cluster config and
 * the dataset, and for each (hardware, model, dtype) the source of its layer times: the
 * profiled tables' directory, or the roofline model and the hardware spec it used (a bundled
 * spec, or a spec file such as one `ipw simulate calibrate` wrote). */
#define IPW_SS_MAX_PERF 8
struct ipw_ss_perf_source {
    char hardware[128], model[128], variant[32];
    bool roofline;     /* layer times from the roofline model, else the profiled tables */
    bool spec_file;    /* roofline with a spec read from a file (--hardware-spec) */
    char spec[64];     /* roofline: the spec's name (e.g. H100); empty for tables */
    char source[1024]; /* the tables' directory, or the spec's origin */
};
struct ipw_ss_inputs {
    char cluster_config[1024], dataset[1024], data_dir[1024];
    struct ipw_ss_perf_source perf[IPW_SS_MAX_PERF];
    int nperf;
};

/* Reads and validates every input. Errors name the file, the key path and what is allowed. */
ipw_err ipw_ss_load(const struct ipw_ss_options *o, struct ipw_ss_sim **out, ipw_errbuf *eb);

/* Where the run's text goes: row() gets each finished request (per instance in completion
 * order, all instances interleaved), line() each console line of the original's log
 * (banner, heartbeats, results), progress() the simulated clock and requests finished.
 * Any callback may be NULL. */
struct ipw_ss_sink {
    void *ud;
    ipw_err (*row)(void *ud, const struct ipw_ss_row *row, ipw_errbuf *eb);
    void (*line)(void *ud, const char *text);
    void (*progress)(void *ud, int64_t clock_ns, int64_t finished, int64_t loaded);
};

/* Runs the simulation to the end of the trace; fills res (free with ipw_ss_result_free). */
ipw_err ipw_ss_run(struct ipw_ss_sim *s, const struct ipw_ss_sink *sink, struct ipw_ss_result *res,
                   ipw_errbuf *eb);

void ipw_ss_result_free(struct ipw_ss_result *res);
void ipw_ss_free(struct ipw_ss_sim *s);

/* Fills in with what the loaded simulation s was made from. */
void ipw_ss_describe(const struct ipw_ss_sim *s, struct ipw_ss_inputs *in);

/* Did any instance get its layer times from the roofline model rather than tables? */
bool ipw_ss_uses_roofline(const struct ipw_ss_sim *s);
#define IPW_SS_ROOF_NOTE "modelled from roofline, not profiled"


/* Number of instances / KV blocks of instance i (after load). */
size_t ipw_ss_num_instances(const struct ipw_ss_sim *s);
int64_t ipw_ss_kv_blocks(const struct ipw_ss_sim *s, size_t i);

/* CSV: the header line and one row, exactly as the original's csv.writer (CRLF). */
void ipw_ss_write_csv_header(FILE *f);
void ipw_ss_write_csv_row(FILE *f, const struct ipw_ss_row *r);
/* The --summary JSON (SPEC §6). */
ipw_err ipw_ss_write_summary(const char *path, const struct ipw_ss_result *res, ipw_errbuf *eb);

/* Python's repr() of a double (shortest round-trip), as the original prints float lists. */
void ipw_ss_pyrepr(double v, char *buf, size_t len);

#endif
