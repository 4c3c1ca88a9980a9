/* Arrow writer benchmark: 100k full records (every ModelMetrics field set) turned into the
 * run's dataset: the writer alone, records.jsonl -> .arrow end to end (streaming and in-memory
 * paths), reading it back, and durable appends. Each phase runs in a forked child so that its
 * peak memory (max RSS) is its own. IPW_BENCH_QUICK=1 uses 5k records. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "results/arrow.h"
#include "ipw/records.h"
#include "ipw/run_dataset.h"
#include "ipw_test.h"

/* CPU seconds (user + system) this process has used: the steadier figure on a shared machine.
 * *sys gets the system part (mostly the kernel copying the output into the page cache). */
static double cpu_now(double *sys)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    *sys = ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
    return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + *sys;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static json_t *stats(double b)
{
    return json_pack("{s:f, s:f, s:f, s:f}", "avg", b, "max", b * 1.4, "median", b * 0.99, "min",
                     b * 0.6);
}

static const char *RESPONSE =
    "Let me work through this step by step. The question asks which option best describes the "
    "relationship between the variables. Option A confuses correlation with causation, option "
    "C reverses the direction of the effect, and option D ignores the confounding factor "
    "mentioned in the second sentence. Option B accounts for all three observations: the rise "
    "in the first quantity, the lag before the second responds, and the plateau once the "
    "resource is exhausted. Checking the units confirms it: joules per token over seconds gives "
    "watts per token, which matches the figure quoted. Therefore the answer is (B).";

static json_t *full_record(int i)
{
    double s = 1.0 + (i % 97) * 0.173, j = s * (180.0 + i % 31);
    json_int_t in = 200 + i % 700, out = 50 + i % 3000;
    json_t *mm = json_pack(
        "{s:{s:f, s:f}, s:{s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:s}, "
        "s:{s:f, s:f, s:f, s:f, s:f}, s:{s:o, s:o}, s:{s:{s:o, s:o}, s:{s:o}}, s:o, "
        "s:{s:I, s:I, s:I}, s:{s:s, s:s, s:I, s:s, s:s}, s:{s:s, s:s, s:s, s:s, s:I, s:s}, "
        "s:b, s:s}",
        "compute_metrics", "flops_per_request", 2.0e9 * (double)(in + out), "macs_per_request",
        1.0e9 * (double)(in + out), "energy_metrics", "per_query_joules", j, "total_joules",
        j * 1.3, "gpu_joules", j, "cpu_joules", j * 0.25, "dram_joules", j * 0.05,
        "prefill_joules", j * 0.1, "decode_joules", j * 0.9, "active_joules", j * 0.8,
        "idle_power_watts", 61.5, "energy_source", "counter", "latency_metrics", "per_token_ms",
        s * 1000 / (double)out, "throughput_tokens_per_sec", (double)out / s,
        "time_to_first_token_seconds", s * 0.07, "total_query_seconds", s, "decode_seconds",
        s * 0.93, "memory_metrics", "cpu_mb", stats(31000.5 + i % 13), "gpu_mb",
        stats(71000.25 + i % 17), "power_metrics", "gpu", "per_query_watts", stats(350 + i % 50),
        "total_watts", stats(420 + i % 60), "cpu", "per_query_watts", stats(90 + i % 20),
        "temperature_metrics", stats(55 + i % 20), "token_metrics", "input", in, "output", out,
        "total", in + out, "gpu_info", "name", "NVIDIA H100 80GB HBM3", "vendor", "nvidia",
        "device_id", (json_int_t)0, "device_type", "GPU", "backend", "nvml", "system_info",
        "os_name", "Debian GNU/Linux", "os_version", "12", "kernel_version", "6.1.0-18-amd64",
        "host_name", "gpu-node-01", "cpu_count", (json_int_t)208, "cpu_brand",
        "Intel(R) Xeon(R) Platinum 8480+", "lm_correctness", i % 3 != 0, "lm_response", RESPONSE);
    char problem[700];
    snprintf(problem, sizeof problem,
             "Question %d: A datacenter GPU draws 350 W while decoding at 80 tokens per second "
             "and idles at 60 W. Which statement about the energy per output token is correct?"
             "\n\nOptions:\nA. It is independent of batch size.\nB. It falls as throughput "
             "rises while power stays flat.\nC. It equals the idle power divided by the "
             "throughput.\nD. It cannot be measured from power alone.\n\nRespond with the "
             "correct letter.",
             i);
    return json_pack("{s:i, s:i, s:s, s:s, s:s, s:s, s:{s:i, s:s, s:s, s:[s,s,s,s]}, s:f, s:f, "
                     "s:{s:s}, s:{s:o}, s:s, s:n, s:i, s:s, s:i}",
                     "record_index", i, "dataset_index", i * 7, "problem", problem, "answer", "B",
                     "subject", i % 2 ? "physics" : "engineering", "kind", "mcq",
                     "dataset_metadata", "question_id", i, "category", "engineering", "src",
                     "ipw-builtin", "options", "A", "B", "C", "D", "request_start_time",
                     1763680000.0 + i * 4.0, "request_end_time", 1763680000.0 + i * 4.0 + s,
                     "model_answers", "llama-3.1-8b-instruct", RESPONSE, "model_metrics",
                     "llama-3.1-8b-instruct", mm, "status", "ok", "error", "http_status", 200,
                     "token_count_source", "server", "concurrency", 1);
}

static long file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

/* Runs fn in a child; returns its wall time and peak RSS (MiB). */
static int in_child(int (*fn)(void *), void *arg, double *secs, double *rss_mb)
{
    fflush(stdout); /* or the child prints the parent's buffered lines again */
    double t0 = now();
    pid_t pid = fork();
    if (pid == 0) {
        int rc = fn(arg);
        fflush(stdout);
        _exit(rc);
    }
    int status;
    struct rusage ru;
    if (wait4(pid, &status, 0, &ru) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return -1;
    *secs = now() - t0;
    *rss_mb = (double)ru.ru_maxrss / 1024.0;
    return 0;
}

struct ctx {
    const char *dir;
    int n;
    char log[4096];
    char arrow[4096];
};

static int phase_from_log(void *p)
{
    struct ctx *c = p;
    ipw_errbuf eb = {0};
    if (ipw_run_dataset_write_from_log(c->dir, false, NULL, &eb) != IPW_OK) {
        fprintf(stderr, "bench_arrow: %s\n", eb.msg);
        return 1;
    }
    return 0;
}

static int phase_from_array(void *p)
{
    struct ctx *c = p;
    ipw_errbuf eb = {0};
    json_t *all;
    double t0 = now();
    if (ipw_records_load(c->log, &all, NULL, &eb) != IPW_OK)
        return 1;
    double t1 = now();
    size_t n = json_array_size(all);
    json_t **v = malloc(n * sizeof *v);
    for (size_t i = 0; i < n; i++)
        v[i] = json_array_get(all, i);
    double t2 = now();
    if (ipw_run_dataset_write(c->dir, v, n, NULL, &eb) != IPW_OK) {
        fprintf(stderr, "bench_arrow: %s\n", eb.msg);
        return 1;
    }
    double t3 = now();
    printf("  in-memory path: load records.jsonl %.2f s, ipw_run_dataset_write %.2f s "
           "(%.0f rows/s)\n",
           t1 - t0, t3 - t2, n / (t3 - t2));
    free(v);
    json_decref(all);
    return 0;
}

/* The writer alone: rows already shaped for the schema, output to a file. */
static int phase_writer(void *p)
{
    struct ctx *c = p;
    const char *model = "llama-3.1-8b-instruct";
    struct ipw_arrow_field *schema = ipw_run_dataset_schema(&model, 1);
    const int distinct = 1000; /* rows are built once and cycled so that building is not timed */
    json_t **rows = malloc(distinct * sizeof *rows);
    for (int i = 0; i < distinct; i++) {
        json_t *r = full_record(i);
        rows[i] = json_pack("{s:O, s:O, s:s, s:O, s:O, s:O}", "problem",
                            json_object_get(r, "problem"), "answer", json_object_get(r, "answer"),
                            "dataset_metadata", "{\"question_id\":1}", "subject",
                            json_object_get(r, "subject"), "model_answers",
                            json_object_get(r, "model_answers"), "model_metrics",
                            json_object_get(r, "model_metrics"));
        json_decref(r);
    }
    FILE *f = fopen(c->arrow, "wb");
    setvbuf(f, NULL, _IOFBF, 1 << 20);
    struct ipw_arrow_file_sink fs = {f, c->arrow};
    struct ipw_arrow_writer *w;
    ipw_errbuf eb = {0};
    double s0, s1, t0 = now(), c0 = cpu_now(&s0);
    if (ipw_arrow_writer_new(schema, NULL, NULL, ipw_arrow_file_sink, &fs, &w, &eb) != IPW_OK)
        return 1;
    for (int i = 0; i < c->n; i++)
        if (ipw_arrow_writer_append(w, rows[i % distinct], &eb) != IPW_OK)
            return 1;
    if (ipw_arrow_writer_finish(w, &eb) != IPW_OK)
        return 1;
    fflush(f);
    double t = now() - t0, cpu = cpu_now(&s1) - c0;
    struct ipw_arrow_writer_stats st;
    ipw_arrow_writer_stats(w, &st);
    printf("  writer alone: %d rows in %.2f s = %.0f rows/s, %.1f MB/s of Arrow (%.1f MB, %llu "
           "batches); CPU %.2f s (user %.2f, system %.2f) = %.1f MB/s of Arrow per CPU second\n",
           c->n, t, c->n / t, st.bytes / t / 1e6, st.bytes / 1e6,
           (unsigned long long)st.batches, cpu, cpu - (s1 - s0), s1 - s0, st.bytes / cpu / 1e6);
    fclose(f);
    ipw_arrow_writer_free(w);
    for (int i = 0; i < distinct; i++)
        json_decref(rows[i]);
    free(rows);
    ipw_arrow_field_free(schema);
    return 0;
}

static int phase_read(void *p)
{
    struct ctx *c = p;
    ipw_errbuf eb = {0};
    struct ipw_arrow_reader *r;
    if (ipw_arrow_reader_open_file(c->arrow, 0, NULL, &r, &eb) != IPW_OK)
        return 1;
    long rows = 0;
    for (;;) {
        struct ipw_arrow_batch *b;
        if (ipw_arrow_reader_next(r, &b, &eb) != IPW_OK)
            return 1;
        if (!b)
            break;
        for (int64_t i = 0; i < ipw_arrow_batch_rows(b); i++, rows++) {
            json_t *row;
            if (ipw_arrow_batch_row(b, i, &row, &eb) != IPW_OK)
                return 1;
            json_decref(row);
        }
        ipw_arrow_batch_free(b);
    }
    ipw_arrow_reader_free(r);
    return rows == c->n ? 0 : 1;
}

int main(void)
{
    const char *quick = getenv("IPW_BENCH_QUICK");
    int n = quick && *quick && *quick != '0' ? 5000 : 100000;
    char *dir = ipw_test_mkdtemp("ipw-bench-arrow");
    struct ctx c = {.dir = dir, .n = n};
    snprintf(c.log, sizeof c.log, "%s/%s", dir, IPW_RECORDS_FILE);
    snprintf(c.arrow, sizeof c.arrow, "%s/writer-only.arrow", dir);

    /* records.jsonl written plainly (the fsync per record is measured separately below) */
    FILE *f = fopen(c.log, "w");
    for (int i = 0; i < n; i++) {
        json_t *r = full_record(i);
        char *line = json_dumps(r, JSON_COMPACT | JSON_REAL_PRECISION(17));
        fprintf(f, "%s\n", line);
        free(line);
        json_decref(r);
    }
    fclose(f);
    long in_bytes = file_size(c.log);
    printf("bench_arrow: %d full records, records.jsonl %.1f MB (%.0f bytes/record)\n", n,
           in_bytes / 1e6, (double)in_bytes / n);

    double secs, rss;
    if (in_child(phase_writer, &c, &secs, &rss) != 0)
        return 1;
    printf("  writer alone: peak RSS %.1f MiB (includes 1000 prepared JSON rows)\n", rss);
    const char *only = getenv("IPW_BENCH_ONLY"); /* "writer": that phase alone (to profile) */
    if (only && strcmp(only, "writer") == 0) {
        ipw_test_rmtree(dir);
        free(dir);
        return 0;
    }
    if (in_child(phase_read, &c, &secs, &rss) != 0)
        return 1;
    printf("  reader: %d rows back to JSON in %.2f s = %.0f rows/s, peak RSS %.1f MiB (file "
           "mapped)\n",
           n, secs, n / secs, rss);
    if (in_child(phase_from_log, &c, &secs, &rss) != 0)
        return 1;
    char data[4096];
    snprintf(data, sizeof data, "%s/data-00000-of-00001.arrow", dir);
    long out_bytes = file_size(data);
    printf("  end to end (ipw_run_dataset_write_from_log): %.2f s = %.0f rows/s, %.1f MB/s of "
           "records.jsonl in, %.1f MB/s of Arrow out (%.1f MB), peak RSS %.1f MiB\n",
           secs, n / secs, in_bytes / secs / 1e6, out_bytes / secs / 1e6, out_bytes / 1e6, rss);
    /* the periodic rewrite at this size: 100 more records, the earlier batches reused */
    f = fopen(c.log, "a");
    for (int i = n; i < n + 100; i++) {
        json_t *r = full_record(i);
        char *line = json_dumps(r, JSON_COMPACT | JSON_REAL_PRECISION(17));
        fprintf(f, "%s\n", line);
        free(line);
        json_decref(r);
    }
    fclose(f);
    if (in_child(phase_from_log, &c, &secs, &rss) != 0)
        return 1;
    printf("  rewrite after 100 more records (batches of the previous file reused): %.3f s, "
           "peak RSS %.1f MiB\n",
           secs, rss);
    if (in_child(phase_from_array, &c, &secs, &rss) != 0)
        return 1;
    printf("  in-memory path: peak RSS %.1f MiB (all records held as JSON)\n", rss);

    /* durable appends: one write + fdatasync per record */
    char log2[4096];
    snprintf(log2, sizeof log2, "%s/append.jsonl", dir);
    struct ipw_records_log *log;
    ipw_errbuf eb = {0};
    if (ipw_records_open(log2, false, &log, NULL, &eb) != IPW_OK)
        return 1;
    int appends = quick ? 200 : 1000;
    json_t *r = full_record(0);
    double t0 = now();
    for (int i = 0; i < appends; i++) {
        json_object_set_new(r, "record_index", json_integer(i));
        if (ipw_records_append(log, r, &eb) != IPW_OK)
            return 1;
    }
    double t = now() - t0;
    json_decref(r);
    ipw_records_close(log);
    printf("  records.jsonl durable append: %.3f ms per record (%d appends, fdatasync each)\n",
           t * 1000 / appends, appends);
    ipw_test_rmtree(dir);
    free(dir);
    return 0;
}
