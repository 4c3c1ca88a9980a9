/* Host facts for SystemInfo: OS from os-release, kernel and host from uname, CPU from cpuinfo;
 * and the hardware label used in run directory names. */
#include "ipw/sysinfo.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/utsname.h>
#include <unistd.h>

static void trim(char *s)
{
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1]))
        s[--n] = '\0';
    size_t i = 0;
    while (s[i] && isspace((unsigned char)s[i]))
        i++;
    memmove(s, s + i, n - i + 1);
}

static void unquote(char *s)
{
    size_t n = strlen(s);
    if (n >= 2 && (s[0] == '"' || s[0] == '\'') && s[n - 1] == s[0]) {
        memmove(s, s + 1, n - 2);
        s[n - 2] = '\0';
    }
}

static void read_os_release(struct ipw_system_info *si, const char *etc_root)
{
    char path[512];
    snprintf(path, sizeof path, "%s/os-release", etc_root ? etc_root : "/etc");
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        char *eq = strchr(line, '=');
        if (!eq)
            continue;
        *eq = '\0';
        char *val = eq + 1;
        trim(val);
        unquote(val);
        if (strcmp(line, "NAME") == 0)
            snprintf(si->os_name, sizeof si->os_name, "%s", val);
        else if (strcmp(line, "VERSION_ID") == 0)
            snprintf(si->os_version, sizeof si->os_version, "%s", val);
    }
    fclose(f);
}

static void read_cpu_brand(struct ipw_system_info *si, const char *procfs_root)
{
    char path[512];
    snprintf(path, sizeof path, "%s/cpuinfo", procfs_root ? procfs_root : "/proc");
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    /* x86 says "model name"; some Arm kernels say "Model" or "Hardware" instead. */
    static const char *const keys[] = {"model name", "Model", "Hardware", "cpu model"};
    char best[128] = "";
    int best_rank = 99;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        char *colon = strchr(line, ':');
        if (!colon)
            continue;
        *colon = '\0';
        char *key = line, *val = colon + 1;
        trim(key);
        trim(val);
        for (int i = 0; i < 4 && i < best_rank; i++) {
            if (strcmp(key, keys[i]) == 0 && *val) {
                snprintf(best, sizeof best, "%s", val);
                best_rank = i;
            }
        }
        if (best_rank == 0)
            break;
    }
    fclose(f);
    snprintf(si->cpu_brand, sizeof si->cpu_brand, "%s", best);
}

void ipw_system_info_read(struct ipw_system_info *si, const char *procfs_root, const char *etc_root)
{
    memset(si, 0, sizeof *si);
    struct utsname u;
    if (uname(&u) == 0) {
        snprintf(si->os_name, sizeof si->os_name, "%s", u.sysname);
        snprintf(si->kernel_version, sizeof si->kernel_version, "%s", u.release);
        snprintf(si->host_name, sizeof si->host_name, "%s", u.nodename);
    }
    read_os_release(si, etc_root);
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    si->cpu_count = n > 0 ? (uint32_t)n : 0;
    read_cpu_brand(si, procfs_root);
    if (!si->cpu_brand[0] && uname(&u) == 0)
        snprintf(si->cpu_brand, sizeof si->cpu_brand, "%s", u.machine);
}

/* Words that name a vendor or a product family rather than the part itself. */
static int is_vendor_word(const char *w)
{
    static const char *const words[] = {"nvidia", "geforce", "amd", "radeon", "intel", "apple",
                                        "corporation", "tesla", "quadro", "instinct", "cpu",
                                        "processor", "with", NULL};
    for (int i = 0; words[i]; i++)
        if (strcasecmp(w, words[i]) == 0)
            return 1;
    return 0;
}

/* Keep letters and digits of the words that survive, dropping memory-type suffixes (HBM3, PCIe,
 * SXM...) only after the first word that carries a digit, as "H100 80GB HBM3" -> "H10080GB". */
static void condense(const char *name, char *out, unsigned size, int gpu)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", name);
    if (!gpu) {
        char *at = strchr(buf, '@'); /* "... CPU @ 2.00GHz": the clock is not the part */
        if (at)
            *at = '\0';
    }
    /* "(R)" and "(TM)" marks vanish wherever they are glued ("Intel(R) Xeon(R)"). */
    for (char *m; (m = strcasestr(buf, "(r)")) || (m = strcasestr(buf, "(tm)"));)
        memmove(m, strchr(m, ')') + 1, strlen(strchr(m, ')') + 1) + 1);
    unsigned o = 0;
    int words_kept = 0;
    for (char *save = NULL, *w = strtok_r(buf, " \t-_,@", &save); w;
         w = strtok_r(NULL, " \t-_,@", &save)) {
        if (is_vendor_word(w))
            continue;
        if (gpu && words_kept >= 1 &&
            (strncasecmp(w, "HBM", 3) == 0 || strncasecmp(w, "PCIe", 4) == 0 ||
             strncasecmp(w, "SXM", 3) == 0 || strncasecmp(w, "NVL", 3) == 0 ||
             strncasecmp(w, "GDDR", 4) == 0))
            continue;
        for (char *p = w; *p && o + 1 < size; p++)
            if (isalnum((unsigned char)*p))
                out[o++] = *p;
        words_kept++;
    }
    out[o] = '\0';
}

void ipw_hardware_label(const char *gpu_name, const char *cpu_brand, char *out, unsigned size)
{
    if (!size)
        return;
    out[0] = '\0';
    if (gpu_name && *gpu_name)
        condense(gpu_name, out, size, 1);
    if (!out[0] && cpu_brand && *cpu_brand)
        condense(cpu_brand, out, size, 0);
    if (!out[0])
        snprintf(out, size, "UNKNOWN_HW");
}
