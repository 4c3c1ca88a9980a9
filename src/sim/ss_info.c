/* --log-level INFO (and DEBUG): the original's per-batch log records, in its console layout
 *   [HH:MM:SS.mmm] [Component] [node=N,inst=I] INFO     message
 * (wall-clock time of day, as the original stamps records). Per batch, when its trace is
 * generated: the previous standby energy ("NPU Standby Energy Consumption", PowerModel, no
 * tag), "Batch #B: model=M num_reqs=N total_len=T req_ids=[...]" (TraceGenerator; with
 * sub-batch interleaving one "Sub-batch #B.0" and one "#B.1" line), then, with power
 * modelling, the CPU / NPU / DRAM / Link energy the batch was charged (PowerModel,
 * [node=N]). The original's other INFO records (start-up, KV manager) are not reproduced. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "ss.h"

/* one record, formatted into a growing buffer (a batch's id list is unbounded) */
static void record(const struct ipw_ss_sink *k, const char *component, int node, int inst,
                   const char *body)
{
    if (!k || !k->line)
        return;
    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct tm tm;
    time_t sec = tv.tv_sec;
    localtime_r(&sec, &tm);
    char tag[48] = "";
    if (node >= 0 && inst >= 0)
        snprintf(tag, sizeof tag, " [node=%d,inst=%d]", node, inst);
    else if (node >= 0)
        snprintf(tag, sizeof tag, " [node=%d]", node);
    size_t len = strlen(body) + strlen(component) + 96;
    char *buf = malloc(len);
    if (!buf)
        return;
    snprintf(buf, len, "[%02d:%02d:%02d.%03d] [%s]%s %-8s %s", tm.tm_hour, tm.tm_min, tm.tm_sec,
             (int)(tv.tv_usec / 1000), component, tag, "INFO", body);
    k->line(k->ud, buf);
    free(buf);
}

static void recordf(const struct ipw_ss_sink *k, const char *component, int node, int inst,
                    const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static void recordf(const struct ipw_ss_sink *k, const char *component, int node, int inst,
                    const char *fmt, ...)
{
    char buf[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    record(k, component, node, inst, buf);
}

void ss_info_begin(struct ss_info *in, const struct ss_power *p, int node)
{
    if (!p)
        return;
    for (int i = 0; i < 4; i++)
        in->before[i] = p->net[node][1 + i];
}

/* "Batch #B: ..." for the requests idx[0..n) of b (all of them when idx is NULL) */
static void batch_line(const struct ipw_ss_sink *k, const struct ss_sched *s,
                       const struct ss_batch *b, const char *id, const size_t *idx, size_t n,
                       int64_t total_len, const char *what)
{
    size_t cap = 64 + n * 22;
    char *ids = malloc(cap);
    if (!ids)
        return;
    size_t w = (size_t)snprintf(ids, cap, "[");
    for (size_t i = 0; i < n; i++)
        w += (size_t)snprintf(ids + w, cap - w, "%s%lld", i ? ", " : "",
                              (long long)b->reqs[idx ? idx[i] : i]->id);
    snprintf(ids + w, cap - w, "]");
    size_t blen = strlen(ids) + 256;
    char *body = malloc(blen);
    if (body) {
        snprintf(body, blen, "%s #%s: model=%s num_reqs=%zu total_len=%lld req_ids=%s", what, id,
                 s->cfg->model_name, n, (long long)total_len, ids);
        record(k, "TraceGenerator", s->cfg->node, s->idx, body);
        free(body);
    }
    free(ids);
}

void ss_info_batch(struct ss_info *in, const struct ipw_ss_sink *k, const struct ss_sched *s,
                   const struct ss_batch *b, const struct ss_power *p)
{
    int node = s->cfg->node;
    if (p) { /* the original's reset_log: standby charged since the previous trace */
        double sb = 0;
        for (int i = 0; i < p->nnodes; i++)
            sb += p->npu_standby[i];
        if (sb - in->standby_logged > 0)
            recordf(k, "PowerModel", -1, -1, "NPU Standby Energy Consumption = %.3e J",
                    sb - in->standby_logged);
        in->standby_logged = sb;
    }
    char id[48];
    const size_t *sub[2];
    size_t nsub[2];
    int64_t tl[2];
    if (ss_pim_subs(s, sub, nsub, tl)) {
        for (int i = 0; i < 2; i++) {
            snprintf(id, sizeof id, "%lld.%d", (long long)b->id, i);
            batch_line(k, s, b, id, sub[i], nsub[i], tl[i], "Sub-batch");
        }
    } else {
        snprintf(id, sizeof id, "%lld", (long long)b->id);
        batch_line(k, s, b, id, NULL, b->nreq, b->total_len, "Batch");
    }
    if (!p)
        return;
    static const char *names[4] = {"NPU", "CPU", "DRAM", "Link"};
    static const int order[4] = {1, 0, 2, 3}; /* printed CPU, NPU, DRAM, Link */
    for (int j = 0; j < 4; j++) {
        int i = order[j];
        recordf(k, "PowerModel", node, -1, "%s Energy Consumption = %.3e J", names[i],
                p->net[node][1 + i] - in->before[i]);
    }
}
