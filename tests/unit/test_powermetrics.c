/* The powermetrics collector against tests/fakes/fake_powermetrics.py, a program that prints
 * NUL-separated plists like the real one, run through the same child-process path: energies
 * accumulate to exactly what was sent, bad samples are skipped, the ane_power retry, crashes are
 * reported and restarted, and close() leaves no child behind. Plus the sample parser itself. */
#include "ipw_test.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ipw/clock.h"
#include "ipw/collector.h"
#include "telemetry/collector_priv.h"
#include "telemetry/plist.h"
#include "telemetry/powermetrics.h"
#include "ipw/reading_json.h"

static char fake[4096];
static char logpath[4096];
static char *tmpdir;
/* the collector a test has open, so that teardown closes it (and its child) when an assertion
 * ends the test early */
static struct ipw_collector *live;

static int setup(void **state)
{
    (void)state;
    snprintf(fake, sizeof fake, "%s/tests/fakes/fake_powermetrics.py", ipw_test_source_dir());
    tmpdir = ipw_test_mkdtemp("ipw-pm");
    snprintf(logpath, sizeof logpath, "%s/log", tmpdir);
    unlink(logpath);
    static const char *const vars[] = {"FAKE_PM_COUNT",       "FAKE_PM_TRUNCATE_AT",
                                       "FAKE_PM_GARBAGE_AT",  "FAKE_PM_REJECT_ANE",
                                       "FAKE_PM_NOT_ROOT",    "FAKE_PM_CRASH_AFTER",
                                       "FAKE_PM_IGNORE_TERM", "IPW_POWERMETRICS"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
        unsetenv(vars[i]);
    setenv("FAKE_PM_LOG", logpath, 1);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    ipw_collector_close(live);
    live = NULL;
    ipw_test_rmtree(tmpdir);
    free(tmpdir);
    return 0;
}

static struct ipw_collector *open_pm(const char *command, int interval_ms, ipw_errbuf *eb)
{
    struct ipw_collector_config cfg;
    ipw_collector_config_init(&cfg);
    cfg.powermetrics_command = command;
    cfg.interval_ms = interval_ms;
    struct ipw_collector *c = NULL;
    if (ipw_collector_open("macos", &cfg, &c, eb) != IPW_OK)
        return NULL;
    return live = c;
}

static void close_pm(struct ipw_collector *c)
{
    ipw_collector_close(c);
    live = NULL;
}

static struct ipw_powermetrics_stats stats(const struct ipw_collector *c)
{
    struct ipw_powermetrics_stats st;
    assert_true(ipw_powermetrics_get_stats(c, &st));
    return st;
}

/* Polls until samples + bad samples reach n (the fake's output is all consumed). */
static void wait_consumed(const struct ipw_collector *c, uint64_t n)
{
    int64_t deadline = ipw_mono_ns() + 15 * IPW_NS_PER_SEC;
    for (;;) {
        struct ipw_powermetrics_stats st = stats(c);
        if (st.samples + st.bad_samples >= n)
            return;
        if (ipw_mono_ns() > deadline)
            fail_msg("only %llu good + %llu bad samples of %llu arrived",
                     (unsigned long long)st.samples, (unsigned long long)st.bad_samples,
                     (unsigned long long)n);
        ipw_sleep_ns(10 * IPW_NS_PER_MS);
    }
}

/* Sums what the fake says it sent (mJ) from its log. */
static int sum_log(double *cpu, double *gpu, double *ane, int *args_lines, char *first_args,
                   size_t fa_size)
{
    *cpu = *gpu = *ane = 0;
    *args_lines = 0;
    FILE *f = fopen(logpath, "r");
    if (!f)
        return 0;
    char line[512];
    int n = 0;
    while (fgets(line, sizeof line, f)) {
        int k;
        double a, b, d;
        if (sscanf(line, "sample %d %lf %lf %lf", &k, &a, &b, &d) == 4) {
            *cpu += a;
            *gpu += b;
            *ane += d;
            n++;
        } else if (strncmp(line, "args ", 5) == 0) {
            if (*args_lines == 0 && first_args)
                snprintf(first_args, fa_size, "%s", line);
            (*args_lines)++;
        }
    }
    fclose(f);
    return n;
}

static bool reaped(int pid)
{
    int status;
    return kill(pid, 0) == -1 && errno == ESRCH && waitpid(pid, &status, WNOHANG) == -1;
}

static void test_accumulates_exactly_and_skips_bad(void **state)
{
    (void)state;
    setenv("FAKE_PM_COUNT", "7", 1);
    setenv("FAKE_PM_TRUNCATE_AT", "2", 1);
    setenv("FAKE_PM_GARBAGE_AT", "4,6", 1);
    ipw_errbuf eb = {0};
    struct ipw_collector *c = open_pm(fake, 20, &eb);
    if (!c)
        fail_msg("open failed: %s", eb.msg);
    assert_string_equal(c->info.platform, "macos");
    assert_int_equal(c->info.main_domain, IPW_DOMAIN_GPU);
    assert_string_equal(c->info.gpu_name, "Mac14,2 & fake"); /* from the plist, &amp; decoded */
    assert_string_equal(c->info.gpu_vendor, "Apple");
    assert_string_equal(c->info.gpu_backend, "powermetrics");
    assert_null(c->cpu_companion); /* powermetrics has the CPU itself */
    wait_consumed(c, 7);

    struct ipw_reading r;
    ipw_errbuf se = {0};
    assert_int_equal(ipw_collector_sample(c, &r, NULL, &se), IPW_OK);
    /* good samples 1, 3, 5, 7: cpu 10k+3, gpu 100k+7, ane k mJ */
    double cpu = 0, gpu = 0, ane = 0;
    for (int k = 1; k <= 7; k += 2) {
        cpu += 10 * k + 3;
        gpu += 100 * k + 7;
        ane += k;
    }
    double lc, lg, la;
    int nargs;
    assert_int_equal(sum_log(&lc, &lg, &la, &nargs, NULL, 0), 4);
    assert_double_equal(lg, gpu, 0);
    assert_double_equal(r.v[IPW_M_GPU_ENERGY_J], gpu / 1000.0, 1e-12);
    assert_double_equal(r.v[IPW_M_CPU_ENERGY_J], cpu / 1000.0, 1e-12);
    assert_double_equal(r.v[IPW_M_ANE_ENERGY_J], ane / 1000.0, 1e-12);
    assert_int_equal(r.energy_source[IPW_DOMAIN_GPU], IPW_ENERGY_COUNTER);
    assert_int_equal(r.energy_source[IPW_DOMAIN_ANE], IPW_ENERGY_COUNTER);
    assert_int_equal(r.power_source, IPW_POWER_INSTANT);
    /* the latest power: sample 7 at 20 ms, mW -> W */
    assert_double_equal(r.v[IPW_M_GPU_POWER_W], 707 / 0.020 / 1000.0, 1e-9);
    assert_double_equal(r.v[IPW_M_CPU_POWER_W], 73 / 0.020 / 1000.0, 1e-9);
    assert_double_equal(r.v[IPW_M_ANE_POWER_W], 7 / 0.020 / 1000.0, 1e-9);
    int valid;
    assert_double_equal(ipw_reading_main_energy(&r, c->info.main_domain, &valid), gpu / 1000.0,
                        1e-12);

    struct ipw_powermetrics_stats st = stats(c);
    assert_int_equal(st.samples, 4);
    assert_int_equal(st.bad_samples, 3);
    assert_true(st.with_ane);
    assert_int_equal(st.interval_ms, 20);
    assert_double_equal(st.combined_power_w, (73 + 707 + 7) / 0.020 / 1000.0, 1e-9);
    assert_non_null(strstr(st.last_bad, "malformed plist"));
    int pid = st.pid;
    assert_true(pid > 0);
    close_pm(c);
    assert_true(reaped(pid));
}

static void test_ane_retry(void **state)
{
    (void)state;
    setenv("FAKE_PM_REJECT_ANE", "1", 1);
    setenv("FAKE_PM_COUNT", "3", 1);
    ipw_errbuf eb = {0};
    struct ipw_collector *c = open_pm(fake, 20, &eb);
    if (!c)
        fail_msg("open failed: %s", eb.msg);
    struct ipw_powermetrics_stats st = stats(c);
    assert_false(st.with_ane);
    assert_non_null(strstr(c->info.notes, "ane_power"));
    wait_consumed(c, 3);
    double lc, lg, la;
    int nargs;
    char first[512];
    assert_int_equal(sum_log(&lc, &lg, &la, &nargs, first, sizeof first), 3);
    assert_int_equal(nargs, 2);
    assert_non_null(strstr(first, "cpu_power,gpu_power,ane_power"));
    struct ipw_reading r;
    assert_int_equal(ipw_collector_sample(c, &r, NULL, NULL), IPW_OK);
    assert_false(ipw_reading_has(&r, IPW_M_ANE_ENERGY_J));
    assert_double_equal(r.v[IPW_M_GPU_ENERGY_J], lg / 1000.0, 1e-12);
    close_pm(c);
}

static void test_close_kills_and_reaps(void **state)
{
    (void)state;
    ipw_errbuf eb = {0};
    struct ipw_collector *c = open_pm(fake, 20, &eb);
    assert_non_null(c);
    int pid = stats(c).pid;
    assert_true(pid > 0);
    assert_int_equal(kill(pid, 0), 0);
    close_pm(c);
    assert_true(reaped(pid));

    /* one that ignores SIGTERM (and, idle, never meets a closed pipe) gets SIGKILL after the
     * grace period */
    setenv("FAKE_PM_IGNORE_TERM", "1", 1);
    setenv("FAKE_PM_COUNT", "1", 1);
    c = open_pm(fake, 20, &eb);
    assert_non_null(c);
    pid = stats(c).pid;
    int64_t t0 = ipw_mono_ns();
    close_pm(c);
    assert_true(reaped(pid));
    assert_true(ipw_mono_ns() - t0 >= (IPW_PM_GRACE_MS - 50) * IPW_NS_PER_MS);
}

static void test_crash_reported_and_restarted(void **state)
{
    (void)state;
    setenv("FAKE_PM_CRASH_AFTER", "3", 1);
    ipw_errbuf eb = {0};
    struct ipw_collector *c = open_pm(fake, 20, &eb);
    assert_non_null(c);
    int first_pid = stats(c).pid;
    int64_t deadline = ipw_mono_ns() + 10 * IPW_NS_PER_SEC;
    while (stats(c).exits < 1 && ipw_mono_ns() < deadline)
        ipw_sleep_ns(5 * IPW_NS_PER_MS);
    assert_true(stats(c).exits >= 1);
    struct ipw_reading r;
    ipw_errbuf se = {0};
    assert_int_equal(ipw_collector_sample(c, &r, NULL, &se), IPW_E_LOST);
    assert_non_null(strstr(se.msg, "exited with status 3"));
    assert_non_null(strstr(se.msg, "simulated crash"));
    assert_false(ipw_reading_has(&r, IPW_M_GPU_ENERGY_J));
    assert_true(reaped(first_pid));

    /* restarted after the backoff; energies go on from where they were */
    while ((stats(c).restarts < 1 || stats(c).samples < 4) && ipw_mono_ns() < deadline)
        ipw_sleep_ns(5 * IPW_NS_PER_MS);
    struct ipw_powermetrics_stats st = stats(c);
    assert_true(st.restarts >= 1);
    assert_true(st.samples >= 4);
    assert_int_equal(ipw_collector_sample(c, &r, NULL, &se), IPW_OK);
    /* at least the first child's three samples and one more; at most what the fake logged */
    double lc, lg, la;
    int nargs;
    sum_log(&lc, &lg, &la, &nargs, NULL, 0);
    assert_true(nargs >= 2);
    assert_true(r.v[IPW_M_GPU_ENERGY_J] >= (107 + 207 + 307 + 107) / 1000.0 - 1e-12);
    assert_true(r.v[IPW_M_GPU_ENERGY_J] <= lg / 1000.0 + 1e-12);
    close_pm(c);
}

static void test_open_failures(void **state)
{
    (void)state;
    ipw_errbuf eb = {0};
#ifndef __APPLE__
    int64_t t0 = ipw_mono_ns();
    assert_null(open_pm(NULL, 50, &eb));
    assert_int_equal(eb.code, IPW_E_UNSUPPORTED);
    assert_non_null(strstr(eb.msg, "only on macOS"));
    assert_true(ipw_mono_ns() - t0 < IPW_NS_PER_SEC); /* costs auto-detection nothing */
#endif
    assert_null(open_pm("/nonexistent/powermetrics", 50, &eb));
    assert_non_null(strstr(eb.msg, "cannot run '/nonexistent/powermetrics'"));

    setenv("FAKE_PM_NOT_ROOT", "1", 1);
    assert_null(open_pm(fake, 50, &eb));
    assert_non_null(strstr(eb.msg, "superuser"));
    assert_non_null(strstr(eb.msg, "run the monitor as root"));
    unsetenv("FAKE_PM_NOT_ROOT");

    /* arguments in the command are passed on; a bad one makes the fake exit 2 at once */
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "%s --bogus", fake);
    assert_null(open_pm(cmd, 50, &eb));
    assert_non_null(strstr(eb.msg, "exited with status 2"));
    assert_non_null(strstr(eb.msg, "unknown option --bogus"));
}

static void test_stale_samples(void **state)
{
    (void)state;
    setenv("FAKE_PM_COUNT", "1", 1);
    ipw_errbuf eb = {0};
    struct ipw_collector *c = open_pm(fake, 10, &eb);
    assert_non_null(c);
    struct ipw_reading r;
    assert_int_equal(ipw_collector_sample(c, &r, NULL, NULL), IPW_OK);
    ipw_sleep_ns(3200 * IPW_NS_PER_MS);
    ipw_errbuf se = {0};
    assert_int_equal(ipw_collector_sample(c, &r, NULL, &se), IPW_E_TIMEOUT);
    assert_non_null(strstr(se.msg, "no sample from powermetrics"));
    close_pm(c);
}

/* ---- the parser on its own --------------------------------------------------------- */

static const char sample_doc[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<!DOCTYPE plist PUBLIC \"-//Apple//DTD PLIST 1.0//EN\" \"x.dtd\">\n"
    "<plist version=\"1.0\"><dict>"
    "<key>hw_model</key><string>M&#x31; &lt;Max&gt; &#233;</string>"
    "<key>elapsed_ns</key><integer>0x10</integer>"
    "<key>note</key><string><![CDATA[a<b&c]]></string>"
    "<key>flags</key><array><true/><false></false><date>2024-01-01T00:00:00Z</date>"
    "<data>AAEC</data><string/><integer>-5</integer><real>1.5e3</real></array>"
    "<key>processor</key><dict><!-- c --><key>cpu_energy</key><integer>12</integer>"
    "<key>gpu_power</key><real> 2.5 </real></dict>"
    "<key>gpu</key><dict><key>gpu_energy</key><integer>40</integer></dict>"
    "<key>empty</key><dict/>"
    "</dict></plist>\n";

static void test_plist_parser(void **state)
{
    (void)state;
    struct ipw_plist *p;
    ipw_errbuf eb = {0};
    assert_int_equal(ipw_plist_parse(sample_doc, strlen(sample_doc), &p, &eb), IPW_OK);
    int root = ipw_plist_root(p);
    assert_int_equal(ipw_plist_type(p, root), IPW_PLIST_DICT);
    assert_string_equal(ipw_plist_text(p, ipw_plist_dict_get(p, root, "hw_model")),
                        "M1 <Max> \xc3\xa9");
    assert_string_equal(ipw_plist_text(p, ipw_plist_dict_get(p, root, "note")), "a<b&c");
    double v;
    assert_true(ipw_plist_number(p, ipw_plist_dict_get(p, root, "elapsed_ns"), &v));
    assert_double_equal(v, 16, 0);
    int arr = ipw_plist_dict_get(p, root, "flags");
    static const enum ipw_plist_type want[] = {IPW_PLIST_TRUE,    IPW_PLIST_FALSE,
                                               IPW_PLIST_DATE,    IPW_PLIST_DATA,
                                               IPW_PLIST_STRING,  IPW_PLIST_INTEGER,
                                               IPW_PLIST_REAL};
    int i = 0;
    for (int n = ipw_plist_first(p, arr); n >= 0; n = ipw_plist_next(p, n), i++) {
        assert_int_equal(ipw_plist_type(p, n), want[i]);
        assert_null(ipw_plist_key(p, n));
    }
    assert_int_equal(i, 7);
    assert_int_equal(ipw_plist_type(p, ipw_plist_dict_get(p, root, "empty")), IPW_PLIST_DICT);
    assert_int_equal(ipw_plist_first(p, ipw_plist_dict_get(p, root, "empty")), -1);
    assert_int_equal(ipw_plist_dict_get(p, root, "absent"), -1);
    assert_string_equal(ipw_plist_key(p, ipw_plist_dict_get(p, root, "gpu")), "gpu");
    ipw_plist_free(p);

    struct ipw_pm_sample s;
    assert_int_equal(ipw_powermetrics_parse_sample(sample_doc, strlen(sample_doc), &s, &eb),
                     IPW_OK);
    assert_true(s.valid & (1u << IPW_PM_CPU_ENERGY));
    assert_true(s.valid & (1u << IPW_PM_GPU_ENERGY)); /* from the top-level gpu dict */
    assert_false(s.valid & (1u << IPW_PM_ANE_ENERGY));
    assert_double_equal(s.v[IPW_PM_GPU_ENERGY], 40, 0);
    assert_double_equal(s.v[IPW_PM_GPU_POWER], 2.5, 0);
    assert_string_equal(s.hw_model, "M1 <Max> \xc3\xa9");
}

static void test_plist_rejects(void **state)
{
    (void)state;
    static const struct {
        const char *doc, *why;
    } bad[] = {
        {"<plist><dict><key>a</key><integer>1</integer>", "truncated"},
        {"<plist><dict><key>a</key><integer>1</integer></dict></plist><x/>", "after </plist>"},
        {"<plist><dict><integer>1</integer></dict></plist>", "expected <key>"},
        {"<plist><dict><key>a</key><foo/></dict></plist>", "unknown element <foo>"},
        {"<plist><integer>12x</integer></plist>", "bad <integer>"},
        {"<plist><real></real></plist>", "bad <real>"},
        {"<plist><string>&nope;</string></plist>", "unknown entity"},
        {"<plist><string>&#0;</string></plist>", "invalid character"},
        {"<plist><array><string>x</array></plist>", "expected </string>"},
        {"<dict></dict>", "expected <plist>"},
        {"", "truncated"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct ipw_plist *p = (struct ipw_plist *)1;
        ipw_errbuf eb = {0};
        ipw_err e = ipw_plist_parse(bad[i].doc, strlen(bad[i].doc), &p, &eb);
        if (e == IPW_OK)
            fail_msg("accepted: %s", bad[i].doc);
        assert_null(p);
        if (!strstr(eb.msg, bad[i].why))
            fail_msg("for %s: message '%s' lacks '%s'", bad[i].doc, eb.msg, bad[i].why);
    }
    /* nesting beyond the limit is refused, not a stack overflow */
    size_t depth = IPW_PLIST_MAX_DEPTH + 5;
    char *deep = malloc(depth * 15 + 32);
    strcpy(deep, "<plist>");
    for (size_t i = 0; i < depth; i++)
        strcat(deep, "<array>");
    struct ipw_plist *p;
    ipw_errbuf eb = {0};
    assert_int_equal(ipw_plist_parse(deep, strlen(deep), &p, &eb), IPW_E_RANGE);
    free(deep);

    struct ipw_pm_sample s;
    const char *no_proc = "<plist><dict><key>gpu</key><dict/></dict></plist>";
    assert_int_equal(ipw_powermetrics_parse_sample(no_proc, strlen(no_proc), &s, &eb),
                     IPW_E_PROTOCOL);
    assert_non_null(strstr(eb.msg, "no processor dictionary"));
    const char *neg = "<plist><dict><key>processor</key><dict><key>gpu_energy</key>"
                      "<integer>-3</integer></dict></dict></plist>";
    assert_int_equal(ipw_powermetrics_parse_sample(neg, strlen(neg), &s, &eb), IPW_E_PROTOCOL);
    assert_non_null(strstr(eb.msg, "gpu_energy = -3"));
    const char *none = "<plist><dict><key>processor</key><dict><key>cpu_power</key>"
                       "<real>1</real></dict></dict></plist>";
    assert_int_equal(ipw_powermetrics_parse_sample(none, strlen(none), &s, &eb), IPW_E_PROTOCOL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_accumulates_exactly_and_skips_bad, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ane_retry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_close_kills_and_reaps, setup, teardown),
        cmocka_unit_test_setup_teardown(test_crash_reported_and_restarted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_failures, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stale_samples, setup, teardown),
        cmocka_unit_test(test_plist_parser),
        cmocka_unit_test(test_plist_rejects),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
