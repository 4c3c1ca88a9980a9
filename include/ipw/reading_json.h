/* A reading as JSON with the wire's field names (SPEC §2.1), -1 for unavailable values, so that
 * `ipw telemetry --json` lines look like the original's TelemetryReading. */
#ifndef IPW_READING_JSON_H
#define IPW_READING_JSON_H

#include <jansson.h>

#include "ipw/collector.h"
#include "ipw/reading.h"
#include "ipw/sysinfo.h"

/* The platform's main power/energy (what the proto calls power_watts / energy_joules). */
double ipw_reading_main_power(const struct ipw_reading *r, ipw_domain main_domain, int *valid);
double ipw_reading_main_energy(const struct ipw_reading *r, ipw_domain main_domain, int *valid);

/* dev may be NULL; info gives platform, main domain, device identities. */
json_t *ipw_reading_to_json(const struct ipw_reading *r, const struct ipw_device_reading *dev,
                            const struct ipw_collector_info *info);
json_t *ipw_system_info_to_json(const struct ipw_system_info *si);
json_t *ipw_gpu_info_to_json(const struct ipw_collector_info *info);

#endif
