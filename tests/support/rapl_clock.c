/* The running fake RAPL tree of rapl_clock.h. */
#include "rapl_clock.h"

#include <stdio.h>
#include <stdlib.h>

#include "fake_sysfs.h"
#include "ipw/clock.h"
#include "ipw_test.h"

static void *advance(void *arg)
{
    struct ipw_test_rapl_clock *c = arg;
    while (!atomic_load(&c->stop)) {
        double s = (double)(ipw_mono_ns() - c->epoch_ns) / 1e9;
        /* the kernel counts in µJ; from the standard tree's starting values */
        ipw_fake_rapl_set(c->root, "intel-rapl:0", 1000000 + (uint64_t)(s * 30.0 * 1e6));
        ipw_fake_rapl_set(c->root, "intel-rapl:1", 2000000 + (uint64_t)(s * 12.0 * 1e6));
        ipw_fake_rapl_set(c->root, "intel-rapl:0:1", 300000 + (uint64_t)(s * 5.0 * 1e6));
        ipw_fake_rapl_set(c->root, "intel-rapl:1:1", 700000 + (uint64_t)(s * 2.5 * 1e6));
        ipw_sleep_ns(IPW_NS_PER_MS / 2);
    }
    return NULL;
}

void ipw_test_rapl_clock_start(struct ipw_test_rapl_clock *c)
{
    c->root = ipw_fake_sysfs_new();
    ipw_fake_rapl_standard(c->root);
    setenv("IPW_SYSFS_ROOT", c->root, 1);
    c->epoch_ns = ipw_mono_ns();
    atomic_store(&c->stop, false);
    if (pthread_create(&c->th, NULL, advance, c) != 0) {
        fprintf(stderr, "rapl clock: cannot start its thread\n");
        abort();
    }
}

void ipw_test_rapl_clock_stop(struct ipw_test_rapl_clock *c)
{
    atomic_store(&c->stop, true);
    pthread_join(c->th, NULL);
    ipw_test_rmtree(c->root);
    free(c->root);
    c->root = NULL;
}
