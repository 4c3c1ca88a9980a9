/* Parser of the fake GPU libraries' script (see fake_config.h). Unknown keys are errors, so a
 * misspelt test setting cannot silently test nothing. */
#include "fake_config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

int64_t fake_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

void fake_config_defaults(struct fake_config *cfg, char vendor)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->ndev = 2;
    cfg->field186 = cfg->memory_v2 = cfg->gpm = cfg->temp_junction = true;
    char err[128];
    for (unsigned k = 0; k < FAKE_MAX_DEV; k++) {
        struct fake_dev *d = &cfg->dev[k];
        if (vendor == 'a') {
            snprintf(d->name, sizeof d->name, "AMD Instinct MI300X");
            d->pci_device_id = 0x74a1;
            d->mem_total_mb = 196592;
        } else {
            snprintf(d->name, sizeof d->name, "NVIDIA H100 80GB HBM3");
            d->pci_device_id = 0x2330;
            d->mem_total_mb = 81559;
        }
        snprintf(d->uuid, sizeof d->uuid, "GPU-%u%u%u4e2c8-1b3d-4f5a-9c7e-%012u", k, k, k,
                 100000 + k);
        d->unique_id = 0x1d2c3b4a59687700ULL + k;
        wave_parse(k == 0 ? "100:1,300:2" : "60:0.5,250:2", &d->wave, err, sizeof err);
        d->energy = true;
        d->energy_offset_j = 123456.789 + 1000.0 * k;
        d->temp_c = 45 + k;
        d->mem_used_mb = 1024 + 512 * k;
        d->util_pct = 30 + 10 * k;
        d->mem_busy_pct = 20 + 5 * k;
        d->gpm_dram = 12.5 + k;
        d->gpm_tensor = 40 + k;
    }
}

static int on_off(const char *v, bool *out)
{
    if (!strcasecmp(v, "on") || !strcmp(v, "1") || !strcasecmp(v, "true"))
        *out = true;
    else if (!strcasecmp(v, "off") || !strcmp(v, "0") || !strcasecmp(v, "false"))
        *out = false;
    else
        return -1;
    return 0;
}

static int set_dev(struct fake_dev *d, const char *key, const char *v, char *err, size_t n)
{
    char *end = NULL;
    if (!strcmp(key, "name"))
        snprintf(d->name, sizeof d->name, "%s", v);
    else if (!strcmp(key, "uuid"))
        snprintf(d->uuid, sizeof d->uuid, "%s", v);
    else if (!strcmp(key, "mig"))
        snprintf(d->mig_uuid, sizeof d->mig_uuid, "%s", v);
    else if (!strcmp(key, "unique_id"))
        d->unique_id = strtoull(v, &end, 0);
    else if (!strcmp(key, "pci_device_id"))
        d->pci_device_id = (unsigned)strtoul(v, &end, 0);
    else if (!strcmp(key, "power"))
        return wave_parse(v, &d->wave, err, n);
    else if (!strcmp(key, "energy"))
        return on_off(v, &d->energy);
    else if (!strcmp(key, "energy_offset_j"))
        d->energy_offset_j = strtod(v, &end);
    else if (!strcmp(key, "lost_at"))
        d->lost_at = strtol(v, &end, 10);
    else if (!strcmp(key, "lost_calls"))
        d->lost_calls = strtol(v, &end, 10);
    else if (!strcmp(key, "counter")) {
        if (!strcmp(v, "ok")) {
            d->counter = FAKE_COUNTER_OK;
            return 0;
        }
        if (!strncmp(v, "stick@", 6))
            d->counter = FAKE_COUNTER_STICK;
        else if (!strncmp(v, "backwards@", 10))
            d->counter = FAKE_COUNTER_BACKWARDS;
        else
            return -1;
        d->counter_fault_s = strtod(strchr(v, '@') + 1, &end);
    } else if (!strcmp(key, "temp_c"))
        d->temp_c = strtod(v, &end);
    else if (!strcmp(key, "mem_total_mb"))
        d->mem_total_mb = strtod(v, &end);
    else if (!strcmp(key, "mem_used_mb"))
        d->mem_used_mb = strtod(v, &end);
    else if (!strcmp(key, "util_pct"))
        d->util_pct = strtod(v, &end);
    else if (!strcmp(key, "mem_busy_pct"))
        d->mem_busy_pct = strtod(v, &end);
    else if (!strcmp(key, "gpm_dram"))
        d->gpm_dram = strtod(v, &end);
    else if (!strcmp(key, "gpm_tensor"))
        d->gpm_tensor = strtod(v, &end);
    else if (!strcmp(key, "procs")) {
        /* PID:SM[,PID:SM]... */
        d->nproc = 0;
        const char *p = v;
        while (*p && d->nproc < FAKE_MAX_PROCS) {
            char *e1, *e2;
            long pid = strtol(p, &e1, 10);
            if (*e1 != ':') {
                snprintf(err, n, "bad procs entry in '%s' (PID:SM,...)", v);
                return -1;
            }
            unsigned long sm = strtoul(e1 + 1, &e2, 10);
            d->proc_pid[d->nproc] = (int)pid;
            d->proc_sm[d->nproc++] = (unsigned)sm;
            p = *e2 == ',' ? e2 + 1 : e2;
            if (*e2 && *e2 != ',') {
                snprintf(err, n, "bad procs entry in '%s' (PID:SM,...)", v);
                return -1;
            }
        }
    } else {
        snprintf(err, n, "unknown device key '%s'", key);
        return -1;
    }
    if (end && *end) {
        snprintf(err, n, "bad value '%s' for %s", v, key);
        return -1;
    }
    return 0;
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = '\0';
    return s;
}

static int set_key(struct fake_config *cfg, const char *key, const char *v, char *err, size_t n)
{
    char *end = NULL;
    int rc = 0;
    if (!strcmp(key, "devices")) {
        long d = strtol(v, &end, 10);
        if (d < 1 || d > FAKE_MAX_DEV) {
            snprintf(err, n, "devices must be 1..%d", FAKE_MAX_DEV);
            return -1;
        }
        cfg->ndev = (unsigned)d;
    } else if (!strcmp(key, "epoch_ns")) {
        cfg->epoch_ns = strtoll(v, &end, 10);
        cfg->epoch_set = true;
    } else if (!strcmp(key, "init_error"))
        cfg->init_error = (int)strtol(v, &end, 0);
    else if (!strcmp(key, "field186"))
        rc = on_off(v, &cfg->field186);
    else if (!strcmp(key, "field186_until_s"))
        cfg->field186_until_s = strtod(v, &end);
    else if (!strcmp(key, "memory_v2"))
        rc = on_off(v, &cfg->memory_v2);
    else if (!strcmp(key, "gpm"))
        rc = on_off(v, &cfg->gpm);
    else if (!strcmp(key, "temp_junction"))
        rc = on_off(v, &cfg->temp_junction);
    else if (!strncmp(key, "dev", 3) && isdigit((unsigned char)key[3])) {
        unsigned long k = strtoul(key + 3, &end, 10);
        if (*end != '.' || k >= FAKE_MAX_DEV) {
            snprintf(err, n, "bad device key '%s'", key);
            return -1;
        }
        return set_dev(&cfg->dev[k], end + 1, v, err, n);
    } else {
        snprintf(err, n, "unknown key '%s'", key);
        return -1;
    }
    if (rc || (end && *end)) {
        snprintf(err, n, "bad value '%s' for %s", v, key);
        return -1;
    }
    return 0;
}

int fake_config_parse_file(struct fake_config *cfg, const char *path, char *err, size_t n)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, n, "cannot open fake config %s", path);
        return -1;
    }
    char line[512];
    int lineno = 0, rc = 0;
    while (rc == 0 && fgets(line, sizeof line, f)) {
        lineno++;
        char *hash = strchr(line, '#');
        if (hash)
            *hash = '\0';
        char *s = trim(line);
        if (!*s)
            continue;
        char *eq = strchr(s, '=');
        if (!eq) {
            snprintf(err, n, "%s:%d: expected key = value", path, lineno);
            rc = -1;
            break;
        }
        *eq = '\0';
        char msg[256] = "";
        char *key = trim(s), *val = trim(eq + 1);
        if (set_key(cfg, key, val, msg, sizeof msg) != 0) {
            if (!msg[0])
                snprintf(msg, sizeof msg, "bad value '%s' for %s", val, key);
            snprintf(err, n, "%s:%d: %s", path, lineno, msg);
            rc = -1;
        }
    }
    fclose(f);
    return rc;
}

int fake_config_load(struct fake_config *cfg, char vendor, const char *env, char *err,
                     size_t errsize)
{
    fake_config_defaults(cfg, vendor);
    const char *path = getenv(env);
    if (!path || !*path)
        return 0;
    return fake_config_parse_file(cfg, path, err, errsize);
}
