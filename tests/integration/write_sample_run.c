/* Writes a sample run directory for the independent-reader tests: records.jsonl through the
 * durable log (nested metrics with nulls at every level, unicode, empty and large strings, two
 * models, a failed query retried), the run's Arrow/HF dataset, and a few edge-case streams.
 *   write_sample_run DIR [N_RECORDS]                                                         */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "results/arrow.h"
#include "ipw/fsutil.h"
#include "ipw/records.h"
#include "ipw/run_dataset.h"

static uint64_t rng = 0x2545F4914F6CDD1Dull;
static uint64_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}
static double uniform(double lo, double hi) { return lo + (hi - lo) * (double)(next() >> 11) / 9007199254740992.0; }
static int chance(int percent) { return (int)(next() % 100) < percent; }

static const char *const MODEL_A = "llama-3.2:1b";
static const char *const MODEL_B = "org/qwen3.8b \"q4\"";

static json_t *num_or_null(double v, int null_pct)
{
    return chance(null_pct) ? json_null() : json_real(v);
}

static json_t *stats(double base, int null_pct)
{
    if (chance(null_pct / 2))
        return json_null();
    return json_pack("{s:o, s:o, s:o, s:o}", "avg", num_or_null(base, null_pct), "max",
                     num_or_null(base * 1.5, null_pct), "median", num_or_null(base * 0.98, null_pct),
                     "min", num_or_null(base * 0.5, null_pct));
}

static json_t *metrics(int i, const char *response)
{
    int np = 10; /* percent of values left null */
    json_int_t in = 20 + (json_int_t)(next() % 2000), out = (json_int_t)(next() % 4096);
    double secs = uniform(0.05, 30.0), joules = secs * uniform(50, 700);
    json_t *energy = chance(5) ? json_null()
                               : json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}",
                                           "per_query_joules", num_or_null(joules, np),
                                           "total_joules", num_or_null(joules * 1.3, np),
                                           "gpu_joules", num_or_null(joules, np), "cpu_joules",
                                           num_or_null(joules * 0.25, np), "dram_joules",
                                           num_or_null(joules * 0.05, np), "prefill_joules",
                                           num_or_null(joules * 0.1, np), "decode_joules",
                                           num_or_null(joules * 0.9, np), "active_joules",
                                           num_or_null(joules * 0.7, np), "idle_power_watts",
                                           num_or_null(uniform(10, 90), np), "energy_source",
                                           chance(np) ? json_null()
                                                      : json_string(i % 2 ? "counter" : "modeled"));
    json_t *m = json_pack(
        "{s:{s:n, s:o}, s:o, s:{s:o, s:o, s:o, s:o, s:o}, s:{s:o, s:o}, "
        "s:{s:{s:o, s:o}, s:{s:o}}, s:o, s:{s:I, s:I, s:I}}",
        "compute_metrics", "flops_per_request", "macs_per_request", num_or_null(1e12 * i, 50),
        "energy_metrics", energy, "latency_metrics", "per_token_ms",
        num_or_null(out ? secs * 1000 / (double)out : 0, np), "throughput_tokens_per_sec",
        num_or_null(out / secs, np), "time_to_first_token_seconds", num_or_null(secs / 10, np),
        "total_query_seconds", json_real(secs), "decode_seconds", num_or_null(secs * 0.9, np),
        "memory_metrics", "cpu_mb", stats(uniform(1000, 64000), np), "gpu_mb",
        stats(uniform(1000, 80000), np), "power_metrics", "gpu", "per_query_watts",
        stats(uniform(50, 700), np), "total_watts", stats(uniform(80, 900), np), "cpu",
        "per_query_watts", stats(uniform(10, 200), np), "temperature_metrics",
        stats(uniform(30, 90), np), "token_metrics", "input", in, "output", out, "total",
        in + out);
    if (chance(15))
        json_object_set_new(json_object_get(m, "token_metrics"), "output", json_null());
    json_object_set_new(m, "gpu_info",
                        chance(20) ? json_null()
                                   : json_pack("{s:s, s:s, s:I, s:s, s:s}", "name",
                                               "NVIDIA H100 80GB HBM3", "vendor", "nvidia",
                                               "device_id", (json_int_t)(i % 8), "device_type",
                                               "GPU", "backend", "nvml"));
    json_object_set_new(m, "system_info",
                        json_pack("{s:s, s:s, s:s, s:s, s:I, s:s}", "os_name",
                                  "Debian GNU/Linux", "os_version", "12", "kernel_version",
                                  "6.1.0-18-amd64", "host_name", "nœud-01", "cpu_count",
                                  (json_int_t)128, "cpu_brand", "AMD EPYC 9654 96-Core"));
    int c = (int)(next() % 3);
    json_object_set_new(m, "lm_correctness", c == 0 ? json_null() : json_boolean(c == 1));
    json_object_set_new(m, "lm_response", response ? json_string(response) : json_null());
    return m;
}

static const char *const PROBLEMS[] = {
    "What is 2 + 2?",
    "",
    "Ünïcödé ✓ — 中文 — العربية — emoji 🚀🔥 — \"quotes\" and \\backslash\\ and\nnewlines\ttabs",
    "Which option is correct?\n\nOptions:\nA. one\nB. two\nC. three\n\nRespond with the "
    "correct letter.",
};

static json_t *record(int i, char *big)
{
    const char *problem = PROBLEMS[i % 4];
    json_t *r = json_object();
    json_object_set_new(r, "record_index", json_integer(i));
    json_object_set_new(r, "dataset_index", json_integer(1000 + i));
    json_object_set_new(r, "problem", json_string(i == 5 ? big : problem));
    json_object_set_new(r, "answer", i % 7 == 0 ? json_null() : json_string(i % 2 ? "B" : ""));
    json_object_set_new(r, "subject", json_string(i % 3 ? "physics" : "数学"));
    json_object_set_new(r, "kind", json_string("mcq"));
    json_object_set_new(r, "dataset_metadata",
                        i % 11 == 0 ? json_null()
                                    : json_pack("{s:i, s:[s,s,s], s:{s:f, s:b, s:n}, s:s}",
                                                "question_id", i, "options", "one", "two", "three",
                                                "extra", "weight", 0.25 * i, "flag", i % 2,
                                                "none", "src", "ori_mmlu-élan"));
    json_object_set_new(r, "request_start_time", json_real(1763680000.0 + i * 3.25));
    json_object_set_new(r, "request_end_time", json_real(1763680002.5 + i * 3.25));
    const char *resp = i % 13 == 0 ? "" : "The answer is (B). 答案是 B ✓";
    json_t *answers = json_object(), *mm = json_object();
    bool a = i % 3 != 2, b = i % 3 != 0 || i % 10 == 0;
    if (a) {
        json_object_set_new(answers, MODEL_A, json_string(resp));
        json_object_set_new(mm, MODEL_A, i % 17 == 0 ? json_null() : metrics(i, resp));
    }
    if (b) {
        json_object_set_new(answers, MODEL_B, i % 19 == 0 ? json_null() : json_string(resp));
        json_object_set_new(mm, MODEL_B, metrics(i, i % 23 == 0 ? NULL : resp));
    }
    json_object_set_new(r, "model_answers", answers);
    json_object_set_new(r, "model_metrics", mm);
    json_object_set_new(r, "status", json_string("ok"));
    json_object_set_new(r, "error", json_null());
    json_object_set_new(r, "http_status", json_integer(200));
    json_object_set_new(r, "token_count_source", json_string("server"));
    json_object_set_new(r, "concurrency", json_integer(1));
    return r;
}

static int fail(const char *what, const ipw_errbuf *eb)
{
    fprintf(stderr, "write_sample_run: %s: %s\n", what, eb->msg);
    return 1;
}

/* A stream of hand-picked edge values; the node checks know them by heart. */
static int write_edge(const char *dir, const char *name, int rows_wanted)
{
    ipw_errbuf eb = {0};
    struct ipw_arrow_field *s = ipw_arrow_field_new("", IPW_ARROW_STRUCT);
    ipw_arrow_field_add(s, "i64", IPW_ARROW_INT);
    ipw_arrow_field_add(s, "f64", IPW_ARROW_FLOAT);
    ipw_arrow_field_add(s, "s", IPW_ARROW_UTF8);
    ipw_arrow_field_add(s, "b", IPW_ARROW_BOOL);
    ipw_arrow_field_add(s, "n", IPW_ARROW_NULL);
    ipw_arrow_field_add(s, "empty", IPW_ARROW_STRUCT);
    struct ipw_arrow_field *d = ipw_arrow_field_add(s, "deep", IPW_ARROW_STRUCT);
    for (int k = 0; k < 10; k++)
        d = ipw_arrow_field_add(d, "d", IPW_ARROW_STRUCT);
    ipw_arrow_field_add(d, "leaf", IPW_ARROW_INT);
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f)
        return 1;
    struct ipw_arrow_file_sink fs = {f, path};
    struct ipw_arrow_writer *w;
    struct ipw_arrow_writer_options opt = {.batch_rows = 2};
    json_t *md = json_pack("{s:s, s:s}", "note", "edge ✓", "empty", "");
    if (ipw_arrow_writer_new(s, md, &opt, ipw_arrow_file_sink, &fs, &w, &eb) != IPW_OK)
        return fail("edge writer", &eb);
    const char *rows[] = {
        "{\"i64\": -9223372036854775808, \"f64\": -0.0, \"s\": \"\", \"b\": true, \"empty\": {},"
        " \"deep\": {\"d\":{\"d\":{\"d\":{\"d\":{\"d\":{\"d\":{\"d\":{\"d\":{\"d\":{\"d\":"
        "{\"leaf\": 42}}}}}}}}}}}}",
        "{\"i64\": 9223372036854775807, \"f64\": 1.7976931348623157e308, \"s\": \"\\u0000nul\","
        " \"b\": false, \"empty\": null, \"deep\": {\"d\": null}}",
        "{\"i64\": null, \"f64\": 5e-324, \"s\": null, \"b\": null, \"n\": null}",
        "{\"i64\": 0, \"f64\": 0.1, \"s\": \"𝄞 clef\", \"deep\": {\"d\":{\"d\":{}}}}",
        "{\"f64\": 123456789.125}",
    };
    int n = rows_wanted < 5 ? rows_wanted : 5;
    for (int i = 0; i < n; i++) {
        json_error_t je;
        json_t *r = json_loads(rows[i], JSON_ALLOW_NUL, &je);
        if (!r) {
            fprintf(stderr, "edge row %d: %s\n", i, je.text);
            return 1;
        }
        if (ipw_arrow_writer_append(w, r, &eb) != IPW_OK)
            return fail("edge row", &eb);
        json_decref(r);
    }
    if (ipw_arrow_writer_finish(w, &eb) != IPW_OK)
        return fail("edge finish", &eb);
    ipw_arrow_writer_free(w);
    ipw_arrow_field_free(s);
    json_decref(md);
    return fclose(f) != 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: write_sample_run DIR [N_RECORDS]\n");
        return 2;
    }
    const char *dir = argv[1];
    int n = argc > 2 ? atoi(argv[2]) : 2500;
    ipw_errbuf eb = {0};
    ipw_remove_tree(dir, NULL);
    if (ipw_mkdir_p(dir, &eb) != IPW_OK)
        return fail("mkdir", &eb);
    char path[4096];
    snprintf(path, sizeof path, "%s/records.jsonl", dir);
    struct ipw_records_log *log;
    if (ipw_records_open(path, false, &log, NULL, &eb) != IPW_OK)
        return fail("open log", &eb);
    size_t big_len = 300000;
    char *big = malloc(big_len + 1);
    for (size_t k = 0; k < big_len; k++)
        big[k] = "abcdefghij✓"[k % 10]; /* ASCII only: k % 10 < 10 picks a-j */
    big[big_len] = '\0';
    /* record 7 first fails, then its retry supersedes it; 9 is written out of order */
    for (int i = 0; i < n; i++) {
        if (i == 9)
            continue;
        json_t *r = record(i, big);
        if (i == 7) {
            json_t *failed = json_deep_copy(r);
            json_object_set_new(failed, "status", json_string("failed"));
            json_object_set_new(failed, "error", json_string("HTTP 500 from server"));
            json_object_set_new(failed, "model_answers", json_object());
            json_object_set_new(failed, "model_metrics", json_object());
            if (ipw_records_append(log, failed, &eb) != IPW_OK)
                return fail("append failed record", &eb);
            json_decref(failed);
        }
        if (ipw_records_append(log, r, &eb) != IPW_OK)
            return fail("append", &eb);
        json_decref(r);
        if (i == 20) {
            json_t *late = record(9, big);
            if (ipw_records_append(log, late, &eb) != IPW_OK)
                return fail("append", &eb);
            json_decref(late);
        }
    }
    ipw_records_close(log);
    free(big);
    struct ipw_run_dataset_stats st;
    if (ipw_run_dataset_write_from_log(dir, true, &st, &eb) != IPW_OK)
        return fail("dataset", &eb);
    if (write_edge(dir, "edge.arrow", 5) || write_edge(dir, "empty.arrow", 0))
        return 1;
    printf("wrote %s: %zu rows, %zu models, %llu bytes, fingerprint %s\n", dir, st.rows,
           st.models, (unsigned long long)st.arrow_bytes, st.fingerprint);
    return 0;
}
