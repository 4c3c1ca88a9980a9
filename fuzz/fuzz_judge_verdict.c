/* Fuzzes the judge's reply parsing: the verdict in free text and in a chat-completions body. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ipw/judge.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    int v = ipw_judge_parse_verdict(s);
    if (v < -1 || v > 1)
        abort();
    v = ipw_judge_parse_completion(s, size);
    if (v < -1 || v > 1)
        abort();
    char url[256];
    ipw_judge_endpoint(s, url, sizeof url, NULL);
    free(s);
    return 0;
}
