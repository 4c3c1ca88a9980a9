/* /proc readings of a child process and the energy-monitor launcher for
 * benchmarks and soak tests (see proc_usage.h). */
#include "proc_usage.h"

#include <dirent.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ipw_test.h"

int64_t ipw_test_proc_cpu_ns(pid_t pid)
{
    char dir[64];
    snprintf(dir, sizeof dir, "/proc/%d/task", (int)pid);
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    int64_t total = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue;
        char path[128];
        snprintf(path, sizeof path, "%s/%s/schedstat", dir, de->d_name);
        FILE *f = fopen(path, "r");
        long long ns = 0;
        if (f && fscanf(f, "%lld", &ns) == 1)
            total += ns;
        if (f)
            fclose(f);
    }
    closedir(d);
    return total;
}

double ipw_test_proc_self_cpu_s(pid_t pid)
{
    char path[64], line[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    size_t n = fread(line, 1, sizeof line - 1, f);
    fclose(f);
    line[n] = 0;
    const char *p = strrchr(line, ')');
    unsigned long long ut = 0, st = 0;
    /* after "pid (comm)": state is field 3; utime and stime are fields 14 and 15 */
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut,
                     &st) != 2)
        return 0;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

long ipw_test_proc_status_kib(pid_t pid, const char *key)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    long v = -1;
    size_t klen = strlen(key);
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, key, klen) == 0 && line[klen] == ':')
            v = atol(line + klen + 1);
    if (f)
        fclose(f);
    return v;
}

int ipw_test_proc_fds(pid_t pid)
{
    char dir[64];
    snprintf(dir, sizeof dir, "/proc/%d/fd", (int)pid);
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)))
        n += de->d_name[0] != '.';
    closedir(d);
    return n;
}

static const char *monitor_path(char *buf, size_t size)
{
    const char *bin = getenv("IPW_ENERGY_MONITOR");
    if (bin)
        return bin;
    /* run by hand from build/bench or build/tests: the program sits one directory
     * above */
    char self[512];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    self[n > 0 ? n : 0] = '\0';
    char *slash = strrchr(self, '/');
    if (slash)
        *slash = '\0';
    snprintf(buf, size, "%s/../energy-monitor", n > 0 ? self : ".");
    return buf;
}

int ipw_test_monitor_proc_start(struct ipw_test_monitor_proc *m, const char *collector,
                                int interval_ms, const char *sysfs, const char *const *extra)
{
    char defbin[600], portfile[600], ival[16];
    const char *bin = monitor_path(defbin, sizeof defbin);
    char *dir = ipw_test_mkdtemp("ipw-test-mon");
    snprintf(portfile, sizeof portfile, "%s/ports", dir);
    snprintf(ival, sizeof ival, "%d", interval_ms);
    const char *argv[48] = {
        bin,  "--collector", collector, "--port",      "0",    "--collection-interval-ms",
        ival, "--port-file", portfile,  "--log-level", "error"};
    size_t argc = 11;
    for (size_t i = 0; extra && extra[i] && argc + 1 < sizeof argv / sizeof argv[0]; i++)
        argv[argc++] = extra[i];
    argv[argc] = NULL;
    pid_t pid = fork();
    if (pid == 0) {
        if (sysfs)
            setenv("IPW_SYSFS_ROOT", sysfs, 1);
        execv(bin, (char *const *)argv);
        _exit(127);
    }
    m->pid = pid;
    m->grpc_port = m->metrics_port = -1;
    bool listening = false;
    for (int i = 0; i < 500 && !listening && pid > 0; i++) {
        FILE *f = fopen(portfile, "r");
        if (f) {
            listening =
                fscanf(f, "grpc_port=%d metrics_port=%d", &m->grpc_port, &m->metrics_port) == 2;
            fclose(f);
        }
        int st;
        if (!listening && waitpid(pid, &st, WNOHANG) == pid) {
            m->pid = 0;
            break;
        }
        if (!listening)
            usleep(10000);
    }
    ipw_test_rmtree(dir);
    free(dir);
    if (!listening) {
        if (m->pid > 0) {
            kill(m->pid, SIGKILL);
            waitpid(m->pid, NULL, 0);
        }
        m->pid = 0;
        return -1;
    }
    return 0;
}

int ipw_test_monitor_proc_stop(struct ipw_test_monitor_proc *m)
{
    int st = -1;
    if (m->pid > 0) {
        kill(m->pid, SIGTERM);
        waitpid(m->pid, &st, 0);
        m->pid = 0;
    }
    return st;
}
