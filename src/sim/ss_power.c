/* The original's power model (research notes §1): per node a constant power P_base (base
 * node, NPU idle x count, CPU at its background utilisation, DRAM DIMMs, links, NICs,
 * storage) plus event increments in joules (NPU active per layer x tp, CPU at 70 % while the
 * NPU computes, standby after the last batch, DRAM and link energy per bit moved). The
 * heartbeat prints the interval-average power, rounded to 0.01 W per node. Sums are done in
 * the original's order so the printed figures match to the last digit. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ss.h"

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

double ss_power_current(struct ss_power *p, int64_t now)
{
    if (p->last_t == now)
        return 0.0;
    double t_s = (double)now * 1e-9, w = 0;
    for (int i = 0; i < p->nnodes; i++) {
        double e = node_energy(p, i, t_s);
        w += ss_pyround2((e - p->last_e[i]) / ((double)(now - p->last_t) * 1e-9));
        p->last_e[i] = e;
    }
    if (p->nseries == p->capseries) {
        size_t nc = p->capseries ? p->capseries * 2 : 64;
        double *ns = realloc(p->series, nc * sizeof *ns);
        if (ns) {
            p->series = ns;
            p->capseries = nc;
        }
    }
    if (p->nseries < p->capseries)
        p->series[p->nseries++] = w;
    p->last_t = now;
    return w;
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
        for (int k = 0; k < 7; k++)
            v[k] = p->net[i][k] + p->base[i][k] * t_s;
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
