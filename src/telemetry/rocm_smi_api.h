/* The part of AMD's ROCm SMI ABI that the amd collector uses, declared here so that no vendor
 * header is needed. Checked against rocm_smi.h of ROCm 5.2.3 (Debian 12) and 6.x: every call
 * used takes scalars or pointers to scalars, so no struct layout can drift between versions.
 * rsmi_gpu_metrics_t (96 bytes in 5.x, 1832 in 6.x) is deliberately never used. */
#ifndef IPW_TELEMETRY_ROCM_SMI_API_H
#define IPW_TELEMETRY_ROCM_SMI_API_H

#include <stddef.h>
#include <stdint.h>

/* rsmi_status_t is an enum holding 0xFFFFFFFF, hence unsigned int-sized. */
typedef uint32_t rsmi_status_t;

#define RSMI_STATUS_SUCCESS 0u
#define RSMI_STATUS_INVALID_ARGS 1u
#define RSMI_STATUS_NOT_SUPPORTED 2u
#define RSMI_STATUS_FILE_ERROR 3u
#define RSMI_STATUS_PERMISSION 4u
#define RSMI_STATUS_INIT_ERROR 8u
#define RSMI_STATUS_NOT_FOUND 10u

#define RSMI_TEMP_TYPE_EDGE 0u /* rsmi_temperature_type_t */
#define RSMI_TEMP_TYPE_JUNCTION 1u
#define RSMI_TEMP_CURRENT 0u  /* rsmi_temperature_metric_t */
#define RSMI_MEM_TYPE_VRAM 0u /* rsmi_memory_type_t */
#define RSMI_AVERAGE_POWER 0u /* RSMI_POWER_TYPE (ROCm 6) */
#define RSMI_CURRENT_POWER 1u

_Static_assert(sizeof(float) == 4, "the energy resolution is a 32-bit float");

struct rsmi_api {
    rsmi_status_t (*init)(uint64_t flags);
    rsmi_status_t (*shut_down)(void);
    rsmi_status_t (*status_string)(rsmi_status_t, const char **);
    rsmi_status_t (*num_monitor_devices)(uint32_t *);
    rsmi_status_t (*dev_name_get)(uint32_t, char *, size_t);
    rsmi_status_t (*dev_unique_id_get)(uint32_t, uint64_t *);
    rsmi_status_t (*dev_id_get)(uint32_t, uint16_t *);
    /* count × resolution = µJ; timestamp in ns */
    rsmi_status_t (*dev_energy_count_get)(uint32_t, uint64_t *, float *, uint64_t *);
    /* ROCm 6 only: current socket power where the part has it, else the average; µW */
    rsmi_status_t (*dev_power_get)(uint32_t, uint64_t *, uint32_t *);
    rsmi_status_t (*dev_power_ave_get)(uint32_t, uint32_t, uint64_t *);            /* µW */
    rsmi_status_t (*dev_temp_metric_get)(uint32_t, uint32_t, uint32_t, int64_t *); /* m°C */
    rsmi_status_t (*dev_memory_usage_get)(uint32_t, uint32_t, uint64_t *);         /* bytes */
    rsmi_status_t (*dev_memory_total_get)(uint32_t, uint32_t, uint64_t *);         /* bytes */
    rsmi_status_t (*dev_busy_percent_get)(uint32_t, uint32_t *);
    rsmi_status_t (*dev_memory_busy_percent_get)(uint32_t, uint32_t *);
};

#endif
