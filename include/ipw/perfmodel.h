/* Hardware and model specs (data/hardware/NAME.json, data/models/NAME.json, or user files)
 * and the roofline performance and power model built on them. Shared by the sim client, the
 * sim collector and the cluster simulator (SPEC §3.6, §6). Formulas: docs/sim.md. */
#ifndef IPW_PERFMODEL_H
#define IPW_PERFMODEL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "ipw/err.h"

#define IPW_SPEC_NAME_MAX 64
#define IPW_SPEC_MAX_ALIASES 16
#define IPW_SPEC_MAX_BYTES (256 * 1024) /* a spec file larger than this is refused */

/* One accelerator, as a datasheet describes it plus the modelling assumptions (efficiencies,
 * power utilisations) that turn datasheet peaks into expected behaviour. SI units. */
struct ipw_hw_spec {
    char name[IPW_SPEC_NAME_MAX]; /* canonical, e.g. "H100" */
    char display_name[96];        /* "H100 SXM 80GB" */
    char vendor[32];              /* "NVIDIA" */
    char device_type[16];         /* "discrete" | "integrated" */
    char aliases[IPW_SPEC_MAX_ALIASES][IPW_SPEC_NAME_MAX];
    unsigned naliases;
    double peak_flops_bf16; /* dense bf16/fp16 tensor FLOP/s */
    double peak_flops_fp8;  /* dense fp8 FLOP/s; 0 when the part has none */
    double mem_bw;          /* bytes/s, peak */
    double mem_bytes;       /* device memory */
    double link_bw;         /* bytes/s per direction between devices (tensor parallel); 0: none */
    double idle_w;          /* board power with nothing running (model loaded) */
    double active_w;        /* board power at full load (TDP / TGP) */
    double eff_compute;     /* achievable share of peak FLOP/s in large matmuls */
    double eff_bw;          /* achievable share of peak memory bandwidth */
    double util_compute;    /* power utilisation (0..1) when compute-bound */
    double util_bw;         /* power utilisation (0..1) when bandwidth-bound */
    double cpu_idle_w;      /* host CPU package: idle */
    double cpu_active_w;    /* host CPU package: all cores busy */
    double cpu_busy_util;   /* host CPU utilisation while a request is being served */
    double standby_w;       /* board power just after work, before it settles to idle (the
                               serving simulator's standby power); default idle + 25 % of the
                               active-idle range */
    /* The per-layer roofline of the serving simulator (src/sim/predict/): achievable shares of
     * peak in one kernel and a fixed cost per kernel launch. Default: the whole-step
     * efficiencies above, attention at the compute efficiency, no launch cost. */
    double layer_eff_compute, layer_eff_bw, layer_eff_attn;
    double kernel_overhead_s;
    double layer_sharpness; /* p of the linear layers' (C^p + M^p)^(1/p); default 2 */
    int multiprocessors;    /* SMs (NVIDIA) or CUs (AMD) that run thread blocks; 0: not given
                               (the simulator then has no per-wave cost) */
    bool layer_fitted;      /* the layer_roofline block was given (fitted against tables) */
    char origin[256];       /* "embedded:hardware/h100.json" or the file path */
};

/* One decoder-only transformer, with the shape figures of its config.json. */
struct ipw_model_spec {
    char name[IPW_SPEC_NAME_MAX]; /* canonical, e.g. "llama-3.1-8b" */
    char display_name[96];
    char family[32];
    char hf_id[128];
    char aliases[IPW_SPEC_MAX_ALIASES][IPW_SPEC_NAME_MAX];
    unsigned naliases;
    double params; /* total parameters, embeddings included */
    long layers, hidden, heads, kv_heads, head_dim, intermediate, vocab;
    bool tied_embeddings;
    bool gated_mlp;      /* SwiGLU-style MLP with three matrices */
    bool attention_bias; /* q/k/v projections carry biases (Qwen2) */
    char dtype[16];      /* default weight dtype, e.g. "bfloat16" */
    double dtype_bytes;
    long max_context;
    char origin[256];
};

/* Bytes per element of a dtype name: bfloat16|bf16|float16|fp16 2, fp8|float8|int8 1,
 * int4 0.5, q8_0 1.0625, q4_k_m 0.60625, q4_0 0.5625 (GGUF block formats include their
 * scales). false when unknown. */
bool ipw_dtype_bytes(const char *dtype, double *bytes);

/* Parse a spec from JSON text; origin names it in errors. Unknown fields are errors (typos
 * would otherwise pass silently) except "sources", "notes" and keys starting with "x_". */
ipw_err ipw_hw_spec_parse(const char *text, size_t len, const char *origin,
                          struct ipw_hw_spec *out, ipw_errbuf *eb);
ipw_err ipw_model_spec_parse(const char *text, size_t len, const char *origin,
                             struct ipw_model_spec *out, ipw_errbuf *eb);

/* A bundled spec by name or alias (case, '-', '_', '.', ' ' ignored), or a user file when the
 * argument contains '/' or ends in ".json". */
ipw_err ipw_hw_spec_load(const char *name_or_path, struct ipw_hw_spec *out, ipw_errbuf *eb);
ipw_err ipw_model_spec_load(const char *name_or_path, struct ipw_model_spec *out,
                            ipw_errbuf *eb);

/* The bundled model spec a served model name refers to ("llama3.1:8b",
 * "meta-llama/Llama-3.1-8B-Instruct", "qwen2.5:7b-instruct-q4_K_M" ...), ignoring
 * organisation prefixes and instruct/quantisation suffixes. false when none does. */
bool ipw_model_spec_match(const char *served_name, struct ipw_model_spec *out);
/* Does a served model name refer to this spec (same rule as ipw_model_spec_match)? */
bool ipw_model_spec_matches(const struct ipw_model_spec *m, const char *served_name);

/* Names of the bundled specs, as a JSON array of strings (caller decrefs). */
json_t *ipw_hw_spec_names(void);
json_t *ipw_model_spec_names(void);

/* Parameters computed from the architecture (embeddings, attention, MLP, norms, biases). */
double ipw_model_spec_arch_params(const struct ipw_model_spec *m);

/* ---- the roofline model ------------------------------------------------------------------ */

struct ipw_perf_options {
    const char *weight_dtype; /* NULL: the model's dtype */
    const char *kv_dtype;     /* NULL: the model's dtype if 16-bit, else bfloat16 */
    int tp;                   /* tensor-parallel degree; 0 or 1: one device */
    double link_bw;           /* bytes/s per direction; 0: the hardware spec's */
    double link_latency_s;    /* per all-reduce; default 0 */
};

/* A model on a hardware spec, with every derived constant precomputed. Plain data: copy it,
 * share it read-only between threads. */
struct ipw_perf {
    struct ipw_hw_spec hw;
    struct ipw_model_spec model;
    char weight_dtype[16], kv_dtype[16];
    int tp;
    double weight_bytes_per_param, kv_bytes_per_elem, act_bytes;
    double weight_bytes;       /* all weights, resident in memory (whole model, all devices) */
    double active_params;      /* parameters a token's forward pass multiplies by */
    double step_weight_bytes;  /* weights read from memory by one forward step */
    double kv_bytes_per_token; /* 2 × layers × kv_heads × head_dim × kv dtype bytes */
    double attn_flops_coeff;   /* 4 × layers × heads × head_dim: FLOPs per (query, key) pair */
    double flops_rate;         /* per device: peak × compute efficiency */
    double bytes_rate;         /* per device: bandwidth × bandwidth efficiency */
    double peak_flops;         /* per device, for utilisation figures */
    double link_bw, link_latency_s;
};

ipw_err ipw_perf_init(struct ipw_perf *pm, const struct ipw_hw_spec *hw,
                      const struct ipw_model_spec *m, const struct ipw_perf_options *opt,
                      ipw_errbuf *eb);

/* Do weights plus kv_tokens of KV cache fit in the devices' memory? The error says by how
 * much they do not. */
ipw_err ipw_perf_check_fit(const struct ipw_perf *pm, double kv_tokens, ipw_errbuf *eb);

/* One sequence's share of a batched forward step: new_tokens processed now (the prompt or a
 * chunk of it in prefill, 1 in decode) on top of context tokens already in the KV cache. */
struct ipw_perf_seq {
    long new_tokens;
    long context;
};

struct ipw_perf_step {
    double flops;        /* whole step, all devices */
    double bytes;        /* memory traffic: weights once + KV cache read, all devices */
    double comm_bytes;   /* sent per device by the tensor-parallel all-reduces */
    double compute_s;    /* flops / tp / flops_rate */
    double memory_s;     /* bytes / tp / bytes_rate */
    double comm_s;       /* all-reduce time (not overlapped) */
    double time_s;       /* max(compute_s, memory_s) + comm_s */
    double util;         /* power utilisation 0..1, time-weighted over the step */
    double frac_compute; /* achieved share of peak FLOP/s */
    double frac_memory;  /* achieved share of peak bandwidth */
    bool compute_bound;
};

/* The time and power utilisation of one forward step of a batch (n may be 0: an empty step). */
void ipw_perf_step(const struct ipw_perf *pm, const struct ipw_perf_seq *seqs, size_t n,
                   struct ipw_perf_step *out);

/* Single-sequence helpers. */
void ipw_perf_prefill(const struct ipw_perf *pm, long prompt_tokens, struct ipw_perf_step *out);
void ipw_perf_decode_step(const struct ipw_perf *pm, long context, struct ipw_perf_step *out);

/* A whole request alone on the device: the prefill step yields the first output token, then
 * output_tokens − 1 decode steps follow. */
struct ipw_perf_request {
    long input_tokens, output_tokens;
    double prefill_s, decode_s, total_s;
    double prefill_util, decode_util; /* time-weighted power utilisation of each phase */
    double prefill_frac_compute, prefill_frac_memory;
    double decode_frac_compute, decode_frac_memory;
    double prefill_flops, decode_flops, flops, macs;
    double prefill_j, decode_j; /* accelerator energy at the spec's power */
};

void ipw_perf_request(const struct ipw_perf *pm, long input_tokens, long output_tokens,
                      struct ipw_perf_request *out);

/* ---- the power model --------------------------------------------------------------------- */

/* idle + (active − idle) × util, util clamped to [0, 1]. */
double ipw_hw_power_w(const struct ipw_hw_spec *hw, double util);
/* Host CPU package: idle + (active − idle) × busy_util × busy (busy in [0, 1]). */
double ipw_hw_cpu_power_w(const struct ipw_hw_spec *hw, double busy);

#endif
