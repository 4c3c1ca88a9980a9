/* The scripted agent policy: what the sim agent and the test server's agent do next, given a
 * task and how many tool results the conversation holds. Deterministic, so tests can predict
 * every turn. */
#include <stdlib.h>
#include <string.h>

#include "ipw/agent.h"

bool ipw_agent_script_parse(const char *name, enum ipw_agent_script *out)
{
    static const char *const names[] = {"solve", "fail", "loop"};
    for (int i = 0; i < 3; i++)
        if (name && strcmp(name, names[i]) == 0) {
            *out = (enum ipw_agent_script)i;
            return true;
        }
    return false;
}

static ipw_err call(const char *tool, const char *cmd, json_t **args, ipw_errbuf *eb)
{
    /* the terminus agent types the command and Enter; the react shell takes it whole */
    *args = strcmp(tool, "send_keys") == 0
                ? json_pack("{s:s+, s:f}", "keys", cmd, "\n", "wait_s", 10.0)
                : json_pack("{s:s}", "command", cmd);
    return *args ? IPW_OK : ipw_fail(eb, IPW_E_NOMEM, "out of memory scripting a tool call");
}

static ipw_err answer(const char *text, char **final, ipw_errbuf *eb)
{
    *final = strdup(text);
    return *final ? IPW_OK : ipw_fail(eb, IPW_E_NOMEM, "out of memory scripting an answer");
}

ipw_err ipw_agent_script_next(const struct ipw_agent_task *t, enum ipw_agent_script mode,
                              size_t done_calls, const char *tool_name, json_t **args,
                              char **final, ipw_errbuf *eb)
{
    *args = NULL;
    *final = NULL;
    switch (mode) {
    case IPW_SCRIPT_LOOP:
        return call(tool_name, "echo still working", args, eb);
    case IPW_SCRIPT_FAIL:
        if (done_calls == 0)
            return call(tool_name, "ls", args, eb);
        return answer("I could not complete this task.", final, eb);
    case IPW_SCRIPT_SOLVE:
    default:
        if (done_calls < t->n_solution)
            return call(tool_name, t->solution[done_calls], args, eb);
        if (t->kind == IPW_TASK_QA)
            return answer(t->answer, final, eb);
        return answer("Done: the task is complete.", final, eb);
    }
}
