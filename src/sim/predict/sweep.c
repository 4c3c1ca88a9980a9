/* Parameter sweeps of the simulator (issue 14 item 4): the grid of --sweep values, the
 * figures of each point read back from its --summary JSON and per-request CSV, the Pareto
 * frontiers (energy per output token against throughput and against p99 latency) and the
 * sweep CSV. Running the points (in parallel processes) is the command line's job. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ipw/buf.h"
#include "ipw/fsutil.h"
#include "ipw/predict.h"

static const struct {
    const char *name;
    bool sw; /* a switch: 0 or 1 */
} known[] = {{"max-num-seqs", false},           {"max-num-batched-tokens", false},
             {"block-size", false},             {"long-prefill-token-threshold", false},
             {"npu-memory-utilization", false}, {"enable-chunked-prefill", true},
             {"enable-prefix-caching", true},   {"tp", false}};

ipw_err ipw_sweep_param_parse(const char *arg, struct ipw_sweep_param *out, ipw_errbuf *eb)
{
    memset(out, 0, sizeof *out);
    const char *eq = strchr(arg, '=');
    if (!eq || eq == arg || (size_t)(eq - arg) >= sizeof out->name)
        return ipw_fail(eb, IPW_E_INVALID, "--sweep '%s': expected PARAM=V1,V2,... (e.g. "
                        "max-num-seqs=8,16,32)", arg);
    memcpy(out->name, arg, (size_t)(eq - arg));
    int k = -1;
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (!strcmp(out->name, known[i].name))
            k = (int)i;
    if (k < 0)
        return ipw_fail(eb, IPW_E_INVALID, "--sweep '%s': '%s' cannot be swept; use one of "
                        "max-num-seqs, max-num-batched-tokens, block-size, "
                        "long-prefill-token-threshold, npu-memory-utilization, "
                        "enable-chunked-prefill, enable-prefix-caching, tp", arg, out->name);
    for (const char *p = eq + 1;;) {
        const char *c = strchr(p, ',');
        size_t len = c ? (size_t)(c - p) : strlen(p);
        if (out->n == IPW_SWEEP_MAX_VALUES)
            return ipw_fail(eb, IPW_E_RANGE, "--sweep '%s': more than %d values", out->name,
                            IPW_SWEEP_MAX_VALUES);
        if (len == 0 || len >= sizeof out->values[0])
            return ipw_fail(eb, IPW_E_INVALID, "--sweep %s: an empty or overlong value",
                            out->name);
        char *v = out->values[out->n++];
        memcpy(v, p, len);
        v[len] = '\0';
        char *end;
        errno = 0;
        double x = strtod(v, &end);
        bool whole = x == floor(x);
        if (*end || errno || !isfinite(x) || x < 0 ||
            (known[k].sw && x != 0 && x != 1) ||
            (strcmp(out->name, "npu-memory-utilization") ? !whole
                                                         : !(x > 0 && x <= 1)) ||
            (!strcmp(out->name, "tp") && x < 1))
            return ipw_fail(eb, IPW_E_INVALID, "--sweep %s: '%s' is not %s", out->name, v,
                            known[k].sw ? "0 or 1"
                            : !strcmp(out->name, "npu-memory-utilization")
                                ? "a fraction in (0, 1]"
                            : !strcmp(out->name, "tp") ? "a whole number, at least 1"
                                                       : "a whole number");
        if (!c)
            break;
        p = c + 1;
    }
    return IPW_OK;
}

ipw_err ipw_sweep_size(const struct ipw_sweep_param *p, size_t n, size_t *points, ipw_errbuf *eb)
{
    size_t k = 1;
    for (size_t i = 0; i < n; i++) {
        k *= p[i].n;
        if (k > IPW_SWEEP_MAX_POINTS)
            return ipw_fail(eb, IPW_E_RANGE, "the sweep has more than %d points; sweep fewer "
                            "values", IPW_SWEEP_MAX_POINTS);
    }
    *points = k;
    return IPW_OK;
}

void ipw_sweep_point(const struct ipw_sweep_param *p, size_t n, size_t k, size_t *idx)
{
    for (size_t i = n; i-- > 0;) {
        idx[i] = k % p[i].n;
        k /= p[i].n;
    }
}

static int cmpd(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* numpy's default percentile: linear between order statistics (v sorted). */
static double pct(const double *v, size_t n, double q)
{
    if (!n)
        return NAN;
    double h = (double)(n - 1) * q / 100.0;
    size_t lo = (size_t)floor(h);
    size_t hi = lo + 1 < n ? lo + 1 : lo;
    return v[lo] + (h - (double)lo) * (v[hi] - v[lo]);
}

/* TTFT, TPOT and latency columns of the per-request CSV (ns), each sorted. */
static ipw_err read_csv(const char *path, double **ttft, double **tpot, double **lat, size_t *n,
                        ipw_errbuf *eb)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return ipw_fail(eb, IPW_E_IO, "cannot read %s: %s", path, strerror(errno));
    char *line = NULL;
    size_t cap = 0, nr = 0, rc = 0;
    double(*r)[3] = NULL;
    ipw_err e = IPW_OK;
    long no = 0;
    while (getline(&line, &cap, f) >= 0) {
        if (no++ == 0)
            continue; /* the header */
        /* instance id,request id,model,input,output,arrival,end_time,latency,queuing_delay,
         * TTFT,TPOT,ITL: the model name has no comma in the simulator's output */
        double fl[11];
        int nf = 0;
        for (char *p = line; nf < 11 && p;) {
            fl[nf++] = strtod(p, NULL);
            p = strchr(p, ',');
            if (p)
                p++;
        }
        if (nf < 11) {
            e = ipw_fail(eb, IPW_E_INVALID, "%s:%ld: fewer than 11 columns", path, no);
            break;
        }
        if ((e = ipw_grow(&r, &rc, nr + 1, sizeof *r, 100000000))) {
            ipw_fail(eb, e, "%s: too many rows to hold", path);
            break;
        }
        r[nr][0] = fl[9];
        r[nr][1] = fl[10];
        r[nr][2] = fl[7];
        nr++;
    }
    free(line);
    fclose(f);
    double *a = e ? NULL : malloc((nr ? nr : 1) * sizeof *a),
           *b = e ? NULL : malloc((nr ? nr : 1) * sizeof *b),
           *c = e ? NULL : malloc((nr ? nr : 1) * sizeof *c);
    if (!e && (!a || !b || !c))
        e = ipw_fail(eb, IPW_E_NOMEM, "out of memory reading %s", path);
    if (e) {
        free(r);
        free(a);
        free(b);
        free(c);
        return e;
    }
    for (size_t i = 0; i < nr; i++) {
        a[i] = r[i][0];
        b[i] = r[i][1];
        c[i] = r[i][2];
    }
    free(r);
    qsort(a, nr, sizeof *a, cmpd);
    qsort(b, nr, sizeof *b, cmpd);
    qsort(c, nr, sizeof *c, cmpd);
    *ttft = a;
    *tpot = b;
    *lat = c;
    *n = nr;
    return IPW_OK;
}

static double jnum(const json_t *o, const char *k)
{
    const json_t *v = json_object_get(o, k);
    return json_is_number(v) ? json_number_value(v) : NAN;
}

ipw_err ipw_sweep_row_read(const char *summary_path, const char *csv_path,
                           struct ipw_sweep_row *row, ipw_errbuf *eb)
{
    memset(row, 0, sizeof *row);
    json_error_t je;
    json_t *s = json_load_file(summary_path, 0, &je);
    if (!s)
        return ipw_fail(eb, IPW_E_INVALID, "%s: %s", summary_path, je.text);
    double *ttft = NULL, *tpot = NULL, *lat = NULL;
    size_t n = 0;
    ipw_err e = read_csv(csv_path, &ttft, &tpot, &lat, &n, eb);
    if (e) {
        json_decref(s);
        return e;
    }
    row->requests = jnum(s, "requests");
    row->total_s = jnum(s, "total_clock_ns") / 1e9;
    double gen = jnum(s, "generated_tokens");
    row->tok_s = gen / row->total_s;
    row->req_s = row->requests / row->total_s;
    row->ttft_p50_ms = pct(ttft, n, 50) / 1e6;
    row->ttft_p99_ms = pct(ttft, n, 99) / 1e6;
    row->tpot_p50_ms = pct(tpot, n, 50) / 1e6;
    row->tpot_p99_ms = pct(tpot, n, 99) / 1e6;
    row->latency_p99_s = pct(lat, n, 99) / 1e9;
    row->roofline = !strcmp(json_string_value(json_object_get(s, "perf_model")) ?: "",
                            "roofline");
    static const char *const keys[7] = {"base", "npu", "cpu", "memory", "link", "nic",
                                        "storage"};
    const json_t *nodes = json_object_get(s, "nodes");
    bool power = json_is_true(json_object_get(s, "power_modelled")) && json_array_size(nodes);
    for (int k = 0; k < 7; k++)
        row->energy[k] = power ? 0 : NAN;
    row->energy_total_j = row->npu_active_j = row->npu_standby_j = row->npu_idle_j =
        power ? 0 : NAN;
    size_t i;
    const json_t *nd;
    json_array_foreach(power ? nodes : NULL, i, nd)
    {
        const json_t *ej = json_object_get(nd, "energy_j"), *nj = json_object_get(nd, "npu_j");
        for (int k = 0; k < 7; k++)
            row->energy[k] += jnum(ej, keys[k]);
        row->energy_total_j += jnum(ej, "total");
        row->npu_active_j += jnum(nj, "active");
        row->npu_standby_j += jnum(nj, "standby");
        row->npu_idle_j += jnum(nj, "idle");
    }
    row->j_per_token = row->energy_total_j / gen;
    row->avg_power_w = row->energy_total_j / row->total_s;
    row->ok = true;
    free(ttft);
    free(tpot);
    free(lat);
    json_decref(s);
    return IPW_OK;
}

static bool usable(const struct ipw_sweep_row *r)
{
    return r->ok && isfinite(r->j_per_token);
}

void ipw_sweep_pareto(struct ipw_sweep_row *rows, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        rows[i].pareto_tput = rows[i].pareto_lat = usable(&rows[i]);
        if (!usable(&rows[i]))
            continue;
        for (size_t j = 0; j < n; j++) {
            if (j == i || !usable(&rows[j]))
                continue;
            const struct ipw_sweep_row *a = &rows[j], *b = &rows[i];
            if (a->j_per_token <= b->j_per_token && a->tok_s >= b->tok_s &&
                (a->j_per_token < b->j_per_token || a->tok_s > b->tok_s))
                rows[i].pareto_tput = false;
            if (a->j_per_token <= b->j_per_token && a->latency_p99_s <= b->latency_p99_s &&
                (a->j_per_token < b->j_per_token || a->latency_p99_s < b->latency_p99_s))
                rows[i].pareto_lat = false;
        }
    }
}

static void num(struct ipw_buf *b, double v)
{
    if (isfinite(v))
        ipw_buf_putf(b, ",%.6g", v);
    else
        ipw_buf_puts(b, ",");
}

ipw_err ipw_sweep_write_csv(const char *path, const struct ipw_sweep_param *p, size_t np,
                            const struct ipw_sweep_row *rows, size_t n, ipw_errbuf *eb)
{
    struct ipw_buf b;
    ipw_buf_init(&b, (size_t)64 << 20);
    ipw_buf_puts(&b, "point");
    for (size_t i = 0; i < np; i++)
        ipw_buf_putf(&b, ",%s", p[i].name);
    ipw_buf_puts(&b, ",status,perf_model,requests,duration_s,throughput_tok_s,throughput_req_s,"
                     "ttft_p50_ms,ttft_p99_ms,tpot_p50_ms,tpot_p99_ms,latency_p99_s,"
                     "j_per_output_token,avg_power_w,energy_total_j,energy_base_j,energy_npu_j,"
                     "energy_cpu_j,energy_memory_j,energy_link_j,energy_nic_j,energy_storage_j,"
                     "npu_active_j,npu_standby_j,npu_idle_j,pareto_energy_throughput,"
                     "pareto_energy_p99_latency\n");
    size_t idx[IPW_SWEEP_MAX_PARAMS];
    for (size_t k = 0; k < n; k++) {
        const struct ipw_sweep_row *r = &rows[k];
        ipw_sweep_point(p, np, k, idx);
        ipw_buf_putf(&b, "%zu", k);
        for (size_t i = 0; i < np; i++)
            ipw_buf_putf(&b, ",%s", p[i].values[idx[i]]);
        if (!r->ok) {
            /* the error is quoted, with its quotes doubled */
            ipw_buf_puts(&b, ",\"failed: ");
            for (const char *c = r->error; *c; c++)
                ipw_buf_puts(&b, *c == '"' ? "\"\"" : (char[]){*c, 0});
            ipw_buf_puts(&b, "\"");
            for (int i = 0; i < 25; i++)
                ipw_buf_puts(&b, ",");
            ipw_buf_puts(&b, "\n");
            continue;
        }
        ipw_buf_puts(&b, ",modelled");
        ipw_buf_puts(&b, r->roofline ? ",roofline" : ",table");
        double v[] = {r->requests,      r->total_s,        r->tok_s,          r->req_s,
                      r->ttft_p50_ms,   r->ttft_p99_ms,    r->tpot_p50_ms,    r->tpot_p99_ms,
                      r->latency_p99_s, r->j_per_token,    r->avg_power_w,    r->energy_total_j,
                      r->energy[0],     r->energy[1],      r->energy[2],      r->energy[3],
                      r->energy[4],     r->energy[5],      r->energy[6],      r->npu_active_j,
                      r->npu_standby_j, r->npu_idle_j};
        for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
            num(&b, v[i]);
        ipw_buf_putf(&b, ",%d,%d\n", r->pareto_tput, r->pareto_lat);
    }
    ipw_err e = ipw_buf_status(&b);
    if (e)
        e = ipw_fail(eb, e, "the sweep CSV is too large");
    else
        e = ipw_write_file_atomic(path, b.p, b.len, eb);
    ipw_buf_free(&b);
    return e;
}
