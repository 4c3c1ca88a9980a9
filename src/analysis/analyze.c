/* ipw_analyze_run: one streaming pass over a run's records (two when the judge has work: the
 * first only queues judge requests), scoring each query, feeding the accuracy and regression
 * accumulators, and writing analysis/accuracy.json, regression.json and scores.jsonl. */
#include "ipw/analysis.h"
#include "ipw/sim.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "analysis/accuracy.h"
#include "analysis/regression.h"
#include "ipw/decimal.h"
#include "ipw/fsutil.h"
#include "ipw/records.h"
#include "ipw/jsonutil.h"
#include "ipw/log.h"
#include "ipw/run_reader.h"
#include "ipw/scoring.h"

void ipw_analyze_options_init(struct ipw_analyze_options *o)
{
    memset(o, 0, sizeof *o);
    o->analysis = "all";
    o->judge.concurrency = 8;
}

/* ---- a JSONL file written whole or not at all ---------------------------------------------- */

struct outfile {
    FILE *f;
    char path[4200], tmp[4300];
};

static ipw_err out_open(struct outfile *o, const char *path, ipw_errbuf *eb)
{
    snprintf(o->path, sizeof o->path, "%s", path);
    snprintf(o->tmp, sizeof o->tmp, "%s.tmp.%ld", path, (long)getpid());
    o->f = fopen(o->tmp, "w");
    if (!o->f)
        return ipw_fail(eb, IPW_E_IO, "cannot write %s: %s", o->path, strerror(errno));
    setvbuf(o->f, NULL, _IOFBF, 1 << 20);
    return IPW_OK;
}

static ipw_err out_commit(struct outfile *o, ipw_errbuf *eb)
{
    int bad = ferror(o->f) || fflush(o->f) != 0 || fsync(fileno(o->f)) != 0;
    int e = errno;
    if (fclose(o->f) != 0 && !bad) {
        bad = 1;
        e = errno;
    }
    o->f = NULL;
    if (bad || rename(o->tmp, o->path) != 0) {
        if (!bad)
            e = errno;
        unlink(o->tmp);
        return ipw_fail(eb, IPW_E_IO, "cannot write %s: %s", o->path, strerror(e));
    }
    return IPW_OK;
}

static void out_abort(struct outfile *o)
{
    if (o->f) {
        fclose(o->f);
        o->f = NULL;
        unlink(o->tmp);
    }
}

/* ---- scoring one query ------------------------------------------------------------------------ */

struct ctx {
    const struct ipw_analyze_options *opts;
    bool judge_on;
    struct ipw_judge_cache *cache;
    /* the judge whose cached verdicts apply: --eval-model, or without judge flags the model of
     * the cache's verdicts (so a plain `ipw analyze` keeps them); NULL: none */
    const char *verdict_model;
    uint64_t cache_hits;
    uint64_t inferred_kinds;
    uint64_t modelled_answers;
    uint64_t modelled_scored; /* verdicts that are the sim's modelled correctness */
    json_t *source; /* what the run's records were when the analysis began */
    uint64_t unversioned; /* records without a "schema": an older ipw or another tool */
};

/* The major version of a record's "schema" ("ipw.record/1" -> 1): -1 when the record has none,
 * 0 when it names a layout that is not ours. */
static int schema_major(const char *schema)
{
    static const char prefix[] = "ipw.record/";
    if (!schema || !*schema)
        return -1;
    if (strncmp(schema, prefix, sizeof prefix - 1) != 0)
        return 0;
    char *end;
    long v = strtol(schema + sizeof prefix - 1, &end, 10);
    return v > 0 && v < 1000 && (*end == '\0' || *end == '.') ? (int)v : 0;
}

struct score {
    enum ipw_verdict verdict;
    char method[48];
    char extracted[256];
};

/* The sim client answers every prompt with a labelled placeholder: there is nothing to score,
 * and counting it wrong would report a modelled run's accuracy as 0 (SPEC §3.6). */
static bool is_modelled(const struct ipw_run_query *q)
{
    return strncmp(q->response, IPW_SIM_RESPONSE_LABEL, strlen(IPW_SIM_RESPONSE_LABEL)) == 0;
}

/* Whether the judge should see this query, given its local result. */
static bool wants_judge(const struct ctx *c, const struct ipw_run_query *q, bool local_decided)
{
    if (!c->judge_on || q->failed || !*q->response || is_modelled(q))
        return false;
    switch (q->kind) {
    case IPW_KIND_OPEN: return *q->reference != '\0';
    case IPW_KIND_MCQ: return c->opts->judge_all || !local_decided;
    case IPW_KIND_EXACT: return c->opts->judge_all && *q->reference != '\0';
    }
    return false;
}

/* a then b into dst, cut to size as snprintf "%s%s" would (once per record: printf's cost
 * showed) */
static void join(char *dst, size_t size, const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > size - 1)
        la = size - 1;
    if (lb > size - 1 - la)
        lb = size - 1 - la;
    memcpy(dst, a, la);
    memcpy(dst + la, b, lb);
    dst[la + lb] = '\0';
}

static bool mcq_decided(const struct ipw_run_query *q, struct score *s)
{
    enum ipw_mcq_rule rule;
    char letter = 0;
    s->verdict = ipw_score_mcq(q->response, q->reference, q->problem, &rule, &letter);
    join(s->method, sizeof s->method, "mcq:", ipw_mcq_rule_name(rule));
    s->extracted[0] = letter; /* "" when none */
    s->extracted[1] = '\0';
    return s->verdict == IPW_VERDICT_UNEVALUATED || letter != 0;
}

static void judge_key(const struct ctx *c, const struct ipw_run_query *q, char key[65])
{
    ipw_judge_key(c->verdict_model, q->problem, q->reference, q->response, key);
}

/* Without a judge: the verdict an earlier judged analysis cached for this answer, if any. */
static bool cached_verdict(struct ctx *c, const struct ipw_run_query *q, struct score *s)
{
    if (c->judge_on || !c->cache || !c->verdict_model || q->failed || !*q->response)
        return false;
    char key[65];
    judge_key(c, q, key);
    enum ipw_judge_cached v = ipw_judge_cache_get(c->cache, key);
    if (v != IPW_JUDGE_CORRECT && v != IPW_JUDGE_INCORRECT)
        return false;
    s->verdict = v == IPW_JUDGE_CORRECT ? IPW_VERDICT_CORRECT : IPW_VERDICT_INCORRECT;
    snprintf(s->method, sizeof s->method, "judge");
    c->cache_hits++;
    return true;
}

static void score_query(struct ctx *c, const struct ipw_run_query *q, struct score *s)
{
    memset(s, 0, sizeof *s);
    if (q->failed) {
        s->verdict = IPW_VERDICT_FAILED;
        snprintf(s->method, sizeof s->method, "query-failed");
        return;
    }
    if (is_modelled(q)) {
        if (q->prior_correct >= 0 && q->kind != IPW_KIND_OPEN) {
            /* the sim's modelled correctness, drawn from the model's published accuracy:
             * counted, and labelled "modelled accuracy" wherever the figures appear */
            s->verdict = q->prior_correct ? IPW_VERDICT_CORRECT : IPW_VERDICT_INCORRECT;
            snprintf(s->method, sizeof s->method, "modelled-accuracy");
            return;
        }
        s->verdict = IPW_VERDICT_UNEVALUATED;
        snprintf(s->method, sizeof s->method, "modelled-response");
        return;
    }
    if (cached_verdict(c, q, s))
        return;
    bool decided = false;
    switch (q->kind) {
    case IPW_KIND_MCQ: decided = mcq_decided(q, s); break;
    case IPW_KIND_EXACT: {
        enum ipw_exact_rule rule;
        s->verdict = ipw_score_exact(q->response, q->reference, &rule, s->extracted,
                                     sizeof s->extracted);
        join(s->method, sizeof s->method, "exact:", ipw_exact_rule_name(rule));
        if (s->verdict == IPW_VERDICT_UNEVALUATED)
            snprintf(s->method, sizeof s->method, "no-reference");
        decided = true;
        break;
    }
    case IPW_KIND_OPEN:
        if (!*q->reference) {
            s->verdict = IPW_VERDICT_UNEVALUATED;
            snprintf(s->method, sizeof s->method, "no-reference");
            return;
        }
        if (!*q->response) {
            s->verdict = IPW_VERDICT_INCORRECT;
            snprintf(s->method, sizeof s->method, "empty-response");
            return;
        }
        s->verdict = IPW_VERDICT_UNEVALUATED;
        snprintf(s->method, sizeof s->method, "no-judge");
        break;
    }
    if (wants_judge(c, q, decided)) {
        char key[65];
        judge_key(c, q, key);
        enum ipw_judge_cached v = ipw_judge_cache_get(c->cache, key);
        if (v == IPW_JUDGE_CORRECT || v == IPW_JUDGE_INCORRECT) {
            s->verdict = v == IPW_JUDGE_CORRECT ? IPW_VERDICT_CORRECT : IPW_VERDICT_INCORRECT;
            snprintf(s->method, sizeof s->method, "judge");
            return;
        }
        /* the judge failed: a local verdict stands; an open item is a failed evaluation */
        if (q->kind == IPW_KIND_OPEN) {
            s->verdict = IPW_VERDICT_FAILED;
            snprintf(s->method, sizeof s->method, "judge-failed");
            return;
        }
    }
    if (q->kind == IPW_KIND_OPEN && q->prior_correct >= 0) {
        /* a verdict already in the record (e.g. from the original tool's evaluation) */
        s->verdict = q->prior_correct ? IPW_VERDICT_CORRECT : IPW_VERDICT_INCORRECT;
        snprintf(s->method, sizeof s->method, "record");
    }
}

/* ---- the passes -------------------------------------------------------------------------------- */

static ipw_err judge_pass(struct ctx *c, struct ipw_run_reader *r, struct ipw_analyze_result *res,
                          ipw_errbuf *eb)
{
    struct ipw_judge_pool *pool;
    struct ipw_judge_config cfg = c->opts->judge;
    if (!cfg.should_stop)
        cfg.should_stop = c->opts->should_stop;
    ipw_err e = ipw_judge_pool_start(&cfg, c->cache, &pool, eb);
    if (e != IPW_OK)
        return e;
    res->judge_used = true;
    for (;;) {
        struct ipw_run_query q;
        bool eof;
        e = ipw_run_reader_next(r, &q, &eof, eb);
        if (e != IPW_OK || eof)
            break;
        if (c->opts->should_stop && c->opts->should_stop())
            break;
        struct score s;
        bool decided = q.kind != IPW_KIND_MCQ || mcq_decided(&q, &s);
        if (!wants_judge(c, &q, decided))
            continue;
        char key[65];
        judge_key(c, &q, key);
        enum ipw_judge_cached v = ipw_judge_cache_get(c->cache, key);
        if (v == IPW_JUDGE_CORRECT || v == IPW_JUDGE_INCORRECT) {
            c->cache_hits++;
            continue;
        }
        e = ipw_judge_pool_submit(pool, key, q.problem, q.reference, q.response, eb);
        if (e != IPW_OK)
            break;
    }
    ipw_errbuf jeb = {0};
    ipw_err je = ipw_judge_pool_finish(pool, &res->judge, &jeb);
    if (e != IPW_OK)
        return e;
    if (je == IPW_E_CANCELLED) {
        if (eb)
            *eb = jeb;
        return je;
    }
    if (je != IPW_OK) {
        res->judge_refused = true;
        ipw_warn("judge: %s", jeb.msg);
    }
    return ipw_run_reader_rewind(r, eb);
}

/* v in decimal, as %ld prints it (printf was a twentieth of writing a line) */
static void put_long(struct ipw_buf *b, long v)
{
    char t[IPW_INT64_DECIMAL];
    ipw_buf_put(b, t, ipw_int64_decimal(v, t));
}

/* One line of scores.jsonl, written straight into b (a million of them for a large run: a
 * jansson document per line was a fifth of the analysis); byte for byte what ipw_json_dumps
 * prints for the same object, which the unit tests check. */
static void score_line(struct ipw_buf *b, const struct ipw_run_query *q, const struct score *s,
                       const struct ipw_acc_used *u, bool scored)
{
    if (q->record_index >= 0) {
        ipw_buf_puts(b, "{\"record_index\":");
        put_long(b, q->record_index);
    } else {
        ipw_buf_puts(b, "{\"record_index\":null");
    }
    ipw_buf_puts(b, ",\"line\":");
    put_long(b, q->line);
    ipw_buf_puts(b, ",\"kind\":");
    (void)ipw_json_put_string(b, ipw_item_kind_name(q->kind));
    ipw_buf_puts(b, ",\"verdict\":");
    (void)ipw_json_put_string(b, ipw_verdict_name(s->verdict));
    ipw_buf_puts(b, s->verdict == IPW_VERDICT_CORRECT     ? ",\"lm_correctness\":true"
                    : s->verdict == IPW_VERDICT_INCORRECT ? ",\"lm_correctness\":false"
                                                          : ",\"lm_correctness\":null");
    ipw_buf_puts(b, ",\"method\":");
    if (!ipw_json_put_string(b, s->method))
        ipw_buf_puts(b, "null");
    if (s->extracted[0]) {
        ipw_buf_puts(b, ",\"extracted\":");
        if (!ipw_json_put_string(b, s->extracted))
            ipw_buf_puts(b, "null");
    }
    if (scored) {
        char t[IPW_JSON_REAL_MAX];
        ipw_buf_puts(b, ",\"energy_joules\":");
        ipw_buf_puts(b, isfinite(u->energy_j) && ipw_json_real_text(u->energy_j, t) ? t : "null");
        ipw_buf_puts(b, ",\"power_watts\":");
        ipw_buf_puts(b, isfinite(u->power_w) && ipw_json_real_text(u->power_w, t) ? t : "null");
        ipw_buf_puts(b, u->imputed ? ",\"energy_imputed\":true" : ",\"energy_imputed\":false");
    }
    ipw_buf_puts(b, "}\n");
}

static struct ipw_acc_query acc_query(const struct ipw_run_query *q, enum ipw_verdict v)
{
    struct ipw_acc_query a = {
        .kind = q->kind,
        .verdict = v,
        .query_failed = q->failed,
        .energy_j = q->energy_j,
        .total_j = q->total_j,
        .active_j = q->active_j,
        .latency_s = q->latency_s,
        .power_w = q->power_avg_w,
        .total_power_w = q->total_power_avg_w,
        .prefill_j = q->prefill_j,
        .decode_j = q->decode_j,
        .ttft_s = q->ttft_s,
        .decode_s = q->decode_s,
        .input_tokens = q->input_tokens,
        .output_tokens = q->output_tokens,
    };
    return a;
}

static json_t *judge_json(const struct ctx *c, const struct ipw_analyze_result *res)
{
    json_t *j = json_object();
    json_object_set_new(j, "enabled", json_boolean(c->judge_on));
    if (!c->judge_on) {
        if (c->verdict_model) {
            /* no judge asked now: verdicts an earlier judge left in the cache were reused */
            json_object_set_new(j, "cached_verdicts_of", json_string(c->verdict_model));
            json_object_set_new(j, "cache_file", json_string("judge_cache.jsonl"));
            json_object_set_new(j, "cache_hits", json_integer((json_int_t)c->cache_hits));
        }
        return j;
    }
    char url[2048] = "", shown[2048];
    ipw_judge_endpoint(c->opts->judge.base_url, url, sizeof url, NULL);
    ipw_judge_url_for_display(url, shown, sizeof shown);
    json_object_set_new(j, "endpoint", json_string(shown));
    json_object_set_new(j, "model", json_string(c->opts->judge.model));
    json_object_set_new(j, "judge_all", json_boolean(c->opts->judge_all));
    json_object_set_new(j, "cache_file", json_string("judge_cache.jsonl"));
    json_object_set_new(j, "cache_hits", json_integer((json_int_t)c->cache_hits));
    json_object_set_new(j, "submitted", json_integer((json_int_t)res->judge.submitted));
    json_object_set_new(j, "judged", json_integer((json_int_t)res->judge.judged));
    json_object_set_new(j, "failed", json_integer((json_int_t)res->judge.failed));
    json_object_set_new(j, "requests", json_integer((json_int_t)res->judge.requests));
    json_object_set_new(j, "retries", json_integer((json_int_t)res->judge.retries));
    json_object_set_new(j, "malformed_replies", json_integer((json_int_t)res->judge.malformed));
    json_object_set_new(j, "first_error", res->judge.first_error[0]
                                              ? json_string(res->judge.first_error)
                                              : json_null());
    return j;
}

/* Stands for data.records in the serialised accuracy.json until the lines of scores.jsonl are
 * copied in its place, so that no document of every record is ever built. */
#define RECORDS_MARK "@@ipw-records-from-scores.jsonl@@"

static ipw_err write_accuracy(const char *path, const json_t *doc, const char *scores_path,
                              ipw_errbuf *eb)
{
    if (!scores_path)
        return ipw_json_write_file(path, doc, eb);
    char *text = ipw_json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    if (!text)
        return ipw_fail(eb, IPW_E_NOMEM, "cannot serialise %s", path);
    char *mark = strstr(text, "\"" RECORDS_MARK "\"");
    struct outfile o = {0};
    ipw_err e = mark ? out_open(&o, path, eb)
                     : ipw_fail(eb, IPW_E_INTERNAL, "lost the records mark writing %s", path);
    FILE *in = e == IPW_OK ? fopen(scores_path, "r") : NULL;
    if (e == IPW_OK && !in)
        e = ipw_fail(eb, IPW_E_IO, "cannot read %s back: %s", scores_path, strerror(errno));
    if (e == IPW_OK) {
        fwrite(text, 1, (size_t)(mark - text), o.f);
        fputc('[', o.f);
        char *line = NULL;
        size_t cap = 0;
        ssize_t len;
        bool first = true;
        while ((len = getline(&line, &cap, in)) > 0) { /* our own lines: bounded */
            if (line[len - 1] == '\n')
                line[--len] = '\0';
            fputs(first ? "\n" : ",\n", o.f);
            fwrite(line, 1, (size_t)len, o.f);
            first = false;
        }
        free(line);
        fputs(first ? "]" : "\n]", o.f);
        fputs(mark + strlen("\"" RECORDS_MARK "\""), o.f);
        fputc('\n', o.f);
        e = out_commit(&o, eb);
    }
    if (in)
        fclose(in);
    out_abort(&o);
    free(text);
    return e;
}

/* Counts the warnings of a file and keeps their text for the caller to show. */
static void collect_warnings(struct ipw_analyze_result *res, const json_t *arr)
{
    size_t i;
    const json_t *w;
    json_array_foreach(arr, i, w)
    {
        size_t len = strlen(res->warning_text), room = sizeof res->warning_text - len;
        const char *t = json_string_value(w);
        if (t && room > 1)
            snprintf(res->warning_text + len, room, "%s\n", t);
    }
    res->warnings += json_array_size(arr);
}

/* What the document was computed from, so that plot and report can tell a stale one. */
static void stamp(json_t *doc, const struct ctx *c, uint64_t records)
{
    if (!c->source)
        return;
    json_t *s = json_deep_copy(c->source);
    json_object_set_new(s, "records", json_integer((json_int_t)records));
    json_object_set_new(doc, "source", s);
}

/* What the analysis was computed from: the digest the reader took on its first pass, else the
 * file read again (an Arrow dataset). */
static ipw_err take_source(struct ctx *c, struct ipw_run_reader *r, ipw_errbuf *eb)
{
    uint64_t bytes;
    char digest[IPW_DIGEST_HEX];
    if (ipw_run_reader_digest(r, &bytes, digest)) {
        c->source = ipw_analysis_stamp("records.jsonl", bytes, digest); /* no second read */
        return IPW_OK;
    }
    return ipw_analysis_source(ipw_run_reader_dir(r), &c->source, eb);
}

static ipw_err main_pass(struct ctx *c, struct ipw_run_reader *r, bool want_acc, bool want_reg,
                         const char *adir, struct ipw_analyze_result *res, ipw_errbuf *eb)
{
    struct ipw_accuracy acc;
    struct ipw_regression reg;
    ipw_accuracy_init(&acc);
    ipw_regression_init(&reg);
    struct outfile scores = {0};
    char path[4200];
    ipw_err e = IPW_OK;
    if (want_acc) {
        snprintf(path, sizeof path, "%s/scores.jsonl", adir);
        e = out_open(&scores, path, eb);
    }
    uint64_t n = 0;
    const struct ctx before = *c; /* the counts before the pass, for a pass made again */
    struct ipw_buf line; /* one scores.jsonl line; its strings are bounded by struct score */
    ipw_buf_init(&line, 4096);
    while (e == IPW_OK) {
        struct ipw_run_query q;
        bool eof;
        e = ipw_run_reader_next(r, &q, &eof, eb);
        if (e == IPW_OK && eof && ipw_run_reader_restarted(r)) {
            /* a record counted already was superseded by a later line (--resume): the reader
             * now knows them all; count again from the first record */
            c->cache_hits = before.cache_hits;
            c->inferred_kinds = before.inferred_kinds;
            c->modelled_answers = before.modelled_answers;
            c->modelled_scored = before.modelled_scored;
            c->unversioned = before.unversioned;
            res->modelled_energy = 0;
            n = 0;
            ipw_accuracy_free(&acc);
            ipw_accuracy_init(&acc);
            ipw_regression_init(&reg);
            if (want_acc) {
                out_abort(&scores);
                e = out_open(&scores, path, eb);
            }
            continue;
        }
        if (e != IPW_OK || eof)
            break;
        if (c->opts->should_stop && c->opts->should_stop()) {
            e = ipw_fail(eb, IPW_E_CANCELLED, "analysis stopped on request; nothing written");
            break;
        }
        n++;
        int major = schema_major(q.schema);
        if (major == 0 || major > IPW_RECORD_SCHEMA_MAJOR) {
            e = ipw_fail(eb, IPW_E_INVALID,
                         "%s/records.jsonl line %ld: record schema '%.60s' is not one this ipw "
                         "reads (%s): analyse it with the ipw that wrote it, or upgrade",
                         ipw_run_reader_dir(r), q.line, q.schema, IPW_RECORD_SCHEMA);
            break;
        }
        c->unversioned += major < 0;
        if (q.energy_source && strcmp(q.energy_source, "modeled") == 0)
            res->modelled_energy++;
        if (want_reg)
            ipw_regression_add(&reg, &q);
        if (!want_acc)
            continue;
        if (!q.kind_given)
            c->inferred_kinds++;
        struct score s;
        score_query(c, &q, &s);
        if (strcmp(s.method, "modelled-response") == 0)
            c->modelled_answers++;
        else if (strcmp(s.method, "modelled-accuracy") == 0)
            c->modelled_scored++;
        struct ipw_acc_query aq = acc_query(&q, s.verdict);
        struct ipw_acc_used used;
        e = ipw_accuracy_add(&acc, &aq, &used, eb);
        if (e != IPW_OK)
            break;
        bool scored = s.verdict == IPW_VERDICT_CORRECT || s.verdict == IPW_VERDICT_INCORRECT;
        ipw_buf_reset(&line);
        score_line(&line, &q, &s, &used, scored);
        if (ipw_buf_status(&line) != IPW_OK)
            e = ipw_fail(eb, IPW_E_NOMEM, "out of memory writing %s", scores.tmp);
        else if (fwrite(line.p, 1, line.len, scores.f) != line.len)
            e = ipw_fail(eb, IPW_E_IO, "cannot write %s: %s", scores.tmp, strerror(errno));
    }
    ipw_buf_free(&line);
    res->records = n;
    if (e == IPW_OK && !c->source)
        e = take_source(c, r, eb); /* single pass: the digest is whole now */
    if (e == IPW_OK && n == 0)
        e = ipw_fail(eb, IPW_E_NOTFOUND,
                     "%s/records.jsonl has no records: the run recorded no queries, so there is "
                     "nothing to analyze",
                     ipw_run_reader_dir(r));

    const char *model = ipw_run_reader_model(r);
    snprintf(res->model, sizeof res->model, "%s", model);
    json_t *reader_warnings = json_array();
    const char *first_skip;
    size_t skipped = ipw_run_reader_skipped(r, &first_skip);
    if (skipped)
        json_array_append_new(reader_warnings,
                              json_sprintf("skipped %zu malformed record lines (first: %s)",
                                           skipped, first_skip));

    if (e == IPW_OK && want_acc) {
        e = out_commit(&scores, eb);
        ipw_accuracy_finish(&acc, &res->accuracy);
        res->accuracy.unevaluated_modelled = c->modelled_answers;
        res->accuracy.modelled_scored = c->modelled_scored;
        json_t *doc = json_object();
        json_object_set_new(doc, "analysis", json_string("accuracy"));
        json_object_set_new(doc, "summary", ipw_accuracy_summary_json(&res->accuracy, model));
        json_t *warnings = json_deep_copy(reader_warnings);
        ipw_accuracy_warnings(&res->accuracy, model, warnings);
        if (c->unversioned)
            json_array_append_new(
                warnings, json_sprintf("%llu records carry no schema version (an older ipw or "
                                       "another tool): their fields were read by name, and any "
                                       "missing one is counted below, never silently replaced",
                                       (unsigned long long)c->unversioned));
        if (c->inferred_kinds)
            json_array_append_new(
                warnings, json_sprintf("%llu records have no \"kind\"; it was inferred from the "
                                       "reference and prompt",
                                       (unsigned long long)c->inferred_kinds));
        if (res->judge_refused)
            json_array_append_new(warnings, json_sprintf("the judge refused the requests: %s",
                                                         res->judge.first_error));
        collect_warnings(res, warnings);
        json_object_set_new(doc, "warnings", warnings);
        json_t *data = ipw_accuracy_data_json(&res->accuracy);
        json_object_set_new(data, "judge", judge_json(c, res));
        json_object_set_new(data, "scores_file", json_string("scores.jsonl"));
        bool inline_records = n <= IPW_ANALYSIS_INLINE_RECORDS_MAX;
        if (inline_records)
            json_object_set_new(data, "records", json_string(RECORDS_MARK));
        else
            json_object_set_new(data, "records_omitted", json_true());
        json_object_set_new(doc, "data", data);
        stamp(doc, c, n);
        snprintf(path, sizeof path, "%s/accuracy.json", adir);
        if (e == IPW_OK)
            e = write_accuracy(path, doc, inline_records ? scores.path : NULL, eb);
        json_decref(doc);
        res->wrote_accuracy = e == IPW_OK;
    }
    out_abort(&scores);
    if (e == IPW_OK && want_reg) {
        json_t *doc = ipw_regression_json(&reg);
        json_t *w = json_object_get(doc, "warnings");
        json_array_extend(w, reader_warnings);
        collect_warnings(res, w);
        stamp(doc, c, n);
        snprintf(path, sizeof path, "%s/regression.json", adir);
        e = ipw_json_write_file(path, doc, eb);
        json_decref(doc);
        res->wrote_regression = e == IPW_OK;
    }
    json_decref(reader_warnings);
    ipw_accuracy_free(&acc);
    return e;
}

ipw_err ipw_analyze_run(const char *run_dir, const struct ipw_analyze_options *opts,
                        struct ipw_analyze_result *res, ipw_errbuf *eb)
{
    struct ipw_analyze_options defaults;
    ipw_analyze_options_init(&defaults);
    if (!opts)
        opts = &defaults;
    struct ipw_analyze_result local;
    if (!res)
        res = &local;
    memset(res, 0, sizeof *res);
    const char *which = opts->analysis ? opts->analysis : "all";
    bool want_acc = strcmp(which, "accuracy") == 0 || strcmp(which, "all") == 0;
    bool want_reg = strcmp(which, "regression") == 0 || strcmp(which, "all") == 0;
    if (!want_acc && !want_reg)
        return ipw_fail(eb, IPW_E_INVALID,
                        "unknown analysis '%s'; choose accuracy, regression or all", which);

    struct ctx c = {.opts = opts};
    c.judge_on = want_acc && opts->judge.base_url && *opts->judge.base_url;
    /* Without a judge pass the records are read once: the reader notes each record_index on
     * the way and reads again only when one comes twice (a --resume); the digest is then known
     * at the end of the pass. */
    struct ipw_run_reader_options ro = {.model = opts->model,
                                        .skip_malformed = opts->skip_malformed,
                                        .single_pass = !c.judge_on};
    struct ipw_run_reader *r;
    ipw_err e = ipw_run_reader_open(run_dir, &ro, &r, eb);
    if (e != IPW_OK)
        return e;
    char adir[4200];
    snprintf(adir, sizeof adir, "%s/analysis", run_dir);
    e = ipw_mkdir_p(adir, eb);
    if (e == IPW_OK && !ro.single_pass)
        e = take_source(&c, r, eb);
    char cpath[4300];
    snprintf(cpath, sizeof cpath, "%s/judge_cache.jsonl", adir);
    if (e == IPW_OK && c.judge_on) {
        if (!opts->judge.model || !*opts->judge.model)
            e = ipw_fail(eb, IPW_E_INVALID, "--eval-base-url needs --eval-model (the judge "
                                            "model's name)");
        if (e == IPW_OK)
            e = ipw_judge_cache_open(cpath, &c.cache, eb);
        if (e == IPW_OK && opts->rejudge)
            ipw_judge_cache_forget(c.cache);
        c.verdict_model = opts->judge.model;
        if (e == IPW_OK)
            e = judge_pass(&c, r, res, eb);
    } else if (e == IPW_OK && want_acc && !opts->rejudge && ipw_path_exists(cpath)) {
        /* no judge now, but verdicts from an earlier one: they still hold (item 2) */
        e = ipw_judge_cache_open(cpath, &c.cache, eb);
        if (e == IPW_OK && *ipw_judge_cache_model(c.cache))
            c.verdict_model = ipw_judge_cache_model(c.cache);
    }
    if (e == IPW_OK)
        e = main_pass(&c, r, want_acc, want_reg, adir, res, eb);
    res->judge_cache_hits = c.cache_hits;
    ipw_judge_cache_close(c.cache);
    json_decref(c.source);
    ipw_run_reader_close(r);
    return e;
}
