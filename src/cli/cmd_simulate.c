/* `ipw simulate`: the LLM serving simulator (LLMServingSim 2.x re-implemented, SPEC §6).
 * Parses the original's flags, runs the library (include/ipw/servesim.h) and writes the
 * console log to stdout, the per-request CSV (rows grouped by instance), the --summary JSON
 * and, on a terminal, a progress line on stderr. */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "ipw/options.h"
#include "ipw/predict.h"
#include "ipw/servesim.h"

struct out {
    FILE **inst; /* one temporary file per instance: the CSV groups rows by instance */
    size_t n;
    bool json, progress;
};

static ipw_err on_row(void *ud, const struct ipw_ss_row *r, ipw_errbuf *eb)
{
    struct out *o = ud;
    if (!o->inst)
        return IPW_OK;
    if ((size_t)r->instance >= o->n || !o->inst[r->instance])
        return ipw_fail(eb, IPW_E_INTERNAL, "row for unknown instance %d", r->instance);
    ipw_ss_write_csv_row(o->inst[r->instance], r);
    if (ferror(o->inst[r->instance]))
        return ipw_fail(eb, IPW_E_IO, "cannot buffer CSV rows: %s", strerror(errno));
    return IPW_OK;
}

static void on_line(void *ud, const char *text)
{
    struct out *o = ud;
    if (o->progress)
        fputs("\r\033[K", stderr);
    if (o->json) {
        json_t *j = json_pack("{s:s,s:s}", "type", "log", "text", text);
        char *s = json_dumps(j, JSON_COMPACT | JSON_ENSURE_ASCII);
        if (s)
            puts(s);
        free(s);
        json_decref(j);
    } else {
        puts(text);
    }
}

static void on_progress(void *ud, int64_t clock_ns, int64_t finished, int64_t loaded)
{
    struct out *o = ud;
    if (!o->progress)
        return;
    fprintf(stderr, "\r\033[K[ipw simulate] %.1f s simulated, %lld of %lld requests finished",
            (double)clock_ns / 1e9, (long long)finished, (long long)loaded);
    fflush(stderr);
}

static ipw_err write_csv(const char *path, struct out *o, ipw_errbuf *eb)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return ipw_fail(eb, IPW_E_IO, "cannot write %s: %s", path, strerror(errno));
    ipw_ss_write_csv_header(f);
    char buf[65536];
    for (size_t i = 0; i < o->n; i++) {
        rewind(o->inst[i]);
        size_t n;
        while ((n = fread(buf, 1, sizeof buf, o->inst[i])) > 0)
            fwrite(buf, 1, n, f);
    }
    int bad = ferror(f);
    if (fclose(f) || bad)
        return ipw_fail(eb, IPW_E_IO, "cannot write %s: %s", path, strerror(errno));
    return IPW_OK;
}

int cmd_simulate(int argc, char **argv)
{
    if (argc > 1 && !strcmp(argv[1], "calibrate"))
        return ipw_cli_simulate_calibrate(argc - 1, argv + 1);
    for (int i = 1; i < argc; i++) /* the predict modes have their own flags (issue 14) */
        if (!strcmp(argv[i], "--from-run") || !strncmp(argv[i], "--from-run=", 11))
            return ipw_cli_simulate_fromrun(argc, argv);
    bool sweep = false, want_help = false;
    for (int i = 1; i < argc; i++) {
        sweep |= !strcmp(argv[i], "--sweep") || !strncmp(argv[i], "--sweep=", 8);
        want_help |= !strcmp(argv[i], "--help") || !strcmp(argv[i], "-h");
    }
    if (sweep && !want_help)
        return ipw_cli_simulate_sweep(argc, argv);
    struct ipw_ss_options so;
    ipw_ss_options_init(&so);
    const char *cluster = so.cluster_config, *dataset = NULL, *output = NULL, *summary = NULL,
               *data_dir = NULL, *dtype = NULL, *kvd = "auto", *routing = "LOAD",
               *storage = "None", *level = "WARNING", *perf = "table", *hw_spec = NULL,
               *plots = NULL;
    long block = 16, seqs = 128, toks = 2048, thr = 0, nreq = 0;
    double util = 0.9, interval = 1.0;
    bool chunk = false, nochunk = false, pc = false, nopc = false, share = false, isl = false,
         noisl = false, json = false, noprog = false, fix_energy = false, fix_standby = false,
         fix_pp = false, fix_pd = false, local_off = false, attn_off = false, sub_batch = false,
         fix_pim_deps = false, fix_pim_len = false;
    static const char *const dtypes[] = {"float16", "bfloat16", "float32", "fp8", "int8", NULL};
    static const char *const kvds[] = {"auto", "fp8", NULL};
    static const char *const routes[] = {"LOAD", "RR", "RAND", NULL};
    static const char *const stores[] = {"None", "CPU", "CXL", NULL};
    static const char *const levels[] = {"WARNING", "INFO", "DEBUG", NULL};
    static const char *const perfs[] = {"table", "roofline", NULL};
    struct ipw_option opts[] = {
        {"cluster-config", IPW_OPT_STRING, &cluster, "JSON",
         "cluster config; a bare name is also looked up in <data-dir>/configs/cluster/ (default "
         "configs/cluster/single_node_single_instance.json)"},
        {"dataset", IPW_OPT_STRING, &dataset, "JSONL", "workload trace (required)"},
        {"output", IPW_OPT_STRING, &output, "CSV", "per-request CSV, the original's format"},
        {"summary", IPW_OPT_STRING, &summary, "JSON", "machine-readable results (SPEC §6)"},
        {"data-dir", IPW_OPT_STRING, &data_dir, "DIR",
         "root of configs/model, profiler/perf, profiler/models (default: the bundled data)"},
        {"dtype", IPW_OPT_CHOICE, &dtype, "DTYPE",
         "weight dtype; picks the profile variant folder (default: the model's torch_dtype)", 0, 0,
         dtypes},
        {"kv-cache-dtype", IPW_OPT_CHOICE, &kvd, "auto|fp8", "KV cache dtype (default auto)", 0, 0,
         kvds},
        {"block-size", IPW_OPT_INT, &block, "N", "KV block size in tokens (default 16)", 1, 1 << 20},
        {"max-num-seqs", IPW_OPT_INT, &seqs, "N", "sequences per batch, 0 = unlimited (default 128)",
         0, 1e9},
        {"max-num-batched-tokens", IPW_OPT_INT, &toks, "N",
         "token budget per iteration, 0 = unlimited (default 2048)", 0, 1e9},
        {"long-prefill-token-threshold", IPW_OPT_INT, &thr, "N",
         "per-request tokens per step, 0 = off (default 0)", 0, 1e9},
        {"npu-memory-utilization", IPW_OPT_DOUBLE, &util, "F",
         "fraction of NPU memory for weights + KV (default 0.9)", 0, 1},
        {"enable-chunked-prefill", IPW_OPT_FLAG, &chunk, NULL, "split long prefills (default on)"},
        {"no-enable-chunked-prefill", IPW_OPT_FLAG, &nochunk, NULL, "do not split prefills"},
        {"enable-prefix-caching", IPW_OPT_FLAG, &pc, NULL, "reuse KV blocks (default on)"},
        {"no-enable-prefix-caching", IPW_OPT_FLAG, &nopc, NULL, "no prefix caching"},
        {"enable-prefix-sharing", IPW_OPT_FLAG, &share, NULL,
         "share the lower prefix tier across a node's instances"},
        {"prefix-storage", IPW_OPT_CHOICE, &storage, "None|CPU|CXL",
         "lower prefix-cache tier (default None)", 0, 0, stores},
        {"reserve-full-isl", IPW_OPT_FLAG, &isl, NULL, "admit only if the whole sequence fits (on)"},
        {"no-reserve-full-isl", IPW_OPT_FLAG, &noisl, NULL, "admit on the first chunk"},
        {"enable-local-offloading", IPW_OPT_FLAG, &local_off, NULL,
         "load the weights kept on the NPU from its memory too, every layer and iteration, at "
         "npu_mem bandwidth (default off; double counts what the profiled times include)"},
        {"request-routing-policy", IPW_OPT_CHOICE, &routing, "LOAD|RR|RAND",
         "routing across instances (default LOAD)", 0, 0, routes},
        {"num-reqs", IPW_OPT_INT, &nreq, "N", "first N trace entries, 0 = all (default 0)", 0, 1e12},
        {"log-interval", IPW_OPT_DOUBLE, &interval, "S", "heartbeat interval in simulated seconds "
         "(default 1.0)", 1e-9, 1e9},
        {"log-level", IPW_OPT_CHOICE, &level, "LEVEL", "WARNING, INFO or DEBUG (default WARNING)", 0,
         0, levels},
        {"enable-attn-offloading", IPW_OPT_FLAG, &attn_off, NULL,
         "decode attention on the PIM channels of each node's cpu_mem.pim_config (default off)"},
        {"enable-sub-batch-interleaving", IPW_OPT_FLAG, &sub_batch, NULL,
         "split each PIM batch in two interleaved sub-batches (needs --enable-attn-offloading)"},
        {"fix-pim-attn-deps", IPW_OPT_FLAG, &fix_pim_deps, NULL,
         "the NPU attention after a PIM block waits for its own rotary_emb (the original's "
         "converter never recognises the layer and leaves it unordered)"},
        {"fix-pim-seq-len", IPW_OPT_FLAG, &fix_pim_len, NULL,
         "PIM attention over each request's current length (the original: its prompt length)"},
        {"fix-energy-at-completion", IPW_OPT_FLAG, &fix_energy, NULL,
         "charge a batch's energy when it ends (the original: when it is scheduled)"},
        {"fix-standby-tail", IPW_OPT_FLAG, &fix_standby, NULL,
         "count the last partial poll of a standby window (the original drops it)"},
        {"fix-pp-link-bytes", IPW_OPT_FLAG, &fix_pp, NULL,
         "charge pipeline-parallel link energy for the bytes the stage sends move (the "
         "original: tokens x hidden x (pp-1), no bytes-per-element factor)"},
        {"fix-pd-link-bytes", IPW_OPT_FLAG, &fix_pd, NULL,
         "charge P/D link energy once (the original adds tokens x hidden + sequences x hidden "
         "elements at the end of each prefill trace on top of the per-layer K/V sends)"},
        {"perf-model", IPW_OPT_CHOICE, &perf, "table|roofline",
         "layer times from the profiled tables (default; the roofline model where no bundle "
         "exists) or from the roofline model of the hardware spec", 0, 0, perfs},
        {"hardware-spec", IPW_OPT_STRING, &hw_spec, "HW.json",
         "hardware spec for the roofline model of every instance (implies --perf-model "
         "roofline), e.g. one written by ipw simulate calibrate"},
        {"plots", IPW_OPT_STRING, &plots, "DIR",
         "draw the modelled power timeline and energy breakdown (PNG and SVG) into DIR"},
        {"json", IPW_OPT_FLAG, &json, NULL, "log lines as JSON objects {\"type\":\"log\",\"text\"}"},
        {"no-progress", IPW_OPT_FLAG, &noprog, NULL, "no progress line on a terminal"},
        IPW_OPT_END};
    struct ipw_command_help help = {
        "ipw simulate --cluster-config CLUSTER.json --dataset TRACE.jsonl [--output OUT.csv] "
        "[--summary OUT.json] [options]",
        "Simulates an LLM serving cluster with LLMServingSim 2.x's inputs and rules: profiled "
        "per-layer latency tables, vLLM-style continuous batching with paged KV blocks and prefix "
        "caching, routing across instances and the power model. Prints the original's console "
        "log; --output writes its per-request CSV (ns). Results are modelled, not measured "
        "(docs/commands/simulate.md, docs/sim-fidelity.md).",
        "example:\n  ipw simulate --cluster-config single_node_single_instance.json \\\n"
        "      --dataset data/sim/workloads/example_trace.jsonl --output out.csv\n\n"
        "other modes (docs/commands/simulate.md):\n"
        "  ipw simulate calibrate RUN_DIR [--out HW.json]\n"
        "      fit a hardware spec to a measured ipw profile run (its own --help)\n"
        "  ipw simulate --from-run RUN_DIR --hardware NAME|--hardware-spec HW.json\n"
        "      what-if of a measured run on other hardware (its own --help)\n"
        "  ipw simulate [the options above] --sweep PARAM=V1,V2,... [--sweep ...] [--jobs N]\n"
        "      --output SWEEP.csv [--plots DIR]\n"
        "      a grid of simulations in N processes (default: one per CPU), one CSV row per\n"
        "      point, Pareto plots of J/token against throughput and p99 latency; PARAM is one\n"
        "      of max-num-seqs, max-num-batched-tokens, block-size,\n"
        "      long-prefill-token-threshold, npu-memory-utilization, enable-chunked-prefill,\n"
        "      enable-prefix-caching, tp"};
    size_t npos = 0;
    if (sweep) { /* --sweep ... --help: the sweep's flags are described in this help */
        ipw_print_option_help("ipw simulate", opts, &help);
        return 0;
    }
    enum ipw_parse_result pr =
        ipw_parse_options(argc, argv, "ipw simulate", opts, &help, NULL, 0, &npos);
    if (pr != IPW_PARSE_OK)
        return pr == IPW_PARSE_HELP ? 0 : 2;
    if ((chunk && nochunk) || (pc && nopc) || (isl && noisl)) {
        fprintf(stderr, "ipw simulate: a flag and its --no- form were both given (try --help)\n");
        return 2;
    }
    if (!dataset) {
        fprintf(stderr, "ipw simulate: give --dataset TRACE.jsonl (try --help)\n");
        return 2;
    }
    if ((output && ipw_cli_check_output_dir("ipw simulate", "--output", output)) ||
        (summary && ipw_cli_check_output_dir("ipw simulate", "--summary", summary)))
        return 1;
    so.cluster_config = cluster;
    so.dataset = dataset;
    so.data_dir = data_dir;
    so.dtype = dtype;
    so.kv_cache_dtype = kvd;
    so.block_size = block;
    so.max_num_seqs = seqs;
    so.max_num_batched_tokens = toks;
    so.long_prefill_token_threshold = thr;
    so.npu_memory_utilization = util;
    so.enable_chunked_prefill = !nochunk;
    so.enable_prefix_caching = !nopc;
    so.enable_prefix_sharing = share;
    so.reserve_full_isl = !noisl;
    so.enable_local_offloading = local_off;
    so.prefix_storage = !strcmp(storage, "CPU")   ? IPW_SS_STORE_CPU
                        : !strcmp(storage, "CXL") ? IPW_SS_STORE_CXL
                                                  : IPW_SS_STORE_NONE;
    so.routing = !strcmp(routing, "RR")     ? IPW_SS_ROUTE_RR
                 : !strcmp(routing, "RAND") ? IPW_SS_ROUTE_RAND
                                            : IPW_SS_ROUTE_LOAD;
    so.num_reqs = nreq;
    so.log_interval = interval;
    so.log_info = strcmp(level, "WARNING") != 0;
    so.fix_energy_at_completion = fix_energy;
    so.fix_standby_tail = fix_standby;
    so.fix_pp_link_bytes = fix_pp;
    so.fix_pd_link_bytes = fix_pd;
    so.enable_attn_offloading = attn_off;
    so.enable_sub_batch_interleaving = sub_batch;
    so.fix_pim_attn_deps = fix_pim_deps;
    so.fix_pim_seq_len = fix_pim_len;
    so.perf_roofline = !strcmp(perf, "roofline");
    so.hardware_spec = hw_spec;

    ipw_errbuf eb = {0};
    struct ipw_ss_sim *sim = NULL;
    if (ipw_ss_load(&so, &sim, &eb)) {
        fprintf(stderr, "ipw simulate: %s\n", eb.msg);
        return 1;
    }
    struct out o = {0};
    o.json = json;
    o.progress = !noprog && !json && isatty(STDERR_FILENO);
    int rc = 0;
    if (output) {
        o.n = ipw_ss_num_instances(sim);
        o.inst = calloc(o.n, sizeof *o.inst);
        for (size_t i = 0; o.inst && i < o.n; i++)
            if (!(o.inst[i] = tmpfile())) {
                fprintf(stderr, "ipw simulate: cannot create a temporary file: %s\n",
                        strerror(errno));
                rc = 1;
            }
        if (!o.inst)
            rc = 1;
    }
    /* no row callback without --output: the simulator then keeps no ITL list per request */
    struct ipw_ss_sink sink = {&o, output ? on_row : NULL, on_line, on_progress};
    struct ipw_ss_result res;
    memset(&res, 0, sizeof res);
    bool roof = ipw_ss_uses_roofline(sim);
    if (roof)
        on_line(&o, "Note: layer times " IPW_SS_ROOF_NOTE " (docs/sim-fidelity.md)");
    if (!rc && ipw_ss_run(sim, &sink, &res, &eb)) {
        if (o.progress)
            fputs("\r\033[K", stderr);
        fprintf(stderr, "ipw simulate: %s\n", eb.msg);
        rc = 1;
    }
    if (!rc && output) {
        char line[4200];
        snprintf(line, sizeof line, "Saving each request's information to output file: %s", output);
        on_line(&o, line);
        if (write_csv(output, &o, &eb)) {
            fprintf(stderr, "ipw simulate: %s\n", eb.msg);
            rc = 1;
        }
    }
    res.roofline = roof;
    struct ipw_ss_inputs inputs;
    ipw_ss_describe(sim, &inputs);
    res.inputs = &inputs;
    if (!rc && roof)
        on_line(&o, "Note: every time and energy above is " IPW_SS_ROOF_NOTE);
    /* what was written goes to stderr: stdout is the original simulator's console log, which
     * users compare line by line */
    if (!rc && plots) {
        if (ipw_sim_plots(plots, &res, &eb)) {
            fprintf(stderr, "ipw simulate: %s\n", eb.msg);
            rc = 1;
        } else {
            fprintf(stderr, "wrote %s/sim_power.{png,svg} and %s/sim_energy.{png,svg}\n", plots,
                    plots);
        }
    }
    if (!rc && summary) {
        if (ipw_ss_write_summary(summary, &res, &eb)) {
            fprintf(stderr, "ipw simulate: %s\n", eb.msg);
            rc = 1;
        } else {
            fprintf(stderr, "wrote %s\n", summary);
        }
    }
    for (size_t i = 0; o.inst && i < o.n; i++)
        if (o.inst[i])
            fclose(o.inst[i]);
    free(o.inst);
    ipw_ss_result_free(&res);
    ipw_ss_free(sim);
    return rc;
}
