/* Trace -> profile record. The task is the query: its energy is every turn's (LLM calls and
 * the tool time between them), its answer the final message, its correctness the task's own
 * verdict (kind "open" with lm_correctness set, which analysis takes as given). */
#include "record.h"

#include <math.h>
#include <stdbool.h>
#include <string.h>

#include "ipw/records.h"

static json_t *copy(const json_t *o, const char *k)
{
    const json_t *v = json_object_get(o, k);
    return v ? json_deep_copy(v) : json_null();
}

static double get(const json_t *o, const char *k)
{
    const json_t *v = json_object_get(o, k);
    return json_is_number(v) ? json_number_value(v) : NAN;
}

json_t *ipw_agent_record_from_trace(const json_t *trace, const char *model,
                                    const char *energy_source)
{
    double wall = get(trace, "wall_seconds");
    const json_t *first = json_array_get(json_object_get(trace, "turns"), 0);
    json_int_t in = json_integer_value(json_object_get(trace, "input_tokens"));
    json_int_t out = json_integer_value(json_object_get(trace, "output_tokens"));
    json_t *em = json_pack("{s:o, s:o, s:o, s:o, s:n, s:n, s:s}", "per_query_joules",
                           copy(trace, "energy_joules"), "total_joules",
                           copy(trace, "total_joules"), "prefill_joules",
                           copy(trace, "prefill_joules"), "decode_joules",
                           copy(trace, "decode_joules"), "active_joules", "idle_power_watts",
                           "energy_source", energy_source);
    json_t *lat = json_pack("{s:f, s:o}", "total_query_seconds", isfinite(wall) ? wall : 0.0,
                            "time_to_first_token_seconds",
                            copy(first, "time_to_first_token_seconds"));
    if (out > 0 && isfinite(wall) && wall > 0) {
        json_object_set_new(lat, "per_token_ms", json_real(wall * 1000 / (double)out));
        json_object_set_new(lat, "throughput_tokens_per_sec", json_real((double)out / wall));
    }
    json_t *mm = json_pack("{s:o, s:o, s:{s:I, s:I, s:I}, s:o, s:o}", "energy_metrics", em,
                           "latency_metrics", lat, "token_metrics", "input", in, "output", out,
                           "total", in + out, "lm_correctness", copy(trace, "resolved"),
                           "lm_response", copy(trace, "final_answer"));
    const char *err = json_string_value(json_object_get(trace, "error"));
    const char *stop = json_string_value(json_object_get(trace, "stop_reason"));
    /* a task the agent could not attempt failed; one it attempted and got wrong did not */
    bool failed = err && stop && (strcmp(stop, "llm_error") == 0 || strcmp(stop, "error") == 0);
    /* a qa task is scored like a profile item; a terminal task's verdict is its test's, kept
     * in lm_correctness, and the reference says so (an empty one would leave it unscored) */
    const char *item = json_string_value(json_object_get(trace, "item_kind"));
    bool qa = item && json_is_string(json_object_get(trace, "answer"));
    const char *kind = qa ? item : "open";
    const char *tk = json_string_value(json_object_get(trace, "kind"));
    bool replay = tk && strcmp(tk, "replay") == 0; /* measured, never judged */
    const char *reference = qa       ? json_string_value(json_object_get(trace, "answer"))
                            : replay ? ""
                                     : "(resolved when the task's test script passes)";
    json_t *rec = json_pack(
        "{s:o, s:o, s:o, s:s, s:o, s:s, s:{s:o, s:o, s:o, s:o}, s:o, s:o, s:{s:o}, s:{s:o}, "
        "s:s, s:o}",
        "record_index", copy(trace, "record_index"), "dataset_index", copy(trace, "task_index"),
        "problem", copy(trace, "instruction"), "answer", reference, "subject",
        copy(trace, "category"), "kind", kind, "dataset_metadata", "task_id", copy(trace, "task_id"), "agent",
        copy(trace, "agent"), "stop_reason", copy(trace, "stop_reason"), "n_turns",
        copy(trace, "n_turns"), "request_start_time", copy(trace, "start_time"),
        "request_end_time", copy(trace, "end_time"), "model_answers", model,
        copy(trace, "final_answer"), "model_metrics", model, mm, "status",
        failed ? "failed" : "ok", "error", err && failed ? json_string(err) : json_null());
    if (rec)
        json_object_set_new(rec, "schema", json_string(IPW_RECORD_SCHEMA));
    return rec;
}
