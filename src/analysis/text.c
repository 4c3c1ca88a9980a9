/* Small text helpers shared by the analysis modules. */
#include "analysis/text.h"

#include <string.h>

const char *ipw_text_after_think(const char *s)
{
    const char *last = NULL;
    for (const char *p = strstr(s, "</think>"); p; p = strstr(p + 1, "</think>"))
        last = p;
    return last ? last + strlen("</think>") : s;
}
