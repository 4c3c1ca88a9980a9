/* The simulator's files: the per-request CSV exactly as the original's csv.writer writes it
 * (CRLF line ends, ITL as a Python list, quoted only when it holds a comma) and the
 * --summary JSON of SPEC §6. */
#include <jansson.h>
#include <string.h>

#include "ipw/csv.h"
#include "ipw/decimal.h"
#include "ss.h"

void ipw_ss_write_csv_header(FILE *f)
{
    fputs("instance id,request id,model,input,output,arrival,end_time,latency,queuing_delay,TTFT,"
          "TPOT,ITL\r\n", f);
}

void ipw_ss_write_csv_row(FILE *f, const struct ipw_ss_row *r)
{
    fprintf(f, "%d,%lld,", r->instance, (long long)r->id);
    ipw_csv_put_field(f, r->model);
    fprintf(f, ",%lld,%lld,%lld,%lld,%lld,%lld,%lld,%lld,", (long long)r->input,
            (long long)r->output, (long long)r->arrival, (long long)r->end_time,
            (long long)r->latency, (long long)r->queuing_delay, (long long)r->ttft,
            (long long)r->tpot);
    if (r->n_itl > 1)
        fputc('"', f);
    fputc('[', f);
    /* hundreds of gaps per request, millions in a run: formatted by hand into a chunk and
     * written with one fwrite per chunk (fprintf per value was most of the CSV's cost) */
    char buf[4096];
    size_t w = 0;
    for (size_t i = 0; i < r->n_itl; i++) {
        if (w > sizeof buf - 32) {
            fwrite(buf, 1, w, f);
            w = 0;
        }
        if (i) {
            buf[w++] = ',';
            buf[w++] = ' ';
        }
        w += ipw_int64_decimal(r->itl[i], buf + w); /* its NUL is overwritten next */
    }
    fwrite(buf, 1, w, f);
    fputc(']', f);
    if (r->n_itl > 1)
        fputc('"', f);
    fputs("\r\n", f);
}

static json_t *stat_json(const struct ipw_ss_stat *s)
{
    if (!s->present)
        return json_null();
    return json_pack("{s:f,s:f,s:f}", "mean", s->mean_ms, "median", s->median_ms, "p99", s->p99_ms);
}

/* The run's inputs and, per profile bundle, where its layer times came from (issue 14). */
static void inputs_json(json_t *root, const struct ipw_ss_inputs *in)
{
    const char *base = strrchr(in->cluster_config, '/');
    base = base ? base + 1 : in->cluster_config;
    size_t n = strlen(base);
    if (n > 5 && !strcmp(base + n - 5, ".json"))
        n -= 5;
    json_object_set_new(root, "inputs",
                        json_pack("{s:s,s:s%,s:s,s:s}", "cluster_config", in->cluster_config,
                                  "cluster_name", base, n, "dataset", in->dataset, "data_dir",
                                  in->data_dir));
    json_t *arr = json_array();
    for (int i = 0; i < in->nperf; i++) {
        const struct ipw_ss_perf_source *p = &in->perf[i];
        const char *kind = !p->roofline   ? "tables"
                           : p->spec_file ? "roofline (spec file)"
                                          : "roofline (bundled spec)";
        json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:s}", "hardware", p->hardware, "model",
                              p->model, "variant", p->variant, "kind", kind, "source", p->source);
        if (p->roofline)
            json_object_set_new(o, "spec", json_string(p->spec));
        json_array_append_new(arr, o);
    }
    json_object_set_new(root, "perf_models", arr);
}

ipw_err ipw_ss_write_summary(const char *path, const struct ipw_ss_result *res, ipw_errbuf *eb)
{
    json_t *root = json_object();
    json_object_set_new(root, "total_clock_ns", json_integer(res->total_clock_ns));
    json_object_set_new(root, "requests", json_integer(res->requests));
    json_object_set_new(root, "input_tokens", json_integer(res->input_tokens));
    json_object_set_new(root, "generated_tokens", json_integer(res->generated_tokens));
    json_object_set_new(root, "prompt_tokens", json_integer(res->prompt_tokens));
    json_object_set_new(root, "preemptions", json_integer(res->preemptions));
    json_t *inst = json_array();
    for (size_t i = 0; i < res->n_instances; i++) {
        const struct ipw_ss_instance_result *ir = &res->instances[i];
        json_array_append_new(inst, json_pack("{s:i,s:I,s:o,s:o,s:o}", "instance", (int)i,
                                              "requests", (json_int_t)ir->finished, "ttft_ms",
                                              stat_json(&ir->ttft), "tpot_ms", stat_json(&ir->tpot),
                                              "itl_ms", stat_json(&ir->itl)));
    }
    json_object_set_new(root, "instances", inst);
    json_t *nodes = json_array();
    for (size_t n = 0; res->power && n < res->n_nodes; n++) {
        const struct ipw_ss_node_energy *e = &res->nodes[n];
        json_t *ej = json_pack("{s:f,s:f,s:f,s:f,s:f,s:f,s:f,s:f}", "base", e->base_node, "npu",
                               e->npu, "cpu", e->cpu, "memory", e->memory, "link", e->link, "nic",
                               e->nic, "storage", e->storage, "total", e->total);
        json_t *nj = json_pack("{s:f,s:f,s:f}", "active", e->npu_active, "standby", e->npu_standby,
                               "idle", e->npu_idle);
        json_array_append_new(nodes, json_pack("{s:i,s:o,s:o}", "node", (int)n, "energy_j", ej,
                                               "npu_j", nj));
    }
    json_object_set_new(root, "nodes", nodes);
    json_object_set_new(root, "power_modelled", json_boolean(res->power));
    json_object_set_new(root, "perf_model", json_string(res->roofline ? "roofline" : "table"));
    if (res->roofline)
        json_object_set_new(root, "perf_note", json_string(IPW_SS_ROOF_NOTE));
    if (res->inputs)
        inputs_json(root, res->inputs);
    json_t *pw = json_array();
    for (size_t i = 0; i < res->n_power; i++)
        json_array_append_new(pw, json_pack("{s:f,s:f}", "t_s", (double)(i + 1) * res->log_interval,
                                            "watts", res->power_w[i]));
    json_object_set_new(root, "power_w", pw);
    json_t *parts = json_array();
    for (size_t i = 0; res->power_parts_w && i < res->n_power; i++) {
        json_t *o = json_pack("{s:f}", "t_s", (double)(i + 1) * res->log_interval);
        for (int k = 0; k < IPW_SS_NPARTS; k++)
            json_object_set_new(o, ipw_ss_part_key((enum ipw_ss_part)k),
                                json_real(res->power_parts_w[i][k]));
        json_array_append_new(parts, o);
    }
    json_object_set_new(root, "power_parts_w", parts);
    if (res->power_dropped)
        json_object_set_new(root, "power_intervals_not_kept",
                            json_integer((json_int_t)res->power_dropped));
    json_t *tp = json_array();
    for (size_t i = 0; i < res->n_throughput; i++)
        json_array_append_new(tp, json_pack("{s:f,s:f,s:f}", "t_s",
                                            (double)(i + 1) * res->log_interval, "prompt_tps",
                                            res->prompt_tps[i], "gen_tps", res->gen_tps[i]));
    json_object_set_new(root, "throughput", tp);
    json_object_set_new(root, "note", json_string("modelled by ipw simulate (LLMServingSim 2.x "
                                                  "rules); not a measurement"));
    int rc = json_dump_file(root, path, JSON_INDENT(2) | JSON_REAL_PRECISION(17));
    json_decref(root);
    if (rc)
        return ipw_fail(eb, IPW_E_IO, "cannot write summary %s", path);
    return IPW_OK;
}
