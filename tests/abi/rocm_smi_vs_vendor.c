/* Compile-only cross-check of src/telemetry/rocm_smi_api.h against AMD's rocm_smi/rocm_smi.h,
 * run by ctest where that header is installed (ROCm, or Debian's librocm-smi-dev). Our
 * declarations are what the collector calls through and what the fake is written to, so only
 * the vendor header can tell that they match the library on a real MI-series machine.
 *
 * Vendor values are captured first; our header then takes over the shared names. ROCm SMI's
 * enums hold 0xFFFFFFFF, so GCC and Clang make them compatible with unsigned int, which is what
 * lets a vendor prototype be compared with our uint32_t-based function pointer directly.
 * rsmi_dev_power_get and RSMI_POWER_TYPE exist from ROCm 6 on; the build defines
 * IPW_VENDOR_HAS_POWER_TYPE when the installed header has them. */
#include <stddef.h>
#include <stdint.h>

#include <rocm_smi/rocm_smi.h>

enum {
    V_SUCCESS = RSMI_STATUS_SUCCESS,
    V_INVALID_ARGS = RSMI_STATUS_INVALID_ARGS,
    V_NOT_SUPPORTED = RSMI_STATUS_NOT_SUPPORTED,
    V_FILE_ERROR = RSMI_STATUS_FILE_ERROR,
    V_PERMISSION = RSMI_STATUS_PERMISSION,
    V_INIT_ERROR = RSMI_STATUS_INIT_ERROR,
    V_NOT_FOUND = RSMI_STATUS_NOT_FOUND,
    V_TEMP_EDGE = RSMI_TEMP_TYPE_EDGE,
    V_TEMP_JUNCTION = RSMI_TEMP_TYPE_JUNCTION,
    V_TEMP_CURRENT = RSMI_TEMP_CURRENT,
    V_MEM_VRAM = RSMI_MEM_TYPE_VRAM,
#ifdef IPW_VENDOR_HAS_POWER_TYPE
    V_AVERAGE_POWER = RSMI_AVERAGE_POWER,
    V_CURRENT_POWER = RSMI_CURRENT_POWER,
#endif
};
typedef rsmi_status_t V_rsmi_status_t;
typedef rsmi_temperature_metric_t V_rsmi_temperature_metric_t;
typedef rsmi_memory_type_t V_rsmi_memory_type_t;
#ifdef IPW_VENDOR_HAS_POWER_TYPE
typedef RSMI_POWER_TYPE V_RSMI_POWER_TYPE;
#endif

#define rsmi_status_t ipw_rsmi_status_t
#include "rocm_smi_api.h"

#define SAME(ours, vendor) _Static_assert((long long)(ours) == (long long)(vendor), #ours)
SAME(RSMI_STATUS_SUCCESS, V_SUCCESS);
SAME(RSMI_STATUS_INVALID_ARGS, V_INVALID_ARGS);
SAME(RSMI_STATUS_NOT_SUPPORTED, V_NOT_SUPPORTED);
SAME(RSMI_STATUS_FILE_ERROR, V_FILE_ERROR);
SAME(RSMI_STATUS_PERMISSION, V_PERMISSION);
SAME(RSMI_STATUS_INIT_ERROR, V_INIT_ERROR);
SAME(RSMI_STATUS_NOT_FOUND, V_NOT_FOUND);
SAME(RSMI_TEMP_TYPE_EDGE, V_TEMP_EDGE);
SAME(RSMI_TEMP_TYPE_JUNCTION, V_TEMP_JUNCTION);
SAME(RSMI_TEMP_CURRENT, V_TEMP_CURRENT);
SAME(RSMI_MEM_TYPE_VRAM, V_MEM_VRAM);
_Static_assert(sizeof(ipw_rsmi_status_t) == sizeof(V_rsmi_status_t), "rsmi_status_t size");
_Static_assert(sizeof(uint32_t) == sizeof(V_rsmi_temperature_metric_t), "metric enum size");
_Static_assert(sizeof(uint32_t) == sizeof(V_rsmi_memory_type_t), "memory type enum size");
#ifdef IPW_VENDOR_HAS_POWER_TYPE
SAME(RSMI_AVERAGE_POWER, V_AVERAGE_POWER);
SAME(RSMI_CURRENT_POWER, V_CURRENT_POWER);
_Static_assert(sizeof(uint32_t) == sizeof(V_RSMI_POWER_TYPE), "RSMI_POWER_TYPE size");
#endif

/* Our function pointer must accept the exported function as declared by AMD. */
#define PROTO(member, fn)                                                                          \
    _Static_assert(                                                                                \
        __builtin_types_compatible_p(__typeof__(((struct rsmi_api *)0)->member), __typeof__(&fn)), \
        "struct rsmi_api." #member " vs " #fn)
PROTO(init, rsmi_init);
PROTO(shut_down, rsmi_shut_down);
PROTO(status_string, rsmi_status_string);
PROTO(num_monitor_devices, rsmi_num_monitor_devices);
PROTO(dev_name_get, rsmi_dev_name_get);
PROTO(dev_unique_id_get, rsmi_dev_unique_id_get);
PROTO(dev_id_get, rsmi_dev_id_get);
PROTO(dev_energy_count_get, rsmi_dev_energy_count_get);
PROTO(dev_power_ave_get, rsmi_dev_power_ave_get);
PROTO(dev_temp_metric_get, rsmi_dev_temp_metric_get);
PROTO(dev_memory_usage_get, rsmi_dev_memory_usage_get);
PROTO(dev_memory_total_get, rsmi_dev_memory_total_get);
PROTO(dev_busy_percent_get, rsmi_dev_busy_percent_get);
PROTO(dev_memory_busy_percent_get, rsmi_dev_memory_busy_percent_get);
#ifdef IPW_VENDOR_HAS_POWER_TYPE
PROTO(dev_power_get, rsmi_dev_power_get);
#endif
