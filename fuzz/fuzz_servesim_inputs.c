/* Fuzz target for ipw simulate's input readers: the workload-trace line scanner and the
 * cluster-config loader (with all its validation, through a temporary file), on arbitrary
 * bytes. The first byte picks the reader. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sim/ss.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    ipw_errbuf eb = {0};
    if (data[0] % 2 == 0) {
        struct ss_req r;
        if (ss_trace_parse_line((const char *)data + 1, size - 1, "fuzz", 1, true, &r, &eb) ==
            IPW_OK) {
            if (r.input < 1 || r.output <= r.input || r.arrival < 0)
                abort();
            for (const struct ss_req *q = r.next_sub; q; q = q->next_sub)
                if (q->input < 1 || q->output <= q->input || q->tool_ns < 0)
                    abort();
            free(r.toks);
            ss_req_free(r.next_sub);
        }
        /* the skim that orders an unsorted file takes what the full parse takes */
        int64_t arrival;
        int nids;
        ipw_err full = ss_trace_parse_line((const char *)data + 1, size - 1, "fuzz", 1, false, &r,
                                           &eb);
        if (full == IPW_OK) {
            ss_req_free(r.next_sub);
            if (ss_trace_skim_line((const char *)data + 1, size - 1, "fuzz", 1, &arrival, &nids,
                                   &eb) != IPW_OK ||
                arrival != r.arrival || nids < 1)
                abort();
        }
        return 0;
    }
    char path[] = "/tmp/ipw-fuzz-cluster-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0)
        return 0;
    if (write(fd, data + 1, size - 1) != (ssize_t)(size - 1)) {
        close(fd);
        unlink(path);
        return 0;
    }
    close(fd);
    struct ipw_ss_options o;
    ipw_ss_options_init(&o);
    o.cluster_config = path;
    struct ss_cluster c;
    if (ss_cluster_load(&o, &c, &eb) == IPW_OK) {
        for (int i = 0; i < c.ninst; i++)
            if (c.inst[i].num_npus != c.inst[i].tp * c.inst[i].pp || c.inst[i].tp < 1)
                abort();
        ss_cluster_free(&c);
    }
    unlink(path);
    return 0;
}
