/* One agent task from start to verdict: a fresh sandbox, the setup script, the tool-calling
 * loop (each LLM call and the tool time after it metered), the stop reason, and the task's own
 * judgement (its test script, or the answer scored). The result is the trace line's content. */
#ifndef IPW_AGENT_LOOP_H
#define IPW_AGENT_LOOP_H

#include <jansson.h>
#include <stdbool.h>

#include "ipw/agent.h"
#include "ipw/client.h"
#include "meter.h"
#include "tools.h"

struct ipw_agent_loop_config {
    enum ipw_agent_kind kind;
    struct ipw_client *client;
    const char *model;
    int max_turns;
    int64_t task_timeout_ns;
    enum ipw_sandbox_kind sandbox;
    const struct ipw_sandbox_limits *limits;
    bool scripted; /* the sim agent: the script decides, the client gives timing and energy */
    enum ipw_agent_script script;
    ipw_domain main_domain;
    const struct ipw_energy_sources *src; /* for the task window's direct energy; may be NULL */
    bool window_check; /* one task at a time: the window's energy is the task's alone */
};

/* Runs the task; *trace gets the trace object (docs/formats/traces.md) without record_index.
 * Fails only when the task could not run at all (the sandbox could not be created). */
ipw_err ipw_agent_loop_run(const struct ipw_agent_loop_config *cfg,
                           const struct ipw_agent_task *task, struct ipw_agent_meter *meter,
                           json_t **trace, ipw_errbuf *eb);

#endif
