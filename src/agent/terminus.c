/* The terminus agent's terminal: a tmux server started inside the task's sandbox (so the shell
 * in its pane, and everything typed there, is confined like any sandboxed command), driven from
 * outside through its socket in the work dir: keys in with send-keys, the screen out with
 * capture-pane. A command has finished when the pane's foreground process is the shell again. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ipw/clock.h"
#include "proc_run.h"
#include "tools.h"

#define TMUX "/usr/bin/tmux"
#define SOCKET_NAME ".ipw-tmux"
#define SCREEN_KEEP (16 * 1024)
#define MAX_WAIT_S 30.0

struct ipw_agent_terminal {
    int pid;        /* the sandboxed tmux session's keeper (bwrap, or tmux wait-for) */
    char sock[700]; /* the socket as the host sees it */
};

static char *const host_env[] = {"PATH=/usr/bin:/bin", "LC_ALL=C.UTF-8", NULL};

/* One tmux client command from the host; its output (the screen) in r. */
static ipw_err tmux(struct ipw_agent_terminal *t, const char *const *args,
                    struct ipw_exec_result *r, ipw_errbuf *eb)
{
    char *argv[16] = {TMUX, "-S", t->sock};
    size_t n = 3;
    for (; *args && n < 15; args++)
        argv[n++] = (char *)*args;
    argv[n] = NULL;
    struct ipw_sandbox_limits lim;
    ipw_sandbox_limits_default(&lim);
    lim.output_keep = SCREEN_KEEP;
    lim.nproc = 0;
    struct ipw_proc_spec ps = {.argv = argv, .envp = host_env, .lim = &lim,
                               .wall_ns = 10 * IPW_NS_PER_SEC};
    return ipw_proc_run(&ps, r, eb);
}

static bool tmux_ok(struct ipw_agent_terminal *t, const char *const *args, char *out,
                    size_t size)
{
    struct ipw_exec_result r;
    ipw_errbuf eb = {0};
    if (tmux(t, args, &r, &eb) != IPW_OK)
        return false;
    bool ok = r.exit_code == 0;
    if (out)
        snprintf(out, size, "%s", r.output);
    ipw_exec_result_free(&r);
    return ok;
}

void ipw_agent_terminal_close(struct ipw_agent_terminal *t)
{
    if (!t)
        return;
    static const char *const kill_args[] = {"kill-server", NULL};
    tmux_ok(t, kill_args, NULL, 0);
    /* the keeper ends with the server; make sure of it */
    for (int i = 0; i < 100 && waitpid(t->pid, NULL, WNOHANG) == 0; i++)
        ipw_sleep_ns(20 * IPW_NS_PER_MS);
    kill(-t->pid, SIGKILL);
    waitpid(t->pid, NULL, WNOHANG);
    free(t);
}

ipw_err ipw_agent_terminal_open(struct ipw_sandbox *sb, struct ipw_agent_terminal **out,
                                ipw_errbuf *eb)
{
    *out = NULL;
    if (access(TMUX, X_OK) != 0)
        return ipw_fail(eb, IPW_E_UNSUPPORTED,
                        "the terminus agent needs tmux (%s): install the Debian package tmux",
                        TMUX);
    struct ipw_agent_terminal *t = calloc(1, sizeof *t);
    if (!t)
        return ipw_fail(eb, IPW_E_NOMEM, "out of memory");
    snprintf(t->sock, sizeof t->sock, "%s/" SOCKET_NAME, sb->work);
    /* inside, the work dir is the current directory (/work, or the dir itself with none) */
    ipw_err e = ipw_sandbox_spawn(sb,
                                  "tmux -S " SOCKET_NAME " -f /dev/null new-session -d -s main "
                                  "-x 160 -y 48 && exec tmux -S " SOCKET_NAME
                                  " wait-for ipw-end",
                                  &t->pid, eb);
    if (e != IPW_OK) {
        free(t);
        return e;
    }
    static const char *const has[] = {"has-session", "-t", "main", NULL};
    int64_t deadline = ipw_mono_ns() + 10 * IPW_NS_PER_SEC;
    while (!tmux_ok(t, has, NULL, 0)) {
        if (ipw_mono_ns() > deadline || waitpid(t->pid, NULL, WNOHANG) == t->pid) {
            ipw_agent_terminal_close(t);
            return ipw_fail(eb, IPW_E_IO,
                            "the terminal (tmux inside the sandbox) did not start in %s",
                            sb->work);
        }
        ipw_sleep_ns(20 * IPW_NS_PER_MS);
    }
    *out = t;
    return IPW_OK;
}

static void screen(struct ipw_agent_terminal *t, struct ipw_tool_outcome *o)
{
    static const char *const cap[] = {"capture-pane", "-p", "-t", "main", NULL};
    struct ipw_exec_result r;
    ipw_errbuf eb = {0};
    if (tmux(t, cap, &r, &eb) != IPW_OK) {
        o->text = strdup("[the terminal cannot be read]");
        o->failed = true;
        return;
    }
    /* trailing blank lines of the pane say nothing */
    while (r.output_len && (r.output[r.output_len - 1] == '\n' || r.output[r.output_len - 1] == ' '))
        r.output[--r.output_len] = '\0';
    size_t n = r.output_len + 32;
    o->text = malloc(n);
    if (o->text)
        snprintf(o->text, n, "[screen]\n%s\n", r.output);
    o->output_bytes = r.output_total;
    ipw_exec_result_free(&r);
}

void ipw_agent_terminal_screen(struct ipw_agent_terminal *t, struct ipw_tool_outcome *o)
{
    screen(t, o);
}

/* Where the pane is: its foreground command, and the cursor as an absolute line (history plus
 * screen row) and column. */
struct pane {
    bool shell; /* the shell itself is in the foreground: no command runs */
    long line, col;
};

static bool pane_state(struct ipw_agent_terminal *t, struct pane *p)
{
    static const char *const q[] = {"display-message", "-p", "-t", "main",
                                    "#{pane_current_command} #{history_size} #{cursor_y} "
                                    "#{cursor_x}",
                                    NULL};
    char out[160] = "", cmd[64] = "";
    long hist = 0, y = 0, x = 0;
    if (!tmux_ok(t, q, out, sizeof out) || sscanf(out, "%63s %ld %ld %ld", cmd, &hist, &y, &x) != 4)
        return false;
    p->shell = strcmp(cmd, "sh") == 0 || strcmp(cmd, "dash") == 0 || strcmp(cmd, "bash") == 0;
    p->line = hist + y;
    p->col = x;
    return true;
}

/* The command typed (ending with Enter at line `from`) has finished: the shell is in the
 * foreground again and has printed its prompt on a later line. Seeing only the shell in the
 * foreground is not enough: a command may not have started yet. */
static bool finished(struct ipw_agent_terminal *t, long from, bool entered)
{
    struct pane p;
    if (!pane_state(t, &p))
        return true; /* the terminal is gone: nothing to wait for */
    return p.shell && (!entered || (p.line > from && p.col > 0));
}

void ipw_agent_terminal_send(struct ipw_agent_terminal *t, const char *keys, double wait_s,
                             int64_t deadline_ns, struct ipw_tool_outcome *o)
{
    struct pane before = {0};
    bool known = pane_state(t, &before);
    bool entered = strchr(keys, '\n') != NULL;
    const char *p = keys;
    bool ok = true;
    while (ok && *p) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        if (n) {
            char *seg = strndup(p, n);
            const char *args[] = {"send-keys", "-t", "main", "-l", "--", seg, NULL};
            ok = seg && tmux_ok(t, args, NULL, 0);
            free(seg);
        }
        if (ok && nl) {
            static const char *const enter[] = {"send-keys", "-t", "main", "Enter", NULL};
            ok = tmux_ok(t, enter, NULL, 0);
        }
        p = nl ? nl + 1 : p + n;
    }
    if (!ok) {
        o->text = strdup("[the keys could not be sent to the terminal]");
        o->failed = true;
        return;
    }
    if (!(wait_s >= 0)) /* also NaN */
        wait_s = 1;
    if (wait_s > MAX_WAIT_S)
        wait_s = MAX_WAIT_S;
    int64_t until = ipw_mono_ns() + (int64_t)(wait_s * 1e9);
    if (until > deadline_ns)
        until = deadline_ns;
    /* wait up to wait_s for what was typed to finish */
    while (ipw_mono_ns() < until && !finished(t, before.line, entered && known))
        ipw_sleep_ns(20 * IPW_NS_PER_MS);
    screen(t, o);
}
