/* The energy monitor's command line, shared by the `energy-monitor` program (a drop-in for the
 * original's launcher: --port, --bind-address, --collection-interval-ms) and `ipw monitor`. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "ipw/clock.h"
#include "ipw/collector.h"
#include "ipw/fsutil.h"
#include "ipw/log.h"
#include "ipw/monitor.h"
#include "ipw/options.h"
#include "ipw/sampler.h"

static void stop_monitor(void *ud) { ipw_monitor_stop(ud); }

static int write_port_file(const char *path, int grpc_port, int metrics_port)
{
    char text[96];
    int n = snprintf(text, sizeof text, "grpc_port=%d\nmetrics_port=%d\n", grpc_port,
                     metrics_port);
    ipw_errbuf eb = {0};
    if (ipw_write_file_atomic(path, text, (size_t)n, &eb) != IPW_OK) {
        fprintf(stderr, "energy monitor: %s\n", eb.msg);
        return -1;
    }
    return 0;
}

int ipw_cli_monitor_main(int argc, char **argv, const char *prog)
{
    long port = 50053, interval_ms = 50, metrics_port = -2, queue = 0, idle_ms = 1000;
    const char *bind = "127.0.0.1", *metrics_bind = "127.0.0.1", *unix_path = NULL;
    const char *collector = "auto", *log_level = NULL, *port_file = NULL;
    double cpu_tdp = 0, cpu_idle = 0;
    struct ipw_option opts[] = {
        {"port", IPW_OPT_INT, &port, "PORT",
         "gRPC port (default 50053; 0 picks a free one; -1 with --unix: no TCP)", -1, 65535},
        {"bind-address", IPW_OPT_STRING, &bind, "ADDR",
         "address to listen on (default 127.0.0.1; others carry no authentication)"},
        {"collection-interval-ms", IPW_OPT_INT, &interval_ms, "MS",
         "sampling period in milliseconds, 1 to 10000 (default 50)", 1, 10000},
        {"idle-interval-ms", IPW_OPT_INT, &idle_ms, "MS",
         "sampling period while no client streams (default 1000; 0: always the collection "
         "interval)", 0, 60000},
        {"collector", IPW_OPT_CHOICE, &collector, "NAME",
         "telemetry collector (default auto: the first that works of macos, nvidia, amd, rapl, "
         "the modelled cpu-model, null)", 0, 0, ipw_collector_choices()},
        IPW_CLI_OPT_CPU_MODEL(cpu_tdp, cpu_idle),
        {"metrics-port", IPW_OPT_INT, &metrics_port, "PORT",
         "Prometheus /metrics port (default 9470, skipped with a warning if busy; 0 picks one; "
         "-1 turns it off)",
         -1, 65535},
        {"metrics-bind", IPW_OPT_STRING, &metrics_bind, "ADDR",
         "address of the metrics endpoint (default 127.0.0.1)"},
        {"unix", IPW_OPT_STRING, &unix_path, "PATH",
         "also serve gRPC on this Unix socket (mode 0660)"},
        IPW_OPT_LOG_LEVEL(log_level, "info"),
        {"port-file", IPW_OPT_STRING, &port_file, "PATH",
         "write the ports in use (grpc_port=N, metrics_port=N) to PATH once listening"},
        {"stream-queue", IPW_OPT_INT, &queue, "N",
         "readings a slow client may fall behind before losing its oldest (default: about 2 s "
         "of readings, 64 to 4096)", 0, 65536},
        IPW_OPT_END};
    char usage[160];
    snprintf(usage, sizeof usage,
             "%s [--port 50053] [--bind-address 127.0.0.1] [--collection-interval-ms 50] "
             "[options]",
             prog);
    struct ipw_command_help help = {
        usage,
        "Samples power, energy, temperature, memory and utilization every interval with one "
        "collector, and streams the readings to any number of gRPC clients "
        "(energy.EnergyMonitor/StreamTelemetry over h2c), with Prometheus metrics on "
        "/metrics. SIGINT or SIGTERM ends every stream cleanly (status OK) and exits 0.",
        "examples:\n  energy-monitor\n  energy-monitor --collector null --port 0 --port-file "
        "/tmp/ports\n  ipw monitor --unix /run/ipw/monitor.sock --metrics-port 9470"};
    enum ipw_parse_result pr = ipw_parse_options(argc, argv, prog, opts, &help, NULL, 0, NULL);
    if (pr != IPW_PARSE_OK)
        return pr == IPW_PARSE_HELP ? 0 : 2;
    ipw_log_apply_option(log_level, IPW_LOG_INFO);
    if (port < 0 && !unix_path) {
        fprintf(stderr, "%s: --port -1 turns TCP off, so --unix PATH is needed\n", prog);
        return 2;
    }

    struct ipw_collector_config ccfg;
    ipw_collector_config_init(&ccfg);
    ccfg.interval_ms = (int)interval_ms;
    ipw_cli_cpu_model_flags(&ccfg, cpu_tdp, cpu_idle);
    /* Host memory changes slowly and /proc/meminfo is costly to read (the kernel formats the
     * whole file): once a second. */
    ccfg.meminfo_interval_ns = IPW_NS_PER_SEC;
    struct ipw_collector *c = NULL;
    ipw_errbuf eb = {0};
    if (ipw_collector_open(collector, &ccfg, &c, &eb) != IPW_OK) {
        fprintf(stderr, "%s: %s\n", prog, eb.msg);
        return 1;
    }
    const struct ipw_collector_info *info = ipw_collector_info(c);
    const char *skipped = ipw_collector_detect_log(c);
    if (skipped[0] && !(info->caps & IPW_CAP_ENERGY))
        ipw_warn("collector null: no power or energy counter is readable here, so the readings "
                 "carry memory only; skipped: %s",
                 skipped);
    else if (skipped[0])
        ipw_info("collector %s chosen; skipped: %s", info->platform, skipped);
    if (info->notes[0])
        ipw_warn("collector %s: %s", info->platform, info->notes);

    struct ipw_sampler_config scfg;
    ipw_sampler_config_init(&scfg);
    scfg.interval_ns = interval_ms * IPW_NS_PER_MS;
    /* The monitor keeps only a short ring per stream; the sampler's own history is for
     * Prometheus and Health, so a minute is plenty. */
    scfg.retain_ns = 60 * IPW_NS_PER_SEC;
    struct ipw_sampler *s = NULL;
    struct ipw_monitor *m = NULL;
    int rc = 1;
    if (ipw_sampler_create(c, &scfg, &s, &eb) != IPW_OK) {
        fprintf(stderr, "%s: %s\n", prog, eb.msg);
        goto out;
    }
    struct ipw_monitor_config mcfg;
    ipw_monitor_config_init(&mcfg);
    mcfg.bind_address = bind;
    mcfg.port = (int)port;
    mcfg.unix_path = unix_path;
    mcfg.metrics_bind = metrics_bind;
    /* -2: not given. The default port is taken if free; a busy one only costs the metrics. */
    mcfg.metrics_port = metrics_port == -2 ? 9470 : (int)metrics_port;
    mcfg.metrics_optional = metrics_port == -2;
    mcfg.stream_queue = (size_t)queue;
    mcfg.drive_sampler = true; /* the loop samples: one wakeup per tick */
    mcfg.idle_interval_ns = idle_ms * IPW_NS_PER_MS;
    if (ipw_monitor_create(s, NULL, &mcfg, &m, &eb) != IPW_OK) {
        fprintf(stderr, "%s: %s\n", prog, eb.msg);
        goto out;
    }
    ipw_cli_set_stop_hook(stop_monitor, m);
    ipw_cli_install_stop_handlers();
    if (port_file && write_port_file(port_file, ipw_monitor_grpc_port(m),
                                     ipw_monitor_metrics_port(m)) != 0)
        goto out;
    if (ipw_log_get_level() >= IPW_LOG_INFO) {
        fprintf(stderr, "%s: collector %s every %ld ms; gRPC on ", prog, info->platform,
                interval_ms);
        if (port >= 0)
            fprintf(stderr, "%s:%d%s", bind, ipw_monitor_grpc_port(m), unix_path ? " and " : "");
        if (unix_path)
            fprintf(stderr, "unix:%s", unix_path);
        if (ipw_monitor_metrics_port(m) >= 0)
            fprintf(stderr, "; metrics on http://%s:%d/metrics", metrics_bind,
                    ipw_monitor_metrics_port(m));
        fprintf(stderr, "\n");
    }
    if (ipw_monitor_run(m, &eb) != IPW_OK) {
        fprintf(stderr, "%s: %s\n", prog, eb.msg);
        goto out;
    }
    ipw_info("energy monitor stopped");
    rc = 0;
out:
    ipw_cli_set_stop_hook(NULL, NULL);
    ipw_sampler_stop(s);
    ipw_monitor_destroy(m);
    ipw_sampler_destroy(s);
    ipw_collector_close(c);
    return rc;
}
