/* `ipw run`: an agent works through a task set in a sandbox while energy is measured per turn
 * (docs/commands/run.md). Parses the flags, runs, prints where the traces are. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "measure_opts.h"
#include "ipw/agent.h"
#include "ipw/client.h"
#include "ipw/clock.h"
#include "ipw/collector.h"
#include "ipw/log.h"
#include "ipw/options.h"

int cmd_run(int argc, char **argv)
{
    struct ipw_agent_run_config cfg;
    ipw_agent_run_config_init(&cfg);
    struct ipw_cli_measure m;
    ipw_cli_measure_init(&m);
    const char *sandbox = "bwrap", *script = "solve", *log_level = NULL;
    long max_queries = 0, seed = -1, concurrency = 1, max_turns = 30;
    long mem_mb = cfg.limits.mem_mb, cpu_s = cfg.limits.cpu_s, nproc = cfg.limits.nproc;
    int64_t task_timeout = cfg.task_timeout_ns, cmd_timeout = cfg.limits.wall_ns;
    bool resume = false, overwrite = false, unsandboxed = false;
    static const char *const agents[] = {"react", "terminus", NULL};
    static const char *const datasets[] = {IPW_AGENT_BUILTIN, "ipw", "jsonl", NULL};
    static const char *const sandboxes[] = {"bwrap", "podman", "none", NULL};
    static const char *const scripts[] = {"solve", "fail", "loop", NULL};
    struct ipw_option opts[] = {
        {"agent", IPW_OPT_CHOICE, &cfg.agent, "NAME", "react (tools: shell, files, calculator; default) or terminus (a tmux terminal)", 0,
         0, agents},
        IPW_CLI_OPT_SERVER(m),
        {"dataset", IPW_OPT_CHOICE, &cfg.dataset_id, "ID",
         "task set: terminal (built in, default), ipw (its mcq/exact items as questions), jsonl",
         0, 0, datasets},
        {"dataset-path", IPW_OPT_STRING, &cfg.dataset_path, "PATH",
         "a task file for --dataset jsonl (docs/formats/agent-tasks.md)"},
        {"max-queries", IPW_OPT_INT, &max_queries, "N", "run at most N tasks (default all)", 1,
         1e9},
        {"seed", IPW_OPT_INT, &seed, "N", "with --max-queries, a reproducible random sample", 0,
         4e18},
        {"concurrency", IPW_OPT_INT, &concurrency, "N", "tasks in flight at once (default 1)", 1,
         256},
        {"max-turns", IPW_OPT_INT, &max_turns, "N", "LLM calls per task at most (default 30)", 1,
         1000},
        {"task-timeout", IPW_OPT_DURATION, &task_timeout, "DURATION",
         "wall-clock limit of one task (default 600s)"},
        {"command-timeout", IPW_OPT_DURATION, &cmd_timeout, "DURATION",
         "wall-clock limit of one command in the sandbox (default 60s)"},
        {"sandbox", IPW_OPT_CHOICE, &sandbox, "KIND",
         "bwrap (default), podman, or none (needs --allow-unsandboxed)", 0, 0, sandboxes},
        {"allow-unsandboxed", IPW_OPT_FLAG, &unsandboxed, NULL,
         "permit --sandbox none: the model's commands then run on this machine as you"},
        {"memory-mb", IPW_OPT_INT, &mem_mb, "MB", "address-space limit of a command (default 2048)",
         16, 1 << 20},
        {"cpu-seconds", IPW_OPT_INT, &cpu_s, "S", "CPU-time limit of a command (default 60)", 1,
         86400},
        {"max-procs", IPW_OPT_INT, &nproc, "N", "processes a command may add (default 128)", 1,
         100000},
        {"sim-script", IPW_OPT_CHOICE, &script, "NAME",
         "with --client sim: the scripted agent solves (default), fails or loops", 0, 0,
         scripts},
        {"output-dir", IPW_OPT_STRING, &cfg.output_dir, "DIR", "where runs go (default ./runs/)"},
        {"resume", IPW_OPT_FLAG, &resume, NULL, "continue an interrupted run in its directory"},
        {"overwrite", IPW_OPT_FLAG, &overwrite, NULL, "replace an existing run directory"},
        IPW_CLI_OPT_TELEMETRY(m),
        IPW_OPT_LOG_LEVEL(log_level, "info"),
        IPW_OPT_END};
    char usage[200];
    snprintf(usage, sizeof usage, "ipw run --agent react|terminus --client %s --model NAME "
             "[options]", ipw_client_choices_usage());
    struct ipw_command_help help = {
        usage,
        "Runs an agent through a task set, each task in a fresh sandbox, measuring the energy "
        "of every LLM call (prefill and decode) and of the tool time between calls. Writes "
        "traces.jsonl (one task per line with its turns), records.jsonl, a HuggingFace Arrow "
        "dataset and summary.json; analyse with 'ipw analyze RUN_DIR'.",
        "examples:\n"
        "  ipw run --agent react --client sim --model llama-3.1-8b\n"
        "  ipw run --agent terminus --client sim --model llama-3.1-8b --max-queries 5\n"
        "  ipw run --agent react --client ollama --model qwen2.5:7b --max-queries 10\n"
        "  ipw run --agent react --client vllm --model M --dataset jsonl --dataset-path t.jsonl"};
    enum ipw_parse_result pr = ipw_parse_options(argc, argv, "ipw run", opts, &help, NULL, 0, NULL);
    if (pr != IPW_PARSE_OK)
        return pr == IPW_PARSE_HELP ? 0 : 2;
    ipw_log_apply_option(log_level, IPW_LOG_INFO);
    if (ipw_cli_measure_check("ipw run", &m))
        return 2;
    if (resume && overwrite) {
        fprintf(stderr, "ipw run: --resume and --overwrite exclude each other: give one\n");
        return 2;
    }
    ipw_sandbox_kind_parse(sandbox, &cfg.sandbox);
    if (cfg.sandbox == IPW_SANDBOX_NONE && !unsandboxed) {
        fprintf(stderr, "ipw run: --sandbox none runs the model's commands on this machine as "
                        "you; add --allow-unsandboxed if that is what you want\n");
        return 2;
    }
    if (cfg.sandbox == IPW_SANDBOX_NONE)
        ipw_warn("no sandbox: the model's commands run unconfined in a scratch directory, "
                 "with only resource limits");
    if (strcmp(m.client, "sim") != 0 && strcmp(script, "solve") != 0) {
        fprintf(stderr, "ipw run: --sim-script is for --client sim\n");
        return 2;
    }
    if (ipw_cli_measure_params("ipw run", &m))
        return 2;
    ipw_errbuf eb = {0};
    json_t *cp = m.client_params;
    ipw_agent_script_parse(script, &cfg.script);
    cfg.client_id = m.client;
    cfg.model = m.model;
    cfg.client_base_url = m.base_url;
    cfg.client_params = cp;
    cfg.max_tasks = max_queries;
    cfg.seed = seed >= 0 ? (uint64_t)seed : 0;
    cfg.seed_given = seed >= 0;
    cfg.concurrency = (int)concurrency;
    cfg.max_turns = (int)max_turns;
    cfg.task_timeout_ns = task_timeout;
    cfg.limits.wall_ns = cmd_timeout;
    cfg.limits.mem_mb = mem_mb;
    cfg.limits.cpu_s = cpu_s;
    cfg.limits.nproc = nproc;
    cfg.resume = resume;
    cfg.overwrite = overwrite;
    cfg.collector = m.collector;
    cfg.monitors = (const char *const *)m.monitors.v;
    cfg.n_monitors = m.monitors.n;
    cfg.interval_ns = m.interval_ms * IPW_NS_PER_MS;
    cfg.connect_timeout_ns = m.connect_timeout;
    cfg.idle_timeout_ns = m.idle_timeout;
    cfg.stop_requested = ipw_cli_stop_requested;
    ipw_cli_install_stop_handlers();

    struct ipw_agent_run_outcome out;
    ipw_err rc = ipw_agent_run(&cfg, &out, &eb);
    int code = 0;
    if (out.run_dir[0])
        printf("run directory: %s\n", out.run_dir);
    if (rc != IPW_OK) {
        fprintf(stderr, "ipw run: %s\n", eb.msg);
        code = 1;
    } else {
        printf("tasks: %zu of %zu done; this session %zu resolved, %zu failed; %s energy %.3f J%s\n",
               out.tasks_done, out.tasks_total, out.resolved, out.failed,
               out.telemetry_caps & IPW_CAP_MODELLED ? "modelled" : "measured",
               out.energy_joules, out.telemetry_caps & IPW_CAP_MODELLED ? " (not measured)" : "");
        if (ipw_cli_stop_requested()) {
            fprintf(stderr, "ipw run: interrupted; continue with the same command plus --resume\n");
            code = 130;
        }
    }
    json_decref(cp);
    return code;
}
