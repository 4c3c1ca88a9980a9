/* The progress display. Both modes go to stderr so stdout stays clean for results. */
#include "progress.h"

#include <stdio.h>

#include "ipw/clock.h"

void ipw_progress_init(struct ipw_progress *p, bool bar, size_t total, size_t already_done)
{
    p->bar = bar;
    p->total = total;
    p->done = already_done;
    p->done_at_start = already_done;
    p->failed = 0;
    p->joules = 0;
    p->started_ns = ipw_mono_ns();
}

static void format_eta(double s, char *out, size_t size)
{
    if (s < 0 || s != s)
        snprintf(out, size, "--");
    else if (s < 60)
        snprintf(out, size, "%.0fs", s);
    else if (s < 3600)
        snprintf(out, size, "%dm%02ds", (int)(s / 60), (int)s % 60);
    else
        snprintf(out, size, "%dh%02dm", (int)(s / 3600), ((int)s % 3600) / 60);
}

void ipw_progress_update(struct ipw_progress *p, bool failed, double joules, const char *line)
{
    p->done++;
    if (failed)
        p->failed++;
    if (joules > 0)
        p->joules += joules;
    double elapsed = (double)(ipw_mono_ns() - p->started_ns) / 1e9;
    size_t fresh = p->done - p->done_at_start;
    double eta = fresh ? elapsed / (double)fresh * (double)(p->total - p->done) : -1;
    char etas[32];
    format_eta(eta, etas, sizeof etas);
    if (!p->bar) {
        fprintf(stderr, "[%zu/%zu] %s\n", p->done, p->total, line);
        return;
    }
    int width = 30;
    int filled = p->total ? (int)((double)width * (double)p->done / (double)p->total) : width;
    char bar[64];
    for (int i = 0; i < width; i++)
        bar[i] = i < filled ? '#' : '.';
    bar[width] = '\0';
    fprintf(stderr, "\r[%s] %zu/%zu queries  %.1f J  %zu failed  ETA %s   ", bar, p->done,
            p->total, p->joules, p->failed, etas);
    fflush(stderr);
}

void ipw_progress_finish(struct ipw_progress *p)
{
    if (p->bar)
        fprintf(stderr, "\n");
}
