/* Tool calls of one streamed answer, assembled from what the servers send: OpenAI streams each
 * call in fragments (an index, then the name, then the arguments JSON text piece by piece);
 * Ollama sends whole calls with the arguments already an object. Bounded in calls and bytes. */
#ifndef IPW_INFERENCE_TOOLCALLS_H
#define IPW_INFERENCE_TOOLCALLS_H

#include <jansson.h>
#include <stddef.h>

#include "ipw/buf.h"
#include "ipw/err.h"

#define IPW_TOOLCALLS_MAX 64
#define IPW_TOOLCALLS_MAX_BYTES (1u << 20) /* all names and arguments of one answer */

struct ipw_toolcall_acc {
    char id[128];
    struct ipw_buf name, args; /* text as assembled */
    json_t *args_obj;          /* Ollama: the arguments as sent (an object) */
};

struct ipw_toolcalls {
    struct ipw_toolcall_acc call[IPW_TOOLCALLS_MAX];
    size_t n;
    size_t bytes;
};

void ipw_toolcalls_init(struct ipw_toolcalls *t);
void ipw_toolcalls_free(struct ipw_toolcalls *t);
/* OpenAI delta.tool_calls: [{index, id, type, function:{name, arguments}}] pieces. */
ipw_err ipw_toolcalls_add_fragments(struct ipw_toolcalls *t, const json_t *frags, ipw_errbuf *eb);
/* Ollama message.tool_calls: [{function:{name, arguments}}] whole calls. */
ipw_err ipw_toolcalls_add_whole(struct ipw_toolcalls *t, const json_t *calls, ipw_errbuf *eb);
/* [{id, name, arguments}] (arguments decoded; {"_unparsed": text} when not a JSON object), or
 * NULL when no call arrived. */
json_t *ipw_toolcalls_take(struct ipw_toolcalls *t);

#endif
