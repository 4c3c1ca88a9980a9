/* Compile-only cross-check of src/telemetry/nvml_api.h against NVIDIA's own nvml.h, run by ctest
 * where that header is installed (CUDA toolkit, libnvidia-ml-dev). The collector never includes
 * the vendor header, so nothing else would notice if a hand-written layout, constant or
 * prototype drifted from the library the reviewers' GPUs load; the fakes are built from our
 * declarations and cannot notice either.
 *
 * Both declaration sets live in this one translation unit: the vendor's values are captured
 * first, then every name our header shares with the vendor's is renamed to IPW_* / ipw_* before
 * our header is included. Only what every nvml.h since CUDA 11 declares is compared without a
 * guard; newer parts (memory v2, field 186, GPM) are compared where the header has them. */
#include <stddef.h>

#include <nvml.h>

/* ---- the vendor's values, before our header takes the names ---------------------------- */
enum {
    V_SUCCESS = NVML_SUCCESS,
    V_UNINITIALIZED = NVML_ERROR_UNINITIALIZED,
    V_INVALID_ARGUMENT = NVML_ERROR_INVALID_ARGUMENT,
    V_NOT_SUPPORTED = NVML_ERROR_NOT_SUPPORTED,
    V_NO_PERMISSION = NVML_ERROR_NO_PERMISSION,
    V_NOT_FOUND = NVML_ERROR_NOT_FOUND,
    V_INSUFFICIENT_SIZE = NVML_ERROR_INSUFFICIENT_SIZE,
    V_INSUFFICIENT_POWER = NVML_ERROR_INSUFFICIENT_POWER,
    V_DRIVER_NOT_LOADED = NVML_ERROR_DRIVER_NOT_LOADED,
    V_TIMEOUT = NVML_ERROR_TIMEOUT,
    V_LIBRARY_NOT_FOUND = NVML_ERROR_LIBRARY_NOT_FOUND,
    V_FUNCTION_NOT_FOUND = NVML_ERROR_FUNCTION_NOT_FOUND,
    V_GPU_IS_LOST = NVML_ERROR_GPU_IS_LOST,
    V_RESET_REQUIRED = NVML_ERROR_RESET_REQUIRED,
    V_LIB_RM_VERSION_MISMATCH = NVML_ERROR_LIB_RM_VERSION_MISMATCH,
    V_IN_USE = NVML_ERROR_IN_USE,
    V_MEMORY = NVML_ERROR_MEMORY,
    V_NO_DATA = NVML_ERROR_NO_DATA,
    V_UNKNOWN = NVML_ERROR_UNKNOWN,
    V_VT_DOUBLE = NVML_VALUE_TYPE_DOUBLE,
    V_VT_UINT = NVML_VALUE_TYPE_UNSIGNED_INT,
    V_VT_ULONG = NVML_VALUE_TYPE_UNSIGNED_LONG,
    V_VT_ULLONG = NVML_VALUE_TYPE_UNSIGNED_LONG_LONG,
    V_VT_SLLONG = NVML_VALUE_TYPE_SIGNED_LONG_LONG,
    V_TEMPERATURE_GPU = NVML_TEMPERATURE_GPU,
    V_NAME_V2 = NVML_DEVICE_NAME_V2_BUFFER_SIZE,
    V_UUID_V2 = NVML_DEVICE_UUID_V2_BUFFER_SIZE,
#ifdef NVML_FI_DEV_POWER_INSTANT
    V_FI_POWER_INSTANT = NVML_FI_DEV_POWER_INSTANT,
#endif
#ifdef nvmlMemory_v2
    V_MEMORY_V2 = (int)nvmlMemory_v2,
#endif
#ifdef NVML_GPM_METRICS_GET_VERSION
    V_GPM_GET_VERSION = NVML_GPM_METRICS_GET_VERSION,
    V_GPM_SUPPORT_VERSION = NVML_GPM_SUPPORT_VERSION,
    V_GPM_TENSOR = NVML_GPM_METRIC_ANY_TENSOR_UTIL,
    V_GPM_DRAM_BW = NVML_GPM_METRIC_DRAM_BW_UTIL,
    V_GPM_MAX = NVML_GPM_METRIC_MAX,
#endif
};
#ifdef NVML_GPM_METRICS_GET_VERSION
#define IPW_VENDOR_HAS_GPM 1
#endif
#ifdef nvmlMemory_v2
#define IPW_VENDOR_HAS_MEMORY_V2 1
#endif
#ifdef NVML_FI_DEV_POWER_INSTANT
#define IPW_VENDOR_HAS_FIELD_186 1
#endif

/* The vendor's types under names the renaming below leaves alone. */
typedef nvmlReturn_t V_nvmlReturn_t;
typedef nvmlTemperatureSensors_t V_nvmlTemperatureSensors_t;
typedef nvmlMemory_t V_nvmlMemory_t;
typedef nvmlUtilization_t V_nvmlUtilization_t;
typedef nvmlProcessUtilizationSample_t V_nvmlProcessUtilizationSample_t;
typedef nvmlPciInfo_t V_nvmlPciInfo_t;
typedef nvmlValueType_t V_nvmlValueType_t;
typedef nvmlValue_t V_nvmlValue_t;
typedef nvmlFieldValue_t V_nvmlFieldValue_t;
#ifdef IPW_VENDOR_HAS_MEMORY_V2
typedef nvmlMemory_v2_t V_nvmlMemory_v2_t;
#endif
#ifdef IPW_VENDOR_HAS_GPM
typedef nvmlGpmMetric_t V_nvmlGpmMetric_t;
typedef nvmlGpmMetricsGet_t V_nvmlGpmMetricsGet_t;
typedef nvmlGpmSupport_t V_nvmlGpmSupport_t;
#endif

/* ---- our header, under other names ------------------------------------------------------ */
#undef NVML_FI_DEV_POWER_INSTANT
#undef NVML_GPM_METRICS_GET_VERSION
#undef NVML_GPM_SUPPORT_VERSION
#undef NVML_DEVICE_NAME_V2_BUFFER_SIZE
#undef NVML_DEVICE_UUID_V2_BUFFER_SIZE
#define nvmlReturn_t ipw_nvmlReturn_t
#define nvmlMemory_t ipw_nvmlMemory_t
#define nvmlMemory_v2_t ipw_nvmlMemory_v2_t
#define nvmlUtilization_t ipw_nvmlUtilization_t
#define nvmlProcessUtilizationSample_t ipw_nvmlProcessUtilizationSample_t
#define nvmlPciInfo_t ipw_nvmlPciInfo_t
#define nvmlValueType_t ipw_nvmlValueType_t
#define nvmlValue_t ipw_nvmlValue_t
#define nvmlFieldValue_t ipw_nvmlFieldValue_t
#define nvmlGpmMetric_t ipw_nvmlGpmMetric_t
#define nvmlGpmMetricsGet_t ipw_nvmlGpmMetricsGet_t
#define nvmlGpmSupport_t ipw_nvmlGpmSupport_t
#define NVML_SUCCESS IPW_NVML_SUCCESS
#define NVML_ERROR_UNINITIALIZED IPW_NVML_ERROR_UNINITIALIZED
#define NVML_ERROR_INVALID_ARGUMENT IPW_NVML_ERROR_INVALID_ARGUMENT
#define NVML_ERROR_NOT_SUPPORTED IPW_NVML_ERROR_NOT_SUPPORTED
#define NVML_ERROR_NO_PERMISSION IPW_NVML_ERROR_NO_PERMISSION
#define NVML_ERROR_NOT_FOUND IPW_NVML_ERROR_NOT_FOUND
#define NVML_ERROR_INSUFFICIENT_SIZE IPW_NVML_ERROR_INSUFFICIENT_SIZE
#define NVML_ERROR_INSUFFICIENT_POWER IPW_NVML_ERROR_INSUFFICIENT_POWER
#define NVML_ERROR_DRIVER_NOT_LOADED IPW_NVML_ERROR_DRIVER_NOT_LOADED
#define NVML_ERROR_TIMEOUT IPW_NVML_ERROR_TIMEOUT
#define NVML_ERROR_LIBRARY_NOT_FOUND IPW_NVML_ERROR_LIBRARY_NOT_FOUND
#define NVML_ERROR_FUNCTION_NOT_FOUND IPW_NVML_ERROR_FUNCTION_NOT_FOUND
#define NVML_ERROR_GPU_IS_LOST IPW_NVML_ERROR_GPU_IS_LOST
#define NVML_ERROR_RESET_REQUIRED IPW_NVML_ERROR_RESET_REQUIRED
#define NVML_ERROR_LIB_RM_VERSION_MISMATCH IPW_NVML_ERROR_LIB_RM_VERSION_MISMATCH
#define NVML_ERROR_IN_USE IPW_NVML_ERROR_IN_USE
#define NVML_ERROR_MEMORY IPW_NVML_ERROR_MEMORY
#define NVML_ERROR_NO_DATA IPW_NVML_ERROR_NO_DATA
#define NVML_ERROR_ARGUMENT_VERSION_MISMATCH IPW_NVML_ERROR_ARGUMENT_VERSION_MISMATCH
#define NVML_ERROR_GPU_NOT_FOUND IPW_NVML_ERROR_GPU_NOT_FOUND
#define NVML_ERROR_UNKNOWN IPW_NVML_ERROR_UNKNOWN
#define NVML_VALUE_TYPE_DOUBLE IPW_NVML_VALUE_TYPE_DOUBLE
#define NVML_VALUE_TYPE_UNSIGNED_INT IPW_NVML_VALUE_TYPE_UNSIGNED_INT
#define NVML_VALUE_TYPE_UNSIGNED_LONG IPW_NVML_VALUE_TYPE_UNSIGNED_LONG
#define NVML_VALUE_TYPE_UNSIGNED_LONG_LONG IPW_NVML_VALUE_TYPE_UNSIGNED_LONG_LONG
#define NVML_VALUE_TYPE_SIGNED_LONG_LONG IPW_NVML_VALUE_TYPE_SIGNED_LONG_LONG
#define NVML_VALUE_TYPE_SIGNED_INT IPW_NVML_VALUE_TYPE_SIGNED_INT
#define NVML_VALUE_TYPE_UNSIGNED_SHORT IPW_NVML_VALUE_TYPE_UNSIGNED_SHORT
#include "nvml_api.h"

/* ---- constants ---------------------------------------------------------------------------- */
#define SAME(ours, vendor) _Static_assert((long long)(ours) == (long long)(vendor), #ours)
SAME(IPW_NVML_SUCCESS, V_SUCCESS);
SAME(IPW_NVML_ERROR_UNINITIALIZED, V_UNINITIALIZED);
SAME(IPW_NVML_ERROR_INVALID_ARGUMENT, V_INVALID_ARGUMENT);
SAME(IPW_NVML_ERROR_NOT_SUPPORTED, V_NOT_SUPPORTED);
SAME(IPW_NVML_ERROR_NO_PERMISSION, V_NO_PERMISSION);
SAME(IPW_NVML_ERROR_NOT_FOUND, V_NOT_FOUND);
SAME(IPW_NVML_ERROR_INSUFFICIENT_SIZE, V_INSUFFICIENT_SIZE);
SAME(IPW_NVML_ERROR_INSUFFICIENT_POWER, V_INSUFFICIENT_POWER);
SAME(IPW_NVML_ERROR_DRIVER_NOT_LOADED, V_DRIVER_NOT_LOADED);
SAME(IPW_NVML_ERROR_TIMEOUT, V_TIMEOUT);
SAME(IPW_NVML_ERROR_LIBRARY_NOT_FOUND, V_LIBRARY_NOT_FOUND);
SAME(IPW_NVML_ERROR_FUNCTION_NOT_FOUND, V_FUNCTION_NOT_FOUND);
SAME(IPW_NVML_ERROR_GPU_IS_LOST, V_GPU_IS_LOST);
SAME(IPW_NVML_ERROR_RESET_REQUIRED, V_RESET_REQUIRED);
SAME(IPW_NVML_ERROR_LIB_RM_VERSION_MISMATCH, V_LIB_RM_VERSION_MISMATCH);
SAME(IPW_NVML_ERROR_IN_USE, V_IN_USE);
SAME(IPW_NVML_ERROR_MEMORY, V_MEMORY);
SAME(IPW_NVML_ERROR_NO_DATA, V_NO_DATA);
SAME(IPW_NVML_ERROR_UNKNOWN, V_UNKNOWN);
SAME(IPW_NVML_VALUE_TYPE_DOUBLE, V_VT_DOUBLE);
SAME(IPW_NVML_VALUE_TYPE_UNSIGNED_INT, V_VT_UINT);
SAME(IPW_NVML_VALUE_TYPE_UNSIGNED_LONG, V_VT_ULONG);
SAME(IPW_NVML_VALUE_TYPE_UNSIGNED_LONG_LONG, V_VT_ULLONG);
SAME(IPW_NVML_VALUE_TYPE_SIGNED_LONG_LONG, V_VT_SLLONG);
SAME(NVML_TEMPERATURE_GPU, V_TEMPERATURE_GPU);
SAME(NVML_DEVICE_NAME_V2_BUFFER_SIZE, V_NAME_V2);
SAME(NVML_DEVICE_UUID_V2_BUFFER_SIZE, V_UUID_V2);
#ifdef IPW_VENDOR_HAS_FIELD_186
SAME(NVML_FI_DEV_POWER_INSTANT, V_FI_POWER_INSTANT);
#endif
#ifdef IPW_VENDOR_HAS_MEMORY_V2
SAME(NVML_MEMORY_V2_VERSION, V_MEMORY_V2);
#endif
#ifdef IPW_VENDOR_HAS_GPM
SAME(NVML_GPM_METRICS_GET_VERSION, V_GPM_GET_VERSION);
SAME(NVML_GPM_SUPPORT_VERSION, V_GPM_SUPPORT_VERSION);
SAME(NVML_GPM_METRIC_ANY_TENSOR_UTIL, V_GPM_TENSOR);
SAME(NVML_GPM_METRIC_DRAM_BW_UTIL, V_GPM_DRAM_BW);
/* ours may be larger: the library reads numMetrics entries, never the array's length */
_Static_assert(NVML_GPM_METRIC_MAX >= V_GPM_MAX, "NVML_GPM_METRIC_MAX too small");
#endif

/* ---- layouts: size and the offset of every member the collector touches ------------------ */
#define SIZE(t) _Static_assert(sizeof(ipw_##t) == sizeof(V_##t), "sizeof " #t)
#define AT(t, m) _Static_assert(offsetof(ipw_##t, m) == offsetof(V_##t, m), #t "." #m)
SIZE(nvmlReturn_t);
_Static_assert(sizeof(int) == sizeof(V_nvmlTemperatureSensors_t), "nvmlTemperatureSensors_t");
SIZE(nvmlMemory_t);
AT(nvmlMemory_t, total);
AT(nvmlMemory_t, free);
AT(nvmlMemory_t, used);
SIZE(nvmlUtilization_t);
AT(nvmlUtilization_t, gpu);
AT(nvmlUtilization_t, memory);
SIZE(nvmlProcessUtilizationSample_t);
AT(nvmlProcessUtilizationSample_t, pid);
AT(nvmlProcessUtilizationSample_t, timeStamp);
AT(nvmlProcessUtilizationSample_t, smUtil);
SIZE(nvmlPciInfo_t);
AT(nvmlPciInfo_t, pciDeviceId);
AT(nvmlPciInfo_t, busId);
SIZE(nvmlValueType_t);
SIZE(nvmlValue_t);
SIZE(nvmlFieldValue_t);
AT(nvmlFieldValue_t, fieldId);
AT(nvmlFieldValue_t, timestamp); /* scopeId sits between; older headers call it "unused" */
AT(nvmlFieldValue_t, latencyUsec);
AT(nvmlFieldValue_t, valueType);
AT(nvmlFieldValue_t, nvmlReturn);
AT(nvmlFieldValue_t, value);
#ifdef IPW_VENDOR_HAS_MEMORY_V2
SIZE(nvmlMemory_v2_t);
AT(nvmlMemory_v2_t, version);
AT(nvmlMemory_v2_t, total);
AT(nvmlMemory_v2_t, used);
#endif
#ifdef IPW_VENDOR_HAS_GPM
SIZE(nvmlGpmMetric_t);
AT(nvmlGpmMetric_t, metricId);
AT(nvmlGpmMetric_t, nvmlReturn);
AT(nvmlGpmMetric_t, value);
AT(nvmlGpmMetric_t, metricInfo);
AT(nvmlGpmMetricsGet_t, version);
AT(nvmlGpmMetricsGet_t, numMetrics);
AT(nvmlGpmMetricsGet_t, sample1);
AT(nvmlGpmMetricsGet_t, sample2);
AT(nvmlGpmMetricsGet_t, metrics);
SIZE(nvmlGpmSupport_t);
AT(nvmlGpmSupport_t, isSupportedDevice);
#endif

/* ---- prototypes -------------------------------------------------------------------------
 * Each parameter list is written once, with S(type) for the structs and enums the two headers
 * declare separately; it is expanded with our types to check the member of struct nvml_api and
 * with the vendor's to check the exported function. Struct pointees are compared by layout
 * above, so together this pins every call the collector makes. */
#define OURS(t) ipw_##t
#define VENDOR(t) V_##t
#define ipw_nvmlTemperatureSensors_t int /* ours passes the sensor enum as int */
#define PROTO(member, fn, params)                                                                  \
    _Static_assert(__builtin_types_compatible_p(__typeof__(((struct nvml_api *)0)->member),       \
                                                ipw_nvmlReturn_t(*) params(OURS)),                 \
                   "struct nvml_api." #member);                                                    \
    _Static_assert(__builtin_types_compatible_p(__typeof__(&fn), V_nvmlReturn_t(*) params(VENDOR)), \
                   #fn)

#define P_VOID(S) (void)
#define P_COUNT(S) (unsigned int *)
#define P_BY_INDEX(S) (unsigned int, nvmlDevice_t *)
#define P_BY_UUID(S) (const char *, nvmlDevice_t *)
#define P_STRING(S) (nvmlDevice_t, char *, unsigned int)
#define P_MIG_PARENT(S) (nvmlDevice_t, nvmlDevice_t *)
#define P_PCI(S) (nvmlDevice_t, S(nvmlPciInfo_t) *)
#define P_ENERGY(S) (nvmlDevice_t, unsigned long long *)
#define P_POWER(S) (nvmlDevice_t, unsigned int *)
#define P_FIELDS(S) (nvmlDevice_t, int, S(nvmlFieldValue_t) *)
#define P_TEMPERATURE(S) (nvmlDevice_t, S(nvmlTemperatureSensors_t), unsigned int *)
#define P_MEMORY(S) (nvmlDevice_t, S(nvmlMemory_t) *)
#define P_MEMORY_V2(S) (nvmlDevice_t, S(nvmlMemory_v2_t) *)
#define P_UTILIZATION(S) (nvmlDevice_t, S(nvmlUtilization_t) *)
#define P_PROCESS_UTIL(S)                                                                          \
    (nvmlDevice_t, S(nvmlProcessUtilizationSample_t) *, unsigned int *, unsigned long long)
#define P_GPM_SUPPORT(S) (nvmlDevice_t, S(nvmlGpmSupport_t) *)
#define P_GPM_ALLOC(S) (nvmlGpmSample_t *)
#define P_GPM_FREE(S) (nvmlGpmSample_t)
#define P_GPM_GET(S) (nvmlDevice_t, nvmlGpmSample_t)
#define P_GPM_METRICS(S) (S(nvmlGpmMetricsGet_t) *)

PROTO(Init, nvmlInit_v2, P_VOID);
PROTO(Shutdown, nvmlShutdown, P_VOID);
PROTO(DeviceGetCount, nvmlDeviceGetCount_v2, P_COUNT);
PROTO(DeviceGetHandleByIndex, nvmlDeviceGetHandleByIndex_v2, P_BY_INDEX);
PROTO(DeviceGetHandleByUUID, nvmlDeviceGetHandleByUUID, P_BY_UUID);
PROTO(DeviceGetName, nvmlDeviceGetName, P_STRING);
PROTO(DeviceGetUUID, nvmlDeviceGetUUID, P_STRING);
#ifdef NVML_DEVICE_MIG_ENABLE /* headers from before MIG (CUDA 10) lack the call */
PROTO(DeviceGetDeviceHandleFromMigDeviceHandle, nvmlDeviceGetDeviceHandleFromMigDeviceHandle,
      P_MIG_PARENT);
#endif
PROTO(DeviceGetPciInfo, nvmlDeviceGetPciInfo_v3, P_PCI);
PROTO(DeviceGetTotalEnergyConsumption, nvmlDeviceGetTotalEnergyConsumption, P_ENERGY);
PROTO(DeviceGetPowerUsage, nvmlDeviceGetPowerUsage, P_POWER);
PROTO(DeviceGetFieldValues, nvmlDeviceGetFieldValues, P_FIELDS);
PROTO(DeviceGetTemperature, nvmlDeviceGetTemperature, P_TEMPERATURE);
PROTO(DeviceGetMemoryInfo, nvmlDeviceGetMemoryInfo, P_MEMORY);
PROTO(DeviceGetUtilizationRates, nvmlDeviceGetUtilizationRates, P_UTILIZATION);
PROTO(DeviceGetProcessUtilization, nvmlDeviceGetProcessUtilization, P_PROCESS_UTIL);
#ifdef IPW_VENDOR_HAS_MEMORY_V2
PROTO(DeviceGetMemoryInfo_v2, nvmlDeviceGetMemoryInfo_v2, P_MEMORY_V2);
#endif
#ifdef IPW_VENDOR_HAS_GPM
PROTO(GpmQueryDeviceSupport, nvmlGpmQueryDeviceSupport, P_GPM_SUPPORT);
PROTO(GpmSampleAlloc, nvmlGpmSampleAlloc, P_GPM_ALLOC);
PROTO(GpmSampleFree, nvmlGpmSampleFree, P_GPM_FREE);
PROTO(GpmSampleGet, nvmlGpmSampleGet, P_GPM_GET);
PROTO(GpmMetricsGet, nvmlGpmMetricsGet, P_GPM_METRICS);
#endif
_Static_assert(__builtin_types_compatible_p(__typeof__(((struct nvml_api *)0)->ErrorString),
                                            const char *(*)(ipw_nvmlReturn_t)),
               "struct nvml_api.ErrorString");
_Static_assert(__builtin_types_compatible_p(__typeof__(&nvmlErrorString),
                                            const char *(*)(V_nvmlReturn_t)),
               "nvmlErrorString");
