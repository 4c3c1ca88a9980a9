/* `ipw monitor`: the energy monitor inside the ipw program (same flags as energy-monitor). */
#include "commands.h"

int cmd_monitor(int argc, char **argv) { return ipw_cli_monitor_main(argc, argv, "ipw monitor"); }
