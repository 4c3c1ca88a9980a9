/* Fuzz target for ipw simulate's input readers: the workload-trace line scanner, the
 * cluster-config loader (with all its validation, through a file in the scratch directory,
 * fuzz_scratch.h; also with
 * attention offloading and sub-batch interleaving on, whose keys it then checks) and the PIM
 * INI reader, on arbitrary bytes. The first byte picks the reader: even = trace line,
 * 1 and 3 (mod 6) = cluster config without and with offloading, 5 = PIM INI. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz_scratch.h"
#include "sim/ss.h"

/* The scratch directory with a configs/pim/ under it (the PIM reader takes a data dir), made
 * once; NULL when it cannot be. */
static const char *scratch(void)
{
    static int state; /* 0 not yet, 1 ready, -1 failed */
    const char *dir = fuzz_scratch_dir();
    if (state == 0) {
        char sub[160];
        snprintf(sub, sizeof sub, "%s/configs", dir ? dir : "");
        int ok = dir && mkdir(sub, 0700) == 0;
        snprintf(sub, sizeof sub, "%s/configs/pim", dir ? dir : "");
        state = ok && mkdir(sub, 0700) == 0 ? 1 : -1;
    }
    return state > 0 ? dir : NULL;
}

static int write_file(const char *path, const uint8_t *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    size_t w = fwrite(p, 1, n, f);
    return fclose(f) == 0 && w == n ? 0 : -1;
}

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
    const char *dir = scratch();
    if (!dir)
        return 0;
    char path[160];
    if (data[0] % 6 == 5) { /* a PIM INI, as configs/pim/DDR4_8GB_3200_pim.ini of a data dir */
        snprintf(path, sizeof path, "%s/configs/pim/DDR4_8GB_3200_pim.ini", dir);
        if (write_file(path, data + 1, size - 1) != 0)
            return 0;
        struct ss_pim_cfg pc;
        if (ss_pim_load(dir, "DDR4_8GB_3200_pim", 512, "fuzz.json", "cpu_mem.pim_config", &pc,
                        &eb) == IPW_OK) {
            if (pc.channels < 1 || !(pc.mem_bw_gbs >= 1) || pc.ch_capacity_gb <= 0)
                abort();
            (void)ss_pim_latency(&pc, 32, 8, 128, 1000, 8);
        }
        unlink(path);
        return 0;
    }
    snprintf(path, sizeof path, "%s/cluster.json", dir);
    if (write_file(path, data + 1, size - 1) != 0)
        return 0;
    struct ipw_ss_options o;
    ipw_ss_options_init(&o);
    o.cluster_config = path;
    bool pim = data[0] % 6 == 3;
    o.enable_attn_offloading = o.enable_sub_batch_interleaving = pim;
    o.data_dir = getenv("IPW_FUZZ_SIM_DATA"); /* the bundled data/sim, when set */
    struct ss_cluster c;
    if (ss_cluster_load(&o, &c, &eb) == IPW_OK) {
        for (int i = 0; i < c.ninst; i++) {
            if (c.inst[i].num_npus != c.inst[i].tp * c.inst[i].pp || c.inst[i].tp < 1)
                abort();
            if (c.inst[i].sub_batch && !c.inst[i].attn_offloading)
                abort();
            if (c.inst[i].attn_offloading && (c.inst[i].tp != 1 || c.inst[i].pp != 1 ||
                                              !c.nodes[c.inst[i].node].pim))
                abort();
        }
        ss_cluster_free(&c);
    }
    unlink(path);
    return 0;
}
