/* Fuzzes the check of a web job request (src/labweb/engine_lab.c, reached through the engine's
 * validate operation): any JSON body must be accepted or refused with a message, never crash;
 * the first byte picks the job kind (run or calibrate). The body is parsed with the server's
 * own flags (IPW_LABWEB_JSON_FLAGS: duplicate keys refused), so only what the server would
 * pass on reaches the check. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ipw/labweb.h"
#include "ipw/labweb_lab.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 65536)
        return 0;
    const char *kind = data[0] & 1 ? "calibrate" : "run";
    json_t *j = json_loadb((const char *)data + 1, size - 1, IPW_LABWEB_JSON_FLAGS, NULL);
    if (!j)
        return 0;
    ipw_errbuf eb = {0};
    ipw_err e = ipw_labweb_engine_lab.validate(NULL, kind, j, &eb);
    if (e != IPW_OK && eb.msg[0] == '\0')
        abort(); /* a refusal always says why */
    json_decref(j);
    return 0;
}
