/* `ipw profile`: parse SPEC §3.1's flags into a profiler configuration, run it, print where
 * the results are, and (unless --no-eval) analyse the run. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "measure_opts.h"
#include "ipw/agent.h"
#include "ipw/analysis.h"
#include "ipw/client.h"
#include "ipw/judge.h"
#include "ipw/clock.h"
#include "ipw/collector.h"
#include "ipw/dataset.h"
#include "ipw/log.h"
#include "ipw/options.h"
#include "ipw/profile.h"
#include "ipw/remote.h"


/* The end of a run: score it and compute its figures of merit (SPEC §3.2 step 6). Open-ended
 * items need a judge (--eval-base-url); without one they stay unevaluated. Returns the exit
 * code: 0, 1 (failed, or the judge refused the key) or 130 (interrupted). */
static int analyze_after_profile(const char *run_dir, const struct ipw_profile_config *cfg)
{
    struct ipw_analyze_options ao;
    ipw_analyze_options_init(&ao);
    ao.model = cfg->model;
    ao.judge.base_url = cfg->eval_base_url;
    ao.judge.model = cfg->eval_model;
    ao.should_stop = ipw_cli_stop_requested;
    struct ipw_analyze_result res;
    ipw_errbuf eb = {0};
    if (ipw_analyze_run(run_dir, &ao, &res, &eb) != IPW_OK) {
        if (ipw_cli_stop_requested()) {
            fprintf(stderr, "ipw profile: analysis interrupted (every query is recorded); finish "
                            "it with 'ipw analyze %s'\n",
                    run_dir);
            return 130;
        }
        fprintf(stderr, "ipw profile: analysis failed: %s (rerun it with 'ipw analyze %s')\n",
                eb.msg, run_dir);
        return 1;
    }
    ipw_cli_print_analysis(run_dir, &res);
    if (res.judge_refused)
        fprintf(stderr, "ipw profile: the judge refused the requests: %s\n",
                res.judge.first_error);
    return res.judge_refused ? 1 : 0;
}

/* --dataset agentic: recorded multi-turn sessions replayed against the server, with the
 * recorded tool time between turns, measured per turn like `ipw run` (docs/agents.md). */
static int replay_sessions(const struct ipw_profile_config *pc, const struct ipw_cli_measure *m,
                           long max_queries, long seed, bool resume, bool overwrite,
                           int concurrency)
{
    struct ipw_agent_run_config rc;
    ipw_agent_run_config_init(&rc);
    rc.agent = "replay";
    rc.client_id = m->client;
    rc.model = m->model;
    rc.client_base_url = m->base_url;
    rc.client_params = m->client_params;
    rc.dataset_id = "agentic";
    rc.dataset_path = pc->dataset_path;
    rc.max_tasks = max_queries;
    rc.seed = seed >= 0 ? (uint64_t)seed : 0;
    rc.seed_given = seed >= 0;
    rc.concurrency = concurrency;
    rc.output_dir = pc->output_dir;
    rc.resume = resume;
    rc.overwrite = overwrite;
    rc.monitors = m->monitors.v;
    rc.n_monitors = m->monitors.n;
    rc.collector = m->collector;
    rc.cpu_tdp_w = pc->cpu_tdp_w;
    rc.cpu_idle_w = pc->cpu_idle_w;
    rc.interval_ns = m->interval_ms * IPW_NS_PER_MS;
    rc.connect_timeout_ns = m->connect_timeout;
    rc.idle_timeout_ns = m->idle_timeout;
    rc.stop_requested = ipw_cli_stop_requested;
    struct ipw_agent_run_outcome out;
    ipw_errbuf eb = {0};
    ipw_err e = ipw_agent_run(&rc, &out, &eb);
    if (out.run_dir[0])
        printf("run directory: %s\n", out.run_dir);
    if (e != IPW_OK) {
        fprintf(stderr, "ipw profile: %s\n", eb.msg);
        return 1;
    }
    printf("sessions: %zu of %zu replayed, %zu failed; %s energy this session %.3f J\n",
           out.tasks_done, out.tasks_total, out.failed,
           out.telemetry_caps & IPW_CAP_MODELLED ? "modelled" : "measured", out.energy_joules);
    return ipw_cli_stop_requested() ? 130 : 0;
}

int cmd_profile(int argc, char **argv)
{
    struct ipw_profile_config cfg;
    ipw_profile_config_init(&cfg);
    struct ipw_cli_measure m;
    ipw_cli_measure_init(&m);
    const char *log_level = NULL;
    struct ipw_strlist dparams = {0};
    long max_queries = 0, seed = -1, concurrency = 1, warmup = -1;
    double baseline_s = 5;
    bool resume = false, overwrite = false, no_eval = false, no_progress = false;
    /* the dataset registry's ids, then an agent run's recorded sessions (replayed) */
    const char *datasets[16];
    size_t nds = 0;
    for (const char *const *d = ipw_dataset_choices(); *d && nds < 14; d++)
        datasets[nds++] = *d;
    datasets[nds++] = "agentic";
    datasets[nds] = NULL;
    static const char *const eval_clients[] = {"openai", NULL};
    struct ipw_option opts[] = {
        IPW_CLI_OPT_SERVER(m),
        {"dataset", IPW_OPT_CHOICE, &cfg.dataset_id, "ID", "dataset (default ipw, built in)", 0,
         0, datasets},
        {"dataset-path", IPW_OPT_STRING, &cfg.dataset_path, "PATH",
         "dataset file for mmlu-pro, supergpqa and jsonl"},
        {"dataset-param", IPW_OPT_LIST, &dparams, "K=V", "dataset parameter, e.g. prompt_field=question for jsonl (repeatable)"},
        {"max-queries", IPW_OPT_INT, &max_queries, "N", "run at most N records (default all)", 1,
         1e9},
        {"seed", IPW_OPT_INT, &seed, "N", "with --max-queries, a reproducible random sample (default: the first N records)",
         0, 4e18},
        {"output-dir", IPW_OPT_STRING, &cfg.output_dir, "DIR", "where runs go (default ./runs/)"},
        {"run-name", IPW_OPT_STRING, &cfg.run_name, "NAME",
         "the run directory's name inside --output-dir (default "
         "profile_<hardware>_<model>_<dataset>)"},
        {"resume", IPW_OPT_FLAG, &resume, NULL,
         "continue an interrupted run in its directory (the settings that change what is "
         "measured or generated must match)"},
        {"resume-anyway", IPW_OPT_FLAG, &cfg.resume_anyway, NULL,
         "--resume although those settings changed; each record keeps the settings it was made "
         "with"},
        {"overwrite", IPW_OPT_FLAG, &overwrite, NULL, "replace an existing run directory"},
        {"concurrency", IPW_OPT_INT, &concurrency, "N", "queries in flight at once (default 1)",
         1, 1024},
        IPW_CLI_OPT_TELEMETRY(m),
        IPW_CLI_OPT_CPU_MODEL(cfg.cpu_tdp_w, cfg.cpu_idle_w),
        {"warmup", IPW_OPT_INT, &warmup, "N",
         "unmeasured requests before the baseline, so a cold model's load lands on none of the "
         "measured queries (default 1 for a server, 0 for sim; 0 = none)",
         0, 100},
        {"baseline-seconds", IPW_OPT_DOUBLE, &baseline_s, "S",
         "seconds of idle power measured before the first query (default 5; 0 = none)", 0,
         3600},
        {"eval-client", IPW_OPT_CHOICE, &cfg.eval_client, "NAME",
         "judge protocol (default openai, the only one)", 0, 0, eval_clients},
        {"eval-base-url", IPW_OPT_STRING, &cfg.eval_base_url, "URL",
         "OpenAI-compatible judge endpoint for open-ended answers (default: none; they stay "
         "unevaluated)"},
        {"eval-model", IPW_OPT_STRING, &cfg.eval_model, "NAME",
         "judge model name (with --eval-base-url)"},
        {"no-eval", IPW_OPT_FLAG, &no_eval, NULL,
         "skip the analysis at the end (run 'ipw analyze RUN_DIR' later)"},
        {"no-progress", IPW_OPT_FLAG, &no_progress, NULL,
         "one log line per query instead of the progress bar (always so when stderr is not a "
         "terminal)"},
        IPW_OPT_LOG_LEVEL(log_level, "info"),
        IPW_OPT_END};
    char usage[200];
    snprintf(usage, sizeof usage, "ipw profile --client %s --model NAME [options]",
             ipw_client_choices_usage());
    struct ipw_command_help help = {
        usage,
        "Sends a dataset's prompts to an inference server while measuring energy, and writes "
        "a run directory: records.jsonl, a HuggingFace Arrow dataset, summary.json and the "
        "analysis. Each query's energy is split into prefill (to the first token) and decode. "
        "Ctrl-C lets the queries in flight finish and exits 130; resume with the same command "
        "plus --resume.",
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
    ipw_log_apply_option(log_level, IPW_LOG_INFO);
    if (ipw_cli_measure_check("ipw profile", &m))
        return 2;
    if (cfg.resume_anyway)
        resume = true;
    if (resume && overwrite) {
        fprintf(stderr, "ipw profile: --resume and --overwrite exclude each other: give one\n");
        return 2;
    }
    if (cfg.eval_model && !cfg.eval_base_url) {
        fprintf(stderr, "ipw profile: --eval-model needs --eval-base-url (the judge endpoint)\n");
        return 2;
    }
    if (cfg.eval_base_url && !cfg.eval_model) {
        fprintf(stderr, "ipw profile: --eval-base-url needs --eval-model (the judge model's "
                        "name)\n");
        return 2;
    }
    if (cfg.eval_base_url && !no_eval) {
        /* a judge URL that cannot work should stop the run now, not after every query */
        char endpoint[2048];
        ipw_errbuf jb = {0};
        if (ipw_judge_endpoint(cfg.eval_base_url, endpoint, sizeof endpoint, &jb) != IPW_OK ||
            ipw_judge_check(cfg.eval_base_url, &jb) != IPW_OK) {
            fprintf(stderr, "ipw profile: --eval-base-url: %s\n", jb.msg);
            return 2;
        }
    }
    ipw_errbuf nb = {0};
    if (cfg.run_name && ipw_run_name_check(cfg.run_name, &nb) != IPW_OK) {
        fprintf(stderr, "ipw profile: %s\n", nb.msg);
        return 2;
    }
    if (seed >= 0 && max_queries <= 0) {
        /* without a sample size every record runs and the seed would choose nothing */
        fprintf(stderr, "ipw profile: --seed picks a sample and needs --max-queries N\n");
        return 2;
    }
    if (ipw_cli_measure_params("ipw profile", &m))
        return 2;
    ipw_errbuf eb = {0};
    json_t *cp = m.client_params, *dp = NULL;
    if (ipw_params_parse(dparams.v, dparams.n, &dp, &eb) != IPW_OK) {
        fprintf(stderr, "ipw profile: --dataset-param: %s\n", eb.msg);
        json_decref(cp);
        return 2;
    }
    if (strcmp(cfg.dataset_id, "agentic") == 0) {
        int code = replay_sessions(&cfg, &m, max_queries, seed, resume, overwrite,
                                   (int)concurrency);
        json_decref(cp);
        json_decref(dp);
        return code;
    }
    cfg.client_id = m.client;
    cfg.model = m.model;
    cfg.client_base_url = m.base_url;
    cfg.client_params = cp;
    cfg.client_param_strings = m.cparams.v;
    cfg.n_client_param_strings = m.cparams.n;
    cfg.dataset_params = dp;
    cfg.max_queries = max_queries;
    cfg.seed = seed >= 0 ? (uint64_t)seed : 0;
    cfg.seed_given = seed >= 0;
    cfg.resume = resume;
    cfg.overwrite = overwrite;
    cfg.concurrency = (int)concurrency;
    cfg.warmup = (int)warmup;
    for (size_t i = 0; i < m.monitors.n; i++)
        cfg.monitors[i] = m.monitors.v[i];
    cfg.n_monitors = m.monitors.n;
    cfg.collector = m.collector;
    cfg.interval_ns = m.interval_ms * IPW_NS_PER_MS;
    cfg.baseline_ns = (int64_t)(baseline_s * 1e9);
    cfg.connect_timeout_ns = m.connect_timeout;
    cfg.idle_timeout_ns = m.idle_timeout;
    cfg.no_eval = no_eval;
    cfg.progress_bar = !no_progress && isatty(STDERR_FILENO);
    cfg.stop_requested = ipw_cli_stop_requested;

    /* the first Ctrl-C (or SIGTERM) lets the queries in flight finish and writes every output;
     * a second one ends the process at once (finished records are already on disk) */
    ipw_cli_install_stop_handlers();

    struct ipw_profile_outcome out;
    ipw_err rc = ipw_profile_run(&cfg, &out, &eb);
    int exit_code = 0;
    if (out.run_dir[0])
        printf("run directory: %s\n", out.run_dir);
    if (rc != IPW_OK) {
        fprintf(stderr, "ipw profile: %s\n", eb.msg);
        exit_code = 1;
    } else {
        printf("queries: %zu of %zu done, %zu failed; ", out.queries_done, out.queries_total,
               out.queries_failed);
        if (out.queries_measured == 0)
            printf("no energy measured this session%s\n",
                   !(out.telemetry_caps & IPW_CAP_ENERGY) ? " (no power counter readable here)"
                                                          : "");
        else if (out.telemetry_caps & IPW_CAP_MODELLED)
            printf("modelled energy this session: %.2f J (all domains %.2f J), not measured\n",
                   out.energy_joules, out.total_joules);
        else
            printf("energy this session: %.2f J (all domains %.2f J)\n", out.energy_joules,
                   out.total_joules);
        if (ipw_cli_stop_requested()) {
            fprintf(stderr, "ipw profile: interrupted; continue with the same command plus "
                            "--resume\n");
            exit_code = 130;
        }
    }
    if (rc == IPW_OK && !no_eval && !ipw_cli_stop_requested() && out.run_dir[0])
        exit_code = analyze_after_profile(out.run_dir, &cfg);
    json_decref(cp);
    json_decref(dp);
    return exit_code;
}
