/* The run directory's lifecycle: refuse to clobber an existing run unless told (--resume or
 * --overwrite), check that a resumed run is the same run, append records durably, and rebuild
 * the Arrow dataset and summary.json from records.jsonl. */
#include "run_output.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "ipw/fsutil.h"
#include "ipw/jsonutil.h"
#include "ipw/log.h"
#include "ipw/run_dataset.h"

/* Which settings differ between the run being resumed and this command ("--concurrency 1 ->
 * 4; ..."), into out ("" when none, or when the run predates the settings record). With
 * differences, the run's settings history (or its one settings object) plus the new settings
 * become o->settings_history. */
static void settings_diff(struct ipw_run_output *o, const json_t *was, const json_t *history,
                          const struct ipw_profile_config *cfg, char *out, size_t size)
{
    static const struct {
        const char *key, *flag;
    } names[] = {{"client_base_url", "--client-base-url"}, {"client_params", "--client-param"},
                 {"concurrency", "--concurrency"},         {"monitors", "--monitor"},
                 {"collector", "--collector"},             {"interval_ms", "--interval-ms"},
                 {"baseline_seconds", "--baseline-seconds"}};
    out[0] = '\0';
    if (!json_is_object(was))
        return;
    json_t *now = ipw_profile_settings_json(cfg);
    size_t n = 0;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        const json_t *a = json_object_get(was, names[i].key), *b = json_object_get(now, names[i].key);
        if (a && b && (json_equal(a, b) || (json_is_number(a) && json_is_number(b) &&
                                            json_number_value(a) == json_number_value(b))))
            continue;
        char *ta = a ? json_dumps(a, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
        char *tb = b ? json_dumps(b, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
        int w = snprintf(out + n, size - n, "%s%s %.60s -> %.60s", n ? "; " : "", names[i].flag,
                         ta ? ta : "(none)", tb ? tb : "(none)");
        free(ta);
        free(tb);
        if (w > 0 && (size_t)w < size - n)
            n += (size_t)w;
    }
    if (n) {
        o->settings_history = json_is_array(history) ? json_deep_copy(history) : json_array();
        if (!json_array_size(o->settings_history))
            json_array_append_new(o->settings_history, json_deep_copy(was));
        json_array_append(o->settings_history, now);
    }
    json_decref(now);
}

/* A resumed run must be the same run: same dataset sample, model and client. summary.json
 * (written when the run started) holds the configuration it started with. */
static ipw_err check_same_run(struct ipw_run_output *o, const char *dir,
                              const struct ipw_profile_config *cfg, ipw_errbuf *eb)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/summary.json", dir);
    json_t *s = NULL;
    ipw_errbuf le = {0};
    if (ipw_json_load_file(path, 64 << 20, &s, &le) != IPW_OK) {
        ipw_warn("resuming without a readable summary.json (%s); trusting the command line",
                 le.msg);
        return IPW_OK;
    }
    const json_t *pc = json_object_get(s, "profiler_config");
    const json_t *ap = json_object_get(pc, "additional_parameters");
    const char *was_model = ipw_json_get_string(pc, "model");
    const char *was_client = ipw_json_get_string(pc, "client_id");
    const char *was_dataset = ipw_json_get_string(pc, "dataset_id");
    double was_max = -1, was_seed = -1;
    ipw_json_get_number(pc, "max_queries", &was_max);
    ipw_json_get_number(ap, "seed", &was_seed);
    double now_max = cfg->max_queries > 0 ? (double)cfg->max_queries : -1;
    double now_seed = cfg->seed_given ? (double)cfg->seed : -1;
    const char *what = NULL;
    char detail[256] = "";
    if (was_model && strcmp(was_model, cfg->model) != 0)
        what = "--model";
    else if (was_client && strcmp(was_client, cfg->client_id) != 0)
        what = "--client";
    else if (was_dataset && strcmp(was_dataset, cfg->dataset_id) != 0)
        what = "--dataset";
    else if (was_max != now_max)
        what = "--max-queries";
    else if (was_seed != now_seed)
        what = "--seed";
    if (what)
        snprintf(detail, sizeof detail, "%s differs from the run being resumed", what);
    char diffs[768] = "";
    if (!what)
        settings_diff(o, json_object_get(s, "settings"), json_object_get(s, "settings_history"),
                      cfg, diffs, sizeof diffs);
    json_t *bl = json_object_get(json_object_get(s, "telemetry"), "baseline");
    double was_s = 0;
    if (ipw_json_get_number(bl, "duration_s", &was_s) && was_s > 0)
        o->prev_baseline = json_incref(bl);
    json_decref(s);
    if (what)
        return ipw_fail(eb, IPW_E_INVALID,
                        "cannot resume %s: %s; repeat the original command with --resume, or "
                        "use --overwrite to start again",
                        dir, detail);
    if (diffs[0] && !cfg->resume_anyway)
        return ipw_fail(eb, IPW_E_INVALID,
                        "cannot resume %s: settings differ from the run being resumed: %s; "
                        "repeat them, or pass --resume-anyway to go on with the new ones (each "
                        "record keeps the settings it was made with)",
                        dir, diffs);
    if (diffs[0])
        ipw_warn("resuming %s with other settings (%s): each record keeps its own", dir, diffs);
    return IPW_OK;
}

/* The finished records must be the dataset's records at the same positions: a dataset file
 * edited (or a different --dataset-path or --dataset-param) since the run started would
 * otherwise mix two datasets under one set of indexes. */
struct same_data {
    const struct ipw_dataset *ds;
    const char *path;
    int64_t bad;
    bool beyond;
};

static ipw_err check_record(void *ctx, json_t *rec, int64_t index, size_t line, uint64_t offset,
                            size_t len, ipw_errbuf *eb)
{
    (void)line, (void)offset, (void)len, (void)eb;
    struct same_data *sd = ctx;
    if (sd->bad >= 0)
        return IPW_OK;
    if ((uint64_t)index >= sd->ds->n) {
        sd->bad = index;
        sd->beyond = true;
        return IPW_OK;
    }
    json_t *now = ipw_json_string_lossy(sd->ds->rec[index].problem);
    if (!json_equal(now, json_object_get(rec, "problem")))
        sd->bad = index;
    json_decref(now);
    return IPW_OK;
}

static ipw_err check_same_data(const char *records_path, const struct ipw_profile_config *cfg,
                               const struct ipw_dataset *ds, ipw_errbuf *eb)
{
    struct same_data sd = {ds, records_path, -1, false};
    ipw_err rc = ipw_records_scan(records_path, check_record, &sd, NULL, eb);
    if (rc != IPW_OK || sd.bad < 0)
        return rc;
    const char *src = cfg->dataset_path ? cfg->dataset_path : cfg->dataset_id;
    if (sd.beyond)
        return ipw_fail(eb, IPW_E_INVALID,
                        "cannot resume: %s has record %lld but dataset %s now gives only %zu "
                        "records; restore the dataset the run started with, or use --overwrite",
                        records_path, (long long)sd.bad, src, ds->n);
    return ipw_fail(eb, IPW_E_INVALID,
                    "cannot resume: record %lld of %s was a different prompt than dataset %s now "
                    "gives at that position (the dataset or --dataset-param changed); restore "
                    "it, or use --overwrite to start again",
                    (long long)sd.bad, records_path, src);
}

/* One profiler per run directory: a second `ipw profile --resume` (or --overwrite) of a run
 * still going would interleave its queries with the first one's and measure both loads at
 * once. The lock is on the directory itself, taken before anything in it is opened for
 * writing, so there is no window between creating records.jsonl and locking it in which a
 * second profiler could get in; it ends with the process. */
static ipw_err lock_log(struct ipw_run_output *o, ipw_errbuf *eb)
{
    if (o->locked)
        return IPW_OK;
    int fd = open(o->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return IPW_OK; /* nothing to lock yet */
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        close(fd);
        if (e == EWOULDBLOCK)
            return ipw_fail(eb, IPW_E_EXISTS,
                            "run directory %s is being written by another ipw profile; wait for "
                            "it to finish or stop it first",
                            o->dir);
        return IPW_OK; /* a file system without locks: go on unguarded */
    }
    o->lock_fd = fd;
    o->locked = true;
    return IPW_OK;
}

static void unlock_log(struct ipw_run_output *o)
{
    if (o->locked)
        close(o->lock_fd);
    o->locked = false;
}

/* Outputs are replaced through "<name>.tmp.<pid>" and a rename: a process killed in between
 * leaves the temporary behind (an Arrow file can be large). With the directory locked, any
 * such file is a dead writer's. */
static void remove_stale_temporaries(const char *dir)
{
    static const char *const outputs[] = {"data-00000-of-00001.arrow", "dataset_info.json",
                                          "state.json", "summary.json"};
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *de;
    while ((de = readdir(d))) {
        for (size_t i = 0; i < sizeof outputs / sizeof outputs[0]; i++) {
            size_t n = strlen(outputs[i]);
            const char *p = de->d_name + n;
            if (strncmp(de->d_name, outputs[i], n) != 0 || strncmp(p, ".tmp.", 5) != 0)
                continue;
            p += 5;
            bool digits = *p != '\0';
            for (; *p; p++)
                digits = digits && isdigit((unsigned char)*p);
            char path[4400];
            if (digits && snprintf(path, sizeof path, "%s/%s", dir, de->d_name) < (int)sizeof path &&
                unlink(path) == 0)
                ipw_info("removed %s, left by a run that was killed while writing", path);
        }
    }
    closedir(d);
}

ipw_err ipw_run_output_open(struct ipw_run_output *o, const struct ipw_profile_config *cfg,
                            const struct ipw_dataset *ds, const char *hardware_label,
                            ipw_errbuf *eb)
{
    memset(o, 0, sizeof *o);
    snprintf(o->hardware_label, sizeof o->hardware_label, "%s", hardware_label);
    char name[512];
    if (cfg->run_name)
        snprintf(name, sizeof name, "%s", cfg->run_name);
    else
        ipw_run_dir_name(hardware_label, cfg->model, cfg->dataset_id, cfg->dataset_path, name,
                         sizeof name);
    ipw_err rc = ipw_path_join(o->dir, sizeof o->dir, cfg->output_dir, name, eb);
    if (rc != IPW_OK)
        return rc;
    snprintf(o->records_path, sizeof o->records_path, "%s/%s", o->dir, IPW_RECORDS_FILE);
    bool exists = ipw_path_exists(o->dir);
    if (!exists && cfg->resume)
        /* a resume that finds nothing must not quietly start a new run elsewhere (another
         * --collector or --monitor changes the hardware label, so the directory name) */
        return ipw_fail(eb, IPW_E_NOTFOUND,
                        "nothing to resume: %s does not exist (the hardware label, model and "
                        "dataset name the directory; another --collector or --monitor changes "
                        "the label); drop --resume to start a new run",
                        o->dir);
    if (exists && !cfg->resume && !cfg->overwrite)
        return ipw_fail(eb, IPW_E_EXISTS,
                        "run directory %s already exists: pass --resume to continue it or "
                        "--overwrite to replace it",
                        o->dir);
    if (exists) {
        rc = lock_log(o, eb);
        if (rc != IPW_OK)
            return rc;
    }
    if (exists && cfg->overwrite) {
        unlock_log(o); /* the new log gets its own lock */
        rc = ipw_remove_tree(o->dir, eb);
        if (rc != IPW_OK)
            return rc;
        exists = false;
    }
    if (exists && cfg->resume) {
        rc = check_same_run(o, o->dir, cfg, eb);
        if (rc != IPW_OK)
            return rc;
        if (o->locked)
            remove_stale_temporaries(o->dir);
    }
    rc = ipw_mkdir_p(o->dir, eb);
    if (rc != IPW_OK) {
        /* a name too long comes from the run's name (the model's), not from --output-dir */
        if (strstr(eb->msg, strerror(ENAMETOOLONG)))
            ipw_err_prefix(eb, "the run directory name '%.60s...' is too long for the file "
                               "system: choose a shorter one with --run-name",
                           name);
        else
            ipw_err_prefix(eb, "cannot create the run directory (check --output-dir)");
        return rc;
    }
    rc = lock_log(o, eb); /* a new directory: locked before its log is created */
    if (rc != IPW_OK)
        return rc;
    bool resume = exists && cfg->resume && ipw_path_exists(o->records_path);
    struct ipw_records_info info;
    if (resume) {
        /* failed queries are run again on resume: their new record supersedes the old */
        rc = check_same_data(o->records_path, cfg, ds, eb);
        if (rc == IPW_OK)
            rc = ipw_records_finished(o->records_path, true, &o->done, &info, eb);
        if (rc != IPW_OK)
            return rc;
        if (info.torn_tail)
            ipw_warn("%s ended in a partial line (a crash while writing); it is removed",
                     o->records_path);
    }
    rc = ipw_records_open(o->records_path, resume, &o->log, &info, eb);
    if (rc != IPW_OK) {
        ipw_records_close(o->log);
        o->log = NULL;
        ipw_records_done_free(&o->done);
        unlock_log(o);
    }
    return rc;
}

bool ipw_run_output_is_done(const struct ipw_run_output *o, size_t record_index)
{
    return ipw_records_done_has(&o->done, (int64_t)record_index);
}

ipw_err ipw_run_output_append(struct ipw_run_output *o, const json_t *record, ipw_errbuf *eb)
{
    return ipw_records_append(o->log, record, eb);
}

ipw_err ipw_run_output_flush_dataset(struct ipw_run_output *o, ipw_errbuf *eb)
{
    struct ipw_run_dataset_stats st;
    return ipw_run_dataset_write_from_log(o->dir, false, &st, eb);
}

ipw_err ipw_run_output_write_summary(struct ipw_run_output *o, const struct ipw_profile_config *cfg,
                                     const struct ipw_telemetry_session *ts,
                                     const struct ipw_dataset *ds, double baseline_s,
                                     const struct ipw_energy *baseline_w, bool final,
                                     ipw_errbuf *eb)
{
    struct ipw_profile_totals *t;
    ipw_err rc = ipw_profile_totals_read(o->records_path, cfg->model, ds ? ds->n : 0, &t, eb);
    if (rc != IPW_OK)
        return rc;
    if (final) {
        /* the final rewrite sorts every record into record_index order */
        struct ipw_run_dataset_stats st;
        ipw_errbuf de = {0};
        if (ipw_profile_totals_queries(t) &&
            ipw_run_dataset_write_from_log(o->dir, true, &st, &de) != IPW_OK)
            ipw_warn("cannot write the Arrow dataset: %s; records.jsonl is intact — make room "
                     "and run the same command with --resume to write it",
                     de.msg);
    }
    json_t *s = ipw_profile_summary_json(o, cfg, ts, ds, baseline_s, baseline_w, t);
    ipw_profile_totals_free(t);
    char path[4200];
    snprintf(path, sizeof path, "%s/summary.json", o->dir);
    rc = ipw_json_write_file(path, s, eb);
    json_decref(s);
    return rc;
}

void ipw_run_output_close(struct ipw_run_output *o)
{
    ipw_records_close(o->log);
    o->log = NULL;
    ipw_records_done_free(&o->done);
    unlock_log(o);
    json_decref(o->prev_baseline);
    o->prev_baseline = NULL;
    json_decref(o->settings_history);
    o->settings_history = NULL;
}

void ipw_profile_estimate_compute(const struct ipw_perf *pm, const struct ipw_chat_result *res,
                                  bool *have, double *flops, double *macs)
{
    *have = false;
    if (res->server_timings &&
        ipw_json_get_number(res->server_timings, "flops_per_request", flops) &&
        ipw_json_get_number(res->server_timings, "macs_per_request", macs)) {
        *have = true;
        return;
    }
    if (!pm || res->input_tokens < 0 || res->output_tokens < 0)
        return;
    struct ipw_perf_request pr;
    ipw_perf_request(pm, res->input_tokens, res->output_tokens, &pr);
    *flops = pr.flops;
    *macs = pr.macs;
    *have = true;
}
