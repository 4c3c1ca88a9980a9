/* The amd collector against the fake librocm_smi64.so (ROCm 6-like and Debian 5.2.3-like),
 * loaded through IPW_ROCM_SMI_LIBRARY by ipw_collector_open: values and units, power and
 * temperature fallbacks, an energy counter that sticks or runs backwards, a GPU whose files
 * vanish for a while, and the ways opening fails. Also opens Debian's real library when it is
 * installed, which must fail cleanly on a machine without an AMD GPU. */
#include "ipw_test.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gpu_test_util.h"
#include "ipw/clock.h"
#include "telemetry/collector_priv.h"

#define ROCM_ENV "IPW_FAKE_ROCM_CONFIG"
#define LIB() gpu_fake_lib("rocm/librocm_smi64.so")
#define LIB523() gpu_fake_lib("rocm-523/librocm_smi64.so.1")

static int teardown(void **state)
{
    (void)state;
    gpu_script_cleanup();
    unsetenv(ROCM_ENV);
    return 0;
}

static struct ipw_collector *open_ok(const char *lib)
{
    struct ipw_collector *c = NULL;
    ipw_errbuf eb = {0};
    if (gpu_open("amd", NULL, lib, NULL, &c, &eb) != IPW_OK)
        fail_msg("open failed: %s", eb.msg);
    assert_string_equal(ipw_collector_name(c), "amd");
    return c;
}

static void test_two_gpus_values_and_units(void **state)
{
    (void)state;
    struct fake_config fc;
    int64_t epoch = ipw_mono_ns();
    gpu_script(ROCM_ENV, 'a', &fc, "epoch_ns = %lld\n", (long long)epoch);
    int64_t open0 = ipw_mono_ns();
    struct ipw_collector *c = open_ok(LIB());
    int64_t open1 = ipw_mono_ns();
    const struct ipw_collector_info *in = &c->info;
    assert_int_equal(in->ndev, 2);
    assert_string_equal(in->gpu_name, "AMD Instinct MI300X");
    assert_string_equal(in->gpu_vendor, "AMD");
    assert_string_equal(in->gpu_backend, "rocm_smi");
    assert_int_equal(in->gpu_device_id, 0x74a1);
    assert_string_equal(in->dev[1].uuid, "0x1d2c3b4a59687701");
    assert_double_equal(in->dev[0].mem_total_mb, 196592, 1e-9);
    assert_string_equal(in->notes, "");

    struct ipw_reading r;
    struct ipw_device_reading dev[2];
    ipw_errbuf eb = {0};
    ipw_sleep_until_ns(epoch + 200 * IPW_NS_PER_MS);
    assert_int_equal(ipw_collector_sample(c, &r, dev, &eb), IPW_OK);
    int64_t after = ipw_mono_ns();
    /* current socket power (µW), typed as current by rsmi_dev_power_get */
    assert_double_equal(r.v[IPW_M_GPU_POWER_W], 160.0, 1e-9);
    assert_int_equal(r.power_source, IPW_POWER_INSTANT);
    assert_int_equal(r.energy_source[IPW_DOMAIN_GPU], IPW_ENERGY_COUNTER);
    /* junction (edge + 10 in the fake), millidegrees -> °C, averaged */
    assert_double_equal(r.v[IPW_M_TEMPERATURE_C], 55.5, 1e-9);
    assert_double_equal(dev[1].v[IPW_DF_TEMPERATURE_C], 56, 1e-9);
    /* VRAM bytes -> MiB, summed */
    assert_double_equal(r.v[IPW_M_GPU_MEM_USED_MB], 1024 + 1536, 1e-6);
    assert_double_equal(r.v[IPW_M_GPU_MEM_TOTAL_MB], 2 * 196592, 1e-6);
    /* busy % and memory busy % averaged */
    assert_double_equal(r.v[IPW_M_GPU_UTIL_PCT], 35, 1e-9);
    assert_double_equal(r.v[IPW_M_GPU_MEMBW_UTIL_PCT], 22.5, 1e-9);
    assert_false(ipw_reading_has(&r, IPW_M_GPU_TENSOR_UTIL_PCT));
    /* energy: count × 15.3 µJ since open, the counters read between timestamp and return */
    double lo = gpu_truth_energy(&fc, 2, open1, r.mono_ns) - 2 * 15.3e-6;
    double hi = gpu_truth_energy(&fc, 2, open0, after) + 2 * 15.3e-6;
    if (r.v[IPW_M_GPU_ENERGY_J] < lo || r.v[IPW_M_GPU_ENERGY_J] > hi)
        fail_msg("energy %.6f J outside [%.6f, %.6f]", r.v[IPW_M_GPU_ENERGY_J], lo, hi);
    gpu_close(c);
}

static void test_rocm_523_averaged_power(void **state)
{
    (void)state;
    struct fake_config fc;
    int64_t epoch = ipw_mono_ns();
    gpu_script(ROCM_ENV, 'a', &fc, "epoch_ns = %lld\ndevices = 1\ndev0.power = 100:0.3,300\n",
               (long long)epoch);
    struct ipw_collector *c = open_ok(LIB523());
    assert_non_null(strstr(c->info.notes, "library without rsmi_dev_power_get"));
    struct ipw_reading r;
    ipw_errbuf eb = {0};
    ipw_sleep_until_ns(epoch + 500 * IPW_NS_PER_MS);
    assert_int_equal(ipw_collector_sample(c, &r, NULL, &eb), IPW_OK);
    int64_t after = ipw_mono_ns();
    assert_int_equal(r.power_source, IPW_POWER_AVERAGE);
    /* the 1 s mean, as of some moment between the timestamp and the return (it is rising) */
    double lo = wave_avg_power(&fc.dev[0].wave, gpu_secs(&fc, r.mono_ns), 1.0) - 0.001;
    double hi = wave_avg_power(&fc.dev[0].wave, gpu_secs(&fc, after), 1.0) + 0.001;
    assert_true(r.v[IPW_M_GPU_POWER_W] >= lo && r.v[IPW_M_GPU_POWER_W] <= hi);
    assert_int_equal(r.energy_source[IPW_DOMAIN_GPU], IPW_ENERGY_COUNTER);
    gpu_close(c);
}

static void test_edge_temperature_without_junction(void **state)
{
    (void)state;
    struct fake_config fc;
    gpu_script(ROCM_ENV, 'a', &fc, "temp_junction = off\n");
    struct ipw_collector *c = open_ok(LIB());
    assert_non_null(strstr(c->info.notes, "GPU 0,1: edge temperature"));
    struct ipw_reading r;
    ipw_errbuf eb = {0};
    assert_int_equal(ipw_collector_sample(c, &r, NULL, &eb), IPW_OK);
    assert_double_equal(r.v[IPW_M_TEMPERATURE_C], 45.5, 1e-9);
    gpu_close(c);
}

static int64_t at_s(const struct fake_config *fc, double secs)
{
    return fc->epoch_ns + (int64_t)(secs * 1e9);
}

/* Sample every 20 ms until `until_s` after the epoch; checks that energy never decreases and
 * returns the last reading and when its sample call returned. */
static int64_t run_until(struct ipw_collector *c, const struct fake_config *fc, double until_s,
                         struct ipw_reading *last, struct ipw_device_reading *dev)
{
    double prev = -1;
    int64_t next = ipw_mono_ns(), after = 0;
    while (gpu_secs(fc, next) < until_s) {
        ipw_sleep_until_ns(next);
        ipw_errbuf eb = {0};
        if (ipw_collector_sample(c, last, dev, &eb) != IPW_OK)
            fail_msg("tick failed: %s", eb.msg);
        after = ipw_mono_ns();
        assert_true(ipw_reading_has(last, IPW_M_GPU_ENERGY_J));
        assert_true(last->v[IPW_M_GPU_ENERGY_J] >= prev);
        prev = last->v[IPW_M_GPU_ENERGY_J];
        next += 20 * IPW_NS_PER_MS;
    }
    return after;
}

/* v must be what constant power w accumulates from open (somewhere in [open0, open1]) to the
 * moment of the reading (somewhere in [t0, t1]), within tol. */
static void assert_energy_since_open(double v, double w, int64_t open0, int64_t open1, int64_t t0,
                                     int64_t t1, double tol)
{
    double lo = w * (double)(t0 - open1) / 1e9 - tol, hi = w * (double)(t1 - open0) / 1e9 + tol;
    if (v < lo || v > hi)
        fail_msg("energy %.4f J outside [%.4f, %.4f] J", v, lo, hi);
}

static void test_counter_backwards_switches_to_integration(void **state)
{
    (void)state;
    struct fake_config fc;
    int64_t epoch = ipw_mono_ns();
    gpu_script(ROCM_ENV, 'a', &fc,
               "epoch_ns = %lld\ndev0.power = 200\ndev1.power = 100\ndev1.counter = "
               "backwards@0.3\n",
               (long long)epoch);
    int64_t open0 = ipw_mono_ns();
    struct ipw_collector *c = open_ok(LIB());
    int64_t open1 = ipw_mono_ns();
    struct ipw_reading r;
    struct ipw_device_reading dev[2];
    run_until(c, &fc, 0.25, &r, dev);
    assert_int_equal(r.energy_source[IPW_DOMAIN_GPU], IPW_ENERGY_COUNTER);
    int64_t after = run_until(c, &fc, 0.8, &r, dev);
    assert_int_equal(r.energy_source[IPW_DOMAIN_GPU], IPW_ENERGY_INTEGRATED);
    /* GPU 1 went on from its last good value by integrating a constant 100 W, which is exact;
     * GPU 0 kept its counter */
    assert_energy_since_open(dev[1].v[IPW_DF_ENERGY_J], 100, open0, open1, r.mono_ns, r.mono_ns,
                             0.01);
    assert_energy_since_open(dev[0].v[IPW_DF_ENERGY_J], 200, open0, open1, r.mono_ns, after, 0.01);
    gpu_close(c);
}

static void test_counter_stuck_switches_to_integration(void **state)
{
    (void)state;
    struct fake_config fc;
    int64_t epoch = ipw_mono_ns();
    gpu_script(ROCM_ENV, 'a', &fc,
               "epoch_ns = %lld\ndevices = 1\ndev0.power = 150\ndev0.counter = stick@0.2\n",
               (long long)epoch);
    int64_t open0 = ipw_mono_ns();
    struct ipw_collector *c = open_ok(LIB());
    int64_t open1 = ipw_mono_ns();
    struct ipw_reading r;
    struct ipw_device_reading dev[1];
    run_until(c, &fc, 1.5, &r, dev);
    /* stuck but not for long enough to be sure: the counter still stands at 0.2 s */
    assert_int_equal(r.energy_source[IPW_DOMAIN_GPU], IPW_ENERGY_COUNTER);
    assert_energy_since_open(r.v[IPW_M_GPU_ENERGY_J], 150, open0, open1, at_s(&fc, 0.2),
                             at_s(&fc, 0.2), 0.01);
    run_until(c, &fc, 2.6, &r, dev);
    assert_int_equal(r.energy_source[IPW_DOMAIN_GPU], IPW_ENERGY_INTEGRATED);
    /* the energy since the counter's last move is integrated (exact at constant power): the
     * reading is back on the truth, less what fell between the counter stopping and the tick
     * that last saw it move (at most one 20 ms tick) */
    assert_energy_since_open(r.v[IPW_M_GPU_ENERGY_J], 150, open0, open1, r.mono_ns, r.mono_ns,
                             150 * 0.020 + 0.01);
    gpu_close(c);
}

static void test_energy_unsupported_is_integrated(void **state)
{
    (void)state;
    struct fake_config fc;
    gpu_script(ROCM_ENV, 'a', &fc, "dev0.energy = off\n");
    struct ipw_collector *c = open_ok(LIB());
    assert_non_null(strstr(c->info.notes, "energy integrated from power on GPU 0 (energy "
                                          "counter: RSMI_STATUS_NOT_SUPPORTED"));
    struct ipw_reading r;
    ipw_errbuf eb = {0};
    ipw_sleep_ns(50 * IPW_NS_PER_MS);
    assert_int_equal(ipw_collector_sample(c, &r, NULL, &eb), IPW_OK);
    assert_int_equal(r.energy_source[IPW_DOMAIN_GPU], IPW_ENERGY_INTEGRATED);
    assert_true(r.v[IPW_M_GPU_ENERGY_J] > 0);
    gpu_close(c);
}

static void test_device_files_vanish_then_return(void **state)
{
    (void)state;
    struct fake_config fc;
    gpu_script(ROCM_ENV, 'a', &fc, "dev0.lost_at = 30\ndev0.lost_calls = 14\n");
    struct ipw_collector *c = open_ok(LIB());
    int failed = 0, ok_after = 0;
    for (int i = 0; i < 30 && ok_after < 3; i++) {
        struct ipw_reading r;
        struct ipw_device_reading dev[2];
        ipw_errbuf eb = {0};
        ipw_err e = ipw_collector_sample(c, &r, dev, &eb);
        assert_true(ipw_device_has(&dev[1], IPW_DF_POWER_W));
        if (e != IPW_OK) {
            assert_int_equal(e, IPW_E_IO);
            if (!strstr(eb.msg, "GPU 0") || !strstr(eb.msg, "RSMI_STATUS_FILE_ERROR"))
                fail_msg("unclear message: %s", eb.msg);
            failed++;
        } else if (failed) {
            ok_after++;
            assert_true(ipw_reading_has(&r, IPW_M_GPU_ENERGY_J));
        }
    }
    assert_true(failed >= 1);
    assert_int_equal(ok_after, 3);
    gpu_close(c);
}

static void test_open_failures_fall_through(void **state)
{
    (void)state;
    struct fake_config fc;
    struct ipw_collector *c = NULL;
    ipw_errbuf eb = {0};
    assert_int_equal(gpu_open("amd", NULL, "/nonexistent/librocm_smi64.so", NULL, &c, &eb),
                     IPW_E_NOTFOUND);
    assert_non_null(strstr(eb.msg, "IPW_ROCM_SMI_LIBRARY"));

    gpu_script(ROCM_ENV, 'a', &fc, "devices = 1\n");
    assert_int_equal(
        gpu_open("amd", NULL, gpu_fake_lib("rocm-nosym/librocm_smi64.so"), NULL, &c, &eb),
        IPW_E_NOTFOUND);
    assert_non_null(strstr(eb.msg, "rsmi_num_monitor_devices"));

    gpu_script(ROCM_ENV, 'a', &fc, "init_error = 8\n");
    assert_int_equal(gpu_open("amd", NULL, LIB(), NULL, &c, &eb), IPW_E_UNSUPPORTED);
    assert_non_null(strstr(eb.msg, "rsmi_init failed (RSMI_STATUS_INIT_ERROR"));
    assert_non_null(strstr(eb.msg, "amdgpu"));

    /* auto: nvidia (missing) and amd (init fails) are skipped with reasons, null remains */
    assert_int_equal(gpu_open("auto", NULL, LIB(), NULL, &c, &eb), IPW_OK);
    assert_string_equal(ipw_collector_name(c), "cpu-model"); /* no counter: the model */
    assert_non_null(strstr(c->detect_log, "nvidia: "));
    assert_non_null(strstr(c->detect_log, "amd: rsmi_init failed"));
    gpu_close(c);
}

/* Debian's librocm-smi64-1 (5.2.3), when installed: on a machine without AMD GPUs rsmi_init
 * fails and the collector must say so and let detection go on; with GPUs it must open. */
static void test_real_debian_library(void **state)
{
    (void)state;
    static const char *paths[] = {"/usr/lib/x86_64-linux-gnu/librocm_smi64.so.1",
                                  "/usr/lib/librocm_smi64.so.1", "/opt/rocm/lib/librocm_smi64.so",
                                  NULL};
    const char *lib = NULL;
    for (int i = 0; paths[i] && !lib; i++)
        if (access(paths[i], R_OK) == 0)
            lib = paths[i];
    if (!lib)
        skip();
    struct ipw_collector *c = NULL;
    ipw_errbuf eb = {0};
    ipw_err e = gpu_open("amd", NULL, lib, NULL, &c, &eb);
    if (e == IPW_OK) {
        assert_true(c->info.ndev >= 1);
        struct ipw_reading r;
        ipw_collector_sample(c, &r, NULL, &eb);
        gpu_close(c);
    } else {
        assert_null(c);
        assert_true(strstr(eb.msg, "rsmi_init failed") || strstr(eb.msg, "no AMD GPU"));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_two_gpus_values_and_units, teardown),
        cmocka_unit_test_teardown(test_rocm_523_averaged_power, teardown),
        cmocka_unit_test_teardown(test_edge_temperature_without_junction, teardown),
        cmocka_unit_test_teardown(test_counter_backwards_switches_to_integration, teardown),
        cmocka_unit_test_teardown(test_counter_stuck_switches_to_integration, teardown),
        cmocka_unit_test_teardown(test_energy_unsupported_is_integrated, teardown),
        cmocka_unit_test_teardown(test_device_files_vanish_then_return, teardown),
        cmocka_unit_test_teardown(test_open_failures_fall_through, teardown),
        cmocka_unit_test(test_real_debian_library),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
