/* Tool definitions and dispatch. Every file and shell operation runs through the sandbox, so
 * a path like ../../etc/passwd resolves inside it and a tool can never reach past the work dir
 * with more than the sandbox allows. */
#include "tools.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "calc.h"
#include "ipw/clock.h"

static json_t *fn(const char *name, const char *desc, json_t *props, const char *const *req)
{
    json_t *required = json_array();
    for (; req && *req; req++)
        json_array_append_new(required, json_string(*req));
    return json_pack("{s:s, s:{s:s, s:s, s:{s:s, s:o, s:o}}}", "type", "function", "function",
                     "name", name, "description", desc, "parameters", "type", "object",
                     "properties", props, "required", required);
}

static json_t *prop(const char *type, const char *desc)
{
    return json_pack("{s:s, s:s}", "type", type, "description", desc);
}

json_t *ipw_agent_tools_schema(enum ipw_agent_kind kind)
{
    json_t *tools = json_array();
    if (kind == IPW_AGENT_TERMINUS) {
        static const char *const keys_req[] = {"keys", NULL};
        json_array_append_new(
            tools, fn("send_keys",
                      "Type keys into the terminal (tmux running /bin/sh in the task's "
                      "directory, no network). End a command with \\n to run it. Waits up to "
                      "wait_s seconds for the command to finish, then returns the screen.",
                      json_pack("{s:o, s:o}", "keys",
                                prop("string", "the keystrokes; \\n is Enter"), "wait_s",
                                prop("number", "seconds to wait at most (default 1, up to 30)")),
                      keys_req));
        json_array_append_new(tools, fn("read_screen", "Return what the terminal shows now.",
                                        json_object(), NULL));
        return tools;
    }
    static const char *const cmd_req[] = {"command", NULL};
    static const char *const path_req[] = {"path", NULL};
    static const char *const write_req[] = {"path", "content", NULL};
    static const char *const expr_req[] = {"expression", NULL};
    json_array_append_new(
        tools, fn("shell",
                  "Run a command with /bin/sh in the task's working directory (no network). "
                  "Returns the exit status and the output.",
                  json_pack("{s:o}", "command", prop("string", "the shell command")), cmd_req));
    json_array_append_new(
        tools, fn("read_file", "Read a text file (relative paths are in the working directory).",
                  json_pack("{s:o}", "path", prop("string", "the file")), path_req));
    json_array_append_new(
        tools, fn("write_file", "Write text to a file, replacing it.",
                  json_pack("{s:o, s:o}", "path", prop("string", "the file"), "content",
                            prop("string", "the whole new content")),
                  write_req));
    json_array_append_new(
        tools, fn("calculator", "Evaluate an arithmetic expression (+ - * / % ^ and parentheses).",
                  json_pack("{s:o}", "expression", prop("string", "e.g. (3 + 4) * 2^10")),
                  expr_req));
    return tools;
}

const char *ipw_agent_command_tool(enum ipw_agent_kind kind)
{
    return kind == IPW_AGENT_TERMINUS ? "send_keys" : "shell";
}

void ipw_tool_outcome_free(struct ipw_tool_outcome *o)
{
    free(o->text);
    memset(o, 0, sizeof *o);
}

char *ipw_shell_quote(const char *s)
{
    size_t n = 2;
    for (const char *p = s; *p; p++)
        n += *p == '\'' ? 4 : 1;
    char *out = malloc(n + 1), *w = out;
    if (!out)
        return NULL;
    *w++ = '\'';
    for (const char *p = s; *p; p++) {
        if (*p == '\'') {
            memcpy(w, "'\\''", 4);
            w += 4;
        } else {
            *w++ = *p;
        }
    }
    *w++ = '\'';
    *w = '\0';
    return out;
}

char *ipw_agent_exec_text(const struct ipw_exec_result *r)
{
    char head[160], tail[200] = "";
    if (r->signal)
        snprintf(head, sizeof head, "[killed by signal %d]\n", r->signal);
    else
        snprintf(head, sizeof head, "[exit status %d]\n", r->exit_code);
    if (r->output_total > r->output_len)
        snprintf(tail, sizeof tail, "\n[output cut: %llu bytes in all, the first %zu shown]",
                 (unsigned long long)r->output_total, r->output_len);
    if (r->limit[0]) {
        size_t k = strlen(tail);
        snprintf(tail + k, sizeof tail - k, "\n[stopped by the sandbox: %s limit]", r->limit);
    }
    size_t n = strlen(head) + r->output_len + strlen(tail) + 1;
    char *out = malloc(n);
    if (out)
        snprintf(out, n, "%s%.*s%s", head, (int)r->output_len, r->output ? r->output : "", tail);
    return out;
}

static void result(struct ipw_tool_outcome *o, bool failed, const char *fmt, const char *arg)
{
    size_t n = strlen(fmt) + (arg ? strlen(arg) : 0) + 1;
    o->text = malloc(n);
    if (o->text)
        snprintf(o->text, n, fmt, arg ? arg : "");
    o->failed = failed;
}

static const char *arg_str(const json_t *args, const char *key)
{
    return json_string_value(json_object_get(args, key));
}

static void run_shell(const struct ipw_agent_env *env, const char *script,
                      struct ipw_tool_outcome *o)
{
    int64_t left = env->deadline_ns - ipw_mono_ns();
    if (left <= 0) {
        result(o, false, "[not run: the task's time is up]", NULL);
        return;
    }
    int64_t wall = env->sb->lim.wall_ns < left ? env->sb->lim.wall_ns : left;
    struct ipw_exec_result r;
    ipw_errbuf eb = {0};
    if (ipw_sandbox_exec(env->sb, script, wall, &r, &eb) != IPW_OK) {
        result(o, true, "[the sandbox could not run the command: %s]", eb.msg);
        return;
    }
    o->text = ipw_agent_exec_text(&r);
    o->exit_code = r.signal ? 128 + r.signal : r.exit_code;
    snprintf(o->limit, sizeof o->limit, "%s", r.limit);
    o->output_bytes = r.output_total;
    ipw_exec_result_free(&r);
}

static void file_op(const struct ipw_agent_env *env, const char *name, const json_t *args,
                    struct ipw_tool_outcome *o)
{
    const char *path = arg_str(args, "path");
    const char *content = arg_str(args, "content");
    if (!path || !*path) {
        result(o, true, "[%s needs a \"path\" string]", name);
        return;
    }
    bool write = strcmp(name, "write_file") == 0;
    if (write && !content) {
        result(o, true, "[write_file needs a \"content\" string]", NULL);
        return;
    }
    if (write && strlen(content) > IPW_TOOL_MAX_WRITE) {
        result(o, true, "[write_file: the content is longer than 64 KiB]", NULL);
        return;
    }
    char *qp = ipw_shell_quote(path), *qc = write ? ipw_shell_quote(content) : NULL;
    size_t n = (qp ? strlen(qp) : 0) + (qc ? strlen(qc) : 0) + 64;
    char *script = malloc(n);
    if (qp && (qc || !write) && script) {
        if (write)
            snprintf(script, n, "printf '%%s' %s > %s", qc, qp);
        else
            snprintf(script, n, "cat -- %s", qp);
        run_shell(env, script, o);
    } else {
        result(o, true, "[out of memory]", NULL);
    }
    free(qp);
    free(qc);
    free(script);
}

void ipw_agent_tool_run(const struct ipw_agent_env *env, const char *name, const json_t *args,
                        struct ipw_tool_outcome *o)
{
    memset(o, 0, sizeof *o);
    o->start_ns = ipw_mono_ns();
    const char *unparsed = arg_str(args, "_unparsed");
    if (unparsed) {
        result(o, true, "[the arguments are not a JSON object: %s]", unparsed);
    } else if (env->kind == IPW_AGENT_REACT && strcmp(name, "shell") == 0) {
        const char *cmd = arg_str(args, "command");
        if (cmd)
            run_shell(env, cmd, o);
        else
            result(o, true, "[shell needs a \"command\" string]", NULL);
    } else if (env->kind == IPW_AGENT_REACT &&
               (strcmp(name, "read_file") == 0 || strcmp(name, "write_file") == 0)) {
        file_op(env, name, args, o);
    } else if (env->kind == IPW_AGENT_REACT && strcmp(name, "calculator") == 0) {
        const char *e = arg_str(args, "expression");
        double v;
        ipw_errbuf eb = {0};
        if (!e) {
            result(o, true, "[calculator needs an \"expression\" string]", NULL);
        } else if (ipw_calc_eval(e, &v, &eb) != IPW_OK) {
            result(o, false, "[%s]", eb.msg);
        } else {
            char num[64];
            snprintf(num, sizeof num, "%.15g", v);
            result(o, false, "%s", num);
        }
    } else if (env->kind == IPW_AGENT_TERMINUS && strcmp(name, "send_keys") == 0) {
        const char *keys = arg_str(args, "keys");
        const json_t *w = json_object_get(args, "wait_s");
        if (keys)
            ipw_agent_terminal_send(env->term, keys, json_is_number(w) ? json_number_value(w) : 1,
                                    env->deadline_ns, o);
        else
            result(o, true, "[send_keys needs a \"keys\" string]", NULL);
    } else if (env->kind == IPW_AGENT_TERMINUS && strcmp(name, "read_screen") == 0) {
        ipw_agent_terminal_screen(env->term, o);
    } else {
        result(o, true, "[no such tool: %s]", name);
    }
    if (!o->text)
        result(o, true, "[out of memory]", NULL);
    o->end_ns = ipw_mono_ns();
}
