/* Agent-run figures from traces.jsonl, streamed (a few numbers per turn index, nothing per
 * task), written as analysis/agent.json. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent_plot.h"
#include "ipw/agent_analysis.h"
#include "ipw/fsutil.h"
#include "ipw/records.h"

struct acc {
    struct ipw_agent_analysis *a;
    double wall_s, tool_s, between_j, prefill_j, decode_j;
    double sum[IPW_AGENT_CURVE_MAX][5]; /* energy, llm, prefill, between, input tokens */
    size_t cnt[IPW_AGENT_CURVE_MAX][5];
};

static double num(const json_t *o, const char *k)
{
    const json_t *v = json_object_get(o, k);
    return json_is_number(v) ? json_number_value(v) : NAN;
}

static void put(struct acc *c, size_t i, int k, double v)
{
    if (isfinite(v)) {
        c->sum[i][k] += v;
        c->cnt[i][k]++;
    }
}

static ipw_err one(void *ctx, json_t *t, int64_t index, size_t line, uint64_t off, size_t len,
                   ipw_errbuf *eb)
{
    (void)index, (void)line, (void)off, (void)len, (void)eb;
    struct acc *c = ctx;
    struct ipw_agent_analysis *a = c->a;
    a->tasks++;
    a->resolved += json_is_true(json_object_get(t, "resolved"));
    a->judged += json_is_boolean(json_object_get(t, "resolved"));
    const char *stop = json_string_value(json_object_get(t, "stop_reason"));
    a->failed += stop && (strcmp(stop, "llm_error") == 0 || strcmp(stop, "error") == 0);
    const char *src = json_string_value(json_object_get(t, "energy_source"));
    a->modelled |= src && strcmp(src, "modeled") == 0;
    double e = num(t, "energy_joules");
    if (isfinite(e)) {
        a->measured++;
        a->energy_j += e;
        double tot = num(t, "total_joules");
        a->total_j += isfinite(tot) ? tot : 0;
        double b = num(t, "between_joules"), p = num(t, "prefill_joules"),
               d = num(t, "decode_joules");
        c->between_j += isfinite(b) ? b : 0;
        c->prefill_j += isfinite(p) ? p : 0;
        c->decode_j += isfinite(d) ? d : 0;
    }
    double w = num(t, "wall_seconds"), ts = num(t, "tool_seconds");
    c->wall_s += isfinite(w) ? w : 0;
    c->tool_s += isfinite(ts) ? ts : 0;
    size_t i;
    const json_t *turn;
    json_array_foreach(json_object_get(t, "turns"), i, turn)
    {
        a->turns++;
        if (i >= IPW_AGENT_CURVE_MAX)
            continue;
        const json_t *llm = json_object_get(turn, "llm");
        put(c, i, 0, num(turn, "energy_joules"));
        put(c, i, 1, num(llm, "energy_joules"));
        put(c, i, 2, num(llm, "prefill_joules"));
        put(c, i, 3, num(json_object_get(turn, "between"), "energy_joules"));
        put(c, i, 4, num(turn, "input_tokens"));
        if (i + 1 > a->n_curve)
            a->n_curve = i + 1;
        a->curve[i].tasks++;
    }
    return IPW_OK;
}

static json_t *jnum(double v) { return isfinite(v) ? json_real(v) : json_null(); }

static double ratio(double a, double b) { return b > 0 ? a / b : NAN; }

static json_t *to_json(const struct ipw_agent_analysis *a)
{
    json_t *curve = json_array();
    for (size_t i = 0; i < a->n_curve; i++) {
        const struct ipw_agent_turn_point *p = &a->curve[i];
        json_array_append_new(
            curve, json_pack("{s:I, s:I, s:o, s:o, s:o, s:o, s:o}", "turn_index", (json_int_t)i,
                             "tasks", (json_int_t)p->tasks, "energy_joules", jnum(p->energy_j),
                             "llm_joules", jnum(p->llm_j), "prefill_joules", jnum(p->prefill_j),
                             "between_joules", jnum(p->between_j), "input_tokens",
                             jnum(p->input_tokens)));
    }
    json_t *s = json_pack(
        "{s:I, s:I, s:I, s:I, s:I, s:I, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, "
        "s:b}",
        "tasks", (json_int_t)a->tasks, "judged", (json_int_t)a->judged, "resolved",
        (json_int_t)a->resolved, "failed",
        (json_int_t)a->failed, "turns", (json_int_t)a->turns, "energy_sample_count",
        (json_int_t)a->measured, "resolved_rate", jnum(a->resolved_rate), "energy_joules",
        jnum(a->measured ? a->energy_j : NAN), "total_joules",
        jnum(a->measured ? a->total_j : NAN), "energy_per_task_joules",
        jnum(a->energy_per_task_j), "energy_per_resolved_task_joules",
        jnum(a->energy_per_resolved_task_j), "intelligence_per_joule_task", jnum(a->ipj_task),
        "joules_per_turn", jnum(a->joules_per_turn), "turns_per_task", jnum(a->turns_per_task),
        "tool_time_share", jnum(a->tool_time_share), "between_energy_share",
        jnum(a->between_energy_share), "prefill_energy_share", jnum(a->prefill_share),
        "modelled", a->modelled);
    return json_pack("{s:s, s:o, s:o}", "analysis", "agent", "summary", s, "per_turn", curve);
}

bool ipw_agent_analysis_applies(const char *run_dir)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/traces.jsonl", run_dir);
    return ipw_path_exists(path);
}

ipw_err ipw_agent_analyze(const char *run_dir, struct ipw_agent_analysis *a, ipw_errbuf *eb)
{
    memset(a, 0, sizeof *a);
    struct acc *c = calloc(1, sizeof *c);
    if (!c)
        return ipw_fail(eb, IPW_E_NOMEM, "out of memory analysing %s", run_dir);
    c->a = a;
    char path[4200];
    snprintf(path, sizeof path, "%s/traces.jsonl", run_dir);
    ipw_err e = ipw_records_scan(path, one, c, NULL, eb);
    if (e == IPW_OK && a->tasks == 0)
        e = ipw_fail(eb, IPW_E_INVALID, "%s holds no finished task yet", path);
    if (e != IPW_OK) {
        free(c);
        return e;
    }
    a->resolved_rate = a->judged ? (double)a->resolved / (double)a->judged : NAN;
    a->energy_per_task_j = a->measured ? a->energy_j / (double)a->measured : NAN;
    a->energy_per_resolved_task_j = a->resolved && a->measured ? a->energy_j / (double)a->resolved
                                                               : NAN;
    a->ipj_task = ratio(a->resolved_rate, a->energy_per_task_j);
    a->joules_per_turn = a->measured ? ratio(a->energy_j, (double)a->turns) : NAN;
    a->turns_per_task = (double)a->turns / (double)a->tasks;
    a->tool_time_share = ratio(c->tool_s, c->wall_s);
    a->between_energy_share = a->measured ? ratio(c->between_j, a->energy_j) : NAN;
    a->prefill_share = ratio(c->prefill_j, c->prefill_j + c->decode_j);
    for (size_t i = 0; i < a->n_curve; i++) {
        double *m[5] = {&a->curve[i].energy_j, &a->curve[i].llm_j, &a->curve[i].prefill_j,
                        &a->curve[i].between_j, &a->curve[i].input_tokens};
        for (int k = 0; k < 5; k++)
            *m[k] = c->cnt[i][k] ? c->sum[i][k] / (double)c->cnt[i][k] : NAN;
    }
    free(c);

    char dir[4200], out[4300];
    snprintf(dir, sizeof dir, "%s/analysis", run_dir);
    e = ipw_mkdir_p(dir, eb);
    json_t *j = e == IPW_OK ? to_json(a) : NULL;
    char *text = j ? json_dumps(j, JSON_INDENT(2)) : NULL;
    json_decref(j);
    if (e == IPW_OK && !text)
        e = ipw_fail(eb, IPW_E_NOMEM, "out of memory writing agent.json");
    if (e == IPW_OK) {
        snprintf(out, sizeof out, "%s/agent.json", dir);
        e = ipw_write_file_atomic(out, text, strlen(text), eb);
    }
    free(text);
    if (e == IPW_OK)
        e = ipw_agent_plot_write(run_dir, a, eb);
    return e;
}
