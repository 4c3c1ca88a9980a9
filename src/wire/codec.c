/* TelemetryReading <-> struct ipw_reading (SPEC §2.1). Encoding allocates nothing: the message
 * is built on the stack and packed straight into the caller's buffer. */
#include "wire/codec.h"

#include <stdio.h>
#include <string.h>

static double val(const struct ipw_reading *r, ipw_metric m)
{
    return ipw_reading_value_or_sentinel(r, m);
}

static double dval(const struct ipw_device_reading *d, enum ipw_device_field f)
{
    return ipw_device_has(d, f) ? d->v[f] : -1.0;
}

bool ipw_wire_encode_reading(const struct ipw_reading *r, const struct ipw_device_reading *dev,
                             const struct ipw_collector_info *info,
                             const struct ipw_system_info *si, struct ipw_buf *out)
{
    Energy__TelemetryReading m = ENERGY__TELEMETRY_READING__INIT;
    Energy__SystemInfo sys = ENERGY__SYSTEM_INFO__INIT;
    Energy__GpuInfo gpu = ENERGY__GPU_INFO__INIT;
    Energy__DeviceReading devs[IPW_MAX_DEVICES];
    Energy__DeviceReading *devp[IPW_MAX_DEVICES];
    ipw_domain main = info->main_domain;

    m.power_watts = val(r, ipw_domain_power_metric(main));
    m.energy_joules = val(r, ipw_domain_energy_metric(main));
    m.temperature_celsius = val(r, IPW_M_TEMPERATURE_C);
    m.gpu_memory_usage_mb = val(r, IPW_M_GPU_MEM_USED_MB);
    m.cpu_memory_usage_mb = val(r, IPW_M_CPU_MEM_USED_MB);
    m.platform = (char *)info->platform;
    m.timestamp_nanos = r->real_ns;
    m.cpu_power_watts = val(r, IPW_M_CPU_POWER_W);
    m.cpu_energy_joules = val(r, IPW_M_CPU_ENERGY_J);
    m.ane_power_watts = val(r, IPW_M_ANE_POWER_W);
    m.ane_energy_joules = val(r, IPW_M_ANE_ENERGY_J);
    m.gpu_compute_utilization_pct = val(r, IPW_M_GPU_UTIL_PCT);
    m.gpu_memory_bandwidth_utilization_pct = val(r, IPW_M_GPU_MEMBW_UTIL_PCT);
    m.gpu_tensor_core_utilization_pct = val(r, IPW_M_GPU_TENSOR_UTIL_PCT);
    m.gpu_memory_total_mb = val(r, IPW_M_GPU_MEM_TOTAL_MB);
    m.dram_power_watts = val(r, IPW_M_DRAM_POWER_W);
    m.dram_energy_joules = val(r, IPW_M_DRAM_ENERGY_J);
    m.sequence = r->sequence;

    if (si) {
        sys.os_name = (char *)si->os_name;
        sys.os_version = (char *)si->os_version;
        sys.kernel_version = (char *)si->kernel_version;
        sys.host_name = (char *)si->host_name;
        sys.cpu_count = si->cpu_count;
        sys.cpu_brand = (char *)si->cpu_brand;
        m.system_info = &sys;
    }
    gpu.name = (char *)info->gpu_name;
    gpu.vendor = (char *)info->gpu_vendor;
    gpu.device_id = info->gpu_device_id;
    gpu.device_type = (char *)info->gpu_device_type;
    gpu.backend = (char *)info->gpu_backend;
    m.gpu_info = &gpu;

    unsigned ndev = dev ? info->ndev : 0;
    if (ndev > IPW_MAX_DEVICES)
        ndev = IPW_MAX_DEVICES;
    for (unsigned i = 0; i < ndev; i++) {
        Energy__DeviceReading *d = &devs[i];
        energy__device_reading__init(d);
        d->index = info->dev[i].index;
        d->uuid = (char *)info->dev[i].uuid;
        d->name = (char *)info->dev[i].name;
        d->power_watts = dval(&dev[i], IPW_DF_POWER_W);
        d->energy_joules = dval(&dev[i], IPW_DF_ENERGY_J);
        d->temperature_celsius = dval(&dev[i], IPW_DF_TEMPERATURE_C);
        d->memory_used_mb = dval(&dev[i], IPW_DF_MEM_USED_MB);
        d->memory_total_mb = ipw_device_has(&dev[i], IPW_DF_MEM_TOTAL_MB)
                                 ? dev[i].v[IPW_DF_MEM_TOTAL_MB]
                                 : (info->dev[i].mem_total_mb >= 0 ? info->dev[i].mem_total_mb
                                                                   : -1.0);
        d->utilization_pct = dval(&dev[i], IPW_DF_UTIL_PCT);
        devp[i] = d;
    }
    m.n_devices = ndev;
    m.devices = ndev ? devp : NULL;

    size_t need = energy__telemetry_reading__get_packed_size(&m);
    if (ipw_buf_reserve(out, need) != IPW_OK)
        return false;
    ipw_buf_commit(out, energy__telemetry_reading__pack(&m, (uint8_t *)out->p + out->len));
    return true;
}

static void put(struct ipw_reading *r, ipw_metric m, double v)
{
    /* -1 is the sentinel; any negative or non-finite value is no reading at all */
    if (v >= 0 && v < 1e300)
        ipw_reading_set(r, m, v);
}

static void dput(struct ipw_device_reading *d, enum ipw_device_field f, double v)
{
    if (v >= 0 && v < 1e300)
        ipw_device_set(d, f, v);
}

void ipw_wire_decode_reading(const Energy__TelemetryReading *m, ipw_domain main,
                             struct ipw_reading *r, struct ipw_device_reading *dev,
                             unsigned maxdev, unsigned *ndev)
{
    ipw_reading_clear(r);
    put(r, IPW_M_TEMPERATURE_C, m->temperature_celsius);
    put(r, IPW_M_GPU_MEM_USED_MB, m->gpu_memory_usage_mb);
    put(r, IPW_M_CPU_MEM_USED_MB, m->cpu_memory_usage_mb);
    put(r, IPW_M_CPU_POWER_W, m->cpu_power_watts);
    put(r, IPW_M_CPU_ENERGY_J, m->cpu_energy_joules);
    put(r, IPW_M_ANE_POWER_W, m->ane_power_watts);
    put(r, IPW_M_ANE_ENERGY_J, m->ane_energy_joules);
    put(r, IPW_M_GPU_UTIL_PCT, m->gpu_compute_utilization_pct);
    put(r, IPW_M_GPU_MEMBW_UTIL_PCT, m->gpu_memory_bandwidth_utilization_pct);
    put(r, IPW_M_GPU_TENSOR_UTIL_PCT, m->gpu_tensor_core_utilization_pct);
    put(r, IPW_M_GPU_MEM_TOTAL_MB, m->gpu_memory_total_mb);
    put(r, IPW_M_DRAM_POWER_W, m->dram_power_watts);
    put(r, IPW_M_DRAM_ENERGY_J, m->dram_energy_joules);
    /* The main pair last: on a rapl platform it is the CPU package, and wins over a stale
     * cpu_* pair if the two ever disagree. */
    put(r, ipw_domain_power_metric(main), m->power_watts);
    put(r, ipw_domain_energy_metric(main), m->energy_joules);
    /* The wire carries no source; the platform tells the one case that matters: a sim
     * monitor's energies are modelled, and must not pass for a counter's. */
    ipw_energy_source src = m->platform && strcmp(m->platform, "sim") == 0 ? IPW_ENERGY_MODELED
                                                                          : IPW_ENERGY_COUNTER;
    if (ipw_reading_has(r, ipw_domain_energy_metric(main)))
        r->energy_source[main] = src;
    for (int d = 0; d < IPW_DOMAIN_COUNT; d++)
        if (!r->energy_source[d] && ipw_reading_has(r, ipw_domain_energy_metric((ipw_domain)d)))
            r->energy_source[d] = src;
    unsigned n = 0;
    for (size_t i = 0; i < m->n_devices && n < maxdev && dev; i++, n++) {
        const Energy__DeviceReading *d = m->devices[i];
        struct ipw_device_reading *o = &dev[n];
        memset(o, 0, sizeof *o);
        dput(o, IPW_DF_POWER_W, d->power_watts);
        dput(o, IPW_DF_ENERGY_J, d->energy_joules);
        dput(o, IPW_DF_TEMPERATURE_C, d->temperature_celsius);
        dput(o, IPW_DF_MEM_USED_MB, d->memory_used_mb);
        dput(o, IPW_DF_MEM_TOTAL_MB, d->memory_total_mb);
        dput(o, IPW_DF_UTIL_PCT, d->utilization_pct);
    }
    if (ndev)
        *ndev = n;
}

static void copy(char *dst, size_t size, const char *src)
{
    snprintf(dst, size, "%s", src ? src : "");
}

void ipw_wire_decode_info(const Energy__TelemetryReading *m, struct ipw_collector_info *info,
                          struct ipw_system_info *si)
{
    if (info) {
        memset(info, 0, sizeof *info);
        copy(info->platform, sizeof info->platform, m->platform);
        if (m->gpu_info) {
            copy(info->gpu_name, sizeof info->gpu_name, m->gpu_info->name);
            copy(info->gpu_vendor, sizeof info->gpu_vendor, m->gpu_info->vendor);
            info->gpu_device_id = m->gpu_info->device_id;
            copy(info->gpu_device_type, sizeof info->gpu_device_type, m->gpu_info->device_type);
            copy(info->gpu_backend, sizeof info->gpu_backend, m->gpu_info->backend);
        }
        unsigned n = m->n_devices < IPW_MAX_DEVICES ? (unsigned)m->n_devices : IPW_MAX_DEVICES;
        info->ndev = n;
        for (unsigned i = 0; i < n; i++) {
            const Energy__DeviceReading *d = m->devices[i];
            info->dev[i].index = d->index;
            copy(info->dev[i].uuid, sizeof info->dev[i].uuid, d->uuid);
            copy(info->dev[i].name, sizeof info->dev[i].name, d->name);
            info->dev[i].mem_total_mb = d->memory_total_mb >= 0 ? d->memory_total_mb : -1;
        }
    }
    if (si) {
        memset(si, 0, sizeof *si);
        if (m->system_info) {
            copy(si->os_name, sizeof si->os_name, m->system_info->os_name);
            copy(si->os_version, sizeof si->os_version, m->system_info->os_version);
            copy(si->kernel_version, sizeof si->kernel_version, m->system_info->kernel_version);
            copy(si->host_name, sizeof si->host_name, m->system_info->host_name);
            si->cpu_count = m->system_info->cpu_count;
            copy(si->cpu_brand, sizeof si->cpu_brand, m->system_info->cpu_brand);
        }
    }
}
