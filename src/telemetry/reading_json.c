/* Serialization of readings, system info and GPU info to JSON with the proto's names. */
#include "ipw/reading_json.h"

double ipw_reading_main_power(const struct ipw_reading *r, ipw_domain d, int *valid)
{
    ipw_metric m = ipw_domain_power_metric(d);
    if (valid)
        *valid = ipw_reading_has(r, m);
    return ipw_reading_value_or_sentinel(r, m);
}

double ipw_reading_main_energy(const struct ipw_reading *r, ipw_domain d, int *valid)
{
    ipw_metric m = ipw_domain_energy_metric(d);
    if (valid)
        *valid = ipw_reading_has(r, m);
    return ipw_reading_value_or_sentinel(r, m);
}

static void put(json_t *o, const char *k, const struct ipw_reading *r, ipw_metric m)
{
    json_object_set_new(o, k, json_real(ipw_reading_value_or_sentinel(r, m)));
}

json_t *ipw_reading_to_json(const struct ipw_reading *r, const struct ipw_device_reading *dev,
                            const struct ipw_collector_info *info)
{
    json_t *o = json_object();
    ipw_domain main = info ? info->main_domain : IPW_DOMAIN_GPU;
    json_object_set_new(o, "power_watts", json_real(ipw_reading_main_power(r, main, NULL)));
    json_object_set_new(o, "energy_joules", json_real(ipw_reading_main_energy(r, main, NULL)));
    put(o, "temperature_celsius", r, IPW_M_TEMPERATURE_C);
    put(o, "gpu_memory_usage_mb", r, IPW_M_GPU_MEM_USED_MB);
    put(o, "cpu_memory_usage_mb", r, IPW_M_CPU_MEM_USED_MB);
    json_object_set_new(o, "platform", json_string(info ? info->platform : ""));
    json_object_set_new(o, "timestamp_nanos", json_integer(r->real_ns));
    put(o, "cpu_power_watts", r, IPW_M_CPU_POWER_W);
    put(o, "cpu_energy_joules", r, IPW_M_CPU_ENERGY_J);
    put(o, "ane_power_watts", r, IPW_M_ANE_POWER_W);
    put(o, "ane_energy_joules", r, IPW_M_ANE_ENERGY_J);
    put(o, "gpu_compute_utilization_pct", r, IPW_M_GPU_UTIL_PCT);
    put(o, "gpu_memory_bandwidth_utilization_pct", r, IPW_M_GPU_MEMBW_UTIL_PCT);
    put(o, "gpu_tensor_core_utilization_pct", r, IPW_M_GPU_TENSOR_UTIL_PCT);
    put(o, "gpu_memory_total_mb", r, IPW_M_GPU_MEM_TOTAL_MB);
    put(o, "dram_power_watts", r, IPW_M_DRAM_POWER_W);
    put(o, "dram_energy_joules", r, IPW_M_DRAM_ENERGY_J);
    json_object_set_new(o, "sequence", json_integer((json_int_t)r->sequence));
    json_object_set_new(o, "gpu_power_source",
                        json_string(ipw_power_source_name((ipw_power_source)r->power_source)));
    json_object_set_new(
        o, "energy_source",
        json_string(ipw_energy_source_name((ipw_energy_source)r->energy_source[main])));
    if (info && info->ndev && dev) {
        json_t *arr = json_array();
        for (unsigned i = 0; i < info->ndev; i++) {
            const struct ipw_device_reading *d = &dev[i];
            json_t *e = json_object();
            json_object_set_new(e, "index", json_integer(info->dev[i].index));
            json_object_set_new(e, "uuid", json_string(info->dev[i].uuid));
            json_object_set_new(e, "name", json_string(info->dev[i].name));
            static const char *const names[IPW_DF_COUNT] = {
                "power_watts",    "energy_joules",   "temperature_celsius",
                "memory_used_mb", "memory_total_mb", "utilization_pct"};
            for (int f = 0; f < IPW_DF_COUNT; f++)
                json_object_set_new(e, names[f],
                                    json_real(ipw_device_has(d, (enum ipw_device_field)f) ? d->v[f]
                                                                                          : -1.0));
            json_array_append_new(arr, e);
        }
        json_object_set_new(o, "devices", arr);
    }
    return o;
}

json_t *ipw_system_info_to_json(const struct ipw_system_info *si)
{
    json_t *o = json_object();
    json_object_set_new(o, "os_name", json_string(si->os_name));
    json_object_set_new(o, "os_version", json_string(si->os_version));
    json_object_set_new(o, "kernel_version", json_string(si->kernel_version));
    json_object_set_new(o, "host_name", json_string(si->host_name));
    json_object_set_new(o, "cpu_count", json_integer(si->cpu_count));
    json_object_set_new(o, "cpu_brand", json_string(si->cpu_brand));
    return o;
}

json_t *ipw_gpu_info_to_json(const struct ipw_collector_info *info)
{
    json_t *o = json_object();
    json_object_set_new(o, "name", json_string(info->gpu_name));
    json_object_set_new(o, "vendor", json_string(info->gpu_vendor));
    json_object_set_new(o, "device_id", json_integer((json_int_t)info->gpu_device_id));
    json_object_set_new(o, "device_type", json_string(info->gpu_device_type));
    json_object_set_new(o, "backend", json_string(info->gpu_backend));
    return o;
}
