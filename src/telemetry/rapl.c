/* The RAPL collector: CPU package and DRAM energy from Linux powercap (the intel-rapl zones, which
 * AMD Zen parts expose too), or from the amd_energy / zenergy hwmon drivers where powercap is
 * missing or unreadable. It is also the "CPU companion" that collector.c opens beside a GPU. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ipw/clock.h"
#include "ipw/collector.h"
#include "telemetry/collector_priv.h"
#include "ipw/log.h"
#include "telemetry/rapl.h"

#define HIST_LEN 64
/* History entries are at least this far apart, so a burst of snapshots cannot push every
 * entry old enough to span IPW_RAPL_MIN_POWER_SPAN_NS out of the ring. */
#define HIST_SPACING_NS (1000000LL)

struct zone {
    struct ipw_rapl_zone pub;
    char *path; /* the energy file (energy_uj, or energyN_input) */
    int fd;     /* kept open: a pread per tick costs far less than open+read+close */
    int key[2]; /* sort key: zone indices, or hwmon number and channel */
    uint64_t last_raw;
    uint64_t acc_uj;
    int64_t last_ns; /* time of this counter's last good read */
};

struct hist {
    int64_t t;
    uint64_t cpu_uj, dram_uj;
};

struct rapl {
    pthread_mutex_t mu; /* ipw_rapl_zones may read while the sampler samples */
    struct zone z[IPW_RAPL_MAX_ZONES];
    size_t nz;
    bool has_dram;
    char source[16];
    struct hist h[HIST_LEN];
    size_t hn, hhead; /* entries held; index of the next write */
    uint64_t resets, jumps;
    int64_t interval_ns; /* the sampling period asked for (1 ms at least) */
};

const char *ipw_rapl_role_name(enum ipw_rapl_role role)
{
    switch (role) {
    case IPW_RAPL_PACKAGE: return "package";
    case IPW_RAPL_DRAM: return "dram";
    case IPW_RAPL_PSYS: return "psys";
    case IPW_RAPL_SUBZONE: return "subzone";
    case IPW_RAPL_OTHER: break;
    }
    return "other";
}

static void add_note(struct ipw_collector *c, const char *text)
{
    size_t len = strlen(c->info.notes);
    snprintf(c->info.notes + len, sizeof c->info.notes - len, "%s%s", len ? "; " : "", text);
}

/* Reads a small sysfs text file into buf without its trailing newline; 0 or an errno. */
static int read_text(const char *path, char *buf, size_t size)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno;
    ssize_t n = read(fd, buf, size - 1);
    int e = errno;
    close(fd);
    if (n < 0)
        return e;
    buf[n] = '\0';
    buf[strcspn(buf, "\r\n")] = '\0';
    return 0;
}

static int parse_u64(const char *s, uint64_t *v)
{
    const char *p = s;
    while (*p == ' ' || *p == '\t')
        p++;
    if (*p < '0' || *p > '9')
        return -1;
    uint64_t x = 0;
    for (; *p >= '0' && *p <= '9'; p++) {
        unsigned d = (unsigned)(*p - '0');
        if (x > (UINT64_MAX - d) / 10)
            return -1;
        x = x * 10 + d;
    }
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
        p++;
    if (*p)
        return -1;
    *v = x;
    return 0;
}

/* One pread of a counter file kept open; 0 or an errno (EINVAL for text that is no number). */
static int read_counter(int fd, uint64_t *v)
{
    char buf[32];
    ssize_t n;
    do
        n = pread(fd, buf, sizeof buf - 1, 0);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return errno;
    if (n == 0)
        return ENODATA;
    buf[n] = '\0';
    return parse_u64(buf, v) == 0 ? 0 : EINVAL;
}

static ipw_err open_error(const char *path, int e, ipw_errbuf *eb)
{
    if (e == EACCES || e == EPERM)
        return ipw_fail(eb, IPW_E_PERM,
                        "cannot read %s: permission denied (energy counters are readable only by "
                        "root on most kernels since 2020); run the monitor as root, or make the "
                        "counters readable with a udev rule or 'sudo chmod o+r' on that file (see "
                        "docs/collectors/rapl.md)",
                        path);
    return ipw_fail(eb, e == ENOENT ? IPW_E_NOTFOUND : IPW_E_IO, "cannot read %s: %s", path,
                    strerror(e));
}

/* Opens every counted zone and takes its first value. */
static ipw_err open_counters(struct rapl *st, ipw_errbuf *eb)
{
    for (size_t i = 0; i < st->nz; i++) {
        struct zone *z = &st->z[i];
        if (!z->pub.counted)
            continue;
        z->fd = open(z->path, O_RDONLY | O_CLOEXEC);
        int e = z->fd < 0 ? errno : read_counter(z->fd, &z->last_raw);
        if (e)
            return open_error(z->path, e, eb);
    }
    return IPW_OK;
}

static void free_zones(struct rapl *st)
{
    for (size_t i = 0; i < st->nz; i++) {
        if (st->z[i].fd >= 0)
            close(st->z[i].fd);
        free(st->z[i].path);
    }
    st->nz = 0;
}

static struct zone *new_zone(struct rapl *st)
{
    if (st->nz == IPW_RAPL_MAX_ZONES)
        return NULL;
    struct zone *z = &st->z[st->nz++];
    memset(z, 0, sizeof *z);
    z->fd = -1;
    return z;
}

static int zone_cmp(const void *a, const void *b)
{
    const struct zone *x = a, *y = b;
    if (x->key[0] != y->key[0])
        return x->key[0] < y->key[0] ? -1 : 1;
    return (x->key[1] > y->key[1]) - (x->key[1] < y->key[1]);
}

/* "intel-rapl:N" -> depth 1, "intel-rapl:N:M" -> depth 2, anything else (the control type
 * itself, intel-rapl-mmio duplicates, other drivers) -> 0. */
static int zone_depth(const char *entry, int *n, int *m)
{
    static const char prefix[] = "intel-rapl:";
    if (strncmp(entry, prefix, sizeof prefix - 1) != 0)
        return 0;
    const char *p = entry + sizeof prefix - 1;
    int used = 0;
    *m = -1;
    if (p[0] < '0' || p[0] > '9' || sscanf(p, "%d%n", n, &used) != 1 || *n < 0)
        return 0;
    p += used;
    if (*p == '\0')
        return 1;
    if (*p != ':' || p[1] < '0' || p[1] > '9')
        return 0;
    p++;
    if (sscanf(p, "%d%n", m, &used) != 1 || *m < 0 || p[used] != '\0')
        return 0;
    return 2;
}

static enum ipw_rapl_role classify(int depth, const char *name)
{
    if (depth == 1) {
        if (strncmp(name, "package-", 8) == 0)
            return IPW_RAPL_PACKAGE;
        if (strcmp(name, "dram") == 0)
            return IPW_RAPL_DRAM;
        if (strcmp(name, "psys") == 0)
            return IPW_RAPL_PSYS;
        return IPW_RAPL_OTHER;
    }
    /* Sub-zones measure part of their package (core, uncore), except dram, which the package
     * does not include: the kernel only files it under the package. */
    return strcmp(name, "dram") == 0 ? IPW_RAPL_DRAM : IPW_RAPL_SUBZONE;
}

static ipw_err discover_powercap(struct rapl *st, const char *root, ipw_errbuf *eb)
{
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/class/powercap", root);
    DIR *d = opendir(dir);
    if (!d)
        return ipw_fail(eb, IPW_E_NOTFOUND,
                        "%s does not exist (no powercap driver: on x86 load intel_rapl_msr)", dir);
    unsigned mmio = 0, dropped = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        int n, m;
        int depth = zone_depth(de->d_name, &n, &m);
        if (!depth) {
            /* intel-rapl-mmio:N repeats package N through MMIO on client parts */
            mmio += strncmp(de->d_name, "intel-rapl-mmio:", 16) == 0;
            continue;
        }
        struct zone *z = new_zone(st);
        if (!z) {
            dropped++;
            continue;
        }
        char path[1280], name[64] = "";
        snprintf(path, sizeof path, "%s/%s/name", dir, de->d_name);
        read_text(path, name, sizeof name);
        snprintf(z->pub.id, sizeof z->pub.id, "%s", de->d_name);
        snprintf(z->pub.name, sizeof z->pub.name, "%s", name);
        z->pub.role = classify(depth, name);
        z->pub.counted = z->pub.role == IPW_RAPL_PACKAGE || z->pub.role == IPW_RAPL_DRAM ||
                         z->pub.role == IPW_RAPL_PSYS;
        z->key[0] = n;
        z->key[1] = m;
        char text[32];
        snprintf(path, sizeof path, "%s/%s/max_energy_range_uj", dir, de->d_name);
        if (read_text(path, text, sizeof text) == 0)
            parse_u64(text, &z->pub.max_range_uj);
        snprintf(path, sizeof path, "%s/%s/energy_uj", dir, de->d_name);
        z->path = strdup(path);
        if (!z->path) {
            closedir(d);
            return ipw_fail(eb, IPW_E_NOMEM, "out of memory listing RAPL zones");
        }
    }
    closedir(d);
    if (dropped)
        ipw_warn("rapl: %u zones beyond the first %d ignored", dropped, IPW_RAPL_MAX_ZONES);
    if (mmio)
        ipw_debug("rapl: skipped %u intel-rapl-mmio zones (duplicates of the MSR zones)", mmio);
    size_t packages = 0;
    for (size_t i = 0; i < st->nz; i++)
        packages += st->z[i].pub.role == IPW_RAPL_PACKAGE;
    if (!packages)
        return ipw_fail(eb, IPW_E_NOTFOUND,
                        "no RAPL package zone (intel-rapl:N named package-N) under %s", dir);
    qsort(st->z, st->nz, sizeof st->z[0], zone_cmp);
    snprintf(st->source, sizeof st->source, "powercap");
    return IPW_OK;
}

/* AMD's hwmon drivers: amd_energy (Linux 5.8-5.12, and AMD's out-of-tree module) and zenergy
 * (readable without root). Channels are labelled Ecore%03u (per core, inside a socket) and
 * Esocket%u; values are 64-bit microjoule accumulators that do not wrap. */
static ipw_err discover_hwmon(struct rapl *st, const char *root, ipw_errbuf *eb)
{
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/class/hwmon", root);
    DIR *d = opendir(dir);
    if (!d)
        return ipw_fail(eb, IPW_E_NOTFOUND, "no amd_energy or zenergy hwmon device under %s", dir);
    struct dirent *de;
    while ((de = readdir(d))) {
        int hw;
        if (sscanf(de->d_name, "hwmon%d", &hw) != 1)
            continue;
        char path[1280], name[64] = "";
        snprintf(path, sizeof path, "%s/%s/name", dir, de->d_name);
        if (read_text(path, name, sizeof name) != 0 ||
            (strcmp(name, "amd_energy") != 0 && strcmp(name, "zenergy") != 0))
            continue;
        /* Channels count up from 1 with no gaps; a few hundred cores come before the sockets. */
        for (int ch = 1; ch <= 4096; ch++) {
            char label[64] = "";
            snprintf(path, sizeof path, "%s/%s/energy%d_input", dir, de->d_name, ch);
            if (access(path, F_OK) != 0)
                break;
            char lpath[1280];
            snprintf(lpath, sizeof lpath, "%s/%s/energy%d_label", dir, de->d_name, ch);
            read_text(lpath, label, sizeof label);
            if (strncmp(label, "Esocket", 7) != 0)
                continue; /* per-core counters: part of their socket */
            struct zone *z = new_zone(st);
            if (!z)
                break;
            snprintf(z->pub.id, sizeof z->pub.id, "%s/energy%d", de->d_name, ch);
            snprintf(z->pub.name, sizeof z->pub.name, "%s", label);
            z->pub.role = IPW_RAPL_PACKAGE;
            z->pub.counted = true;
            z->key[0] = hw;
            z->key[1] = ch;
            z->path = strdup(path);
            if (!z->path) {
                closedir(d);
                return ipw_fail(eb, IPW_E_NOMEM, "out of memory listing hwmon channels");
            }
        }
    }
    closedir(d);
    if (!st->nz)
        return ipw_fail(eb, IPW_E_NOTFOUND, "no amd_energy or zenergy hwmon device under %s", dir);
    qsort(st->z, st->nz, sizeof st->z[0], zone_cmp);
    snprintf(st->source, sizeof st->source, "hwmon");
    return IPW_OK;
}

static void totals(const struct rapl *st, uint64_t *cpu, uint64_t *dram)
{
    *cpu = *dram = 0;
    for (size_t i = 0; i < st->nz; i++) {
        if (st->z[i].pub.role == IPW_RAPL_PACKAGE)
            *cpu += st->z[i].acc_uj;
        else if (st->z[i].pub.role == IPW_RAPL_DRAM)
            *dram += st->z[i].acc_uj;
    }
}

static void hist_push(struct rapl *st, int64_t t, uint64_t cpu, uint64_t dram)
{
    if (st->hn) {
        const struct hist *newest = &st->h[(st->hhead + HIST_LEN - 1) % HIST_LEN];
        if (t - newest->t < HIST_SPACING_NS)
            return;
    }
    st->h[st->hhead] = (struct hist){t, cpu, dram};
    st->hhead = (st->hhead + 1) % HIST_LEN;
    if (st->hn < HIST_LEN)
        st->hn++;
}

/* The newest history entry at least IPW_RAPL_MIN_POWER_SPAN_NS before t, or NULL. */
static const struct hist *hist_base(const struct rapl *st, int64_t t)
{
    for (size_t i = 1; i <= st->hn; i++) {
        const struct hist *h = &st->h[(st->hhead + HIST_LEN - i) % HIST_LEN];
        if (t - h->t >= IPW_RAPL_MIN_POWER_SPAN_NS)
            return h;
    }
    return NULL;
}

static void check_interval(struct ipw_collector *c, const struct rapl *st)
{
    if (c->cfg.interval_ms <= 0)
        return;
    double interval_s = c->cfg.interval_ms / 1000.0;
    for (size_t i = 0; i < st->nz; i++) {
        const struct zone *z = &st->z[i];
        if (!z->pub.counted || z->pub.safe_interval_s <= 0 || interval_s <= z->pub.safe_interval_s)
            continue;
        char note[320];
        snprintf(note, sizeof note,
                 "RAPL zone %s (%s) wraps after %.0f J, %.3g s at %.0f W: the %d ms sampling "
                 "interval is too long to tell one wrap from two; sample more often",
                 z->pub.id, z->pub.name, (double)z->pub.max_range_uj / 1e6, z->pub.safe_interval_s,
                 IPW_RAPL_PLAUSIBLE_MAX_W, c->cfg.interval_ms);
        ipw_warn("%s", note);
        add_note(c, note);
        return;
    }
}

static ipw_err rapl_open(struct ipw_collector *c, ipw_errbuf *eb)
{
    struct rapl *st = calloc(1, sizeof *st);
    if (!st)
        return ipw_fail(eb, IPW_E_NOMEM, "out of memory opening RAPL");
    const char *root = c->cfg.sysfs_root && *c->cfg.sysfs_root ? c->cfg.sysfs_root : "/sys";
    ipw_errbuf pc = {0}, hw = {0};
    ipw_err e = discover_powercap(st, root, &pc);
    if (e == IPW_OK)
        e = open_counters(st, &pc);
    if (e != IPW_OK) {
        /* Where powercap is absent or root-only, AMD's zenergy may still be readable. */
        free_zones(st);
        ipw_err e2 = discover_hwmon(st, root, &hw);
        if (e2 == IPW_OK)
            e2 = open_counters(st, &hw);
        if (e2 != IPW_OK) {
            free_zones(st);
            free(st);
            if (e == IPW_E_NOTFOUND && e2 == IPW_E_NOTFOUND)
                return ipw_fail(eb, IPW_E_NOTFOUND, "no RAPL counters: %s; %s", pc.msg, hw.msg);
            /* report the more telling failure: a permission problem beats an absence */
            const ipw_errbuf *why = e != IPW_E_NOTFOUND ? &pc : &hw;
            return ipw_fail(eb, why->code, "%s", why->msg);
        }
        if (e != IPW_E_NOTFOUND) {
            char note[640];
            snprintf(note, sizeof note, "powercap unusable (%s); CPU energy from %s hwmon", pc.msg,
                     st->z[0].path);
            add_note(c, note);
        }
    }
    for (size_t i = 0; i < st->nz; i++) {
        struct zone *z = &st->z[i];
        if (z->pub.max_range_uj)
            z->pub.safe_interval_s = (double)z->pub.max_range_uj / 1e6 / IPW_RAPL_PLAUSIBLE_MAX_W;
        st->has_dram |= z->pub.counted && z->pub.role == IPW_RAPL_DRAM;
    }
    pthread_mutex_init(&st->mu, NULL);
    int64_t opened = ipw_mono_ns();
    for (size_t i = 0; i < st->nz; i++)
        st->z[i].last_ns = opened;
    st->interval_ns = c->cfg.interval_ms > 1 ? (int64_t)c->cfg.interval_ms * IPW_NS_PER_MS
                                             : IPW_NS_PER_MS;
    hist_push(st, opened, 0, 0);
    c->priv = st;
    c->info.main_domain = IPW_DOMAIN_CPU;
    c->info.ndev = 0;
    snprintf(c->info.gpu_device_type, sizeof c->info.gpu_device_type, "cpu");
    snprintf(c->info.gpu_backend, sizeof c->info.gpu_backend, "rapl");
    check_interval(c, st);
    return IPW_OK;
}

/* No zone draws this much: 20 times the most any CPU package does. */
#define JUMP_W (20 * IPW_RAPL_PLAUSIBLE_MAX_W)

/* Energy added since the last read. A drop means the counter wrapped: it restarts from zero
 * after max_energy_range_uj. Without a range (or below an impossible last value) it was reset,
 * and the energy of that interval is lost rather than invented. So is an increase no CPU could
 * draw in the time since the last read (at least one period): a counter that jumped (firmware,
 * a glitch), or a small step back that the wrap rule would turn into a whole range. */
static uint64_t advance(struct rapl *st, struct zone *z, uint64_t raw, int64_t dt_ns)
{
    uint64_t d;
    bool wrapped = false;
    if (raw >= z->last_raw) {
        d = raw - z->last_raw;
    } else if (z->pub.max_range_uj && z->last_raw <= z->pub.max_range_uj) {
        d = z->pub.max_range_uj - z->last_raw + raw;
        wrapped = true;
    } else {
        d = 0;
        if (st->resets++ == 0)
            ipw_warn("rapl: %s went back from %" PRIu64 " to %" PRIu64 " uJ with no wrap range; "
                     "treating it as a reset",
                     z->path, z->last_raw, raw);
    }
    double dt_s = (double)(dt_ns > st->interval_ns ? dt_ns : st->interval_ns) / 1e9;
    if ((double)d / 1e6 > JUMP_W * dt_s) {
        if (st->jumps++ == 0)
            ipw_warn("rapl: %s jumped from %" PRIu64 " to %" PRIu64 " uJ in %.0f ms (%.0f W, "
                     "more than any CPU draws); that interval counts as no energy",
                     z->path, z->last_raw, raw, dt_s * 1e3, (double)d / 1e6 / dt_s);
        d = 0;
    } else if (wrapped) {
        z->pub.wraps++;
    }
    z->last_raw = raw;
    return d;
}

/* A tick reads every counted zone. A zone whose file fails keeps its state (its next good read
 * covers the gap, the counter having run on) and only its role goes unreported: a failing
 * package file must not take DRAM energy with it. Power and the history need every zone. */
static ipw_err rapl_sample(struct ipw_collector *c, struct ipw_reading *r,
                           struct ipw_device_reading *dev, ipw_errbuf *eb)
{
    (void)dev;
    struct rapl *st = c->priv;
    bool role_failed[IPW_RAPL_DRAM + 1] = {false};
    size_t counted = 0, failed = 0;
    ipw_err e = IPW_OK;
    pthread_mutex_lock(&st->mu);
    for (size_t i = 0; i < st->nz; i++) {
        struct zone *z = &st->z[i];
        if (!z->pub.counted)
            continue;
        counted++;
        uint64_t raw;
        int re = read_counter(z->fd, &raw);
        /* Power uses the time of the read, not r->mono_ns: beside a GPU collector the RAPL
         * read comes after the GPU's, possibly milliseconds later. */
        int64_t now = ipw_mono_ns();
        if (re) {
            if (failed++ == 0)
                e = ipw_fail(eb, IPW_E_IO, "cannot read %s: %s", z->path,
                             re == EINVAL ? "not a number" : strerror(re));
            if (z->pub.role <= IPW_RAPL_DRAM)
                role_failed[z->pub.role] = true;
            continue;
        }
        z->acc_uj += advance(st, z, raw, now - z->last_ns);
        z->last_ns = now;
    }
    if (counted && failed == counted) {
        pthread_mutex_unlock(&st->mu);
        return e;
    }
    bool cpu_ok = !role_failed[IPW_RAPL_PACKAGE];
    bool dram_ok = st->has_dram && !role_failed[IPW_RAPL_DRAM];
    int64_t now = ipw_mono_ns();
    uint64_t cpu, dram;
    totals(st, &cpu, &dram);
    if (cpu_ok) {
        ipw_reading_set(r, IPW_M_CPU_ENERGY_J, (double)cpu / 1e6);
        r->energy_source[IPW_DOMAIN_CPU] = IPW_ENERGY_COUNTER;
    }
    if (dram_ok) {
        ipw_reading_set(r, IPW_M_DRAM_ENERGY_J, (double)dram / 1e6);
        r->energy_source[IPW_DOMAIN_DRAM] = IPW_ENERGY_COUNTER;
    }
    /* History entries are whole ticks; a role that read now has its total up to date, so its
     * power over the span from an entry is right even on a tick where the other role failed. */
    const struct hist *base = hist_base(st, now);
    if (base) {
        double span_s = (double)(now - base->t) / 1e9;
        if (cpu_ok)
            ipw_reading_set(r, IPW_M_CPU_POWER_W, (double)(cpu - base->cpu_uj) / 1e6 / span_s);
        if (dram_ok)
            ipw_reading_set(r, IPW_M_DRAM_POWER_W, (double)(dram - base->dram_uj) / 1e6 / span_s);
        r->power_source = IPW_POWER_DERIVED;
    }
    if (!failed)
        hist_push(st, now, cpu, dram);
    pthread_mutex_unlock(&st->mu);
    return e;
}

static void rapl_close(struct ipw_collector *c)
{
    struct rapl *st = c->priv;
    if (!st)
        return;
    free_zones(st);
    pthread_mutex_destroy(&st->mu);
    free(st);
    c->priv = NULL;
}

const struct ipw_collector_ops ipw_collector_rapl = {
    .name = "rapl",
    .aliases = NULL,
    .description = "Linux powercap: CPU package and DRAM energy counters",
    .auto_rank = 4,
    .caps = IPW_CAP_ENERGY | IPW_CAP_ENERGY_COUNTER,
    .main_domain = IPW_DOMAIN_CPU,
    .open = rapl_open, .sample = rapl_sample, .close = rapl_close};

static struct rapl *rapl_of(const struct ipw_collector *c)
{
    if (c && c->ops == &ipw_collector_rapl)
        return c->priv;
    if (c && c->cpu_companion && c->cpu_companion->ops == &ipw_collector_rapl)
        return c->cpu_companion->priv;
    return NULL;
}

size_t ipw_rapl_zones(const struct ipw_collector *c, struct ipw_rapl_zone *out, size_t max)
{
    struct rapl *st = rapl_of(c);
    if (!st)
        return 0;
    pthread_mutex_lock(&st->mu);
    for (size_t i = 0; i < st->nz && i < max; i++) {
        out[i] = st->z[i].pub;
        out[i].energy_j = (double)st->z[i].acc_uj / 1e6;
    }
    size_t n = st->nz;
    pthread_mutex_unlock(&st->mu);
    return n;
}

const char *ipw_rapl_source(const struct ipw_collector *c)
{
    struct rapl *st = rapl_of(c);
    return st ? st->source : "";
}
