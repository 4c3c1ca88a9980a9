/* `ipw lab estimate`, `benchmarks`, `history` and `export`: the coefficient tables and the
 * store, no measurement. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ipw/clock.h"
#include "ipw/fsutil.h"
#include "ipw/jsonutil.h"
#include "ipw/options.h"
#include "lab_cli.h"

static void print_json(json_t *j)
{
    char *t = ipw_json_dumps(j, JSON_INDENT(2));
    if (t)
        puts(t);
    free(t);
    json_decref(j);
}

int ipw_lab_cli_estimate(int argc, char **argv)
{
    const char *prog = "ipw lab estimate";
    const char *bench = NULL, *country = NULL, *db = NULL;
    long in = -1, out = -1;
    double grid = NAN;
    bool json = false;
    struct ipw_option opts[] = {
        {"benchmark", IPW_OPT_STRING, &bench, "NAME",
         "coefficients to use (required; 'ipw lab benchmarks list')"},
        {"input-tokens", IPW_OPT_INT, &in, "N", "prompt tokens (required)", 0, 1e12},
        {"output-tokens", IPW_OPT_INT, &out, "N", "generated tokens (required)", 0, 1e12},
        {"country", IPW_OPT_STRING, &country, "CC",
         "grid carbon intensity of this country (ISO code; default the world average 445 "
         "g/kWh)"},
        {"grid-intensity", IPW_OPT_DOUBLE, &grid, "G_PER_KWH", "grid carbon intensity in g CO2e/kWh",
         0, 1e5},
        {"db", IPW_OPT_STRING, &db, "PATH", "lab database (for calibrated benchmarks)"},
        {"json", IPW_OPT_FLAG, &json, NULL, "one JSON object"},
        IPW_OPT_END};
    struct ipw_command_help help = {
        "ipw lab estimate --benchmark NAME --input-tokens N --output-tokens N [options]",
        "Estimates the energy of a request from a benchmark's coefficients: Wh = input/1000 x "
        "c_in + output/1000 x c_out, and its carbon. An estimate, not a measurement.",
        "example:\n  ipw lab estimate --benchmark nvidia_a100 --input-tokens 500 --output-tokens "
        "300 --country FR"};
    enum ipw_parse_result pr = ipw_parse_options(argc, argv, prog, opts, &help, NULL, 0, NULL);
    if (pr != IPW_PARSE_OK)
        return pr == IPW_PARSE_HELP ? 0 : 2;
    if (!bench || in < 0 || out < 0) {
        fprintf(stderr, "%s: --benchmark, --input-tokens and --output-tokens are required\n", prog);
        return 2;
    }
    double g;
    int rc = ipw_lab_cli_grid(prog, country, grid, &g);
    if (rc)
        return rc;
    struct ipw_lab_store *s = NULL;
    ipw_errbuf eb = {0};
    struct ipw_lab_benchmark b;
    /* the store only holds calibrated and added names: no database yet is no error here */
    char path[4096];
    ipw_lab_store_default_path(path, sizeof path);
    if ((db || ipw_path_exists(path)) && (rc = ipw_lab_cli_open_store(prog, db, &s)))
        return rc;
    ipw_err e = ipw_lab_benchmark_find(s, bench, &b, &eb);
    ipw_lab_store_close(s);
    if (e != IPW_OK) {
        fprintf(stderr, "%s: %s\n", prog, eb.msg);
        return 2;
    }
    double wh = ipw_lab_estimate_wh(&b, (double)in, (double)out);
    double carbon = ipw_lab_carbon_g(wh, g);
    if (json) {
        print_json(ipw_lab_estimate_to_json(&b, in, out, g));
        return 0;
    }
    printf("estimate (not measured) with %s [%s]: %ld input x %.4g + %ld output x %.4g Wh/1000 "
           "tokens\n  = %.6g Wh, %.4g g CO2e at %.4g g/kWh\n",
           b.name, b.source, in, b.c_in, out, b.c_out, wh, carbon, g);
    return 0;
}

int ipw_lab_cli_benchmarks(int argc, char **argv)
{
    const char *prog = "ipw lab benchmarks";
    const char *db = NULL, *source = "user";
    double c_in = NAN, c_out = NAN;
    bool json = false;
    struct ipw_option opts[] = {
        {"input", IPW_OPT_DOUBLE, &c_in, "C_IN", "add: Wh per 1000 input tokens", 0, 1e9},
        {"output", IPW_OPT_DOUBLE, &c_out, "C_OUT", "add: Wh per 1000 output tokens", 0, 1e9},
        {"source", IPW_OPT_STRING, &source, "TEXT", "add: where the numbers come from"},
        {"db", IPW_OPT_STRING, &db, "PATH", "lab database"},
        {"json", IPW_OPT_FLAG, &json, NULL, "JSON output"},
        IPW_OPT_END};
    struct ipw_command_help help = {
        "ipw lab benchmarks [list | show NAME | add NAME --input C_IN --output C_OUT [--source S] "
        "| remove NAME] [--json]",
        "The coefficient tables of 'ipw lab estimate': the built-in presets and external tables, "
        "and the benchmarks stored by 'ipw lab calibrate' or added here (replaced when added "
        "again).",
        NULL};
    const char *pos[2];
    size_t npos = 0;
    enum ipw_parse_result pr = ipw_parse_options(argc, argv, prog, opts, &help, pos, 2, &npos);
    if (pr != IPW_PARSE_OK)
        return pr == IPW_PARSE_HELP ? 0 : 2;
    const char *verb = npos ? pos[0] : "list";
    const char *name = npos > 1 ? pos[1] : NULL;
    bool list = strcmp(verb, "list") == 0, show = strcmp(verb, "show") == 0;
    bool add = strcmp(verb, "add") == 0, rm = strcmp(verb, "remove") == 0;
    if (!list && !show && !add && !rm) {
        fprintf(stderr, "%s: unknown action '%s'; use list, show NAME, add NAME or remove NAME\n",
                prog, verb);
        return 2;
    }
    if (!list && !name) {
        fprintf(stderr, "%s: %s needs a benchmark NAME\n", prog, verb);
        return 2;
    }
    if (add && (isnan(c_in) || isnan(c_out))) {
        fprintf(stderr, "%s: add needs --input C_IN and --output C_OUT (Wh per 1000 tokens)\n",
                prog);
        return 2;
    }
    struct ipw_lab_store *s;
    int rc = ipw_lab_cli_open_store(prog, db, &s);
    if (rc)
        return rc;
    ipw_errbuf eb = {0};
    ipw_err e = IPW_OK;
    if (add) {
        struct ipw_lab_benchmark b = {.c_in = c_in, .c_out = c_out};
        snprintf(b.name, sizeof b.name, "%s", name);
        snprintf(b.source, sizeof b.source, "%s", source);
        e = ipw_lab_store_put_benchmark(s, &b, &eb);
        if (e == IPW_OK && !json)
            printf("benchmark %s saved: c_in %.4g, c_out %.4g Wh/1000 tokens\n", name, c_in, c_out);
    } else if (rm) {
        e = ipw_lab_store_remove_benchmark(s, name, &eb);
        if (e == IPW_OK && !json)
            printf("benchmark %s removed\n", name);
    } else if (show) {
        struct ipw_lab_benchmark b;
        e = ipw_lab_benchmark_find(s, name, &b, &eb);
        if (e == IPW_OK && json)
            print_json(ipw_lab_benchmark_to_json(&b));
        else if (e == IPW_OK)
            printf("%s\n  source: %s\n  %s\n  c_in  %.6g Wh per 1000 input tokens\n  c_out %.6g "
                   "Wh per 1000 output tokens\n",
                   b.name, b.source, b.description, b.c_in, b.c_out);
    } else {
        const struct ipw_lab_benchmark *bi;
        size_t nbi, nst = 0;
        struct ipw_lab_benchmark *st = NULL;
        e = ipw_lab_builtin_benchmarks(&bi, &nbi, &eb);
        if (e == IPW_OK)
            e = ipw_lab_store_benchmarks(s, &st, &nst, &eb);
        if (e == IPW_OK && json) {
            json_t *arr = json_array();
            for (size_t i = 0; i < nst; i++)
                json_array_append_new(arr, ipw_lab_benchmark_to_json(&st[i]));
            for (size_t i = 0; i < nbi; i++)
                json_array_append_new(arr, ipw_lab_benchmark_to_json(&bi[i]));
            print_json(arr);
        } else if (e == IPW_OK) {
            printf("%-44s %10s %10s  %s\n", "name", "c_in", "c_out", "source");
            for (size_t i = 0; i < nst; i++)
                printf("%-44s %10.4g %10.4g  %s (stored)\n", st[i].name, st[i].c_in, st[i].c_out,
                       st[i].source);
            for (size_t i = 0; i < nbi; i++)
                printf("%-44s %10.4g %10.4g  %s\n", bi[i].name, bi[i].c_in, bi[i].c_out,
                       bi[i].source);
        }
        free(st);
    }
    ipw_lab_store_close(s);
    if (e != IPW_OK) {
        fprintf(stderr, "%s: %s\n", prog, eb.msg);
        return e == IPW_E_NOTFOUND ? 2 : 1;
    }
    return 0;
}

int ipw_lab_cli_history(int argc, char **argv)
{
    const char *prog = "ipw lab history", *db = NULL;
    long limit = 20;
    bool json = false;
    struct ipw_option opts[] = {
        {"limit", IPW_OPT_INT, &limit, "N", "newest N runs (default 20; 0 = all)", 0, 1e9},
        {"db", IPW_OPT_STRING, &db, "PATH", "lab database"},
        {"json", IPW_OPT_FLAG, &json, NULL, "JSON: the runs and the totals"},
        IPW_OPT_END};
    struct ipw_command_help help = {"ipw lab history [--limit N] [--json] [--db PATH]",
                                    "The stored runs, newest first, and the energy totals over "
                                    "every stored run (saying how many were modelled).",
                                    NULL};
    enum ipw_parse_result pr = ipw_parse_options(argc, argv, prog, opts, &help, NULL, 0, NULL);
    if (pr != IPW_PARSE_OK)
        return pr == IPW_PARSE_HELP ? 0 : 2;
    struct ipw_lab_store *s;
    int rc = ipw_lab_cli_open_store(prog, db, &s);
    if (rc)
        return rc;
    struct ipw_lab_run *runs = NULL;
    int64_t *ids = NULL;
    size_t n = 0;
    struct ipw_lab_totals t;
    ipw_errbuf eb = {0};
    ipw_err e = ipw_lab_store_runs(s, (size_t)limit, &runs, &ids, &n, &eb);
    if (e == IPW_OK)
        e = ipw_lab_store_totals(s, &t, &eb);
    ipw_lab_store_close(s);
    if (e != IPW_OK) {
        fprintf(stderr, "%s: %s\n", prog, eb.msg);
        free(runs);
        free(ids);
        return 1;
    }
    if (json) {
        json_t *arr = json_array();
        for (size_t i = 0; i < n; i++) {
            json_t *o = ipw_lab_run_to_json(&runs[i]);
            json_object_set_new(o, "id", json_integer(ids[i]));
            json_array_append_new(arr, o);
        }
        print_json(json_pack("{s:o, s:{s:I, s:I, s:f, s:f, s:f, s:I, s:I}}", "runs", arr,
                             "totals", "runs", (json_int_t)t.runs, "modelled_runs",
                             (json_int_t)t.modelled_runs, "total_wh", t.total_wh, "active_wh",
                             t.active_wh, "carbon_g", t.carbon_g, "input_tokens",
                             (json_int_t)t.input_tokens, "output_tokens",
                             (json_int_t)t.output_tokens));
    } else {
        printf("%6s  %-19s  %-12s  %-20s %10s %12s %7s %7s  %s\n", "id", "started", "variant",
               "model", "total Wh", "Wh/1k etok", "in", "out", "collector");
        for (size_t i = 0; i < n; i++) {
            const struct ipw_lab_run *r = &runs[i];
            char when[32] = "";
            time_t sec = (time_t)(r->started_unix_ns / IPW_NS_PER_SEC);
            struct tm tm;
            if (sec > 0 && localtime_r(&sec, &tm))
                strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", &tm);
            char a[32], b[32];
            printf("%6lld  %-19s  %-12.12s  %-20.20s %10s %12s %7ld %7ld  %s%s%s\n",
                   (long long)ids[i], when, r->variant, r->model,
                   ipw_lab_cli_num(r->total_wh, a, sizeof a),
                   ipw_lab_cli_num(r->wh_per_1000_etokens, b, sizeof b), r->input_tokens,
                   r->output_tokens, r->collector, r->error[0] ? "  failed: " : "", r->error);
        }
        /* a run whose energy a model gave (sim, cpu-model) is never counted as measured */
        char kind[96];
        if (t.modelled_runs == 0)
            snprintf(kind, sizeof kind, "%ld measured", t.runs);
        else if (t.modelled_runs == t.runs)
            snprintf(kind, sizeof kind, "%ld modelled (not measured)", t.runs);
        else
            snprintf(kind, sizeof kind, "%ld (%ld measured, %ld modelled)", t.runs,
                     t.runs - t.modelled_runs, t.modelled_runs);
        printf("all stored runs: %s, %.6g Wh (%.6g Wh active), %.4g g CO2e, %ld input and %ld "
               "output tokens\n",
               kind, t.total_wh, t.active_wh, t.carbon_g, t.input_tokens, t.output_tokens);
    }
    free(runs);
    free(ids);
    return 0;
}

int ipw_lab_cli_export(int argc, char **argv)
{
    const char *prog = "ipw lab export", *db = NULL, *format = NULL, *out = NULL;
    static const char *const formats[] = {"csv", "json", NULL};
    struct ipw_option opts[] = {
        {"format", IPW_OPT_CHOICE, &format, "csv|json", "output format (required)", 0, 0, formats},
        {"out", IPW_OPT_STRING, &out, "PATH", "write here, atomically (default stdout)"},
        {"db", IPW_OPT_STRING, &db, "PATH", "lab database"},
        IPW_OPT_END};
    struct ipw_command_help help = {"ipw lab export --format csv|json [--out PATH] [--db PATH]",
                                    "Every stored run: CSV with one row per run, or a JSON "
                                    "array of the objects 'ipw lab run --json' prints.",
                                    NULL};
    enum ipw_parse_result pr = ipw_parse_options(argc, argv, prog, opts, &help, NULL, 0, NULL);
    if (pr != IPW_PARSE_OK)
        return pr == IPW_PARSE_HELP ? 0 : 2;
    if (!format) {
        fprintf(stderr, "%s: --format csv|json is required\n", prog);
        return 2;
    }
    struct ipw_lab_store *s;
    int rc = ipw_lab_cli_open_store(prog, db, &s);
    if (rc)
        return rc;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = out ? open_memstream(&buf, &len) : stdout;
    ipw_errbuf eb = {0};
    ipw_err e = f ? ipw_lab_export(s, format, f, &eb) : ipw_fail(&eb, IPW_E_NOMEM, "out of memory");
    ipw_lab_store_close(s);
    if (out && f) {
        fclose(f);
        if (e == IPW_OK)
            e = ipw_write_file_atomic(out, buf, len, &eb);
    }
    free(buf);
    if (e != IPW_OK) {
        fprintf(stderr, "%s: %s\n", prog, eb.msg);
        return 1;
    }
    return 0;
}
