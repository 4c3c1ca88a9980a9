/* The run columns of the lab store (see store_schema.h). Version 1 is the first schema; version
 * 2 added the E_llm inputs, the token provenance, the grid intensity and the energy source. A
 * column's `since` is the version whose migration adds it. */
#include "store_schema.h"

#define R(f, v) {#f, COL_REAL, offsetof(struct ipw_lab_run, f), 0, v}
#define L(f, v) {#f, COL_LONG, offsetof(struct ipw_lab_run, f), 0, v}
#define I(f, v) {#f, COL_INT, offsetof(struct ipw_lab_run, f), 0, v}
#define B(f, v) {#f, COL_BOOL, offsetof(struct ipw_lab_run, f), 0, v}
#define T(f, v) {#f, COL_TEXT, offsetof(struct ipw_lab_run, f), sizeof(((struct ipw_lab_run *)0)->f), v}
#define Q(f, v) {#f, COL_I64, offsetof(struct ipw_lab_run, f), 0, v}

const struct lab_col lab_run_cols[] = {
    T(variant, 1),          T(model, 1),          T(client, 1),
    T(collector, 1),        T(prompt_sha256, 1),  Q(started_unix_ns, 1),
    B(have_energy, 1),      R(prefill_wh, 1),     R(decode_wh, 1),
    R(total_wh, 1),         R(idle_watts, 1),     R(ttft_s, 1),
    R(decode_s, 1),         R(latency_s, 1),      L(input_tokens, 1),
    L(output_tokens, 1),    T(error, 1),          T(answer_excerpt, 1),
    I(batch_index, 2),      T(energy_source, 2),  R(cpu_wh, 2),
    R(gpu_wh, 2),           B(tokens_estimated, 2), L(injection_overhead_tokens, 2),
    B(overhead_estimated, 2), R(server_eval_s, 2), R(cpu_share_busy, 2),
    R(cpu_share_capacity, 2), R(gpu_share, 2),    R(scaph_wh, 2),
    R(grid_g_per_kwh, 2),
};
const size_t lab_n_run_cols = sizeof lab_run_cols / sizeof lab_run_cols[0];
