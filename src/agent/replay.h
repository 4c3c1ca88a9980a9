/* Replay of a recorded agentic session, turn by turn, with the recorded tool time between
 * calls (replay.c). */
#ifndef IPW_AGENT_REPLAY_H
#define IPW_AGENT_REPLAY_H

#include "loop.h"

#define IPW_REPLAY_MAX_CONTEXT_TOKENS 2000000

ipw_err ipw_agent_replay_run(const struct ipw_agent_loop_config *cfg,
                             const struct ipw_agent_task *task, struct ipw_agent_meter *meter,
                             json_t **trace, ipw_errbuf *eb);

#endif
