/* Pieces every program shares (ipw and energy-monitor): SIGINT/SIGTERM handling that lets a
 * command finish what it measured, with an optional hook to wake a blocked event loop. */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "ipw/client.h"
#include "ipw/collector.h"

static volatile sig_atomic_t stop_flag;
static void (*volatile stop_hook)(void *);
static void *volatile stop_hook_ud;

static void on_stop(int sig)
{
    (void)sig;
    stop_flag = 1;
    void (*hook)(void *) = stop_hook;
    if (hook)
        hook(stop_hook_ud);
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

int ipw_cli_stop_requested(void) { return stop_flag; }

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

int ipw_cli_check_base_url(const char *prog, const char *url)
{
    ipw_errbuf eb = {0};
    if (ipw_client_check_base_url(url, &eb) == IPW_OK)
        return 0;
    fprintf(stderr, "%s: %s\n", prog, eb.msg);
    return 2;
}
