/* The tools an agent may call and their execution in the task's sandbox. react: shell,
 * read_file, write_file, calculator. terminus: send_keys and read_screen on a tmux session
 * that runs inside the sandbox (terminus.c). */
#ifndef IPW_AGENT_TOOLS_H
#define IPW_AGENT_TOOLS_H

#include <jansson.h>
#include <stdint.h>

#include "ipw/agent.h"

#define IPW_TOOL_MAX_WRITE (64 * 1024) /* write_file content */

enum ipw_agent_kind { IPW_AGENT_REACT, IPW_AGENT_TERMINUS };

struct ipw_agent_terminal; /* terminus.c */

struct ipw_agent_env {
    enum ipw_agent_kind kind;
    struct ipw_sandbox *sb;
    struct ipw_agent_terminal *term; /* terminus only */
    int64_t deadline_ns;             /* the task's timeout (CLOCK_MONOTONIC) */
};

struct ipw_tool_outcome {
    char *text;    /* the tool result the model reads (malloc'd) */
    int exit_code; /* shell-like tools; 0 otherwise */
    char limit[16]; /* the sandbox limit that stopped the command, "" when none */
    bool failed;   /* the call itself was bad (unknown tool, bad arguments) */
    uint64_t output_bytes;
    int64_t start_ns, end_ns;
};

/* The OpenAI-style tools array of an agent (a new reference). */
json_t *ipw_agent_tools_schema(enum ipw_agent_kind kind);
/* The tool through which a scripted agent runs commands: "shell" or "send_keys". */
const char *ipw_agent_command_tool(enum ipw_agent_kind kind);
/* Runs one call; never fails as a function: a bad call becomes a result that says so, for the
 * model to read. */
void ipw_agent_tool_run(const struct ipw_agent_env *env, const char *name, const json_t *args,
                        struct ipw_tool_outcome *o);
void ipw_tool_outcome_free(struct ipw_tool_outcome *o);

/* Shell-quotes s (single quotes) into a new string. */
char *ipw_shell_quote(const char *s);

/* The text the model reads from a command's result: exit status, output, and what a limit
 * cut or stopped. */
char *ipw_agent_exec_text(const struct ipw_exec_result *r);

/* ---- terminus (terminus.c) ---------------------------------------------------------------- */

/* Starts tmux inside the sandbox (a session "main" running /bin/sh in the work dir). */
ipw_err ipw_agent_terminal_open(struct ipw_sandbox *sb, struct ipw_agent_terminal **out,
                                ipw_errbuf *eb);
/* Ends the session and everything in it. */
void ipw_agent_terminal_close(struct ipw_agent_terminal *t);
/* Types keys (each \n is Enter), waits up to wait_s (at most 30 s, never past deadline_ns) for
 * the shell to be idle again, and returns the screen. */
void ipw_agent_terminal_send(struct ipw_agent_terminal *t, const char *keys, double wait_s,
                             int64_t deadline_ns, struct ipw_tool_outcome *o);
void ipw_agent_terminal_screen(struct ipw_agent_terminal *t, struct ipw_tool_outcome *o);

#endif
