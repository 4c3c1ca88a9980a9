/* `ipw simulate --from-run` (issue 14 item 3): a measured run replayed on other hardware.
 *
 * The run's queries become a simulator trace (input and output tokens; arrivals at the run's
 * request start times, or Poisson at --arrival-rate), the hardware spec becomes a one-node
 * cluster config whose power block is the accelerator alone (idle, busy = the spec's power in
 * bandwidth-bound steps, no standby: the run's per-query energies are its main domain, and
 * idle time between queries belongs to no query), and the model spec a Hugging Face config,
 * all in a private temporary data directory. The simulator gives each query's arrival and end
 * under the roofline model; each query gets the accelerator's busy power over the time it was
 * in flight, shared equally among the queries in flight (the rule of ipw profile
 * --concurrency). The simulator's own NPU energy (which adds idle time between queries) is
 * reported beside it. Where the run measured the host CPU package and DRAM beside a GPU main
 * domain (every replayed query has gpu_, cpu_ and dram_joules), those are compared too, so
 * that predicted and measured energy cover the same components: only the accelerator is
 * swapped, so the host draws what it drew in the run while queries were in flight. */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ipw/buf.h"
#include "ipw/fsutil.h"
#include "ipw/predict.h"
#include "ipw/run_reader.h"

#define MAX_QUERIES 10000000

struct mq {
    double start_s, in, out, energy_j, latency_s, ttft_s, gpu_j, cpu_j, dram_j;
};

struct rows {
    struct ipw_fromrun_result *res;
    int64_t *arrival, *end;
};

static ipw_err on_row(void *ud, const struct ipw_ss_row *r, ipw_errbuf *eb)
{
    struct rows *w = ud;
    if (r->id < 0 || (size_t)r->id >= w->res->n)
        return ipw_fail(eb, IPW_E_INTERNAL, "simulated request %lld is not in the run",
                        (long long)r->id);
    struct ipw_fromrun_query *q = &w->res->q[r->id];
    q->pred_latency_s = (double)r->latency / 1e9;
    q->pred_ttft_s = (double)r->ttft / 1e9;
    w->arrival[r->id] = r->arrival;
    w->end[r->id] = r->end_time;
    return IPW_OK;
}

static int cmpd(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, size_t n)
{
    qsort(v, n, sizeof *v, cmpd);
    return n == 0 ? NAN : n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static ipw_err write_text(const char *path, const char *text, ipw_errbuf *eb)
{
    return ipw_write_file_atomic(path, text, strlen(text), eb);
}

/* The model spec as the Hugging Face config the simulator reads. */
static ipw_err write_model(const char *dir, const struct ipw_model_spec *m, ipw_errbuf *eb)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/configs/model", dir);
    ipw_err e = ipw_mkdir_p(path, eb);
    if (e)
        return e;
    json_t *j = json_pack("{s:s,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:s,s:b}", "model_type", "llama",
                          "hidden_size", (json_int_t)m->hidden, "intermediate_size",
                          (json_int_t)m->intermediate, "num_hidden_layers", (json_int_t)m->layers,
                          "num_attention_heads", (json_int_t)m->heads, "num_key_value_heads",
                          (json_int_t)m->kv_heads, "head_dim", (json_int_t)m->head_dim,
                          "vocab_size", (json_int_t)m->vocab, "max_position_embeddings",
                          (json_int_t)(m->max_context > 0 ? m->max_context : 131072),
                          "torch_dtype", "bfloat16", "tie_word_embeddings", m->tied_embeddings);
    char *text = json_dumps(j, JSON_INDENT(1));
    json_decref(j);
    if (!text)
        return ipw_fail(eb, IPW_E_NOMEM, "out of memory");
    snprintf(path, sizeof path, "%s/configs/model/%s.json", dir, m->name);
    e = write_text(path, text, eb);
    free(text);
    return e;
}

/* One node, one instance of the model on tp devices of the hardware; the accelerator's power. */
static ipw_err write_cluster(const char *path, const struct ipw_hw_spec *hw,
                             const struct ipw_model_spec *m, int tp, ipw_errbuf *eb)
{
    double busy = ipw_hw_power_w(hw, hw->util_bw);
    double link = hw->link_bw > 0 ? hw->link_bw / 1073741824.0 : 16;
    json_t *npu = json_object();
    json_object_set_new(npu, hw->name,
                        json_pack("{s:f,s:f,s:f,s:f}", "idle_power", hw->idle_w, "standby_power",
                                  hw->idle_w, "active_power", busy, "standby_duration", 0.0));
    json_t *power = json_pack(
        "{s:f,s:o,s:{s:f,s:f,s:f},s:{s:f,s:f,s:f},s:{s:f,s:f,s:f},s:{s:f,s:f},s:{s:f,s:f}}",
        "base_node_power", 0.0, "npu", npu, "cpu", "idle_power", 0.0, "active_power", 0.0, "util",
        0.0, "dram", "dimm_size", 32.0, "idle_power", 0.0, "energy_per_bit", 0.0, "link",
        "num_links", 0.0, "idle_power", 0.0, "energy_per_bit", 0.0, "nic", "num_nics", 0.0,
        "idle_power", 0.0, "storage", "num_devices", 0.0, "idle_power", 0.0);
    json_t *inst = json_pack("{s:s,s:s,s:{s:f,s:f,s:f},s:n,s:i}", "model_name", m->name,
                             "hardware", hw->name, "npu_mem", "mem_size",
                             hw->mem_bytes / 1073741824.0, "mem_bw", hw->mem_bw / 1e9,
                             "mem_latency", 0.0, "pd_type", "tp_size", tp);
    json_t *c = json_pack("{s:i,s:f,s:f,s:[{s:i,s:{s:f,s:f,s:f},s:[o],s:o}]}", "num_nodes", 1,
                          "link_bw", link, "link_latency", 0.0, "nodes", "num_instances", 1,
                          "cpu_mem", "mem_size", 512.0, "mem_bw", 256.0, "mem_latency", 0.0,
                          "instances", inst, "power", power);
    char *text = c ? json_dumps(c, JSON_INDENT(1)) : NULL;
    json_decref(c);
    if (!text)
        return ipw_fail(eb, IPW_E_NOMEM, "cannot build the cluster config");
    ipw_err e = write_text(path, text, eb);
    free(text);
    return e;
}

/* The run's usable queries, its accuracy and the names of its model and hardware. */
static ipw_err read_run(const struct ipw_fromrun_options *o, struct ipw_fromrun_result *res,
                        struct ipw_model_spec *m, struct mq **out, ipw_errbuf *eb)
{
    struct ipw_run_reader *r;
    ipw_err e = ipw_run_reader_open(o->run_dir, NULL, &r, eb);
    if (e)
        return e;
    const struct ipw_run_info *info = ipw_run_reader_info(r);
    snprintf(res->measured_hardware, sizeof res->measured_hardware, "%s",
             *info->gpu_name ? info->gpu_name : info->hardware_label);
    res->run_modelled = info->modelled;
    if (o->model ? ipw_model_spec_load(o->model, m, eb) != IPW_OK
                 : !ipw_model_spec_match(info->model, m)) {
        if (!o->model)
            ipw_fail(eb, IPW_E_NOTFOUND, "%s: model '%s' matches no bundled model spec; give "
                     "--model NAME or a model spec JSON (docs/sim.md)", o->run_dir, info->model);
        ipw_run_reader_close(r);
        return eb ? eb->code : IPW_E_NOTFOUND;
    }
    struct mq *q = NULL;
    size_t n = 0, cap = 0;
    long correct = 0;
    res->scored = 0;
    for (;;) {
        struct ipw_run_query rq;
        bool eof;
        if ((e = ipw_run_reader_next(r, &rq, &eof, eb)) || eof)
            break;
        if (rq.failed || !(rq.input_tokens >= 1) || !(rq.output_tokens >= 1) ||
            !(rq.energy_j > 0) || !(rq.latency_s > 0))
            continue;
        if (rq.prior_correct >= 0) {
            res->scored++;
            correct += rq.prior_correct;
        }
        if ((e = ipw_grow(&q, &cap, n + 1, sizeof *q, MAX_QUERIES))) {
            ipw_fail(eb, e, "%s: more than %d usable records", o->run_dir, MAX_QUERIES);
            break;
        }
        q[n++] = (struct mq){rq.start_s, rq.input_tokens, rq.output_tokens, rq.energy_j,
                             rq.latency_s, rq.ttft_s, rq.gpu_j, rq.cpu_j, rq.dram_j};
    }
    ipw_run_reader_close(r);
    if (!e && n == 0)
        e = ipw_fail(eb, IPW_E_INVALID, "%s: no record has tokens, an energy and a latency to "
                     "replay", o->run_dir);
    if (e) {
        free(q);
        return e;
    }
    res->accuracy = res->scored ? (double)correct / (double)res->scored : NAN;
    res->n = n;
    *out = q;
    return IPW_OK;
}

/* The components every query measured: the host's only beside a GPU main domain (a CPU-only
 * run's main domain is the CPU package already). */
static unsigned components(const struct mq *q, size_t n)
{
    unsigned c = IPW_FROMRUN_ACCEL | IPW_FROMRUN_CPU | IPW_FROMRUN_DRAM;
    for (size_t i = 0; i < n; i++) {
        if (!(q[i].gpu_j >= 0))
            return IPW_FROMRUN_ACCEL;
        if (!(q[i].cpu_j >= 0))
            c &= ~(unsigned)IPW_FROMRUN_CPU;
        if (!(q[i].dram_j >= 0))
            c &= ~(unsigned)IPW_FROMRUN_DRAM;
    }
    return c;
}

static int cmp_start(const void *a, const void *b)
{
    const struct mq *x = a, *y = b;
    return x->start_s < y->start_s ? -1 : x->start_s > y->start_s;
}

/* Seconds during which at least one query was in flight in the run (the union of the
 * queries' windows; the sum of latencies where a start time is missing). */
static double busy_seconds(const struct mq *q, size_t n)
{
    double sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += q[i].latency_s;
    struct mq *s = malloc(n * sizeof *s);
    if (!s)
        return sum;
    memcpy(s, q, n * sizeof *s);
    for (size_t i = 0; i < n; i++)
        if (isnan(s[i].start_s)) {
            free(s);
            return sum;
        }
    qsort(s, n, sizeof *s, cmp_start);
    double busy = 0, lo = s[0].start_s, hi = s[0].start_s + s[0].latency_s;
    for (size_t i = 1; i < n; i++) {
        double a = s[i].start_s, b = a + s[i].latency_s;
        if (a > hi) {
            busy += hi - lo;
            lo = a;
            hi = b;
        } else if (b > hi) {
            hi = b;
        }
    }
    free(s);
    return busy + (hi - lo);
}

/* Was the run sequential: each query started after the previous one ended (1 ms slack)? */
static bool sequential(const struct mq *q, size_t n)
{
    for (size_t i = 1; i < n; i++)
        if (!isnan(q[i].start_s) && !isnan(q[i - 1].start_s) &&
            q[i].start_s + 1e-3 < q[i - 1].start_s + q[i - 1].latency_s)
            return false;
    return true;
}

/* Arrival times in ns: Poisson at the given rate (xorshift64*, fixed seed); for a sequential
 * run each query alone, `spacing` seconds apart (the what-if of one query at a time); else
 * the run's own start times. */
static void arrivals(const struct ipw_fromrun_options *o, const struct mq *q, size_t n,
                     bool seq, const double *spacing, int64_t *at)
{
    if (o->arrival_rate > 0) {
        uint64_t x = o->seed ? o->seed : 42;
        double t = 0;
        for (size_t i = 0; i < n; i++) {
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            double u = ((double)((x * 2685821657736338717ULL) >> 11) + 0.5) / 9007199254740992.0;
            t += -log(u) / o->arrival_rate;
            at[i] = (int64_t)(t * 1e9);
        }
        return;
    }
    double t0 = q[0].start_s, prev = 0;
    for (size_t i = 0; i < n; i++) {
        double t = seq ? (i ? prev + spacing[i - 1] : 0)
                   : isnan(q[i].start_s) || isnan(t0) ? (i ? prev + q[i - 1].latency_s : 0)
                                                      : q[i].start_s - t0;
        if (t < prev) /* concurrent runs write records out of order: keep the trace sorted */
            t = prev;
        at[i] = (int64_t)(t * 1e9);
        prev = t;
    }
}

static ipw_err write_trace(const char *path, const struct mq *q, const int64_t *at, size_t n,
                           ipw_errbuf *eb)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return ipw_fail(eb, IPW_E_IO, "cannot write %s: %s", path, strerror(errno));
    for (size_t i = 0; i < n; i++)
        fprintf(f, "{\"input_toks\": %ld, \"output_toks\": %ld, \"arrival_time_ns\": %lld}\n",
                (long)q[i].in, (long)q[i].out, (long long)at[i]);
    bool bad = ferror(f) != 0;
    if (fclose(f) || bad)
        return ipw_fail(eb, IPW_E_IO, "cannot write %s: %s", path, strerror(errno));
    return IPW_OK;
}

struct ev {
    int64_t t;
    int d; /* +1 a query arrives, -1 one ends */
};

static int cmpev(const void *x, const void *y)
{
    const struct ev *a = x, *b = y;
    if (a->t != b->t)
        return a->t < b->t ? -1 : 1;
    return a->d - b->d; /* ends before arrivals at the same instant */
}

static int64_t find(const struct ev *v, size_t n, int64_t t)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (v[mid].t < t)
            lo = mid + 1;
        else
            hi = mid;
    }
    return (int64_t)lo;
}

/* Each query's share of the accelerator energy while it was in flight: the accelerators
 * draw `busy` watts whenever a query is in flight (the scheduler batches whatever is there),
 * shared equally among the queries in flight. A(t) = ∫ 1/n(t) dt is accumulated over the
 * sorted arrivals and ends; a query gets busy × (A(end) − A(arrival)). */
static ipw_err attribute(const int64_t *a, const int64_t *e, size_t n, double busy,
                         double *out_j, ipw_errbuf *eb)
{
    struct ev *v = malloc(2 * n * sizeof *v);
    double *A = malloc(2 * n * sizeof *A);
    if (!v || !A) {
        free(v);
        free(A);
        return ipw_fail(eb, IPW_E_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        v[2 * i] = (struct ev){a[i], 1};
        v[2 * i + 1] = (struct ev){e[i], -1};
    }
    qsort(v, 2 * n, sizeof *v, cmpev);
    long inflight = 0;
    double acc = 0;
    for (size_t k = 0; k < 2 * n; k++) {
        if (k && inflight > 0)
            acc += (double)(v[k].t - v[k - 1].t) / 1e9 / (double)inflight;
        A[k] = acc;
        inflight += v[k].d;
    }
    for (size_t i = 0; i < n; i++) {
        /* the first event at a time carries A at that time (A is continuous) */
        out_j[i] = busy * (A[find(v, 2 * n, e[i])] - A[find(v, 2 * n, a[i])]);
    }
    free(v);
    free(A);
    return IPW_OK;
}

static void side(struct ipw_fromrun_side *s, const struct ipw_fromrun_result *r, bool pred)
{
    memset(s, 0, sizeof *s);
    double *lat = malloc(r->n * sizeof *lat);
    double tokens = 0, pw = 0;
    for (size_t i = 0; i < r->n; i++) {
        const struct ipw_fromrun_query *q = &r->q[i];
        double j = pred ? q->pred_j : q->meas_j, l = pred ? q->pred_latency_s : q->meas_latency_s;
        s->total_energy_j += j;
        s->latency_mean_s += l / (double)r->n;
        s->ttft_mean_s += (pred ? q->pred_ttft_s : q->meas_ttft_s) / (double)r->n;
        pw += l > 0 ? j / l : 0;
        tokens += (double)q->output_tokens;
        if (lat)
            lat[i] = l;
    }
    s->energy_per_query_j = s->total_energy_j / (double)r->n;
    s->j_per_output_token = s->total_energy_j / tokens;
    s->power_mean_w = pw / (double)r->n;
    s->latency_p50_s = lat ? median(lat, r->n) : NAN;
    s->ipj = r->accuracy / s->energy_per_query_j;
    s->ipw = r->accuracy / s->power_mean_w;
    free(lat);
}

static void rm_tree(const char *dir)
{
    static const char *const files[] = {"cluster.json", "trace.jsonl", NULL};
    char path[4200];
    for (const char *const *f = files; *f; f++) {
        snprintf(path, sizeof path, "%s/%s", dir, *f);
        unlink(path);
    }
}

ipw_err ipw_fromrun(const struct ipw_fromrun_options *o, struct ipw_fromrun_result *res,
                    ipw_errbuf *eb)
{
    memset(res, 0, sizeof *res);
    if (!o->hardware == !o->hardware_spec)
        return ipw_fail(eb, IPW_E_INVALID, "--from-run needs --hardware NAME or "
                        "--hardware-spec HW.json (one of them)");
    struct ipw_hw_spec hw;
    struct ipw_model_spec m;
    ipw_err e = ipw_hw_spec_load(o->hardware_spec ? o->hardware_spec : o->hardware, &hw, eb);
    if (e)
        return e;
    struct mq *mq = NULL;
    if ((e = read_run(o, res, &m, &mq, eb)))
        return e;
    snprintf(res->hardware, sizeof res->hardware, "%s", hw.name);
    snprintf(res->model, sizeof res->model, "%s", m.name);
    res->tp = o->tp > 1 ? o->tp : 1;
    res->arrival_rate = o->arrival_rate;
    res->q = calloc(res->n, sizeof *res->q);
    int64_t *at = calloc(res->n, sizeof *at), *a2 = calloc(res->n, sizeof *a2),
            *en = calloc(res->n, sizeof *en);
    double *pj = calloc(res->n, sizeof *pj), *spacing = calloc(res->n, sizeof *spacing);
    char dir[] = "/tmp/ipw-fromrun-XXXXXX";
    bool made = false;
    struct ipw_ss_sim *sim = NULL;
    struct ipw_ss_result sr;
    memset(&sr, 0, sizeof sr);
    if (!res->q || !at || !a2 || !en || !pj || !spacing) {
        e = ipw_fail(eb, IPW_E_NOMEM, "out of memory");
        goto out;
    }
    res->components = components(mq, res->n);
    double cpu_j = 0, dram_j = 0, busy_s = busy_seconds(mq, res->n);
    for (size_t i = 0; i < res->n; i++) {
        cpu_j += res->components & IPW_FROMRUN_CPU ? mq[i].cpu_j : 0;
        dram_j += res->components & IPW_FROMRUN_DRAM ? mq[i].dram_j : 0;
    }
    /* a domain that read 0 J throughout was not really measured (a collector without it) */
    if (!(cpu_j > 0))
        res->components &= ~(unsigned)IPW_FROMRUN_CPU;
    if (!(dram_j > 0))
        res->components &= ~(unsigned)IPW_FROMRUN_DRAM;
    for (size_t i = 0; i < res->n; i++) {
        struct ipw_fromrun_query *q = &res->q[i];
        q->meas_accel_j = mq[i].energy_j;
        q->meas_j = mq[i].energy_j;
        if (res->components & IPW_FROMRUN_CPU)
            q->meas_j += mq[i].cpu_j;
        if (res->components & IPW_FROMRUN_DRAM)
            q->meas_j += mq[i].dram_j;
        q->meas_latency_s = mq[i].latency_s;
        q->meas_ttft_s = mq[i].ttft_s;
        q->input_tokens = (long)mq[i].in;
        q->output_tokens = (long)mq[i].out;
        en[i] = -1;
    }
    res->host_cpu_w = res->components & IPW_FROMRUN_CPU && busy_s > 0 ? cpu_j / busy_s : NAN;
    res->host_dram_w = res->components & IPW_FROMRUN_DRAM && busy_s > 0 ? dram_j / busy_s : NAN;
    bool seq = o->arrival_rate <= 0 && sequential(mq, res->n);
    res->paced = o->arrival_rate <= 0;
    res->sequential = seq;
    for (size_t i = 0; i < res->n; i++)
        spacing[i] = fmax(0.5, 4 * mq[i].latency_s);
    if (!mkdtemp(dir)) {
        e = ipw_fail(eb, IPW_E_IO, "cannot create a temporary directory: %s", strerror(errno));
        goto out;
    }
    made = true;
    char cpath[sizeof dir + 32], tpath[sizeof dir + 32];
    snprintf(cpath, sizeof cpath, "%s/cluster.json", dir);
    snprintf(tpath, sizeof tpath, "%s/trace.jsonl", dir);
    if ((e = write_model(dir, &m, eb)) || (e = write_cluster(cpath, &hw, &m, res->tp, eb)))
        goto out;
    /* a sequential run: until no query overlaps the next (slower hardware needs more room) */
    for (int pass = 0;; pass++) {
        arrivals(o, mq, res->n, seq, spacing, at);
        if ((e = write_trace(tpath, mq, at, res->n, eb)))
            goto out;
        struct ipw_ss_options so;
        ipw_ss_options_init(&so);
        so.cluster_config = cpath;
        so.dataset = tpath;
        so.data_dir = dir;
        so.perf_roofline = true;
        so.hardware_spec = o->hardware_spec;
        so.max_num_seqs = o->max_num_seqs > 0 ? o->max_num_seqs : 128;
        ipw_ss_result_free(&sr);
        memset(&sr, 0, sizeof sr);
        ipw_ss_free(sim);
        sim = NULL;
        for (size_t i = 0; i < res->n; i++)
            en[i] = -1;
        if ((e = ipw_ss_load(&so, &sim, eb)))
            goto out;
        struct rows w = {res, a2, en};
        struct ipw_ss_sink sink = {&w, on_row, NULL, NULL};
        if ((e = ipw_ss_run(sim, &sink, &sr, eb)))
            goto out;
        for (size_t i = 0; i < res->n; i++)
            if (en[i] < 0) {
                e = ipw_fail(eb, IPW_E_INTERNAL, "query %zu did not finish in the simulation", i);
                goto out;
            }
        bool overlap = false;
        for (size_t i = 0; seq && i + 1 < res->n; i++)
            if (en[i] > a2[i + 1]) {
                overlap = true;
                spacing[i] = fmax(spacing[i], 2.0 * (double)(en[i] - a2[i]) / 1e9 + 0.05);
            }
        if (!overlap || pass == 3)
            break;
    }
    res->sim_seconds = (double)sr.total_clock_ns / 1e9;
    /* each query's share of the in-flight time (s); the power series holds all tp devices */
    double busy = ipw_hw_power_w(&hw, hw.util_bw) * res->tp;
    if ((e = attribute(a2, en, res->n, 1.0, pj, eb)))
        goto out;
    res->sim_npu_j = sr.power && sr.n_nodes ? sr.nodes[0].npu : NAN;
    double *err = malloc(res->n * sizeof *err), *err_a = malloc(res->n * sizeof *err_a);
    for (size_t i = 0; i < res->n; i++) {
        struct ipw_fromrun_query *q = &res->q[i];
        q->pred_accel_j = busy * pj[i];
        q->pred_j = q->pred_accel_j;
        if (res->components & IPW_FROMRUN_CPU)
            q->pred_j += res->host_cpu_w * pj[i];
        if (res->components & IPW_FROMRUN_DRAM)
            q->pred_j += res->host_dram_w * pj[i];
        if (err && err_a) {
            err[i] = fabs(q->pred_j - q->meas_j) / q->meas_j;
            err_a[i] = fabs(q->pred_accel_j - q->meas_accel_j) / q->meas_accel_j;
        }
    }
    res->median_abs_err = err && err_a ? median(err, res->n) : NAN;
    res->median_abs_err_accel = err && err_a ? median(err_a, res->n) : NAN;
    free(err);
    free(err_a);
    side(&res->measured, res, false);
    side(&res->predicted, res, true);
out:
    ipw_ss_result_free(&sr);
    ipw_ss_free(sim);
    if (made) {
        rm_tree(dir);
        char p[sizeof dir + 64];
        snprintf(p, sizeof p, "%s/configs/model/%s.json", dir, m.name);
        unlink(p);
        /* what write_model made, deepest first */
        snprintf(p, sizeof p, "%s/configs/model", dir);
        rmdir(p);
        snprintf(p, sizeof p, "%s/configs", dir);
        rmdir(p);
        rmdir(dir);
    }
    free(mq);
    free(at);
    free(a2);
    free(en);
    free(pj);
    free(spacing);
    if (e)
        ipw_fromrun_result_free(res);
    return e;
}

void ipw_fromrun_result_free(struct ipw_fromrun_result *res)
{
    free(res->q);
    res->q = NULL;
    res->n = 0;
}

static json_t *side_json(const struct ipw_fromrun_side *s)
{
    json_t *j = json_pack("{s:f,s:f,s:f,s:f,s:f,s:f,s:f}", "energy_per_query_j",
                          s->energy_per_query_j, "j_per_output_token", s->j_per_output_token,
                          "latency_mean_s", s->latency_mean_s, "latency_p50_s", s->latency_p50_s,
                          "ttft_mean_s", s->ttft_mean_s, "power_mean_w", s->power_mean_w,
                          "total_energy_j", s->total_energy_j);
    json_object_set_new(j, "ipj", isnan(s->ipj) ? json_null() : json_real(s->ipj));
    json_object_set_new(j, "ipw", isnan(s->ipw) ? json_null() : json_real(s->ipw));
    return j;
}

json_t *ipw_fromrun_json(const struct ipw_fromrun_result *r)
{
    json_t *j = json_pack("{s:s,s:s,s:s,s:s,s:i,s:b,s:b,s:I,s:f,s:f}", "schema",
                          "ipw.prediction/1", "note",
                          "predicted by ipw simulate --from-run: " IPW_SS_ROOF_NOTE
                          "; measured figures are the run's own",
                          "hardware", r->hardware, "model", r->model, "tp", r->tp, "paced",
                          r->paced, "sequential", r->sequential, "queries", (json_int_t)r->n,
                          "simulated_seconds", r->sim_seconds, "median_abs_energy_error", r->median_abs_err);
    json_object_set_new(j, "measured_hardware", json_string(r->measured_hardware));
    /* what the "measured" side is: a sim-client run's energies are modelled, not metered */
    json_object_set_new(j, "run_energy", json_string(r->run_modelled ? "modelled" : "measured"));
    json_t *comp = json_array();
    json_array_append_new(comp, json_string("accelerator"));
    if (r->components & IPW_FROMRUN_CPU)
        json_array_append_new(comp, json_string("cpu"));
    if (r->components & IPW_FROMRUN_DRAM)
        json_array_append_new(comp, json_string("dram"));
    json_object_set_new(j, "energy_components", comp);
    if (r->components != IPW_FROMRUN_ACCEL)
        json_object_set_new(j, "host_power_w",
                            json_pack("{s:o,s:o,s:s}", "cpu",
                                      isnan(r->host_cpu_w) ? json_null() : json_real(r->host_cpu_w),
                                      "dram",
                                      isnan(r->host_dram_w) ? json_null()
                                                            : json_real(r->host_dram_w),
                                      "note", "the run's own (its joules over the time a query "
                                      "was in flight): only the accelerator is swapped"));
    json_object_set_new(j, "median_abs_energy_error_accelerator",
                        json_real(r->median_abs_err_accel));
    json_object_set_new(j, "simulator_npu_energy_j",
                        isnan(r->sim_npu_j) ? json_null() : json_real(r->sim_npu_j));
    json_object_set_new(j, "arrival_rate", r->arrival_rate > 0 ? json_real(r->arrival_rate)
                                                               : json_null());
    json_object_set_new(j, "accuracy", isnan(r->accuracy) ? json_null()
                                                          : json_real(r->accuracy));
    json_object_set_new(j, "measured", side_json(&r->measured));
    json_object_set_new(j, "predicted", side_json(&r->predicted));
    return j;
}
