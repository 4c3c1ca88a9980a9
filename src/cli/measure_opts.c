/* The server and telemetry options of the measuring commands (measure_opts.h). */
#include "measure_opts.h"

#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "ipw/attribution.h"
#include "ipw/clock.h"
#include "ipw/remote.h"

void ipw_cli_measure_init(struct ipw_cli_measure *m)
{
    memset(m, 0, sizeof *m);
    m->connect_timeout = 10 * IPW_NS_PER_SEC;
    m->idle_timeout = 300 * IPW_NS_PER_SEC;
    m->interval_ms = 50;
}

int ipw_cli_measure_check(const char *prog, struct ipw_cli_measure *m)
{
    if (!m->client || !m->model) {
        fprintf(stderr, "%s: --client and --model are required (try '%s --help')\n", prog, prog);
        return 2;
    }
    if (ipw_cli_check_base_url(prog, m->base_url))
        return 2;
    if (m->connect_timeout <= 0 || m->idle_timeout <= 0) {
        fprintf(stderr, "%s: --%s must be more than 0 (e.g. 30s)\n", prog,
                m->connect_timeout <= 0 ? "connect-timeout" : "idle-timeout");
        return 2;
    }
    if (m->monitors.n > IPW_MAX_SOURCES) {
        fprintf(stderr, "%s: at most %d --monitor sources\n", prog, IPW_MAX_SOURCES);
        return 2;
    }
    for (size_t i = 0; i < m->monitors.n; i++) {
        ipw_errbuf mb = {0};
        if (strcmp(m->monitors.v[i], "local") != 0 &&
            ipw_remote_check_target(m->monitors.v[i], &mb) != IPW_OK) {
            fprintf(stderr, "%s: --monitor: %s\n", prog, mb.msg);
            return 2;
        }
    }
    return 0;
}

int ipw_cli_measure_params(const char *prog, struct ipw_cli_measure *m)
{
    ipw_errbuf eb = {0};
    if (ipw_params_parse(m->cparams.v, m->cparams.n, &m->client_params, &eb) != IPW_OK) {
        fprintf(stderr, "%s: --client-param: %s\n", prog, eb.msg);
        return 2;
    }
    return 0;
}
