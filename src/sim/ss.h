/* Internal types of the serving simulator (include/ipw/servesim.h is the public face).
 * Every time is an integer nanosecond count, as in the original's ASTRA-Sim clock. */
#ifndef IPW_SS_H
#define IPW_SS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "ipw/err.h"
#include "ipw/servesim.h"

#define SS_PATH 1024
#define SS_NAME 128
#define SS_INF INT64_MAX
#define SS_PP_MAX 128 /* pipeline stages an instance may have */

/* ---- minimal YAML (block mappings, flow lists, scalars): the architecture and meta files --- */
struct ss_ynode {
    char *key;
    char *scalar;    /* NULL for a mapping or a list */
    char **list;     /* flow list items */
    size_t nlist;
    bool is_list;
    struct ss_ynode *kids;
    size_t nkids;
};
ipw_err ss_yaml_load(const char *path, struct ss_ynode *root, ipw_errbuf *eb);
void ss_yaml_free(struct ss_ynode *n);
const struct ss_ynode *ss_yaml_get(const struct ss_ynode *n, const char *key);

/* ---- model (Hugging Face config.json) ---- */
struct ss_model {
    char name[SS_NAME];
    char path[SS_PATH];
    char model_type[64];
    char torch_dtype[32];
    int64_t hidden, layers, heads, kv_heads, head_dim, vocab, ffn, max_pos;
};
ipw_err ss_model_load(const char *data_dir, const char *name, struct ss_model *m, ipw_errbuf *eb);
/* calculate_sizes of the original: per-rank input, weight and output bytes of one layer. */
ipw_err ss_layer_sizes(const struct ss_model *m, const char *layer, int64_t len, int64_t kv_len,
                       int64_t parallel, int64_t fp, int64_t *in, int64_t *wt, int64_t *out);
int64_t ss_model_weight_bytes(const struct ss_model *m, int64_t tp, int64_t pp, int64_t fp);

/* ---- architecture catalogue (profiler/models/<type>.yaml) ---- */
enum ss_cat { SS_CAT_NONE, SS_CAT_DENSE, SS_CAT_PERSEQ, SS_CAT_ATTN };
#define SS_ARCH_MAX 16
struct ss_arch {
    char prologue[SS_ARCH_MAX][32], pre_attn[SS_ARCH_MAX][32], post_attn[SS_ARCH_MAX][32],
        mlp[SS_ARCH_MAX][32], head[SS_ARCH_MAX][32];
    int nprologue, npre, npost, nmlp, nhead;
    char cat_name[64][32];
    enum ss_cat cat[64];
    bool tp_stable[64];
    int ncat;
};
ipw_err ss_arch_load(const char *path, struct ss_arch *a, ipw_errbuf *eb);
enum ss_cat ss_arch_category(const struct ss_arch *a, const char *layer, bool *tp_stable);

/* ---- profile tables ---- */
struct ss_tab1d {
    char name[32];
    int64_t *keys, *vals;
    size_t n;
};
struct ss_attn_row {
    int64_t *kd, *v;
    size_t n;
};
struct ss_attn_slice {
    int64_t pc, nd;
    int64_t *kp;
    struct ss_attn_row *rows;
    size_t n;
};
struct ss_attn {
    int64_t *pc_vals, *nd_vals;
    size_t npc, nnd;
    struct ss_attn_slice *slices; /* sorted by (pc, nd) */
    size_t nslices;
};
struct ss_skew_axes {
    double n_bins[32], sr_bins[32], kvb_bins[32], kp_bins[32];
    char n_labels[32][24], sr_labels[32][24], kvb_labels[32][24], kp_labels[32][24];
    int nn, nsr, nkvb, nkp; /* label counts */
};
struct ss_skew_entry {
    char *key;
    double alpha;
};
struct ss_tptab {
    int tp;
    bool loaded;
    struct ss_tab1d *dense, *perseq;
    size_t ndense, nperseq;
    struct ss_attn attn;
    bool has_entry;          /* meta.yaml skew_fit.per_tp has this tp */
    double alpha_default;
    struct ss_skew_entry *alphas; /* sorted by key */
    size_t nalphas;
    /* alphas already looked up, by pc and bucket indices (ss_perf.c): consecutive batches
     * nearly always fall in the same buckets, and the key string costs a format and a search */
    struct ss_skew_memo {
        int64_t pc;
        uint32_t buckets;
        bool used;
        double alpha;
    } skew_memo[16];
};
struct ss_roof;
struct ss_bundle {
    char root[SS_PATH];      /* profiler/perf/<hw>/<model>/<variant> */
    struct ss_roof *roof;    /* non-NULL: no tables, the roofline model (sim/predict/roof.h) */
    char hardware[SS_NAME], variant[32];
    struct ss_arch arch;
    bool skew_enabled;
    bool skew_block;         /* meta has a skew_fit block at all */
    double block_alpha_default;
    bool has_block_alpha_default;
    struct ss_skew_axes axes;
    int tps[16];
    int ntps;
    struct ss_tptab tabs[16];
};
ipw_err ss_bundle_open(const char *data_dir, const char *hardware, const struct ss_model *m,
                       const char *variant, struct ss_bundle *b, ipw_errbuf *eb);
ipw_err ss_bundle_need_tp(struct ss_bundle *b, int tp, const char *cfg_path, const char *key,
                          ipw_errbuf *eb);
void ss_bundle_free(struct ss_bundle *b);
int64_t ss_lookup_1d(const int64_t *keys, const int64_t *vals, size_t n, int64_t q);
/* the 1-D table a dense / per-sequence layer is looked up in at tp (tp_stable layers: tp 1) */
const struct ss_tab1d *ss_table_for(struct ss_bundle *b, const char *layer, int tp, bool perseq);
ipw_err ss_lookup_dense(struct ss_bundle *b, const char *layer, int tp, int64_t tokens,
                        int64_t *ns, ipw_errbuf *eb);
ipw_err ss_lookup_perseq(struct ss_bundle *b, const char *layer, int tp, int64_t seqs,
                         int64_t *ns, ipw_errbuf *eb);
/* 4-D attention with skew correction (int ns). */
ipw_err ss_lookup_attention(struct ss_bundle *b, int tp, int64_t pc, int64_t kp, int64_t nd,
                            int64_t kd_mean, int64_t kd_max, int64_t kd_min, int64_t *ns,
                            ipw_errbuf *eb);
/* Without skew: truncated 4-D interpolation. */
int64_t ss_attn_raw(const struct ss_attn *t, int64_t pc, int64_t kp, int64_t nd, int64_t kd);
double ss_skew_alpha(const struct ss_bundle *b, const struct ss_tptab *t, int64_t pc, int64_t n,
                     double skew_rate, int64_t kv_big, int64_t kp);

/* ---- cluster config ---- */
struct ss_power_npu {
    char hardware[SS_NAME];
    double idle, standby, active, standby_duration;
    int64_t num_npus;
};
struct ss_power_cfg {
    double base_node;
    struct ss_power_npu npu[8];
    int nnpu;
    double cpu_idle, cpu_active, cpu_util;
    double dram_dimm_size, dram_idle, dram_epb, dram_mem_size;
    double dram_pim_active; /* W, from the PIM INI's peak_power (attention offloading only) */
    double link_num, link_idle, link_epb;
    double nic_num, nic_idle;
    double storage_num, storage_idle;
};
/* A PIM device (configs/pim/<name>.ini) in a node's host memory (ss_pim.c). */
struct ss_pim_cfg {
    char name[64];
    char path[SS_PATH];
    double ch_capacity_gb, ch_bw_gbs, mem_bw_gbs, read_lat_ns; /* as the original's PIMModel */
    double idle_w, peak_w;
    double slope, intercept; /* the linear latency model of this spec (Llama-3.1-8B baseline) */
    int64_t channels;        /* cpu_mem.mem_size // channel capacity */
};
ipw_err ss_pim_load(const char *data_dir, const char *name, double mem_size_gb,
                    const char *cfg_path, const char *key, struct ss_pim_cfg *p, ipw_errbuf *eb);
/* PIM attention latency of one request of L tokens split over `split` channels, int ns */
int64_t ss_pim_latency(const struct ss_pim_cfg *p, int64_t heads, int64_t kv_heads,
                       int64_t head_dim, int64_t L, int64_t split);

struct ss_node_cfg {
    double cpu_mem_size, cpu_mem_bw, cpu_mem_lat;
    bool pim; /* attention offloading on: cpu_mem bandwidth and latency are the PIM device's */
    struct ss_pim_cfg pimc;
    bool has_power;
    struct ss_power_cfg power;
};
enum ss_pd { SS_PD_NONE, SS_PD_PREFILL, SS_PD_DECODE };
/* where a layer's weights live (placement): the NPU, the node's host memory (the original's
 * REMOTE:<node>, one serialized queue per node) or CXL device dev (one queue per device,
 * shared by the cluster) */
enum ss_wkind { SS_W_NPU, SS_W_CPU, SS_W_CXL };
struct ss_wloc {
    int8_t kind; /* enum ss_wkind; -1: not given at this level */
    int16_t dev;
};
#define SS_PLACE_MAX 64
struct ss_place {
    struct ss_wloc def;
    struct {
        int32_t lo, hi; /* transformer blocks lo..hi */
        struct ss_wloc w;
    } ranges[SS_PLACE_MAX];
    int nranges;
    struct {
        char name[32];
        struct ss_wloc w;
    } layers[16];
    int nlayers;
    bool off_npu; /* some layer's weights are not on the NPU */
};
struct ss_inst_cfg {
    int node, local; /* node index, index within the node's instances */
    char model_name[SS_NAME], hardware[SS_NAME];
    double npu_mem_size, npu_mem_bw, npu_mem_lat, mem_util;
    int64_t num_npus, tp, pp;
    enum ss_pd pd;
    char dp_group[SS_NAME];
    struct ss_place place;
    bool local_offload; /* enable_local_offloading (instance > CLI) */
    int start_npu;
    /* runtime (instance > CLI > default) */
    int64_t max_num_seqs, max_num_batched_tokens, long_prefill_threshold, block_size;
    char dtype[16];
    int64_t fp_bits;
    bool kv_fp8, chunked, prefix_caching, reserve_full_isl;
    bool attn_offloading, sub_batch; /* enable_attn_offloading (with a PIM node), interleaving */
    struct ss_model *model;
    struct ss_bundle *bundle;
};
struct ss_cluster {
    char path[SS_PATH];
    int num_nodes;
    double link_bw, link_lat;
    struct ss_node_cfg *nodes;
    struct ss_inst_cfg *inst;
    int ninst;
    int total_npus;
    bool power;
    double cxl_mem_size; /* GB, 0 without a cxl_mem block */
    double cxl_mem_bw, cxl_mem_lat;
    int cxl_devices;
};
ipw_err ss_cluster_load(const struct ipw_ss_options *o, struct ss_cluster *c, ipw_errbuf *eb);
void ss_cluster_free(struct ss_cluster *c);
ipw_err ss_inst_resolve(const struct ss_cluster *cl, int idx, struct ss_inst_cfg *ic, char *variant,
                        size_t vlen, ipw_errbuf *eb);

/* ---- workload trace (streamed) ---- */
struct ss_req {
    int64_t id;
    int instance;
    int64_t input, output, arrival;
    int32_t *toks; /* input ids then output ids, for prefix hashes */
    size_t ntoks;
    uint64_t *hashes;
    size_t nhashes;
    bool hashed;
    int64_t num_computed, num_reached;
    bool is_init, finished;
    int num_preemptions;
    int64_t end_time, latency, queuing_delay, ttft, tpot, recent_end;
    int64_t *itl;
    size_t n_itl, cap_itl;
    int64_t prefix_cache_hit, npu_cache_hit, storage_cache_hit;
    int64_t storage_hit_blocks; /* lower-tier blocks to recall, set by the lookup */
    bool stats_counted, storage_stats_counted;
    /* KV blocks held on the NPU (req_to_blocks), and num_cached_block */
    int32_t *blocks;
    size_t nblocks, capblocks;
    bool has_blocks_entry, has_cached_entry;
    int64_t num_cached_block;
    int64_t sched_tokens; /* tokens scheduled in the in-flight batch */
    /* agentic sessions: the next sub-request, released tool_ns after this one finishes */
    struct ss_req *next_sub;
    int64_t tool_ns;
    bool session;
    /* in-flight batches holding this request (pp_size > 1 keeps several); a request that
     * finishes while a later batch still holds it is freed when that batch completes */
    int32_t nbatches;
    bool free_pending;
};
/* one line of an unsorted trace file: where it is, when it arrives, the first id it takes */
struct ss_tidx {
    int64_t arrival, first_id;
    off_t off;
    long line;
};
struct ss_trace {
    FILE *f;
    char path[SS_PATH];
    long line;
    long limit, loaded;
    int64_t next_id;
    struct ss_req *ahead; /* the next request not yet handed out */
    int64_t deferred;     /* session sub-requests read but not yet released */
    int64_t last_arrival;
    bool keep_tokens;
    char *buf;
    size_t cap;
    struct ss_tidx *order; /* non-NULL: a file out of arrival order, read in this order */
    size_t norder, next_order;
};
ipw_err ss_trace_open(struct ss_trace *t, const char *path, long limit, bool keep_tokens,
                      ipw_errbuf *eb);
/* Reads the next entry into t->ahead (NULL at the end). */
ipw_err ss_trace_advance(struct ss_trace *t, ipw_errbuf *eb);
void ss_trace_close(struct ss_trace *t);
void ss_req_free(struct ss_req *r);
ipw_err ss_trace_parse_line(const char *line, size_t len, const char *path, long lineno,
                            bool keep_tokens, struct ss_req *r, ipw_errbuf *eb);
/* A line checked like ss_trace_parse_line, but only its arrival and the number of request ids
 * it takes (a session: one per sub-request) kept; token id lists are skipped, not read. */
ipw_err ss_trace_skim_line(const char *line, size_t len, const char *path, long lineno,
                           int64_t *arrival, int *nids, ipw_errbuf *eb);
/* ss_tsort.c: a regular file whose arrivals go backwards gets an order index (the original
 * sorts its trace by arrival, stably); a sorted file or a pipe is streamed as it is. */
ipw_err ss_trace_order(struct ss_trace *t, ipw_errbuf *eb);

/* ---- KV block pool with the prefix-cache index (vLLM v1 port) ---- */
struct ss_block {
    int32_t prev, next; /* free-list links, -1 when not in the list */
    int32_t ref;
    bool has_hash;
    bool indexed; /* the index maps this block's hash to this block */
    uint64_t hash;
};
struct ss_pool {
    int64_t num_blocks, block_size, bytes_per_block;
    bool caching;
    struct ss_block *b; /* num_blocks + 2 (fake head, fake tail) */
    int64_t nfree;
    /* open-addressing hash -> block index */
    uint64_t *hk;
    int32_t *hv;
    size_t hcap, hcount, hdel;
    int64_t cached_free; /* indexed blocks with ref 0 */
    int64_t stat_requested, stat_hit;
};
ipw_err ss_pool_init(struct ss_pool *p, int64_t num_blocks, int64_t block_size,
                     int64_t bytes_per_block, bool caching, ipw_errbuf *eb);
void ss_pool_free(struct ss_pool *p);
int64_t ss_pool_used_bytes(const struct ss_pool *p);

struct ss_kv {
    struct ss_pool npu;
    int64_t block_size;
    bool caching;
    /* the lower prefix tier (--prefix-storage CPU|CXL): 256-token blocks of full-cluster KV
     * bytes, a victim cache written through from the NPU; NULL without one. May be shared by
     * a node's instances (--enable-prefix-sharing). */
    struct ss_pool *lower;
    int64_t recall_bytes, write_through_bytes; /* drained once per step (take_traffic) */
};
/* get_computed_blocks: number of NPU hit blocks (indices written to hit[]); *lower_hit gets
 * the extra tokens recoverable from the lower tier */
size_t ss_kv_computed_blocks(struct ss_kv *kv, struct ss_req *r, int32_t *hit, size_t cap,
                             int64_t *lower_hit);
bool ss_kv_can_fit_full(struct ss_kv *kv, struct ss_req *r, const int32_t *hit, size_t nhit,
                        int64_t npu_hit_tokens, int64_t lower_hit_tokens);
/* allocate_slots: false (nothing changed) when the pool cannot satisfy it */
bool ss_kv_allocate(struct ss_kv *kv, struct ss_req *r, int64_t num_new, const int32_t *hit,
                    size_t nhit, int64_t npu_hit_tokens, int64_t lower_hit_tokens);
void ss_kv_cache_blocks(struct ss_kv *kv, struct ss_req *r, int64_t num_tokens);
void ss_kv_free(struct ss_kv *kv, struct ss_req *r);
void ss_req_hashes(struct ss_req *r, int64_t block_size);

/* ---- power ---- */
struct ss_power {
    int nnodes;
    const struct ss_cluster *c;
    double (*net)[7];  /* base_node, npu, cpu, dram, link, nic, storage */
    double (*base)[7];
    double *npu_active, *npu_standby; /* net increments split (J) */
    double *last_e;
    int64_t last_t;
    double *series;
    size_t nseries, capseries;
    /* the same intervals split by component: the cumulative cluster joules of each part at
     * the last heartbeat, and each interval's watts (one row per series entry) */
    double last_parts[IPW_SS_NPARTS];
    double (*parts)[IPW_SS_NPARTS];
    size_t capparts, ndropped;
    bool fix_standby_tail;
};
ipw_err ss_power_init(struct ss_power *p, const struct ss_cluster *c, ipw_errbuf *eb);
void ss_power_free(struct ss_power *p);
void ss_power_npu_active(struct ss_power *p, int node, const char *hw, int64_t lat_ns, int64_t n);
void ss_power_standby(struct ss_power *p, int node, const char *hw, int64_t now, int64_t last_end,
                      int64_t last_calc, int64_t n);
void ss_power_dram(struct ss_power *p, int node, double bytes);
void ss_power_link(struct ss_power *p, int node, double bytes);
double ss_power_current(struct ss_power *p, int64_t now);
void ss_power_final(struct ss_power *p, int64_t end, struct ipw_ss_result *res);
/* Hands the heartbeat series (watts and their split by component) to res; false when out of
 * memory (res then has no series). */
bool ss_power_take_series(struct ss_power *p, struct ipw_ss_result *res);

/* a multiset of ns values as value -> count (inter-token latencies repeat: every request of a
 * batch gets the same gap), so a million-request run keeps the ITL statistics exact without
 * keeping every value */
struct ss_hist {
    int64_t *k, *c;
    size_t cap, n;
    int64_t total;
};
bool ss_hist_add(struct ss_hist *h, int64_t v);
void ss_hist_free(struct ss_hist *h);
void ss_stat_hist(struct ss_hist *h, struct ipw_ss_stat *st);

/* ---- the simulation ---- */
struct ss_batch {
    int64_t id;
    struct ss_req **reqs;
    size_t nreq;
    int64_t *sched; /* tokens scheduled per request */
    int64_t total_len, start, end;
    int64_t load; /* bytes recalled from the lower prefix tier (the trace's kv_load row) */
    /* node durations in execution order, as prologue + layers x block + head: the events at
     * which another (idle) instance is polled */
    int64_t pre[SS_ARCH_MAX + 2], blk[64], post[SS_ARCH_MAX + 2];
    int npre, nblk, npost;
    int64_t layers;
    double energy[4]; /* npu, cpu, dram, link joules held back (--fix-energy-at-completion) */
    double energy_active;
    int node;
    /* pipeline parallelism (ss_pp.c): pp_n stages (0 without PP), each starting to compute at
     * pp_start[s] and done (its SEND, or the last stage's store, complete) at pp_fin[s] */
    int pp_n;
    int64_t pp_start[SS_PP_MAX], pp_fin[SS_PP_MAX];
    int64_t pp_send; /* one stage-to-stage SEND/RECV through the network, ns */
    /* P/D (ss_pd.c): tokens whose K/V a prefill instance sends after each layer's qkv_proj,
     * and when within a block qkv_proj ends */
    int64_t pd_kv_tokens, qkv_at;
    /* PIM (ss_pim.c): the NPU's node completions in time order, when they are not the plain
     * pre[]/blk[]/post[] sequence (owned by the instance, NULL otherwise) */
    const int64_t *ev;
    size_t nev;
    /* DP groups (ss_dp.c): a member's 1-token stand-in batch, the tokens (and sequences) the
     * round's padding added, and a batch held at the barrier or awaiting its hand-over (end is
     * SS_INF, no events); hold_ns is its duration once the round set it */
    bool dummy, hold;
    int64_t dp_pad, hold_ns;
};
/* the first event of batch b at or after time t (b->end when none is earlier) */
int64_t ss_batch_next_event(const struct ss_batch *b, int64_t t);
/* the first node completion at or after t of a node list that starts at `at`: pre[], then
 * blk[] repeated reps times, then post[]; SS_INF when every node ends before t */
int64_t ss_seq_next_event(int64_t at, const int64_t *pre, int npre, const int64_t *blk, int nblk,
                          int64_t reps, const int64_t *post, int npost, int64_t t);
struct ss_sched {
    int idx;
    struct ss_inst_cfg *cfg;
    struct ss_kv kv;
    int64_t weight_bytes;
    struct ss_req **running, **waiting;
    size_t nrun, caprun, nwait, capwait;
    struct ss_batch *inflight; /* pp_size slots */
    size_t ninflight;
    int64_t *stage_free; /* when each stage's NPUs finish the newest batch (ss_run.c) */
    bool unseen; /* a batch completed after the first NPU's last poll (ss_run.c) */
    int64_t batch_ids;
    int64_t recompute_tokens, num_preemptions;
    void *pim; /* ss_pim.c's per-instance scratch (NULL without attention offloading) */
    /* each architecture layer's table, resolved once (keyed by the name's address) */
    struct {
        const char *name;
        enum ss_cat cat;
        const struct ss_tab1d *tab;
    } plan[64];
    int nplan;
    void *picks; /* the scheduler's per-step scratch */
    size_t cap_picks;
    /* finished stats */
    int64_t *ttft, *tpot;
    size_t nttft;
    struct ss_hist itl;
    int64_t finished, done_input;
    /* DP groups (ss_dp.c): the group's index (-1 none) and where this member's batch is */
    int dp;
    enum { SS_DP_NONE, SS_DP_PARKED, SS_DP_READY } dp_state;
    /* event loop */
    bool idle, done;
    int64_t last_end, last_calc;
};
struct ipw_ss_sim {
    struct ipw_ss_options opt;
    char data_dir[SS_PATH];
    struct ss_cluster c;
    struct ss_model models[8];
    int nmodels;
    struct ss_bundle bundles[8];
    int nbundles;
    struct ss_sched *s;
    struct ss_pool *pools; /* lower prefix-tier pools: one per instance, node or cluster */
    int npools;
    /* the memory queues weights off the NPU are loaded through (ss_memq.c): when each node's
     * host memory and each CXL device is next free */
    int64_t *q_cpu, *q_cxl;
};

/* schedule one step for instance s at time now; returns the batch or NULL */
ipw_err ss_schedule(struct ipw_ss_sim *sim, struct ss_sched *s, int64_t now, struct ss_batch **out,
                    ipw_errbuf *eb);
/* batch completion at time now: prompt/gen tokens, finished requests via cb */
ipw_err ss_add_done(struct ipw_ss_sim *sim, struct ss_sched *s, struct ss_batch *b, int64_t now,
                    int64_t *prompt_t, int64_t *gen_t, struct ss_req ***fin, size_t *nfin,
                    ipw_errbuf *eb);
void ss_sched_add_request(struct ss_sched *s, struct ss_req *r);
/* latency of one batch in ns, with its node list; charges power when p is non-NULL */
ipw_err ss_batch_latency(struct ipw_ss_sim *sim, struct ss_sched *s, struct ss_batch *b,
                         struct ss_power *p, ipw_errbuf *eb);


/* The batch shape a layer's time is looked up for (ss_batch.c), and the lookup itself. */
struct ss_shape {
    int64_t total_len, lm_head_len, pc, kp, nd, kd_mean, kd_max, kd_min;
};
ipw_err ss_layer_time(struct ipw_ss_sim *sim, struct ss_sched *s, const struct ss_shape *x,
                      const char *name, int64_t *ns, ipw_errbuf *eb);

/* ---- PIM attention offloading (ss_pim.c) ---- */
/* latency, node events and energy of batch b of an instance with attention offloading */
ipw_err ss_pim_batch_latency(struct ipw_ss_sim *sim, struct ss_sched *s, struct ss_batch *b,
                             struct ss_power *p, ipw_errbuf *eb);
void ss_pim_free(struct ss_sched *s);
/* true when the batch just computed for s was split in two sub-batches: their request
 * indices into the batch (arrival order) and token counts */
bool ss_pim_subs(const struct ss_sched *s, const size_t *idx[2], size_t n[2], int64_t tl[2]);

/* ---- --log-level INFO: the original's per-batch log records (ss_info.c) ---- */
struct ss_info {
    double before[4];      /* the node's NPU, CPU, DRAM, link joules before the batch */
    double standby_logged; /* cluster standby joules already reported */
};
void ss_info_begin(struct ss_info *in, const struct ss_power *p, int node);
void ss_info_batch(struct ss_info *in, const struct ipw_ss_sink *k, const struct ss_sched *s,
                   const struct ss_batch *b, const struct ss_power *p);
void ss_power_pim(struct ss_power *p, int node, int64_t lat_ns);

/* ---- pipeline parallelism (ss_pp.c) ---- */
/* blocks of an L-layer model that stage s of pp runs (vLLM's get_pp_indices) */
int64_t ss_pp_stage_blocks(int64_t layers, int pp, int s);
/* the stage timeline of batch b, scheduled at b->start after ss_batch_latency filled its
 * nodes; sets b->end to the last stage's end and charges the PP link energy */
void ss_pp_stage_times(struct ipw_ss_sim *sim, struct ss_sched *s, struct ss_batch *b,
                       struct ss_power *p);
/* the first node completion of any stage of b at or after t (SS_INF when none) */
int64_t ss_pp_next_event(const struct ss_batch *b, int64_t t);
/* the first stage end of b at or after t (an NPU of the instance finishes and is polled);
 * SS_INF when none */
int64_t ss_pp_next_milestone(const struct ss_batch *b, int64_t t);

/* ---- P/D disaggregation (ss_pd.c) ---- */
/* K+V bytes per layer and rank that a prefill instance sends for batch b (0 otherwise) */
int64_t ss_pd_kv_bytes(const struct ss_inst_cfg *c, const struct ss_batch *b);
/* a prefill batch's end: the output sent to the receiver, the last K/V send arrived; charges
 * the original's end-of-trace P/D link bytes */
void ss_pd_prefill_times(struct ipw_ss_sim *sim, struct ss_sched *s, struct ss_batch *b,
                         struct ss_power *p);
/* a decode instance takes over request r, whose prefill finished elsewhere */
ipw_err ss_pd_add_decode(struct ss_sched *s, struct ss_req *r, ipw_errbuf *eb);
void ss_sched_add_running(struct ss_sched *s, struct ss_req *r);

/* ---- DP groups (ss_dp.c) ---- */
/* numbers the groups (sched.dp) and checks them: members share tp_size and pp_size; pp_size 1
 * and no pd_type (not simulated) */
ipw_err ss_dp_setup(struct ipw_ss_sim *sim, ipw_errbuf *eb);
/* starts a batch's timeline at b->start (its latency, nodes, energy): ss_run.c's launch */
typedef ipw_err (*ss_dp_launch_fn)(void *ud, struct ss_sched *s, struct ss_batch *b,
                                   ipw_errbuf *eb);
/* a DP member's poll after ss_schedule gave nb (or NULL): parks nb at the barrier, or joins
 * the round with a 1-token dummy when idle while another member waits; when every member has
 * a batch, pads them to the largest and launches them: this member's now, the others at their
 * next poll (ss_dp_handover) */
ipw_err ss_dp_poll(struct ipw_ss_sim *sim, struct ss_sched *s, struct ss_batch *nb, int64_t now,
                   ss_dp_launch_fn launch, void *ud, ipw_errbuf *eb);
/* a member whose round was launched by another member starts its batch now; false if none */
bool ss_dp_handover(struct ss_sched *s, int64_t now);
/* every member of s's group (s alone without one) has nothing waiting, running or in flight */
bool ss_dp_group_empty(const struct ipw_ss_sim *sim, const struct ss_sched *s);
/* some DP member waits at the barrier or for its hand-over: the next event must be polled */
bool ss_dp_any_waiting(const struct ipw_ss_sim *sim);

/* ---- weights off the NPU (ss_memq.c) ---- */
/* the placement of layer `name` (block: its transformer block, -1 for the prologue/head) */
struct ss_wloc ss_place_weights(const struct ss_place *pl, const char *name, int64_t block);
/* Re-times batch b of an instance whose placement puts weights off the NPU: every weight load
 * is issued when the batch starts, in layer order, to its memory's serialized queue
 * (latency + bytes / bandwidth each), and a layer computes once the layer before it is done
 * and its own weights have arrived. rows[] are the layer durations ss_batch_latency found, in
 * execution order (prologue, L x block, head); sets b->end, charges the DRAM energy of the
 * loaded bytes. */
ipw_err ss_memq_time(struct ipw_ss_sim *sim, struct ss_sched *s, struct ss_batch *b,
                     const char *const *names, const int64_t *blocks, const int64_t *rows,
                     size_t nrows, int64_t pre_io, int64_t store, struct ss_power *p,
                     ipw_errbuf *eb);

/* checks every placement off the NPU (devices that exist, a single-NPU instance) and sets up
 * the queues; ss_memq_reset empties them for a run */
ipw_err ss_memq_setup(struct ipw_ss_sim *sim, ipw_errbuf *eb);
void ss_memq_reset(struct ipw_ss_sim *sim);

/* python-compatible helpers */
double ss_pyround2(double v);
void ss_stat(int64_t *v, size_t n, struct ipw_ss_stat *st);

#endif
