/* Recorded agentic sessions for replay (`ipw profile --dataset agentic`): each line a session,
 * as the simulator's agentic trace form (sub_requests with token counts and tool durations) or
 * as a full message history, turned into a replay task of recorded turns. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ipw/agent.h"
#include "ipw/buf.h"
#include "taskset.h"

#define MAX_TURNS 10000
#define MAX_TOKENS 10000000L
#define MAX_TOOL_NS (3600LL * 1000000000LL)

static long est(size_t bytes) { return (long)((bytes + 3) / 4); }

static ipw_err count(const json_t *o, const char *k, long long max, long long *out,
                     const char *where, size_t turn, ipw_errbuf *eb)
{
    const json_t *v = json_object_get(o, k);
    if (!v && strcmp(k, "tool_duration_ns") == 0) {
        *out = 0;
        return IPW_OK;
    }
    if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > max)
        return ipw_fail(eb, IPW_E_INVALID, "%s: sub_requests[%zu].%s must be an integer 0..%lld",
                        where, turn, k, max);
    *out = json_integer_value(v);
    return IPW_OK;
}

static ipw_err from_sub_requests(const json_t *subs, const char *where,
                                 struct ipw_agent_task *t, ipw_errbuf *eb)
{
    size_t n = json_array_size(subs);
    if (n == 0 || n > MAX_TURNS)
        return ipw_fail(eb, IPW_E_INVALID, "%s: sub_requests must hold 1 to %d turns", where,
                        MAX_TURNS);
    t->replay = calloc(n, sizeof *t->replay);
    if (!t->replay)
        return ipw_fail(eb, IPW_E_NOMEM, "out of memory reading %s", where);
    for (size_t i = 0; i < n; i++) {
        const json_t *r = json_array_get(subs, i);
        long long in, out, tool;
        ipw_err e = count(r, "input_toks", MAX_TOKENS, &in, where, i, eb);
        if (e == IPW_OK)
            e = count(r, "output_toks", MAX_TOKENS, &out, where, i, eb);
        if (e == IPW_OK)
            e = count(r, "tool_duration_ns", MAX_TOOL_NS, &tool, where, i, eb);
        if (e == IPW_OK && out == 0)
            e = ipw_fail(eb, IPW_E_INVALID, "%s: sub_requests[%zu].output_toks must be >= 1",
                         where, i);
        if (e != IPW_OK)
            return e;
        t->replay[i] = (struct ipw_replay_turn){(long)in, (long)out, (int64_t)tool};
    }
    t->n_replay = n;
    return IPW_OK;
}

/* A full history: one turn per assistant message; its context is everything before it. */
static ipw_err from_messages(const json_t *msgs, const char *where, struct ipw_agent_task *t,
                             ipw_errbuf *eb)
{
    size_t n = json_array_size(msgs), turns = 0, ctx = 0, i;
    const json_t *m;
    t->replay = calloc(n ? n : 1, sizeof *t->replay);
    if (!t->replay)
        return ipw_fail(eb, IPW_E_NOMEM, "out of memory reading %s", where);
    json_array_foreach(msgs, i, m)
    {
        const char *role = json_string_value(json_object_get(m, "role"));
        char *calls = json_dumps(json_object_get(m, "tool_calls"), JSON_COMPACT | JSON_ENCODE_ANY);
        size_t bytes = json_string_length(json_object_get(m, "content")) +
                       (calls ? strlen(calls) : 0);
        free(calls);
        if (!role)
            return ipw_fail(eb, IPW_E_INVALID, "%s: messages[%zu] has no role", where, i);
        if (strcmp(role, "assistant") == 0) {
            struct ipw_replay_turn *r = &t->replay[turns++];
            r->input_toks = est(ctx);
            r->output_toks = est(bytes) > 0 ? est(bytes) : 1;
        } else if (strcmp(role, "tool") == 0 && turns) {
            const json_t *d = json_object_get(m, "tool_duration_ns");
            if (json_is_integer(d) && json_integer_value(d) >= 0)
                t->replay[turns - 1].tool_ns += json_integer_value(d);
        }
        ctx += bytes;
    }
    if (turns == 0)
        return ipw_fail(eb, IPW_E_INVALID, "%s: the history has no assistant message to replay",
                        where);
    t->n_replay = turns;
    return IPW_OK;
}

static ipw_err session(const json_t *o, const char *where, size_t index, struct ipw_agent_task *t,
                       ipw_errbuf *eb)
{
    memset(t, 0, sizeof *t);
    if (!json_is_object(o))
        return ipw_fail(eb, IPW_E_INVALID, "%s: a session must be a JSON object", where);
    const json_t *sid = json_object_get(o, "session_id");
    if (json_is_string(sid) && json_string_length(sid) > 0 && json_string_length(sid) < 64)
        snprintf(t->id, sizeof t->id, "%s", json_string_value(sid));
    else if (json_is_integer(sid))
        snprintf(t->id, sizeof t->id, "%lld", (long long)json_integer_value(sid));
    else
        snprintf(t->id, sizeof t->id, "session-%zu", index);
    snprintf(t->category, sizeof t->category, "replay");
    t->kind = IPW_TASK_REPLAY;
    const json_t *subs = json_object_get(o, "sub_requests"), *msgs = json_object_get(o, "messages");
    ipw_err e = json_is_array(subs)   ? from_sub_requests(subs, where, t, eb)
                : json_is_array(msgs) ? from_messages(msgs, where, t, eb)
                                      : ipw_fail(eb, IPW_E_INVALID,
                                                 "%s: a session needs sub_requests (a list) or "
                                                 "messages (a list)",
                                                 where);
    if (e == IPW_OK) {
        char desc[160];
        snprintf(desc, sizeof desc, "replay of session %s (%zu turns)", t->id, t->n_replay);
        t->instruction = strdup(desc);
        t->setup = strdup("");
        t->test = strdup("");
        t->answer = strdup("");
        if (!t->instruction || !t->setup || !t->test || !t->answer)
            e = ipw_fail(eb, IPW_E_NOMEM, "out of memory reading %s", where);
    }
    if (e != IPW_OK)
        ipw_agent_task_clear(t);
    return e;
}

ipw_err ipw_agent_sessions_parse(const char *text, size_t len, const char *source,
                                 struct ipw_agent_taskset *ts, ipw_errbuf *eb)
{
    return ipw_agent_jsonl_read(text, len, source, false, "session_id", session, ts, eb);
}
