/* The original's power model (research notes §1): per node a constant power P_base (base
 * node, NPU idle x count, CPU at its background utilisation, DRAM DIMMs, links, NICs,
 * storage) plus event increments in joules (NPU active per layer x tp, CPU at 70 % while the
 * NPU computes, standby after the last batch, DRAM and link energy per bit moved). The
 * heartbeat prints the interval-average power, rounded to 0.01 W per node. Sums are done in
 * the original's order so the printed figures match to the last digit. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ipw/buf.h"
#include "ss.h"

/* The heartbeat series keeps one entry per log interval, whatever the number of batches: a
 * 1 s interval holds 194 days of simulated time; later intervals are printed, not kept. */
#define SS_MAX_HEARTBEATS ((size_t)1 << 24)

enum { B_BASE, B_NPU, B_CPU, B_DRAM, B_LINK, B_NIC, B_STORAGE };

ipw_err ss_power_init(struct ss_power *p, const struct ss_cluster *c, ipw_errbuf *eb)
{
    memset(p, 0, sizeof *p);
    p->c = c;
    p->nnodes = c->num_nodes;
    p->net = calloc((size_t)c->num_nodes, sizeof *p->net);
    p->base = calloc((size_t)c->num_nodes, sizeof *p->base);
    p->npu_active = calloc((size_t)c->num_nodes, sizeof(double));
    p->npu_standby = calloc((size_t)c->num_nodes, sizeof(double));
    p->last_e = calloc((size_t)c->num_nodes, sizeof(double));
    if (!p->net || !p->base || !p->npu_active || !p->npu_standby || !p->last_e) {
        ss_power_free(p);
        return ipw_fail(eb, IPW_E_NOMEM, "out of memory");
    }
    for (int i = 0; i < c->num_nodes; i++) {
        const struct ss_power_cfg *pc = &c->nodes[i].power;
        double *b = p->base[i];
        b[B_BASE] = pc->base_node;
        b[B_NPU] = 0;
        for (int k = 0; k < pc->nnpu; k++)
            b[B_NPU] += pc->npu[k].idle * (double)pc->npu[k].num_npus;
        b[B_CPU] = pc->cpu_idle + (pc->cpu_active - pc->cpu_idle) * pc->cpu_util;
        b[B_DRAM] = pc->dram_idle * floor(pc->dram_mem_size / pc->dram_dimm_size);
        b[B_LINK] = pc->link_idle * pc->link_num;
        b[B_NIC] = pc->nic_idle * pc->nic_num;
        b[B_STORAGE] = pc->storage_idle * pc->storage_num;
    }
    return IPW_OK;
}

void ss_power_free(struct ss_power *p)
{
    free(p->net);
    free(p->base);
    free(p->npu_active);
    free(p->npu_standby);
    free(p->last_e);
    free(p->series);
    free(p->parts);
    memset(p, 0, sizeof *p);
}

static const struct ss_power_npu *npu_cfg(const struct ss_power *p, int node, const char *hw)
{
    const struct ss_power_cfg *pc = &p->c->nodes[node].power;
    for (int k = 0; k < pc->nnpu; k++)
        if (!strcmp(pc->npu[k].hardware, hw))
            return &pc->npu[k];
    return NULL;
}

void ss_power_npu_active(struct ss_power *p, int node, const char *hw, int64_t lat_ns, int64_t n)
{
    const struct ss_power_npu *npu = npu_cfg(p, node, hw);
    const struct ss_power_cfg *pc = &p->c->nodes[node].power;
    if (!npu)
        return;
    double lat_s = (double)lat_ns * 1e-9;
    double e = (npu->active - npu->idle) * lat_s;
    p->net[node][B_NPU] += e * (double)n;
    p->npu_active[node] += npu->active * lat_s * (double)n;
    double util = 0.7 - pc->cpu_util;
    if (util < 0)
        util = 0;
    p->net[node][B_CPU] += (pc->cpu_active - pc->cpu_idle) * util * lat_s;
}

void ss_power_standby(struct ss_power *p, int node, const char *hw, int64_t now, int64_t last_end,
                      int64_t last_calc, int64_t n)
{
    const struct ss_power_npu *npu = npu_cfg(p, node, hw);
    if (!npu)
        return;
    int64_t calc2now = now - last_calc, end2now = now - last_end;
    double window, left;
    if (end2now <= calc2now) {
        window = (double)end2now * 1e-9;
        left = npu->standby_duration;
    } else {
        window = (double)calc2now * 1e-9;
        /* the original subtracts the whole time since the last batch, so the poll that crosses
         * the end of the window counts nothing; the fix counts up to the end */
        left = npu->standby_duration -
               (double)(p->fix_standby_tail ? last_calc - last_end : end2now) * 1e-9;
        if (left < 0)
            left = 0.0;
    }
    double w = window < left ? window : left;
    double e = (npu->standby - npu->idle) * w;
    p->net[node][B_NPU] += e * (double)n;
    p->npu_standby[node] += npu->standby * w * (double)n;
}

void ss_power_dram(struct ss_power *p, int node, double bytes)
{
    p->net[node][B_DRAM] += (p->c->nodes[node].power.dram_epb * (bytes * 8)) * 1e-12;
}

/* A PIM attention op: the DIMMs at peak rather than idle power for its latency (the
 * original's add_pim_active_energy_consumption, charged to the memory bucket). */
void ss_power_pim(struct ss_power *p, int node, int64_t lat_ns)
{
    const struct ss_power_cfg *pc = &p->c->nodes[node].power;
    double lat_s = (double)lat_ns * 1e-9;
    p->net[node][B_DRAM] += (pc->dram_pim_active - pc->dram_idle) * lat_s;
}

void ss_power_link(struct ss_power *p, int node, double bytes)
{
    p->net[node][B_LINK] += (p->c->nodes[node].power.link_epb * (bytes * 8)) * 1e-12;
}

static double node_energy(const struct ss_power *p, int i, double t_s)
{
    double net = 0, base = 0;
    for (int k = 0; k < 7; k++)
        net += p->net[i][k];
    for (int k = 0; k < 7; k++)
        base += p->base[i][k];
    return net + base * t_s;
}

/* Node i's joules up to t_s per device, as the original prints them. */
static void node_devices(const struct ss_power *p, int i, double t_s, double v[7])
{
    for (int k = 0; k < 7; k++)
        v[k] = p->net[i][k] + p->base[i][k] * t_s;
}

/* The cluster's joules up to t_s per plotted component (the NPU split three ways). */
static void cluster_parts(const struct ss_power *p, double t_s, double out[IPW_SS_NPARTS])
{
    memset(out, 0, IPW_SS_NPARTS * sizeof *out);
    for (int i = 0; i < p->nnodes; i++) {
        double v[7];
        node_devices(p, i, t_s, v);
        out[IPW_SS_PART_BASE] += v[B_BASE];
        out[IPW_SS_PART_NPU_ACTIVE] += p->npu_active[i];
        out[IPW_SS_PART_NPU_STANDBY] += p->npu_standby[i];
        out[IPW_SS_PART_NPU_IDLE] += v[B_NPU] - p->npu_active[i] - p->npu_standby[i];
        out[IPW_SS_PART_CPU] += v[B_CPU];
        out[IPW_SS_PART_DRAM] += v[B_DRAM];
        out[IPW_SS_PART_LINK] += v[B_LINK];
        out[IPW_SS_PART_NIC_STORAGE] += v[B_NIC] + v[B_STORAGE];
    }
}

/* Keeps the interval's watts w and its split by component (from the joules since the last
 * heartbeat), or counts it as dropped past the bound or when memory runs out. */
static void keep_interval(struct ss_power *p, double w, double t_s, double dt_s)
{
    double now_parts[IPW_SS_NPARTS];
    cluster_parts(p, t_s, now_parts);
    if (ipw_grow(&p->series, &p->capseries, p->nseries + 1, sizeof *p->series,
                 SS_MAX_HEARTBEATS) != IPW_OK ||
        ipw_grow(&p->parts, &p->capparts, p->nseries + 1, sizeof *p->parts,
                 SS_MAX_HEARTBEATS) != IPW_OK) {
        p->ndropped++;
    } else {
        for (int k = 0; k < IPW_SS_NPARTS; k++)
            p->parts[p->nseries][k] = (now_parts[k] - p->last_parts[k]) / dt_s;
        p->series[p->nseries++] = w;
    }
    memcpy(p->last_parts, now_parts, sizeof now_parts);
}

double ss_power_current(struct ss_power *p, int64_t now)
{
    if (p->last_t == now)
        return 0.0;
    double t_s = (double)now * 1e-9, w = 0, dt_s = (double)(now - p->last_t) * 1e-9;
    for (int i = 0; i < p->nnodes; i++) {
        double e = node_energy(p, i, t_s);
        w += ss_pyround2((e - p->last_e[i]) / dt_s);
        p->last_e[i] = e;
    }
    keep_interval(p, w, t_s, dt_s);
    p->last_t = now;
    return w;
}

bool ss_power_take_series(struct ss_power *p, struct ipw_ss_result *res)
{
    res->power_dropped = p->ndropped;
    if (!p->nseries)
        return true;
    res->power_w = malloc(p->nseries * sizeof *res->power_w);
    res->power_parts_w = malloc(p->nseries * sizeof *res->power_parts_w);
    if (!res->power_w || !res->power_parts_w) {
        free(res->power_w);
        free(res->power_parts_w);
        res->power_w = NULL;
        res->power_parts_w = NULL;
        return false;
    }
    memcpy(res->power_w, p->series, p->nseries * sizeof *res->power_w);
    memcpy(res->power_parts_w, p->parts, p->nseries * sizeof *res->power_parts_w);
    res->n_power = p->nseries;
    return true;
}

const char *ipw_ss_part_key(enum ipw_ss_part k)
{
    static const char *const keys[IPW_SS_NPARTS] = {
        "base", "npu_active", "npu_standby", "npu_idle", "cpu", "dram", "link", "nic_storage"};
    return k < IPW_SS_NPARTS ? keys[k] : "?";
}

const char *ipw_ss_part_label(enum ipw_ss_part k)
{
    static const char *const labels[IPW_SS_NPARTS] = {
        "base node", "NPU active", "NPU standby", "NPU idle",
        "CPU",       "DRAM",       "link",        "NIC + storage"};
    return k < IPW_SS_NPARTS ? labels[k] : "?";
}

void ss_power_final(struct ss_power *p, int64_t end, struct ipw_ss_result *res)
{
    double t_s = (double)end * 1e-9;
    res->total_energy_j = 0;
    for (int i = 0; i < p->nnodes; i++) {
        double tot = node_energy(p, i, t_s);
        res->total_energy_j += tot;
        struct ipw_ss_node_energy *ne = &res->nodes[i];
        double v[7];
        node_devices(p, i, t_s, v);
        ne->base_node = v[B_BASE];
        ne->npu = v[B_NPU];
        ne->cpu = v[B_CPU];
        ne->memory = v[B_DRAM];
        ne->link = v[B_LINK];
        ne->nic = v[B_NIC];
        ne->storage = v[B_STORAGE];
        ne->total = tot;
        ne->npu_active = p->npu_active[i];
        ne->npu_standby = p->npu_standby[i];
        ne->npu_idle = v[B_NPU] - p->npu_active[i] - p->npu_standby[i];
    }
}
