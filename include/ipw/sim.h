/* The embedded sim backend's shared pieces (SPEC §3.6): the process-wide "sim activity" state
 * the sim client writes (which requests are in prefill or decode) and the sim collector reads,
 * the prompt-token estimate, and the deterministic output length. docs/sim.md. */
#ifndef IPW_SIM_H
#define IPW_SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ipw/err.h"

/* The text every sim response carries, so nobody mistakes it for an answer (no lone letters:
 * a multiple-choice scorer finds no option in it). */
#define IPW_SIM_RESPONSE_LABEL "[ipw-sim] modelled response: no real answer was generated"
/* What each output token after the first streams as. */
#define IPW_SIM_FILLER_TOKEN " ~"

#define IPW_SIM_MAX_ACTIVE 1024 /* requests in flight at once */
#define IPW_SIM_HISTORY 4096    /* transitions kept for readings stamped before the newest */

/* What the accelerator does for one request in one phase. */
struct ipw_sim_load {
    double util;         /* power utilisation, 0..1 (ipw_hw_power_w) */
    double frac_compute; /* share of peak FLOP/s in use (tensor utilisation) */
    double frac_memory;  /* share of peak memory bandwidth in use */
};

/* A request enters prefill. weight_bytes: the model it runs (resident in memory from now on);
 * kv_bytes: its KV cache. The transition's CLOCK_MONOTONIC time is taken under the state's
 * lock and returned in *t_ns, so transitions are totally ordered; report that time.
 * IPW_E_NOMEM beyond IPW_SIM_MAX_ACTIVE requests. */
ipw_err ipw_sim_activity_begin(const struct ipw_sim_load *prefill, double weight_bytes,
                               double kv_bytes, int *slot, int64_t *t_ns, ipw_errbuf *eb);
/* The request moves to decode; returns the transition time. */
int64_t ipw_sim_activity_decode(int slot, const struct ipw_sim_load *decode);
/* The request's KV cache grew (memory only: power does not change). */
void ipw_sim_activity_kv(int slot, double kv_bytes);
/* The request finished; returns the transition time. */
int64_t ipw_sim_activity_end(int slot);

/* The state at monotonic time t. util_ns and busy_ns are exact integrals of piecewise-constant
 * functions since the state began: util_ns = ∫ u dt (u: the largest power utilisation among
 * requests in flight, 0 when none), busy_ns = ∫ [a request is in flight] dt, both in
 * nanoseconds. Times older than the kept history are clamped to its oldest entry. The other
 * fields describe the state now. */
struct ipw_sim_reading {
    double util_ns, busy_ns;
    double util; /* in effect at t */
    bool busy;   /* in effect at t */
    unsigned prefill, decode;
    double frac_compute, frac_memory; /* largest among requests in flight now */
    double weight_bytes;              /* resident model weights now (0: no client announced) */
    double kv_bytes;                  /* KV cache of the requests in flight now */
    int64_t first_ns;                 /* when the state began */
    bool exact; /* false when t was older than the kept history (integrals clamped) */
};
void ipw_sim_activity_read(int64_t t_ns, struct ipw_sim_reading *out);

/* An open sim client announces its hardware and model weights, so that a sim collector
 * opened without a hardware name models the same part. Returns a handle for unregister. */
int ipw_sim_register_client(const char *hardware, double weight_bytes);
void ipw_sim_unregister_client(int handle);
/* The hardware of the most recently registered client still open; false when none. */
bool ipw_sim_client_hardware(char *buf, size_t size);

/* Estimated prompt tokens of a chat: the texts plus the chat template's special tokens.
 * system may be NULL. Deterministic; method in docs/sim.md. */
long ipw_sim_estimate_tokens(const char *text);
long ipw_sim_estimate_chat_tokens(const char *system, const char *prompt);

/* Output length for a prompt: log-uniform in [lo, hi] from a 64-bit hash of (system, prompt,
 * seed); the same inputs always give the same length. */
long ipw_sim_output_tokens(const char *system, const char *prompt, uint64_t seed, long lo,
                           long hi);

#endif
