/* Fuzzes the recorded-session parser (ipw profile --dataset agentic): any bytes give replay
 * tasks or one error naming a line, never a crash or a leak. */
#include <stdint.h>
#include <stdlib.h>

#include "ipw/agent.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ipw_agent_taskset ts = {0};
    ipw_errbuf eb = {0};
    ipw_agent_sessions_parse((const char *)data, size, "fuzz", &ts, &eb);
    ipw_agent_tasks_free(&ts);
    return 0;
}
