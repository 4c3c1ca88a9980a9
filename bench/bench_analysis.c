/* Analysis at scale: writes a realistic run of 1,000,000 records (20,000 with IPW_BENCH_QUICK)
 * in the records.jsonl format, then times `ipw analyze` (accuracy + regression, no judge) and
 * `ipw plot` on it, each in a child process so that its peak memory (getrusage maxrss) is its
 * own. Prints figures; never fails on a time. IPW_BENCH_RECORDS=N sets the size, IPW_BENCH_DIR
 * keeps the run in that directory. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ipw/analysis.h"
#include "ipw/clock.h"
#include "ipw/plots.h"
#include "ipw_test.h"

static uint64_t rng = 0x2545F4914F6CDD1Dull;
static double uni(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return ((rng >> 11) + 0.5) / 9007199254740992.0;
}
static double gauss(void) { return sqrt(-2 * log(uni())) * cos(2 * M_PI * uni()); }

static const char *const mcq_styles[] = {"%c", "The answer is (%c).", "Answer: %c", "**%c**",
                                         "Let me think step by step about each option. "
                                         "Therefore, the answer is %c."};

/* One record much like the profiler writes it (docs/formats/records.md). */
static void write_record(FILE *f, long i)
{
    static const char *model = "llama-3.1-8b-instruct";
    double kr = uni();
    const char *kind = kr < 0.5 ? "mcq" : kr < 0.8 ? "exact" : "open";
    char problem[512], answer[64], response[512];
    bool ok = uni() < 0.65;
    if (kind[0] == 'm') {
        char letter = (char)('A' + i % 4), said = ok ? letter : (char)('A' + (i + 1) % 4);
        snprintf(problem, sizeof problem,
                 "Which of the following statements about item %ld is true?\\n\\nOptions:\\nA. "
                 "The first claim\\nB. The second claim\\nC. The third claim\\nD. The fourth "
                 "claim\\n\\nRespond with the correct letter.",
                 i);
        snprintf(answer, sizeof answer, "%c", letter);
        snprintf(response, sizeof response, mcq_styles[i % 5], said);
    } else if (kind[0] == 'e') {
        long v = 17 * (i % 1000) + 3;
        snprintf(problem, sizeof problem, "What is 17 times %ld plus 3?", i % 1000);
        snprintf(answer, sizeof answer, "%ld", v);
        snprintf(response, sizeof response, "Working it out: 17 * %ld = %ld.\\nAnswer: %ld",
                 i % 1000, v - 3, ok ? v : v + 1);
    } else {
        snprintf(problem, sizeof problem, "Explain briefly why item %ld matters.", i);
        snprintf(answer, sizeof answer, "Because it is the reference explanation.");
        snprintf(response, sizeof response, "In short: %s",
                 ok ? "because it is the reference explanation." : "no idea.");
    }
    int in = 40 + (int)(uni() * 60), out = 1 + (int)exp(log(90) + 0.8 * gauss());
    if (out > 4096)
        out = 4096;
    double ttft = 0.018 + in / 9000.0, dec = out / 85.0, lat = ttft + dec;
    double gw = 190 + 45 * log(in + out) + 12 * gauss();
    double pre = gw * 1.25 * ttft, dj = gw * dec, cpu = 38 * lat, dram = 6 * lat;
    double tot = pre + dj + cpu + dram, idle = 99.2;
    double act = fmax(0, tot - idle * lat);
    fprintf(f,
            "{\"record_index\":%ld,\"dataset_index\":%ld,\"problem\":\"%s\",\"answer\":\"%s\","
            "\"subject\":\"bench\",\"kind\":\"%s\",\"dataset_metadata\":{\"source\":\"bench\","
            "\"id\":\"b-%ld\"},\"request_start_time\":%.6f,\"request_end_time\":%.6f,"
            "\"model_answers\":{\"%s\":\"%s\"},\"model_metrics\":{\"%s\":{\"compute_metrics\":"
            "{\"flops_per_request\":null,\"macs_per_request\":null},\"energy_metrics\":{"
            "\"per_query_joules\":%.6f,\"total_joules\":%.6f,\"gpu_joules\":%.6f,\"cpu_joules\":"
            "%.6f,\"dram_joules\":%.6f,\"prefill_joules\":%.6f,\"decode_joules\":%.6f,"
            "\"active_joules\":%.6f,\"idle_power_watts\":%.1f,\"energy_source\":\"counter\"},"
            "\"latency_metrics\":{\"per_token_ms\":%.4f,\"throughput_tokens_per_sec\":%.4f,"
            "\"time_to_first_token_seconds\":%.6f,\"total_query_seconds\":%.6f,"
            "\"decode_seconds\":%.6f},\"memory_metrics\":{\"cpu_mb\":{\"avg\":20480.5,\"max\":"
            "20512.0,\"median\":20480.0,\"min\":20450.0},\"gpu_mb\":{\"avg\":17800.2,\"max\":"
            "17850.0,\"median\":17800.0,\"min\":17760.0}},\"power_metrics\":{\"gpu\":{"
            "\"per_query_watts\":{\"avg\":%.4f,\"max\":%.4f,\"median\":%.4f,\"min\":%.4f},"
            "\"total_watts\":{\"avg\":%.4f,\"max\":%.4f,\"median\":%.4f,\"min\":%.4f}},\"cpu\":"
            "{\"per_query_watts\":{\"avg\":38.0,\"max\":41.0,\"median\":38.0,\"min\":35.0}}},"
            "\"temperature_metrics\":{\"avg\":55.2,\"max\":57.0,\"median\":55.0,\"min\":54.0},"
            "\"token_metrics\":{\"input\":%d,\"output\":%d,\"total\":%d},\"gpu_info\":{\"name\":"
            "\"NVIDIA H100 80GB HBM3\",\"vendor\":\"NVIDIA\",\"device_id\":0,\"device_type\":"
            "\"GPU\",\"backend\":\"nvml\"},\"system_info\":{\"os_name\":\"Linux\",\"os_version\":"
            "\"Debian 12\",\"kernel_version\":\"6.1.0\",\"host_name\":\"node-3\",\"cpu_count\":64,"
            "\"cpu_brand\":\"AMD EPYC 9354\"},\"lm_correctness\":null,\"lm_response\":\"%s\"}},"
            "\"status\":\"ok\",\"error\":null,\"http_status\":200,\"token_count_source\":"
            "\"server\",\"server_timings\":{\"prompt_tokens\":%d,\"completion_tokens\":%d},"
            "\"concurrency\":1}\n",
            i, i, problem, answer, kind, i, 1763680000.0 + i * 2.0, 1763680000.0 + i * 2.0 + lat,
            model, response, model, pre + dj, tot, pre + dj, cpu, dram, pre, dj, act, idle,
            lat * 1000 / out, out / lat, ttft, lat, dec, gw, gw + 20, gw, gw - 20, gw + 44,
            gw + 64, gw + 44, gw + 24, in, out, in + out, response, in, out);
}

/* Runs fn in a child; returns its wall time in seconds, its CPU time (user + system) in
 * *cpu_s and its peak RSS in *rss_mb. The machine may be shared: CPU time is the steadier
 * figure. */
static double in_child(int (*fn)(const char *), const char *dir, double *cpu_s, double *rss_mb)
{
    int64_t t0 = ipw_mono_ns();
    pid_t pid = fork();
    if (pid == 0)
        _exit(fn(dir));
    int status = 0;
    struct rusage ru;
    while (wait4(pid, &status, 0, &ru) < 0 && errno == EINTR)
        ;
    double s = (double)(ipw_mono_ns() - t0) / 1e9;
    *rss_mb = ru.ru_maxrss / 1024.0;
    *cpu_s = (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
             ru.ru_stime.tv_usec / 1e6;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        fprintf(stderr, "bench_analysis: child failed (status %d)\n", status);
    return s;
}

static int do_analyze(const char *dir)
{
    struct ipw_analyze_options o;
    ipw_analyze_options_init(&o);
    struct ipw_analyze_result r;
    ipw_errbuf eb = {0};
    if (ipw_analyze_run(dir, &o, &r, &eb) != IPW_OK) {
        fprintf(stderr, "analyze: %s\n", eb.msg);
        return 1;
    }
    printf("  accuracy %.4f, IPJ %.6g /J, IPW %.6g /W, latency p50 %.3f s p95 %.3f s\n",
           r.accuracy.accuracy, r.accuracy.ipj, r.accuracy.ipw, r.accuracy.latency_p50_s,
           r.accuracy.latency_p95_s);
    fflush(stdout);
    return 0;
}

static int do_plot(const char *dir)
{
    ipw_errbuf eb = {0};
    ipw_err e = ipw_plot_run(dir, NULL, IPW_PLOT_PNG | IPW_PLOT_SVG, &eb);
    ipw_plot_release_fonts();
    if (e != IPW_OK)
        fprintf(stderr, "plot: %s\n", eb.msg);
    return e != IPW_OK;
}

int main(void)
{
    bool quick = getenv("IPW_BENCH_QUICK") != NULL;
    long n = quick ? 20000 : 1000000;
    if (getenv("IPW_BENCH_RECORDS"))
        n = atol(getenv("IPW_BENCH_RECORDS"));
    /* IPW_BENCH_DIR: write the run there and keep it (to profile or compare against) */
    const char *keep = getenv("IPW_BENCH_DIR");
    char *dir = keep ? strdup(keep) : ipw_test_mkdtemp("ipw-bench-analysis");
    if (keep)
        mkdir(keep, 0755);
    char path[4200];
    snprintf(path, sizeof path, "%s/records.jsonl", dir);
    int64_t t0 = ipw_mono_ns();
    FILE *f = fopen(path, "w");
    if (!f) {
        perror(path);
        return 1;
    }
    setvbuf(f, NULL, _IOFBF, 1 << 20);
    for (long i = 0; i < n; i++)
        write_record(f, i);
    fclose(f);
    snprintf(path, sizeof path, "%s/summary.json", dir);
    f = fopen(path, "w");
    fprintf(f, "{\"model\":\"llama-3.1-8b-instruct\",\"hardware_label\":\"H10080GB\","
               "\"dataset\":\"bench\",\"total_queries\":%ld}\n",
            n);
    fclose(f);
    struct stat st;
    snprintf(path, sizeof path, "%s/records.jsonl", dir);
    stat(path, &st);
    double gen_s = (double)(ipw_mono_ns() - t0) / 1e9;
    double mb = (double)st.st_size / (1024.0 * 1024.0);
    printf("bench_analysis: %ld records, records.jsonl %.1f MiB (%.0f bytes/record), written in "
           "%.1f s\n",
           n, mb, (double)st.st_size / (double)n, gen_s);
    fflush(stdout);

    double rss, cpu;
    double s = in_child(do_analyze, dir, &cpu, &rss);
    printf("analyze (accuracy + regression, 1 pass, no judge): %.2f s wall, %.2f s CPU, %.0f "
           "records/s and %.0f MiB/s of CPU, peak RSS %.1f MiB\n",
           s, cpu, n / cpu, mb / cpu, rss);
    snprintf(path, sizeof path, "%s/analysis/scores.jsonl", dir);
    if (stat(path, &st) == 0)
        printf("  scores.jsonl %.1f MiB\n", (double)st.st_size / (1024.0 * 1024.0));
    fflush(stdout);
    s = in_child(do_plot, dir, &cpu, &rss);
    printf("plot (5 plots, PNG + SVG, one pass over the records): %.2f s wall, %.2f s CPU, "
           "peak RSS %.1f MiB\n",
           s, cpu, rss);
    if (!keep)
        ipw_test_rmtree(dir);
    free(dir);
    return 0;
}
