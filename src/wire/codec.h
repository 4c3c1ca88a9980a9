/* The telemetry codec, neutral between the two ends (as git's pkt-line serves server and
 * client): the energy monitor encodes with it, the remote telemetry source decodes with it,
 * and it knows neither; it depends only on the reading types and protobuf-c, and encodes into
 * a plain core buffer. The wire mapping of SPEC §2.1 in one place: a reading, its devices and
 * the host's identity to a TelemetryReading message and back. Unavailable values travel as -1;
 * any negative value read from the wire is taken as unavailable, as the original client does. */
#ifndef IPW_WIRE_CODEC_H
#define IPW_WIRE_CODEC_H

#include <stdbool.h>

#include "ipw/buf.h"
#include "ipw/collector.h"
#include "ipw/reading.h"
#include "ipw/sysinfo.h"
#include "proto/energy.pb-c.h"

/* Append the encoded TelemetryReading (unframed) to out. dev has info->ndev entries (may be
 * NULL when there are none). False when out's bound is reached. */
bool ipw_wire_encode_reading(const struct ipw_reading *r, const struct ipw_device_reading *dev,
                             const struct ipw_collector_info *info,
                             const struct ipw_system_info *si, struct ipw_buf *out);

/* Values of a decoded message into r (cleared first; timestamps and sequence are left to the
 * caller, who knows which clock to use) and up to maxdev devices (their count in *ndev). */
void ipw_wire_decode_reading(const Energy__TelemetryReading *m, ipw_domain main,
                             struct ipw_reading *r, struct ipw_device_reading *dev,
                             unsigned maxdev, unsigned *ndev);

/* Identity carried by a message: platform, GPU and device names into info; host into si. What
 * the platform can do (caps, main domain) is the collector registry's to say, not the wire's. */
void ipw_wire_decode_info(const Energy__TelemetryReading *m, struct ipw_collector_info *info,
                          struct ipw_system_info *si);

#endif
