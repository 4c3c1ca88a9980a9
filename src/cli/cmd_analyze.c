/* `ipw analyze RUN_DIR`: scores a run and writes accuracy.json, regression.json and
 * scores.jsonl under RUN_DIR/analysis/, then prints the headline figures. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "ipw/agent_analysis.h"
#include "ipw/analysis.h"
#include "ipw/clock.h"
#include "ipw/log.h"
#include "ipw/options.h"
#include "ipw/plots.h"

static void fig(const char *label, double v, const char *fmt, const char *unit)
{
    printf("  %-28s ", label);
    if (isfinite(v)) {
        printf(fmt, v);
        printf("%s\n", unit);
    } else {
        printf("n/a\n");
    }
}

/* At most this many warnings are printed; the files hold them all. */
#define SHOWN_WARNINGS 8

static void print_warnings(const char *dir, const struct ipw_analyze_result *r)
{
    if (!r->warnings)
        return;
    const char *p = r->warning_text;
    size_t shown = 0;
    while (*p && shown < SHOWN_WARNINGS) {
        const char *nl = strchr(p, '\n');
        if (!nl)
            break; /* cut short: the rest is in the files */
        printf("%s %.*s\n", shown ? "          " : "warnings  ", (int)(nl - p), p);
        shown++;
        p = nl + 1;
    }
    if (r->warnings > shown)
        printf("%s %llu more in %s/analysis/*.json (\"warnings\")\n",
               shown ? "          " : "warnings  ", (unsigned long long)(r->warnings - shown),
               dir);
}

void ipw_cli_print_analysis(const char *dir, const struct ipw_analyze_result *r)
{
    const struct ipw_accuracy_result *a = &r->accuracy;
    printf("run        %s\nmodel      %s\nqueries    %llu\n", dir, r->model,
           (unsigned long long)r->records);
    if (r->modelled_energy)
        printf("energy     modelled by the sim backend for %llu queries: not a measurement\n",
               (unsigned long long)r->modelled_energy);
    if (r->wrote_accuracy) {
        printf("scored     %llu correct, %llu incorrect, %llu unevaluated, %llu failed",
               (unsigned long long)a->correct, (unsigned long long)a->incorrect,
               (unsigned long long)a->unevaluated, (unsigned long long)a->failed);
        if (a->failed)
            printf(" (%llu failed queries, %llu failed judgements)",
                   (unsigned long long)a->failed_queries,
                   (unsigned long long)a->failed_evaluations);
        printf("\n");
        /* the sim's verdicts are modelled: every figure built on them says so */
        bool m = a->modelled_scored > 0;
        fig(m ? "modelled accuracy" : "accuracy", a->accuracy * 100, "%.2f", " %");
        fig(m ? "IPJ (modelled accuracy)" : "intelligence per joule", a->ipj, "%.6g", " /J");
        fig(m ? "IPW (modelled accuracy)" : "intelligence per watt", a->ipw, "%.6g", " /W");
        fig("energy per query", a->run_avg_energy_j, "%.4g", " J");
        fig("power per query", a->run_avg_power_w, "%.4g", " W");
        if (a->energy_samples && a->energy_samples != a->run_energy_samples)
            fig("energy per scored query", a->avg_energy_j, "%.4g", " J");
        fig("IPJ on all domains", a->ipj_total, "%.6g", " /J");
        fig("IPJ above idle", a->ipj_active, "%.6g", " /J");
        fig("prefill share of energy", a->prefill_share * 100, "%.1f", " %");
        fig("latency p50", a->latency_p50_s, "%.3f", " s");
        fig("latency p95", a->latency_p95_s, "%.3f", " s");
        if (a->imputed_energy)
            printf("  (energy imputed as power x latency for %llu queries)\n",
                   (unsigned long long)a->imputed_energy);
    }
    if (r->judge_used)
        printf("judge      %llu judged, %llu failed, %llu from cache, %llu requests (%llu "
               "retries)\n",
               (unsigned long long)r->judge.judged, (unsigned long long)r->judge.failed,
               (unsigned long long)r->judge_cache_hits, (unsigned long long)r->judge.requests,
               (unsigned long long)r->judge.retries);
    if (r->judge_used && r->judge.failed && r->judge.first_error[0])
        printf("           first judge error: %s\n", r->judge.first_error);
    printf("wrote      %s%s%s in %s/analysis/\n",
           r->wrote_accuracy ? "accuracy.json, scores.jsonl" : "",
           r->wrote_accuracy && r->wrote_regression ? ", " : "",
           r->wrote_regression ? "regression.json" : "", dir);
    print_warnings(dir, r);
}

static void figure(const char *name, double v, const char *fmt, const char *unit)
{
    printf("  %-28s ", name);
    if (isfinite(v)) {
        printf(fmt, v);
        printf("%s\n", unit);
    } else {
        printf("n/a\n");
    }
}

/* The task-level figures of an agent run (analysis/agent.json). */
static void print_agent(const struct ipw_agent_analysis *a)
{
    const char *m = a->modelled ? " (modelled)" : "";
    printf("agent run  %zu tasks (%zu judged), %zu resolved, %zu failed, %zu turns%s\n", a->tasks,
           a->judged, a->resolved, a->failed, a->turns,
           a->modelled ? "; energies modelled, not measured" : "");
    figure("resolved rate", a->resolved_rate * 100, "%.1f", " %");
    figure("energy per task", a->energy_per_task_j, "%.4g", " J");
    figure("energy per resolved task", a->energy_per_resolved_task_j, "%.4g", " J");
    printf("  %-28s ", "IPJ per task");
    if (isfinite(a->ipj_task))
        printf("%.6g /J%s\n", a->ipj_task, m);
    else
        printf("n/a\n");
    figure("energy per turn", a->joules_per_turn, "%.4g", " J");
    figure("turns per task", a->turns_per_task, "%.2f", "");
    figure("tool time share", a->tool_time_share * 100, "%.1f", " %");
    figure("between-calls energy share", a->between_energy_share * 100, "%.1f", " %");
    figure("prefill share (LLM calls)", a->prefill_share * 100, "%.1f", " %");
    printf("wrote      analysis/agent.json, plots/agent_turns.png|svg\n");
}

int cmd_analyze(int argc, char **argv)
{
    struct ipw_analyze_options ao;
    ipw_analyze_options_init(&ao);
    const char *analysis = "all", *log_level = NULL;
    long concurrency = 8, retries = 3, backoff_ms = 500;
    int64_t timeout_ns = 120 * IPW_NS_PER_SEC;
    bool quiet = false;
    static const char *const kinds[] = {"accuracy", "regression", "all", NULL};
    struct ipw_option opts[] = {
        {"analysis", IPW_OPT_CHOICE, &analysis, "WHICH", "accuracy, regression or all (default all)",
         0, 0, kinds},
        {"model", IPW_OPT_STRING, &ao.model, "NAME",
         "whose answers to score (default: summary.json's model)"},
        {"eval-base-url", IPW_OPT_STRING, &ao.judge.base_url, "URL",
         "OpenAI-compatible judge endpoint, e.g. https://api.openai.com/v1 (default: no judge; "
         "open answers stay unevaluated)"},
        {"eval-model", IPW_OPT_STRING, &ao.judge.model, "NAME",
         "judge model name (with --eval-base-url)"},
        {"judge-concurrency", IPW_OPT_INT, &concurrency, "N",
         "judge requests in flight (default 8)", 1, 256},
        {"judge-all", IPW_OPT_FLAG, &ao.judge_all, NULL,
         "also judge mcq and exact answers (the judge's verdict wins)"},
        {"rejudge", IPW_OPT_FLAG, &ao.rejudge, NULL,
         "ask the judge again instead of reusing the verdicts in analysis/judge_cache.jsonl "
         "(which are reused otherwise, with or without judge flags)"},
        {"judge-retries", IPW_OPT_INT, &retries, "N",
         "retries of a judge request after 429/5xx/timeouts/unreadable replies (default 3)", 0,
         10},
        {"judge-backoff-ms", IPW_OPT_INT, &backoff_ms, "MS",
         "delay before the first retry, doubled after each (default 500)", 1, 60000},
        {"judge-timeout", IPW_OPT_DURATION, &timeout_ns, "DURATION",
         "time limit of one judge request (default 120s)"},
        {"skip-malformed", IPW_OPT_FLAG, &ao.skip_malformed, NULL,
         "skip malformed record lines with a warning instead of stopping"},
        {"quiet", IPW_OPT_FLAG, &quiet, NULL, "print nothing on success"},
        IPW_OPT_LOG_LEVEL(log_level, "warn"),
        IPW_OPT_END};
    struct ipw_command_help help = {
        "ipw analyze RUN_DIR [--analysis accuracy|regression|all] [--eval-base-url URL "
        "--eval-model NAME] [options]",
        "Scores a run's answers (mcq letters and exact answers locally; open answers with an LLM "
        "judge when --eval-base-url is given, its key from IPW_EVAL_API_KEY or OPENAI_API_KEY), "
        "computes accuracy, intelligence per joule and per watt, and least-squares fits of "
        "latency, energy and power on tokens. Writes RUN_DIR/analysis/accuracy.json, "
        "regression.json and scores.jsonl; judge verdicts are cached in "
        "RUN_DIR/analysis/judge_cache.jsonl so a re-run asks only for what is missing.",
        "examples:\n  ipw analyze runs/profile_H10080GB_llama_3_1_8b_ipw\n"
        "  ipw analyze runs/profile_x --eval-base-url https://api.openai.com/v1 --eval-model "
        "gpt-4o-mini"};
    const char *pos[1];
    size_t npos = 0;
    enum ipw_parse_result pr =
        ipw_parse_options(argc, argv, "ipw analyze", opts, &help, pos, 1, &npos);
    if (pr != IPW_PARSE_OK)
        return pr == IPW_PARSE_HELP ? 0 : 2;
    ipw_log_apply_option(log_level, IPW_LOG_WARN);
    if (npos != 1) {
        fprintf(stderr, "ipw analyze: give one run directory (try --help)\n");
        return 2;
    }
    if (ao.judge.model && !ao.judge.base_url) {
        fprintf(stderr, "ipw analyze: --eval-model needs --eval-base-url (the judge endpoint)\n");
        return 2;
    }
    if (ao.judge.base_url && !ao.judge.model) {
        fprintf(stderr, "ipw analyze: --eval-base-url needs --eval-model (the judge model's "
                        "name)\n");
        return 2;
    }
    if (ao.rejudge && !ao.judge.base_url) {
        fprintf(stderr, "ipw analyze: --rejudge needs a judge: --eval-base-url and --eval-model\n");
        return 2;
    }
    if (timeout_ns < IPW_NS_PER_SEC) {
        fprintf(stderr, "ipw analyze: --judge-timeout must be at least 1s (got %.3gs)\n",
                (double)timeout_ns / 1e9);
        return 2;
    }
    ao.analysis = analysis;
    ao.judge.concurrency = (int)concurrency;
    ao.judge.max_attempts = (int)retries + 1;
    ao.judge.backoff_ms = backoff_ms;
    ao.judge.timeout_ms = (long)(timeout_ns / IPW_NS_PER_MS);
    ao.should_stop = ipw_cli_stop_requested;
    ipw_cli_install_stop_handlers();

    struct ipw_analyze_result res;
    ipw_errbuf eb = {0};
    if (ipw_analyze_run(pos[0], &ao, &res, &eb) != IPW_OK) {
        fprintf(stderr, "ipw analyze: %s\n", eb.msg);
        return 1;
    }
    if (!quiet)
        ipw_cli_print_analysis(pos[0], &res);
    if (ipw_agent_analysis_applies(pos[0])) {
        /* a run of `ipw run`: its task-level figures beside the query-level ones */
        struct ipw_agent_analysis *ag = malloc(sizeof *ag);
        if (!ag || ipw_agent_analyze(pos[0], ag, &eb) != IPW_OK) {
            fprintf(stderr, "ipw analyze: agent figures: %s\n", ag ? eb.msg : "out of memory");
            free(ag);
            ipw_plot_release_fonts();
            return 1;
        }
        if (!quiet)
            print_agent(ag);
        free(ag);
        ipw_plot_release_fonts(); /* the per-turn plot was drawn: a clean exit for leak checks */
    }
    if (res.judge_refused) {
        fprintf(stderr, "ipw analyze: the judge refused the requests: %s\n",
                res.judge.first_error);
        return 1;
    }
    return 0;
}
