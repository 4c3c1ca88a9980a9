/* `ipw lab run`, `compare` and `calibrate`: the measuring subcommands. They share their flags:
 * the prompt and what is added to it, the client, the telemetry, the store. Live lines go to
 * stderr as the run happens; the summary table (or --json) goes to stdout. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "ipw/client.h"
#include "ipw/clock.h"
#include "ipw/collector.h"
#include "ipw/fsutil.h"
#include "ipw/jsonutil.h"
#include "ipw/log.h"
#include "ipw/options.h"
#include "ipw/utf8.h"
#include "lab_cli.h"

#define MAX_PROMPT_FILE (4 * 1024 * 1024)
#define MAX_FILES (IPW_LAB_MAX_VARIANTS * (IPW_LAB_MAX_INJECT + 2) + 4)
#define DEFAULT_CALIBRATION_PROMPT "Explain how transformers work in machine learning in 3 sentences."

struct files {
    char *text[MAX_FILES];
    size_t n;
};

/* The stop hook: the first Ctrl-C cancels the batch (a second one ends at once: finished runs
 * are in the database). */
static void cancel_engine(void *eng) { ipw_lab_engine_cancel(eng); }

/* A prompt, system or injection file: present, not empty, valid UTF-8, bounded. */
static const char *load_text(const char *prog, const char *what, const char *path,
                             struct files *fs)
{
    if (fs->n == MAX_FILES) {
        fprintf(stderr, "%s: too many files (at most %d)\n", prog, MAX_FILES);
        return NULL;
    }
    char *text = NULL;
    size_t len = 0;
    ipw_errbuf eb = {0};
    if (ipw_read_file(path, MAX_PROMPT_FILE, &text, &len, &eb) != IPW_OK) {
        fprintf(stderr, "%s: cannot read %s file %s: %s\n", prog, what, path, eb.msg);
        return NULL;
    }
    const char *why = NULL;
    if (len == 0)
        why = "it is empty";
    else if (!ipw_utf8_valid(text, len) || memchr(text, '\0', len))
        why = "it is not UTF-8 text";
    if (why) {
        fprintf(stderr, "%s: %s file %s cannot be used: %s; give a UTF-8 text file\n", prog, what,
                path, why);
        free(text);
        return NULL;
    }
    fs->text[fs->n++] = text;
    return text;
}

/* FILE[:LABEL]; the label defaults to the file's name. The label points into spec. */
static bool add_injection(const char *prog, struct ipw_lab_prompt *p, char *spec, struct files *fs)
{
    if (p->n_inject == IPW_LAB_MAX_INJECT) {
        fprintf(stderr, "%s: at most %d injections per variant\n", prog, IPW_LAB_MAX_INJECT);
        return false;
    }
    char *colon = strrchr(spec, ':');
    const char *label = NULL;
    if (colon && access(spec, F_OK) != 0) { /* a file name may contain ':' itself */
        *colon = '\0';
        label = colon + 1;
    }
    const char *text = load_text(prog, "injection", spec, fs);
    if (!text)
        return false;
    const char *base = strrchr(spec, '/');
    p->inject[p->n_inject++] = (struct ipw_lab_injection){label ? label : base ? base + 1 : spec,
                                                          text};
    return true;
}

/* --variant NAME[:system=F][,inject=F[:LABEL]][,context=F]: the base prompt plus these. */
static bool parse_variant(const char *prog, char *spec, const struct ipw_lab_prompt *base,
                          struct ipw_lab_variant *v, struct files *fs)
{
    char *colon = strchr(spec, ':');
    if (colon)
        *colon = '\0';
    if (!*spec || strlen(spec) >= sizeof v->name) {
        fprintf(stderr, "%s: --variant needs a NAME of 1 to %zu characters before ':'\n", prog,
                sizeof v->name - 1);
        return false;
    }
    snprintf(v->name, sizeof v->name, "%s", spec);
    v->prompt = *base;
    for (char *kv = colon ? colon + 1 : NULL, *next; kv && *kv; kv = next) {
        next = strchr(kv, ',');
        if (next)
            *next++ = '\0';
        char *eq = strchr(kv, '=');
        if (!eq) {
            fprintf(stderr, "%s: --variant %s: '%s' is not KEY=FILE (keys: system, inject, "
                            "context)\n",
                    v->name, kv, kv);
            return false;
        }
        *eq = '\0';
        const char *file = eq + 1;
        if (strcmp(kv, "system") == 0) {
            if (!(v->prompt.system = load_text(prog, "system prompt", file, fs)))
                return false;
        } else if (strcmp(kv, "context") == 0) {
            if (!(v->prompt.context = load_text(prog, "context", file, fs)))
                return false;
        } else if (strcmp(kv, "inject") == 0) {
            if (!add_injection(prog, &v->prompt, eq + 1, fs))
                return false;
        } else {
            fprintf(stderr, "%s: --variant %s: unknown key '%s' (system, inject, context)\n",
                    prog, v->name, kv);
            return false;
        }
    }
    return true;
}

/* ---- live output ---------------------------------------------------------------------------- */

struct live {
    bool json, quiet, tty;
    size_t tokens; /* streamed pieces of the current run */
};

static void on_event(void *ud, const struct ipw_lab_event *ev)
{
    struct live *l = ud;
    const char *v = ev->variant ? ev->variant : "";
    switch (ev->kind) {
    case IPW_LAB_EV_PROGRESS:
        if (l->quiet)
            break;
        if (isfinite(ev->eta_s))
            fprintf(stderr, "[%d/%d] %s — ETA %.0f s\n", ev->runs_done + 1, ev->runs_total, v,
                    ev->eta_s);
        else
            fprintf(stderr, "[%d/%d] %s\n", ev->runs_done + 1, ev->runs_total, v);
        l->tokens = 0;
        break;
    case IPW_LAB_EV_BASELINE:
        if (!l->quiet)
            fprintf(stderr, "  baseline      %.2f W idle over %.2f s\n", ev->value, ev->seconds);
        break;
    case IPW_LAB_EV_SNAPSHOT:
        if (!l->quiet && isfinite(ev->value))
            fprintf(stderr, "  snapshot      %-11s %.3f J cumulative\n", ev->phase, ev->value);
        break;
    case IPW_LAB_EV_FIRST_TOKEN:
        if (!l->quiet)
            fprintf(stderr, "  first token   after %.3f s\n", ev->value);
        break;
    case IPW_LAB_EV_TOKEN:
        l->tokens++;
        break;
    case IPW_LAB_EV_METRIC:
        if (!l->quiet && isfinite(ev->value))
            fprintf(stderr, "  %-21s %.6g %s\n", ev->name, ev->value, ev->unit);
        break;
    case IPW_LAB_EV_RUN_DONE: {
        const struct ipw_lab_run *r = ev->run;
        if (l->json) {
            json_t *j = ipw_lab_run_to_json(r);
            char *t = ipw_json_dumps(j, JSON_COMPACT);
            if (t)
                puts(t);
            fflush(stdout);
            free(t);
            json_decref(j);
        }
        if (l->quiet)
            break;
        fprintf(stderr, "  done          %ld in / %ld out tokens%s, %.3f s; closure error %.2g "
                        "Wh (%.2g %%); E_llm %s%s\n",
                r->input_tokens, r->output_tokens, r->tokens_estimated ? " (estimated)" : "",
                r->latency_s, r->closure_error_wh,
                r->total_wh > 0 ? r->closure_error_wh / r->total_wh * 100 : 0.0,
                ipw_lab_e_llm_source_name(r->e_llm_source),
                r->m_eff_flagged ? "; M_eff deviates >= 20 % from E_llm" : "");
        break;
    }
    case IPW_LAB_EV_ERROR:
        fprintf(stderr, "  run failed    %s\n", ev->text);
        if (l->json && ev->run) {
            json_t *j = ipw_lab_run_to_json(ev->run);
            char *t = ipw_json_dumps(j, JSON_COMPACT);
            if (t)
                puts(t);
            free(t);
            json_decref(j);
        }
        break;
    case IPW_LAB_EV_LOG:
        if (!l->quiet)
            fprintf(stderr, "  %s\n", ev->text);
        break;
    default:
        break;
    }
}

static void print_table(const struct ipw_lab_summary *s)
{
    printf("\n%s: %zu runs%s%zu failed", s->variant[0] ? s->variant : "batch", s->runs,
           s->failed ? ", " : " (", s->failed);
    printf("%s\n", s->failed ? "" : ")");
    printf("  %-20s %10s %10s %10s %10s %10s %7s  %s\n", "metric", "mean", "median", "std", "p5",
           "p95", "CV", "median 95% CI");
    static const enum ipw_lab_metric shown[] = {
        IPW_LAB_M_WH_PER_1000_ETOKENS, IPW_LAB_M_TOTAL_WH, IPW_LAB_M_TOTAL_ACTIVE_WH,
        IPW_LAB_M_PREFILL_WH, IPW_LAB_M_DECODE_WH, IPW_LAB_M_E_LLM_WH, IPW_LAB_M_TTFT_S,
        IPW_LAB_M_DECODE_S, IPW_LAB_M_INPUT_TOKENS, IPW_LAB_M_OUTPUT_TOKENS};
    for (size_t i = 0; i < sizeof shown / sizeof shown[0]; i++) {
        const struct ipw_lab_stat *st = &s->stat[shown[i]];
        if (st->s.n == 0)
            continue;
        char a[6][32], ci[80] = "-";
        if (isfinite(st->median_ci.lo))
            snprintf(ci, sizeof ci, "%.4g … %.4g", st->median_ci.lo, st->median_ci.hi);
        printf("  %-20s %10s %10s %10s %10s %10s %7s  %s\n", ipw_lab_metric_name(shown[i]),
               ipw_lab_cli_num(st->s.avg, a[0], 32), ipw_lab_cli_num(st->s.median, a[1], 32),
               ipw_lab_cli_num(st->s.std, a[2], 32), ipw_lab_cli_num(st->s.p5, a[3], 32),
               ipw_lab_cli_num(st->s.p95, a[4], 32), ipw_lab_cli_num(st->s.cv, a[5], 32), ci);
    }
    if (s->injection_overhead_tokens >= 0)
        printf("  injection overhead: %ld prompt tokens\n", s->injection_overhead_tokens);
}

/* --target-ci: how many runs the median's CI needs. */
static void print_recommendation(const struct ipw_lab_summary *s, double target, json_t *js)
{
    const struct ipw_lab_stat *st = &s->stat[IPW_LAB_M_WH_PER_1000_ETOKENS];
    long need = ipw_lab_recommended_runs(st->s.n, st->s.median, &st->median_ci, target);
    if (js)
        json_object_set_new(js, "recommended_runs", need > 0 ? json_integer(need) : json_null());
    if (need <= 0 || js)
        return;
    double half = (st->median_ci.hi - st->median_ci.lo) / 2 / fabs(st->s.median) * 100;
    if ((size_t)need <= st->s.n)
        printf("  the median's 95 %% CI is ±%.1f %% after %zu runs: within the ±%.1f %% target\n",
               half, st->s.n, target);
    else
        printf("  the median's 95 %% CI is ±%.1f %% after %zu runs; about %ld runs would bring it "
               "to ±%.1f %% (--target-ci)\n",
               half, st->s.n, need, target);
}

static int calibrate_store(const char *prog, struct ipw_lab_store *s, const char *model,
                           const char *name, const struct ipw_lab_batch_result *res, bool json)
{
    struct ipw_lab_benchmark b;
    ipw_errbuf eb = {0};
    if (ipw_lab_calibrate_benchmark(res->runs, res->n, model, name, &b, &eb) != IPW_OK ||
        ipw_lab_store_put_benchmark(s, &b, &eb) != IPW_OK) {
        fprintf(stderr, "%s: %s\n", prog, eb.msg);
        return 1;
    }
    if (json) {
        json_t *j = json_pack("{s:o}", "benchmark", ipw_lab_benchmark_to_json(&b));
        char *t = ipw_json_dumps(j, JSON_COMPACT);
        puts(t ? t : "{}");
        free(t);
        json_decref(j);
    } else {
        printf("\nbenchmark %s saved (replacing any earlier one): c_in %.6g Wh per 1000 input "
               "tokens (median prefill), c_out %.6g Wh per 1000 output tokens (median "
               "decode)\n",
               b.name, b.c_in, b.c_out);
    }
    return 0;
}

int ipw_lab_cli_run(int argc, char **argv, const char *sub)
{
    char prog[32];
    snprintf(prog, sizeof prog, "ipw lab %s", sub);
    bool compare = strcmp(sub, "compare") == 0, calibrate = strcmp(sub, "calibrate") == 0;
    struct ipw_lab_engine_config cfg;
    ipw_lab_engine_config_init(&cfg);
    const char *prompt = calibrate ? DEFAULT_CALIBRATION_PROMPT : NULL, *prompt_file = NULL;
    const char *system = NULL, *system_file = NULL, *context_file = NULL, *country = NULL;
    const char *db = NULL, *name = NULL, *log_level = NULL;
    struct ipw_strlist inject = {0}, variants = {0}, monitors = {0}, cparams = {0};
    long runs = calibrate ? 10 : 1, interval_ms = 50;
    double grid = NAN, target_ci = 5;
    bool json = false, quiet = false;
    int64_t baseline = 500 * IPW_NS_PER_MS;
    struct ipw_option opts[] = {
        {"client", IPW_OPT_CHOICE, &cfg.client, "NAME", "inference client (required)", 0, 0,
         ipw_client_choices()},
        {"client-base-url", IPW_OPT_STRING, &cfg.base_url, "URL",
         "server URL (default per client: ollama http://127.0.0.1:11434, vllm "
         "http://127.0.0.1:8000)"},
        {"model", IPW_OPT_STRING, &cfg.model, "NAME", "model as the server knows it (required)"},
        {"prompt", IPW_OPT_STRING, &prompt, "TEXT", calibrate ? "the prompt (default: the "
                                                                "Energy Lab's calibration prompt)"
                                                              : "the prompt"},
        {"prompt-file", IPW_OPT_STRING, &prompt_file, "FILE", "the prompt, from a UTF-8 file"},
        {"system", IPW_OPT_STRING, &system, "TEXT", "base system prompt"},
        {"system-file", IPW_OPT_STRING, &system_file, "FILE", "base system prompt from a file"},
        {"context-file", IPW_OPT_STRING, &context_file, "FILE",
         "conversation context, added in <conversation_context> tags"},
        {"inject", IPW_OPT_LIST, &inject, "FILE[:LABEL]",
         "text added to the system prompt after a --- separator (repeatable)"},
        {"variant", IPW_OPT_LIST, &variants, "NAME[:system=F][,inject=F][,context=F]",
         "compare: a variant of the prompt (two or more)"},
        {"runs", IPW_OPT_INT, &runs, "N",
         calibrate ? "runs (default 10)" : "runs per variant (default 1)", 1, IPW_LAB_MAX_RUNS},
        {"baseline", IPW_OPT_DURATION, &baseline, "DURATION",
         "idle baseline before each run (default 0.5s; 0 = none)"},
        {"max-tokens", IPW_OPT_INT, &cfg.max_tokens, "N", "answer length limit (default 1000)",
         1, 1e7},
        {"temperature", IPW_OPT_DOUBLE, &cfg.temperature, "T", "sampling temperature", 0, 10},
        {"seed", IPW_OPT_INT, &cfg.seed, "S", "sampling seed", 0, 4e18},
        {"client-param", IPW_OPT_LIST, &cparams, "K=V", "another request parameter (repeatable)"},
        {"collector", IPW_OPT_CHOICE, &cfg.collector, "NAME",
         "local collector (default auto; sim for --client sim)", 0, 0, ipw_collector_choices()},
        IPW_CLI_OPT_CPU_MODEL(cfg.cpu_tdp_w, cfg.cpu_idle_w),
        {"monitor", IPW_OPT_LIST, &monitors, "HOST:PORT",
         "measure with remote energy monitors instead (repeatable; energies add up)"},
        {"interval-ms", IPW_OPT_INT, &interval_ms, "MS", "sampling period (default 50)", 1,
         10000},
        {"server-pid", IPW_OPT_STRING, &cfg.server_pid, "PID|auto|none",
         "the inference server's process, for E_llm (default auto: the process listening on "
         "the URL's port)"},
        {"scaphandre", IPW_OPT_STRING, &cfg.scaphandre_url, "URL",
         "Scaphandre exporter for E_llm when no process tree is measured (default "
         "$SCAPHANDRE_URL)"},
        {"country", IPW_OPT_STRING, &country, "CC",
         "grid carbon intensity of this country (default the world average, 445 g/kWh)"},
        {"grid-intensity", IPW_OPT_DOUBLE, &grid, "G_PER_KWH", "grid carbon intensity", 0, 1e5},
        {"target-ci", IPW_OPT_DOUBLE, &target_ci, "PCT",
         "after a batch, runs needed for a median CI of ±PCT % (default 5)", 0.01, 1000},
        {"name", IPW_OPT_STRING, &name, "NAME",
         "calibrate: benchmark name (default rapl_calibrated_<model>)"},
        {"db", IPW_OPT_STRING, &db, "PATH",
         "lab database (default $IPW_LAB_DB, else $XDG_DATA_HOME/ipw/lab.db, else "
         "~/.local/share/ipw/lab.db)"},
        {"json", IPW_OPT_FLAG, &json, NULL, "one JSON object per run, then the summary"},
        {"quiet", IPW_OPT_FLAG, &quiet, NULL, "no live lines on stderr"},
        IPW_OPT_LOG_LEVEL(log_level, "warn"),
        IPW_OPT_END};
    char usage[200];
    snprintf(usage, sizeof usage, "ipw lab %s --client %s --model M %s", sub,
             ipw_client_choices_usage(), compare ? "--prompt TEXT --variant A --variant B:inject=F [options]"
                          : calibrate ? "[--runs 10] [--name NAME] [options]"
                                      : "--prompt TEXT|--prompt-file F [options]");
    struct ipw_command_help help = {
        usage,
        compare ? "Runs the variants of a prompt interleaved (A B A B ..., so drift hits all), "
                  "summarises each, and compares each with the first: difference of medians "
                  "with its 95 % CI and a Mann-Whitney p-value."
        : calibrate ? "Measures a model N times and stores a benchmark: the median Wh per 1000 "
                      "input tokens from prefill energy and per 1000 output tokens from decode "
                      "energy. Calibrating again replaces it."
                    : "Measures one prompt live: idle baseline, counter snapshots at start, "
                      "first token and end, prefill/decode/total Wh, active energies, E_llm of "
                      "the server's processes, carbon. Every run is saved as it finishes.",
        "examples:\n"
        "  ipw lab run --client sim --model llama-3.1-8b --prompt 'Hello' --runs 5\n"
        "  ipw lab compare --client ollama --model llama3.2:1b --prompt-file q.txt \\\n"
        "      --variant bare --variant tools:inject=tools.txt --runs 10\n"
        "  ipw lab calibrate --client ollama --model llama3.2:1b --runs 10"};
    enum ipw_parse_result pr = ipw_parse_options(argc, argv, prog, opts, &help, NULL, 0, NULL);
    if (pr != IPW_PARSE_OK)
        return pr == IPW_PARSE_HELP ? 0 : 2;
    ipw_log_apply_option(log_level, IPW_LOG_WARN);
    if (!cfg.client || !cfg.model) {
        fprintf(stderr, "%s: --client and --model are required (try --help)\n", prog);
        return 2;
    }
    if (ipw_cli_check_base_url(prog, cfg.base_url))
        return 2;
    if (prompt_file && prompt && !calibrate) {
        fprintf(stderr, "%s: give --prompt or --prompt-file, not both\n", prog);
        return 2;
    }
    if (system && system_file) {
        fprintf(stderr, "%s: give --system or --system-file, not both\n", prog);
        return 2;
    }
    if (compare ? variants.n < 2 : variants.n > 0) {
        fprintf(stderr, compare ? "%s: compare needs two or more --variant NAME[:...]\n"
                                : "%s: --variant is for 'ipw lab compare'\n",
                prog);
        return 2;
    }
    if (variants.n > IPW_LAB_MAX_VARIANTS) {
        fprintf(stderr, "%s: at most %d variants\n", prog, IPW_LAB_MAX_VARIANTS);
        return 2;
    }
    if (baseline < 0) {
        fprintf(stderr, "%s: --baseline must be a duration such as 0.5s or 0\n", prog);
        return 2;
    }
    int rc = ipw_lab_cli_grid(prog, country, grid, &cfg.grid_g_per_kwh);
    if (rc)
        return rc;
    if (cfg.server_pid && strcmp(cfg.server_pid, "auto") && strcmp(cfg.server_pid, "none")) {
        char *end;
        long pid = strtol(cfg.server_pid, &end, 10);
        if (*end || pid <= 0) {
            fprintf(stderr, "%s: --server-pid takes a process id, auto or none (got '%s')\n",
                    prog, cfg.server_pid);
            return 2;
        }
    }

    /* the prompt and what is added to it */
    struct files fs = {0};
    struct ipw_lab_batch batch = {.runs = (int)runs,
                                  .kind = compare ? "compare" : calibrate ? "calibrate" : "run"};
    struct ipw_lab_prompt base = {.user = prompt, .system = system};
    json_t *params = NULL;
    rc = 2;
    if (prompt_file && !(base.user = load_text(prog, "prompt", prompt_file, &fs)))
        goto out;
    if (!base.user || !*base.user) {
        fprintf(stderr, "%s: give the prompt with --prompt TEXT or --prompt-file FILE\n", prog);
        goto out;
    }
    if (system_file && !(base.system = load_text(prog, "system prompt", system_file, &fs)))
        goto out;
    if (context_file && !(base.context = load_text(prog, "context", context_file, &fs)))
        goto out;
    for (size_t i = 0; i < inject.n; i++) {
        char spec[4096];
        snprintf(spec, sizeof spec, "%s", inject.v[i]);
        if (!add_injection(prog, &base, spec, &fs)) /* labels copied before spec goes */
            goto out;
        base.inject[base.n_inject - 1].label = strdup(base.inject[base.n_inject - 1].label);
        fs.text[fs.n++] = (char *)base.inject[base.n_inject - 1].label;
    }
    char *vspecs[IPW_LAB_MAX_VARIANTS] = {0};
    if (compare) {
        for (size_t i = 0; i < variants.n; i++) {
            vspecs[i] = strdup(variants.v[i]);
            fs.text[fs.n++] = vspecs[i];
            if (!parse_variant(prog, vspecs[i], &base, &batch.variant[i], &fs))
                goto out;
            for (size_t j = 0; j < i; j++)
                if (strcmp(batch.variant[j].name, batch.variant[i].name) == 0) {
                    fprintf(stderr, "%s: two variants are named '%s'\n", prog,
                            batch.variant[i].name);
                    goto out;
                }
        }
        batch.n_variants = variants.n;
    } else {
        batch.n_variants = 1;
        snprintf(batch.variant[0].name, sizeof batch.variant[0].name, "%s",
                 calibrate ? "calibrate" : "run");
        batch.variant[0].prompt = base;
    }
    ipw_errbuf eb = {0};
    if (cparams.n && ipw_params_parse(cparams.v, cparams.n, &params, &eb) != IPW_OK) {
        fprintf(stderr, "%s: --client-param: %s\n", prog, eb.msg);
        goto out;
    }
    cfg.client_params = params;
    cfg.monitors = monitors.v;
    cfg.n_monitors = monitors.n;
    cfg.interval_ns = interval_ms * IPW_NS_PER_MS;
    cfg.baseline_ns = baseline;

    /* the store first: a locked or newer database must stop us before anything is measured */
    struct ipw_lab_store *store = NULL;
    rc = ipw_lab_cli_open_store(prog, db, &store);
    if (rc)
        goto out;
    cfg.store = store;
    struct live live = {.json = json, .quiet = quiet, .tty = isatty(STDERR_FILENO)};
    cfg.on_event = on_event;
    cfg.event_ud = &live;
    struct ipw_lab_engine *eng;
    if (ipw_lab_engine_open(&cfg, &eng, &eb) != IPW_OK) {
        fprintf(stderr, "%s: %s\n", prog, eb.msg);
        ipw_lab_store_close(store);
        rc = eb.code == IPW_E_INVALID ? 2 : 1;
        goto out;
    }
    if (!quiet)
        fprintf(stderr, "%s: %s on %s, measured with %s%s; saving to %s\n", prog, cfg.model,
                cfg.client, ipw_lab_engine_collector(eng),
                strcmp(cfg.client, "sim") == 0 ? " (modelled)" : "", ipw_lab_store_path(store));
    ipw_cli_set_stop_hook(cancel_engine, eng);
    ipw_cli_install_stop_handlers();
    struct ipw_lab_batch_result res;
    ipw_err be = ipw_lab_engine_batch(eng, &batch, &res, &eb);
    ipw_cli_remove_stop_handlers();
    rc = 0;
    if (be != IPW_OK) {
        fprintf(stderr, "%s: %s (finished runs are saved)\n", prog, eb.msg);
        rc = be == IPW_E_CANCELLED ? 130 : 1;
    }

    /* the summary: per variant, then each variant against the first */
    json_t *js = json ? json_object() : NULL, *jvars = json ? json_array() : NULL;
    for (size_t i = 0; i < batch.n_variants && res.n; i++) {
        struct ipw_lab_summary s;
        if (ipw_lab_summarize(res.runs, res.n, batch.variant[i].name, &s, &eb) != IPW_OK)
            continue;
        if (!compare)
            s.variant[0] = '\0';
        if (json) {
            json_t *o = ipw_lab_summary_to_json(&s);
            print_recommendation(&s, target_ci, o);
            json_array_append_new(jvars, o);
        } else if (res.n > 1 || !compare) {
            print_table(&s);
            print_recommendation(&s, target_ci, NULL);
        }
    }
    if (compare && res.n) {
        json_t *jc = json ? json_array() : NULL;
        if (!json)
            printf("\n");
        for (size_t i = 1; i < batch.n_variants; i++) {
            struct ipw_lab_comparison c;
            if (ipw_lab_compare(res.runs, res.n, batch.variant[0].name, batch.variant[i].name,
                                IPW_LAB_M_WH_PER_1000_ETOKENS, &c, &eb) != IPW_OK)
                continue;
            if (json)
                json_array_append_new(jc, ipw_lab_comparison_to_json(&c));
            else
                printf("%s\n", c.verdict);
        }
        if (json)
            json_object_set_new(js, "comparisons", jc);
    }
    if (json) {
        json_object_set_new(js, compare ? "variants" : "batch",
                            compare ? jvars : json_incref(json_array_get(jvars, 0)));
        if (!compare)
            json_decref(jvars);
        json_t *top = json_pack("{s:o}", "summary", js);
        char *t = ipw_json_dumps(top, JSON_COMPACT);
        if (t)
            puts(t);
        free(t);
        json_decref(top);
    }
    if (calibrate && rc == 0)
        rc = calibrate_store(prog, store, cfg.model, name, &res, json);
    ipw_lab_batch_result_free(&res);
    ipw_lab_engine_close(eng);
    ipw_lab_store_close(store);
out:
    json_decref(params);
    for (size_t i = 0; i < fs.n; i++)
        free(fs.text[i]);
    return rc;
}
