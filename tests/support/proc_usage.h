/* What a child process costs, read from /proc (benchmarks and soak tests): CPU
 * time of all its threads, memory, open file descriptors; and the
 * energy-monitor program started on free ports for such measurements. */
#ifndef IPW_PROC_USAGE_H
#define IPW_PROC_USAGE_H

#include <stdint.h>
#include <sys/types.h>

/* CPU time of every thread of pid in ns (the first field of each thread's
 * schedstat: the kernel's exact run time); -1 when the process is gone. */
int64_t ipw_test_proc_cpu_ns(pid_t pid);
/* CPU time of pid itself in seconds (utime + stime of /proc/PID/stat, whole clock ticks; not
 * its reaped children's); 0 when unreadable. */
double ipw_test_proc_self_cpu_s(pid_t pid);
/* A "Key:" line of /proc/PID/status in KiB (VmRSS, VmHWM); -1 when absent. */
long ipw_test_proc_status_kib(pid_t pid, const char *key);
/* Open file descriptors of pid; -1 when unreadable. */
int ipw_test_proc_fds(pid_t pid);

struct ipw_test_monitor_proc {
    pid_t pid;
    int grpc_port, metrics_port; /* -1 when off */
};

/* Start energy-monitor ($IPW_ENERGY_MONITOR, else the one beside the calling
 * program's directory) with --port 0 --port-file and --log-level error, the
 * given collector and period, and NULL-terminated extra arguments; sysfs (may
 * be NULL) becomes IPW_SYSFS_ROOT. Waits until it listens. 0 on success, -1
 * when it could not start (it is then reaped). */
int ipw_test_monitor_proc_start(struct ipw_test_monitor_proc *m, const char *collector,
                                int interval_ms, const char *sysfs, const char *const *extra);
/* SIGTERM and reap; the exit status as waitpid reports it. */
int ipw_test_monitor_proc_stop(struct ipw_test_monitor_proc *m);

#endif
