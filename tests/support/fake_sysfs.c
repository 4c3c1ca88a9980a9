/* Builds fake sysfs trees for the RAPL tests (see fake_sysfs.h). Aborts on any failure: a test
 * with a half-built tree would prove nothing. */
#include "fake_sysfs.h"

#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ipw/fsutil.h"
#include "ipw_test.h"

static void die(const char *what, const char *path)
{
    fprintf(stderr, "fake sysfs: %s %s failed\n", what, path);
    abort();
}

char *ipw_fake_sysfs_new(void)
{
    char *root = ipw_test_mkdtemp("ipw-sysfs");
    if (chmod(root, 0755) != 0)
        die("chmod", root);
    return root;
}

/* devices/virtual/powercap/<type>/<parent>/<id> for an id, relative to the root. */
static void device_rel(const char *id, char *out, size_t size)
{
    char type[64];
    snprintf(type, sizeof type, "%s", id);
    char *colon = strchr(type, ':');
    if (colon)
        *colon = '\0';
    const char *second = strchr(id, ':');
    const char *third = second ? strchr(second + 1, ':') : NULL;
    if (third)
        snprintf(out, size, "devices/virtual/powercap/%s/%.*s/%s", type, (int)(third - id), id, id);
    else
        snprintf(out, size, "devices/virtual/powercap/%s/%s", type, id);
}

static void write_file(const char *path, const char *text, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0)
        die("open", path);
    size_t len = strlen(text);
    if (write(fd, text, len) != (ssize_t)len)
        die("write", path);
    close(fd);
}

void ipw_fake_rapl_zone(const char *root, const char *id, const char *name, uint64_t energy_uj,
                        uint64_t max_range_uj)
{
    char rel[512], dir[1024], path[1280], text[64];
    device_rel(id, rel, sizeof rel);
    snprintf(dir, sizeof dir, "%s/%s", root, rel);
    if (ipw_mkdir_p(dir, NULL) != IPW_OK)
        die("mkdir", dir);
    snprintf(path, sizeof path, "%s/name", dir);
    snprintf(text, sizeof text, "%s\n", name);
    write_file(path, text, 0444);
    snprintf(path, sizeof path, "%s/enabled", dir);
    write_file(path, "1\n", 0644);
    if (max_range_uj) {
        snprintf(path, sizeof path, "%s/max_energy_range_uj", dir);
        snprintf(text, sizeof text, "%" PRIu64 "\n", max_range_uj);
        write_file(path, text, 0444);
    }
    snprintf(path, sizeof path, "%s/energy_uj", dir);
    snprintf(text, sizeof text, "%" PRIu64 "\n", energy_uj);
    write_file(path, text, 0644);

    char cls[1024], link[1280], target[640];
    snprintf(cls, sizeof cls, "%s/class/powercap", root);
    if (ipw_mkdir_p(cls, NULL) != IPW_OK)
        die("mkdir", cls);
    snprintf(link, sizeof link, "%s/%s", cls, id);
    snprintf(target, sizeof target, "../../%s", rel);
    unlink(link);
    if (symlink(target, link) != 0)
        die("symlink", link);
}

const char *ipw_fake_rapl_path(const char *root, const char *id)
{
    static char path[1280];
    snprintf(path, sizeof path, "%s/class/powercap/%s/energy_uj", root, id);
    return path;
}

/* Changes the value in place, as the kernel's counter changes under an open descriptor: one
 * pwrite of a fixed-width, zero-padded number and no truncation, so a concurrent reader never
 * sees an empty file, and a read torn by the write can only mix in the high digits, which
 * hardly ever change between two writes. */
static void rewrite(const char *path, uint64_t value)
{
    char text[32];
    snprintf(text, sizeof text, "%020" PRIu64 "\n", value);
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        die("open", path);
    size_t len = strlen(text);
    if (pwrite(fd, text, len, 0) != (ssize_t)len)
        die("write", path);
    close(fd);
}

void ipw_fake_rapl_set(const char *root, const char *id, uint64_t energy_uj)
{
    rewrite(ipw_fake_rapl_path(root, id), energy_uj);
}

void ipw_fake_rapl_chmod(const char *root, const char *id, mode_t mode)
{
    const char *path = ipw_fake_rapl_path(root, id);
    if (chmod(path, mode) != 0)
        die("chmod", path);
}

void ipw_fake_rapl_standard(const char *root)
{
    const uint64_t r = IPW_FAKE_RAPL_RANGE;
    ipw_fake_rapl_zone(root, "intel-rapl:0", "package-0", 1000000, r);
    ipw_fake_rapl_zone(root, "intel-rapl:0:0", "core", 400000, r);
    ipw_fake_rapl_zone(root, "intel-rapl:0:1", "dram", 300000, r);
    ipw_fake_rapl_zone(root, "intel-rapl:1", "package-1", 2000000, r);
    ipw_fake_rapl_zone(root, "intel-rapl:1:0", "core", 500000, r);
    ipw_fake_rapl_zone(root, "intel-rapl:1:1", "dram", 700000, r);
    ipw_fake_rapl_zone(root, "intel-rapl:2", "psys", 9000000, r);
    ipw_fake_rapl_zone(root, "intel-rapl-mmio:0", "package-0", 1000000, r);
}

void ipw_fake_hwmon_amd(const char *root, int index, const char *name, int ncores, int nsockets,
                        uint64_t value_uj)
{
    char dir[1024], path[1280], text[64];
    snprintf(dir, sizeof dir, "%s/class/hwmon/hwmon%d", root, index);
    if (ipw_mkdir_p(dir, NULL) != IPW_OK)
        die("mkdir", dir);
    snprintf(path, sizeof path, "%s/name", dir);
    snprintf(text, sizeof text, "%s\n", name);
    write_file(path, text, 0444);
    for (int ch = 1; ch <= ncores + nsockets; ch++) {
        snprintf(path, sizeof path, "%s/energy%d_label", dir, ch);
        if (ch <= ncores)
            snprintf(text, sizeof text, "Ecore%03d\n", ch - 1);
        else
            snprintf(text, sizeof text, "Esocket%d\n", ch - ncores - 1);
        write_file(path, text, 0444);
        snprintf(path, sizeof path, "%s/energy%d_input", dir, ch);
        snprintf(text, sizeof text, "%" PRIu64 "\n", value_uj);
        write_file(path, text, 0644);
    }
}

void ipw_fake_hwmon_set(const char *root, int index, int channel, uint64_t value_uj)
{
    char path[1280];
    snprintf(path, sizeof path, "%s/class/hwmon/hwmon%d/energy%d_input", root, index, channel);
    rewrite(path, value_uj);
}
