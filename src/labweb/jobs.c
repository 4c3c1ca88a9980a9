/* The job queue of the web layer (jobs.h): one worker thread runs the engine's jobs in order;
 * every event becomes an SSE frame appended to its job, and readers wait on one condition
 * variable for more. One mutex guards everything here; the engine runs outside it. */
#include "labweb/jobs.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ipw/buf.h"
#include "ipw/jsonutil.h"
#include "ipw/log.h"

struct lw_frame {
    char *text;
    size_t len;
};

struct lw_job {
    char id[24];
    char kind[16];
    json_t *request;
    enum lw_job_state state;
    atomic_int cancel;
    double submitted_at, started_at, finished_at; /* unix seconds; 0 when not yet */
    struct lw_frame *frames;
    size_t nframes, cap, bytes;
    unsigned long dropped_tokens;
    json_t *result;
    char error[IPW_ERRMSG_MAX];
    int refs; /* the list's own reference plus one per open reader */
    struct lw_jobs *q;
};

struct lw_jobs {
    pthread_mutex_t mu;
    pthread_cond_t changed; /* any event or state change: readers wait on it */
    pthread_cond_t work;    /* the worker waits on it for a queued job */
    pthread_t worker;
    bool worker_started, stopping;
    const struct ipw_labweb_engine *eng;
    void *ud;
    struct lw_job **jobs; /* every listed job, oldest first */
    size_t njobs, cap;
    unsigned long next_id;
};

struct lw_reader {
    struct lw_job *job;
    size_t next; /* index of the frame to send next */
    size_t off;  /* bytes of that frame already sent */
};

const char *lw_job_state_name(enum lw_job_state s)
{
    static const char *const names[] = {"queued", "running", "done", "failed", "cancelled"};
    return s <= LW_CANCELLED ? names[s] : "unknown";
}

static double now_unix(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static bool finished(const struct lw_job *j) { return j->state >= LW_DONE; }

static void job_unref(struct lw_job *j) /* under mu */
{
    if (--j->refs > 0)
        return;
    for (size_t i = 0; i < j->nframes; i++)
        free(j->frames[i].text);
    free(j->frames);
    json_decref(j->request);
    json_decref(j->result);
    free(j);
}

/* Appends one SSE frame (under mu). Token text stops being kept at the soft bound so that a
 * long batch cannot grow memory without limit; the end of a job is always kept. */
static void append_frame(struct lw_job *j, const char *type, json_t *data)
{
    bool is_token = strcmp(type, "token") == 0, is_end = strcmp(type, "end") == 0;
    if (!is_end && (j->bytes > LW_EVENTS_HARD_BYTES ||
                    (is_token && j->bytes > LW_EVENTS_SOFT_BYTES))) {
        if (is_token && j->dropped_tokens++ == 0) {
            json_t *note = json_pack("{s:s}", "text",
                                     "the answer is longer than the live stream keeps; the rest "
                                     "is in the stored run");
            append_frame(j, "log", note);
            json_decref(note);
        }
        return;
    }
    char *json = ipw_json_dumps(data, JSON_COMPACT);
    if (!json)
        return;
    size_t need = strlen(json) + strlen(type) + 64;
    char *text = malloc(need);
    if (!text || ipw_grow(&j->frames, &j->cap, j->nframes + 1, sizeof *j->frames,
                          LW_MAX_FRAMES) != IPW_OK) {
        free(json);
        free(text);
        return;
    }
    /* JSON from jansson has no raw newline, so one data line carries the whole object. */
    int n = snprintf(text, need, "id: %zu\nevent: %s\ndata: %s\n\n", j->nframes + 1, type, json);
    free(json);
    j->frames[j->nframes].text = text;
    j->frames[j->nframes].len = (size_t)n;
    j->nframes++;
    j->bytes += (size_t)n;
}

struct emit_ctx {
    struct lw_jobs *q;
    struct lw_job *job;
};

static void emit(void *ctx, const char *type, json_t *data)
{
    struct emit_ctx *c = ctx;
    if (!data)
        data = json_object();
    if (!json_is_object(data)) {
        json_t *wrap = json_pack("{s:o}", "value", data);
        data = wrap;
    }
    pthread_mutex_lock(&c->q->mu);
    append_frame(c->job, type, data);
    pthread_cond_broadcast(&c->q->changed);
    pthread_mutex_unlock(&c->q->mu);
    json_decref(data);
}

static json_t *describe(struct lw_jobs *q, const struct lw_job *j) /* under mu */
{
    int position = 0;
    if (j->state == LW_QUEUED)
        for (size_t i = 0; i < q->njobs; i++) {
            if (q->jobs[i]->state == LW_QUEUED)
                position++;
            if (q->jobs[i] == j)
                break;
        }
    json_t *o = json_pack("{s:s, s:s, s:s, s:i, s:f, s:I}", "id", j->id, "kind", j->kind,
                          "state", lw_job_state_name(j->state), "position", position,
                          "submitted_at", j->submitted_at, "events", (json_int_t)j->nframes);
    json_object_set_new(o, "started_at", ipw_json_real_or_null(j->started_at, j->started_at > 0));
    json_object_set_new(o, "finished_at",
                        ipw_json_real_or_null(j->finished_at, j->finished_at > 0));
    json_object_set_new(o, "error", j->error[0] ? json_string(j->error) : json_null());
    json_object_set_new(o, "result", j->result ? json_incref(j->result) : json_null());
    json_object_set(o, "request", j->request);
    return o;
}

static void finish(struct lw_jobs *q, struct lw_job *j, enum lw_job_state st) /* under mu */
{
    j->state = st;
    j->finished_at = now_unix();
    json_t *end = json_pack("{s:s, s:o, s:o}", "state", lw_job_state_name(st), "error",
                            j->error[0] ? json_string(j->error) : json_null(), "result",
                            j->result ? json_incref(j->result) : json_null());
    append_frame(j, "end", end);
    json_decref(end);
    /* Keep the newest finished jobs for late readers; older ones go once nobody reads them. */
    size_t nfinished = 0;
    for (size_t i = 0; i < q->njobs; i++)
        nfinished += finished(q->jobs[i]);
    for (size_t i = 0; i < q->njobs && nfinished > LW_KEEP_FINISHED;) {
        struct lw_job *old = q->jobs[i];
        if (!finished(old)) {
            i++;
            continue;
        }
        memmove(&q->jobs[i], &q->jobs[i + 1], (q->njobs - i - 1) * sizeof *q->jobs);
        q->njobs--;
        nfinished--;
        job_unref(old);
    }
    pthread_cond_broadcast(&q->changed);
}

static void *worker_main(void *arg)
{
    struct lw_jobs *q = arg;
    pthread_mutex_lock(&q->mu);
    for (;;) {
        struct lw_job *j = NULL;
        while (!q->stopping) {
            for (size_t i = 0; i < q->njobs && !j; i++)
                if (q->jobs[i]->state == LW_QUEUED)
                    j = q->jobs[i];
            if (j)
                break;
            pthread_cond_wait(&q->work, &q->mu);
        }
        if (q->stopping)
            break;
        j->state = LW_RUNNING;
        j->started_at = now_unix();
        j->refs++; /* the worker's own while it runs */
        json_t *st = json_pack("{s:s}", "state", "running");
        append_frame(j, "job", st);
        json_decref(st);
        pthread_cond_broadcast(&q->changed);
        pthread_mutex_unlock(&q->mu);

        struct emit_ctx ctx = {q, j};
        ipw_errbuf eb = {0};
        json_t *result = NULL;
        ipw_err e = q->eng->run_job(q->ud, j->kind, j->request, emit, &ctx, &j->cancel, &result,
                                    &eb);

        pthread_mutex_lock(&q->mu);
        j->result = result;
        enum lw_job_state st_end = LW_DONE;
        if (e == IPW_E_CANCELLED || (e != IPW_OK && atomic_load(&j->cancel))) {
            st_end = LW_CANCELLED;
            snprintf(j->error, sizeof j->error, "%s", eb.msg[0] ? eb.msg : "cancelled");
        } else if (e != IPW_OK) {
            st_end = LW_FAILED;
            snprintf(j->error, sizeof j->error, "%s", eb.msg[0] ? eb.msg : ipw_err_name(e));
        }
        finish(q, j, st_end);
        job_unref(j);
    }
    pthread_mutex_unlock(&q->mu);
    return NULL;
}

ipw_err lw_jobs_start(const struct ipw_labweb_engine *eng, void *ud, struct lw_jobs **out,
                      ipw_errbuf *eb)
{
    struct lw_jobs *q = calloc(1, sizeof *q);
    if (!q)
        return ipw_fail(eb, IPW_E_NOMEM, "out of memory starting the lab's job queue");
    pthread_mutex_init(&q->mu, NULL);
    pthread_cond_init(&q->changed, NULL);
    pthread_cond_init(&q->work, NULL);
    q->eng = eng;
    q->ud = ud;
    q->next_id = 1;
    int rc = pthread_create(&q->worker, NULL, worker_main, q);
    if (rc != 0) {
        free(q);
        return ipw_fail(eb, IPW_E_NOMEM, "cannot start the lab's job thread: %s", strerror(rc));
    }
    q->worker_started = true;
    *out = q;
    return IPW_OK;
}

void lw_jobs_halt(struct lw_jobs *q)
{
    pthread_mutex_lock(&q->mu);
    q->stopping = true;
    for (size_t i = 0; i < q->njobs; i++)
        if (q->jobs[i]->state == LW_RUNNING) {
            atomic_store(&q->jobs[i]->cancel, 1);
            if (q->eng->cancel)
                q->eng->cancel(q->ud);
        }
    pthread_cond_broadcast(&q->changed);
    pthread_cond_broadcast(&q->work);
    pthread_mutex_unlock(&q->mu);
}

void lw_jobs_stop(struct lw_jobs *q)
{
    if (!q)
        return;
    lw_jobs_halt(q);
    if (q->worker_started)
        pthread_join(q->worker, NULL);
    pthread_mutex_lock(&q->mu);
    for (size_t i = 0; i < q->njobs; i++) {
        job_unref(q->jobs[i]);
    }
    pthread_mutex_unlock(&q->mu);
    free(q->jobs);
    pthread_cond_destroy(&q->changed);
    pthread_cond_destroy(&q->work);
    pthread_mutex_destroy(&q->mu);
    free(q);
}

ipw_err lw_jobs_submit(struct lw_jobs *q, const char *kind, const json_t *request, char *id,
                       size_t id_size, int *position, ipw_errbuf *eb)
{
    pthread_mutex_lock(&q->mu);
    int queued = 0;
    for (size_t i = 0; i < q->njobs; i++)
        queued += q->jobs[i]->state == LW_QUEUED;
    if (q->stopping) {
        pthread_mutex_unlock(&q->mu);
        return ipw_fail(eb, IPW_E_CANCELLED, "the server is stopping; no new job is taken");
    }
    if (queued >= IPW_LABWEB_MAX_QUEUE) {
        pthread_mutex_unlock(&q->mu);
        return ipw_fail(eb, IPW_E_NOMEM,
                        "the queue already holds %d jobs (the most it takes); wait for one "
                        "to finish or cancel one",
                        queued);
    }
    struct lw_job *j = calloc(1, sizeof *j);
    if (!j || ipw_grow(&q->jobs, &q->cap, q->njobs + 1, sizeof *q->jobs,
                       LW_KEEP_FINISHED + IPW_LABWEB_MAX_QUEUE + 2) != IPW_OK) {
        free(j);
        pthread_mutex_unlock(&q->mu);
        return ipw_fail(eb, IPW_E_NOMEM, "out of memory queueing a lab job");
    }
    snprintf(j->id, sizeof j->id, "j%lu", q->next_id++);
    snprintf(j->kind, sizeof j->kind, "%s", kind);
    j->request = json_deep_copy(request);
    j->state = LW_QUEUED;
    j->submitted_at = now_unix();
    j->refs = 1;
    j->q = q;
    q->jobs[q->njobs++] = j;
    json_t *st = json_pack("{s:s, s:i}", "state", "queued", "position", queued + 1);
    append_frame(j, "job", st);
    json_decref(st);
    snprintf(id, id_size, "%s", j->id);
    if (position)
        *position = queued + 1;
    pthread_cond_signal(&q->work);
    pthread_cond_broadcast(&q->changed);
    pthread_mutex_unlock(&q->mu);
    return IPW_OK;
}

static struct lw_job *find(struct lw_jobs *q, const char *id) /* under mu */
{
    for (size_t i = 0; i < q->njobs; i++)
        if (strcmp(q->jobs[i]->id, id) == 0)
            return q->jobs[i];
    return NULL;
}

ipw_err lw_jobs_cancel(struct lw_jobs *q, const char *id, enum lw_job_state *state,
                       ipw_errbuf *eb)
{
    pthread_mutex_lock(&q->mu);
    struct lw_job *j = find(q, id);
    if (!j) {
        pthread_mutex_unlock(&q->mu);
        return ipw_fail(eb, IPW_E_NOTFOUND, "no job '%s' (GET /api/queue lists them)", id);
    }
    if (j->state == LW_QUEUED) {
        snprintf(j->error, sizeof j->error, "cancelled before it started");
        finish(q, j, LW_CANCELLED);
    } else if (j->state == LW_RUNNING) {
        atomic_store(&j->cancel, 1);
        if (q->eng->cancel)
            q->eng->cancel(q->ud);
    }
    *state = j->state;
    pthread_mutex_unlock(&q->mu);
    return IPW_OK;
}

json_t *lw_jobs_describe(struct lw_jobs *q, const char *id)
{
    pthread_mutex_lock(&q->mu);
    struct lw_job *j = find(q, id);
    json_t *o = j ? describe(q, j) : NULL;
    pthread_mutex_unlock(&q->mu);
    return o;
}

json_t *lw_jobs_queue(struct lw_jobs *q)
{
    json_t *queued = json_array(), *recent = json_array(), *running = json_null();
    pthread_mutex_lock(&q->mu);
    for (size_t i = 0; i < q->njobs; i++) {
        struct lw_job *j = q->jobs[i];
        json_t *d = describe(q, j);
        json_object_del(d, "result"); /* the queue view stays small */
        if (j->state == LW_RUNNING) {
            json_decref(running);
            running = d;
        } else if (j->state == LW_QUEUED) {
            json_array_append_new(queued, d);
        } else {
            json_array_insert_new(recent, 0, d);
        }
    }
    pthread_mutex_unlock(&q->mu);
    return json_pack("{s:o, s:o, s:o}", "running", running, "queued", queued, "recent", recent);
}

struct lw_reader *lw_reader_open(struct lw_jobs *q, const char *id, uint64_t after)
{
    struct lw_reader *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    pthread_mutex_lock(&q->mu);
    struct lw_job *j = find(q, id);
    if (j) {
        j->refs++;
        r->job = j;
        r->next = after < j->nframes ? (size_t)after : j->nframes;
    }
    pthread_mutex_unlock(&q->mu);
    if (!j) {
        free(r);
        return NULL;
    }
    return r;
}

long lw_reader_read(struct lw_reader *r, char *buf, size_t max, int wait_ms)
{
    struct lw_job *j = r->job;
    struct lw_jobs *q = j->q;
    pthread_mutex_lock(&q->mu);
    if (r->next >= j->nframes && !finished(j) && !q->stopping) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += wait_ms / 1000;
        until.tv_nsec += (long)(wait_ms % 1000) * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        while (r->next >= j->nframes && !finished(j) && !q->stopping)
            if (pthread_cond_timedwait(&q->changed, &q->mu, &until) == ETIMEDOUT)
                break;
    }
    size_t n = 0;
    while (r->next < j->nframes && n < max) {
        const struct lw_frame *f = &j->frames[r->next];
        size_t take = f->len - r->off;
        if (take > max - n)
            take = max - n;
        memcpy(buf + n, f->text + r->off, take);
        n += take;
        r->off += take;
        if (r->off == f->len) {
            r->next++;
            r->off = 0;
        }
    }
    bool end = n == 0 && r->next >= j->nframes && (finished(j) || q->stopping);
    pthread_mutex_unlock(&q->mu);
    return end ? -1 : (long)n;
}

void lw_reader_close(struct lw_reader *r)
{
    if (!r)
        return;
    struct lw_jobs *q = r->job->q;
    pthread_mutex_lock(&q->mu);
    job_unref(r->job);
    pthread_mutex_unlock(&q->mu);
    free(r);
}
