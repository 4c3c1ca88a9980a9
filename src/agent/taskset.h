/* Private to the agent module: the one JSONL reader of task sets and recorded sessions. */
#ifndef IPW_AGENT_TASKSET_H
#define IPW_AGENT_TASKSET_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "ipw/agent.h"

/* Sets *t from one line's object; index is the entry's place in the set; where ("SOURCE line
 * N") names the line in messages. */
typedef ipw_err (*ipw_agent_fill_fn)(const json_t *obj, const char *where, size_t index,
                                     struct ipw_agent_task *t, ipw_errbuf *eb);

/* Appends one entry to ts for each non-blank line of text (with comments, lines starting with
 * '#' are skipped too): the line is parsed as JSON and given to fill. A line that is not JSON,
 * more than 100000 entries, or an id used twice ("task id" / "session_id" in id_name) is an
 * error naming the line. */
ipw_err ipw_agent_jsonl_read(const char *text, size_t len, const char *source, bool comments,
                             const char *id_name, ipw_agent_fill_fn fill,
                             struct ipw_agent_taskset *ts, ipw_errbuf *eb);

#endif
