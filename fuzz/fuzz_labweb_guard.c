/* Fuzzes the lab web server's request guards (src/labweb/guard.c): any Host, Origin or path id
 * must be judged without a crash, and what is accepted must keep the rules: an accepted Host
 * names our port, a loopback-only server accepts only loopback names, an accepted Origin is
 * exactly "http://" + Host, and an accepted id holds no '/' and is not "." or "..". */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "grpc/net.h"
#include "labweb/guard.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 1024)
        return 0;
    char *s = malloc(size + 1);
    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    const int port = 8765;
    if (lw_host_allowed(s, port, false)) {
        if (!lw_host_allowed(s, port, true))
            abort(); /* remote mode accepts at least what loopback mode does */
        const char *colon = strrchr(s, ':');
        if (!colon || strtol(colon + 1, NULL, 10) != port)
            abort();
    }
    if (lw_origin_allowed(s, "127.0.0.1:8765") && strcmp(s, "http://127.0.0.1:8765") != 0)
        abort();
    size_t len = strlen(s);
    if (lw_id_valid(s, len) &&
        (strchr(s, '/') || strcmp(s, ".") == 0 || strcmp(s, "..") == 0 || len > 64))
        abort();
    free(s);
    return 0;
}
