/* Agentic workloads (docs/agents.md): multi-turn tasks an LLM solves with tools in a sandbox,
 * measured per turn on the profiler's measurement core. This header holds the task sets, the
 * sandbox, the scripted policy (the sim agent and the test server's) and the run. */
#ifndef IPW_AGENT_H
#define IPW_AGENT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ipw/err.h"

/* ---- tasks (docs/formats/agent-tasks.md) ---------------------------------------------------- */

#define IPW_AGENT_BUILTIN "terminal" /* the built-in task set's id */
#define IPW_AGENT_MAX_STEPS 32       /* scripted solution steps per task */

enum ipw_agent_task_kind {
    IPW_TASK_TERMINAL, /* resolved when its test script exits 0 in the work dir */
    IPW_TASK_QA,       /* resolved when the final answer scores correct against `answer` */
    IPW_TASK_REPLAY,   /* a recorded session replayed turn by turn (unjudged) */
};

/* One recorded turn of a session: the call's context and output lengths, and the tool time
 * that followed it. */
struct ipw_replay_turn {
    long input_toks, output_toks;
    int64_t tool_ns;
};

struct ipw_agent_task {
    char id[64];
    char category[32];
    enum ipw_agent_task_kind kind;
    char *instruction;
    char *setup;  /* shell script run in the fresh work dir before the agent; "" when none */
    char *test;   /* shell script whose exit status 0 means resolved (terminal); "" for qa */
    char *answer; /* qa: the reference answer; "" otherwise */
    char item_kind[8]; /* qa: "mcq" | "exact" (how the answer is scored) */
    char *solution[IPW_AGENT_MAX_STEPS]; /* scripted shell commands that solve it */
    size_t n_solution;
    int64_t timeout_ns; /* 0: the run's --task-timeout */
    struct ipw_replay_turn *replay; /* replay: the recorded turns */
    size_t n_replay;
};

struct ipw_agent_taskset {
    char id[32];    /* "terminal", "ipw", or "jsonl" */
    char name[256]; /* for summaries */
    struct ipw_agent_task *task;
    size_t n;
};

/* Parses one task object (a line of a task set); `where` names it in messages ("tasks.jsonl
 * line 3"). Unknown keys are ignored; missing id/instruction, a terminal task without a test,
 * or a qa task without an answer are errors. */
ipw_err ipw_agent_task_parse(const json_t *obj, const char *where, struct ipw_agent_task *t,
                             ipw_errbuf *eb);
void ipw_agent_task_clear(struct ipw_agent_task *t);

/* Parses JSONL text (one task per line; blank lines and lines starting with # skipped).
 * Duplicate ids are an error naming both lines. */
ipw_err ipw_agent_tasks_parse(const char *text, size_t len, const char *source,
                              struct ipw_agent_taskset *ts, ipw_errbuf *eb);
/* Recorded agentic sessions (docs/formats/agentic-sessions.md), one per line: {session_id,
 * sub_requests: [{input_toks, output_toks, tool_duration_ns}]} (the simulator's agentic trace
 * form) or {session_id, messages: [...]} (a full history: one turn per assistant message,
 * lengths estimated at 4 bytes per token). Each becomes an IPW_TASK_REPLAY task. */
ipw_err ipw_agent_sessions_parse(const char *text, size_t len, const char *source,
                                 struct ipw_agent_taskset *ts, ipw_errbuf *eb);
/* id "terminal" (built in, path NULL), "jsonl" (a user file at path), "ipw" (the ipw
 * dataset's mcq and exact items as qa tasks), or "agentic" (recorded sessions at path). max > 0 keeps the first max tasks (with seed_given,
 * a reproducible sample). */
ipw_err ipw_agent_tasks_load(const char *id, const char *path, long max, uint64_t seed,
                             bool seed_given, struct ipw_agent_taskset *ts, ipw_errbuf *eb);
const struct ipw_agent_task *ipw_agent_tasks_find(const struct ipw_agent_taskset *ts,
                                                  const char *id);
void ipw_agent_tasks_free(struct ipw_agent_taskset *ts);

/* ---- the scripted policy ------------------------------------------------------------------ */

/* What a scripted agent does: `solve` runs the task's solution then answers, `fail` runs one
 * useless command and gives up, `loop` runs a command forever (the turn limit stops it). The
 * sim client's agent and the test server's both follow it, so offline runs and tests exercise
 * the same loop as a real model. */
enum ipw_agent_script { IPW_SCRIPT_SOLVE, IPW_SCRIPT_FAIL, IPW_SCRIPT_LOOP };

bool ipw_agent_script_parse(const char *name, enum ipw_agent_script *out);

/* The next action after `done_calls` tool results: either a tool call (*tool = "shell" or the
 * agent's command tool, *args a new object) or a final answer (*final, malloc'd). `tool_name`
 * is the name of the tool that runs a shell command in the agent at hand. */
ipw_err ipw_agent_script_next(const struct ipw_agent_task *t, enum ipw_agent_script mode,
                              size_t done_calls, const char *tool_name, json_t **args,
                              char **final, ipw_errbuf *eb);

/* ---- the sandbox (docs/agents.md, "The sandbox") ------------------------------------------- */

enum ipw_sandbox_kind { IPW_SANDBOX_BWRAP, IPW_SANDBOX_PODMAN, IPW_SANDBOX_NONE };

/* "bwrap", "podman", "none"; false when unknown. */
bool ipw_sandbox_kind_parse(const char *name, enum ipw_sandbox_kind *out);
const char *ipw_sandbox_kind_name(enum ipw_sandbox_kind k);

struct ipw_sandbox_limits {
    int64_t wall_ns;     /* one command's wall-clock limit */
    long cpu_s;          /* RLIMIT_CPU of a command */
    long mem_mb;         /* RLIMIT_AS */
    long nproc;          /* processes a command may add (RLIMIT_NPROC above what runs now) */
    long fsize_mb;       /* largest file a command may write (RLIMIT_FSIZE) */
    size_t output_keep;  /* output bytes kept for the model (the rest is counted) */
    size_t output_kill;  /* output bytes after which the command is killed */
};

void ipw_sandbox_limits_default(struct ipw_sandbox_limits *l);

struct ipw_sandbox {
    enum ipw_sandbox_kind kind;
    struct ipw_sandbox_limits lim;
    char root[512]; /* private host directory of this task (mode 0711) */
    char work[600]; /* root/work: the task's writable work dir, /work inside */
    bool drop_uid;  /* running as root: commands run as nobody so process limits hold */
    unsigned uid, gid;
};

/* Can this machine run the sandbox? A failure says why and what to do (install bubblewrap,
 * enable user namespaces, ...). The result is probed once per process. */
ipw_err ipw_sandbox_probe(enum ipw_sandbox_kind kind, ipw_errbuf *eb);

/* A fresh sandbox: a new private directory under $TMPDIR with an empty work dir. */
ipw_err ipw_sandbox_create(struct ipw_sandbox *sb, enum ipw_sandbox_kind kind,
                           const struct ipw_sandbox_limits *lim, ipw_errbuf *eb);
/* Removes the task's directory and everything in it. */
void ipw_sandbox_destroy(struct ipw_sandbox *sb);

/* Why a command stopped early ("" when it exited by itself). */
struct ipw_exec_result {
    int exit_code;        /* -1 when killed by a signal */
    int signal;           /* the signal that ended it, 0 when none */
    char limit[16];       /* "timeout", "output", "cpu", "" */
    char *output;         /* stdout and stderr interleaved, at most output_keep bytes */
    size_t output_len;
    uint64_t output_total; /* bytes the command wrote in all */
    int64_t start_ns, end_ns; /* CLOCK_MONOTONIC */
};

void ipw_exec_result_free(struct ipw_exec_result *r);

/* Runs `script` with /bin/sh -c in the sandbox's work dir, under its limits; wall_ns > 0
 * overrides the limit's. Returns an error only when the command could not be started. */
ipw_err ipw_sandbox_exec(const struct ipw_sandbox *sb, const char *script, int64_t wall_ns,
                         struct ipw_exec_result *r, ipw_errbuf *eb);
/* Starts `script` in the sandbox in the background (the terminus agent's tmux server), under
 * the same limits but no wall-clock limit; the caller ends it. */
ipw_err ipw_sandbox_spawn(const struct ipw_sandbox *sb, const char *script, int *pid,
                          ipw_errbuf *eb);

/* ---- a run: `ipw run` (docs/commands/run.md) ----------------------------------------------- */

#define IPW_AGENT_TRACES_FILE "traces.jsonl"

struct ipw_agent_run_config {
    const char *agent;           /* react */
    const char *client_id;       /* ollama | openai | vllm | sim */
    const char *model;
    const char *client_base_url;
    const json_t *client_params; /* borrowed */
    const char *dataset_id;      /* terminal | ipw | jsonl */
    const char *dataset_path;
    long max_tasks;
    uint64_t seed;
    bool seed_given;
    int concurrency;
    int max_turns;
    int64_t task_timeout_ns;
    enum ipw_sandbox_kind sandbox;
    struct ipw_sandbox_limits limits;
    enum ipw_agent_script script; /* the sim agent's behaviour */
    const char *output_dir;
    bool resume, overwrite;
    const char *collector; /* NULL: auto (sim for the sim client) */
    double cpu_tdp_w, cpu_idle_w; /* cpu-model coefficients; 0: $IPW_CPU_TDP/IDLE or defaults */
    const char *const *monitors;
    size_t n_monitors;
    int64_t interval_ns, connect_timeout_ns, idle_timeout_ns;
    int (*stop_requested)(void);
};

struct ipw_agent_run_outcome {
    char run_dir[4096];
    size_t tasks_total, tasks_done, resolved, failed;
    double energy_joules; /* this invocation's tasks */
    char platform[16];
    unsigned telemetry_caps; /* enum ipw_collector_cap bits of the telemetry */
    bool stopped_early;
};

void ipw_agent_run_config_init(struct ipw_agent_run_config *cfg);
ipw_err ipw_agent_run(const struct ipw_agent_run_config *cfg, struct ipw_agent_run_outcome *out,
                      ipw_errbuf *eb);

#endif
