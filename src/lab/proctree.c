/* The server's process tree and the machine's CPU time from /proc (SPEC §5.2 step 6): the tree
 * is the root and every live descendant, re-walked at each snapshot so that runner processes
 * started during a run count; children already reaped count through their reaper's
 * cutime+cstime (every member's: a runner that reaps its own workers keeps their time).
 * The tree is found through the kernel's children lists (/proc/<pid>/task/<tid>/children) where
 * it has them; else a tracker keeps the last listing of /proc, so that a snapshot reads the stat
 * files of the tree and of processes born since, not of every process on the machine.
 * The machine's capacity is its CPUs times the wall-clock time between snapshots, and its busy
 * time that capacity less /proc/stat's idle and iowait (why: above ipw_lab_cpu_shares). */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ipw/buf.h"
#include "ipw/clock.h"
#include "ipw/lab.h"

#define MAX_PROCS 65536

struct proc {
    int pid, ppid;
    uint64_t ticks; /* utime + stime */
    uint64_t child_ticks; /* cutime + cstime */
};

/* Fields of /proc/<pid>/stat after the command name (which may hold spaces and parentheses,
 * so parsing starts after its last ')'). */
static bool read_stat(const char *root, int pid, struct proc *p)
{
    char path[4200], buf[2048];
    snprintf(path, sizeof path, "%s/%d/stat", root, pid);
    FILE *f = fopen(path, "re");
    if (!f)
        return false;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *rp = strrchr(buf, ')');
    if (!rp)
        return false;
    /* state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime cutime
     * cstime: fields 3..17 */
    char state;
    int ppid;
    unsigned long long ut, st;
    long long cut, cst;
    if (sscanf(rp + 1, " %c %d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %lld %lld", &state,
               &ppid, &ut, &st, &cut, &cst) != 6)
        return false;
    p->pid = pid;
    p->ppid = ppid;
    p->ticks = ut + st;
    p->child_ticks = (uint64_t)(cut > 0 ? cut : 0) + (uint64_t)(cst > 0 ? cst : 0);
    return true;
}

/* The machine's counters: the aggregate cpu line's idle time (idle + iowait) and the number of
 * cpuN lines (the online CPUs), read at mono_ns. */
static ipw_err machine_ticks(const char *root, struct ipw_lab_cpu_snapshot *out, ipw_errbuf *eb)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/stat", root);
    FILE *f = fopen(path, "re");
    if (!f)
        return ipw_fail(eb, IPW_E_IO, "cannot read %s: %s", path, strerror(errno));
    out->mono_ns = ipw_mono_ns();
    char line[512];
    bool ok = fgets(line, sizeof line, f) != NULL;
    unsigned long long v[10] = {0};
    int got = ok ? sscanf(line, "cpu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0],
                          &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7], &v[8], &v[9])
                 : 0;
    /* the per-CPU lines follow the aggregate one; a line longer than the buffer is read in
     * pieces, so only a piece that starts a line is looked at */
    bool at_start = ok && strchr(line, '\n') != NULL;
    while (fgets(line, sizeof line, f)) {
        if (at_start && strncmp(line, "cpu", 3) == 0 && isdigit((unsigned char)line[3]))
            out->ncpu++;
        else if (at_start && strncmp(line, "cpu", 3) != 0)
            break; /* the cpu lines are over */
        at_start = strchr(line, '\n') != NULL;
    }
    fclose(f);
    if (got < 4)
        return ipw_fail(eb, IPW_E_PROTOCOL, "%s: the first line is not the cpu totals", path);
    if (out->ncpu == 0)
        return ipw_fail(eb, IPW_E_PROTOCOL, "%s: no per-CPU (cpuN) lines", path);
    /* guest and guest_nice (8, 9) are already inside user and nice */
    uint64_t all = 0;
    for (int i = 0; i < got && i < 8; i++)
        all += v[i];
    out->idle_ticks = v[3] + (got > 4 ? v[4] : 0);
    out->busy_ticks = all - out->idle_ticks;
    return IPW_OK;
}

/* Why the machine's time is the wall clock and not the sum of /proc/stat's columns: on a
 * tickless kernel (NO_HZ_IDLE, the default) idle and iowait are measured in nanoseconds, while
 * user, system, irq and softirq are sampled one whole tick at a time (TICK_CPU_ACCOUNTING, the
 * default). A CPU that wakes for bursts shorter than a tick (timers, network, an inference
 * server's HTTP thread) is charged a tick only when the tick happens to land in a burst, and
 * the wake-up path itself (interrupt from idle, the idle loop around the measured idle time)
 * is charged to nobody. So on a mostly idle machine the columns add up to less than
 * ncpu x elapsed — 3-8 % less in the lab's acceptance test — and a share of that sum is too
 * large. Under load every tick lands on a busy CPU and the two agree. Idle time is exact,
 * so: capacity = ncpu x elapsed (wall clock), busy = capacity - idle. */
void ipw_lab_cpu_shares(const struct ipw_lab_cpu_snapshot *a, const struct ipw_lab_cpu_snapshot *b,
                        double *share_busy, double *share_capacity)
{
    *share_busy = *share_capacity = NAN;
    if (b->mono_ns <= a->mono_ns || a->ncpu <= 0)
        return;
    double hz = (double)sysconf(_SC_CLK_TCK);
    double total = (double)a->ncpu * (double)(b->mono_ns - a->mono_ns) / 1e9 * hz;
    double idle = b->idle_ticks > a->idle_ticks ? (double)(b->idle_ticks - a->idle_ticks) : 0;
    double busy = total - idle;
    double tree = b->tree_ticks >= a->tree_ticks ? (double)(b->tree_ticks - a->tree_ticks) : 0;
    /* the tree and the machine are read at slightly different instants and the kernel counts
     * in whole ticks: a share can exceed 1 by a tick; cap it */
    if (busy > 0)
        *share_busy = fmin(tree / busy, 1.0);
    if (total > 0)
        *share_capacity = fmin(tree / total, 1.0);
}

/* ---- the tracker -------------------------------------------------------------------------- */

struct ipw_lab_proctree {
    char root[1024];
    char machine_root[1024]; /* where /proc/stat is read */
    int root_pid;
    int *seen; /* pids of the last listing, ascending */
    size_t nseen;
    int *tree; /* members of the tree in the last listing, ascending */
    size_t ntree;
    bool primed;
    enum { WALK_UNKNOWN, WALK_CHILDREN, WALK_LISTING } walk;
};

static int cmp_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

static bool has(const int *v, size_t n, int x)
{
    return n && bsearch(&x, v, n, sizeof *v, cmp_int) != NULL;
}

ipw_err ipw_lab_proctree_open(const char *procfs_root, const char *machine_root, int root_pid,
                              struct ipw_lab_proctree **out, ipw_errbuf *eb)
{
    struct ipw_lab_proctree *t = calloc(1, sizeof *t);
    if (!t)
        return ipw_fail(eb, IPW_E_NOMEM, "out of memory tracking process %d", root_pid);
    snprintf(t->root, sizeof t->root, "%s", procfs_root ? procfs_root : "/proc");
    snprintf(t->machine_root, sizeof t->machine_root, "%s", machine_root ? machine_root : t->root);
    t->root_pid = root_pid;
    *out = t;
    return IPW_OK;
}

void ipw_lab_proctree_close(struct ipw_lab_proctree *t)
{
    if (!t)
        return;
    free(t->seen);
    free(t->tree);
    free(t);
}

/* Every pid in the procfs root, ascending (bounded). NULL on allocation failure. */
static int *list_pids(const char *root, size_t *n, ipw_errbuf *eb)
{
    DIR *d = opendir(root);
    if (!d) {
        ipw_fail(eb, IPW_E_IO, "cannot list %s: %s", root, strerror(errno));
        return NULL;
    }
    size_t cap = 1024;
    *n = 0;
    int *pids = malloc(cap * sizeof *pids);
    struct dirent *de;
    while (pids && (de = readdir(d)) != NULL) {
        if (!isdigit((unsigned char)de->d_name[0]))
            continue;
        if (*n == cap) {
            int *np = cap < MAX_PROCS ? realloc(pids, cap * 2 * sizeof *np) : NULL;
            if (!np)
                break; /* bounded: the rest of a huge machine is not listed */
            pids = np;
            cap *= 2;
        }
        pids[(*n)++] = atoi(de->d_name);
    }
    closedir(d);
    if (!pids)
        ipw_fail(eb, IPW_E_NOMEM, "out of memory listing %s", root);
    else
        qsort(pids, *n, sizeof *pids, cmp_int);
    return pids;
}

/* ---- the walk by children files ----------------------------------------------------------
 * With CONFIG_PROC_CHILDREN (most distribution kernels) each thread lists the children it
 * forked in /proc/<pid>/task/<tid>/children, so the tree is found from its root by reading the
 * members' own files: the cost follows the size of the tree (a few processes, their threads),
 * not the number of processes on the machine. Listing /proc was most of the lab's per-run CPU
 * on a machine with a few hundred processes (the kernel fills a dentry for each of them). */

static bool children_files(const char *root, int pid)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/%d/task/%d/children", root, pid, pid);
    return access(path, R_OK) == 0;
}

/* Appends pid to the unsorted list *v unless it is there (the tree is small: a linear check). */
static ipw_err add_member(int **v, size_t *n, size_t *cap, int pid)
{
    for (size_t i = 0; i < *n; i++)
        if ((*v)[i] == pid)
            return IPW_OK;
    ipw_err e = ipw_grow(v, cap, *n + 1, sizeof **v, MAX_PROCS);
    if (e == IPW_OK)
        (*v)[(*n)++] = pid;
    return e;
}

/* The children of every thread of pid, added to the list. A process or thread that ended
 * meanwhile simply has none. */
static ipw_err add_children(const char *root, int pid, int **v, size_t *n, size_t *cap)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/%d/task", root, pid);
    DIR *d = opendir(path);
    if (!d)
        return IPW_OK;
    ipw_err e = IPW_OK;
    struct dirent *de;
    while (e == IPW_OK && (de = readdir(d)) != NULL) {
        if (!isdigit((unsigned char)de->d_name[0]))
            continue;
        snprintf(path, sizeof path, "%s/%d/task/%s/children", root, pid, de->d_name);
        FILE *f = fopen(path, "re");
        if (!f)
            continue;
        int c;
        while (e == IPW_OK && fscanf(f, "%d", &c) == 1)
            if (c > 0)
                e = add_member(v, n, cap, c);
        fclose(f);
    }
    closedir(d);
    return e;
}

/* The tree: the root, the last snapshot's members still alive (a member whose parent died was
 * re-parented away from the tree but still belongs to it), and the children of each member,
 * transitively. */
static ipw_err walk_children(struct ipw_lab_proctree *t, struct ipw_lab_cpu_snapshot *out,
                             ipw_errbuf *eb)
{
    int *v = NULL;
    size_t n = 0, cap = 0;
    ipw_err e = add_member(&v, &n, &cap, t->root_pid);
    for (size_t i = 0; e == IPW_OK && i < t->ntree; i++)
        e = add_member(&v, &n, &cap, t->tree[i]);
    for (size_t i = 0; e == IPW_OK && i < n; i++)
        e = add_children(t->root, v[i], &v, &n, &cap);
    if (e != IPW_OK) {
        free(v);
        return ipw_fail(eb, e, "too many processes in the tree of server process %d",
                        t->root_pid);
    }
    size_t kept = 0;
    for (size_t i = 0; i < n; i++) {
        struct proc p;
        if (!read_stat(t->root, v[i], &p))
            continue; /* ended since it was listed */
        v[kept++] = v[i];
        out->tree_ticks += p.ticks + p.child_ticks;
    }
    qsort(v, kept, sizeof *v, cmp_int);
    out->processes = (int)kept;
    free(t->tree);
    t->tree = v;
    t->ntree = kept;
    t->primed = true;
    return IPW_OK;
}

ipw_err ipw_lab_proctree_snapshot(struct ipw_lab_proctree *t, struct ipw_lab_cpu_snapshot *out,
                                  ipw_errbuf *eb)
{
    memset(out, 0, sizeof *out);
    ipw_err rc = machine_ticks(t->machine_root, out, eb);
    if (rc != IPW_OK)
        return rc;
    struct proc self;
    if (!read_stat(t->root, t->root_pid, &self))
        return ipw_fail(eb, IPW_E_NOTFOUND,
                        "server process %d is gone (cannot read %s/%d/stat); restart the server "
                        "or give --server-pid",
                        t->root_pid, t->root, t->root_pid);
    if (t->walk == WALK_UNKNOWN)
        t->walk = children_files(t->root, t->root_pid) ? WALK_CHILDREN : WALK_LISTING;
    if (t->walk == WALK_CHILDREN)
        return walk_children(t, out, eb);
    /* no children files: list /proc, reading the stat files of the last tree's members and of
     * the processes born since (the listing is remembered) */
    size_t n;
    int *pids = list_pids(t->root, &n, eb);
    if (!pids)
        return eb ? eb->code : IPW_E_NOMEM;
    int *tree = malloc((n ? n : 1) * sizeof *tree);
    struct proc *cand = malloc((n ? n : 1) * sizeof *cand);
    if (!tree || !cand) {
        free(pids);
        free(tree);
        free(cand);
        return ipw_fail(eb, IPW_E_NOMEM, "out of memory listing %s", t->root);
    }
    /* read: the last tree's members still alive, and every pid not listed last time
     * (everything on the first snapshot); a newcomer joins when its parent is in the tree */
    size_t ntree = 0, ncand = 0;
    for (size_t i = 0; i < n; i++) {
        bool member = pids[i] == t->root_pid || has(t->tree, t->ntree, pids[i]);
        bool newborn = !t->primed || !has(t->seen, t->nseen, pids[i]);
        struct proc p;
        if ((!member && !newborn) || !read_stat(t->root, pids[i], &p))
            continue;
        if (member) {
            tree[ntree++] = p.pid;
            out->tree_ticks += p.ticks + p.child_ticks;
        } else {
            cand[ncand++] = p;
        }
    }
    for (bool grew = true; grew;) {
        grew = false;
        qsort(tree, ntree, sizeof *tree, cmp_int);
        for (size_t i = 0; i < ncand; i++) {
            if (cand[i].pid <= 0 || !has(tree, ntree, cand[i].ppid))
                continue;
            tree[ntree++] = cand[i].pid;
            out->tree_ticks += cand[i].ticks + cand[i].child_ticks;
            cand[i].pid = 0;
            grew = true;
        }
    }
    qsort(tree, ntree, sizeof *tree, cmp_int);
    out->processes = (int)ntree;
    free(cand);
    free(t->seen);
    free(t->tree);
    t->seen = pids;
    t->nseen = n;
    t->tree = tree;
    t->ntree = ntree;
    t->primed = true;
    return IPW_OK;
}

const int *ipw_lab_proctree_pids(const struct ipw_lab_proctree *t, size_t *n)
{
    *n = t->ntree;
    return t->tree;
}

ipw_err ipw_lab_cpu_snapshot(const char *procfs_root, int root_pid,
                             struct ipw_lab_cpu_snapshot *out, ipw_errbuf *eb)
{
    struct ipw_lab_proctree *t;
    ipw_err rc = ipw_lab_proctree_open(procfs_root, NULL, root_pid, &t, eb);
    if (rc != IPW_OK)
        return rc;
    rc = ipw_lab_proctree_snapshot(t, out, eb); /* a first snapshot reads every process */
    ipw_lab_proctree_close(t);
    return rc;
}
