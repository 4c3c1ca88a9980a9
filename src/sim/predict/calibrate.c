/* `ipw simulate calibrate` (issue 14 item 2): fit a hardware spec to a measured run.
 *
 * The model is the one the sim client and the simulator's roofline share (docs/sim.md):
 * a prefill takes max(FLOPs / (peak·η_c), bytes / (bw·η_b)), a decode step bytes / (bw·η_b),
 * and the accelerator draws idle + (active − idle)·u, with u = u_c in compute-bound steps and
 * u_b in bandwidth-bound ones. From the run's records (tokens, TTFT, decode time, prefill and
 * decode energy of the main domain) and its idle baseline, least squares give
 *   1/η_b   from the decode times against the bytes each decode streams,
 *   1/η_c   from the prefill times of the queries whose prefill is compute-bound,
 *   P_c, P_b (the busy power in either kind of step) from the energies above idle,
 * and the held-out error comes from k-fold cross-validation: fit on k−1 folds, predict the
 * held-out queries' energy from their token counts alone. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ipw/buf.h"
#include "ipw/fsutil.h"
#include "ipw/predict.h"
#include "ipw/run_reader.h"

#define MAX_QUERIES 10000000

/* One usable query and the roofline work its phases do under the base spec. */
struct cq {
    double n_in, n_out, ttft, dec_s, e_pre, e_dec;
    double pre_flops, pre_bytes; /* the prefill step */
    double dec_bytes;            /* all decode steps together */
};

struct fit {
    double eff_c, eff_b, p_c, p_b; /* p_*: busy power, W */
    bool compute_identified;
};

static double prefill_s(const struct ipw_perf *pm, const struct fit *f, const struct cq *q,
                        bool *compute_bound)
{
    double c = q->pre_flops / (pm->peak_flops * f->eff_c),
           m = q->pre_bytes / (pm->hw.mem_bw * f->eff_b);
    *compute_bound = c > m;
    return fmax(c, m);
}

/* Fit on the queries whose fold differs from `skip` (-1: all). */
static void do_fit(const struct ipw_perf *pm, const struct cq *q, size_t n, const int *fold,
                   int skip, double idle, struct fit *f)
{
    /* decode: t = (1/η_b) · bytes / bw, least squares through the origin */
    double sxy = 0, sxx = 0;
    for (size_t i = 0; i < n; i++) {
        if (fold[i] == skip || q[i].dec_bytes <= 0)
            continue;
        double a = q[i].dec_bytes / pm->hw.mem_bw;
        sxy += a * q[i].dec_s;
        sxx += a * a;
    }
    f->eff_b = sxy > 0 ? sxx / sxy : pm->hw.eff_bw;
    /* prefill: t = (1/η_c) · FLOPs / peak over the compute-bound queries: those the base
     * spec calls compute-bound at half its compute efficiency or better, and whose prefill
     * took clearly longer (10 %) than streaming the weights at the fitted bandwidth */
    f->eff_c = pm->hw.eff_compute;
    sxy = sxx = 0;
    for (size_t i = 0; i < n; i++) {
        double m = q[i].pre_bytes / (pm->hw.mem_bw * f->eff_b);
        if (fold[i] == skip || q[i].ttft <= 1.1 * m ||
            q[i].pre_flops / (pm->peak_flops * pm->hw.eff_compute * 0.5) <= m)
            continue;
        double a = q[i].pre_flops / pm->peak_flops;
        sxy += a * q[i].ttft;
        sxx += a * a;
    }
    f->compute_identified = sxy > 0;
    if (f->compute_identified)
        f->eff_c = sxx / sxy;
    /* power: E − idle·t = ΔP_c · t_c + ΔP_b · t_b (2 × 2 normal equations) */
    double a11 = 0, a12 = 0, a22 = 0, b1 = 0, b2 = 0, sb = 0, sbe = 0;
    for (size_t i = 0; i < n; i++) {
        if (fold[i] == skip)
            continue;
        bool cb;
        prefill_s(pm, f, &q[i], &cb);
        double tc = cb ? q[i].ttft : 0, tb = (cb ? 0 : q[i].ttft) + q[i].dec_s;
        double y = q[i].e_pre + q[i].e_dec - idle * (q[i].ttft + q[i].dec_s);
        a11 += tc * tc;
        a12 += tc * tb;
        a22 += tb * tb;
        b1 += tc * y;
        b2 += tb * y;
        sb += tb * tb;
        sbe += tb * y;
    }
    double det = a11 * a22 - a12 * a12;
    if (a11 > 0 && fabs(det) > 1e-12 * a11 * a22) {
        f->p_c = idle + (b1 * a22 - b2 * a12) / det;
        f->p_b = idle + (a11 * b2 - a12 * b1) / det;
    } else {
        f->p_b = idle + (sb > 0 ? sbe / sb : 0);
        f->p_c = ipw_hw_power_w(&pm->hw, pm->hw.util_compute);
    }
}

/* The fit's energy for a query, from its tokens alone. */
static double predict_j(const struct ipw_perf *pm, const struct fit *f, const struct cq *q)
{
    bool cb;
    double tp = prefill_s(pm, f, q, &cb);
    double td = q->dec_bytes / (pm->hw.mem_bw * f->eff_b);
    return (cb ? f->p_c : f->p_b) * tp + f->p_b * td;
}

static int cmpd(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static ipw_err resolve_specs(const struct ipw_calib_options *o, struct ipw_run_reader *r,
                             struct ipw_hw_spec *hw, struct ipw_model_spec *m, ipw_errbuf *eb)
{
    const struct ipw_run_info *info = ipw_run_reader_info(r);
    if (o->model) {
        ipw_err e = ipw_model_spec_load(o->model, m, eb);
        if (e)
            return e;
    } else if (!ipw_model_spec_match(info->model, m)) {
        return ipw_fail(eb, IPW_E_NOTFOUND, "%s: model '%s' matches no bundled model spec; give "
                        "--model NAME or a model spec JSON (docs/sim.md)",
                        o->run_dir, info->model);
    }
    if (o->hardware)
        return ipw_hw_spec_load(o->hardware, hw, eb);
    /* the GPU name, without a sim run's "Simulated " prefix, then the hardware label */
    const char *g = info->gpu_name;
    if (!strncmp(g, "Simulated ", 10))
        g += 10;
    const char *cands[] = {info->gpu_name, g, info->hardware_label};
    for (size_t i = 0; i < 3; i++)
        if (*cands[i] && ipw_hw_spec_load(cands[i], hw, NULL) == IPW_OK)
            return IPW_OK;
    return ipw_fail(eb, IPW_E_NOTFOUND, "%s: the run's hardware ('%s', label '%s') matches no "
                    "bundled hardware spec; give --hardware NAME or a spec JSON to start from",
                    o->run_dir, info->gpu_name, info->hardware_label);
}

/* Reads the usable queries, the run's idle power and whether its energies were modelled into
 * res (its spec and model resolved too). */
static ipw_err read_queries(const struct ipw_calib_options *o, struct ipw_calib_result *res,
                            struct cq **out, size_t *nout, ipw_errbuf *eb)
{
    struct ipw_hw_spec *hw = &res->spec;
    struct ipw_model_spec *m = &res->model;
    size_t *nrec = &res->n_records;
    double *idle = &res->idle_w;
    bool *from_baseline = &res->idle_from_baseline;
    struct ipw_run_reader *r;
    ipw_err e = ipw_run_reader_open(o->run_dir, NULL, &r, eb);
    if (e)
        return e;
    struct cq *q = NULL;
    size_t n = 0, cap = 0;
    double idle_sum = 0;
    size_t idle_n = 0;
    *nrec = 0;
    if ((e = resolve_specs(o, r, hw, m, eb)))
        goto out;
    struct ipw_perf pm;
    if ((e = ipw_perf_init(&pm, hw, m, NULL, eb)))
        goto out;
    for (;;) {
        struct ipw_run_query rq;
        bool eof;
        if ((e = ipw_run_reader_next(r, &rq, &eof, eb)) || eof)
            break;
        (*nrec)++;
        if (!isnan(rq.idle_w)) {
            idle_sum += rq.idle_w;
            idle_n++;
        }
        double dec_s = !isnan(rq.decode_s) ? rq.decode_s : rq.latency_s - rq.ttft_s;
        if (rq.failed || !(rq.input_tokens >= 1) || !(rq.output_tokens >= 2) ||
            !(rq.ttft_s > 0) || !(dec_s > 0) || !(rq.prefill_j >= 0) || !(rq.decode_j > 0))
            continue;
        if ((e = ipw_grow(&q, &cap, n + 1, sizeof *q, MAX_QUERIES))) {
            ipw_fail(eb, e, "%s: more than %d usable records", o->run_dir, MAX_QUERIES);
            break;
        }
        struct cq *c = &q[n++];
        memset(c, 0, sizeof *c);
        c->n_in = rq.input_tokens;
        c->n_out = rq.output_tokens;
        c->ttft = rq.ttft_s;
        c->dec_s = dec_s;
        c->e_pre = rq.prefill_j;
        c->e_dec = rq.decode_j;
        struct ipw_perf_step st;
        ipw_perf_prefill(&pm, (long)c->n_in, &st);
        c->pre_flops = st.flops;
        c->pre_bytes = st.bytes;
        for (long j = 0; j + 1 < (long)c->n_out; j++) {
            ipw_perf_decode_step(&pm, (long)c->n_in + j, &st);
            c->dec_bytes += st.bytes;
        }
    }
    if (e)
        goto out;
    /* idle: the run's baseline (summary telemetry.baseline.gpu_watts), else the records' */
    res->run_modelled = ipw_run_reader_info(r)->modelled;
    const json_t *sum = ipw_run_reader_summary(r);
    const json_t *bw = json_object_get(
        json_object_get(json_object_get(sum, "telemetry"), "baseline"), "gpu_watts");
    *from_baseline = json_is_number(bw);
    *idle = *from_baseline ? json_number_value(bw) : idle_n ? idle_sum / (double)idle_n : NAN;
    if (isnan(*idle))
        e = ipw_fail(eb, IPW_E_INVALID, "%s: no idle baseline (summary.json telemetry.baseline."
                     "gpu_watts or the records' idle_power_watts); run ipw profile with "
                     "--baseline-seconds > 0", o->run_dir);
    else if (n < 4)
        e = ipw_fail(eb, IPW_E_INVALID, "%s: %zu usable records (of %zu); calibration needs at "
                     "least 4 with input and >= 2 output tokens, TTFT, decode time and prefill/"
                     "decode energy", o->run_dir, n, *nrec);
out:
    ipw_run_reader_close(r);
    if (e) {
        free(q);
        return e;
    }
    *out = q;
    *nout = n;
    return IPW_OK;
}

ipw_err ipw_calibrate_run(const struct ipw_calib_options *o, struct ipw_calib_result *res,
                          ipw_errbuf *eb)
{
    memset(res, 0, sizeof *res);
    struct cq *q = NULL;
    size_t n = 0;
    ipw_err e = read_queries(o, res, &q, &n, eb);
    if (e)
        return e;
    res->n_used = n;
    struct ipw_perf pm;
    if ((e = ipw_perf_init(&pm, &res->spec, &res->model, NULL, eb))) {
        free(q);
        return e;
    }
    int k = o->folds > 0 ? o->folds : 5;
    if ((size_t)k > n)
        k = (int)n;
    res->folds = k;
    int *fold = malloc(n * sizeof *fold);
    double *err = malloc(n * sizeof *err), *jpt = malloc((size_t)k * sizeof *jpt);
    if (!fold || !err || !jpt) {
        free(fold);
        free(err);
        free(jpt);
        free(q);
        return ipw_fail(eb, IPW_E_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < n; i++)
        fold[i] = (int)(i % (size_t)k); /* interleaved: each fold spans the whole run */

    /* held-out error */
    double sum_pred = 0, sum_meas = 0, jpt_mean = 0, jpt_m2 = 0;
    for (int f = 0; f < k; f++) {
        struct fit ft;
        do_fit(&pm, q, n, fold, f, res->idle_w, &ft);
        for (size_t i = 0; i < n; i++)
            if (fold[i] == f) {
                double meas = q[i].e_pre + q[i].e_dec, pred = predict_j(&pm, &ft, &q[i]);
                err[i] = fabs(pred - meas) / meas;
                sum_pred += pred;
                sum_meas += meas;
            }
        /* decode J/token of this fold's fit, at the run's mean decode work per token */
        double b = 0, t = 0;
        for (size_t i = 0; i < n; i++) {
            b += q[i].dec_bytes;
            t += q[i].n_out - 1;
        }
        jpt[f] = ft.p_b * (b / t) / (pm.hw.mem_bw * ft.eff_b);
        double d = jpt[f] - jpt_mean;
        jpt_mean += d / (f + 1);
        jpt_m2 += d * (jpt[f] - jpt_mean);
    }
    qsort(err, n, sizeof *err, cmpd);
    res->cv_median_abs_err = n % 2 ? err[n / 2] : (err[n / 2 - 1] + err[n / 2]) / 2;
    res->cv_total_err = fabs(sum_pred - sum_meas) / sum_meas;
    res->cv_decode_jpt_sd = k > 1 ? sqrt(jpt_m2 / (k - 1)) : 0;

    /* the fit on every query */
    int *none = fold;
    for (size_t i = 0; i < n; i++)
        none[i] = 0;
    struct fit ft;
    do_fit(&pm, q, n, none, -1, res->idle_w, &ft);
    res->eff_compute = ft.eff_c;
    res->eff_bw = ft.eff_b;
    res->compute_identified = ft.compute_identified;
    res->p_compute_w = ft.p_c;
    res->p_bw_w = ft.p_b;
    double jm = 0, jm2 = 0, pb = 0, pt = 0, terr = 0;
    for (size_t i = 0; i < n; i++) {
        double j = q[i].e_dec / (q[i].n_out - 1), d = j - jm;
        jm += d / (double)(i + 1);
        jm2 += d * (j - jm);
        pb += q[i].dec_bytes;
        pt += q[i].n_out - 1;
        bool cb;
        double tp = prefill_s(&pm, &ft, &q[i], &cb),
               td = q[i].dec_bytes / (pm.hw.mem_bw * ft.eff_b),
               tm = q[i].ttft + q[i].dec_s;
        terr += (tp + td - tm) * (tp + td - tm) / (tm * tm);
    }
    res->decode_j_per_token = jm;
    res->decode_j_per_token_sd = n > 1 ? sqrt(jm2 / (double)(n - 1)) : 0;
    res->pred_decode_j_per_token = ft.p_b * (pb / pt) / (pm.hw.mem_bw * ft.eff_b);
    res->fit_rms_time_err = sqrt(terr / (double)n);

    if (ft.eff_b > 1.05 || ft.eff_c > 1.05) {
        free(fold);
        free(err);
        free(jpt);
        free(q);
        return ipw_fail(eb, IPW_E_INVALID, "%s: the run is faster than %s's peak allows (fitted "
                        "%s efficiency %.2f > 1): give the right --hardware, or, for a sim-client "
                        "run, one made with time_scale=1", o->run_dir, res->spec.name,
                        ft.eff_b > 1.05 ? "bandwidth" : "compute",
                        ft.eff_b > 1.05 ? ft.eff_b : ft.eff_c);
    }
    /* the spec: idle from the baseline; active is the larger of the board's rating and the
     * fitted busy powers, and the utilisations put the fitted powers back */
    struct ipw_hw_spec *s = &res->spec;
    s->idle_w = res->idle_w;
    double top = fmax(ft.p_c, ft.p_b);
    if (s->active_w < top)
        s->active_w = top;
    if (s->active_w <= s->idle_w)
        s->active_w = s->idle_w + 1;
    double span = s->active_w - s->idle_w;
    s->util_bw = fmin(1, fmax(0, (ft.p_b - s->idle_w) / span));
    if (ft.compute_identified)
        s->util_compute = fmin(1, fmax(0, (ft.p_c - s->idle_w) / span));
    s->eff_bw = fmin(1, ft.eff_b);
    s->eff_compute = fmin(1, ft.eff_c);
    s->standby_w = fmin(s->active_w, fmax(s->idle_w, s->standby_w));
    /* the simulator's per-layer model uses the fitted whole-step figures */
    s->layer_eff_compute = s->eff_compute;
    s->layer_eff_bw = s->eff_bw;
    s->layer_eff_attn = s->eff_compute;
    s->kernel_overhead_s = 0;
    s->layer_fitted = false;
    free(fold);
    free(err);
    free(jpt);
    free(q);
    return IPW_OK;
}

/* A JSON number that keeps enough digits for a fitted figure. */
static json_t *num(double v)
{
    return json_real(v);
}

ipw_err ipw_predict_write_spec(const struct ipw_hw_spec *s, const char *note, const char *path,
                               ipw_errbuf *eb)
{
    json_t *root = json_object();
    json_object_set_new(root, "schema", json_string("ipw.hardware/1"));
    json_object_set_new(root, "name", json_string(s->name));
    json_object_set_new(root, "display_name", json_string(s->display_name));
    json_object_set_new(root, "vendor", json_string(s->vendor));
    json_object_set_new(root, "device_type", json_string(s->device_type));
    json_object_set_new(root, "peak_dense_tflops_bf16", num(s->peak_flops_bf16 / 1e12));
    json_object_set_new(root, "peak_dense_tflops_fp8", num(s->peak_flops_fp8 / 1e12));
    json_object_set_new(root, "memory_bandwidth_gb_s", num(s->mem_bw / 1e9));
    json_object_set_new(root, "memory_gib", num(s->mem_bytes / 1073741824.0));
    json_object_set_new(root, "interconnect_gb_s", num(s->link_bw / 1e9));
    if (s->multiprocessors > 0) /* a physical figure of the base spec, kept */
        json_object_set_new(root, "multiprocessors", json_integer(s->multiprocessors));
    json_object_set_new(root, "idle_power_w", num(s->idle_w));
    json_object_set_new(root, "standby_power_w", num(s->standby_w));
    json_object_set_new(root, "active_power_w", num(s->active_w));
    json_object_set_new(root, "compute_efficiency", num(s->eff_compute));
    json_object_set_new(root, "bandwidth_efficiency", num(s->eff_bw));
    json_object_set_new(root, "power_util_compute_bound", num(s->util_compute));
    json_object_set_new(root, "power_util_bandwidth_bound", num(s->util_bw));
    json_object_set_new(root, "host_cpu",
                        json_pack("{s:o,s:o,s:o}", "idle_power_w", num(s->cpu_idle_w),
                                  "active_power_w", num(s->cpu_active_w), "busy_util",
                                  num(s->cpu_busy_util)));
    json_t *src = json_array();
    json_array_append_new(src, json_string(note));
    json_array_append_new(src, json_string(s->origin));
    json_object_set_new(root, "sources", src);
    char *text = json_dumps(root, JSON_INDENT(2) | JSON_REAL_PRECISION(10));
    json_decref(root);
    if (!text)
        return ipw_fail(eb, IPW_E_NOMEM, "out of memory");
    struct ipw_buf b;
    ipw_buf_init(&b, strlen(text) + 2);
    ipw_buf_puts(&b, text);
    ipw_buf_puts(&b, "\n");
    free(text);
    ipw_err e = ipw_buf_status(&b);
    if (!e)
        e = ipw_write_file_atomic(path, b.p, b.len, eb);
    ipw_buf_free(&b);
    return e;
}
