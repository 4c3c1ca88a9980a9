/* Energy attribution: sums over telemetry sources, window statistics, mean power, and the naive
 * method kept only for comparison (the equal-share rule is in share_ledger.c). */
#include "ipw/attribution.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Adds one source's energies to out. A domain any source reports but cannot read is noted in
 * *invalid: a sum missing one node's part would look like a measurement. */
static void add_source(struct ipw_energy *out, const struct ipw_energy *e, uint32_t *invalid)
{
    for (int d = 0; d < IPW_DOMAIN_COUNT; d++) {
        uint32_t bit = 1u << d;
        if (!(e->present & bit))
            continue;
        out->present |= bit;
        if (!(e->valid & bit)) {
            *invalid |= bit;
            continue;
        }
        out->joules[d] += e->joules[d];
        out->source[d] = e->source[d];
        out->exact[d] = (out->valid & bit) ? (out->exact[d] && e->exact[d]) : e->exact[d];
        out->valid |= bit;
    }
}

/* Sums over every source; span: true for the energy between t0 and t1, false for the
 * counter value at t0. */
static ipw_err sum_sources(const struct ipw_energy_sources *src, int64_t t0, int64_t t1,
                           bool span, struct ipw_energy *out, ipw_errbuf *eb)
{
    memset(out, 0, sizeof *out);
    uint32_t invalid = 0;
    for (size_t i = 0; i < src->n; i++) {
        struct ipw_energy e;
        ipw_err rc = span ? ipw_sampler_energy_between(src->s[i], t0, t1, &e, eb)
                          : ipw_sampler_energy_at(src->s[i], t0, &e, eb);
        if (rc != IPW_OK) {
            if (src->n > 1)
                ipw_err_prefix(eb, "telemetry source %zu", i + 1);
            return rc;
        }
        add_source(out, &e, &invalid);
    }
    out->valid &= ~invalid;
    return IPW_OK;
}

ipw_err ipw_attr_energy(const struct ipw_energy_sources *src, int64_t t0, int64_t t1,
                        struct ipw_energy *out, ipw_errbuf *eb)
{
    return sum_sources(src, t0, t1, true, out, eb);
}

ipw_err ipw_attr_energy_at(const struct ipw_energy_sources *src, int64_t t,
                           struct ipw_energy *out, ipw_errbuf *eb)
{
    return sum_sources(src, t, t, false, out, eb);
}

/* Value of metric m at time t from a source's readings: the newest reading at or before t
 * that holds it (sample-and-hold). */
static int held_value(const struct ipw_reading *v, size_t n, size_t *cursor, int64_t t,
                      ipw_metric m, double *out)
{
    if (!n)
        return 0;
    while (*cursor + 1 < n && v[*cursor + 1].mono_ns <= t)
        (*cursor)++;
    for (size_t i = *cursor + 1; i-- > 0;) {
        if (v[i].mono_ns <= t && ipw_reading_has(&v[i], m)) {
            *out = v[i].v[m];
            return 1;
        }
    }
    return 0;
}

/* held_value for a metric the source holds at all; a missing metric costs one bit test. */
static int get(uint32_t has, const struct ipw_reading *v, size_t n, size_t *cursor, int64_t t,
               ipw_metric m, double *out)
{
    return (has & (1u << m)) && held_value(v, n, cursor, t, m, out);
}

struct series {
    double *v;
    size_t n;
};

static void push(struct series *s, double x) { s->v[s->n++] = x; }

ipw_err ipw_attr_window_stats(const struct ipw_energy_sources *src, int64_t t0, int64_t t1,
                              struct ipw_window_stats *out, ipw_errbuf *eb)
{
    memset(out, 0, sizeof *out);
    struct ipw_reading *w[IPW_MAX_SOURCES] = {0};
    size_t wn[IPW_MAX_SOURCES] = {0};
    ipw_err rc = IPW_OK;
    for (size_t i = 0; i < src->n && rc == IPW_OK; i++)
        rc = ipw_sampler_window(src->s[i], t0, t1, &w[i], &wn[i], eb);
    struct series sp = {0}, st = {0}, sc = {0}, scm = {0}, sgm = {0}, stc = {0};
    size_t n = src->n ? wn[0] : 0;
    if (rc == IPW_OK && n) {
        sp.v = malloc(n * sizeof(double));
        st.v = malloc(n * sizeof(double));
        sc.v = malloc(n * sizeof(double));
        scm.v = malloc(n * sizeof(double));
        sgm.v = malloc(n * sizeof(double));
        stc.v = malloc(n * sizeof(double));
        if (!sp.v || !st.v || !sc.v || !scm.v || !sgm.v || !stc.v)
            rc = ipw_fail(eb, IPW_E_NOMEM, "out of memory computing window statistics");
    }
    /* which metrics each source holds at all, so a missing one costs nothing per reading */
    uint32_t has[IPW_MAX_SOURCES] = {0};
    for (size_t i = 0; i < src->n; i++)
        for (size_t r = 0; r < wn[i]; r++)
            has[i] |= w[i][r].valid;
    size_t cursor[IPW_MAX_SOURCES] = {0};
    for (size_t r = 0; rc == IPW_OK && r < n; r++) {
        int64_t t = w[0][r].mono_ns;
        double main_p = 0, total_p = 0, cpu_p = 0, cpu_m = 0, gpu_m = 0, temp = 0;
        int has_main = 1, has_total = 0, has_cpu = 1, has_cm = 1, has_gm = 1, ntemp = 0;
        for (size_t i = 0; i < src->n; i++) {
            double x;
            if (get(has[i], w[i], wn[i], &cursor[i], t, ipw_domain_power_metric(src->main_domain[i]), &x))
                main_p += x;
            else
                has_main = 0;
            /* every domain's power once each: GPU + CPU package + DRAM + ANE */
            for (int d = 0; d < IPW_DOMAIN_COUNT; d++) {
                if (get(has[i], w[i], wn[i], &cursor[i], t, ipw_domain_power_metric((ipw_domain)d), &x)) {
                    total_p += x;
                    has_total = 1;
                }
            }
            if (get(has[i], w[i], wn[i], &cursor[i], t, IPW_M_CPU_POWER_W, &x))
                cpu_p += x;
            else
                has_cpu = 0;
            if (get(has[i], w[i], wn[i], &cursor[i], t, IPW_M_CPU_MEM_USED_MB, &x))
                cpu_m += x;
            else
                has_cm = 0;
            if (get(has[i], w[i], wn[i], &cursor[i], t, IPW_M_GPU_MEM_USED_MB, &x))
                gpu_m += x;
            else
                has_gm = 0;
            if (get(has[i], w[i], wn[i], &cursor[i], t, IPW_M_TEMPERATURE_C, &x)) {
                temp += x;
                ntemp++;
            }
        }
        if (has_main)
            push(&sp, main_p);
        if (has_total)
            push(&st, total_p);
        if (has_cpu)
            push(&sc, cpu_p);
        if (has_cm)
            push(&scm, cpu_m);
        if (has_gm)
            push(&sgm, gpu_m);
        if (ntemp)
            push(&stc, temp / ntemp);
    }
    if (rc == IPW_OK) {
        out->readings = n;
        ipw_summarize(sp.v, sp.n, &out->main_power);
        ipw_summarize(st.v, st.n, &out->total_power);
        ipw_summarize(sc.v, sc.n, &out->cpu_power);
        ipw_summarize(scm.v, scm.n, &out->cpu_mem_mb);
        ipw_summarize(sgm.v, sgm.n, &out->gpu_mem_mb);
        ipw_summarize(stc.v, stc.n, &out->temperature_c);
    }
    free(sp.v);
    free(st.v);
    free(sc.v);
    free(scm.v);
    free(sgm.v);
    free(stc.v);
    for (size_t i = 0; i < src->n; i++)
        free(w[i]);
    return rc;
}

ipw_err ipw_attr_naive_energy(struct ipw_sampler *s, ipw_domain d, int64_t t0, int64_t t1,
                              double *joules, ipw_errbuf *eb)
{
    struct ipw_reading *w;
    size_t n;
    *joules = 0;
    ipw_err rc = ipw_sampler_window(s, t0, t1, &w, &n, eb);
    if (rc != IPW_OK)
        return rc;
    ipw_metric m = ipw_domain_energy_metric(d);
    const struct ipw_reading *first = NULL, *last = NULL;
    for (size_t i = 0; i < n; i++) {
        if ((w[i].flags & IPW_READING_SNAPSHOT) || !ipw_reading_has(&w[i], m))
            continue;
        if (!first)
            first = &w[i];
        last = &w[i];
    }
    if (!first || first == last)
        rc = ipw_fail(eb, IPW_E_RANGE, "fewer than two periodic readings inside the window");
    else
        *joules = last->v[m] - first->v[m];
    free(w);
    return rc;
}

ipw_err ipw_attr_mean_power(const struct ipw_energy_sources *src, int64_t t0, int64_t t1,
                            struct ipw_energy *watts, ipw_errbuf *eb)
{
    if (t1 <= t0)
        return ipw_fail(eb, IPW_E_INVALID, "the interval for mean power is empty");
    ipw_err rc = ipw_attr_energy(src, t0, t1, watts, eb);
    double dt = (double)(t1 - t0) / 1e9;
    for (int d = 0; d < IPW_DOMAIN_COUNT; d++)
        watts->joules[d] /= dt;
    return rc;
}
