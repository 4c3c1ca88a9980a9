/* The lab's web page and JSON API (`ipw lab serve`): an HTTP server on libmicrohttpd that
 * queues measurement jobs one at a time, streams their events to any number of clients as
 * Server-Sent Events, and serves one self-contained page. The measuring, the statistics and
 * the store belong to the lab; this module reaches them only through struct ipw_labweb_engine,
 * so the web layer knows no collector and no SQL (docs/lab-api.md). */
#ifndef IPW_LABWEB_H
#define IPW_LABWEB_H

#include <jansson.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "ipw/err.h"

/* Called by a running job for every event; `type` is one of baseline, snapshot, first_token,
 * token, metric, run_done, batch_done, error, log (a plain line for the log panel), progress.
 * `data` is an object and is stolen. Thread-safe with respect to the server. */
typedef void (*ipw_labweb_emit_fn)(void *ctx, const char *type, json_t *data);

/* What the web layer needs from the lab. JSON in, JSON out: the page's API maps onto it
 * one to one, and request validation stays with the code that knows the fields. Every
 * operation fills eb on failure; IPW_E_INVALID becomes HTTP 400, IPW_E_NOTFOUND 404, others
 * 500 (IPW_E_CANCELLED is a job's normal end after a cancel). run_job is required; any other
 * operation may be NULL (its route then answers 501). `run_job` is only ever called
 * from the server's single worker thread; every other operation may be called from any
 * connection thread at any time and must be thread-safe. */
struct ipw_labweb_engine {
    const char *name;
    /* {"models": [names...], "server": URL} of the configured (or requested) server; query may
     * carry "client" and "base_url". */
    ipw_err (*models)(void *ud, const json_t *query, json_t **out, ipw_errbuf *eb);
    /* Checks a job request before it is queued, so that a bad one is refused at once. kind is
     * "run" (one run or a batch: "runs" > 1) or "calibrate". */
    ipw_err (*validate)(void *ud, const char *kind, const json_t *request, ipw_errbuf *eb);
    /* Runs a queued job to its end, emitting events; stops early (IPW_E_CANCELLED) when
     * *cancel becomes non-zero. *result: the job's final object (runs, summary, batch id). */
    ipw_err (*run_job)(void *ud, const char *kind, const json_t *request, ipw_labweb_emit_fn emit,
                       void *emit_ctx, const atomic_int *cancel, json_t **result, ipw_errbuf *eb);
    /* Asks the job in run_job to stop soon (called from another thread, after *cancel was set;
     * the engine may also just watch *cancel). May be NULL. */
    void (*cancel)(void *ud);
    ipw_err (*estimate)(void *ud, const json_t *request, json_t **out, ipw_errbuf *eb);
    ipw_err (*benchmarks)(void *ud, json_t **out, ipw_errbuf *eb);
    ipw_err (*countries)(void *ud, json_t **out, ipw_errbuf *eb);
    /* {"batches": [...]} the stored batch rows (statistics included), newest first. */
    ipw_err (*batches)(void *ud, json_t **out, ipw_errbuf *eb);
    /* Removes one stored batch and its runs; IPW_E_NOTFOUND when there is no such id. */
    ipw_err (*remove_batch)(void *ud, const char *id, ipw_errbuf *eb);
    ipw_err (*summary)(void *ud, json_t **out, ipw_errbuf *eb);
    /* The store exported as "csv" or "json": a malloc'd body, its length and content type. */
    ipw_err (*export_store)(void *ud, const char *format, char **body, size_t *len,
                            const char **content_type, ipw_errbuf *eb);
};

struct ipw_labweb_config {
    const char *bind;  /* default 127.0.0.1 */
    int port;          /* 0 picks a free port (reported by ipw_labweb_port) */
    bool allow_remote; /* required for a non-loopback bind */
    /* The page's defaults (it can change them per request); may be NULL. */
    const char *client, *base_url, *model, *collector;
    size_t max_body;   /* largest request body accepted; 0: IPW_LABWEB_MAX_BODY */
    /* Fixed token instead of a random one (tests only; NULL in real use). */
    const char *token;
};

#define IPW_LABWEB_MAX_BODY (1024 * 1024)
#define IPW_LABWEB_MAX_QUEUE 16
/* The jansson flags every request body is parsed with: a key given twice is refused (400)
 * instead of the last one silently winning. fuzz/fuzz_labweb_request.c parses with these
 * same flags, so it fuzzes what the server accepts. */
#define IPW_LABWEB_JSON_FLAGS JSON_REJECT_DUPLICATES

struct ipw_labweb;

/* Starts listening and the job worker. A non-loopback bind without allow_remote is refused
 * (IPW_E_PERM) with a message naming --allow-remote. */
ipw_err ipw_labweb_start(const struct ipw_labweb_config *cfg, const struct ipw_labweb_engine *eng,
                         void *engine_ud, struct ipw_labweb **out, ipw_errbuf *eb);
int ipw_labweb_port(const struct ipw_labweb *w);
/* The per-process token that every state-changing request must carry (X-IPW-Token). */
const char *ipw_labweb_token(const struct ipw_labweb *w);
/* Cancels the running job, drops the queue, ends every stream and stops the server. */
void ipw_labweb_stop(struct ipw_labweb *w);

#endif
