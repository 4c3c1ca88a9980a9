/* `ipw simulate ... --sweep PARAM=V1,V2,... [--sweep ...] [--jobs N] [--output SWEEP.csv]
 * [--plots DIR]` (issue 14 item 4): the grid of simulations, each point an `ipw simulate`
 * of the other flags plus the point's values, run in parallel child processes; the parent
 * reads each point's --summary JSON and per-request CSV back (src/sim/predict/sweep.c),
 * marks the Pareto frontiers, writes one CSV row per point and the Pareto plots. */
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "commands.h"
#include "ipw/datadir.h"
#include "ipw/fsutil.h"
#include "ipw/predict.h"

#define MAX_ARGS 256

struct sweep {
    struct ipw_sweep_param p[IPW_SWEEP_MAX_PARAMS];
    size_t np;
    const char *base[MAX_ARGS]; /* the simulate flags that every point shares */
    int nbase;
    const char *cluster; /* --cluster-config as given */
    const char *data_dir;
    long jobs;
    const char *output, *plots;
    char tmp[64];
};

/* Takes the sweep's own flags out of argv; the rest is every point's command line. */
static int parse(int argc, char **argv, struct sweep *s)
{
    s->jobs = sysconf(_SC_NPROCESSORS_ONLN);
    if (s->jobs < 1)
        s->jobs = 1;
    s->base[s->nbase++] = "simulate";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = NULL;
        static const char *const own[] = {"--sweep", "--jobs", "--output", "--plots", NULL};
        int k = -1;
        for (int j = 0; own[j]; j++) {
            size_t n = strlen(own[j]);
            if (!strncmp(a, own[j], n) && (a[n] == '\0' || a[n] == '=')) {
                k = j;
                v = a[n] == '=' ? a + n + 1 : NULL;
            }
        }
        if (k < 0) {
            if (!strcmp(a, "--cluster-config") && i + 1 < argc) {
                s->cluster = argv[++i]; /* each point passes its own (tp rewrites it) */
                continue;
            }
            if (!strncmp(a, "--cluster-config=", 17)) {
                s->cluster = a + 17;
                continue;
            }
            if (!strcmp(a, "--data-dir") && i + 1 < argc) {
                s->data_dir = argv[i + 1];
            } else if (!strcmp(a, "--summary")) {
                fprintf(stderr, "ipw simulate: %s is not used with --sweep (each point's summary "
                        "goes into the sweep CSV)\n", a);
                return 2;
            }
            if (s->nbase >= MAX_ARGS - 16) {
                fprintf(stderr, "ipw simulate: too many arguments\n");
                return 2;
            }
            s->base[s->nbase++] = a;
            continue;
        }
        if (!v) {
            if (i + 1 >= argc) {
                fprintf(stderr, "ipw simulate: %s needs a value (try --help)\n", own[k]);
                return 2;
            }
            v = argv[++i];
        }
        ipw_errbuf eb = {0};
        char *end;
        switch (k) {
        case 0:
            if (s->np == IPW_SWEEP_MAX_PARAMS) {
                fprintf(stderr, "ipw simulate: at most %d --sweep parameters\n",
                        IPW_SWEEP_MAX_PARAMS);
                return 2;
            }
            if (ipw_sweep_param_parse(v, &s->p[s->np], &eb)) {
                fprintf(stderr, "ipw simulate: %s\n", eb.msg);
                return 2;
            }
            for (size_t j = 0; j < s->np; j++)
                if (!strcmp(s->p[j].name, s->p[s->np].name)) {
                    fprintf(stderr, "ipw simulate: --sweep %s given twice\n", s->p[j].name);
                    return 2;
                }
            s->np++;
            break;
        case 1:
            s->jobs = strtol(v, &end, 10);
            if (*end || s->jobs < 1 || s->jobs > 256) {
                fprintf(stderr, "ipw simulate: --jobs '%s': give 1 to 256\n", v);
                return 2;
            }
            break;
        case 2:
            s->output = v;
            break;
        default:
            s->plots = v;
        }
    }
    if (!s->output) {
        fprintf(stderr, "ipw simulate: a sweep needs --output SWEEP.csv (try --help)\n");
        return 2;
    }
    return ipw_cli_check_output_dir("ipw simulate", "--output", s->output);
}

/* The cluster config with every instance at tensor-parallel degree tp (num_npus follows). */
static ipw_err tp_config(const struct sweep *s, const char *tp, const char *out, ipw_errbuf *eb)
{
    const char *p = s->cluster ? s->cluster : "configs/cluster/single_node_single_instance.json";
    char path[4200], dd[2048] = "";
    struct stat st;
    snprintf(path, sizeof path, "%s", p);
    if (stat(p, &st) != 0 && p[0] != '/') {
        char msg[256];
        if (s->data_dir)
            snprintf(dd, sizeof dd, "%s", s->data_dir);
        else if (ipw_datadir_find("sim", dd, sizeof dd, msg, sizeof msg))
            return ipw_fail(eb, IPW_E_NOTFOUND, "%s", msg);
        snprintf(path, sizeof path, strchr(p, '/') ? "%s/%s" : "%s/configs/cluster/%s", dd, p);
    }
    json_error_t je;
    json_t *root = json_load_file(path, 0, &je);
    if (!root)
        return ipw_fail(eb, IPW_E_INVALID, "cluster config %s: %s", path, je.text);
    size_t i, j;
    json_t *node, *inst;
    json_array_foreach(json_object_get(root, "nodes"), i, node)
    {
        json_array_foreach(json_object_get(node, "instances"), j, inst)
        {
            json_object_set_new(inst, "tp_size", json_integer(atol(tp)));
            json_object_del(inst, "num_npus");
        }
    }
    ipw_err e = json_dump_file(root, out, JSON_INDENT(1))
                    ? ipw_fail(eb, IPW_E_IO, "cannot write %s", out)
                    : IPW_OK;
    json_decref(root);
    return e;
}

/* One grid point in a child process: the base flags, the point's values, its outputs. */
static void run_point(const struct sweep *s, size_t k)
{
    const char *argv[MAX_ARGS];
    int n = 0;
    for (int i = 0; i < s->nbase; i++)
        argv[n++] = s->base[i];
    size_t idx[IPW_SWEEP_MAX_PARAMS];
    ipw_sweep_point(s->p, s->np, k, idx);
    int cfg_at = -1;
    if (s->cluster) {
        argv[n++] = "--cluster-config";
        cfg_at = n;
        argv[n++] = s->cluster;
    }
    static char flags[IPW_SWEEP_MAX_PARAMS][64], cfg[128], sum[128], csv[128], err[128];
    for (size_t i = 0; i < s->np; i++) {
        const char *name = s->p[i].name, *v = s->p[i].values[idx[i]];
        if (!strcmp(name, "tp")) {
            ipw_errbuf eb = {0};
            snprintf(cfg, sizeof cfg, "%s/cluster_%zu.json", s->tmp, k);
            if (tp_config(s, v, cfg, &eb)) {
                fprintf(stderr, "%s\n", eb.msg);
                _exit(1);
            }
            if (cfg_at >= 0) {
                argv[cfg_at] = cfg;
            } else {
                argv[n++] = "--cluster-config";
                argv[n++] = cfg;
            }
        } else if (!strncmp(name, "enable-", 7)) {
            snprintf(flags[i], sizeof flags[i], "--%s%s", v[0] == '1' ? "" : "no-", name);
            argv[n++] = flags[i];
        } else {
            snprintf(flags[i], sizeof flags[i], "--%s", name);
            argv[n++] = flags[i];
            argv[n++] = v;
        }
    }
    snprintf(sum, sizeof sum, "%s/%zu.json", s->tmp, k);
    snprintf(csv, sizeof csv, "%s/%zu.csv", s->tmp, k);
    snprintf(err, sizeof err, "%s/%zu.err", s->tmp, k);
    argv[n++] = "--summary";
    argv[n++] = sum;
    argv[n++] = "--output";
    argv[n++] = csv;
    argv[n++] = "--no-progress";
    argv[n] = NULL;
    if (!freopen("/dev/null", "w", stdout) || !freopen(err, "w", stderr))
        _exit(1);
    int rc = cmd_simulate(n, (char **)argv);
    fflush(NULL);
    _exit(rc);
}

static void first_line(const char *path, char *out, size_t len)
{
    FILE *f = fopen(path, "r");
    out[0] = '\0';
    if (!f)
        return;
    if (fgets(out, (int)len, f))
        out[strcspn(out, "\r\n")] = '\0';
    fclose(f);
}

static void cleanup(const struct sweep *s, size_t points)
{
    char p[128];
    for (size_t k = 0; k < points; k++) {
        static const char *const ext[] = {"json", "csv", "err"};
        for (int i = 0; i < 3; i++) {
            snprintf(p, sizeof p, "%s/%zu.%s", s->tmp, k, ext[i]);
            unlink(p);
        }
        snprintf(p, sizeof p, "%s/cluster_%zu.json", s->tmp, k);
        unlink(p);
    }
    rmdir(s->tmp);
}

int ipw_cli_simulate_sweep(int argc, char **argv)
{
    struct sweep s;
    memset(&s, 0, sizeof s);
    int rc = parse(argc, argv, &s);
    if (rc)
        return rc;
    size_t points;
    ipw_errbuf eb = {0};
    if (ipw_sweep_size(s.p, s.np, &points, &eb)) {
        fprintf(stderr, "ipw simulate: %s\n", eb.msg);
        return 2;
    }
    struct ipw_sweep_row *rows = calloc(points, sizeof *rows);
    pid_t *pids = calloc(points, sizeof *pids);
    snprintf(s.tmp, sizeof s.tmp, "/tmp/ipw-sweep-XXXXXX");
    if (!rows || !pids || !mkdtemp(s.tmp)) {
        fprintf(stderr, "ipw simulate: cannot prepare the sweep: %s\n", strerror(errno));
        free(rows);
        free(pids);
        return 1;
    }
    fflush(NULL);
    size_t next = 0, running = 0, done = 0;
    while (done < points) {
        while (running < (size_t)s.jobs && next < points) {
            pid_t pid = fork();
            if (pid == 0)
                run_point(&s, next);
            if (pid < 0) {
                snprintf(rows[next].error, sizeof rows[next].error, "fork: %s", strerror(errno));
                next++;
                done++;
                continue;
            }
            pids[next++] = pid;
            running++;
        }
        if (!running)
            continue;
        int status;
        pid_t pid = wait(&status);
        if (pid < 0)
            break;
        for (size_t k = 0; k < next; k++)
            if (pids[k] == pid) {
                running--;
                done++;
                pids[k] = 0;
                char sum[128], csv[128], err[128];
                snprintf(sum, sizeof sum, "%s/%zu.json", s.tmp, k);
                snprintf(csv, sizeof csv, "%s/%zu.csv", s.tmp, k);
                snprintf(err, sizeof err, "%s/%zu.err", s.tmp, k);
                if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
                    ipw_errbuf re = {0};
                    if (ipw_sweep_row_read(sum, csv, &rows[k], &re))
                        snprintf(rows[k].error, sizeof rows[k].error, "%s", re.msg);
                } else {
                    first_line(err, rows[k].error, sizeof rows[k].error);
                    if (!rows[k].error[0])
                        snprintf(rows[k].error, sizeof rows[k].error, "exit status %d",
                                 WIFEXITED(status) ? WEXITSTATUS(status) : -1);
                }
            }
    }
    ipw_sweep_pareto(rows, points);
    rc = 0;
    if (ipw_sweep_write_csv(s.output, s.p, s.np, rows, points, &eb)) {
        fprintf(stderr, "ipw simulate: %s\n", eb.msg);
        rc = 1;
    }
    size_t failed = 0;
    printf("%-4s", "#");
    for (size_t i = 0; i < s.np; i++)
        printf(" %12.12s", s.p[i].name);
    printf(" %10s %10s %10s  frontier (modelled)\n", "tok/s", "J/token", "p99 lat s");
    for (size_t k = 0; k < points; k++) {
        size_t idx[IPW_SWEEP_MAX_PARAMS];
        ipw_sweep_point(s.p, s.np, k, idx);
        printf("%-4zu", k);
        for (size_t i = 0; i < s.np; i++)
            printf(" %12s", s.p[i].values[idx[i]]);
        if (!rows[k].ok) {
            failed++;
            printf(" failed: %s\n", rows[k].error);
            continue;
        }
        char jt[32] = "-"; /* no power block: no energy, so no J/token */
        if (isfinite(rows[k].j_per_token))
            snprintf(jt, sizeof jt, "%.4g", rows[k].j_per_token);
        printf(" %10.1f %10s %10.3f  %s%s\n", rows[k].tok_s, jt, rows[k].latency_p99_s,
               rows[k].pareto_tput ? "throughput " : "", rows[k].pareto_lat ? "latency" : "");
    }
    if (!rc && failed == points) { /* nothing to plot: the reason is in every row above */
        printf("no Pareto plots: every point failed\n");
    } else if (!rc && (s.plots || points)) {
        char dir[4200];
        if (s.plots)
            snprintf(dir, sizeof dir, "%s", s.plots);
        else {
            snprintf(dir, sizeof dir, "%s", s.output);
            char *sl = strrchr(dir, '/');
            if (sl)
                *sl = '\0';
            else
                snprintf(dir, sizeof dir, ".");
        }
        if (ipw_mkdir_p(dir, &eb) || ipw_sweep_plot(dir, s.p, s.np, rows, points, &eb)) {
            fprintf(stderr, "ipw simulate: %s\n", eb.msg);
            rc = 1;
        } else {
            printf("Pareto plots: %s/pareto_throughput.{png,svg}, %s/pareto_latency.{png,svg}\n",
                   dir, dir);
        }
    }
    if (!rc)
        printf("%zu points (%zu failed) written to %s; every figure is modelled by the "
               "simulator, not measured\n", points, failed, s.output);
    cleanup(&s, points);
    free(rows);
    free(pids);
    return rc ? rc : failed ? 1 : 0;
}
