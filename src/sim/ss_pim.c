/* PIM attention offloading (--enable-attn-offloading, --enable-sub-batch-interleaving): the
 * original moves decode attention to processing-in-memory channels of the host DRAM
 * (configs/pim/<name>.ini) and keeps only the prefill part of attention on the NPU.
 *
 * What it reproduces, read from the original's PIMModel (channel capacity, bandwidth, read
 * latency, the linear latency model), trace generator (greedy channel balancing over the
 * requests' prompt lengths, the sub-batch split), Chakra converter (which node waits for
 * which) and ASTRA-Sim fork (one NPU compute at a time, the smallest ready node id first; PIM
 * ops and host-memory transfers never wait for the NPU; each PIM channel and the host
 * memory a FIFO of latency + bytes / bandwidth, in whole ns and GB/s). A batch is therefore
 * not a plain sum here: its node graph is built as the converter builds it and list-scheduled
 * (schedule() below), which also yields the node completions at which other instances are
 * polled. docs/sim-fidelity.md lists the quirks kept and the flags that fix them. */
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ss.h"

/* ---- the PIM device: INI file and latency model ---- */

/* The latency model's coefficients per spec (ns; baseline Llama-3.1-8B: 32 heads, 8 KV heads,
 * head_dim 128), as in the original's pim_model.py. */
static const struct {
    const char *name;
    double slope, intercept;
} SPECS[] = {
    {"LPDDR4X_2GB_4266_pim", 432.4458, 33918.1734},
    {"DDR4_8GB_3200_pim", 333.2538, 30675.2739},
    {"LPDDR5_2GB_6400_pim", 282.4338, 15996.7018},
    {"HBM2_1GB_2000_pim", 242.0548, 14513.5015},
};

static const char *INI_KEYS[] = {"bankgroups", "banks_per_group", "bus_width",  "device_width",
                                 "columns",    "rows",            "channel_size", "data_rate",
                                 "CL",         "tCK",             "idle_power", "peak_power"};
#define NKEYS (sizeof INI_KEYS / sizeof *INI_KEYS)

/* Reads the keys the model needs from a DRAMSim3-style INI ("key = value", '#' comments,
 * [sections] ignored). */
static ipw_err read_ini(const char *path, double *vals, ipw_errbuf *eb)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return ipw_fail(eb, IPW_E_NOTFOUND, "%s: cannot open the PIM config", path);
    bool have[NKEYS] = {false};
    char line[512];
    long ln = 0;
    ipw_err e = IPW_OK;
    while (!e && fgets(line, sizeof line, f)) {
        ln++;
        char *h = strchr(line, '#');
        if (h)
            *h = 0;
        char *k = line;
        while (isspace((unsigned char)*k))
            k++;
        if (!*k || *k == '[' || *k == ';')
            continue;
        char *eq = strchr(k, '=');
        if (!eq)
            continue;
        *eq = 0;
        char *ke = eq;
        while (ke > k && isspace((unsigned char)ke[-1]))
            *--ke = 0;
        for (size_t i = 0; i < NKEYS; i++) {
            if (strcmp(k, INI_KEYS[i]))
                continue;
            char *end;
            double v = strtod(eq + 1, &end);
            while (isspace((unsigned char)*end))
                end++;
            if (end == eq + 1 || *end || !isfinite(v) || v < 0)
                e = ipw_fail(eb, IPW_E_INVALID, "%s:%ld: %s: not a non-negative number", path, ln,
                             k);
            vals[i] = v;
            have[i] = true;
        }
    }
    fclose(f);
    for (size_t i = 0; !e && i < NKEYS; i++)
        if (!have[i])
            e = ipw_fail(eb, IPW_E_INVALID, "%s: key '%s' is missing (the PIM model needs %s)",
                         path, INI_KEYS[i],
                         "bankgroups, banks_per_group, bus_width, device_width, columns, rows, "
                         "channel_size, data_rate, CL, tCK, idle_power and peak_power");
    return e;
}

ipw_err ss_pim_load(const char *data_dir, const char *name, double mem_size_gb,
                    const char *cfg_path, const char *key, struct ss_pim_cfg *p, ipw_errbuf *eb)
{
    memset(p, 0, sizeof *p);
    size_t k;
    for (k = 0; k < sizeof SPECS / sizeof *SPECS; k++)
        if (!strcmp(name, SPECS[k].name))
            break;
    if (k == sizeof SPECS / sizeof *SPECS)
        return ipw_fail(eb, IPW_E_INVALID, "%s: %s: '%s' has no PIM latency model; the original "
                        "knows LPDDR4X_2GB_4266_pim, DDR4_8GB_3200_pim, LPDDR5_2GB_6400_pim and "
                        "HBM2_1GB_2000_pim", cfg_path, key, name);
    snprintf(p->name, sizeof p->name, "%s", name);
    snprintf(p->path, sizeof p->path, "%s/configs/pim/%s.ini", data_dir ? data_dir : ".", name);
    double v[NKEYS];
    ipw_err e = read_ini(p->path, v, eb);
    if (e)
        return e;
    double banks = v[0] * v[1], bus = v[2], dev = v[3], cols = v[4], rows = v[5], chs = v[6];
    if (dev <= 0 || bus <= 0 || banks <= 0 || cols <= 0 || rows <= 0)
        return ipw_fail(eb, IPW_E_INVALID, "%s: bankgroups, banks_per_group, bus_width, "
                        "device_width, columns and rows must be positive", p->path);
    /* the original's init_dram_params, in its float arithmetic */
    double per_rank_devices = bus / dev;
    double page = cols * dev / 8;
    double megs_bank = page * (rows / 1024) / 1024;
    double megs_rank = megs_bank * banks * per_rank_devices;
    double ch_mb = megs_rank > chs ? megs_rank : (chs / megs_rank) * megs_rank;
    p->ch_capacity_gb = ch_mb / 1024;
    p->ch_bw_gbs = bus / 8 * v[7] / 1000;
    p->mem_bw_gbs = mem_size_gb / p->ch_capacity_gb * p->ch_bw_gbs;
    p->read_lat_ns = v[8] * v[9];
    p->idle_w = v[10] / 1000;
    p->peak_w = v[11] / 1000;
    p->slope = SPECS[k].slope;
    p->intercept = SPECS[k].intercept;
    p->channels = (int64_t)floor(mem_size_gb / p->ch_capacity_gb);
    if (p->channels < 1 || p->mem_bw_gbs < 1)
        return ipw_fail(eb, IPW_E_INVALID, "%s: %s: a %.0f GB host memory holds no %.2f GB PIM "
                        "channel (or less than 1 GB/s)", cfg_path, key, mem_size_gb,
                        p->ch_capacity_gb);
    return IPW_OK;
}

int64_t ss_pim_latency(const struct ss_pim_cfg *p, int64_t heads, int64_t kv_heads,
                       int64_t head_dim, int64_t L, int64_t split)
{
    double gqa = ((double)heads / (double)kv_heads) / (32.0 / 8.0);
    double kv_scale = (double)(heads * head_dim) / (double)(32 * 128);
    double slope = p->slope * gqa, intercept = p->intercept * kv_scale;
    return (int64_t)((slope * (double)L + intercept) / (double)split);
}

/* ---- one batch ---- */

enum { N_GPU, N_MEM, N_PIM };
struct pnode {
    uint8_t kind;
    int8_t sub;      /* N_PIM: which sub-batch's channel loads */
    int64_t dur;     /* N_GPU, N_MEM */
    int32_t par[4];
    int npar;
    int32_t wait;    /* parents not yet complete */
    int32_t kid0, nkid;
};
struct ev {
    int64_t t, seq;
    int32_t node;
};
/* the per-instance scratch, reused batch after batch */
struct pim {
    struct pnode *n;
    size_t nn, capn;
    int32_t *kids;
    size_t capk;
    int32_t *ready;
    size_t nready, capready;
    int32_t *held; /* ready compute nodes passed over while the NPU is busy */
    size_t capheld;
    struct ev *evq;
    size_t nevq, capevq;
    int64_t *evt; /* completion times handed to the batch */
    size_t nevt, capevt;
    int64_t *chan[2]; /* per-channel busy ns of one PIM group, per sub-batch */
    int64_t *busy;    /* channel FIFO: busy until */
    int64_t ops[2], op_lat_sum[2];
    int64_t *lats[2]; /* each op's latency, for the power model */
    size_t nlats[2], caplats[2];
    int64_t op_bytes; /* bytes one op moves (in + out), the same for every op */
    /* the last batch's split, for the log (ss_pim_subs) */
    bool inter;
    size_t *subidx, capsub, nsub[2];
    int64_t tl[2];
};

bool ss_pim_subs(const struct ss_sched *s, const size_t *idx[2], size_t n[2], int64_t tl[2])
{
    const struct pim *P = s->pim;
    if (!P || !P->inter)
        return false;
    for (int i = 0; i < 2; i++) {
        idx[i] = P->subidx + (i ? P->nsub[0] : 0);
        n[i] = P->nsub[i];
        tl[i] = P->tl[i];
    }
    return true;
}

static bool grow(void **p, size_t *cap, size_t need, size_t sz)
{
    if (need <= *cap)
        return true;
    size_t nc = *cap ? *cap * 2 : 64;
    while (nc < need)
        nc *= 2;
    void *q = realloc(*p, nc * sz);
    if (!q)
        return false;
    *p = q;
    *cap = nc;
    return true;
}

void ss_pim_free(struct ss_sched *s)
{
    struct pim *P = s->pim;
    if (!P)
        return;
    free(P->n);
    free(P->kids);
    free(P->ready);
    free(P->held);
    free(P->evq);
    free(P->evt);
    for (int i = 0; i < 2; i++) {
        free(P->chan[i]);
        free(P->lats[i]);
    }
    free(P->busy);
    free(P->subidx);
    free(P);
    s->pim = NULL;
}

/* A sub-batch: its requests (indices into the batch) and the shape the NPU looks up. */
struct sub {
    size_t *idx;
    size_t n;
    struct ss_shape x;
};

static int64_t seq_len(const struct ipw_ss_sim *sim, const struct ss_batch *b, size_t i)
{
    return sim->opt.fix_pim_seq_len ? b->reqs[i]->sched_tokens + 1 : b->reqs[i]->input;
}

/* Stable sort of idx by key, largest first (Python's sorted(..., reverse=True)). */
static void sort_desc(size_t *idx, size_t n, const int64_t *key)
{
    for (size_t i = 1; i < n; i++) {
        size_t v = idx[i], j = i;
        while (j > 0 && key[idx[j - 1]] < key[v]) {
            idx[j] = idx[j - 1];
            j--;
        }
        idx[j] = v;
    }
}

/* The original's _attn_load_balancer for sub-batch u: decode requests, longest first, each
 * split over `split` channels, each part to the least-loaded channel. Fills the per-channel
 * busy time of one PIM block and each op's latency. */
static ipw_err balance(struct ipw_ss_sim *sim, struct ss_sched *s, struct pim *P,
                       const struct ss_batch *b, const struct sub *u, int si, int64_t *keys,
                       ipw_errbuf *eb)
{
    const struct ss_node_cfg *node = &sim->c.nodes[s->cfg->node];
    const struct ss_pim_cfg *pc = &node->pimc;
    const struct ss_model *m = s->cfg->model;
    int64_t nch = pc->channels, split = nch < m->kv_heads ? nch : m->kv_heads;
    size_t *ord = malloc((u->n ? u->n : 1) * sizeof *ord);
    int64_t *load = calloc((size_t)nch, sizeof *load);
    if (!ord || !load) {
        free(ord);
        free(load);
        return ipw_fail(eb, IPW_E_NOMEM, "out of memory");
    }
    memset(P->chan[si], 0, (size_t)nch * sizeof *P->chan[si]);
    for (size_t i = 0; i < u->n; i++)
        keys[u->idx[i]] = seq_len(sim, b, u->idx[i]);
    memcpy(ord, u->idx, u->n * sizeof *ord);
    sort_desc(ord, u->n, keys);
    /* one op's bytes (pim=True sizes: one query, one K and V row) over the split, and its
     * trip through the channel's memory model: latency + bytes / bandwidth, whole units */
    int64_t fp = s->cfg->fp_bits / 8, p = 1;
    int64_t in = (m->heads / p) * m->head_dim * fp + (m->kv_heads / p) * m->head_dim * fp * 2;
    int64_t out = (m->heads / p) * m->head_dim * fp;
    P->op_bytes = in / split + out / split;
    int64_t mem_rt = (int64_t)node->cpu_mem_lat + (int64_t)((double)P->op_bytes / node->cpu_mem_bw);
    P->ops[si] = 0;
    P->nlats[si] = 0;
    for (size_t i = 0; i < u->n; i++) {
        const struct ss_req *r = b->reqs[ord[i]];
        if (r->is_init)
            continue; /* prefill: on the NPU */
        int64_t L = keys[ord[i]];
        int64_t lat = ss_pim_latency(pc, m->heads, m->kv_heads, m->head_dim, L, split);
        for (int64_t k = 0; k < split; k++) {
            int64_t best = 0;
            for (int64_t c = 1; c < nch; c++)
                if (load[c] < load[best])
                    best = c;
            load[best] += L;
            P->chan[si][best] += lat + mem_rt;
            if (!grow((void **)&P->lats[si], &P->caplats[si], P->nlats[si] + 1, sizeof(int64_t))) {
                free(ord);
                free(load);
                return ipw_fail(eb, IPW_E_NOMEM, "out of memory");
            }
            P->lats[si][P->nlats[si]++] = lat;
            P->ops[si]++;
        }
    }
    free(ord);
    free(load);
    return IPW_OK;
}

/* ---- the converter's node graph ---- */

struct build {
    struct pim *P;
    int32_t prev_comp;           /* comp node of the row just before */
    bool first_comp;
    int32_t first_parents[2];
    int nfirst;
    int32_t pim_parent[4], npim_parent;
    int32_t pim_comp, past_pim;  /* -1: none (one PIM group node stands for a block's ops) */
    int last_tag;
    bool attn_remain, pending_attn_check;
    bool fix_deps;
};

static int32_t add_node(struct pim *P, int kind, int64_t dur, int sub)
{
    if (!grow((void **)&P->n, &P->capn, P->nn + 1, sizeof *P->n))
        return -1;
    struct pnode *n = &P->n[P->nn];
    memset(n, 0, sizeof *n);
    n->kind = (uint8_t)kind;
    n->dur = dur;
    n->sub = (int8_t)sub;
    return (int32_t)P->nn++;
}

static void add_par(struct pim *P, int32_t child, int32_t parent)
{
    struct pnode *n = &P->n[child];
    if (parent >= 0 && n->npar < 4)
        n->par[n->npar++] = parent;
}

/* A layer row (tag 0 = NONE, 1 = BATCH_1, 2 = BATCH_2), as convert_common links it. */
static int32_t row_layer(struct build *B, int64_t ns, int tag, bool is_attention)
{
    struct pim *P = B->P;
    int32_t c = add_node(P, N_GPU, ns, 0);
    if (c < 0)
        return -1;
    if (B->npim_parent) {
        if (B->attn_remain)
            for (int i = 0; i < B->npim_parent; i++)
                add_par(P, c, B->pim_parent[i]);
        B->npim_parent = 0;
        if (is_attention && B->fix_deps)
            B->attn_remain = false;
    } else if (B->first_comp) {
        for (int i = 0; i < B->nfirst; i++)
            add_par(P, c, B->first_parents[i]);
        B->first_comp = false;
    } else {
        add_par(P, c, B->prev_comp);
    }
    if (!B->attn_remain && B->pim_comp >= 0) {
        if (tag == 0) {
            add_par(P, c, B->pim_comp);
            B->pim_comp = -1;
        } else if (tag != B->last_tag) {
            add_par(P, c, B->past_pim);
            B->past_pim = B->pim_comp;
            B->pim_comp = -1;
            B->last_tag = tag;
        }
    }
    B->prev_comp = c;
    return c;
}

/* "PIM 0" ... "PIM END" of sub-batch si; next_is_attention: the NPU attention row follows.
 * The converter's test for that row looks for "attn" in "attention_<n>", which never
 * matches; --fix-pim-attn-deps makes it match. */
static int row_pim(struct build *B, int si, bool next_is_attention)
{
    struct pim *P = B->P;
    if (B->npim_parent < 4)
        B->pim_parent[B->npim_parent++] = B->prev_comp;
    if (P->ops[si]) {
        int32_t g = add_node(P, N_PIM, 0, si);
        if (g < 0)
            return -1;
        for (int i = 0; i < B->npim_parent; i++)
            add_par(P, g, B->pim_parent[i]);
        /* a second block before the first was taken is not produced by the generator */
        B->pim_comp = g;
    }
    if (next_is_attention && B->fix_deps)
        B->attn_remain = true;
    return 0;
}

/* ---- list scheduling, as ASTRA-Sim's workload layer ---- */

static bool heap_push_ready(struct pim *P, int32_t v)
{
    if (!grow((void **)&P->ready, &P->capready, P->nready + 1, sizeof *P->ready))
        return false;
    size_t i = P->nready++;
    while (i > 0 && P->ready[(i - 1) / 2] > v) {
        P->ready[i] = P->ready[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    P->ready[i] = v;
    return true;
}

static int32_t heap_pop_ready(struct pim *P)
{
    int32_t top = P->ready[0], v = P->ready[--P->nready];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, m = i;
        if (l < P->nready && P->ready[l] < v)
            m = l;
        if (l + 1 < P->nready && P->ready[l + 1] < (m == i ? v : P->ready[l]))
            m = l + 1;
        if (m == i)
            break;
        P->ready[i] = P->ready[m];
        i = m;
    }
    if (P->nready)
        P->ready[i] = v;
    return top;
}

static bool ev_less(const struct ev *a, const struct ev *b)
{
    return a->t < b->t || (a->t == b->t && a->seq < b->seq);
}

static bool ev_push(struct pim *P, struct ev e)
{
    if (!grow((void **)&P->evq, &P->capevq, P->nevq + 1, sizeof *P->evq))
        return false;
    size_t i = P->nevq++;
    while (i > 0 && ev_less(&e, &P->evq[(i - 1) / 2])) {
        P->evq[i] = P->evq[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    P->evq[i] = e;
    return true;
}

static struct ev ev_pop(struct pim *P)
{
    struct ev top = P->evq[0], v = P->evq[--P->nevq];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, m = i;
        const struct ev *best = &v;
        if (l < P->nevq && ev_less(&P->evq[l], best))
            m = l, best = &P->evq[l];
        if (l + 1 < P->nevq && ev_less(&P->evq[l + 1], best))
            m = l + 1;
        if (m == i)
            break;
        P->evq[i] = P->evq[m];
        i = m;
    }
    if (P->nevq)
        P->evq[i] = v;
    return top;
}

/* Runs the graph from t0; returns when its last node completes (-1: out of memory). Every
 * ready PIM op and memory transfer is issued at once into its FIFO; the NPU takes the
 * smallest ready compute node whenever it is free, re-examined after each completion. */
static int64_t schedule(struct pim *P, int64_t t0, int64_t nch, int64_t *mem_busy)
{
    size_t nk = 0;
    for (size_t i = 0; i < P->nn; i++)
        nk += (size_t)P->n[i].npar;
    if (!grow((void **)&P->kids, &P->capk, nk + 1, sizeof *P->kids))
        return -1;
    for (size_t i = 0; i < P->nn; i++)
        P->n[i].nkid = 0, P->n[i].wait = P->n[i].npar;
    for (size_t i = 0; i < P->nn; i++)
        for (int k = 0; k < P->n[i].npar; k++)
            P->n[P->n[i].par[k]].nkid++;
    int32_t off = 0;
    for (size_t i = 0; i < P->nn; i++) {
        P->n[i].kid0 = off;
        off += P->n[i].nkid;
        P->n[i].nkid = 0;
    }
    for (size_t i = 0; i < P->nn; i++)
        for (int k = 0; k < P->n[i].npar; k++) {
            struct pnode *pn = &P->n[P->n[i].par[k]];
            P->kids[pn->kid0 + pn->nkid++] = (int32_t)i;
        }
    P->nready = P->nevq = P->nevt = 0;
    for (size_t i = 0; i < P->nn; i++)
        if (!P->n[i].wait && !heap_push_ready(P, (int32_t)i))
            return -1;
    int64_t now = t0, seq = 0, last = t0;
    bool gpu_busy = false;
    for (int64_t c = 0; c < nch; c++)
        if (P->busy[c] < t0)
            P->busy[c] = t0;
    for (;;) {
        /* issue pass: ready nodes in id order */
        size_t nheld = 0;
        while (P->nready) {
            int32_t v = heap_pop_ready(P);
            struct pnode *n = &P->n[v];
            int64_t done;
            if (n->kind == N_GPU) {
                if (gpu_busy) {
                    if (!grow((void **)&P->held, &P->capheld, nheld + 1, sizeof *P->held))
                        return -1;
                    P->held[nheld++] = v;
                    continue;
                }
                gpu_busy = true;
                done = now + n->dur;
            } else if (n->kind == N_MEM) {
                int64_t st = *mem_busy > now ? *mem_busy : now;
                done = *mem_busy = st + n->dur;
            } else {
                const int64_t *d = P->chan[n->sub];
                done = now;
                for (int64_t c = 0; c < nch; c++) {
                    if (!d[c])
                        continue;
                    int64_t st = P->busy[c] > now ? P->busy[c] : now;
                    P->busy[c] = st + d[c];
                    if (P->busy[c] > done)
                        done = P->busy[c];
                }
            }
            if (!ev_push(P, (struct ev){done, seq++, v}))
                return -1;
        }
        for (size_t i = 0; i < nheld; i++)
            if (!heap_push_ready(P, P->held[i]))
                return -1;
        if (!P->nevq)
            break;
        struct ev e = ev_pop(P);
        now = e.t;
        if (e.t > last)
            last = e.t;
        if (!grow((void **)&P->evt, &P->capevt, P->nevt + 1, sizeof *P->evt))
            return -1;
        P->evt[P->nevt++] = e.t;
        struct pnode *n = &P->n[e.node];
        if (n->kind == N_GPU)
            gpu_busy = false;
        for (int32_t k = 0; k < n->nkid; k++) {
            int32_t c = P->kids[n->kid0 + k];
            if (--P->n[c].wait == 0 && !heap_push_ready(P, c))
                return -1;
        }
    }
    return last;
}

/* ---- rows and energy, in the trace generator's order ---- */

struct gen {
    struct ipw_ss_sim *sim;
    struct ss_sched *s;
    struct ss_power *p;
    struct build B;
    ipw_errbuf *eb;
    /* energy of one emitted group, flushed like the original's PowerAccumulator */
    int64_t npu[128];
    int nnpu;
    int64_t pim_bytes;
    bool pim_subs[2];
};

static ipw_err flush(struct gen *g)
{
    struct pim *P = g->s->pim;
    struct ss_inst_cfg *c = g->s->cfg;
    if (g->p) {
        ss_power_dram(g->p, c->node, (double)g->pim_bytes);
        ss_power_link(g->p, c->node, 0);
        for (int i = 0; i < g->nnpu; i++)
            ss_power_npu_active(g->p, c->node, c->hardware, g->npu[i], c->tp);
        for (int si = 0; si < 2; si++)
            if (g->pim_subs[si])
                for (size_t i = 0; i < P->nlats[si]; i++)
                    ss_power_pim(g->p, c->node, P->lats[si][i]);
    }
    g->nnpu = 0;
    g->pim_bytes = 0;
    g->pim_subs[0] = g->pim_subs[1] = false;
    return IPW_OK;
}

static ipw_err layer_row(struct gen *g, const struct sub *u, const char *name, int tag, bool acc)
{
    int64_t ns;
    ipw_err e = ss_layer_time(g->sim, g->s, &u->x, name, &ns, g->eb);
    if (e)
        return e;
    if (row_layer(&g->B, ns, tag, !strcmp(name, "attention")) < 0)
        return ipw_fail(g->eb, IPW_E_NOMEM, "out of memory");
    if (acc) {
        if (g->nnpu == 128)
            return ipw_fail(g->eb, IPW_E_RANGE, "a transformer block has too many layers");
        g->npu[g->nnpu++] = ns;
    } else if (g->p) { /* prologue and head: charged one by one */
        struct ss_inst_cfg *c = g->s->cfg;
        ss_power_npu_active(g->p, c->node, c->hardware, ns, c->tp);
    }
    return IPW_OK;
}

/* A sequence of the architecture (pre_attn, post_attn or mlp) for sub-batch si. */
static ipw_err seq(struct gen *g, const struct sub *u, int si, const char (*names)[32], int n,
                   int tag)
{
    struct pim *P = g->s->pim;
    ipw_err e;
    for (int i = 0; i < n; i++) {
        if (strcmp(names[i], "attention")) {
            if ((e = layer_row(g, u, names[i], tag, true)))
                return e;
            continue;
        }
        bool npu_attn = u->x.pc > 0; /* decodes went to PIM: the NPU sees the prefill only */
        if (row_pim(&g->B, si, npu_attn) < 0)
            return ipw_fail(g->eb, IPW_E_NOMEM, "out of memory");
        g->pim_bytes += P->ops[si] * P->op_bytes;
        g->pim_subs[si] = true;
        if (npu_attn && (e = layer_row(g, u, "attention", tag, true)))
            return e;
    }
    return IPW_OK;
}

static ipw_err head(struct gen *g, const struct sub *u, int tag)
{
    const struct ss_arch *a = &g->s->cfg->bundle->arch;
    ipw_err e;
    for (int i = 0; i < a->nhead; i++)
        if ((e = layer_row(g, u, a->head[i], tag, false)))
            return e;
    return IPW_OK;
}

static ipw_err prologue(struct gen *g, const struct sub *u, int tag)
{
    const struct ss_arch *a = &g->s->cfg->bundle->arch;
    ipw_err e;
    for (int i = 0; i < a->nprologue; i++)
        if ((e = layer_row(g, u, a->prologue[i], tag, false)))
            return e;
    return IPW_OK;
}

/* post_attn + mlp of sub-batch si */
static ipw_err post(struct gen *g, const struct sub *u, int si, int tag)
{
    const struct ss_arch *a = &g->s->cfg->bundle->arch;
    ipw_err e = seq(g, u, si, a->post_attn, a->npost, tag);
    return e ? e : seq(g, u, si, a->mlp, a->nmlp, tag);
}

static ipw_err pre(struct gen *g, const struct sub *u, int si, int tag)
{
    const struct ss_arch *a = &g->s->cfg->bundle->arch;
    return seq(g, u, si, a->pre_attn, a->npre, tag);
}

static void shape(const struct ss_batch *b, struct sub *u)
{
    memset(&u->x, 0, sizeof u->x);
    for (size_t k = 0; k < u->n; k++) {
        size_t i = u->idx[k];
        u->x.total_len += b->sched[i];
        if (b->sched[i] > 1) {
            u->x.pc += b->sched[i];
            u->x.kp += b->reqs[i]->sched_tokens;
        }
    }
    u->x.lm_head_len = (int64_t)u->n;
    if (u->x.total_len < 1)
        u->x.total_len = 1;
}

/* The original's _make_sub_batch: requests by this step's tokens, largest first, each to the
 * lighter side; each side in arrival order. */
static void split_batch(const struct ss_batch *b, struct sub *u, int64_t *keys)
{
    size_t n = b->nreq;
    size_t *tmp = u[0].idx + n; /* the caller gives 2n slots in u[0].idx */
    for (size_t i = 0; i < n; i++) {
        tmp[i] = i;
        keys[i] = b->sched[i];
    }
    sort_desc(tmp, n, keys);
    int64_t load[2] = {0, 0};
    u[0].n = u[1].n = 0;
    size_t *side[2] = {u[0].idx, u[1].idx};
    for (size_t k = 0; k < n; k++) {
        int t = load[0] <= load[1] ? 0 : 1;
        load[t] += b->sched[tmp[k]];
        side[t][u[t].n++] = tmp[k];
    }
    for (int t = 0; t < 2; t++) /* stable by arrival */
        for (size_t i = 1; i < u[t].n; i++) {
            size_t v = u[t].idx[i], j = i;
            while (j > 0 && b->reqs[u[t].idx[j - 1]]->arrival > b->reqs[v]->arrival) {
                u[t].idx[j] = u[t].idx[j - 1];
                j--;
            }
            u[t].idx[j] = v;
        }
}

ipw_err ss_pim_batch_latency(struct ipw_ss_sim *sim, struct ss_sched *s, struct ss_batch *b,
                             struct ss_power *p, ipw_errbuf *eb)
{
    struct ss_inst_cfg *c = s->cfg;
    const struct ss_node_cfg *node = &sim->c.nodes[c->node];
    const struct ss_arch *a = &c->bundle->arch;
    const struct ss_model *m = c->model;
    int64_t nch = node->pimc.channels;
    if (!s->pim && !(s->pim = calloc(1, sizeof(struct pim))))
        return ipw_fail(eb, IPW_E_NOMEM, "out of memory");
    struct pim *P = s->pim;
    size_t n = b->nreq ? b->nreq : 1;
    size_t *idx0 = malloc(3 * n * sizeof *idx0);
    int64_t *keys = malloc(n * sizeof *keys);
    if (!P->busy)
        P->busy = calloc((size_t)nch, sizeof *P->busy);
    for (int i = 0; i < 2; i++)
        if (!P->chan[i])
            P->chan[i] = calloc((size_t)nch, sizeof *P->chan[i]);
    ipw_err e = IPW_OK;
    if (!idx0 || !keys || !P->busy || !P->chan[0] || !P->chan[1]) {
        e = ipw_fail(eb, IPW_E_NOMEM, "out of memory");
        goto out;
    }
    struct sub u[2] = {{idx0, 0, {0}}, {idx0 + 2 * n, 0, {0}}};
    bool inter = c->sub_batch && b->nreq > 1;
    if (inter) {
        split_batch(b, u, keys);
        inter = u[0].n && u[1].n;
    }
    if (!inter) {
        u[0].n = b->nreq;
        for (size_t i = 0; i < b->nreq; i++)
            u[0].idx[i] = i;
    }
    int nsub = inter ? 2 : 1;
    for (int si = 0; si < nsub; si++) {
        shape(b, &u[si]);
        if ((e = balance(sim, s, P, b, &u[si], si, keys, eb)))
            goto out;
    }
    P->inter = inter;
    if (inter) {
        if (!grow((void **)&P->subidx, &P->capsub, b->nreq, sizeof *P->subidx)) {
            e = ipw_fail(eb, IPW_E_NOMEM, "out of memory");
            goto out;
        }
        memcpy(P->subidx, u[0].idx, u[0].n * sizeof *P->subidx);
        memcpy(P->subidx + u[0].n, u[1].idx, u[1].n * sizeof *P->subidx);
        for (int i = 0; i < 2; i++) {
            P->nsub[i] = u[i].n;
            P->tl[i] = 0;
            for (size_t k = 0; k < u[i].n; k++)
                P->tl[i] += b->sched[u[i].idx[k]];
        }
    }
    if (!inter)
        P->ops[1] = 0;

    /* the graph: [kv_load] input load, rows, output store */
    P->nn = 0;
    struct gen g = {.sim = sim, .s = s, .p = p, .eb = eb};
    g.B = (struct build){.P = P, .prev_comp = -1, .first_comp = true, .pim_comp = -1,
                         .past_pim = -1, .last_tag = 1, .fix_deps = sim->opt.fix_pim_attn_deps};
    double bw = sim->c.nodes[0].cpu_mem_bw;
    if (b->load)
        g.B.first_parents[g.B.nfirst++] =
            add_node(P, N_MEM, (int64_t)node->cpu_mem_lat + (int64_t)((double)b->load / bw), 0);
    int64_t in = 0;
    ss_layer_sizes(m, a->nprologue ? a->prologue[0] : "embedding", u[0].x.total_len, 0, c->tp,
                   c->fp_bits / 8, &in, NULL, NULL);
    g.B.first_parents[g.B.nfirst++] =
        add_node(P, N_MEM, (int64_t)node->cpu_mem_lat + (int64_t)((double)in / bw), 0);
    for (int i = 0; i < g.B.nfirst; i++)
        if (g.B.first_parents[i] < 0) {
            e = ipw_fail(eb, IPW_E_NOMEM, "out of memory");
            goto out;
        }
    if (!inter) {
        if ((e = prologue(&g, &u[0], 0)))
            goto out;
        for (int64_t l = 0; l < m->layers; l++) {
            if ((e = pre(&g, &u[0], 0, 0)) || (e = post(&g, &u[0], 0, 0)) || (e = flush(&g)))
                goto out;
        }
        if ((e = head(&g, &u[0], 0)))
            goto out;
    } else {
        if ((e = prologue(&g, &u[0], 1)) || (e = pre(&g, &u[0], 0, 1)) || (e = flush(&g)) ||
            (e = prologue(&g, &u[1], 2)) || (e = pre(&g, &u[1], 1, 2)) || (e = flush(&g)))
            goto out;
        for (int64_t l = 0; l + 1 < m->layers; l++) {
            if ((e = post(&g, &u[0], 0, 1)) || (e = pre(&g, &u[0], 0, 1)) ||
                (e = post(&g, &u[1], 1, 2)) || (e = pre(&g, &u[1], 1, 2)) || (e = flush(&g)))
                goto out;
        }
        if ((e = post(&g, &u[0], 0, 1)) || (e = flush(&g)) || (e = head(&g, &u[0], 1)) ||
            (e = post(&g, &u[1], 1, 2)) || (e = flush(&g)) || (e = head(&g, &u[1], 2)))
            goto out;
    }
    /* the last row's output goes back to host memory after the last compute */
    const struct sub *last = &u[nsub - 1];
    int64_t out = 0;
    ss_layer_sizes(m, a->head[a->nhead - 1], last->x.total_len, 0, c->tp, c->fp_bits / 8, NULL,
                   NULL, &out);
    int32_t st = add_node(P, N_MEM, (int64_t)node->cpu_mem_lat + (int64_t)((double)out / bw), 0);
    if (st < 0) {
        e = ipw_fail(eb, IPW_E_NOMEM, "out of memory");
        goto out;
    }
    add_par(P, st, g.B.prev_comp);
    if (p && b->load)
        ss_power_dram(p, c->node, (double)b->load);

    int64_t mem_busy = b->start;
    int64_t end = schedule(P, b->start, nch, &mem_busy);
    if (end < 0) {
        e = ipw_fail(eb, IPW_E_NOMEM, "out of memory");
        goto out;
    }
    b->end = end;
    b->npre = b->nblk = b->npost = 0;
    b->layers = 0;
    b->ev = P->evt;
    b->nev = P->nevt;
out:
    free(idx0);
    free(keys);
    return e;
}
