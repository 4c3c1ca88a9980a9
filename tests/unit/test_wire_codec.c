/* The wire mapping (src/monitor/wire.c): reading -> TelemetryReading -> reading, the -1
 * sentinel, main-domain mapping and the identity fields. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ipw_test.h"
#include "wire/codec.h"

static void info_for(struct ipw_collector_info *info, const char *platform, ipw_domain main,
                     unsigned ndev)
{
    memset(info, 0, sizeof *info);
    snprintf(info->platform, sizeof info->platform, "%s", platform);
    info->main_domain = main;
    snprintf(info->gpu_name, sizeof info->gpu_name, "NVIDIA H100 80GB HBM3");
    snprintf(info->gpu_vendor, sizeof info->gpu_vendor, "NVIDIA");
    info->gpu_device_id = 0x2330;
    snprintf(info->gpu_device_type, sizeof info->gpu_device_type, "discrete");
    snprintf(info->gpu_backend, sizeof info->gpu_backend, "nvml");
    info->ndev = ndev;
    for (unsigned i = 0; i < ndev; i++) {
        info->dev[i].index = i;
        snprintf(info->dev[i].uuid, sizeof info->dev[i].uuid, "GPU-%u", i);
        snprintf(info->dev[i].name, sizeof info->dev[i].name, "H100 #%u", i);
        info->dev[i].mem_total_mb = 81559;
    }
}

static Energy__TelemetryReading *encode(const struct ipw_reading *r,
                                        const struct ipw_device_reading *dev,
                                        const struct ipw_collector_info *info,
                                        const struct ipw_system_info *si)
{
    struct ipw_buf b = {.max = 1 << 20};
    assert_true(ipw_wire_encode_reading(r, dev, info, si, &b));
    Energy__TelemetryReading *m = energy__telemetry_reading__unpack(NULL, b.len, (const uint8_t *)b.p);
    ipw_buf_free(&b);
    assert_non_null(m);
    return m;
}

static void test_full_round_trip(void **state)
{
    (void)state;
    struct ipw_collector_info info;
    info_for(&info, "nvidia", IPW_DOMAIN_GPU, 2);
    struct ipw_system_info si = {0};
    snprintf(si.os_name, sizeof si.os_name, "Debian GNU/Linux");
    snprintf(si.cpu_brand, sizeof si.cpu_brand, "AMD EPYC 9654");
    si.cpu_count = 192;
    struct ipw_reading r;
    ipw_reading_clear(&r);
    r.real_ns = 1700000000123456789LL;
    r.sequence = 77;
    for (int m = 0; m < IPW_M_COUNT; m++)
        ipw_reading_set(&r, (ipw_metric)m, 10.0 + m);
    struct ipw_device_reading dev[2] = {0};
    for (int i = 0; i < 2; i++)
        for (int f = 0; f < IPW_DF_COUNT; f++)
            ipw_device_set(&dev[i], (enum ipw_device_field)f, 100.0 * (i + 1) + f);

    Energy__TelemetryReading *m = encode(&r, dev, &info, &si);
    assert_double_equal(m->power_watts, 10.0 + IPW_M_GPU_POWER_W, 0);
    assert_double_equal(m->energy_joules, 10.0 + IPW_M_GPU_ENERGY_J, 0);
    assert_double_equal(m->cpu_energy_joules, 10.0 + IPW_M_CPU_ENERGY_J, 0);
    assert_double_equal(m->dram_energy_joules, 10.0 + IPW_M_DRAM_ENERGY_J, 0);
    assert_double_equal(m->gpu_tensor_core_utilization_pct, 10.0 + IPW_M_GPU_TENSOR_UTIL_PCT, 0);
    assert_string_equal(m->platform, "nvidia");
    assert_true(m->timestamp_nanos == 1700000000123456789LL);
    assert_true(m->sequence == 77);
    assert_string_equal(m->system_info->cpu_brand, "AMD EPYC 9654");
    assert_int_equal(m->system_info->cpu_count, 192);
    assert_string_equal(m->gpu_info->name, "NVIDIA H100 80GB HBM3");
    assert_true(m->gpu_info->device_id == 0x2330);
    assert_int_equal(m->n_devices, 2);
    assert_string_equal(m->devices[1]->uuid, "GPU-1");
    assert_int_equal(m->devices[1]->index, 1);
    assert_double_equal(m->devices[1]->energy_joules, 200.0 + IPW_DF_ENERGY_J, 0);

    struct ipw_reading back;
    struct ipw_device_reading bdev[4];
    unsigned nd = 0;
    ipw_wire_decode_reading(m, IPW_DOMAIN_GPU, &back, bdev, 4, &nd);
    assert_int_equal(nd, 2);
    for (int k = 0; k < IPW_M_COUNT; k++) {
        assert_true(ipw_reading_has(&back, (ipw_metric)k));
        assert_double_equal(back.v[k], 10.0 + k, 0);
    }
    assert_double_equal(bdev[0].v[IPW_DF_UTIL_PCT], 100.0 + IPW_DF_UTIL_PCT, 0);

    struct ipw_collector_info bi;
    struct ipw_system_info bs;
    ipw_wire_decode_info(m, &bi, &bs);
    assert_string_equal(bi.platform, "nvidia");
    assert_int_equal(bi.main_domain, IPW_DOMAIN_GPU);
    assert_int_equal(bi.ndev, 2);
    assert_string_equal(bi.dev[0].name, "H100 #0");
    assert_string_equal(bs.os_name, "Debian GNU/Linux");
    energy__telemetry_reading__free_unpacked(m, NULL);
}

/* Unavailable values go out as -1 and come back unavailable. */
static void test_sentinel(void **state)
{
    (void)state;
    struct ipw_collector_info info;
    info_for(&info, "null", IPW_DOMAIN_CPU, 0);
    struct ipw_reading r;
    ipw_reading_clear(&r);
    ipw_reading_set(&r, IPW_M_CPU_MEM_USED_MB, 512);
    Energy__TelemetryReading *m = encode(&r, NULL, &info, NULL);
    assert_double_equal(m->power_watts, -1, 0);
    assert_double_equal(m->energy_joules, -1, 0);
    assert_double_equal(m->temperature_celsius, -1, 0);
    assert_double_equal(m->gpu_memory_total_mb, -1, 0);
    assert_double_equal(m->cpu_memory_usage_mb, 512, 0);
    assert_null(m->system_info);
    struct ipw_reading back;
    ipw_wire_decode_reading(m, IPW_DOMAIN_CPU, &back, NULL, 0, NULL);
    assert_int_equal(back.valid, 1u << IPW_M_CPU_MEM_USED_MB);
    energy__telemetry_reading__free_unpacked(m, NULL);
}

/* On a rapl platform energy_joules is the CPU package, and decodes back into the CPU domain. */
static void test_main_domain_cpu(void **state)
{
    (void)state;
    struct ipw_collector_info info;
    info_for(&info, "rapl", IPW_DOMAIN_CPU, 0);
    info.gpu_name[0] = '\0';
    struct ipw_reading r;
    ipw_reading_clear(&r);
    ipw_reading_set(&r, IPW_M_CPU_POWER_W, 65);
    ipw_reading_set(&r, IPW_M_CPU_ENERGY_J, 1234.5);
    Energy__TelemetryReading *m = encode(&r, NULL, &info, NULL);
    assert_double_equal(m->energy_joules, 1234.5, 0);
    assert_double_equal(m->power_watts, 65, 0);
    struct ipw_collector_info bi;
    ipw_wire_decode_info(m, &bi, NULL);
    assert_string_equal(bi.platform, "rapl");
    ipw_collector_describe_platform(bi.platform, bi.gpu_name, &bi.caps, &bi.main_domain);
    assert_int_equal(bi.main_domain, IPW_DOMAIN_CPU);
    struct ipw_reading back;
    ipw_wire_decode_reading(m, bi.main_domain, &back, NULL, 0, NULL);
    assert_false(ipw_reading_has(&back, IPW_M_GPU_ENERGY_J));
    assert_double_equal(back.v[IPW_M_CPU_ENERGY_J], 1234.5, 0);
    energy__telemetry_reading__free_unpacked(m, NULL);
}

/* Other negatives and NaN from a foreign monitor are "unavailable" too; devices past the
 * caller's room are ignored. */
static void test_decode_hostile_values(void **state)
{
    (void)state;
    Energy__TelemetryReading m = ENERGY__TELEMETRY_READING__INIT;
    Energy__DeviceReading d = ENERGY__DEVICE_READING__INIT, *dp[3] = {&d, &d, &d};
    m.power_watts = -5;
    m.energy_joules = NAN;
    m.temperature_celsius = INFINITY;
    m.cpu_memory_usage_mb = 0;
    d.power_watts = -1;
    d.energy_joules = 3;
    m.n_devices = 3;
    m.devices = dp;
    struct ipw_reading r;
    struct ipw_device_reading dev[2];
    unsigned nd;
    ipw_wire_decode_reading(&m, IPW_DOMAIN_GPU, &r, dev, 2, &nd);
    assert_int_equal(nd, 2);
    assert_false(ipw_reading_has(&r, IPW_M_GPU_POWER_W));
    assert_false(ipw_reading_has(&r, IPW_M_GPU_ENERGY_J));
    assert_false(ipw_reading_has(&r, IPW_M_TEMPERATURE_C));
    assert_true(ipw_reading_has(&r, IPW_M_CPU_MEM_USED_MB)); /* 0 is a value */
    assert_false(ipw_device_has(&dev[1], IPW_DF_POWER_W));
    assert_double_equal(dev[1].v[IPW_DF_ENERGY_J], 3, 0);
}

/* A full house of devices still encodes within the message limit. */
static void test_max_devices(void **state)
{
    (void)state;
    struct ipw_collector_info *info = calloc(1, sizeof *info);
    info_for(info, "nvidia", IPW_DOMAIN_GPU, IPW_MAX_DEVICES);
    struct ipw_device_reading dev[IPW_MAX_DEVICES] = {0};
    struct ipw_reading r;
    ipw_reading_clear(&r);
    Energy__TelemetryReading *m = encode(&r, dev, info, NULL);
    assert_int_equal(m->n_devices, IPW_MAX_DEVICES);
    energy__telemetry_reading__free_unpacked(m, NULL);
    free(info);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_round_trip), cmocka_unit_test(test_sentinel),
        cmocka_unit_test(test_main_domain_cpu),
        cmocka_unit_test(test_decode_hostile_values), cmocka_unit_test(test_max_devices),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
