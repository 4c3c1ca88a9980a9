/* A fake RAPL tree that runs like a machine's: the standard tree of fake_sysfs.h, pointed at
 * by IPW_SYSFS_ROOT, whose four counters a thread advances along constant power every 0.5 ms
 * (package-0 30 W, package-1 12 W, their DRAM 5 W and 2.5 W), so that a measured run's CPU
 * and DRAM energies have a known truth: RAPL_CLOCK_CPU_W / _DRAM_W x the seconds measured. */
#ifndef IPW_TEST_RAPL_CLOCK_H
#define IPW_TEST_RAPL_CLOCK_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#define IPW_TEST_RAPL_CLOCK_CPU_W 42.0  /* package-0 + package-1 */
#define IPW_TEST_RAPL_CLOCK_DRAM_W 7.5  /* their DRAM sub-zones */

struct ipw_test_rapl_clock {
    char *root; /* the tree (IPW_SYSFS_ROOT) */
    int64_t epoch_ns;
    atomic_bool stop;
    pthread_t th;
};

/* Builds the tree, sets IPW_SYSFS_ROOT to it and starts the thread; aborts on failure. */
void ipw_test_rapl_clock_start(struct ipw_test_rapl_clock *c);
/* Stops the thread and removes the tree. */
void ipw_test_rapl_clock_stop(struct ipw_test_rapl_clock *c);

#endif
