/* The lab's SQLite store: a fresh database, a migration from schema 1 that keeps every run,
 * databases that must be refused and left byte for byte as they were (newer schema, locked,
 * read-only, not a database), benchmarks replaced on re-calibration, totals of measured energy,
 * and the CSV/JSON export. */
#include "ipw_test.h"

#include <math.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ipw/lab.h"
#include "unpriv.h"

static char *g_dir;

static int setup(void **state)
{
    (void)state;
    g_dir = ipw_test_mkdtemp("ipw-lab-store");
    chmod(g_dir, 0777); /* the read-only test runs a child as nobody */
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    ipw_test_rmtree(g_dir);
    free(g_dir);
    return 0;
}

static char *path_of(const char *name)
{
    char *p = malloc(4200);
    snprintf(p, 4200, "%s/%s", g_dir, name);
    return p;
}

static struct ipw_lab_run sample_run(const char *variant, double wh)
{
    struct ipw_lab_run r;
    ipw_lab_run_init(&r);
    snprintf(r.variant, sizeof r.variant, "%s", variant);
    snprintf(r.model, sizeof r.model, "m");
    snprintf(r.client, sizeof r.client, "sim");
    snprintf(r.collector, sizeof r.collector, "rapl");
    r.have_energy = true;
    r.prefill_wh = wh / 4;
    r.decode_wh = wh * 3 / 4;
    r.total_wh = wh;
    r.idle_watts = 40;
    r.ttft_s = 0.1;
    r.decode_s = 0.3;
    r.latency_s = 0.4;
    r.input_tokens = 12;
    r.output_tokens = 40;
    r.cpu_share_busy = 0.5;
    r.cpu_wh = wh;
    ipw_lab_run_derive(&r, 300);
    return r;
}

/* The whole file, to check that a refused database was not touched. */
static char *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    char *buf = malloc(1 << 20);
    *n = fread(buf, 1, 1 << 20, f);
    fclose(f);
    return buf;
}

static void assert_untouched(const char *path, const char *before, size_t nbefore)
{
    size_t n;
    char *now = slurp(path, &n);
    assert_int_equal(n, nbefore);
    assert_memory_equal(now, before, n);
    free(now);
    char wal[4300];
    snprintf(wal, sizeof wal, "%s-wal", path);
    assert_int_not_equal(access(wal, F_OK), 0);
}

static void test_fresh_roundtrip(void **state)
{
    (void)state;
    char *p = path_of("sub/dir/lab.db"); /* directories created */
    struct ipw_lab_store *s;
    ipw_errbuf eb = {0};
    assert_int_equal(ipw_lab_store_open(p, 1000, &s, &eb), IPW_OK);
    int64_t batch;
    assert_int_equal(ipw_lab_store_begin_batch(s, "run", "m", "sim", 2, &batch, &eb), IPW_OK);
    struct ipw_lab_run a = sample_run("bare", 0.02), b = sample_run("bare", 0.04);
    snprintf(b.error, sizeof b.error, "stream broke");
    assert_int_equal(ipw_lab_store_add_run(s, batch, &a, "hello", NULL, &eb), IPW_OK);
    assert_int_equal(ipw_lab_store_add_run(s, batch, &b, "hello", NULL, &eb), IPW_OK);
    json_t *sum = json_pack("{s:i}", "runs", 2);
    assert_int_equal(ipw_lab_store_end_batch(s, batch, sum, &eb), IPW_OK);
    json_decref(sum);
    ipw_lab_store_close(s);

    assert_int_equal(ipw_lab_store_open(p, 1000, &s, &eb), IPW_OK);
    struct ipw_lab_run *runs;
    size_t n;
    assert_int_equal(ipw_lab_store_runs(s, 0, &runs, NULL, &n, &eb), IPW_OK);
    assert_int_equal(n, 2);
    /* newest first; every stored figure and every derived one back */
    assert_string_equal(runs[0].error, "stream broke");
    assert_double_equal(runs[1].total_wh, 0.02, 0);
    assert_double_equal(runs[1].total_active_wh, a.total_active_wh, 1e-15);
    assert_double_equal(runs[1].carbon_g, 0.02 / 1000 * 300, 1e-15);
    assert_double_equal(runs[1].e_llm_wh, 0.01, 1e-15);
    assert_true(isnan(runs[1].gpu_share));
    assert_int_equal(runs[1].output_tokens, 40);
    assert_int_equal(runs[1].injection_overhead_tokens, -1);
    free(runs);
    struct ipw_lab_totals t;
    assert_int_equal(ipw_lab_store_totals(s, &t, &eb), IPW_OK);
    assert_int_equal(t.runs, 1); /* the failed run adds nothing */
    assert_int_equal(t.modelled_runs, 0);
    assert_double_equal(t.total_wh, 0.02, 1e-15);
    /* a run whose energy a model gave (sim, cpu-model) is added, and counted as modelled so
     * that no total including it is called measured */
    struct ipw_lab_run c = sample_run("bare", 0.01);
    snprintf(c.energy_source, sizeof c.energy_source, "modeled");
    assert_int_equal(ipw_lab_store_begin_batch(s, "run", "m", "sim", 1, &batch, &eb), IPW_OK);
    assert_int_equal(ipw_lab_store_add_run(s, batch, &c, "hello", NULL, &eb), IPW_OK);
    assert_int_equal(ipw_lab_store_totals(s, &t, &eb), IPW_OK);
    assert_int_equal(t.runs, 2);
    assert_int_equal(t.modelled_runs, 1);
    assert_double_equal(t.total_wh, 0.03, 1e-15);
    ipw_lab_store_close(s);
    /* WAL, as the web page and the command line share the file */
    sqlite3 *db;
    sqlite3_open(p, &db);
    sqlite3_stmt *q;
    sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &q, NULL);
    assert_int_equal(sqlite3_step(q), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(q, 0), "wal");
    sqlite3_finalize(q);
    sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &q, NULL);
    sqlite3_step(q);
    assert_int_equal(sqlite3_column_int(q, 0), IPW_LAB_SCHEMA_VERSION);
    sqlite3_finalize(q);
    sqlite3_close(db);
    free(p);
}

/* Schema 1 as the first ipw lab wrote it. */
static const char *const V1 =
    "CREATE TABLE batches(id INTEGER PRIMARY KEY, kind TEXT NOT NULL, model TEXT, client TEXT,"
    " runs_planned INTEGER, started_at REAL, finished_at REAL, summary_json TEXT);"
    "CREATE TABLE benchmarks(name TEXT PRIMARY KEY, source TEXT, description TEXT,"
    " c_in REAL NOT NULL, c_out REAL NOT NULL, updated_at INTEGER);"
    "CREATE TABLE runs(id INTEGER PRIMARY KEY, batch_id INTEGER, prompt_text TEXT, variant TEXT,"
    " model TEXT, client TEXT, collector TEXT, prompt_sha256 TEXT, started_unix_ns INTEGER,"
    " have_energy INTEGER, prefill_wh REAL, decode_wh REAL, total_wh REAL, idle_watts REAL,"
    " ttft_s REAL, decode_s REAL, latency_s REAL, input_tokens INTEGER, output_tokens INTEGER,"
    " error TEXT, answer_excerpt TEXT);"
    "INSERT INTO runs(variant, model, client, collector, have_energy, prefill_wh, decode_wh,"
    " total_wh, idle_watts, ttft_s, decode_s, latency_s, input_tokens, output_tokens, error)"
    " VALUES('old', 'llama', 'ollama', 'rapl', 1, 0.001, 0.003, 0.004, 10, 0.1, 0.5, 0.6, 20,"
    " 80, '');"
    "INSERT INTO benchmarks VALUES('rapl_calibrated_llama', 'calibration', '', 0.1, 0.2, 1);"
    "PRAGMA user_version=1;";

static void make_db(const char *path, const char *sql)
{
    sqlite3 *db;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    char *err = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK)
        fail_msg("%s", err);
    sqlite3_close(db);
}

static void test_migration_from_v1(void **state)
{
    (void)state;
    char *p = path_of("v1.db");
    make_db(p, V1);
    struct ipw_lab_store *s;
    ipw_errbuf eb = {0};
    assert_int_equal(ipw_lab_store_open(p, 1000, &s, &eb), IPW_OK);
    struct ipw_lab_run *runs;
    size_t n;
    assert_int_equal(ipw_lab_store_runs(s, 0, &runs, NULL, &n, &eb), IPW_OK);
    assert_int_equal(n, 1);
    assert_string_equal(runs[0].variant, "old");
    assert_double_equal(runs[0].total_wh, 0.004, 0);
    /* columns schema 2 added are unknown for old runs, and carbon gets the one default */
    assert_true(isnan(runs[0].cpu_share_busy));
    assert_int_equal(runs[0].injection_overhead_tokens, -1);
    assert_double_equal(runs[0].carbon_g, 0.004 / 1000 * 445, 1e-15);
    assert_double_equal(runs[0].total_active_wh, 0.004 - 10 * 0.6 / 3600, 1e-15);
    free(runs);
    /* new runs go in with the new columns */
    struct ipw_lab_run r = sample_run("new", 0.01);
    r.injection_overhead_tokens = 33;
    assert_int_equal(ipw_lab_store_add_run(s, 0, &r, "p", NULL, &eb), IPW_OK);
    assert_int_equal(ipw_lab_store_runs(s, 1, &runs, NULL, &n, &eb), IPW_OK);
    assert_int_equal(runs[0].injection_overhead_tokens, 33);
    free(runs);
    struct ipw_lab_benchmark b;
    assert_int_equal(ipw_lab_benchmark_find(s, "rapl_calibrated_llama", &b, &eb), IPW_OK);
    assert_double_equal(b.c_out, 0.2, 0);
    ipw_lab_store_close(s);
    free(p);
}

static void test_refused_databases_untouched(void **state)
{
    (void)state;
    struct ipw_lab_store *s = NULL;
    ipw_errbuf eb = {0};
    size_t n;
    /* newer schema */
    char *p = path_of("newer.db");
    make_db(p, "CREATE TABLE runs(id INTEGER PRIMARY KEY); PRAGMA user_version=99;");
    char *before = slurp(p, &n);
    assert_int_equal(ipw_lab_store_open(p, 200, &s, &eb), IPW_E_UNSUPPORTED);
    assert_null(s);
    assert_non_null(strstr(eb.msg, "schema version 99"));
    assert_null(strchr(eb.msg, '\n'));
    assert_untouched(p, before, n);
    free(before);
    free(p);
    /* not a database */
    p = path_of("text.db");
    FILE *f = fopen(p, "w");
    fputs("this is not sqlite, it is a text file that is long enough to have a header......", f);
    fclose(f);
    before = slurp(p, &n);
    assert_int_equal(ipw_lab_store_open(p, 200, &s, &eb), IPW_E_INVALID);
    assert_non_null(strstr(eb.msg, "not an SQLite database"));
    assert_untouched(p, before, n);
    free(before);
    free(p);
    /* locked: another connection holds an exclusive lock on a schema-1 database */
    p = path_of("locked.db");
    make_db(p, V1);
    sqlite3 *other;
    sqlite3_open(p, &other);
    assert_int_equal(sqlite3_exec(other, "BEGIN EXCLUSIVE; INSERT INTO batches(kind) "
                                         "VALUES('x');", NULL, NULL, NULL),
                     SQLITE_OK);
    before = slurp(p, &n);
    assert_int_equal(ipw_lab_store_open(p, 150, &s, &eb), IPW_E_IO);
    assert_non_null(strstr(eb.msg, "locked"));
    assert_untouched(p, before, n);
    sqlite3_exec(other, "ROLLBACK", NULL, NULL, NULL);
    sqlite3_close(other);
    free(before);
    free(p);
}

static void open_as_nobody(void *ud, FILE *out)
{
    struct ipw_lab_store *s = NULL;
    ipw_errbuf eb = {0};
    ipw_err rc = ipw_lab_store_open(ud, 200, &s, &eb);
    fprintf(out, "%d %s", (int)rc, eb.msg);
    ipw_lab_store_close(s);
}

static void test_read_only(void **state)
{
    (void)state;
    char *p = path_of("ro.db");
    make_db(p, V1);
    chmod(p, 0444);
    size_t n;
    char *before = slurp(p, &n);
    char out[1024];
    int st = ipw_test_unprivileged(open_as_nobody, p, out, sizeof out);
    if (st == 98) {
        free(before);
        free(p);
        skip();
    }
    assert_int_equal(st, 0);
    if (atoi(out) != IPW_E_PERM || !strstr(out, "read-only"))
        fail_msg("as nobody: %s", out);
    assert_untouched(p, before, n);
    free(before);
    free(p);
}

static void test_benchmarks_replace_and_export(void **state)
{
    (void)state;
    char *p = path_of("bench.db");
    struct ipw_lab_store *s;
    ipw_errbuf eb = {0};
    assert_int_equal(ipw_lab_store_open(p, 1000, &s, &eb), IPW_OK);
    struct ipw_lab_benchmark b = {.c_in = 0.05, .c_out = 0.2};
    snprintf(b.name, sizeof b.name, "rapl_calibrated_m");
    snprintf(b.source, sizeof b.source, "calibration");
    assert_int_equal(ipw_lab_store_put_benchmark(s, &b, &eb), IPW_OK);
    b.c_out = 0.3; /* re-calibration replaces */
    assert_int_equal(ipw_lab_store_put_benchmark(s, &b, &eb), IPW_OK);
    struct ipw_lab_benchmark *all;
    size_t n;
    assert_int_equal(ipw_lab_store_benchmarks(s, &all, &n, &eb), IPW_OK);
    assert_int_equal(n, 1);
    assert_double_equal(all[0].c_out, 0.3, 0);
    free(all);
    assert_int_equal(ipw_lab_store_remove_benchmark(s, "rapl_calibrated_m", &eb), IPW_OK);
    assert_int_equal(ipw_lab_store_remove_benchmark(s, "rapl_calibrated_m", &eb), IPW_E_NOTFOUND);
    assert_int_equal(ipw_lab_store_remove_benchmark(s, "nvidia_a100", &eb), IPW_E_NOTFOUND);

    struct ipw_lab_run r = sample_run("a,\"quoted\"", 0.02);
    assert_int_equal(ipw_lab_store_add_run(s, 0, &r, "p", NULL, &eb), IPW_OK);
    assert_int_equal(ipw_lab_store_add_run(s, 0, &r, "p", NULL, &eb), IPW_OK);
    char *csv = NULL, *js = NULL;
    size_t clen, jlen;
    FILE *f = open_memstream(&csv, &clen);
    assert_int_equal(ipw_lab_export(s, "csv", f, &eb), IPW_OK);
    fclose(f);
    f = open_memstream(&js, &jlen);
    assert_int_equal(ipw_lab_export(s, "json", f, &eb), IPW_OK);
    fclose(f);
    int lines = 0;
    for (char *c = csv; *c; c++)
        lines += *c == '\n';
    assert_int_equal(lines, 3); /* header + two runs */
    assert_true(strncmp(csv, "variant,model,", 14) == 0);
    assert_non_null(strstr(csv, "\"a,\"\"quoted\"\"\""));
    json_t *arr = json_loads(js, 0, NULL);
    assert_int_equal(json_array_size(arr), 2);
    assert_double_equal(json_number_value(json_object_get(json_array_get(arr, 0), "total_wh")),
                        0.02, 0);
    json_decref(arr);
    free(csv);
    free(js);
    assert_int_equal(ipw_lab_export(s, "xml", stdout, &eb), IPW_E_INVALID);
    ipw_lab_store_close(s);
    free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_read_only), /* first: forks before any other thread exists */
        cmocka_unit_test(test_fresh_roundtrip),
        cmocka_unit_test(test_migration_from_v1),
        cmocka_unit_test(test_refused_databases_untouched),
        cmocka_unit_test(test_benchmarks_replace_and_export),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
