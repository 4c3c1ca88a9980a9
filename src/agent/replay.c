/* Replaying a recorded session (`ipw profile --dataset agentic`): each recorded turn is sent as
 * one request whose context has the recorded input length (the conversation grows turn by turn,
 * so a server's prefix cache sees what it would have seen) and whose output is limited to the
 * recorded length; the recorded tool time is waited between turns. Metered like a live agent. */
#include "replay.h"

#include <stdio.h>
#include <string.h>

#include "ipw/buf.h"
#include "ipw/clock.h"
#include "turns.h"

/* Short common words: about one token each with their leading space in BPE vocabularies. */
static const char *const filler[] = {" the", " of", " and", " to", " in", " is", " on", " for",
                                     " it", " as", " at", " by", " we", " be", " or", " an"};

/* Grows the context to `tokens` words (it never shrinks: a later turn extends the earlier). */
static ipw_err grow_context(struct ipw_buf *ctx, long *words, long tokens)
{
    for (; *words < tokens; (*words)++)
        ipw_buf_puts(ctx, filler[*words % 16]);
    return ipw_buf_status(ctx);
}

ipw_err ipw_agent_replay_run(const struct ipw_agent_loop_config *cfg,
                             const struct ipw_agent_task *task, struct ipw_agent_meter *meter,
                             json_t **trace, ipw_errbuf *eb)
{
    *trace = NULL;
    int64_t real_minus_mono = ipw_real_ns() - ipw_mono_ns();
    struct ipw_buf ctx;
    ipw_buf_init(&ctx, (size_t)IPW_REPLAY_MAX_CONTEXT_TOKENS * 4);
    long words = 0;
    json_t *t = json_pack("{s:s, s:s, s:s}", "task_id", task->id, "category", task->category,
                          "kind", "replay");
    json_t *turns = json_array(), *last_turn = NULL;
    struct ipw_agent_totals tt;
    ipw_agent_totals_init(&tt);
    const char *stop = "replayed";
    char error[IPW_ERRMSG_MAX] = "";
    int64_t t0 = ipw_mono_ns();
    int64_t deadline = t0 + (task->timeout_ns > 0 ? task->timeout_ns : cfg->task_timeout_ns);
    for (size_t i = 0; i < task->n_replay; i++) {
        const struct ipw_replay_turn *rt = &task->replay[i];
        if (ipw_mono_ns() >= deadline) {
            stop = "timeout";
            break;
        }
        if (grow_context(&ctx, &words, rt->input_toks) != IPW_OK) {
            snprintf(error, sizeof error, "turn %zu: a context of %ld tokens is over the %d limit",
                     i, rt->input_toks, IPW_REPLAY_MAX_CONTEXT_TOKENS);
            stop = "error";
            break;
        }
        json_t *messages = json_pack("[{s:s, s:s}]", "role", "user", "content",
                                     ipw_buf_str(&ctx));
        struct ipw_chat_request req = {.model = cfg->model, .messages = messages,
                                       .max_tokens = rt->output_toks};
        struct ipw_chat_result res;
        json_t *turn =
            ipw_agent_metered_call(cfg, meter, &req, &res, (int)i, turns, last_turn, &tt);
        json_decref(messages);
        json_object_set_new(turn, "recorded",
                            json_pack("{s:I, s:I, s:I}", "input_toks", (json_int_t)rt->input_toks,
                                      "output_toks", (json_int_t)rt->output_toks,
                                      "tool_duration_ns", (json_int_t)rt->tool_ns));
        last_turn = turn;
        if (res.error != IPW_OK) {
            stop = "llm_error";
            snprintf(error, sizeof error, "%s", res.error_msg);
            ipw_chat_result_free(&res);
            break;
        }
        ipw_chat_result_free(&res);
        /* the recorded tool time, waited (never past the session's timeout) */
        int64_t w0 = ipw_mono_ns();
        int64_t until = w0 + rt->tool_ns < deadline ? w0 + rt->tool_ns : deadline;
        while (ipw_mono_ns() < until)
            ipw_sleep_ns(until - ipw_mono_ns());
        double waited = (double)(ipw_mono_ns() - w0) / 1e9;
        tt.tool_s += waited;
        json_object_set_new(turn, "tool_seconds", json_real(waited));
    }
    ipw_agent_close_gap(cfg, meter, last_turn, &tt);
    int64_t t1 = ipw_mono_ns();
    ipw_buf_free(&ctx);
    struct ipw_agent_trace_end end = {
        .stop = stop,
        .final_answer = json_null(),
        .resolved = json_null(), /* a replay is measured, not judged */
        .judge = json_pack("{s:s}", "method", "none"),
        .error = error,
        .t0 = t0,
        .t1 = t1,
        .real_minus_mono = real_minus_mono,
    };
    ipw_agent_trace_finish(t, turns, &tt, meter, cfg, &end);
    *trace = t;
    (void)eb;
    return IPW_OK;
}
