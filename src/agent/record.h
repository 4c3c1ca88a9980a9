/* A task's trace as a records.jsonl record (docs/formats/records.md), so that the run's Arrow
 * dataset, `ipw analyze` (resolved rate as accuracy, task-level intelligence per joule) and
 * `ipw report` read an agent run like a profiling run. Pure. */
#ifndef IPW_AGENT_RECORD_H
#define IPW_AGENT_RECORD_H

#include <jansson.h>

json_t *ipw_agent_record_from_trace(const json_t *trace, const char *model,
                                    const char *energy_source);

#endif
