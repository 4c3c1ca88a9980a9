/* Fuzz target for ipw simulate's input readers: the workload-trace line scanner, the
 * cluster-config loader (with all its validation, through a temporary file; also with
 * attention offloading and sub-batch interleaving on, whose keys it then checks) and the PIM
 * INI reader, on arbitrary bytes. The first byte picks the reader: even = trace line,
 * 1 and 3 (mod 6) = cluster config without and with offloading, 5 = PIM INI. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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
    if (data[0] % 6 == 5) { /* a PIM INI, as configs/pim/DDR4_8GB_3200_pim.ini of a data dir */
        char dir[] = "/tmp/ipw-fuzz-pim-XXXXXX";
        if (!mkdtemp(dir))
            return 0;
        char sub[64], ini[128];
        snprintf(sub, sizeof sub, "%s/configs", dir);
        mkdir(sub, 0700);
        snprintf(sub, sizeof sub, "%s/configs/pim", dir);
        mkdir(sub, 0700);
        snprintf(ini, sizeof ini, "%s/DDR4_8GB_3200_pim.ini", sub);
        FILE *f = fopen(ini, "wb");
        if (f) {
            fwrite(data + 1, 1, size - 1, f);
            fclose(f);
            struct ss_pim_cfg pc;
            if (ss_pim_load(dir, "DDR4_8GB_3200_pim", 512, "fuzz.json", "cpu_mem.pim_config", &pc,
                            &eb) == IPW_OK) {
                if (pc.channels < 1 || !(pc.mem_bw_gbs >= 1) || pc.ch_capacity_gb <= 0)
                    abort();
                (void)ss_pim_latency(&pc, 32, 8, 128, 1000, 8);
            }
            unlink(ini);
        }
        rmdir(sub);
        snprintf(sub, sizeof sub, "%s/configs", dir);
        rmdir(sub);
        rmdir(dir);
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
