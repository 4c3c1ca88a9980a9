/* Auto-detection over the CPU-side collectors: powermetrics costs nothing off macOS, RAPL is
 * chosen when readable, and an unreadable or missing RAPL falls through to the CPU power model (or null without /proc/stat) with the reason
 * in detect_log. Also RAPL as the CPU companion beside a GPU collector. */
#include "ipw_test.h"

#include <stdlib.h>
#include <string.h>

#include "fake_sysfs.h"
#include "ipw/clock.h"
#include "ipw/collector.h"
#include "telemetry/collector_priv.h"
#include "telemetry/rapl.h"
#include "unpriv.h"

/* No GPU library can load, whatever this machine has: detection order is all we test. */
static void config(struct ipw_collector_config *cfg, const char *root)
{
    ipw_collector_config_init(cfg);
    cfg->sysfs_root = root;
    cfg->nvml_library = "/nonexistent/libnvidia-ml.so.1";
    cfg->rocm_library = "/nonexistent/librocm_smi64.so";
    cfg->powermetrics_command = NULL;
}

static void test_auto_picks_rapl(void **state)
{
    (void)state;
    char *root = ipw_fake_sysfs_new();
    ipw_fake_rapl_standard(root);
    struct ipw_collector_config cfg;
    config(&cfg, root);
    struct ipw_collector *c;
    ipw_errbuf eb = {0};
    assert_int_equal(ipw_collector_open("auto", &cfg, &c, &eb), IPW_OK);
    assert_string_equal(c->info.platform, "rapl");
#ifndef __APPLE__
    assert_non_null(strstr(c->detect_log, "macos: powermetrics exists only on macOS"));
#endif
    assert_non_null(strstr(c->detect_log, "nvidia: "));
    assert_non_null(strstr(c->detect_log, "amd: "));
    assert_null(c->cpu_companion); /* RAPL itself needs no companion */
    struct ipw_reading r;
    assert_int_equal(ipw_collector_sample(c, &r, NULL, &eb), IPW_OK);
    assert_true(ipw_reading_has(&r, IPW_M_CPU_ENERGY_J));
    ipw_collector_close(c);
    ipw_test_rmtree(root);
    free(root);
}

/* Without the amdgpu driver and with no library named, the ROCm stack is not even loaded: the
 * reason names the driver directory; with the driver directory present it is tried (and here
 * fails to load, since no ROCm library exists under the fake root's name). */
static void test_amd_skipped_without_driver(void **state)
{
    (void)state;
    char *root = ipw_fake_sysfs_new();
    struct ipw_collector_config cfg;
    config(&cfg, root);
    cfg.rocm_library = NULL;
    char *saved = getenv("IPW_ROCM_SMI_LIBRARY") ? strdup(getenv("IPW_ROCM_SMI_LIBRARY")) : NULL;
    unsetenv("IPW_ROCM_SMI_LIBRARY");
    struct ipw_collector *c = NULL;
    ipw_errbuf eb = {0};
    assert_int_equal(ipw_collector_open("amd", &cfg, &c, &eb), IPW_E_NOTFOUND);
    assert_non_null(strstr(eb.msg, "module/amdgpu absent"));
    ipw_test_write(root, "module/amdgpu/initstate", "live\n");
    eb.msg[0] = '\0';
    assert_int_not_equal(ipw_collector_open("amd", &cfg, &c, &eb), IPW_OK);
    assert_null(strstr(eb.msg, "module/amdgpu absent"));
    if (saved) {
        setenv("IPW_ROCM_SMI_LIBRARY", saved, 1);
        free(saved);
    }
    ipw_test_rmtree(root);
    free(root);
}

/* No counter anywhere: auto-detection ends at the CPU power model (the host's /proc/stat). */
static void test_auto_without_powercap_is_cpu_model(void **state)
{
    (void)state;
    char *root = ipw_fake_sysfs_new();
    struct ipw_collector_config cfg;
    config(&cfg, root);
    struct ipw_collector *c;
    ipw_errbuf eb = {0};
    assert_int_equal(ipw_collector_open("auto", &cfg, &c, &eb), IPW_OK);
    assert_string_equal(c->info.platform, "cpu-model");
    assert_non_null(strstr(c->detect_log, "rapl: no RAPL counters"));
    assert_non_null(strstr(c->info.notes, "modelled from CPU load"));
    ipw_collector_close(c);
    /* ... and without a readable /proc/stat either, at null */
    cfg.procfs_root = root;
    assert_int_equal(ipw_collector_open("auto", &cfg, &c, &eb), IPW_OK);
    assert_string_equal(c->info.platform, "null");
    assert_non_null(strstr(c->detect_log, "cpu-model: "));
    ipw_collector_close(c);
    ipw_test_rmtree(root);
    free(root);
}

static void detect_auto(void *ud, FILE *out)
{
    struct ipw_collector_config cfg;
    config(&cfg, ud);
    struct ipw_collector *c;
    ipw_errbuf eb = {0};
    if (ipw_collector_open("auto", &cfg, &c, &eb) != IPW_OK) {
        fprintf(out, "error=%s\n", eb.msg);
        return;
    }
    struct ipw_reading r;
    ipw_err e = ipw_collector_sample(c, &r, NULL, &eb);
    fprintf(out, "platform=%s\nsample=%d\nmem=%d\nlog=%s\n", c->info.platform, (int)e,
            ipw_reading_has(&r, IPW_M_CPU_MEM_USED_MB), c->detect_log);
    ipw_collector_close(c);
}

/* The counters are root-only (mode 0400, as on kernels since 2020) and we are not root. */
static void test_auto_eacces_falls_to_cpu_model(void **state)
{
    (void)state;
    char *root = ipw_fake_sysfs_new();
    ipw_fake_rapl_standard(root);
    static const char *const ids[] = {"intel-rapl:0",   "intel-rapl:0:0", "intel-rapl:0:1",
                                      "intel-rapl:1",   "intel-rapl:1:0", "intel-rapl:1:1",
                                      "intel-rapl:2",   "intel-rapl-mmio:0"};
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++)
        ipw_fake_rapl_chmod(root, ids[i], 0400);
    char out[4096];
    assert_int_equal(ipw_test_unprivileged(detect_auto, root, out, sizeof out), 0);
    /* past the unreadable counters to the CPU model, which needs only /proc/stat */
    if (!strstr(out, "platform=cpu-model\n"))
        fail_msg("expected cpu-model, got: %s", out);
    assert_non_null(strstr(out, "sample=0\n"));
    assert_non_null(strstr(out, "mem=1\n"));
    assert_non_null(strstr(out, "rapl: cannot read "));
    assert_non_null(strstr(out, "/class/powercap/intel-rapl:0/energy_uj: permission denied"));
    assert_non_null(strstr(out, "run the monitor as root"));

    /* the same tree readable: the unprivileged user gets RAPL */
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++)
        ipw_fake_rapl_chmod(root, ids[i], 0444);
    assert_int_equal(ipw_test_unprivileged(detect_auto, root, out, sizeof out), 0);
    if (!strstr(out, "platform=rapl\n"))
        fail_msg("expected rapl, got: %s", out);
    ipw_test_rmtree(root);
    free(root);
}

static void test_auto_with_explicit_powermetrics(void **state)
{
    (void)state;
    char fake[4096];
    snprintf(fake, sizeof fake, "%s/tests/fakes/fake_powermetrics.py", ipw_test_source_dir());
    unsetenv("FAKE_PM_LOG");
    char *root = ipw_fake_sysfs_new();
    ipw_fake_rapl_standard(root);
    struct ipw_collector_config cfg;
    config(&cfg, root);
    cfg.powermetrics_command = fake;
    cfg.interval_ms = 20;
    struct ipw_collector *c;
    ipw_errbuf eb = {0};
    assert_int_equal(ipw_collector_open("auto", &cfg, &c, &eb), IPW_OK);
    assert_string_equal(c->info.platform, "macos"); /* first in the order */
    assert_string_equal(c->detect_log, "");
    ipw_collector_close(c);
    ipw_test_rmtree(root);
    free(root);
}

/* ---- RAPL beside a GPU collector --------------------------------------------------- */

static ipw_err gpu_open(struct ipw_collector *c, ipw_errbuf *eb)
{
    (void)eb;
    c->info.main_domain = IPW_DOMAIN_GPU;
    return IPW_OK;
}

static ipw_err gpu_sample(struct ipw_collector *c, struct ipw_reading *r,
                          struct ipw_device_reading *dev, ipw_errbuf *eb)
{
    (void)c, (void)dev, (void)eb;
    ipw_reading_set(r, IPW_M_GPU_ENERGY_J, 42.0);
    ipw_reading_set(r, IPW_M_GPU_POWER_W, 300.0);
    r->energy_source[IPW_DOMAIN_GPU] = IPW_ENERGY_COUNTER;
    r->power_source = IPW_POWER_INSTANT;
    return IPW_OK;
}

static void gpu_close(struct ipw_collector *c) { (void)c; }

static const struct ipw_collector_ops gpu_ops = {
    .name = "gpu", .open = gpu_open, .sample = gpu_sample, .close = gpu_close};

/* Built the way collector.c builds a companion (ops->open on a copy of the config), then
 * sampled through ipw_collector_sample, which merges the CPU fields. */
static void test_cpu_companion(void **state)
{
    (void)state;
    char *root = ipw_fake_sysfs_new();
    ipw_fake_rapl_standard(root);
    struct ipw_collector *c = calloc(1, sizeof *c);
    c->ops = &gpu_ops;
    config(&c->cfg, root);
    snprintf(c->info.platform, sizeof c->info.platform, "gpu");
    gpu_open(c, NULL);
    struct ipw_collector *rapl = calloc(1, sizeof *rapl);
    rapl->ops = &ipw_collector_rapl;
    rapl->cfg = c->cfg;
    ipw_errbuf eb = {0};
    assert_int_equal(rapl->ops->open(rapl, &eb), IPW_OK);
    c->cpu_companion = rapl;

    ipw_sleep_ns(15 * IPW_NS_PER_MS);
    ipw_fake_rapl_set(root, "intel-rapl:0", 1000000 + 250000);
    ipw_fake_rapl_set(root, "intel-rapl:1:1", 700000 + 50000);
    struct ipw_reading r;
    assert_int_equal(ipw_collector_sample(c, &r, NULL, &eb), IPW_OK);
    assert_double_equal(r.v[IPW_M_GPU_ENERGY_J], 42.0, 0);
    assert_double_equal(r.v[IPW_M_CPU_ENERGY_J], 0.25, 0);
    assert_double_equal(r.v[IPW_M_DRAM_ENERGY_J], 0.05, 0);
    assert_true(ipw_reading_has(&r, IPW_M_CPU_POWER_W));
    assert_true(r.v[IPW_M_CPU_POWER_W] > 0);
    assert_int_equal(r.power_source, IPW_POWER_INSTANT); /* the GPU's, untouched */
    assert_int_equal(r.energy_source[IPW_DOMAIN_CPU], IPW_ENERGY_COUNTER);
    /* the zones are reachable through the GPU collector */
    struct ipw_rapl_zone z[IPW_RAPL_MAX_ZONES];
    assert_int_equal(ipw_rapl_zones(c, z, IPW_RAPL_MAX_ZONES), 7);
    assert_string_equal(ipw_rapl_source(c), "powercap");
    /* and the companion samples without an error buffer, as collector.c calls it */
    struct ipw_reading cr;
    ipw_reading_clear(&cr);
    assert_int_equal(rapl->ops->sample(rapl, &cr, NULL, NULL), IPW_OK);
    ipw_collector_close(c);
    ipw_test_rmtree(root);
    free(root);
}

/* A remote monitor's platform name means what that collector's table says; an unknown one
 * (a newer monitor) is some energy source, on the GPU when it names one. */
static void test_describe_platform(void **state)
{
    (void)state;
    unsigned caps;
    ipw_domain d;
    ipw_collector_describe_platform("nvidia", "", &caps, &d);
    assert_int_equal(d, IPW_DOMAIN_GPU);
    assert_int_equal(caps, IPW_CAP_ENERGY | IPW_CAP_ENERGY_COUNTER); /* no companion remotely */
    ipw_collector_describe_platform("amd", "", &caps, &d);
    assert_int_equal(d, IPW_DOMAIN_GPU);
    ipw_collector_describe_platform("macos", "", &caps, &d);
    assert_int_equal(d, IPW_DOMAIN_GPU);
    assert_false(caps & IPW_CAP_BLOCKING_SAMPLE); /* a property of sampling, not of the data */
    ipw_collector_describe_platform("rapl", "X", &caps, &d);
    assert_int_equal(d, IPW_DOMAIN_CPU);
    ipw_collector_describe_platform("null", "", &caps, &d);
    assert_int_equal(d, IPW_DOMAIN_CPU);
    assert_int_equal(caps, 0);
    ipw_collector_describe_platform("sim", "", &caps, &d);
    assert_true(caps & IPW_CAP_MODELLED);
    ipw_collector_describe_platform("tpu", "TPU v5", &caps, &d);
    assert_int_equal(d, IPW_DOMAIN_GPU);
    assert_int_equal(caps, IPW_CAP_ENERGY);
    ipw_collector_describe_platform("other", "", &caps, &d);
    assert_int_equal(d, IPW_DOMAIN_CPU);
}

/* Every list of collectors is derived from the registry's tables. */
static void test_registry(void **state)
{
    (void)state;
    const char *const *c = ipw_collector_choices();
    assert_string_equal(c[0], "auto");
    size_t n = 0;
    for (const struct ipw_collector_ops *const *p = ipw_collector_registry(); *p; p++, n++) {
        assert_string_equal(c[n + 1], (*p)->name);
        assert_ptr_equal(ipw_collector_lookup((*p)->name), *p);
        for (const char *const *a = (*p)->aliases; a && *a; a++)
            assert_ptr_equal(ipw_collector_lookup(*a), *p);
        assert_true((*p)->description && (*p)->description[0]);
    }
    assert_null(c[n + 1]);
    assert_ptr_equal(ipw_collector_lookup("rocm_smi"), &ipw_collector_rocm);
    assert_null(ipw_collector_lookup("bogus"));
    assert_string_equal(ipw_collector_choices_text(),
                        "auto, nvidia, amd, rapl, macos, cpu-model, null, sim");
    /* SPEC §1.1's order, then the CPU power model before null; sim only by name */
    const struct ipw_collector_ops *const *o = ipw_collector_auto_order();
    const struct ipw_collector_ops *want[] = {&ipw_collector_powermetrics, &ipw_collector_nvml,
                                              &ipw_collector_rocm, &ipw_collector_rapl,
                                              &ipw_collector_cpu_model, &ipw_collector_null,
                                              NULL};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        assert_ptr_equal(o[i], want[i]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_auto_picks_rapl),
        cmocka_unit_test(test_auto_without_powercap_is_cpu_model),
        cmocka_unit_test(test_auto_eacces_falls_to_cpu_model),
        cmocka_unit_test(test_auto_with_explicit_powermetrics),
        cmocka_unit_test(test_cpu_companion),
        cmocka_unit_test(test_describe_platform),
        cmocka_unit_test(test_registry),
        cmocka_unit_test(test_amd_skipped_without_driver),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
