/* Running one sandbox command as a child process: its own session, resource limits, output
 * captured up to a bound, a wall-clock limit, and the whole process group killed at the end so
 * that nothing it started outlives it. */
#ifndef IPW_AGENT_PROC_RUN_H
#define IPW_AGENT_PROC_RUN_H

#include "ipw/agent.h"

struct ipw_proc_spec {
    char *const *argv; /* argv[0] is a path */
    char *const *envp;
    const char *cwd;   /* NULL: unchanged */
    const struct ipw_sandbox_limits *lim;
    int64_t wall_ns;
    bool drop_uid; /* setgid/setuid to uid/gid before exec */
    unsigned uid, gid;
};

ipw_err ipw_proc_run(const struct ipw_proc_spec *ps, struct ipw_exec_result *r, ipw_errbuf *eb);

/* Starts the command in the background (its own session, the same limits, output to
 * /dev/null) and returns at once; the caller ends it (kill(-pid), waitpid). */
ipw_err ipw_proc_spawn(const struct ipw_proc_spec *ps, int *pid, ipw_errbuf *eb);

/* Processes the user uid runs now (RLIMIT_NPROC counts them all). */
long ipw_proc_count_user(unsigned uid);

#endif
