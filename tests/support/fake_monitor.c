/* A fake collector and an in-process monitor for the monitor and remote-source tests. */
#include "fake_monitor.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ipw/clock.h"
#include "ipw/log.h"
#include "telemetry/collector_priv.h"

struct fake {
    int64_t t0;
    double gpu_w, cpu_w;
    int64_t skew_ns;
    int64_t delay_ns;
};

static ipw_err fake_open(struct ipw_collector *c, ipw_errbuf *eb)
{
    (void)c, (void)eb;
    return IPW_OK;
}

static ipw_err fake_sample(struct ipw_collector *c, struct ipw_reading *r,
                           struct ipw_device_reading *dev, ipw_errbuf *eb)
{
    (void)eb;
    struct fake *f = c->priv;
    double t = (double)(r->mono_ns - f->t0) / 1e9;
    r->real_ns += f->skew_ns;
    if (f->delay_ns)
        ipw_sleep_ns(f->delay_ns);
    ipw_reading_set(r, IPW_M_GPU_POWER_W, f->gpu_w);
    ipw_reading_set(r, IPW_M_GPU_ENERGY_J, f->gpu_w * t);
    ipw_reading_set(r, IPW_M_CPU_POWER_W, f->cpu_w);
    ipw_reading_set(r, IPW_M_CPU_ENERGY_J, f->cpu_w * t);
    ipw_reading_set(r, IPW_M_TEMPERATURE_C, 55.5);
    ipw_reading_set(r, IPW_M_GPU_UTIL_PCT, 40);
    ipw_reading_set(r, IPW_M_CPU_MEM_USED_MB, 1024);
    if (c->info.ndev) {
        ipw_reading_set(r, IPW_M_GPU_MEM_USED_MB, 2048.0 * c->info.ndev);
        ipw_reading_set(r, IPW_M_GPU_MEM_TOTAL_MB, 81920.0 * c->info.ndev);
    }
    r->energy_source[IPW_DOMAIN_GPU] = IPW_ENERGY_COUNTER;
    r->energy_source[IPW_DOMAIN_CPU] = IPW_ENERGY_COUNTER;
    r->power_source = IPW_POWER_INSTANT;
    for (unsigned i = 0; dev && i < c->info.ndev; i++) {
        double w = f->gpu_w / c->info.ndev;
        ipw_device_set(&dev[i], IPW_DF_POWER_W, w);
        ipw_device_set(&dev[i], IPW_DF_ENERGY_J, w * t);
        ipw_device_set(&dev[i], IPW_DF_TEMPERATURE_C, 55.5);
        ipw_device_set(&dev[i], IPW_DF_MEM_USED_MB, 2048);
        ipw_device_set(&dev[i], IPW_DF_MEM_TOTAL_MB, 81920);
        ipw_device_set(&dev[i], IPW_DF_UTIL_PCT, 40);
    }
    return IPW_OK;
}

static void fake_close(struct ipw_collector *c) { free(c->priv); }

static const struct ipw_collector_ops fake_ops = {
    .name = "fake", .open = fake_open, .sample = fake_sample, .close = fake_close};

struct ipw_collector *ipw_test_fake_collector(const char *platform, unsigned ndev,
                                              double gpu_watts, double cpu_watts)
{
    struct ipw_collector *c = calloc(1, sizeof *c);
    struct fake *f = calloc(1, sizeof *f);
    if (!c || !f || ndev > IPW_MAX_DEVICES) {
        free(c);
        free(f);
        return NULL;
    }
    c->ops = &fake_ops;
    c->priv = f;
    ipw_collector_config_init(&c->cfg);
    f->t0 = ipw_mono_ns();
    f->gpu_w = gpu_watts;
    f->cpu_w = cpu_watts;
    snprintf(c->info.platform, sizeof c->info.platform, "%s", platform);
    ipw_domain unused;
    ipw_collector_describe_platform(platform, "", &c->info.caps, &unused);
    c->info.main_domain = IPW_DOMAIN_GPU;
    snprintf(c->info.gpu_name, sizeof c->info.gpu_name, "Fake GPU \"X\" 80GB");
    snprintf(c->info.gpu_vendor, sizeof c->info.gpu_vendor, "FakeVendor");
    c->info.gpu_device_id = 0x2330;
    snprintf(c->info.gpu_device_type, sizeof c->info.gpu_device_type, "discrete");
    snprintf(c->info.gpu_backend, sizeof c->info.gpu_backend, "fake");
    c->info.ndev = ndev;
    for (unsigned i = 0; i < ndev; i++) {
        c->info.dev[i].index = i;
        snprintf(c->info.dev[i].uuid, sizeof c->info.dev[i].uuid,
                 "GPU-00000000-0000-0000-0000-%012u", i);
        snprintf(c->info.dev[i].name, sizeof c->info.dev[i].name, "Fake GPU \"X\" 80GB");
        c->info.dev[i].mem_total_mb = 81920;
    }
    if (fake_open(c, NULL) != IPW_OK) {
        ipw_collector_close(c);
        return NULL;
    }
    return c;
}

void ipw_test_fake_collector_set_skew(struct ipw_collector *c, int64_t skew_ns)
{
    ((struct fake *)c->priv)->skew_ns = skew_ns;
}

void ipw_test_fake_collector_set_delay(struct ipw_collector *c, int64_t delay_ns)
{
    ((struct fake *)c->priv)->delay_ns = delay_ns;
}

static void *serve(void *arg)
{
    struct ipw_test_monitor *tm = arg;
    ipw_errbuf eb = {0};
    tm->run_result = ipw_monitor_run(tm->m, &eb);
    if (tm->run_result != IPW_OK)
        fprintf(stderr, "monitor run failed: %s\n", eb.msg);
    return NULL;
}

int ipw_test_monitor_start(struct ipw_test_monitor *tm, struct ipw_collector *c, int64_t period_ns,
                           int port, size_t stream_queue, const char *unix_path, int flags)
{
    memset(tm, 0, sizeof *tm);
    tm->c = c;
    ipw_errbuf eb = {0};
    struct ipw_sampler_config sc;
    ipw_sampler_config_init(&sc);
    sc.interval_ns = period_ns;
    sc.retain_ns = 30 * IPW_NS_PER_SEC;
    bool drive = (flags & IPW_TEST_MONITOR_DRIVE) != 0;
    if (ipw_sampler_create(c, &sc, &tm->s, &eb) != IPW_OK ||
        (!drive && ipw_sampler_start(tm->s, &eb) != IPW_OK))
        goto fail;
    struct ipw_monitor_config mc;
    ipw_monitor_config_init(&mc);
    mc.port = port;
    mc.metrics_port = (flags & IPW_TEST_MONITOR_METRICS) ? 0 : -1;
    mc.drive_sampler = drive;
    mc.stream_queue = stream_queue;
    mc.unix_path = unix_path;
    if (ipw_monitor_create(tm->s, NULL, &mc, &tm->m, &eb) != IPW_OK)
        goto fail;
    tm->port = ipw_monitor_grpc_port(tm->m);
    tm->metrics_port = ipw_monitor_metrics_port(tm->m);
    if (pthread_create(&tm->thread, NULL, serve, tm) != 0)
        goto fail;
    return 0;
fail:
    fprintf(stderr, "test monitor: %s\n", eb.msg);
    ipw_sampler_destroy(tm->s);
    ipw_monitor_destroy(tm->m);
    ipw_collector_close(tm->c);
    memset(tm, 0, sizeof *tm);
    return -1;
}

int ipw_test_monitor_stop(struct ipw_test_monitor *tm)
{
    if (!tm->m)
        return -1;
    ipw_monitor_stop(tm->m);
    pthread_join(tm->thread, NULL);
    ipw_sampler_stop(tm->s);
    ipw_monitor_destroy(tm->m);
    ipw_sampler_destroy(tm->s);
    ipw_collector_close(tm->c);
    int rc = tm->run_result;
    memset(tm, 0, sizeof *tm);
    return rc;
}
