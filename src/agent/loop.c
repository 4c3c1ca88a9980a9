/* The agent loop (docs/agents.md, "The loop"): the model sees the task and the tools, calls
 * tools, reads their results and stops with a final answer, at the turn limit or at the task's
 * timeout. Every LLM call is metered start -> first token -> end; the time after it (the tools
 * running in the sandbox) is metered as its turn's between-calls segment. */
#include "loop.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ipw/clock.h"
#include "ipw/scoring.h"
#include "replay.h"
#include "turns.h"

#define JUDGE_OUTPUT_KEEP 2048
#define TOOL_HEAD_KEEP 400 /* bytes of each tool result kept in the trace */
#define JUDGE_TIMEOUT_NS (120 * IPW_NS_PER_SEC)

static const char *const system_terminal =
    "You are an agent that completes tasks in a Linux sandbox without network access. Your "
    "working directory is /work. Use the tools to inspect and change files and to run commands. "
    "When the task is complete, reply with a short final message and no tool call.";
static const char *const system_terminus =
    "You are an agent that completes tasks at a Linux terminal without network access: a tmux "
    "session running /bin/sh in your working directory. Type commands with send_keys (end them "
    "with a newline) and look at the screen with read_screen. When the task is complete, reply "
    "with a short final message and no tool call.";
static const char *const system_qa =
    "You are an agent that answers questions. You may use the tools (a shell in a sandbox, "
    "files, a calculator) when they help. Give your final answer in your last message, with no "
    "tool call.";


static long estimate_tokens(size_t bytes) { return (long)((bytes + 3) / 4); }

/* The model's reply as the history's assistant message (tool-call arguments as JSON text). */
static json_t *assistant_message(const char *content, const json_t *calls)
{
    json_t *m = json_pack("{s:s, s:s}", "role", "assistant", "content", content ? content : "");
    if (json_array_size(calls)) {
        json_t *tc = json_array();
        size_t i;
        const json_t *c;
        json_array_foreach(calls, i, c)
        {
            char *args = json_dumps(json_object_get(c, "arguments"), JSON_COMPACT);
            json_array_append_new(
                tc, json_pack("{s:s, s:s, s:{s:s, s:s}}", "id",
                              json_string_value(json_object_get(c, "id")), "type", "function",
                              "function", "name", json_string_value(json_object_get(c, "name")),
                              "arguments", args ? args : "{}"));
            free(args);
        }
        json_object_set_new(m, "tool_calls", tc);
    }
    return m;
}

/* The sim agent: the script's action replaces the sim client's placeholder text. */
static ipw_err scripted_reply(const struct ipw_agent_loop_config *cfg,
                              const struct ipw_agent_task *task, size_t done_calls, int turn,
                              struct ipw_chat_result *res, ipw_errbuf *eb)
{
    json_t *args = NULL;
    char *final = NULL;
    ipw_err e = ipw_agent_script_next(task, cfg->script, done_calls,
                                      ipw_agent_command_tool(cfg->kind), &args, &final, eb);
    if (e != IPW_OK)
        return e;
    free(res->content);
    res->content = final ? final : strdup("");
    json_decref(res->tool_calls);
    res->tool_calls = NULL;
    if (args) {
        char id[32];
        snprintf(id, sizeof id, "call_%d", turn);
        res->tool_calls = json_pack("[{s:s, s:s, s:o}]", "id", id, "name",
                                    ipw_agent_command_tool(cfg->kind), "arguments", args);
    }
    return res->content ? IPW_OK : ipw_fail(eb, IPW_E_NOMEM, "out of memory");
}

/* The task's own verdict: its test script in the work dir, or the final answer scored. */
static json_t *judge(const struct ipw_agent_task *task, const struct ipw_sandbox *sb,
                     const char *final, bool *resolved)
{
    *resolved = false;
    if (task->kind == IPW_TASK_QA) {
        enum ipw_verdict v = strcmp(task->item_kind, "mcq") == 0
                                 ? ipw_score_mcq(final ? final : "", task->answer,
                                                 task->instruction, NULL, NULL)
                                 : ipw_score_exact(final ? final : "", task->answer, NULL, NULL,
                                                   0);
        *resolved = v == IPW_VERDICT_CORRECT;
        return json_pack("{s:s, s:s}", "method", "answer", "verdict", ipw_verdict_name(v));
    }
    struct ipw_exec_result r;
    ipw_errbuf eb = {0};
    if (ipw_sandbox_exec(sb, task->test, JUDGE_TIMEOUT_NS, &r, &eb) != IPW_OK)
        return json_pack("{s:s, s:s}", "method", "test", "error", eb.msg);
    *resolved = r.exit_code == 0 && !r.limit[0];
    size_t keep = r.output_len < JUDGE_OUTPUT_KEEP ? r.output_len : JUDGE_OUTPUT_KEEP;
    json_t *out = json_stringn(r.output, keep);
    json_t *j = json_pack("{s:s, s:i, s:o, s:o}", "method", "test", "exit_code", r.exit_code,
                          "limit", r.limit[0] ? json_string(r.limit) : json_null(), "output",
                          out ? out : json_string("(output is not UTF-8)"));
    ipw_exec_result_free(&r);
    return j;
}

/* The tool calls of one reply, run in order; their results join the history. */
static json_t *run_tools(const struct ipw_agent_env *env, const json_t *calls, json_t *messages,
                         struct ipw_agent_totals *tt, long *result_tokens, double *tool_s)
{
    json_t *called = json_array();
    size_t i;
    const json_t *c;
    json_array_foreach(calls, i, c)
    {
        const char *name = json_string_value(json_object_get(c, "name"));
        const char *id = json_string_value(json_object_get(c, "id"));
        struct ipw_tool_outcome o;
        ipw_agent_tool_run(env, name ? name : "", json_object_get(c, "arguments"), &o);
        double secs = (double)(o.end_ns - o.start_ns) / 1e9;
        *tool_s += secs;
        size_t len = o.text ? strlen(o.text) : 0;
        *result_tokens += estimate_tokens(len);
        json_t *content = json_stringn(o.text ? o.text : "", len);
        if (!content) /* a command printed bytes that are not UTF-8 */
            content = json_string("[the output is not valid UTF-8 text]");
        json_array_append_new(messages,
                              json_pack("{s:s, s:s, s:s, s:o}", "role", "tool", "tool_call_id",
                                        id ? id : "", "name", name ? name : "", "content",
                                        content));
        /* the head of what the model read: why a command failed or was stopped */
        size_t head = len < TOOL_HEAD_KEEP ? len : TOOL_HEAD_KEEP;
        while (head < len && head > 0 && ((unsigned char)o.text[head] & 0xC0) == 0x80)
            head--; /* never cut a UTF-8 character */
        json_t *head_text = json_stringn(o.text ? o.text : "", head);
        json_array_append_new(
            called, json_pack("{s:s, s:o, s:i, s:o, s:f, s:I, s:b, s:o}", "name", name ? name : "",
                              "arguments", json_deep_copy(json_object_get(c, "arguments")),
                              "exit_code", o.exit_code, "limit",
                              o.limit[0] ? json_string(o.limit) : json_null(), "seconds", secs,
                              "output_bytes", (json_int_t)o.output_bytes, "bad_call", o.failed,
                              "result_head", head_text ? head_text : json_null()));
        ipw_tool_outcome_free(&o);
    }
    tt->tool_s += *tool_s;
    return called;
}

static size_t count_tool_results(const json_t *messages)
{
    size_t n = 0, i;
    const json_t *m;
    json_array_foreach(messages, i, m)
    {
        const char *role = json_string_value(json_object_get(m, "role"));
        n += role && strcmp(role, "tool") == 0;
    }
    return n;
}

ipw_err ipw_agent_loop_run(const struct ipw_agent_loop_config *cfg,
                           const struct ipw_agent_task *task, struct ipw_agent_meter *meter,
                           json_t **trace, ipw_errbuf *eb)
{
    *trace = NULL;
    if (task->kind == IPW_TASK_REPLAY) /* no tools run: no sandbox */
        return ipw_agent_replay_run(cfg, task, meter, trace, eb);
    struct ipw_sandbox sb;
    ipw_err e = ipw_sandbox_create(&sb, cfg->sandbox, cfg->limits, eb);
    if (e != IPW_OK)
        return e;
    int64_t real_minus_mono = ipw_real_ns() - ipw_mono_ns();
    json_t *t = json_pack("{s:s, s:s, s:s}", "task_id", task->id, "category", task->category,
                          "kind", task->kind == IPW_TASK_QA ? "qa" : "terminal");
    json_t *turns = json_array();
    json_t *messages = json_array();
    json_t *tools = ipw_agent_tools_schema(cfg->kind);
    struct ipw_agent_totals tt;
    ipw_agent_totals_init(&tt);
    const char *stop = "max_turns";
    char *final = NULL;
    char error[IPW_ERRMSG_MAX] = "";

    /* setup runs before the measured window: it is the task's, not the agent's */
    if (task->setup[0]) {
        struct ipw_exec_result r;
        ipw_errbuf se = {0};
        if (ipw_sandbox_exec(&sb, task->setup, 0, &r, &se) != IPW_OK) {
            snprintf(error, sizeof error, "setup could not run: %s", se.msg);
        } else {
            if (r.exit_code != 0 || r.limit[0])
                snprintf(error, sizeof error, "setup failed (exit %d%s%s): %.200s", r.exit_code,
                         r.limit[0] ? ", limit " : "", r.limit, r.output);
            ipw_exec_result_free(&r);
        }
    }
    json_array_append_new(messages,
                          json_pack("{s:s, s:s}", "role", "system", "content",
                                    task->kind == IPW_TASK_QA         ? system_qa
                                    : cfg->kind == IPW_AGENT_TERMINUS ? system_terminus
                                                                      : system_terminal));
    json_array_append_new(messages, json_pack("{s:s, s:s}", "role", "user", "content",
                                              task->instruction));
    struct ipw_agent_terminal *term = NULL;
    if (!error[0] && cfg->kind == IPW_AGENT_TERMINUS) {
        ipw_errbuf te = {0};
        if (ipw_agent_terminal_open(&sb, &term, &te) != IPW_OK)
            snprintf(error, sizeof error, "%s", te.msg);
    }
    int64_t t0 = ipw_mono_ns();
    int64_t timeout = task->timeout_ns > 0 ? task->timeout_ns : cfg->task_timeout_ns;
    struct ipw_agent_env env = {cfg->kind, &sb, term, t0 + timeout};
    json_t *last_turn = NULL;
    for (int i = 0; !error[0] && i < cfg->max_turns; i++) {
        if (ipw_mono_ns() >= env.deadline_ns) {
            stop = "timeout";
            break;
        }
        struct ipw_chat_request req = {.model = cfg->model, .messages = messages, .tools = tools};
        struct ipw_chat_result res;
        json_t *turn =
            ipw_agent_metered_call(cfg, meter, &req, &res, i, turns, last_turn, &tt);
        last_turn = turn;
        if (res.error == IPW_OK && cfg->scripted) {
            ipw_errbuf se = {0};
            if (scripted_reply(cfg, task, count_tool_results(messages), i, &res, &se) != IPW_OK)
                snprintf(error, sizeof error, "%s", se.msg);
        }
        if (res.error != IPW_OK) {
            stop = "llm_error";
            snprintf(error, sizeof error, "%s", res.error_msg);
            ipw_chat_result_free(&res);
            break;
        }
        json_array_append_new(messages, assistant_message(res.content, res.tool_calls));
        if (!json_array_size(res.tool_calls)) {
            stop = "final_answer";
            final = strdup(res.content ? res.content : "");
            ipw_chat_result_free(&res);
            break;
        }
        long result_tokens = 0;
        double tool_s = 0;
        json_object_set_new(turn, "tools_called",
                            run_tools(&env, res.tool_calls, messages, &tt, &result_tokens,
                                      &tool_s));
        json_object_set_new(turn, "tool_result_tokens", json_integer(result_tokens));
        json_object_set_new(turn, "tool_seconds", json_real(tool_s));
        tt.tool_tokens += result_tokens;
        ipw_chat_result_free(&res);
    }
    if (error[0] && strcmp(stop, "llm_error") != 0)
        stop = "error";
    ipw_agent_close_gap(cfg, meter, last_turn, &tt);
    int64_t t1 = ipw_mono_ns();
    ipw_agent_terminal_close(term); /* nothing typed runs on while the test looks */

    bool resolved = false;
    json_t *verdict = error[0] && strcmp(stop, "llm_error") != 0
                          ? json_pack("{s:s}", "method", "none")
                          : judge(task, &sb, final, &resolved);
    ipw_sandbox_destroy(&sb);

    struct ipw_agent_trace_end end = {
        .stop = stop,
        .final_answer = final ? json_string(final) : json_null(),
        .resolved = json_boolean(resolved),
        .judge = verdict,
        .error = error,
        .t0 = t0,
        .t1 = t1,
        .real_minus_mono = real_minus_mono,
    };
    ipw_agent_trace_finish(t, turns, &tt, meter, cfg, &end);
    free(final);
    json_decref(messages);
    json_decref(tools);
    *trace = t;
    return IPW_OK;
}
