/* `ipw profile`: parse SPEC §3.1's flags into a profiler configuration, run it, print where
 * the results are, and (unless --no-eval) analyse the run. */
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "ipw/analysis.h"
#include "ipw/client.h"
#include "ipw/clock.h"
#include "ipw/log.h"
#include "ipw/options.h"
#include "ipw/profile.h"

/* Read by the query threads, so an atomic (a lock-free one is safe in a handler), not a
 * volatile sig_atomic_t, which is only safe for the thread the handler interrupted. */
static atomic_int interrupts;

/* The first Ctrl-C (or SIGTERM) lets the queries in flight finish and writes every output; a
 * second one ends the process at once (finished records are already on disk). */
static void on_interrupt(int sig)
{
    int saved = errno;
    if (atomic_fetch_add(&interrupts, 1) + 1 >= 2) {
        signal(sig, SIG_DFL);
        raise(sig);
    }
    errno = saved;
}

static int stop_requested(void) { return atomic_load(&interrupts) > 0; }

/* The end of a run: score it and compute its figures of merit (SPEC §3.2 step 6). Open-ended
 * items need a judge (--eval-base-url); without one they stay unevaluated. */
static int analyze_after_profile(const char *run_dir, const struct ipw_profile_config *cfg)
{
    struct ipw_analyze_options ao;
    ipw_analyze_options_init(&ao);
    ao.model = cfg->model;
    ao.judge.base_url = cfg->eval_base_url;
    ao.judge.model = cfg->eval_model;
    ao.should_stop = stop_requested;
    struct ipw_analyze_result res;
    ipw_errbuf eb = {0};
    if (ipw_analyze_run(run_dir, &ao, &res, &eb) != IPW_OK) {
        fprintf(stderr, "ipw profile: analysis %s: %s (rerun it with 'ipw analyze %s')\n",
                stop_requested() ? "interrupted" : "failed", eb.msg, run_dir);
        return 1;
    }
    ipw_cli_print_analysis(run_dir, &res);
    return res.judge_refused ? 1 : 0;
}

int cmd_profile(int argc, char **argv)
{
    struct ipw_profile_config cfg;
    ipw_profile_config_init(&cfg);
    const char *client = NULL, *model = NULL, *log_level = NULL, *collector = NULL;
    struct ipw_strlist dparams = {0}, cparams = {0}, monitors = {0};
    long max_queries = 0, seed = -1, concurrency = 1, interval_ms = 50;
    double baseline_s = 5;
    bool resume = false, overwrite = false, no_eval = false, no_progress = false;
    int64_t connect_timeout = 10 * IPW_NS_PER_SEC, idle_timeout = 300 * IPW_NS_PER_SEC;
    static const char *const clients[] = {"ollama", "openai", "vllm", "sim", NULL};
    static const char *const datasets[] = {"ipw", "mmlu-pro", "supergpqa", "jsonl", NULL};
    static const char *const collectors[] = {"auto", "nvidia", "amd", "rapl", "macos",
                                             "null", "sim", NULL};
    static const char *const eval_clients[] = {"openai", NULL};
    static const char *const levels[] = {"error", "warn", "info", "debug", "trace", NULL};
    struct ipw_option opts[] = {
        {"client", IPW_OPT_CHOICE, &client, "NAME", "inference client (required)", 0, 0, clients},
        {"model", IPW_OPT_STRING, &model, "NAME", "model name as the server knows it (required)"},
        {"client-base-url", IPW_OPT_STRING, &cfg.client_base_url, "URL",
         "server URL (default: the client's; ollama http://127.0.0.1:11434, vllm "
         "http://127.0.0.1:8000)"},
        {"dataset", IPW_OPT_CHOICE, &cfg.dataset_id, "ID", "dataset (default ipw, built in)", 0,
         0, datasets},
        {"dataset-path", IPW_OPT_STRING, &cfg.dataset_path, "PATH",
         "dataset file for mmlu-pro, supergpqa and jsonl"},
        {"dataset-param", IPW_OPT_LIST, &dparams, "K=V", "dataset parameter (repeatable)"},
        {"client-param", IPW_OPT_LIST, &cparams, "K=V",
         "request parameter, e.g. max_tokens=256 temperature=0 (repeatable)"},
        {"max-queries", IPW_OPT_INT, &max_queries, "N", "run at most N records (default all)", 1,
         1e9},
        {"seed", IPW_OPT_INT, &seed, "N", "sample --max-queries records at random with this seed",
         0, 4e18},
        {"output-dir", IPW_OPT_STRING, &cfg.output_dir, "DIR", "where runs go (default ./runs/)"},
        {"resume", IPW_OPT_FLAG, &resume, NULL, "continue an interrupted run in its directory"},
        {"overwrite", IPW_OPT_FLAG, &overwrite, NULL, "replace an existing run directory"},
        {"concurrency", IPW_OPT_INT, &concurrency, "N", "queries in flight at once (default 1)",
         1, 1024},
        {"monitor", IPW_OPT_LIST, &monitors, "local|HOST:PORT",
         "telemetry source: local (default) or energy monitors, repeatable (energies add up)"},
        {"collector", IPW_OPT_CHOICE, &collector, "NAME",
         "local collector (default auto; sim for --client sim)", 0, 0, collectors},
        {"interval-ms", IPW_OPT_INT, &interval_ms, "MS", "sampling period (default 50)", 1, 10000},
        {"baseline-seconds", IPW_OPT_DOUBLE, &baseline_s, "S",
         "idle baseline before the queries (default 5; 0 = none)", 0, 3600},
        {"connect-timeout", IPW_OPT_DURATION, &connect_timeout, "DURATION",
         "connect timeout (default 10s)"},
        {"idle-timeout", IPW_OPT_DURATION, &idle_timeout, "DURATION",
         "a stream silent this long fails the query (default 300s)"},
        {"eval-client", IPW_OPT_CHOICE, &cfg.eval_client, "NAME",
         "judge client (openai: any OpenAI-compatible endpoint)", 0, 0, eval_clients},
        {"eval-base-url", IPW_OPT_STRING, &cfg.eval_base_url, "URL",
         "OpenAI-compatible judge endpoint for open-ended answers"},
        {"eval-model", IPW_OPT_STRING, &cfg.eval_model, "NAME", "judge model"},
        {"no-eval", IPW_OPT_FLAG, &no_eval, NULL, "do not analyse the run at the end"},
        {"no-progress", IPW_OPT_FLAG, &no_progress, NULL, "log lines instead of a progress bar"},
        {"log-level", IPW_OPT_CHOICE, &log_level, "LEVEL", "error|warn|info|debug|trace", 0, 0,
         levels},
        IPW_OPT_END};
    struct ipw_command_help help = {
        "ipw profile --client ollama|openai|vllm|sim --model NAME [options]",
        "Sends a dataset's prompts to an inference server while measuring energy, and writes\n"
        "a run directory: records.jsonl, a HuggingFace Arrow dataset, summary.json and the\n"
        "analysis. Each query's energy is split into prefill (to the first token) and decode.",
        "examples:\n"
        "  ipw profile --client sim --model llama-3.1-8b --max-queries 20\n"
        "  ipw profile --client ollama --model llama3.2:1b --max-queries 50\n"
        "  ipw profile --client vllm --model meta-llama/Llama-3.1-8B-Instruct \\\n"
        "      --client-param max_tokens=512 --concurrency 8\n"
        "  ipw profile --client vllm --model M --monitor node1:50053 --monitor node2:50053"};
    enum ipw_parse_result pr =
        ipw_parse_options(argc, argv, "ipw profile", opts, &help, NULL, 0, NULL);
    if (pr != IPW_PARSE_OK)
        return pr == IPW_PARSE_HELP ? 0 : 2;
    if (log_level)
        ipw_log_set_level((ipw_log_level)ipw_log_parse_level(log_level));
    else if (ipw_log_get_level() < IPW_LOG_INFO && !getenv("IPW_LOG_LEVEL"))
        ipw_log_set_level(IPW_LOG_INFO);
    if (!client || !model) {
        fprintf(stderr, "ipw profile: --client and --model are required. Try 'ipw profile "
                        "--help'.\n");
        return 2;
    }
    if (resume && overwrite) {
        fprintf(stderr, "ipw profile: --resume and --overwrite exclude each other\n");
        return 2;
    }
    if (monitors.n > IPW_MAX_SOURCES) {
        fprintf(stderr, "ipw profile: at most %d --monitor sources\n", IPW_MAX_SOURCES);
        return 2;
    }
    ipw_errbuf eb = {0};
    json_t *cp = NULL, *dp = NULL;
    if (ipw_params_parse(cparams.v, cparams.n, &cp, &eb) != IPW_OK) {
        fprintf(stderr, "ipw profile: --client-param: %s\n", eb.msg);
        return 2;
    }
    if (ipw_params_parse(dparams.v, dparams.n, &dp, &eb) != IPW_OK) {
        fprintf(stderr, "ipw profile: --dataset-param: %s\n", eb.msg);
        json_decref(cp);
        return 2;
    }
    cfg.client_id = client;
    cfg.model = model;
    cfg.client_params = cp;
    cfg.client_param_strings = cparams.v;
    cfg.n_client_param_strings = cparams.n;
    cfg.dataset_params = dp;
    cfg.max_queries = max_queries;
    cfg.seed = seed >= 0 ? (uint64_t)seed : 0;
    cfg.seed_given = seed >= 0;
    cfg.resume = resume;
    cfg.overwrite = overwrite;
    cfg.concurrency = (int)concurrency;
    for (size_t i = 0; i < monitors.n; i++)
        cfg.monitors[i] = monitors.v[i];
    cfg.n_monitors = monitors.n;
    cfg.collector = collector;
    cfg.interval_ns = interval_ms * IPW_NS_PER_MS;
    cfg.baseline_ns = (int64_t)(baseline_s * 1e9);
    cfg.connect_timeout_ns = connect_timeout;
    cfg.idle_timeout_ns = idle_timeout;
    cfg.no_eval = no_eval;
    cfg.progress_bar = !no_progress && isatty(STDERR_FILENO);
    cfg.stop_requested = stop_requested;

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_interrupt;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    struct ipw_profile_outcome out;
    ipw_err rc = ipw_profile_run(&cfg, &out, &eb);
    int exit_code = 0;
    if (out.run_dir[0])
        printf("run directory: %s\n", out.run_dir);
    if (rc != IPW_OK) {
        fprintf(stderr, "ipw profile: %s\n", eb.msg);
        exit_code = 1;
    } else {
        printf("queries: %zu of %zu done, %zu failed; energy this session: %.2f J (all domains "
               "%.2f J)\n",
               out.queries_done, out.queries_total, out.queries_failed, out.energy_joules,
               out.total_joules);
        if (stop_requested()) {
            fprintf(stderr, "ipw profile: interrupted; continue with the same command plus "
                            "--resume\n");
            exit_code = 130;
        }
    }
    if (rc == IPW_OK && !no_eval && !stop_requested() && out.run_dir[0]) {
        exit_code = analyze_after_profile(out.run_dir, &cfg) ? 1 : exit_code;
        if (stop_requested()) /* Ctrl-C during the analysis: the run itself is complete */
            exit_code = 130;
    }
    json_decref(cp);
    json_decref(dp);
    return exit_code;
}
