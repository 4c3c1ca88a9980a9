/* The LLM judge (SPEC §4.1): asks an OpenAI-compatible chat endpoint whether a response answers
 * a question correctly. Concurrent workers behind a bounded queue, retries with backoff, and a
 * cache in the run directory so that a re-run sends only what is missing. */
#ifndef IPW_JUDGE_H
#define IPW_JUDGE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ipw/err.h"

/* Bumped whenever the prompt changes, so that cached verdicts of another prompt are not reused. */
#define IPW_JUDGE_PROMPT_VERSION "ipw-judge-v1"

struct ipw_judge_config {
    const char *base_url; /* --eval-base-url: "https://api.openai.com/v1", "http://host:8000" or
                             a full ".../chat/completions" URL */
    const char *model;    /* --eval-model */
    const char *api_key;  /* NULL: IPW_EVAL_API_KEY, else OPENAI_API_KEY, else none */
    int concurrency;      /* worker threads; 0: 8 */
    int max_attempts;     /* first try plus retries; 0: 4 (3 retries) */
    long backoff_ms;      /* delay before the first retry, doubled after each; 0: 500 */
    long timeout_ms;      /* whole request; 0: 120000 */
    long connect_timeout_ms; /* 0: 10000 */
    int (*should_stop)(void); /* polled between requests; may be NULL */
};

/* The chat-completions URL for a base URL: a base with no path gets "/v1/chat/completions",
 * a base with a path ("/v1", "/openai") gets "/chat/completions", a URL already ending in
 * "/chat/completions" is used as is. Only http:// and https:// are accepted. */
ipw_err ipw_judge_endpoint(const char *base, char *out, size_t size, ipw_errbuf *eb);

/* url without a "user:password@" part, for messages and files. */
void ipw_judge_url_for_display(const char *url, char *out, size_t size);
/* Reaches the judge's server (GET {base}/models, key from IPW_EVAL_API_KEY or OPENAI_API_KEY):
 * IPW_OK when a server answers, an error naming the URL when none does or the key is refused. */
ipw_err ipw_judge_check(const char *base_url, ipw_errbuf *eb);

/* The verdict in a judge's reply text: 1 correct, 0 incorrect, -1 malformed. Accepts a JSON
 * object {"correct": true|false} anywhere in the text (the last one wins), else a last line
 * that is just CORRECT / INCORRECT (optionally "Verdict: ..."). */
int ipw_judge_parse_verdict(const char *content);
/* The verdict in a whole chat-completions response body (choices[0].message.content). */
int ipw_judge_parse_completion(const char *body, size_t len);
/* The request body for one item (owned by the caller). */
json_t *ipw_judge_request(const char *model, const char *problem, const char *reference,
                          const char *response);
/* The cache key: SHA-256 over prompt version, judge model, problem, reference and response. */
void ipw_judge_key(const char *model, const char *problem, const char *reference,
                   const char *response, char hex[65]);

/* ---- the cache: analysis/judge_cache.jsonl ------------------------------------------------ */

struct ipw_judge_cache;

enum ipw_judge_cached {
    IPW_JUDGE_MISSING = -1,
    IPW_JUDGE_INCORRECT = 0,
    IPW_JUDGE_CORRECT = 1,
    IPW_JUDGE_FAILED = 2, /* failed in this process; never written, so a re-run retries it */
    IPW_JUDGE_PENDING = 3 /* queued in this process */
};

/* Loads path (missing is fine: an empty cache) and opens it for appending. Damaged lines are
 * skipped with a warning. Thread-safe after opening. */
ipw_err ipw_judge_cache_open(const char *path, struct ipw_judge_cache **out, ipw_errbuf *eb);
enum ipw_judge_cached ipw_judge_cache_get(struct ipw_judge_cache *c, const char *key_hex);
/* Records a verdict: appended to the file (flushed and fsynced) and kept in memory. */
ipw_err ipw_judge_cache_put(struct ipw_judge_cache *c, const char *key_hex, bool correct,
                            const char *judge_model, ipw_errbuf *eb);
/* Marks a missing key as pending (true), or says it is already known or queued (false). */
bool ipw_judge_cache_claim(struct ipw_judge_cache *c, const char *key_hex);
/* Marks a key as failed for this process only. */
void ipw_judge_cache_mark_failed(struct ipw_judge_cache *c, const char *key_hex);
size_t ipw_judge_cache_size(struct ipw_judge_cache *c);
size_t ipw_judge_cache_damaged_lines(struct ipw_judge_cache *c);
/* The judge model of the last verdict read from the file ("" when none): an analysis without
 * judge flags reuses that judge's verdicts. */
const char *ipw_judge_cache_model(const struct ipw_judge_cache *c);
/* Drops every verdict from memory (--rejudge): new ones are appended and win on the next load. */
void ipw_judge_cache_forget(struct ipw_judge_cache *c);
void ipw_judge_cache_close(struct ipw_judge_cache *c);

/* ---- the worker pool ------------------------------------------------------------------------ */

struct ipw_judge_stats {
    uint64_t submitted;   /* items queued */
    uint64_t judged;      /* verdicts obtained (and cached) */
    uint64_t failed;      /* items given up after retries (or refused) */
    uint64_t requests;    /* HTTP requests sent, retries included */
    uint64_t retries;
    uint64_t malformed;   /* replies without a readable verdict */
    char first_error[IPW_ERRMSG_MAX]; /* the first failure, to show the user ("" if none) */
};

struct ipw_judge_pool;

/* Starts the workers. Fails when the configuration is incomplete (no URL or model). */
ipw_err ipw_judge_pool_start(const struct ipw_judge_config *cfg, struct ipw_judge_cache *cache,
                             struct ipw_judge_pool **out, ipw_errbuf *eb);
/* Queues one item (the strings are copied); blocks while the queue is full. An item whose key
 * the cache already holds (judged, failed or queued) is not sent again. */
ipw_err ipw_judge_pool_submit(struct ipw_judge_pool *p, const char *key_hex, const char *problem,
                              const char *reference, const char *response, ipw_errbuf *eb);
/* Waits for every queued item, stops the workers, frees the pool and fills stats. Returns
 * IPW_E_CANCELLED when should_stop asked to stop. */
ipw_err ipw_judge_pool_finish(struct ipw_judge_pool *p, struct ipw_judge_stats *stats,
                              ipw_errbuf *eb);

#endif
