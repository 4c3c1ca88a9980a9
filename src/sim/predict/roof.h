/* The serving simulator's roofline performance model (issue 14 item 1): per-layer kernel
 * times computed from the FLOPs and bytes of each layer of the architecture on a hardware
 * spec (data/hardware/NAME.json), used in place of profiled tables when a cluster config names
 * hardware or a model without a profile bundle, or with --perf-model roofline.
 * Formulas: docs/sim-fidelity.md "Roofline performance model". */
#ifndef IPW_SS_ROOF_H
#define IPW_SS_ROOF_H

#include "ipw/perfmodel.h"
#include "sim/ss.h"

struct ss_roof {
    struct ipw_hw_spec hw;
    double flops_rate; /* achievable FLOP/s in a matmul kernel, per device */
    double attn_rate;  /* achievable FLOP/s in an attention kernel */
    double bytes_rate; /* achievable bytes/s of device memory */
    double overhead_ns;
    double sharpness;  /* p of the linear layers' roofline, (C^p + M^p)^(1/p): the spec's */
    double sms;        /* multiprocessors that run thread blocks; 0: unknown, no wave term */
    /* the variable-length attention kernel vLLM runs for every batch with a prefill chunk
     * (docs/sim-fidelity.md, "mixed batches"): how many times each KV head is read by the
     * decode requests, the share of the achievable bandwidth one thread block's stream gets,
     * the decode KV bytes past which the reads rise to nearly one per query head, that share
     * of the query heads whose reads reach memory there, and the bytes' worth of stream time
     * each wave of decode thread blocks costs; card-independent (ss_roof_mixed_defaults) */
    struct ss_roof_mixed {
        double kv_reads, stream_share, full_reads_bytes, full_reads_share, wave_bytes;
    } mixed;
    bool built_in_arch; /* no profiler/models/<type>.yaml: the llama layer sequence */
};

/* Fills b as a table-less bundle for hardware (a bundled spec name or alias, or spec_path
 * when non-NULL) and model m: the architecture from <data_dir>/profiler/models/<type>.yaml,
 * or the llama sequence for the dense llama-class types (llama, mistral, qwen2, qwen3). */
ipw_err ss_roof_bundle_open(const char *data_dir, const char *hardware, const char *spec_path,
                            const struct ss_model *m, const char *variant, struct ss_bundle *b,
                            ipw_errbuf *eb);
void ss_roof_free(struct ss_roof *r);
void ss_roof_mixed_defaults(struct ss_roof_mixed *mx);

/* The batch a layer runs on: tokens computed this step, sequences in the batch, the
 * prefill chunk tokens and the context they attend to, decode requests and their mean
 * context. */
struct ss_roof_batch {
    int64_t total_len, seqs, pc, kp, nd, kd_mean;
};

/* Time of one layer in integer ns (at least 1); fp and kv_fp are bytes per element. */
int64_t ss_roof_layer_ns(const struct ss_roof *r, const struct ss_model *m, const char *layer,
                         int64_t tp, int64_t fp, int64_t kv_fp, const struct ss_roof_batch *x);

/* FLOPs and bytes of one layer on one rank (the quantities the time is made of). */
void ss_roof_layer_work(const struct ss_model *m, const char *layer, int64_t tp, int64_t fp,
                        int64_t kv_fp, const struct ss_roof_batch *x, double *flops,
                        double *bytes);


#endif
