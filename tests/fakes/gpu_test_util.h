/* Helpers for the GPU collector tests: where the fake libraries are, scripting them, and
 * opening a collector on them through ipw_collector_open (the production path). */
#ifndef IPW_GPU_TEST_UTIL_H
#define IPW_GPU_TEST_UTIL_H

#include <stdint.h>

#include "fake_config.h"
#include "ipw/collector.h"

/* Path of a fake under the build tree, e.g. gpu_fake_lib("nvml/libnvidia-ml.so.1"). */
const char *gpu_fake_lib(const char *rel);

/* Write a fake script (printf-style) to a fresh temporary file, point env_var at it, and
 * parse it back into cfg (vendor 'n' or 'a') so the test knows the truth. */
void gpu_script(const char *env_var, char vendor, struct fake_config *cfg, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Close collectors a failed test left open (so the next test's fake starts afresh), then
 * remove the scripts written so far. Call from every test's teardown. */
void gpu_script_cleanup(void);

/* Open `name` ("nvidia", "amd" or "auto") with the given libraries (NULL = a path that does
 * not exist), CUDA_VISIBLE_DEVICES value, no RAPL companion, and an empty sysfs. The
 * collector is remembered until gpu_close. */
ipw_err gpu_open(const char *name, const char *nvml_lib, const char *rocm_lib, const char *visible,
                 struct ipw_collector **c, ipw_errbuf *eb);

/* Close a collector opened by gpu_open. */
void gpu_close(struct ipw_collector *c);

/* Seconds since the script's epoch at monotonic time t. */
double gpu_secs(const struct fake_config *cfg, int64_t t);
/* Truth: summed energy (J) of the first n devices between monotonic times t0 and t1. */
double gpu_truth_energy(const struct fake_config *cfg, unsigned n, int64_t t0, int64_t t1);
double gpu_truth_power(const struct fake_config *cfg, unsigned n, int64_t t);

#endif
