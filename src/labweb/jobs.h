/* The web layer's job queue: measurement jobs run one at a time on one worker thread (the
 * machine's energy counters cannot measure two tests at once); each job keeps its events as
 * ready-made Server-Sent-Event frames so that any number of clients, early or late, read the
 * same stream from any point. */
#ifndef IPW_LABWEB_JOBS_H
#define IPW_LABWEB_JOBS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ipw/labweb.h"

/* Bounds: finished jobs kept for late readers; bytes of events kept per job (the answer's
 * token events stop being kept at the soft limit, every other event up to the hard one). */
#define LW_KEEP_FINISHED 32
#define LW_EVENTS_SOFT_BYTES (6u * 1024 * 1024)
#define LW_EVENTS_HARD_BYTES (8u * 1024 * 1024)
#define LW_MAX_FRAMES (1u << 20)

struct lw_jobs;
struct lw_job;

enum lw_job_state { LW_QUEUED, LW_RUNNING, LW_DONE, LW_FAILED, LW_CANCELLED };

ipw_err lw_jobs_start(const struct ipw_labweb_engine *eng, void *ud, struct lw_jobs **out,
                      ipw_errbuf *eb);
/* Cancels the running job and wakes every reader so that their streams end (first step of
 * stopping, before the HTTP server closes its connections). */
void lw_jobs_halt(struct lw_jobs *q);
/* Halts, joins the worker and frees everything (no reader may be open any more). */
void lw_jobs_stop(struct lw_jobs *q);

/* Queues a job (request is copied); fills id (16+ bytes). IPW_E_NOMEM with a message when the
 * queue is full. */
ipw_err lw_jobs_submit(struct lw_jobs *q, const char *kind, const json_t *request, char *id,
                       size_t id_size, int *position, ipw_errbuf *eb);
/* Cancels a queued or running job; IPW_E_NOTFOUND for an unknown id. *state: its state after. */
ipw_err lw_jobs_cancel(struct lw_jobs *q, const char *id, enum lw_job_state *state,
                       ipw_errbuf *eb);
/* The job as JSON (id, kind, state, position, times, event count, error, result); NULL when
 * unknown. */
json_t *lw_jobs_describe(struct lw_jobs *q, const char *id);
/* {"running": job|null, "queued": [jobs...], "recent": [finished jobs...]} */
json_t *lw_jobs_queue(struct lw_jobs *q);

/* A reader of one job's event stream (one per SSE client), starting after event `after`
 * (0: from the start; the Last-Event-ID a reconnecting browser sends). NULL when unknown. */
struct lw_reader *lw_reader_open(struct lw_jobs *q, const char *id, uint64_t after);
/* Copies up to max bytes of the stream into buf, waiting up to wait_ms for new events.
 * Returns bytes copied (0 when nothing new arrived in time), or -1 at the end of the stream
 * (the job finished and everything was read, or the server stops). */
long lw_reader_read(struct lw_reader *r, char *buf, size_t max, int wait_ms);
void lw_reader_close(struct lw_reader *r);

const char *lw_job_state_name(enum lw_job_state s);

#endif
