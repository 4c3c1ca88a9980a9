/* Progress of a profiling run: a live bar on a terminal, one log line per query otherwise. */
#ifndef IPW_PROFILE_PROGRESS_H
#define IPW_PROFILE_PROGRESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ipw_progress {
    bool bar;
    size_t total, done, failed;
    double joules;
    int64_t started_ns;
    size_t done_at_start; /* resumed queries do not count toward the rate */
};

void ipw_progress_init(struct ipw_progress *p, bool bar, size_t total, size_t already_done);
/* One finished query; line is the plain-mode description of it. */
void ipw_progress_update(struct ipw_progress *p, bool failed, double joules, const char *line);
void ipw_progress_finish(struct ipw_progress *p);

#endif
