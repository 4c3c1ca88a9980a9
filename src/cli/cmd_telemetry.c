/* `ipw telemetry`: live readings from the local collector or a remote energy monitor, as a
 * table or JSON lines. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "commands.h"
#include "ipw/jsonutil.h"
#include "ipw/clock.h"
#include "ipw/collector.h"
#include "ipw/log.h"
#include "ipw/options.h"
#include "ipw/reading_json.h"
#include "ipw/remote.h"
#include "ipw/sampler.h"

static void print_header(void)
{
    printf("%-12s %-8s %10s %12s %9s %12s %7s %10s %10s %6s\n", "time", "platform", "power_W",
           "energy_J", "cpu_W", "cpu_J", "temp_C", "gpu_mem_MB", "cpu_mem_MB", "util%");
}

static void cell(double v, int valid, int width, int prec)
{
    if (valid)
        printf(" %*.*f", width, prec, v);
    else
        printf(" %*s", width, "-");
}

static void print_row(const struct ipw_reading *r, const struct ipw_collector_info *info)
{
    char ts[16];
    time_t sec = (time_t)(r->real_ns / IPW_NS_PER_SEC);
    struct tm tm;
    localtime_r(&sec, &tm);
    snprintf(ts, sizeof ts, "%02d:%02d:%02d.%03d", tm.tm_hour, tm.tm_min, tm.tm_sec,
             (int)((r->real_ns / IPW_NS_PER_MS) % 1000));
    printf("%-12s %-8s", ts, info->platform);
    int pv, ev;
    double p = ipw_reading_main_power(r, info->main_domain, &pv);
    double e = ipw_reading_main_energy(r, info->main_domain, &ev);
    cell(p, pv, 10, 2);
    cell(e, ev, 12, 3);
    cell(r->v[IPW_M_CPU_POWER_W], ipw_reading_has(r, IPW_M_CPU_POWER_W), 9, 2);
    cell(r->v[IPW_M_CPU_ENERGY_J], ipw_reading_has(r, IPW_M_CPU_ENERGY_J), 12, 3);
    cell(r->v[IPW_M_TEMPERATURE_C], ipw_reading_has(r, IPW_M_TEMPERATURE_C), 7, 1);
    cell(r->v[IPW_M_GPU_MEM_USED_MB], ipw_reading_has(r, IPW_M_GPU_MEM_USED_MB), 10, 0);
    cell(r->v[IPW_M_CPU_MEM_USED_MB], ipw_reading_has(r, IPW_M_CPU_MEM_USED_MB), 10, 0);
    cell(r->v[IPW_M_GPU_UTIL_PCT], ipw_reading_has(r, IPW_M_GPU_UTIL_PCT), 6, 0);
    printf("\n");
}

static void emit(const struct ipw_reading *r, const struct ipw_device_reading *dev,
                 const struct ipw_collector_info *info, bool as_json)
{
    if (as_json) {
        json_t *j = ipw_reading_to_json(r, dev, info);
        char *s = ipw_json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
        if (s)
            printf("%s\n", s);
        free(s);
        json_decref(j);
    } else {
        print_row(r, info);
    }
    fflush(stdout);
}

static int run_local(const char *collector, int64_t interval_ns, long count, bool as_json,
                     double cpu_tdp, double cpu_idle)
{
    struct ipw_collector_config cfg;
    ipw_collector_config_init(&cfg);
    ipw_cli_cpu_model_flags(&cfg, cpu_tdp, cpu_idle);
    cfg.interval_ms = (int)(interval_ns / IPW_NS_PER_MS);
    struct ipw_collector *c;
    ipw_errbuf eb = {0};
    if (ipw_collector_open(collector, &cfg, &c, &eb) != IPW_OK) {
        fprintf(stderr, "ipw telemetry: %s\n", eb.msg);
        return 1;
    }
    const struct ipw_collector_info *info = ipw_collector_info(c);
    const char *skipped = ipw_collector_detect_log(c);
    if (skipped[0] && !(info->caps & IPW_CAP_ENERGY))
        fprintf(stderr, "ipw telemetry: note: no power or energy counter is readable here (null "
                        "collector), so only memory is shown; skipped: %s\n",
                skipped);
    else if (skipped[0])
        ipw_info("collector %s chosen; skipped: %s", info->platform, skipped);
    if (info->notes[0])
        fprintf(stderr, "ipw telemetry: note: %s\n", info->notes);
    struct ipw_device_reading *dev = info->ndev ? calloc(info->ndev, sizeof *dev) : NULL;
    if (!as_json)
        print_header();
    int64_t next = ipw_mono_ns();
    unsigned long long failures = 0;
    for (long i = 0; (count <= 0 || i < count) && !ipw_cli_stop_requested(); i++) {
        if (i)
            ipw_sleep_until_ns(next);
        if (ipw_cli_stop_requested())
            break;
        struct ipw_reading r;
        ipw_errbuf se = {0};
        /* the first failure and every 100th, as the sampler logs them: a GPU lost for good
         * must not print a line per reading */
        if (ipw_collector_sample(c, &r, dev, &se) != IPW_OK) {
            if (failures++ % 100 == 0)
                fprintf(stderr, "ipw telemetry: sample failed: %s\n", se.msg);
        } else if (failures) {
            fprintf(stderr, "ipw telemetry: readings again after %llu failed samples\n",
                    (unsigned long long)failures);
            failures = 0;
        }
        r.sequence = (uint64_t)i + 1;
        emit(&r, dev, info, as_json);
        next += interval_ns;
    }
    free(dev);
    ipw_collector_close(c);
    return 0;
}

/* Readings from a monitor: it decimates to our interval, we print each one as it lands. */
static int run_remote(const char *target, int64_t interval_ns, long count, bool as_json)
{
    struct ipw_remote_config cfg;
    ipw_remote_config_init(&cfg);
    cfg.interval_ms = (uint32_t)(interval_ns / IPW_NS_PER_MS);
    /* A live view needs little history. */
    cfg.sampler.interval_ns = interval_ns > IPW_SAMPLER_MAX_INTERVAL_NS
                                  ? IPW_SAMPLER_MAX_INTERVAL_NS
                                  : interval_ns;
    cfg.sampler.capacity = 256;
    if (interval_ns * 3 > cfg.stall_timeout_ns)
        cfg.stall_timeout_ns = interval_ns * 3;
    struct ipw_remote *r;
    ipw_errbuf eb = {0};
    const char *targets[] = {target};
    if (ipw_remote_open(targets, 1, &cfg, &r, &eb) != IPW_OK) {
        fprintf(stderr, "ipw telemetry: %s\n", eb.msg);
        return 1;
    }
    const struct ipw_collector_info *info = ipw_remote_info(r);
    struct ipw_sampler *s = ipw_remote_sampler(r);
    struct ipw_device_reading *dev = info->ndev ? calloc(info->ndev, sizeof *dev) : NULL;
    if (!as_json)
        print_header();
    int64_t last = 0;
    long printed = 0;
    bool noted = false;
    int rc = 0;
    /* The remote reconnects on its own. A live view (no --count) waits for the monitor as long
     * as the user does; with --count the command must end, so a monitor that stays away for
     * this long is an error rather than a wait forever. */
    const int64_t give_up_ns = interval_ns * 10 > 10 * IPW_NS_PER_SEC ? interval_ns * 10
                                                                       : 10 * IPW_NS_PER_SEC;
    int64_t lost_since = 0;
    while ((count <= 0 || printed < count) && !ipw_cli_stop_requested()) {
        ipw_errbuf we = {0};
        /* Wake at least every 200 ms so that Ctrl-C is noticed promptly. */
        ipw_err e = ipw_sampler_wait_until(s, last + 1, 200 * IPW_NS_PER_MS, &we);
        if (e == IPW_E_TIMEOUT) {
            struct ipw_remote_stats st;
            ipw_remote_get_stats(r, -1, &st);
            int64_t now = ipw_mono_ns();
            /* the remote itself logs the drop and each retry; this only times the absence */
            if (st.connected)
                lost_since = 0;
            else if (!lost_since)
                lost_since = now;
            else if (count > 0 && now - lost_since >= give_up_ns) {
                fprintf(stderr, "ipw telemetry: %s unreachable for %.0f s (%s): %ld of %ld "
                                "readings printed; start the monitor again and rerun\n",
                        target, (double)(now - lost_since) / 1e9,
                        st.last_error[0] ? st.last_error : "stream ended", printed, count);
                rc = 1;
                break;
            }
            continue;
        }
        if (e != IPW_OK)
            break;
        /* every reading that landed since the last one printed, in order: a wakeup that comes
         * late (a loaded machine) must not print only the newest and lose the rest */
        struct ipw_reading rd;
        while ((count <= 0 || printed < count) &&
               ipw_sampler_next_after(s, last, &rd, dev, &we) == IPW_OK) {
            last = rd.mono_ns;
            /* a monitor running a modelled collector (cpu-model, sim) says so only in its
             * platform name: say it in words, once, as the local path prints the notes */
            if (!noted && (info->caps & IPW_CAP_MODELLED)) {
                fprintf(stderr, "ipw telemetry: note: %s runs the %s collector: its power and "
                                "energy are modelled, not measured\n",
                        target, info->platform);
                noted = true;
            }
            emit(&rd, dev, info, as_json);
            printed++;
        }
    }
    free(dev);
    ipw_remote_close(r);
    return rc;
}

int cmd_telemetry(int argc, char **argv)
{
    bool local = false, as_json = false;
    const char *target = NULL, *collector = "auto", *log_level = NULL;
    int64_t interval_ns = IPW_NS_PER_SEC;
    long count = 0;
    double cpu_tdp = 0, cpu_idle = 0;
    struct ipw_option opts[] = {
        {"local", IPW_OPT_FLAG, &local, NULL, "read the collector in this process (default)"},
        {"target", IPW_OPT_STRING, &target, "HOST:PORT",
         "read from an energy monitor over gRPC (or unix:PATH)"},
        {"collector", IPW_OPT_CHOICE, &collector, "NAME", "collector for --local (default auto)",
         0, 0, ipw_collector_choices()},
        IPW_CLI_OPT_CPU_MODEL(cpu_tdp, cpu_idle),
        {"interval", IPW_OPT_DURATION, &interval_ns, "DURATION",
         "time between readings, e.g. 250ms or 1s (default 1s)"},
        {"count", IPW_OPT_INT, &count, "N", "stop after N readings, 1 or more (default: until Ctrl-C)", 1,
         1e9},
        {"json", IPW_OPT_FLAG, &as_json, NULL, "print one JSON object per line"},
        IPW_OPT_LOG_LEVEL(log_level, "warn"),
        IPW_OPT_END};
    struct ipw_command_help help = {
        "ipw telemetry [--local | --target HOST:PORT] [--interval 1s] [--count N] [--json]",
        "Prints live telemetry: power, energy since start, temperature, memory and utilization.",
        "examples:\n  ipw telemetry --local --count 5\n  ipw telemetry --local --collector null "
        "--interval 250ms --json\n  ipw telemetry --target 127.0.0.1:50053 --interval 100ms"};
    enum ipw_parse_result pr = ipw_parse_options(argc, argv, "ipw telemetry", opts, &help, NULL, 0,
                                                 NULL);
    if (pr != IPW_PARSE_OK)
        return pr == IPW_PARSE_HELP ? 0 : 2;
    ipw_log_apply_option(log_level, IPW_LOG_WARN);
    if (interval_ns < IPW_NS_PER_MS || interval_ns > 3600 * IPW_NS_PER_SEC) {
        fprintf(stderr, "ipw telemetry: --interval must be between 1ms and 1h\n");
        return 2;
    }
    if (target && local) {
        fprintf(stderr, "ipw telemetry: choose one of --local and --target\n");
        return 2;
    }
    ipw_errbuf tb = {0};
    if (target && ipw_remote_check_target(target, &tb) != IPW_OK) {
        fprintf(stderr, "ipw telemetry: --target: %s\n", tb.msg);
        return 2;
    }
    ipw_cli_install_stop_handlers();
    if (target)
        return run_remote(target, interval_ns, count, as_json);
    return run_local(collector, interval_ns, count, as_json, cpu_tdp, cpu_idle);
}
