/* The LLM judge's worker pool: threads that POST the prompts (judge_verdict.c) to an
 * OpenAI-compatible /chat/completions endpoint (non-streaming, libcurl), retrying 429, 5xx,
 * timeouts and unreadable replies with exponential backoff. The API key goes only into the
 * Authorization header: it is never logged, and it is scrubbed from error text. */
#include "ipw/judge.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ipw/buf.h"
#include "ipw/clock.h"
#include "ipw/log.h"
#include "ipw/version.h"

#define BODY_MAX (4u << 20)
#define BACKOFF_CAP_MS 30000
#define RETRY_AFTER_CAP_S 60

/* ---- HTTP ---------------------------------------------------------------------------------- */

static size_t on_body(char *data, size_t size, size_t nmemb, void *ud)
{
    size_t len = size * nmemb;
    return ipw_buf_add(ud, data, len) == IPW_OK ? len : 0; /* 0 stops the transfer */
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *ud)
{
    long *retry_after = ud;
    size_t len = size * nmemb;
    if (len > 12 && strncasecmp(data, "Retry-After:", 12) == 0) {
        char tmp[32];
        size_t n = len - 12 < sizeof tmp - 1 ? len - 12 : sizeof tmp - 1;
        memcpy(tmp, data + 12, n);
        tmp[n] = '\0';
        char *end;
        long v = strtol(tmp, &end, 10);
        if (end != tmp && v >= 0)
            *retry_after = v > RETRY_AFTER_CAP_S ? RETRY_AFTER_CAP_S : v;
    }
    return len;
}

/* ---- the pool ------------------------------------------------------------------------------ */

struct job {
    char key[65];
    char *problem, *reference, *response;
};

struct ipw_judge_pool {
    struct ipw_judge_config cfg;
    char url[2048];
    char shown_url[2048]; /* url without any user:password@ part, for messages */
    char *auth_header; /* "Authorization: Bearer ..." (wiped on free) */
    char *api_key;
    struct ipw_judge_cache *cache;
    pthread_t *threads;
    int nthreads;

    pthread_mutex_t mu;
    pthread_cond_t not_empty, not_full;
    struct job **queue;
    size_t qcap, qhead, qlen;
    bool closed, fatal, cancelled;
    struct ipw_judge_stats st;
    int64_t last_progress_ns;
    unsigned seed;
};

static void job_free(struct job *j)
{
    if (!j)
        return;
    free(j->problem);
    free(j->reference);
    free(j->response);
    free(j);
}

/* Error text with any occurrence of the API key replaced (some servers echo it back). */
static void scrub(struct ipw_judge_pool *p, char *text)
{
    if (!p->api_key || strlen(p->api_key) < 4)
        return;
    size_t kl = strlen(p->api_key);
    for (char *k = strstr(text, p->api_key); k; k = strstr(k, p->api_key)) {
        memset(k, '*', kl);
    }
}

static void note_error(struct ipw_judge_pool *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void note_error(struct ipw_judge_pool *p, const char *fmt, ...)
{
    char msg[IPW_ERRMSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    scrub(p, msg);
    pthread_mutex_lock(&p->mu);
    if (!p->st.first_error[0])
        snprintf(p->st.first_error, sizeof p->st.first_error, "%s", msg);
    pthread_mutex_unlock(&p->mu);
    ipw_debug("judge: %s", msg);
}

static bool stopping(struct ipw_judge_pool *p)
{
    if (p->cfg.should_stop && p->cfg.should_stop()) {
        pthread_mutex_lock(&p->mu);
        p->cancelled = true;
        pthread_mutex_unlock(&p->mu);
        return true;
    }
    pthread_mutex_lock(&p->mu);
    bool f = p->fatal || p->cancelled;
    pthread_mutex_unlock(&p->mu);
    return f;
}

/* Sleeps ms in short slices so that a stop request is seen quickly. */
static void nap(struct ipw_judge_pool *p, long ms)
{
    int64_t end = ipw_mono_ns() + (int64_t)ms * IPW_NS_PER_MS;
    while (!stopping(p)) {
        int64_t left = end - ipw_mono_ns();
        if (left <= 0)
            break;
        ipw_sleep_ns(left < 100 * IPW_NS_PER_MS ? left : 100 * IPW_NS_PER_MS);
    }
}

static void count(struct ipw_judge_pool *p, uint64_t *field)
{
    pthread_mutex_lock(&p->mu);
    (*field)++;
    pthread_mutex_unlock(&p->mu);
}

enum outcome { OUT_VERDICT, OUT_RETRY, OUT_FAIL, OUT_FATAL };

/* One request. On OUT_VERDICT *verdict is 0/1; *wait_s is a server's Retry-After. */
static enum outcome ask(struct ipw_judge_pool *p, CURL *h, const char *payload, int *verdict,
                        long *wait_s, int attempt)
{
    struct ipw_buf body;
    ipw_buf_init(&body, BODY_MAX);
    struct curl_slist *hdrs = curl_slist_append(NULL, "Content-Type: application/json");
    if (p->auth_header)
        hdrs = curl_slist_append(hdrs, p->auth_header);
    curl_easy_reset(h);
    curl_easy_setopt(h, CURLOPT_URL, p->url);
    curl_easy_setopt(h, CURLOPT_POST, 1L);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, payload);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "ipw/" IPW_VERSION);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, p->cfg.timeout_ms);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, p->cfg.connect_timeout_ms);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &body);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, wait_s);
    *wait_s = -1;
    count(p, &p->st.requests);
    CURLcode rc = curl_easy_perform(h);
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(hdrs);
    enum outcome out;
    if (rc != CURLE_OK) {
        note_error(p, "request to %s failed (attempt %d): %s%s", p->shown_url, attempt,
                   curl_easy_strerror(rc), ipw_buf_status(&body) == IPW_E_RANGE ? " (reply over 4 MiB)" : "");
        out = ipw_buf_status(&body) == IPW_E_RANGE ? OUT_FAIL : OUT_RETRY;
    } else if (status == 200) {
        *verdict = ipw_judge_parse_completion(ipw_buf_str(&body), body.len);
        if (*verdict >= 0) {
            out = OUT_VERDICT;
        } else {
            count(p, &p->st.malformed);
            note_error(p, "%s answered without a readable verdict (attempt %d): %.120s", p->shown_url,
                       attempt, ipw_buf_str(&body));
            out = OUT_RETRY;
        }
    } else if (status == 429 || status >= 500 || status == 408) {
        note_error(p, "%s answered HTTP %ld (attempt %d): %.160s", p->shown_url, status, attempt,
                   ipw_buf_str(&body));
        out = OUT_RETRY;
    } else if (status == 401 || status == 403) {
        note_error(p, "%s refused the request with HTTP %ld: check IPW_EVAL_API_KEY / "
                      "OPENAI_API_KEY (%.160s)",
                   p->shown_url, status, ipw_buf_str(&body));
        out = OUT_FATAL;
    } else {
        note_error(p, "%s answered HTTP %ld: %.200s — check --eval-base-url and --eval-model",
                   p->shown_url, status, ipw_buf_str(&body));
        out = OUT_FAIL;
    }
    ipw_buf_free(&body);
    return out;
}

static void judge_one(struct ipw_judge_pool *p, CURL *h, struct job *j, unsigned *seed)
{
    bool done = false;
    if (!stopping(p)) {
        json_t *req = ipw_judge_request(p->cfg.model, j->problem, j->reference, j->response);
        char *payload = req ? json_dumps(req, JSON_COMPACT) : NULL;
        json_decref(req);
        long delay = p->cfg.backoff_ms;
        for (int attempt = 1; payload && attempt <= p->cfg.max_attempts && !done; attempt++) {
            int verdict = -1;
            long wait_s;
            enum outcome o = ask(p, h, payload, &verdict, &wait_s, attempt);
            if (o == OUT_VERDICT) {
                ipw_errbuf eb = {0};
                if (ipw_judge_cache_put(p->cache, j->key, verdict == 1, p->cfg.model, &eb) !=
                    IPW_OK)
                    note_error(p, "%s", eb.msg);
                done = true;
                count(p, &p->st.judged);
                break;
            }
            if (o == OUT_FATAL) {
                pthread_mutex_lock(&p->mu);
                p->fatal = true;
                pthread_mutex_unlock(&p->mu);
                break;
            }
            if (o == OUT_FAIL || attempt == p->cfg.max_attempts || stopping(p))
                break;
            count(p, &p->st.retries);
            /* exponential backoff with ±25% jitter, or what the server asked for */
            long ms = wait_s >= 0 ? wait_s * 1000 : delay;
            if (wait_s < 0)
                ms = ms * 3 / 4 + (long)(rand_r(seed) % (unsigned)(ms / 2 + 1));
            nap(p, ms);
            delay = delay * 2 > BACKOFF_CAP_MS ? BACKOFF_CAP_MS : delay * 2;
        }
        if (!payload)
            note_error(p, "cannot build the judge request (out of memory or invalid text)");
        free(payload);
    }
    if (!done) {
        ipw_judge_cache_mark_failed(p->cache, j->key);
        count(p, &p->st.failed);
    }
    pthread_mutex_lock(&p->mu);
    int64_t now = ipw_mono_ns();
    if (now - p->last_progress_ns > 5 * IPW_NS_PER_SEC) {
        p->last_progress_ns = now;
        ipw_info("judge: %llu judged, %llu failed, %llu queued so far",
                 (unsigned long long)p->st.judged, (unsigned long long)p->st.failed,
                 (unsigned long long)p->st.submitted);
    }
    pthread_mutex_unlock(&p->mu);
}

static void *worker(void *arg)
{
    struct ipw_judge_pool *p = arg;
    CURL *h = curl_easy_init();
    pthread_mutex_lock(&p->mu);
    unsigned seed = p->seed++;
    pthread_mutex_unlock(&p->mu);
    for (;;) {
        pthread_mutex_lock(&p->mu);
        while (p->qlen == 0 && !p->closed)
            pthread_cond_wait(&p->not_empty, &p->mu);
        if (p->qlen == 0) {
            pthread_mutex_unlock(&p->mu);
            break;
        }
        struct job *j = p->queue[p->qhead];
        p->qhead = (p->qhead + 1) % p->qcap;
        p->qlen--;
        pthread_cond_signal(&p->not_full);
        pthread_mutex_unlock(&p->mu);
        if (h)
            judge_one(p, h, j, &seed);
        else {
            note_error(p, "cannot create a curl handle");
            ipw_judge_cache_mark_failed(p->cache, j->key);
            count(p, &p->st.failed);
        }
        job_free(j);
    }
    if (h)
        curl_easy_cleanup(h);
    return NULL;
}

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_setup(void) { curl_global_init(CURL_GLOBAL_DEFAULT); }

static void pool_free(struct ipw_judge_pool *p)
{
    if (p->auth_header) {
        memset(p->auth_header, 0, strlen(p->auth_header));
        free(p->auth_header);
    }
    if (p->api_key) {
        memset(p->api_key, 0, strlen(p->api_key));
        free(p->api_key);
    }
    for (size_t i = 0; i < p->qlen; i++)
        job_free(p->queue[(p->qhead + i) % p->qcap]);
    free(p->queue);
    free(p->threads);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->not_empty);
    pthread_cond_destroy(&p->not_full);
    free(p);
}

ipw_err ipw_judge_pool_start(const struct ipw_judge_config *cfg, struct ipw_judge_cache *cache,
                             struct ipw_judge_pool **out, ipw_errbuf *eb)
{
    *out = NULL;
    if (!cfg->model || !*cfg->model)
        return ipw_fail(eb, IPW_E_INVALID, "no judge model; give --eval-model");
    struct ipw_judge_pool *p = calloc(1, sizeof *p);
    if (!p)
        return ipw_fail(eb, IPW_E_NOMEM, "out of memory starting the judge");
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->not_empty, NULL);
    pthread_cond_init(&p->not_full, NULL);
    p->cfg = *cfg;
    p->cache = cache;
    p->seed = (unsigned)ipw_mono_ns();
    if (p->cfg.concurrency <= 0)
        p->cfg.concurrency = 8;
    if (p->cfg.concurrency > 256)
        p->cfg.concurrency = 256;
    if (p->cfg.max_attempts <= 0)
        p->cfg.max_attempts = 4;
    if (p->cfg.backoff_ms <= 0)
        p->cfg.backoff_ms = 500;
    if (p->cfg.timeout_ms <= 0)
        p->cfg.timeout_ms = 120000;
    if (p->cfg.connect_timeout_ms <= 0)
        p->cfg.connect_timeout_ms = 10000;
    ipw_err e = ipw_judge_endpoint(cfg->base_url, p->url, sizeof p->url, eb);
    if (e != IPW_OK) {
        pool_free(p);
        return e;
    }
    ipw_judge_url_for_display(p->url, p->shown_url, sizeof p->shown_url);
    const char *key = cfg->api_key;
    if (!key || !*key)
        key = getenv("IPW_EVAL_API_KEY");
    if (!key || !*key)
        key = getenv("OPENAI_API_KEY");
    if (key && *key) {
        size_t n = strlen("Authorization: Bearer ") + strlen(key) + 1;
        p->api_key = strdup(key);
        p->auth_header = malloc(n);
        if (!p->api_key || !p->auth_header) {
            pool_free(p);
            return ipw_fail(eb, IPW_E_NOMEM, "out of memory starting the judge");
        }
        snprintf(p->auth_header, n, "Authorization: Bearer %s", key);
    }
    p->qcap = (size_t)p->cfg.concurrency * 2;
    p->queue = calloc(p->qcap, sizeof *p->queue);
    p->threads = calloc((size_t)p->cfg.concurrency, sizeof *p->threads);
    if (!p->queue || !p->threads) {
        pool_free(p);
        return ipw_fail(eb, IPW_E_NOMEM, "out of memory starting the judge");
    }
    pthread_once(&curl_once, curl_setup);
    for (int i = 0; i < p->cfg.concurrency; i++) {
        if (pthread_create(&p->threads[i], NULL, worker, p) != 0) {
            pthread_mutex_lock(&p->mu);
            p->closed = true;
            pthread_cond_broadcast(&p->not_empty);
            pthread_mutex_unlock(&p->mu);
            for (int k = 0; k < p->nthreads; k++)
                pthread_join(p->threads[k], NULL);
            pool_free(p);
            return ipw_fail(eb, IPW_E_NOMEM, "cannot start judge thread %d", i + 1);
        }
        p->nthreads++;
    }
    ipw_info("judge: %s, model %s, %d workers, %s", p->shown_url, cfg->model, p->nthreads,
             p->auth_header ? "with an API key" : "without an API key");
    *out = p;
    return IPW_OK;
}

static char *dup_or_empty(const char *s) { return strdup(s ? s : ""); }

ipw_err ipw_judge_pool_submit(struct ipw_judge_pool *p, const char *key_hex, const char *problem,
                              const char *reference, const char *response, ipw_errbuf *eb)
{
    if (!ipw_judge_cache_claim(p->cache, key_hex))
        return IPW_OK; /* already judged, failed or queued in this run */
    struct job *j = calloc(1, sizeof *j);
    if (j) {
        snprintf(j->key, sizeof j->key, "%s", key_hex);
        j->problem = dup_or_empty(problem);
        j->reference = dup_or_empty(reference);
        j->response = dup_or_empty(response);
    }
    if (!j || !j->problem || !j->reference || !j->response) {
        job_free(j);
        ipw_judge_cache_mark_failed(p->cache, key_hex);
        return ipw_fail(eb, IPW_E_NOMEM, "out of memory queueing a judge request");
    }
    pthread_mutex_lock(&p->mu);
    while (p->qlen == p->qcap)
        pthread_cond_wait(&p->not_full, &p->mu);
    p->queue[(p->qhead + p->qlen) % p->qcap] = j;
    p->qlen++;
    p->st.submitted++;
    pthread_cond_signal(&p->not_empty);
    pthread_mutex_unlock(&p->mu);
    return IPW_OK;
}

ipw_err ipw_judge_pool_finish(struct ipw_judge_pool *p, struct ipw_judge_stats *stats,
                              ipw_errbuf *eb)
{
    pthread_mutex_lock(&p->mu);
    p->closed = true;
    pthread_cond_broadcast(&p->not_empty);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < p->nthreads; i++)
        pthread_join(p->threads[i], NULL);
    if (stats)
        *stats = p->st;
    ipw_err e = IPW_OK;
    if (p->cancelled)
        e = ipw_fail(eb, IPW_E_CANCELLED, "judging stopped on request; verdicts so far are "
                                          "cached and a re-run continues from them");
    else if (p->fatal)
        e = ipw_fail(eb, IPW_E_PERM, "%s", p->st.first_error);
    pool_free(p);
    return e;
}
