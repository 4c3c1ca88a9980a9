/* The lab web layer's costs (docs/benchmarks.md, "Lab web page"): what emitting one event costs
 * the job thread (it runs between the lab's counter snapshots, so it must stay small), how fast
 * one job's events reach 1, 8 and 32 SSE readers at once, and the round trip of a small API
 * request. Prints figures; never fails on a time. */
#include <curl/curl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ipw/clock.h"
#include "ipw/labweb.h"
#include "ipw_test.h"
#include "labweb_http.h"

#define TOKEN "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"

static long g_events;
static double g_emit_ns; /* per event, measured inside the job */

/* A job that emits g_events token events as fast as it can. */
static ipw_err burst(void *ud, const char *kind, const json_t *req, ipw_labweb_emit_fn emit,
                     void *ctx, const atomic_int *cancel, json_t **result, ipw_errbuf *eb)
{
    int64_t t0 = ipw_mono_ns();
    for (long i = 0; i < g_events && !atomic_load(cancel); i++)
        emit(ctx, "token", json_pack("{s:i, s:s}", "run_index", 0, "text", " token"));
    g_emit_ns = (double)(ipw_mono_ns() - t0) / (double)g_events;
    *result = json_object();
    return IPW_OK;
}

static ipw_err ok(void *ud, const char *kind, const json_t *req, ipw_errbuf *eb) { return IPW_OK; }

static const struct ipw_labweb_engine engine = {.name = "burst", .validate = ok, .run_job = burst};

static double secs(int64_t ns) { return (double)ns / 1e9; }

static void fan_out(int readers)
{
    struct lwt_sse *s = calloc((size_t)readers, sizeof *s);
    char *id = lwt_submit("{}");
    int64_t t0 = ipw_mono_ns();
    for (int i = 0; i < readers; i++)
        lwt_sse_start(&s[i], id, NULL);
    size_t bytes = 0;
    for (int i = 0; i < readers; i++) {
        pthread_join(s[i].th, NULL);
        bytes += s[i].b.n;
        free(s[i].b.p);
    }
    double t = secs(ipw_mono_ns() - t0);
    printf("  %2d reader%s: every event to every reader in %.3f s = %.0f events/s per reader, "
           "%.1f MB/s in all (emit cost %.2f us/event)\n",
           readers, readers == 1 ? " " : "s", t, (double)g_events / t, (double)bytes / t / 1e6,
           g_emit_ns / 1e3);
    free(id);
    free(s);
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(void)
{
    bool quick = getenv("IPW_BENCH_QUICK") != NULL;
    g_events = quick ? 2000 : 50000;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    struct ipw_labweb_config cfg = {.port = 0, .token = TOKEN};
    struct ipw_labweb *w = NULL;
    ipw_errbuf eb = {0};
    if (ipw_labweb_start(&cfg, &engine, NULL, &w, &eb) != IPW_OK) {
        fprintf(stderr, "bench_labweb: %s\n", eb.msg);
        return 1;
    }
    lwt_target(ipw_labweb_port(w), TOKEN);
    printf("lab web layer: one job of %ld token events streamed as SSE over loopback\n",
           g_events);
    fan_out(1);
    fan_out(8);
    if (!quick)
        fan_out(32);

    int n = quick ? 200 : 2000;
    double *lat = malloc((size_t)n * sizeof *lat);
    for (int i = 0; i < n; i++) {
        int64_t t0 = ipw_mono_ns();
        struct lwt_resp r = lwt_http("GET", "/api/queue", NULL, NULL);
        lat[i] = (double)(ipw_mono_ns() - t0) / 1e3;
        lwt_resp_free(&r);
    }
    qsort(lat, (size_t)n, sizeof *lat, cmp);
    printf("GET /api/queue (a new connection each, %d requests): median %.0f us, p95 %.0f us\n",
           n, lat[n / 2], lat[n * 95 / 100]);
    free(lat);
    ipw_labweb_stop(w);
    curl_global_cleanup();
    return 0;
}
