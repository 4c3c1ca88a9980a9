/* `energy-monitor`: the stand-alone energy monitor, a drop-in replacement for the original
 * project's binary (same --port, --bind-address and --collection-interval-ms). */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "ipw/version.h"

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN);
    if (argc > 1 && (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0)) {
        printf("energy-monitor (ipw) %s\n", IPW_VERSION);
        return 0;
    }
    return ipw_cli_monitor_main(argc, argv, "energy-monitor");
}
