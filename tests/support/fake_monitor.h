/* Test doubles for the energy monitor: a fake collector (constant power, energy = power x time,
 * a few named devices) loaded through the ordinary operations table, and a monitor served from a
 * thread of the test process. */
#ifndef IPW_TEST_FAKE_MONITOR_H
#define IPW_TEST_FAKE_MONITOR_H

#include <pthread.h>
#include <stdint.h>

#include "ipw/collector.h"
#include "ipw/monitor.h"
#include "ipw/sampler.h"

/* platform: the name reported ("fake" makes grpc.health.v1 say SERVING). GPU energy/power
 * come from gpu_watts (split evenly over ndev devices), CPU from cpu_watts. */
struct ipw_collector *ipw_test_fake_collector(const char *platform, unsigned ndev,
                                              double gpu_watts, double cpu_watts);

/* Make the fake's reported CLOCK_REALTIME timestamps run skew_ns ahead (a host whose clock
 * is not synchronised with ours). */
void ipw_test_fake_collector_set_skew(struct ipw_collector *c, int64_t skew_ns);

/* Make every sample take this long (a slow collector). */
void ipw_test_fake_collector_set_delay(struct ipw_collector *c, int64_t delay_ns);

struct ipw_test_monitor {
    struct ipw_collector *c;
    struct ipw_sampler *s;
    struct ipw_monitor *m;
    pthread_t thread;
    int port, metrics_port;
    int run_result;
};

#define IPW_TEST_MONITOR_METRICS 1 /* serve /metrics on a free port too */
#define IPW_TEST_MONITOR_DRIVE 2   /* sample on the loop thread (as the energy-monitor does) */

/* Sample c every period_ns and serve it on 127.0.0.1:port (0 = any; < 0 none). Takes ownership
 * of c. flags: IPW_TEST_MONITOR_*. Returns 0 on success. */
int ipw_test_monitor_start(struct ipw_test_monitor *tm, struct ipw_collector *c, int64_t period_ns,
                           int port, size_t stream_queue, const char *unix_path, int flags);
/* Graceful stop (as SIGTERM does), then free everything. Returns what ipw_monitor_run returned. */
int ipw_test_monitor_stop(struct ipw_test_monitor *tm);

#endif
