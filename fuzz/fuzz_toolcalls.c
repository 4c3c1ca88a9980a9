/* Fuzzes tool-call assembly: the bytes are a JSON array of OpenAI fragments or Ollama calls (the
 * first byte picks which); any input gives a list or a bounded error, never a crash. */
#include <stdint.h>
#include <stdlib.h>

#include "inference/toolcalls.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    json_t *j = json_loadb((const char *)data + 1, size - 1, 0, NULL);
    if (!json_is_array(j)) {
        json_decref(j);
        return 0;
    }
    struct ipw_toolcalls t;
    ipw_toolcalls_init(&t);
    ipw_errbuf eb = {0};
    for (int i = 0; i < 3; i++) /* the same pieces again: fragments accumulate */
        if ((data[0] & 1 ? ipw_toolcalls_add_whole(&t, j, &eb)
                         : ipw_toolcalls_add_fragments(&t, j, &eb)) != IPW_OK)
            break;
    json_decref(ipw_toolcalls_take(&t));
    ipw_toolcalls_free(&t);
    json_decref(j);
    return 0;
}
