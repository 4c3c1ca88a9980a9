/* The figures of an agent run (`ipw analyze` on a run of `ipw run`, docs/formats/analysis.md):
 * resolved rate, energy per task and per resolved task, intelligence per joule at task level,
 * joules per turn, the tool-time share, and the per-turn curve (energy per turn index, context
 * growth against prefill energy), read from traces.jsonl. */
#ifndef IPW_AGENT_ANALYSIS_H
#define IPW_AGENT_ANALYSIS_H

#include <stdbool.h>
#include <stddef.h>

#include "ipw/err.h"

#define IPW_AGENT_CURVE_MAX 256 /* turn indexes kept in the per-turn curve */

struct ipw_agent_turn_point {
    size_t tasks;          /* tasks that reached this turn */
    double energy_j;       /* mean energy of the turn (LLM call + time after it) */
    double llm_j, prefill_j, between_j;
    double input_tokens;   /* mean context the call read */
};

struct ipw_agent_analysis {
    size_t tasks, judged, resolved, failed, turns; /* judged: tasks with a verdict (a replayed
                                                       session has none) */
    size_t measured;                  /* tasks with an energy */
    double resolved_rate;             /* resolved / judged (NAN when none was judged) */
    double energy_j, total_j;         /* sums over measured tasks */
    double energy_per_task_j;         /* mean over measured tasks */
    double energy_per_resolved_task_j; /* energy_j / resolved (NAN when none resolved) */
    double ipj_task;                  /* resolved_rate / energy_per_task_j */
    double joules_per_turn;
    double turns_per_task;
    double tool_time_share;           /* tool seconds / wall seconds, over the run */
    double between_energy_share;      /* between-calls energy / energy */
    double prefill_share;             /* prefill / (prefill + decode) of the LLM calls */
    bool modelled;
    size_t n_curve;
    struct ipw_agent_turn_point curve[IPW_AGENT_CURVE_MAX];
};

/* Whether run_dir holds an agent run (a traces.jsonl). */
bool ipw_agent_analysis_applies(const char *run_dir);
/* Reads run_dir/traces.jsonl and writes run_dir/analysis/agent.json and the per-turn plots
 * (plots/agent_turns.png|svg). */
ipw_err ipw_agent_analyze(const char *run_dir, struct ipw_agent_analysis *out, ipw_errbuf *eb);

#endif
