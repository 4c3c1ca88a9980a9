/* The lab's /proc readers: the process-tree tracker on a fake procfs, by listing /proc (members,
 * a child born between snapshots, a grandchild of a newborn, a reaped child counted through
 * cutime, the machine's idle time and CPU count) and by the kernel's children files (threads'
 * children, a re-parented member); the two share conventions on the wall clock (a tickless
 * kernel's short-changed busy columns); the listener lookup through /proc/net/tcp6 and fd
 * links; and the tree of real child processes burning known CPU. */
#include "ipw_test.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ipw/lab.h"

static void put_stat(const char *root, int pid, int ppid, long ut, long st, long cut, long cst)
{
    char rel[64], text[512];
    snprintf(rel, sizeof rel, "%d/stat", pid);
    /* a command name with a space and a parenthesis, as the kernel allows */
    snprintf(text, sizeof text,
             "%d (ollama (runner)) S %d 1 1 0 -1 4194560 100 0 0 0 %ld %ld %ld %ld 20 0 1 0 1\n",
             pid, ppid, ut, st, cut, cst);
    ipw_test_write(root, rel, text);
}

static void put_machine(const char *root, long busy, long idle)
{
    char text[256];
    snprintf(text, sizeof text, "cpu  %ld 0 0 %ld 0 0 0 0 0 0\ncpu0 0 0 0 0 0 0 0 0 0 0\n", busy,
             idle);
    ipw_test_write(root, "stat", text);
}

static void test_tracker_on_fake_procfs(void **state)
{
    (void)state;
    char *root = ipw_test_mkdtemp("ipw-lab-proc");
    put_machine(root, 1000, 3000);
    put_stat(root, 100, 1, 50, 10, 0, 0);  /* the server */
    put_stat(root, 101, 100, 200, 20, 0, 0); /* its runner */
    put_stat(root, 300, 1, 999, 999, 0, 0);  /* someone else */
    struct ipw_lab_proctree *t;
    assert_int_equal(ipw_lab_proctree_open(root, NULL, 100, &t, NULL), IPW_OK);
    struct ipw_lab_cpu_snapshot a, b;
    assert_int_equal(ipw_lab_proctree_snapshot(t, &a, NULL), IPW_OK);
    assert_int_equal(a.processes, 2);
    assert_int_equal(a.tree_ticks, 280);
    assert_int_equal(a.busy_ticks, 1000);
    assert_int_equal(a.idle_ticks, 3000);
    assert_int_equal(a.ncpu, 1);
    /* the runner works 40 ticks, a child is born to it (and a grandchild to that), the
     * server reaps an earlier child that used 5 ticks; the machine is busy 100 more ticks of
     * 400 */
    put_stat(root, 100, 1, 50, 10, 3, 2);
    put_stat(root, 101, 100, 230, 30, 0, 0);
    put_stat(root, 400, 101, 7, 1, 0, 0);
    put_stat(root, 401, 400, 2, 0, 0, 0);
    put_stat(root, 300, 1, 5000, 999, 0, 0);
    put_machine(root, 1100, 3300);
    assert_int_equal(ipw_lab_proctree_snapshot(t, &b, NULL), IPW_OK);
    assert_int_equal(b.processes, 4);
    assert_int_equal(b.tree_ticks, 60 + 5 + 260 + 8 + 2);
    size_t n;
    const int *pids = ipw_lab_proctree_pids(t, &n);
    assert_int_equal(n, 4);
    assert_int_equal(pids[0], 100);
    assert_int_equal(pids[3], 401);
    /* the capacity is the wall clock: make the snapshots 400 ticks apart, as the file says */
    double hz = (double)sysconf(_SC_CLK_TCK);
    b.mono_ns = a.mono_ns + (int64_t)llround(400 / hz * 1e9);
    double busy, cap;
    ipw_lab_cpu_shares(&a, &b, &busy, &cap);
    assert_double_equal(busy, 55.0 / 100.0, 1e-12);
    assert_double_equal(cap, 55.0 / 400.0, 1e-12);
    /* the server gone: a clear error */
    char path[4200];
    snprintf(path, sizeof path, "%s/100/stat", root);
    unlink(path);
    ipw_errbuf eb = {0};
    assert_int_equal(ipw_lab_proctree_snapshot(t, &b, &eb), IPW_E_NOTFOUND);
    assert_non_null(strstr(eb.msg, "server process 100 is gone"));
    ipw_lab_proctree_close(t);
    /* no machine movement: shares unknown, not infinite */
    ipw_lab_cpu_shares(&a, &a, &busy, &cap);
    assert_true(isnan(busy) && isnan(cap));
    ipw_test_rmtree(root);
    free(root);
}

static void put_children(const char *root, int pid, int tid, const char *kids)
{
    char rel[64];
    snprintf(rel, sizeof rel, "%d/task/%d/children", pid, tid);
    ipw_test_write(root, rel, kids);
}

/* A kernel with children lists: the tree is walked from the root through each thread's
 * children file (a child belongs to the thread that forked it), without listing /proc — a
 * process that is not a descendant is never read, even when it claims the root as parent. A
 * member whose parent died (re-parented to init) stays a member. */
static void test_tracker_children_files(void **state)
{
    (void)state;
    char *root = ipw_test_mkdtemp("ipw-lab-kids");
    put_machine(root, 1000, 3000);
    put_stat(root, 100, 1, 50, 10, 0, 0);
    put_children(root, 100, 100, "101 ");
    put_children(root, 100, 107, "102 "); /* forked by a second thread of the server */
    put_stat(root, 101, 100, 20, 0, 0, 0);
    put_children(root, 101, 101, "");
    put_stat(root, 102, 100, 30, 0, 0, 0);
    put_children(root, 102, 102, "103");
    put_stat(root, 103, 102, 5, 0, 0, 0);
    put_children(root, 103, 103, "");
    put_stat(root, 200, 100, 999, 0, 0, 0); /* in no children list: not read */
    struct ipw_lab_proctree *t;
    assert_int_equal(ipw_lab_proctree_open(root, NULL, 100, &t, NULL), IPW_OK);
    struct ipw_lab_cpu_snapshot a, b;
    assert_int_equal(ipw_lab_proctree_snapshot(t, &a, NULL), IPW_OK);
    assert_int_equal(a.processes, 4);
    assert_int_equal(a.tree_ticks, 60 + 20 + 30 + 5);
    /* 102 dies; its child 103 goes to init and keeps working; the server reaps 102 (35 ticks
     * in its cutime) and starts 104 */
    char path[4200];
    snprintf(path, sizeof path, "%s/102/stat", root);
    unlink(path);
    put_children(root, 100, 107, "");
    put_children(root, 100, 100, "101 104");
    put_stat(root, 100, 1, 50, 10, 30, 5);
    put_stat(root, 103, 1, 25, 0, 0, 0);
    put_stat(root, 101, 100, 20, 0, 4, 0); /* 101 reaped a worker of its own: 4 ticks */
    put_stat(root, 104, 100, 3, 0, 0, 0);
    put_children(root, 104, 104, "");
    assert_int_equal(ipw_lab_proctree_snapshot(t, &b, NULL), IPW_OK);
    assert_int_equal(b.processes, 4); /* 100 101 103 104 */
    assert_int_equal(b.tree_ticks, 60 + 35 + 20 + 4 + 25 + 3);
    size_t n;
    const int *pids = ipw_lab_proctree_pids(t, &n);
    assert_int_equal(n, 4);
    assert_int_equal(pids[2], 103);
    ipw_lab_proctree_close(t);
    ipw_test_rmtree(root);
    free(root);
}

/* A tickless kernel on a mostly idle machine: idle is measured exactly, the busy columns are
 * tick samples that miss short bursts, so the columns add up to less than the wall clock. The
 * shares use the wall clock (4 CPUs x 2 s = 800 ticks) and busy = capacity - idle (800 - 600),
 * not the columns' 150 busy of 750. */
static void test_shares_tickless_idle(void **state)
{
    (void)state;
    double hz = (double)sysconf(_SC_CLK_TCK);
    struct ipw_lab_cpu_snapshot a = {.tree_ticks = 10, .idle_ticks = 5000, .busy_ticks = 900,
                                     .mono_ns = 1000000000, .ncpu = 4};
    struct ipw_lab_cpu_snapshot b = a;
    b.mono_ns += (int64_t)llround(200 / hz * 1e9); /* per CPU */
    b.idle_ticks += 600;
    b.busy_ticks += 150;
    b.tree_ticks += 100;
    double busy, cap;
    ipw_lab_cpu_shares(&a, &b, &busy, &cap);
    assert_double_equal(cap, 100.0 / 800.0, 1e-9);
    assert_double_equal(busy, 100.0 / 200.0, 1e-9);
    /* a tree that used more than the busy time (ticks read at slightly different instants):
     * capped at 1 */
    b.tree_ticks = a.tree_ticks + 250;
    ipw_lab_cpu_shares(&a, &b, &busy, &cap);
    assert_double_equal(busy, 1.0, 0);
    /* all idle: no busy share, a zero capacity share */
    b.idle_ticks = a.idle_ticks + 800;
    b.tree_ticks = a.tree_ticks;
    ipw_lab_cpu_shares(&a, &b, &busy, &cap);
    assert_true(isnan(busy));
    assert_double_equal(cap, 0, 0);
    /* no CPU lines or no time: unknown */
    b = a;
    ipw_lab_cpu_shares(&a, &b, &busy, &cap);
    assert_true(isnan(busy) && isnan(cap));
}

static void test_listener_fake_procfs(void **state)
{
    (void)state;
    char *root = ipw_test_mkdtemp("ipw-lab-net");
    ipw_test_write(root, "net/tcp",
                   "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt"
                   "   uid  timeout inode\n"
                   "   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000"
                   "     0        0 5555 1 0000000000000000 100 0 0 10 0\n"
                   "   1: 0100007F:2CAB 0100007F:1F90 01 00000000:00000000 00:00000000 00000000"
                   "     0        0 7777 1 0000000000000000 100 0 0 10 0\n");
    ipw_test_write(root, "net/tcp6",
                   "  sl  local_address                         remote_address                "
                   "        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
                   "   0: 00000000000000000000000000000000:2CAA 00000000000000000000000000000000"
                   ":0000 0A 00000000:00000000 00:00000000 00000000     0        0 6666 1\n");
    char dir[4200], link[4300];
    snprintf(dir, sizeof dir, "%s/4242/fd", root);
    ipw_test_write(root, "4242/fd/.keep", "");
    snprintf(link, sizeof link, "%s/3", dir);
    assert_int_equal(symlink("socket:[6666]", link), 0);
    snprintf(link, sizeof link, "%s/4", dir);
    assert_int_equal(symlink("/dev/null", link), 0);
    ipw_test_write(root, "77/fd/.keep", "");
    snprintf(link, sizeof link, "%s/77/fd/9", root);
    assert_int_equal(symlink("socket:[5555]", link), 0);
    int pid = 0;
    assert_int_equal(ipw_lab_find_listener(root, 0x2CAA, &pid, NULL), IPW_OK); /* tcp6 */
    assert_int_equal(pid, 4242);
    assert_int_equal(ipw_lab_find_listener(root, 8080, &pid, NULL), IPW_OK); /* 0x1F90 */
    assert_int_equal(pid, 77);
    ipw_errbuf eb = {0};
    /* 0x2CAB is a connected socket, not a listener */
    assert_int_equal(ipw_lab_find_listener(root, 0x2CAB, &pid, &eb), IPW_E_NOTFOUND);
    assert_non_null(strstr(eb.msg, "--server-pid"));
    ipw_test_rmtree(root);
    free(root);
}

static void test_listener_real_socket(void **state)
{
    (void)state;
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(s, 1), 0);
    socklen_t len = sizeof a;
    getsockname(s, (struct sockaddr *)&a, &len);
    int pid = 0;
    ipw_errbuf eb = {0};
    if (ipw_lab_find_listener(NULL, ntohs(a.sin_port), &pid, &eb) != IPW_OK)
        fail_msg("%s", eb.msg);
    assert_int_equal(pid, getpid());
    close(s);
}

static double cpu_now(clockid_t c)
{
    struct timespec ts;
    clock_gettime(c, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A real tree: a child that starts a grandchild; each burns 0.3 s of CPU. The grandchild is
 * reaped by the child before the second snapshot (so it counts through cutime) and the child
 * is still alive (counted directly). */
static void test_real_children_burning(void **state)
{
    (void)state;
    int ready[2];
    assert_int_equal(pipe(ready), 0);
    pid_t child = fork();
    if (child == 0) {
        pid_t g = fork();
        volatile unsigned long x = 0;
        while (cpu_now(CLOCK_PROCESS_CPUTIME_ID) < 0.3)
            for (int i = 0; i < 100000; i++)
                x += (unsigned long)i;
        if (g == 0)
            _exit(0);
        waitpid(g, NULL, 0);
        if (write(ready[1], "x", 1) != 1)
            _exit(1);
        pause();
        _exit(0);
    }
    struct ipw_lab_proctree *t;
    struct ipw_lab_cpu_snapshot a, b;
    assert_int_equal(ipw_lab_proctree_open(NULL, NULL, child, &t, NULL), IPW_OK);
    assert_int_equal(ipw_lab_proctree_snapshot(t, &a, NULL), IPW_OK);
    char c;
    assert_int_equal(read(ready[0], &c, 1), 1);
    assert_int_equal(ipw_lab_proctree_snapshot(t, &b, NULL), IPW_OK);
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
    ipw_lab_proctree_close(t);
    double hz = (double)sysconf(_SC_CLK_TCK);
    double used = (double)(b.tree_ticks - a.tree_ticks) / hz;
    print_message("tree used %.2f s of CPU (0.6 s burnt, part of it perhaps before the first "
                  "snapshot)\n", used);
    /* the first snapshot may come after some of the burning started: at most 0.6 s, and the
     * grandchild's reaped time must be there: more than the child's 0.3 s alone minus what
     * ran before the first snapshot */
    assert_true(b.tree_ticks >= a.tree_ticks);
    assert_true(used <= 0.6 + 3 / hz);
    assert_true((double)b.tree_ticks / hz >= 0.6 - 3 / hz); /* all of it, since fork */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tracker_on_fake_procfs),
        cmocka_unit_test(test_shares_tickless_idle),
        cmocka_unit_test(test_tracker_children_files),
        cmocka_unit_test(test_listener_fake_procfs),
        cmocka_unit_test(test_listener_real_socket),
        cmocka_unit_test(test_real_children_burning),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
