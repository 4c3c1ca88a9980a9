/* Dataset loading speed and memory: a generated MMLU-Pro-shaped file of 100k rows (10k with
 * IPW_BENCH_QUICK=1) as JSONL, JSON array and CSV, read raw (rows only) and loaded as records
 * (rows/s, MB/s), plus a seeded sample. Each measurement runs in its own child process so the
 * peak resident memory (wait4's ru_maxrss) and CPU time it reports are that load's alone; CPU
 * time is the steadier figure on a shared machine. Prints figures only. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ipw/clock.h"
#include "ipw/dataset.h"
#include "datasets/dataset_rows.h"
#include "ipw_test.h"

static const char *const categories[] = {"math", "physics", "law", "biology", "economics",
                                         "history", "engineering", "psychology"};

/* A deterministic question of a few hundred bytes and ten options. */
static void row_parts(long i, char *q, size_t qn, char opts[10][64])
{
    snprintf(q, qn,
             "Question %ld: a sample of gas at %ld kPa and %ld K is compressed until its volume "
             "halves while the temperature is held constant. Assuming ideal behaviour, and "
             "neglecting any heat exchanged with the container walls, what is the final "
             "pressure of the sample, and which of the following statements about it holds?",
             i, 100 + i % 50, 250 + i % 100);
    for (int k = 0; k < 10; k++)
        snprintf(opts[k], 64, "%ld kPa, and the internal energy changes by %d J",
                 (100 + i % 50) * (k + 1) / 2, k * 3);
}

static void generate(const char *jsonl, const char *json, const char *csv, long rows)
{
    FILE *a = fopen(jsonl, "w"), *b = fopen(json, "w"), *c = fopen(csv, "w");
    if (!a || !b || !c) {
        perror("bench_datasets: create");
        exit(1);
    }
    fputs("[\n", b);
    fputs("question_id,question,options,answer,answer_index,cot_content,category,src\n", c);
    char q[512], opts[10][64];
    for (long i = 0; i < rows; i++) {
        row_parts(i, q, sizeof q, opts);
        int ans = (int)(i % 10);
        const char *cat = categories[i % 8];
        char line[2048];
        int n = snprintf(line, sizeof line, "{\"question_id\":%ld,\"question\":\"%s\",\"options\":[",
                         i, q);
        for (int k = 0; k < 10; k++)
            n += snprintf(line + n, sizeof line - (size_t)n, "%s\"%s\"", k ? "," : "", opts[k]);
        n += snprintf(line + n, sizeof line - (size_t)n,
                      "],\"answer\":\"%c\",\"answer_index\":%d,\"cot_content\":\"\","
                      "\"category\":\"%s\",\"src\":\"ori_mmlu-%s\"}",
                      'A' + ans, ans, cat, cat);
        fprintf(a, "%s\n", line);
        fprintf(b, "%s%s\n", line, i + 1 < rows ? "," : "");
        fprintf(c, "%ld,\"%s\",\"[", i, q);
        for (int k = 0; k < 10; k++)
            fprintf(c, "%s'%s'", k ? ", " : "", opts[k]);
        fprintf(c, "]\",%c,%d,,%s,ori_mmlu-%s\n", 'A' + ans, ans, cat, cat);
    }
    fputs("]\n", b);
    fclose(a);
    fclose(b);
    fclose(c);
}

static ipw_err count_row(void *ud, json_t *row, size_t index, size_t line, ipw_errbuf *eb)
{
    (void)row;
    (void)index;
    (void)line;
    (void)eb;
    (*(size_t *)ud)++;
    return IPW_OK;
}

static double file_mb(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (double)st.st_size / 1e6 : 0;
}

enum what { RAW, LOAD, SAMPLE };

/* Runs one measurement in a child; prints a table row with its own peak RSS. */
static void measure(const char *label, const char *path, enum what w)
{
    fflush(stdout);
    int fd[2];
    if (pipe(fd) != 0)
        exit(1);
    pid_t pid = fork();
    if (pid == 0) {
        close(fd[0]);
        int64_t t0 = ipw_mono_ns();
        size_t rows = 0;
        ipw_errbuf eb = {0};
        ipw_err e;
        if (w == RAW) {
            struct ipw_rows_sink sink = {&rows, count_row, NULL};
            e = ipw_rows_read_file(path, NULL, &sink, &eb);
        } else {
            struct ipw_dataset *ds = NULL;
            struct ipw_dataset_options o = {.path = path, .strict = true};
            if (w == SAMPLE) {
                o.max_queries = 1000;
                o.seed = 42;
                o.seed_given = true;
            }
            e = ipw_dataset_load("mmlu-pro", &o, &ds, &eb);
            if (e == IPW_OK)
                rows = ds->source_rows;
            ipw_dataset_free(ds);
        }
        double s = (double)(ipw_mono_ns() - t0) / 1e9;
        char msg[600];
        if (e != IPW_OK)
            snprintf(msg, sizeof msg, "error: %s", eb.msg);
        else
            snprintf(msg, sizeof msg, "%8zu rows %7.3f s %10.0f rows/s %7.1f MB/s", rows, s,
                     (double)rows / s, file_mb(path) / s);
        if (write(fd[1], msg, strlen(msg) + 1) < 0)
            _exit(1);
        _exit(e == IPW_OK ? 0 : 1);
    }
    close(fd[1]);
    char msg[600] = "";
    ssize_t got = read(fd[0], msg, sizeof msg - 1);
    msg[got > 0 ? got : 0] = '\0';
    close(fd[0]);
    int st;
    struct rusage ru;
    wait4(pid, &st, 0, &ru);
    double cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
                 (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
    printf("%-27s %s  cpu %6.3f s  peak RSS %6.1f MB\n", label, msg, cpu,
           (double)ru.ru_maxrss / 1024.0);
}

int main(void)
{
    const char *quick = getenv("IPW_BENCH_QUICK");
    long rows = quick && *quick && strcmp(quick, "0") ? 10000 : 100000;
    char *dir = ipw_test_mkdtemp("ipw-bench-datasets");
    char jsonl[4096], json[4096], csv[4096];
    snprintf(jsonl, sizeof jsonl, "%s/mmlu.jsonl", dir);
    snprintf(json, sizeof json, "%s/mmlu.json", dir);
    snprintf(csv, sizeof csv, "%s/mmlu.csv", dir);
    generate(jsonl, json, csv, rows);
    printf("bench_datasets: %ld MMLU-Pro-shaped rows (10 options each); JSONL %.1f MB, JSON "
           "%.1f MB, CSV %.1f MB\n",
           rows, file_mb(jsonl), file_mb(json), file_mb(csv));
    measure("rows only, JSONL", jsonl, RAW);
    measure("rows only, JSON array", json, RAW);
    measure("rows only, CSV", csv, RAW);
    measure("mmlu-pro load, JSONL", jsonl, LOAD);
    measure("mmlu-pro load, JSON array", json, LOAD);
    measure("mmlu-pro load, CSV", csv, LOAD);
    measure("sample 1000 (seed), JSONL", jsonl, SAMPLE);
    ipw_test_rmtree(dir);
    free(dir);
    return 0;
}
