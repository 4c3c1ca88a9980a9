/* GPU test helpers (see gpu_test_util.h). */
#include "gpu_test_util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ipw_test.h"

static char *dirs[64];
static int ndirs;
static struct ipw_collector *opened[32];

const char *gpu_fake_lib(const char *rel)
{
    static char buf[8][1024];
    static int k;
    char *p = buf[k++ % 8];
    snprintf(p, 1024, "%s/tests/fakes/%s", ipw_test_binary_dir(), rel);
    return p;
}

void gpu_script(const char *env_var, char vendor, struct fake_config *cfg, const char *fmt, ...)
{
    char text[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    char *dir = ipw_test_mkdtemp("ipw-gpufake");
    if (ndirs < 64)
        dirs[ndirs++] = dir;
    ipw_test_write(dir, "script.conf", text);
    char path[4096];
    snprintf(path, sizeof path, "%s/script.conf", dir);
    setenv(env_var, path, 1);
    fake_config_defaults(cfg, vendor);
    char err[512];
    if (fake_config_parse_file(cfg, path, err, sizeof err) != 0)
        fail_msg("bad fake script: %s", err);
}

void gpu_close(struct ipw_collector *c)
{
    for (int i = 0; i < 32; i++)
        if (opened[i] == c)
            opened[i] = NULL;
    ipw_collector_close(c);
}

void gpu_script_cleanup(void)
{
    for (int i = 0; i < 32; i++)
        if (opened[i])
            gpu_close(opened[i]);
    for (int i = 0; i < ndirs; i++) {
        ipw_test_rmtree(dirs[i]);
        free(dirs[i]);
    }
    ndirs = 0;
}

ipw_err gpu_open(const char *name, const char *nvml_lib, const char *rocm_lib, const char *visible,
                 struct ipw_collector **c, ipw_errbuf *eb)
{
    struct ipw_collector_config cfg;
    ipw_collector_config_init(&cfg);
    cfg.nvml_library = nvml_lib ? nvml_lib : "/nonexistent/libnvidia-ml.so.1";
    cfg.rocm_library = rocm_lib ? rocm_lib : "/nonexistent/librocm_smi64.so";
    cfg.cuda_visible_devices = visible;
    cfg.no_cpu_companion = true;
    cfg.sysfs_root = "/nonexistent-sysfs";
    cfg.powermetrics_command = NULL;
    ipw_err e = ipw_collector_open(name, &cfg, c, eb);
    for (int i = 0; e == IPW_OK && i < 32; i++)
        if (!opened[i]) {
            opened[i] = *c;
            break;
        }
    return e;
}

double gpu_secs(const struct fake_config *cfg, int64_t t)
{
    return (double)(t - cfg->epoch_ns) / 1e9;
}

double gpu_truth_energy(const struct fake_config *cfg, unsigned n, int64_t t0, int64_t t1)
{
    double e = 0;
    for (unsigned k = 0; k < n; k++)
        e += wave_energy(&cfg->dev[k].wave, gpu_secs(cfg, t1)) -
             wave_energy(&cfg->dev[k].wave, gpu_secs(cfg, t0));
    return e;
}

double gpu_truth_power(const struct fake_config *cfg, unsigned n, int64_t t)
{
    double p = 0;
    for (unsigned k = 0; k < n; k++)
        p += wave_power(&cfg->dev[k].wave, gpu_secs(cfg, t));
    return p;
}
