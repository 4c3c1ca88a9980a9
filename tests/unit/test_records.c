/* Unit tests of records.jsonl: durable appends, crash-torn tails recovered, the resume set,
 * duplicates, damaged lines and the line-length bound. */
#include "ipw_test.h"

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ipw/fsutil.h"
#include "ipw/records.h"

static json_t *rec(int index, const char *status)
{
    return json_pack("{s:i, s:s, s:s, s:{s:{s:{s:f}}}}", "record_index", index, "status", status,
                     "problem", "Ünïcödé\nline ✓", "model_metrics", "m", "energy_metrics",
                     "per_query_joules", 1.0 / 3.0 + index);
}

static char *path_in(const char *dir, const char *name)
{
    char *p = malloc(4096);
    snprintf(p, 4096, "%s/%s", dir, name);
    return p;
}

static off_t file_size(const char *path)
{
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    return st.st_size;
}

static void append_raw(const char *path, const char *bytes)
{
    int fd = open(path, O_WRONLY | O_APPEND);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, bytes, strlen(bytes)), (ssize_t)strlen(bytes));
    close(fd);
}

static void write_log(const char *path, int n)
{
    ipw_errbuf eb = {0};
    struct ipw_records_log *log;
    assert_int_equal(ipw_records_open(path, false, &log, NULL, &eb), IPW_OK);
    for (int i = 0; i < n; i++) {
        json_t *r = rec(i, "ok");
        assert_int_equal(ipw_records_append(log, r, &eb), IPW_OK);
        json_decref(r);
    }
    assert_int_equal(ipw_records_count(log), (size_t)n);
    ipw_records_close(log);
}

static void test_append_and_load(void **state)
{
    (void)state;
    char *dir = ipw_test_mkdtemp("ipw-records");
    char *path = path_in(dir, IPW_RECORDS_FILE);
    write_log(path, 5);
    /* one compact line per record, newline-terminated, exact reals */
    char *text;
    size_t len;
    assert_int_equal(ipw_read_file(path, 1 << 20, &text, &len, NULL), IPW_OK);
    int lines = 0;
    for (size_t i = 0; i < len; i++)
        lines += text[i] == '\n';
    assert_int_equal(lines, 5);
    assert_int_equal(text[len - 1], '\n');
    free(text);
    json_t *all;
    struct ipw_records_info info;
    ipw_errbuf eb = {0};
    assert_int_equal(ipw_records_load(path, &all, &info, &eb), IPW_OK);
    assert_int_equal(json_array_size(all), 5);
    assert_int_equal(info.records, 5);
    assert_int_equal(info.max_index, 4);
    assert_false(info.torn_tail);
    for (int i = 0; i < 5; i++) {
        json_t *want = rec(i, "ok");
        assert_true(json_equal(json_array_get(all, (size_t)i), want));
        json_decref(want);
    }
    json_decref(all);
    /* a second fresh open refuses to clobber the run */
    struct ipw_records_log *log;
    assert_int_equal(ipw_records_open(path, false, &log, NULL, &eb), IPW_E_EXISTS);
    assert_non_null(strstr(eb.msg, "--resume"));
    /* a record without record_index is refused */
    assert_int_equal(ipw_records_open(path, true, &log, NULL, &eb), IPW_OK);
    json_t *bad = json_pack("{s:s}", "problem", "x");
    assert_int_equal(ipw_records_append(log, bad, &eb), IPW_E_INVALID);
    json_decref(bad);
    bad = json_pack("{s:i}", "record_index", -1);
    assert_int_equal(ipw_records_append(log, bad, &eb), IPW_E_INVALID);
    json_decref(bad);
    ipw_records_close(log);
    /* a missing file */
    char *missing = path_in(dir, "none.jsonl");
    assert_int_equal(ipw_records_load(missing, &all, NULL, &eb), IPW_E_NOTFOUND);
    free(missing);
    ipw_test_rmtree(dir);
    free(dir);
    free(path);
}

static void test_torn_tail_recovered(void **state)
{
    (void)state;
    char *dir = ipw_test_mkdtemp("ipw-records");
    char *path = path_in(dir, IPW_RECORDS_FILE);
    write_log(path, 3);
    off_t clean = file_size(path);
    append_raw(path, "{\"record_index\":3,\"problem\":\"a crash cut th");

    ipw_errbuf eb = {0};
    struct ipw_records_info info;
    struct ipw_records_done done;
    assert_int_equal(ipw_records_finished(path, false, &done, &info, &eb), IPW_OK);
    assert_true(info.torn_tail);
    assert_int_equal(info.torn_offset, (uint64_t)clean);
    assert_int_equal(info.records, 3);
    assert_int_equal(done.n, 3);
    for (int i = 0; i < 3; i++)
        assert_true(ipw_records_done_has(&done, i));
    assert_false(ipw_records_done_has(&done, 3));
    ipw_records_done_free(&done);
    /* reading does not change the file */
    assert_true(file_size(path) > clean);

    /* resuming cuts the torn line away, then appends cleanly */
    struct ipw_records_log *log;
    assert_int_equal(ipw_records_open(path, true, &log, &info, &eb), IPW_OK);
    assert_true(info.torn_tail);
    assert_true(info.repaired);
    assert_int_equal(file_size(path), clean);
    assert_int_equal(ipw_records_count(log), 3);
    json_t *r = rec(3, "ok");
    assert_int_equal(ipw_records_append(log, r, &eb), IPW_OK);
    json_decref(r);
    ipw_records_close(log);
    json_t *all;
    assert_int_equal(ipw_records_load(path, &all, &info, &eb), IPW_OK);
    assert_false(info.torn_tail);
    assert_int_equal(json_array_size(all), 4);
    json_decref(all);

    /* a whole last record that only lost its newline is kept and completed */
    append_raw(path, "{\"record_index\":4,\"status\":\"ok\"}");
    assert_int_equal(ipw_records_finished(path, false, &done, &info, &eb), IPW_OK);
    assert_true(info.unterminated_tail);
    assert_false(info.torn_tail);
    assert_int_equal(done.n, 5);
    ipw_records_done_free(&done);
    assert_int_equal(ipw_records_repair(path, &info, &eb), IPW_OK);
    assert_true(info.repaired);
    char *text;
    size_t len;
    assert_int_equal(ipw_read_file(path, 1 << 20, &text, &len, NULL), IPW_OK);
    assert_int_equal(text[len - 1], '\n');
    free(text);
    /* a clean file is left alone */
    assert_int_equal(ipw_records_repair(path, &info, &eb), IPW_OK);
    assert_false(info.repaired);
    /* a torn tail that is only whitespace, or a non-record fragment */
    append_raw(path, "  ");
    assert_int_equal(ipw_records_repair(path, &info, &eb), IPW_OK);
    assert_true(info.torn_tail && info.repaired);
    append_raw(path, "{\"no_index\":true}");
    assert_int_equal(ipw_records_repair(path, &info, &eb), IPW_OK);
    assert_true(info.torn_tail);
    assert_int_equal(ipw_records_load(path, &all, &info, &eb), IPW_OK);
    assert_int_equal(json_array_size(all), 5);
    assert_false(info.torn_tail);
    json_decref(all);
    ipw_test_rmtree(dir);
    free(dir);
    free(path);
}

static void test_duplicates_and_retries(void **state)
{
    (void)state;
    char *dir = ipw_test_mkdtemp("ipw-records");
    char *path = path_in(dir, IPW_RECORDS_FILE);
    ipw_test_write(dir, IPW_RECORDS_FILE,
                   "{\"record_index\":0,\"status\":\"ok\",\"v\":1}\n"
                   "\n"
                   "{\"record_index\":2,\"status\":\"failed\",\"v\":2}\n"
                   "{\"record_index\":1,\"status\":\"ok\",\"v\":3}\n"
                   "{\"record_index\":0,\"status\":\"ok\",\"v\":4}\n"
                   "{\"record_index\":3,\"status\":\"failed\",\"v\":5}\n"
                   "{\"record_index\":3,\"status\":\"ok\",\"v\":6}\n");
    ipw_errbuf eb = {0};
    struct ipw_records_info info;
    json_t *all;
    assert_int_equal(ipw_records_load(path, &all, &info, &eb), IPW_OK);
    assert_int_equal(info.lines, 7);
    assert_int_equal(info.records, 6);
    assert_int_equal(info.duplicates, 2);
    assert_int_equal(info.first_duplicate, 0);
    assert_int_equal(info.first_duplicate_line, 5);
    /* sorted by record_index; the later line wins */
    assert_int_equal(json_array_size(all), 4);
    int want_v[] = {4, 3, 2, 6};
    for (int i = 0; i < 4; i++) {
        json_t *r = json_array_get(all, (size_t)i);
        assert_int_equal(json_integer_value(json_object_get(r, "record_index")), i);
        assert_int_equal(json_integer_value(json_object_get(r, "v")), want_v[i]);
    }
    json_decref(all);
    struct ipw_records_done done;
    assert_int_equal(ipw_records_finished(path, true, &done, NULL, &eb), IPW_OK);
    assert_int_equal(done.n, 3); /* 2 failed last: run again */
    assert_false(ipw_records_done_has(&done, 2));
    assert_true(ipw_records_done_has(&done, 3));
    ipw_records_done_free(&done);
    assert_int_equal(ipw_records_finished(path, false, &done, NULL, &eb), IPW_OK);
    assert_int_equal(done.n, 4);
    ipw_records_done_free(&done);

    /* appending: a finished index is refused, a failed one may be retried */
    struct ipw_records_log *log;
    assert_int_equal(ipw_records_open(path, true, &log, NULL, &eb), IPW_OK);
    json_t *r = rec(1, "ok");
    assert_int_equal(ipw_records_append(log, r, &eb), IPW_E_EXISTS);
    assert_non_null(strstr(eb.msg, "record_index 1"));
    json_decref(r);
    r = rec(2, "ok");
    assert_int_equal(ipw_records_append(log, r, &eb), IPW_OK);
    assert_int_equal(ipw_records_append(log, r, &eb), IPW_E_EXISTS);
    json_decref(r);
    ipw_records_close(log);
    assert_int_equal(ipw_records_finished(path, true, &done, NULL, &eb), IPW_OK);
    assert_int_equal(done.n, 4);
    ipw_records_done_free(&done);
    ipw_test_rmtree(dir);
    free(dir);
    free(path);
}

static void test_damaged_lines(void **state)
{
    (void)state;
    char *dir = ipw_test_mkdtemp("ipw-records");
    char *path = path_in(dir, IPW_RECORDS_FILE);
    ipw_errbuf eb = {0};
    json_t *all;
    const char *bad[] = {
        "{\"record_index\":0}\n{\"record_index\":1,\n{\"record_index\":2}\n",
        "{\"record_index\":0}\n[1,2]\n",
        "{\"record_index\":0}\n{\"record_index\":\"1\"}\n",
        "{\"record_index\":0}\n{\"record_index\":1.5}\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        ipw_test_write(dir, IPW_RECORDS_FILE, bad[i]);
        assert_int_equal(ipw_records_load(path, &all, NULL, &eb), IPW_E_INVALID);
        assert_non_null(strstr(eb.msg, "line 2"));
        struct ipw_records_log *log;
        assert_int_equal(ipw_records_open(path, true, &log, NULL, &eb), IPW_E_INVALID);
    }
    /* the line bound, reading and writing */
    FILE *f = fopen(path, "w");
    fputs("{\"record_index\":0,\"x\":\"", f);
    for (size_t i = 0; i < IPW_RECORDS_MAX_LINE; i += 64)
        fputs("0123456789012345678901234567890123456789012345678901234567890123", f);
    fputs("\"}\n", f);
    fclose(f);
    assert_int_equal(ipw_records_load(path, &all, NULL, &eb), IPW_E_RANGE);
    assert_non_null(strstr(eb.msg, "line 1"));
    unlink(path);
    struct ipw_records_log *log;
    assert_int_equal(ipw_records_open(path, false, &log, NULL, &eb), IPW_OK);
    char *big = malloc(IPW_RECORDS_MAX_LINE + 1);
    memset(big, 'x', IPW_RECORDS_MAX_LINE);
    big[IPW_RECORDS_MAX_LINE] = '\0';
    json_t *r = json_pack("{s:i, s:s}", "record_index", 0, "x", big);
    assert_int_equal(ipw_records_append(log, r, &eb), IPW_E_RANGE);
    assert_non_null(strstr(eb.msg, "limit"));
    assert_int_equal(file_size(path), 0);
    json_decref(r);
    /* lines that cross the reader's 1 MiB chunks */
    big[300000] = '\0';
    for (int i = 0; i < 12; i++) {
        r = json_pack("{s:i, s:s}", "record_index", i, "x", big);
        assert_int_equal(ipw_records_append(log, r, &eb), IPW_OK);
        json_decref(r);
    }
    ipw_records_close(log);
    free(big);
    struct ipw_records_info info;
    assert_int_equal(ipw_records_load(path, &all, &info, &eb), IPW_OK);
    assert_int_equal(json_array_size(all), 12);
    assert_int_equal(json_string_length(json_object_get(json_array_get(all, 11), "x")), 300000);
    json_decref(all);
    ipw_test_rmtree(dir);
    free(dir);
    free(path);
}

/* A crash can cut the file anywhere inside the last write: every cut leaves the finished records
 * readable, the resume set exact, and a resumed log clean. */
static void test_every_crash_point(void **state)
{
    (void)state;
    char *dir = ipw_test_mkdtemp("ipw-records");
    char *path = path_in(dir, IPW_RECORDS_FILE);
    write_log(path, 4);
    char *full;
    size_t len;
    assert_int_equal(ipw_read_file(path, 1 << 20, &full, &len, NULL), IPW_OK);
    /* where the 4th line starts */
    size_t last = len - 1;
    while (last > 0 && full[last - 1] != '\n')
        last--;
    ipw_errbuf eb = {0};
    for (size_t cut = last; cut <= len; cut++) {
        FILE *f = fopen(path, "wb");
        fwrite(full, 1, cut, f);
        fclose(f);
        struct ipw_records_done done;
        struct ipw_records_info info;
        assert_int_equal(ipw_records_finished(path, false, &done, &info, &eb), IPW_OK);
        /* the 4th record counts once it is whole, with or without its newline */
        size_t want = cut >= len - 1 ? 4 : 3;
        assert_int_equal(done.n, want);
        assert_int_equal(info.torn_tail, cut > last && cut < len - 1);
        ipw_records_done_free(&done);
        struct ipw_records_log *log;
        assert_int_equal(ipw_records_open(path, true, &log, NULL, &eb), IPW_OK);
        json_t *r = rec(10, "ok");
        assert_int_equal(ipw_records_append(log, r, &eb), IPW_OK);
        json_decref(r);
        ipw_records_close(log);
        json_t *all;
        assert_int_equal(ipw_records_load(path, &all, &info, &eb), IPW_OK);
        assert_int_equal(json_array_size(all), want + 1);
        assert_false(info.torn_tail || info.unterminated_tail);
        json_decref(all);
    }
    free(full);
    ipw_test_rmtree(dir);
    free(dir);
    free(path);
}

/* A writer killed with SIGKILL at an arbitrary moment loses nothing it reported as appended. */
static void test_killed_writer(void **state)
{
    (void)state;
    char *dir = ipw_test_mkdtemp("ipw-records");
    char *path = path_in(dir, IPW_RECORDS_FILE);
    int pipefd[2];
    assert_int_equal(pipe(pipefd), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(pipefd[0]);
        struct ipw_records_log *log;
        if (ipw_records_open(path, false, &log, NULL, NULL) != IPW_OK)
            _exit(1);
        for (int i = 0;; i++) {
            json_t *r = rec(i, "ok");
            if (ipw_records_append(log, r, NULL) != IPW_OK)
                _exit(1);
            json_decref(r);
            /* tell the parent this index is durable */
            if (write(pipefd[1], &i, sizeof i) != sizeof i)
                _exit(1);
        }
    }
    close(pipefd[1]);
    int acked = -1, v;
    while (acked < 40 && read(pipefd[0], &v, sizeof v) == sizeof v)
        acked = v;
    kill(pid, SIGKILL);
    int status;
    waitpid(pid, &status, 0);
    while (read(pipefd[0], &v, sizeof v) == sizeof v)
        acked = v;
    close(pipefd[0]);
    ipw_errbuf eb = {0};
    struct ipw_records_done done;
    assert_int_equal(ipw_records_finished(path, false, &done, NULL, &eb), IPW_OK);
    for (int i = 0; i <= acked; i++)
        assert_true(ipw_records_done_has(&done, i));
    assert_true(done.n >= (size_t)acked + 1 && done.n <= (size_t)acked + 2);
    ipw_records_done_free(&done);
    ipw_test_rmtree(dir);
    free(dir);
    free(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_append_and_load),
        cmocka_unit_test(test_torn_tail_recovered),
        cmocka_unit_test(test_duplicates_and_retries),
        cmocka_unit_test(test_damaged_lines),
        cmocka_unit_test(test_every_crash_point),
        cmocka_unit_test(test_killed_writer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
