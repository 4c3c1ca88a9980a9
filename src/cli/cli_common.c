/* Pieces every program shares (ipw and energy-monitor): SIGINT/SIGTERM handling that lets a
 * command finish what it measured, with an optional hook to wake a blocked event loop. */
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>

#include "commands.h"
#include "ipw/collector.h"

/* Read by worker threads (the profiler's queries), so an atomic (a lock-free one is safe in a
 * handler), not a volatile sig_atomic_t, which is only safe for the thread the handler
 * interrupted. */
static atomic_int interrupts;
static void (*volatile stop_hook)(void *);
static void *volatile stop_hook_ud;

/* The first signal asks the command to stop (it finishes what is in flight and writes every
 * output); a second one ends the process at once with the signal's default action, so a
 * command that hangs can always be stopped. */
static void on_stop(int sig)
{
    int saved = errno;
    if (atomic_fetch_add(&interrupts, 1) + 1 >= 2) {
        signal(sig, SIG_DFL);
        raise(sig);
    }
    void (*hook)(void *) = stop_hook;
    if (hook)
        hook(stop_hook_ud);
    errno = saved;
}

void ipw_cli_install_stop_handlers(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

void ipw_cli_remove_stop_handlers(void)
{
    ipw_cli_set_stop_hook(NULL, NULL);
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
}

int ipw_cli_stop_requested(void) { return atomic_load(&interrupts) > 0; }

void ipw_cli_set_stop_hook(void (*hook)(void *ud), void *ud)
{
    /* Clear first so that a signal arriving in between never pairs a hook with a stale ud. */
    stop_hook = NULL;
    stop_hook_ud = ud;
    stop_hook = hook;
}

void ipw_cli_cpu_model_flags(struct ipw_collector_config *cfg, double tdp_w, double idle_w)
{
    if (tdp_w > 0)
        cfg->cpu_tdp_w = tdp_w;
    if (idle_w > 0)
        cfg->cpu_idle_w = idle_w;
}
