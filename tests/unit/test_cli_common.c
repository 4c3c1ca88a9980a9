/* The pieces every command shares (src/cli/cli_common.c and the shared --log-level): one
 * signal policy — the first SIGINT/SIGTERM asks the command to stop and runs its hook, a
 * second one ends the process at once — and the log level chosen from the flag, the
 * environment and the command's default. */
#include "ipw_test.h"

#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "commands.h"
#include "ipw/log.h"

static int hook_calls;
static void *hook_seen;

static void count_hook(void *ud)
{
    hook_calls++;
    hook_seen = ud;
}

/* Runs in a child, since the second signal is meant to kill the process. */
static void child_two_signals(int sig)
{
    int marker = 0;
    ipw_cli_set_stop_hook(count_hook, &marker);
    ipw_cli_install_stop_handlers();
    raise(sig);
    if (!ipw_cli_stop_requested() || hook_calls != 1 || hook_seen != &marker)
        _exit(3); /* the first signal must only ask */
    raise(sig);
    _exit(4); /* not reached when the second signal ends the process */
}

static void test_second_signal_ends_the_process(void **state)
{
    (void)state;
    int sigs[] = {SIGINT, SIGTERM};
    for (size_t i = 0; i < 2; i++) {
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0)
            child_two_signals(sigs[i]);
        int st = 0;
        assert_int_equal(waitpid(pid, &st, 0), pid);
        assert_true(WIFSIGNALED(st));
        assert_int_equal(WTERMSIG(st), sigs[i]);
    }
}

static void test_remove_restores_defaults(void **state)
{
    (void)state;
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        ipw_cli_set_stop_hook(count_hook, NULL);
        ipw_cli_install_stop_handlers();
        ipw_cli_remove_stop_handlers();
        raise(SIGINT); /* the default action: the process ends, no hook runs */
        _exit(hook_calls ? 5 : 6);
    }
    int st = 0;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFSIGNALED(st));
    assert_int_equal(WTERMSIG(st), SIGINT);
}

static void test_log_level_option(void **state)
{
    (void)state;
    unsetenv("IPW_LOG_LEVEL");
    ipw_log_apply_option(NULL, IPW_LOG_INFO);
    assert_int_equal(ipw_log_get_level(), IPW_LOG_INFO);
    ipw_log_apply_option("debug", IPW_LOG_INFO);
    assert_int_equal(ipw_log_get_level(), IPW_LOG_DEBUG);
    setenv("IPW_LOG_LEVEL", "error", 1);
    ipw_log_apply_option(NULL, IPW_LOG_INFO); /* the environment over the default */
    assert_int_equal(ipw_log_get_level(), IPW_LOG_ERROR);
    ipw_log_apply_option("trace", IPW_LOG_INFO); /* the flag over the environment */
    assert_int_equal(ipw_log_get_level(), IPW_LOG_TRACE);
    setenv("IPW_LOG_LEVEL", "loud", 1);
    ipw_log_apply_option(NULL, IPW_LOG_WARN); /* a name that is no level: the default */
    assert_int_equal(ipw_log_get_level(), IPW_LOG_WARN);
    size_t n = 0;
    while (ipw_log_level_names[n])
        assert_int_equal(ipw_log_parse_level(ipw_log_level_names[n]), (int)n), n++;
    assert_int_equal(n, 5);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_second_signal_ends_the_process),
        cmocka_unit_test(test_remove_restores_defaults),
        cmocka_unit_test(test_log_level_option),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
