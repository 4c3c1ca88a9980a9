/* The --client-base-url check shared by the commands that talk to an inference server. A file
 * of its own, apart from cli_common.c: energy-monitor links cli_common.c for its signal
 * handling, and this check pulls in the inference clients (libcurl and its TLS, Kerberos and
 * LDAP libraries, the embedded datasets), which cost the monitor 3.5 MiB of resident memory. */
#include <stdio.h>

#include "commands.h"
#include "ipw/client.h"

int ipw_cli_check_base_url(const char *prog, const char *url)
{
    ipw_errbuf eb = {0};
    if (ipw_client_check_base_url(url, &eb) == IPW_OK)
        return 0;
    fprintf(stderr, "%s: %s\n", prog, eb.msg);
    return 2;
}
