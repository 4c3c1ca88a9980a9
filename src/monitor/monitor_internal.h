/* Internals of the monitor that tests and fuzz targets reach into (not a public interface). */
#ifndef IPW_MONITOR_INTERNAL_H
#define IPW_MONITOR_INTERNAL_H

#include "grpc/server.h"
#include "ipw/monitor.h"

/* The gRPC server behind a monitor, e.g. for ipw_grpc_server_feed. */
struct ipw_grpc_server *ipw_monitor_grpc_server(struct ipw_monitor *m);
/* Subscribe to the sampler (what ipw_monitor_run does first), so that readings reach the
 * streams when the loop is driven by ipw_grpc_server_feed instead of run. */
ipw_err ipw_monitor_attach(struct ipw_monitor *m, ipw_errbuf *eb);

#endif
