/* Task sets: the built-in terminal tasks (data/agent/tasks.jsonl, compiled in), a user's JSONL
 * file in the same format, or the ipw dataset's scoreable items as question-answer tasks. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ipw/agent.h"
#include "ipw/buf.h"
#include "ipw/dataset.h"
#include "ipw/embedded.h"
#include "ipw/fsutil.h"
#include "taskset.h"

#define MAX_TASKS 100000
#define MAX_FILE ((size_t)256 << 20)
#define BUILTIN_PATH "agent/tasks.jsonl"

void ipw_agent_tasks_free(struct ipw_agent_taskset *ts)
{
    for (size_t i = 0; i < ts->n; i++)
        ipw_agent_task_clear(&ts->task[i]);
    free(ts->task);
    memset(ts, 0, sizeof *ts);
}

const struct ipw_agent_task *ipw_agent_tasks_find(const struct ipw_agent_taskset *ts,
                                                  const char *id)
{
    for (size_t i = 0; i < ts->n; i++)
        if (strcmp(ts->task[i].id, id) == 0)
            return &ts->task[i];
    return NULL;
}

static ipw_err grow(struct ipw_agent_taskset *ts, size_t *cap, ipw_errbuf *eb)
{
    ipw_err e = ipw_grow(&ts->task, cap, ts->n + 1, sizeof *ts->task, MAX_TASKS);
    if (e == IPW_E_RANGE)
        return ipw_fail(eb, e, "more than %d tasks in one set", MAX_TASKS);
    return e == IPW_OK ? IPW_OK : ipw_fail(eb, e, "out of memory reading tasks");
}

ipw_err ipw_agent_jsonl_read(const char *text, size_t len, const char *source, bool comments,
                             const char *id_name, ipw_agent_fill_fn fill,
                             struct ipw_agent_taskset *ts, ipw_errbuf *eb)
{
    size_t cap = ts->n, line = 0;
    ipw_err e = IPW_OK;
    const char *p = text, *end = text + len;
    while (e == IPW_OK && p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        line++;
        const char *b = p;
        while (b < le && (*b == ' ' || *b == '\t' || *b == '\r'))
            b++;
        if (b < le && !(comments && *b == '#')) {
            char where[600];
            snprintf(where, sizeof where, "%s line %zu", source, line);
            json_error_t je;
            json_t *obj = json_loadb(b, (size_t)(le - b), 0, &je);
            if (!obj)
                e = ipw_fail(eb, IPW_E_INVALID, "%s: not JSON (%s at column %d)", where, je.text,
                             je.column);
            if (e == IPW_OK)
                e = grow(ts, &cap, eb);
            if (e == IPW_OK)
                e = fill(obj, where, ts->n, &ts->task[ts->n], eb);
            json_decref(obj);
            if (e == IPW_OK) {
                const char *id = ts->task[ts->n].id;
                for (size_t i = 0; i < ts->n && e == IPW_OK; i++)
                    if (strcmp(ts->task[i].id, id) == 0)
                        e = ipw_fail(eb, IPW_E_INVALID,
                                     "%s: %s '%s' is used twice; ids must be unique", where,
                                     id_name, id);
                if (e == IPW_OK)
                    ts->n++;
                else
                    ipw_agent_task_clear(&ts->task[ts->n]);
            }
        }
        p = nl ? nl + 1 : end;
    }
    return e;
}

static ipw_err fill_task(const json_t *obj, const char *where, size_t index, struct ipw_agent_task *t,
                         ipw_errbuf *eb)
{
    (void)index;
    return ipw_agent_task_parse(obj, where, t, eb);
}

ipw_err ipw_agent_tasks_parse(const char *text, size_t len, const char *source,
                              struct ipw_agent_taskset *ts, ipw_errbuf *eb)
{
    return ipw_agent_jsonl_read(text, len, source, true, "task id", fill_task, ts, eb);
}

/* The ipw dataset's multiple-choice and exact-answer items as qa tasks (open items need a
 * judge, so they are left out). */
static ipw_err from_ipw(struct ipw_agent_taskset *ts, ipw_errbuf *eb)
{
    struct ipw_dataset_options o = {0};
    struct ipw_dataset *ds = NULL;
    ipw_err e = ipw_dataset_load("ipw", &o, &ds, eb);
    size_t cap = 0;
    for (size_t i = 0; e == IPW_OK && i < ds->n; i++) {
        const struct ipw_dataset_record *r = &ds->rec[i];
        if (strcmp(r->kind, "mcq") != 0 && strcmp(r->kind, "exact") != 0)
            continue;
        e = grow(ts, &cap, eb);
        if (e != IPW_OK)
            break;
        struct ipw_agent_task *t = &ts->task[ts->n];
        memset(t, 0, sizeof *t);
        snprintf(t->id, sizeof t->id, "ipw-%zu", r->dataset_index);
        snprintf(t->category, sizeof t->category, "%s", r->subject ? r->subject : "qa");
        snprintf(t->item_kind, sizeof t->item_kind, "%s", r->kind);
        t->kind = IPW_TASK_QA;
        t->instruction = strdup(r->problem);
        t->answer = strdup(r->answer);
        t->setup = strdup("");
        t->test = strdup("");
        /* the scripted agent answers directly: the reference is its solution */
        ts->n++;
        if (!t->instruction || !t->answer || !t->setup || !t->test)
            e = ipw_fail(eb, IPW_E_NOMEM, "out of memory reading the ipw dataset");
    }
    ipw_dataset_free(ds);
    return e;
}

static void keep(struct ipw_agent_taskset *ts, long max, uint64_t seed, bool seed_given)
{
    if (max <= 0 || (size_t)max >= ts->n)
        return;
    size_t k = (size_t)max;
    if (seed_given) {
        size_t *idx = NULL;
        size_t got = ipw_dataset_sample_indices(ts->n, k, seed, &idx);
        if (got == k) {
            bool *take = calloc(ts->n, sizeof *take);
            if (take) {
                for (size_t i = 0; i < k; i++)
                    take[idx[i]] = true;
                size_t w = 0;
                for (size_t i = 0; i < ts->n; i++) {
                    if (take[i])
                        ts->task[w++] = ts->task[i];
                    else
                        ipw_agent_task_clear(&ts->task[i]);
                }
                ts->n = w;
                free(take);
                free(idx);
                return;
            }
        }
        free(idx); /* out of memory: the first max tasks */
    }
    for (size_t i = k; i < ts->n; i++)
        ipw_agent_task_clear(&ts->task[i]);
    ts->n = k;
}

ipw_err ipw_agent_tasks_load(const char *id, const char *path, long max, uint64_t seed,
                             bool seed_given, struct ipw_agent_taskset *ts, ipw_errbuf *eb)
{
    memset(ts, 0, sizeof *ts);
    ipw_err e;
    if (!id || strcmp(id, IPW_AGENT_BUILTIN) == 0) {
        if (path)
            return ipw_fail(eb, IPW_E_INVALID,
                            "--dataset-path is for --dataset jsonl (the %s set is built in)",
                            IPW_AGENT_BUILTIN);
        const struct ipw_embedded_file *f = ipw_embedded_find(BUILTIN_PATH);
        if (!f)
            return ipw_fail(eb, IPW_E_INTERNAL, "the built-in task set is missing from this build");
        e = ipw_agent_tasks_parse((const char *)f->data, *f->len, "built-in " BUILTIN_PATH, ts,
                                  eb);
        snprintf(ts->id, sizeof ts->id, "%s", IPW_AGENT_BUILTIN);
        snprintf(ts->name, sizeof ts->name, "terminal (built-in)");
    } else if (strcmp(id, "jsonl") == 0 || strcmp(id, "agentic") == 0) {
        bool sessions = strcmp(id, "agentic") == 0;
        if (!path)
            return ipw_fail(eb, IPW_E_INVALID, "--dataset %s needs --dataset-path FILE (%s)", id,
                            sessions ? "recorded sessions, docs/formats/agentic-sessions.md"
                                     : "one task per line, docs/formats/agent-tasks.md");
        char *text = NULL;
        size_t len = 0;
        e = ipw_read_file(path, MAX_FILE, &text, &len, eb);
        if (e == IPW_OK)
            e = sessions ? ipw_agent_sessions_parse(text, len, path, ts, eb)
                         : ipw_agent_tasks_parse(text, len, path, ts, eb);
        free(text);
        snprintf(ts->id, sizeof ts->id, "%s", id);
        const char *base = strrchr(path, '/');
        snprintf(ts->name, sizeof ts->name, "%s", base ? base + 1 : path);
    } else if (strcmp(id, "ipw") == 0) {
        e = from_ipw(ts, eb);
        snprintf(ts->id, sizeof ts->id, "ipw");
        snprintf(ts->name, sizeof ts->name, "ipw (built-in, mcq and exact items as qa tasks)");
    } else {
        return ipw_fail(eb, IPW_E_INVALID,
                        "unknown task set '%s': use %s (built in), ipw or jsonl", id,
                        IPW_AGENT_BUILTIN);
    }
    if (e == IPW_OK && ts->n == 0)
        e = ipw_fail(eb, IPW_E_INVALID, "task set %s has no tasks", path ? path : id);
    if (e != IPW_OK) {
        ipw_agent_tasks_free(ts);
        return e;
    }
    keep(ts, max, seed, seed_given);
    return IPW_OK;
}
