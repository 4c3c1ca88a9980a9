/* The nvidia collector against the fake libnvidia-ml.so, loaded through IPW_NVML_LIBRARY by
 * ipw_collector_open like the real one: aggregation and per-device values, CUDA_VISIBLE_DEVICES,
 * the power / memory / GPM fallbacks, a GPU lost mid-run, and every way opening can fail. */
#include "ipw_test.h"

#include <stdlib.h>
#include <string.h>

#include "telemetry/gpu_select.h"
#include "gpu_test_util.h"
#include "ipw/clock.h"
#include "telemetry/collector_priv.h"

#define NVML_ENV "IPW_FAKE_NVML_CONFIG"
#define LIB() gpu_fake_lib("nvml/libnvidia-ml.so.1")
#define ROCM() gpu_fake_lib("rocm/librocm_smi64.so")

static int teardown(void **state)
{
    (void)state;
    gpu_script_cleanup();
    unsetenv(NVML_ENV);
    unsetenv("IPW_FAKE_ROCM_CONFIG");
    return 0;
}

static struct ipw_collector *open_ok(const char *lib, const char *visible)
{
    struct ipw_collector *c = NULL;
    ipw_errbuf eb = {0};
    ipw_err e = gpu_open("nvidia", lib, NULL, visible, &c, &eb);
    if (e != IPW_OK)
        fail_msg("open failed: %s", eb.msg);
    assert_string_equal(ipw_collector_name(c), "nvidia");
    return c;
}

/* Sample until t (monotonic); returns the last reading's result. */
static ipw_err sample_at(struct ipw_collector *c, int64_t t, struct ipw_reading *r,
                         struct ipw_device_reading *dev, ipw_errbuf *eb)
{
    ipw_sleep_until_ns(t);
    return ipw_collector_sample(c, r, dev, eb);
}

static void test_two_gpus_aggregated_and_per_device(void **state)
{
    (void)state;
    struct fake_config fc;
    int64_t epoch = ipw_mono_ns();
    gpu_script(NVML_ENV, 'n', &fc, "epoch_ns = %lld\n", (long long)epoch);
    struct ipw_collector *c = open_ok(LIB(), NULL);
    const struct ipw_collector_info *in = &c->info;
    assert_int_equal(in->ndev, 2);
    assert_int_equal(in->main_domain, IPW_DOMAIN_GPU);
    assert_string_equal(in->gpu_name, "NVIDIA H100 80GB HBM3");
    assert_string_equal(in->gpu_vendor, "NVIDIA");
    assert_string_equal(in->gpu_backend, "nvml");
    assert_string_equal(in->gpu_device_type, "discrete");
    assert_int_equal(in->gpu_device_id, 0x2330);
    for (unsigned k = 0; k < 2; k++) {
        assert_int_equal(in->dev[k].index, k);
        assert_string_equal(in->dev[k].uuid, fc.dev[k].uuid);
        assert_string_equal(in->dev[k].name, fc.dev[k].name);
        assert_double_equal(in->dev[k].mem_total_mb, 81559, 1e-9);
    }
    /* with every feature present there is nothing to note */
    assert_string_equal(in->notes, "");

    struct ipw_reading r;
    struct ipw_device_reading dev[2];
    ipw_errbuf eb = {0};
    assert_int_equal(sample_at(c, epoch + 200 * IPW_NS_PER_MS, &r, dev, &eb), IPW_OK);
    /* 0.2 s: dev0 at 100 W, dev1 at 60 W, instant (field 186) */
    assert_double_equal(r.v[IPW_M_GPU_POWER_W], 160.0, 1e-9);
    assert_int_equal(r.power_source, IPW_POWER_INSTANT);
    assert_double_equal(dev[0].v[IPW_DF_POWER_W], 100.0, 1e-9);
    assert_double_equal(dev[1].v[IPW_DF_POWER_W], 60.0, 1e-9);
    assert_true(ipw_reading_has(&r, IPW_M_GPU_ENERGY_J));
    assert_int_equal(r.energy_source[IPW_DOMAIN_GPU], IPW_ENERGY_COUNTER);
    assert_double_equal(r.v[IPW_M_GPU_ENERGY_J],
                        dev[0].v[IPW_DF_ENERGY_J] + dev[1].v[IPW_DF_ENERGY_J], 1e-9);
    /* summed memory, averaged temperature and utilization */
    assert_double_equal(r.v[IPW_M_TEMPERATURE_C], 45.5, 1e-9);
    assert_double_equal(r.v[IPW_M_GPU_MEM_USED_MB], 1024 + 1536, 1e-9);
    assert_double_equal(r.v[IPW_M_GPU_MEM_TOTAL_MB], 2 * 81559, 1e-9);
    assert_double_equal(r.v[IPW_M_GPU_UTIL_PCT], 35, 1e-9);
    assert_double_equal(dev[1].v[IPW_DF_TEMPERATURE_C], 46, 1e-9);
    assert_double_equal(dev[1].v[IPW_DF_MEM_USED_MB], 1536, 1e-9);
    assert_double_equal(dev[1].v[IPW_DF_UTIL_PCT], 40, 1e-9);
    assert_true(ipw_reading_has(&r, IPW_M_CPU_MEM_USED_MB));

    /* GPM needs two samples 100 ms apart: by 0.35 s both metrics are there */
    assert_int_equal(sample_at(c, epoch + 350 * IPW_NS_PER_MS, &r, dev, &eb), IPW_OK);
    assert_true(ipw_reading_has(&r, IPW_M_GPU_MEMBW_UTIL_PCT));
    assert_double_equal(r.v[IPW_M_GPU_MEMBW_UTIL_PCT], (12.5 + 13.5) / 2, 1e-9);
    assert_double_equal(r.v[IPW_M_GPU_TENSOR_UTIL_PCT], (40 + 41) / 2.0, 1e-9);

    /* 1.2 s: dev0 stepped to 300 W, dev1 to 250 W */
    assert_int_equal(sample_at(c, epoch + 1200 * IPW_NS_PER_MS, &r, dev, &eb), IPW_OK);
    assert_double_equal(r.v[IPW_M_GPU_POWER_W], 550.0, 1e-9);
    gpu_close(c);
}

static void test_cuda_visible_devices(void **state)
{
    (void)state;
    struct fake_config fc;
    gpu_script(NVML_ENV, 'n', &fc, "devices = 3\n");
    struct {
        const char *spec;
        unsigned n;
        unsigned first;
    } ok[] = {
        {NULL, 3, 0},      {"all", 3, 0},   {" ALL ", 3, 0},
        {"1", 1, 1},       {"2,0", 2, 2},   {"GPU-1114e2c8-1b3d-4f5a-9c7e-000000100001", 1, 1},
        {"GPU-222", 1, 2}, {"0004e", 1, 0}, {" 1 , GPU-0004 ", 2, 1},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        struct ipw_collector *c = open_ok(LIB(), ok[i].spec);
        assert_int_equal(c->info.ndev, ok[i].n);
        assert_int_equal(c->info.dev[0].index, ok[i].first);
        assert_string_equal(c->info.dev[0].uuid, fc.dev[ok[i].first].uuid);
        struct ipw_reading r;
        struct ipw_device_reading dev[3];
        ipw_errbuf eb = {0};
        assert_int_equal(ipw_collector_sample(c, &r, dev, &eb), IPW_OK);
        /* the aggregate covers exactly the selected GPUs */
        double t = 0;
        for (unsigned k = 0; k < c->info.ndev; k++)
            t += fc.dev[c->info.dev[k].index].temp_c;
        assert_double_equal(r.v[IPW_M_TEMPERATURE_C], t / c->info.ndev, 1e-9);
        gpu_close(c);
    }
    struct {
        const char *spec;
        ipw_err code;
        const char *says;
    } bad[] = {
        {"3", IPW_E_INVALID, "names GPU 3 but only 3 GPUs were found"},
        {"0,0", IPW_E_INVALID, "twice"},
        {"GPU-999", IPW_E_INVALID, "matches no GPU"},
        {"1,", IPW_E_INVALID, "empty entry"},
        {"MIG-4f1b2c3d-aaaa", IPW_E_INVALID, "MIG instance"},
        {"", IPW_E_NOTFOUND, "hides every GPU"},
        {"-1", IPW_E_NOTFOUND, "hides every GPU"},
        {"NoDevFiles", IPW_E_NOTFOUND, "hides every GPU"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct ipw_collector *c = NULL;
        ipw_errbuf eb = {0};
        assert_int_equal(gpu_open("nvidia", LIB(), NULL, bad[i].spec, &c, &eb), bad[i].code);
        assert_null(c);
        if (!strstr(eb.msg, bad[i].says) || !strstr(eb.msg, "CUDA_VISIBLE_DEVICES"))
            fail_msg("for '%s': %s", bad[i].spec, eb.msg);
    }
}

/* A MIG-sliced job: CUDA_VISIBLE_DEVICES names MIG instances, current (MIG-<uuid>, looked up
 * through NVML) or pre-R470 (MIG-GPU-<uuid>/<gi>/<ci>); each stands for its whole GPU, once. */
static void test_cuda_visible_devices_mig(void **state)
{
    (void)state;
    struct fake_config fc;
    gpu_script(NVML_ENV, 'n', &fc,
               "devices = 3\ndev1.mig = MIG-5e6f7a8b-1111-2222-3333-444455556666\n"
               "dev2.mig = MIG-9a8b7c6d-1111-2222-3333-444455556666\n");
    char legacy[160], mixed[160];
    snprintf(legacy, sizeof legacy, "MIG-%s/1/0", fc.dev[2].uuid);
    snprintf(mixed, sizeof mixed, "MIG-9a8b7c6d-1111-2222-3333-444455556666, %s/2/0,0", legacy);
    struct {
        const char *spec;
        unsigned n;
        unsigned idx[3];
    } ok[] = {
        {"MIG-5e6f7a8b-1111-2222-3333-444455556666", 1, {1}},
        {legacy, 1, {2}},
        /* two instances of GPU 2 (one per form) measure GPU 2 once; then GPU 0 */
        {mixed, 2, {2, 0}},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        struct ipw_collector *c = open_ok(LIB(), ok[i].spec);
        assert_int_equal(c->info.ndev, ok[i].n);
        for (unsigned k = 0; k < ok[i].n; k++)
            assert_int_equal(c->info.dev[k].index, ok[i].idx[k]);
        gpu_close(c);
    }
    struct ipw_collector *c = NULL;
    ipw_errbuf eb = {0};
    assert_int_equal(gpu_open("nvidia", LIB(), NULL, "MIG-00000000-dead-beef-0000-000000000000",
                              &c, &eb),
                     IPW_E_INVALID);
    assert_null(c);
    if (!strstr(eb.msg, "names no MIG instance NVML knows") || !strstr(eb.msg, "Not Found"))
        fail_msg("unknown MIG instance: %s", eb.msg);
}

static void test_gpu_select_prefixes(void **state)
{
    (void)state;
    const char *uuids[] = {"GPU-abc1", "GPU-abd2", "GPU-ffff", ""};
    unsigned sel[8], n;
    ipw_errbuf eb = {0};
    assert_int_equal(ipw_gpu_select("V", "GPU-ab", 4, uuids, sel, &n, 8, &eb), IPW_E_INVALID);
    assert_non_null(strstr(eb.msg, "more than one GPU"));
    assert_int_equal(ipw_gpu_select("V", "abd", 4, uuids, sel, &n, 8, &eb), IPW_OK);
    assert_int_equal(n, 1);
    assert_int_equal(sel[0], 1);
    assert_int_equal(ipw_gpu_select("V", "gpu-FFFF,3", 4, uuids, sel, &n, 8, &eb), IPW_OK);
    assert_int_equal(n, 2);
    assert_int_equal(sel[0], 2);
    assert_int_equal(sel[1], 3);
    assert_int_equal(ipw_gpu_select("V", "0,1,2", 4, uuids, sel, &n, 2, &eb), IPW_E_NOMEM);
    assert_int_equal(ipw_gpu_select("V", "99999999999999999999", 4, uuids, sel, &n, 8, &eb),
                     IPW_E_INVALID);
}

static void test_instant_power_falls_back_to_average(void **state)
{
    (void)state;
    struct fake_config fc;
    int64_t epoch = ipw_mono_ns();
    /* a step at 0.3 s: instant power shows it at once, the 1 s average only partly */
    gpu_script(NVML_ENV, 'n', &fc,
               "epoch_ns = %lld\ndevices = 1\nfield186 = off\ndev0.power = 100:0.3,300\n",
               (long long)epoch);
    struct ipw_collector *c = open_ok(LIB(), NULL);
    assert_non_null(strstr(c->info.notes, "instant power unavailable"));
    struct ipw_reading r;
    ipw_errbuf eb = {0};
    assert_int_equal(sample_at(c, epoch + 500 * IPW_NS_PER_MS, &r, NULL, &eb), IPW_OK);
    int64_t after = ipw_mono_ns();
    assert_int_equal(r.power_source, IPW_POWER_AVERAGE);
    /* the 1 s mean as of some moment between the timestamp and the return (it is rising) */
    double lo = wave_avg_power(&fc.dev[0].wave, gpu_secs(&fc, r.mono_ns), 1.0) - 0.001;
    double hi = wave_avg_power(&fc.dev[0].wave, gpu_secs(&fc, after), 1.0) + 0.001;
    assert_true(r.v[IPW_M_GPU_POWER_W] >= lo && r.v[IPW_M_GPU_POWER_W] <= hi);
    assert_true(r.v[IPW_M_GPU_POWER_W] < 250);
    gpu_close(c);

    /* field 186 works at open, then starts failing: the collector moves to the average
     * without a failed tick */
    epoch = ipw_mono_ns();
    gpu_script(NVML_ENV, 'n', &fc,
               "epoch_ns = %lld\ndevices = 1\nfield186_until_s = 0.4\ndev0.power = 100:0.3,300\n",
               (long long)epoch);
    c = open_ok(LIB(), NULL);
    assert_string_equal(c->info.notes, "");
    assert_int_equal(sample_at(c, epoch + 50 * IPW_NS_PER_MS, &r, NULL, &eb), IPW_OK);
    assert_int_equal(r.power_source, IPW_POWER_INSTANT);
    for (int i = 0; i < 6; i++) {
        assert_int_equal(sample_at(c, epoch + (450 + 60 * i) * IPW_NS_PER_MS, &r, NULL, &eb),
                         IPW_OK);
        assert_int_equal(r.power_source, IPW_POWER_AVERAGE);
        assert_true(ipw_reading_has(&r, IPW_M_GPU_POWER_W));
    }
    gpu_close(c);
}

static void test_memory_v2_then_v1(void **state)
{
    (void)state;
    struct fake_config fc;
    gpu_script(NVML_ENV, 'n', &fc, "memory_v2 = off\n");
    struct ipw_collector *c = open_ok(LIB(), NULL);
    assert_non_null(strstr(c->info.notes, "nvmlDeviceGetMemoryInfo v1"));
    struct ipw_reading r;
    struct ipw_device_reading dev[2];
    ipw_errbuf eb = {0};
    assert_int_equal(ipw_collector_sample(c, &r, dev, &eb), IPW_OK);
    /* v1 counts the driver's 512 MiB reservation as used; v2 reports it apart */
    assert_double_equal(r.v[IPW_M_GPU_MEM_USED_MB], 1024 + 512 + 1536 + 512, 1e-9);
    assert_double_equal(dev[0].v[IPW_DF_MEM_TOTAL_MB], 81559, 1e-9);
    gpu_close(c);

    gpu_script(NVML_ENV, 'n', &fc, "memory_v2 = on\n");
    c = open_ok(LIB(), NULL);
    assert_int_equal(ipw_collector_sample(c, &r, dev, &eb), IPW_OK);
    assert_double_equal(r.v[IPW_M_GPU_MEM_USED_MB], 1024 + 1536, 1e-9);
    gpu_close(c);
}

static void test_gpm_absent_is_unavailable(void **state)
{
    (void)state;
    struct fake_config fc;
    gpu_script(NVML_ENV, 'n', &fc, "gpm = off\n");
    struct ipw_collector *c = open_ok(LIB(), NULL);
    assert_non_null(strstr(c->info.notes, "no GPM"));
    struct ipw_reading r;
    ipw_errbuf eb = {0};
    for (int i = 0; i < 3; i++) {
        assert_int_equal(ipw_collector_sample(c, &r, NULL, &eb), IPW_OK);
        assert_false(ipw_reading_has(&r, IPW_M_GPU_MEMBW_UTIL_PCT));
        assert_double_equal(ipw_reading_value_or_sentinel(&r, IPW_M_GPU_TENSOR_UTIL_PCT), -1, 0);
        ipw_sleep_ns(120 * IPW_NS_PER_MS);
    }
    gpu_close(c);
}

static void test_legacy_library_unversioned_names(void **state)
{
    (void)state;
    struct fake_config fc;
    gpu_script(NVML_ENV, 'n', &fc, "devices = 1\n");
    struct ipw_collector *c = open_ok(gpu_fake_lib("nvml-legacy/libnvidia-ml.so.1"), NULL);
    assert_int_equal(c->info.ndev, 1);
    assert_int_equal(c->info.gpu_device_id, 0x2330); /* through nvmlDeviceGetPciInfo (v1) */
    assert_non_null(strstr(c->info.notes, "using nvmlDeviceGetPowerUsage"));
    assert_non_null(strstr(c->info.notes, "v1"));
    assert_non_null(strstr(c->info.notes, "no GPM"));
    struct ipw_reading r;
    ipw_errbuf eb = {0};
    assert_int_equal(ipw_collector_sample(c, &r, NULL, &eb), IPW_OK);
    assert_int_equal(r.power_source, IPW_POWER_AVERAGE);
    assert_true(ipw_reading_has(&r, IPW_M_GPU_ENERGY_J));
    assert_double_equal(r.v[IPW_M_GPU_MEM_USED_MB], 1024 + 512, 1e-9);
    gpu_close(c);
}

static void test_energy_unsupported_is_integrated(void **state)
{
    (void)state;
    struct fake_config fc;
    int64_t epoch = ipw_mono_ns();
    gpu_script(NVML_ENV, 'n', &fc, "epoch_ns = %lld\ndev1.energy = off\ndev1.power = 200\n",
               (long long)epoch);
    struct ipw_collector *c = open_ok(LIB(), NULL);
    assert_non_null(strstr(c->info.notes, "energy integrated from power on GPU 1 (energy "
                                          "counter: Not Supported)"));
    struct ipw_reading r0, r1;
    struct ipw_device_reading d0[2], d1[2];
    ipw_errbuf eb = {0};
    assert_int_equal(sample_at(c, epoch + 100 * IPW_NS_PER_MS, &r0, d0, &eb), IPW_OK);
    int64_t after0 = ipw_mono_ns();
    assert_int_equal(sample_at(c, epoch + 400 * IPW_NS_PER_MS, &r1, d1, &eb), IPW_OK);
    int64_t after1 = ipw_mono_ns();
    assert_int_equal(r1.energy_source[IPW_DOMAIN_GPU], IPW_ENERGY_INTEGRATED);
    /* constant 200 W: the trapezoid over the reading timestamps is exact */
    double dt = (double)(r1.mono_ns - r0.mono_ns) / 1e9;
    assert_double_equal(d1[1].v[IPW_DF_ENERGY_J] - d0[1].v[IPW_DF_ENERGY_J], 200 * dt, 1e-6);
    /* GPU 0 still uses its counter (100 W, whole mJ), read between timestamp and return */
    double e0 = d1[0].v[IPW_DF_ENERGY_J] - d0[0].v[IPW_DF_ENERGY_J];
    assert_true(e0 >= 100 * (double)(r1.mono_ns - after0) / 1e9 - 0.002);
    assert_true(e0 <= 100 * (double)(after1 - r0.mono_ns) / 1e9 + 0.002);
    gpu_close(c);
}

/* GPU 1 is lost for a stretch of calls: its values vanish, GPU 0 carries on, the collector
 * reports IPW_E_LOST each such tick and recovers by itself. */
static void test_gpu_lost_mid_run_recovers(void **state)
{
    (void)state;
    struct fake_config fc;
    int64_t epoch = ipw_mono_ns();
    gpu_script(NVML_ENV, 'n', &fc, "epoch_ns = %lld\ndev1.lost_at = 40\ndev1.lost_calls = 12\n",
               (long long)epoch);
    struct ipw_collector *c = open_ok(LIB(), NULL);
    int lost = 0, ok_after = 0;
    double last_e1 = -1;
    for (int i = 0; i < 40 && ok_after < 3; i++) {
        struct ipw_reading r;
        struct ipw_device_reading dev[2];
        ipw_errbuf eb = {0};
        ipw_err e = ipw_collector_sample(c, &r, dev, &eb);
        assert_true(ipw_device_has(&dev[0], IPW_DF_POWER_W)); /* GPU 0 is unaffected */
        if (e == IPW_E_LOST) {
            lost++;
            if (!strstr(eb.msg, "GPU 1") || !strstr(eb.msg, "lost") ||
                !strstr(eb.msg, fc.dev[1].uuid))
                fail_msg("unclear message: %s", eb.msg);
            assert_int_equal(dev[1].valid, 0);
            assert_false(ipw_reading_has(&r, IPW_M_GPU_POWER_W));
            assert_false(ipw_reading_has(&r, IPW_M_GPU_ENERGY_J));
        } else {
            assert_int_equal(e, IPW_OK);
            if (lost)
                ok_after++;
            /* energy of GPU 1 stays monotonic across the loss and matches its counter */
            assert_true(dev[1].v[IPW_DF_ENERGY_J] >= last_e1);
            last_e1 = dev[1].v[IPW_DF_ENERGY_J];
        }
        ipw_sleep_ns(5 * IPW_NS_PER_MS);
    }
    assert_true(lost >= 1);
    assert_int_equal(ok_after, 3);
    assert_true(c->failures >= (uint64_t)lost);
    assert_non_null(strstr(ipw_collector_last_error(c), "GPU 1"));
    gpu_close(c);

    /* lost for good: every tick fails for that GPU, none crashes, GPU 0 keeps its values */
    gpu_script(NVML_ENV, 'n', &fc, "dev1.lost_at = 30\ndev1.lost_calls = -1\n");
    c = open_ok(LIB(), NULL);
    int fails = 0;
    for (int i = 0; i < 20; i++) {
        struct ipw_reading r;
        struct ipw_device_reading dev[2];
        ipw_errbuf eb = {0};
        if (ipw_collector_sample(c, &r, dev, &eb) == IPW_E_LOST) {
            fails++;
            assert_true(ipw_device_has(&dev[0], IPW_DF_ENERGY_J));
        }
    }
    assert_true(fails >= 15);
    assert_non_null(strstr(ipw_collector_last_error(c), "still lost"));
    gpu_close(c);
}

static void test_open_failures_fall_through(void **state)
{
    (void)state;
    struct fake_config fc;
    struct ipw_collector *c = NULL;
    ipw_errbuf eb = {0};

    /* library missing */
    assert_int_equal(gpu_open("nvidia", "/nonexistent/libnvidia-ml.so.1", NULL, NULL, &c, &eb),
                     IPW_E_NOTFOUND);
    assert_non_null(strstr(eb.msg, "IPW_NVML_LIBRARY=/nonexistent/libnvidia-ml.so.1"));

    /* a required symbol missing */
    gpu_script(NVML_ENV, 'n', &fc, "devices = 1\n");
    assert_int_equal(
        gpu_open("nvidia", gpu_fake_lib("nvml-nosym/libnvidia-ml.so.1"), NULL, NULL, &c, &eb),
        IPW_E_NOTFOUND);
    assert_non_null(strstr(eb.msg, "nvmlDeviceGetCount_v2 or nvmlDeviceGetCount"));

    /* nvmlInit failing */
    gpu_script(NVML_ENV, 'n', &fc, "init_error = 9\n");
    assert_int_equal(gpu_open("nvidia", LIB(), NULL, NULL, &c, &eb), IPW_E_UNSUPPORTED);
    assert_non_null(strstr(eb.msg, "Driver Not Loaded"));
    assert_non_null(strstr(eb.msg, "modprobe nvidia"));
    assert_null(c);

    /* auto-detection moves on to the AMD collector and says why */
    struct fake_config rc;
    gpu_script("IPW_FAKE_ROCM_CONFIG", 'a', &rc, "devices = 1\n");
    assert_int_equal(gpu_open("auto", LIB(), ROCM(), NULL, &c, &eb), IPW_OK);
    assert_string_equal(ipw_collector_name(c), "amd");
    assert_non_null(strstr(c->detect_log, "nvidia: nvmlInit failed (Driver Not Loaded"));
    gpu_close(c);

    /* ... and past a missing library and a bad CUDA_VISIBLE_DEVICES too */
    assert_int_equal(gpu_open("auto", NULL, ROCM(), NULL, &c, &eb), IPW_OK);
    assert_non_null(strstr(c->detect_log, "nvidia: "));
    assert_non_null(strstr(c->detect_log, "cannot load the NVIDIA management library"));
    gpu_close(c);
    gpu_script(NVML_ENV, 'n', &fc, "devices = 2\n");
    assert_int_equal(gpu_open("auto", LIB(), NULL, "7", &c, &eb), IPW_OK);
    assert_string_equal(ipw_collector_name(c), "cpu-model"); /* no counter: the model */
    assert_non_null(strstr(c->detect_log, "CUDA_VISIBLE_DEVICES entry '7'"));
    gpu_close(c);

    /* with a working fake, auto picks nvidia */
    assert_int_equal(gpu_open("auto", LIB(), ROCM(), NULL, &c, &eb), IPW_OK);
    assert_string_equal(ipw_collector_name(c), "nvidia");
    gpu_close(c);

    /* a forced collector that fails says which */
    gpu_script(NVML_ENV, 'n', &fc, "init_error = 18\n");
    assert_int_equal(gpu_open("nvml", LIB(), NULL, NULL, &c, &eb), IPW_E_UNSUPPORTED);
    assert_non_null(strstr(eb.msg, "collector nvidia"));
    assert_non_null(strstr(eb.msg, "reboot or reload the driver"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_two_gpus_aggregated_and_per_device, teardown),
        cmocka_unit_test_teardown(test_cuda_visible_devices, teardown),
        cmocka_unit_test_teardown(test_cuda_visible_devices_mig, teardown),
        cmocka_unit_test(test_gpu_select_prefixes),
        cmocka_unit_test_teardown(test_instant_power_falls_back_to_average, teardown),
        cmocka_unit_test_teardown(test_memory_v2_then_v1, teardown),
        cmocka_unit_test_teardown(test_gpm_absent_is_unavailable, teardown),
        cmocka_unit_test_teardown(test_legacy_library_unversioned_names, teardown),
        cmocka_unit_test_teardown(test_energy_unsupported_is_integrated, teardown),
        cmocka_unit_test_teardown(test_gpu_lost_mid_run_recovers, teardown),
        cmocka_unit_test_teardown(test_open_failures_fall_through, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
