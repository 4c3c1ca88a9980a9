/* Overhead of the sim backend at time_scale 0 (no sleeping): µs per query and per streamed
 * token of the sim client alone, then with the profiler's three boundary snapshots through a
 * sampler on the sim collector, and the cost of one collector reading. Prints figures only. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ipw/client.h"
#include "ipw/clock.h"
#include "ipw/collector.h"
#include "telemetry/collector_priv.h"
#include "ipw/sampler.h"

static long deltas;

static void on_delta(void *ud, const char *content, const char *reasoning)
{
    (void)ud, (void)content, (void)reasoning;
    deltas++;
}

struct snaps {
    struct ipw_sampler *s;
};

static void snap_now(struct ipw_sampler *s)
{
    struct ipw_reading r;
    if (ipw_sampler_snapshot(s, &r, NULL) != IPW_OK)
        abort();
}

static void on_start(void *ud, int64_t t)
{
    (void)t;
    snap_now(((struct snaps *)ud)->s);
}

static void on_first(void *ud, int64_t t)
{
    (void)t;
    snap_now(((struct snaps *)ud)->s);
}

static void run(struct ipw_client *c, int queries, struct ipw_sampler *s, const char *label)
{
    struct snaps sn = {s};
    struct ipw_stream_events ev = {&sn, s ? on_start : NULL, s ? on_first : NULL, on_delta};
    long tokens = 0;
    deltas = 0;
    char prompt[128];
    int64_t t0 = ipw_mono_ns();
    for (int i = 0; i < queries; i++) {
        snprintf(prompt, sizeof prompt, "Benchmark question %d: what is %d + %d?", i, i, 2 * i);
        struct ipw_chat_request req = {"llama3.1:8b", prompt, NULL};
        struct ipw_chat_result res;
        if (c->ops->chat(c, &req, &ev, &res) != IPW_OK) {
            fprintf(stderr, "chat failed: %s\n", res.error_msg);
            exit(1);
        }
        if (s)
            snap_now(s);
        tokens += res.output_tokens;
        free(res.content);
        free(res.reasoning);
        json_decref(res.server_timings);
    }
    double us = (double)(ipw_mono_ns() - t0) / 1e3;
    printf("%-34s %6d queries %8ld tokens  %8.2f us/query  %6.3f us/token\n", label, queries,
           tokens, us / queries, us / (double)tokens);
    if (deltas != tokens)
        printf("  (deltas %ld != tokens %ld)\n", deltas, tokens);
}

int main(void)
{
    int quick = getenv("IPW_BENCH_QUICK") != NULL;
    int queries = quick ? 200 : 5000;
    struct ipw_client c = {.ops = &ipw_client_sim};
    json_t *params = json_pack("{s:f, s:s}", "time_scale", 0.0, "hardware", "H100");
    c.cfg.params = params;
    ipw_errbuf eb = {0};
    if (c.ops->open(&c, &eb) != IPW_OK) {
        fprintf(stderr, "%s\n", eb.msg);
        return 1;
    }
    printf("sim backend overhead (time_scale 0, llama-3.1-8b on H100, outputs 16-1024 tokens)\n");
    run(&c, queries, NULL, "client only");

    struct ipw_collector_config cfg;
    ipw_collector_config_init(&cfg);
    struct ipw_collector *col;
    if (ipw_collector_open("sim", &cfg, &col, &eb) != IPW_OK) {
        fprintf(stderr, "%s\n", eb.msg);
        return 1;
    }
    struct ipw_sampler_config sc;
    ipw_sampler_config_init(&sc);
    struct ipw_sampler *s;
    if (ipw_sampler_create(col, &sc, &s, &eb) != IPW_OK || ipw_sampler_start(s, &eb) != IPW_OK) {
        fprintf(stderr, "%s\n", eb.msg);
        return 1;
    }
    run(&c, queries, s, "client + 3 snapshots/query");

    int reads = quick ? 20000 : 500000;
    struct ipw_reading r;
    struct ipw_device_reading dev[1];
    int64_t t0 = ipw_mono_ns();
    for (int i = 0; i < reads; i++)
        ipw_collector_sample(col, &r, dev, NULL);
    printf("%-34s %6d reads   %8.3f us/read\n", "sim collector sample", reads,
           (double)(ipw_mono_ns() - t0) / 1e3 / reads);

    ipw_sampler_stop(s);
    ipw_sampler_destroy(s);
    ipw_collector_close(col);
    c.ops->close(&c);
    json_decref(params);
    return 0;
}
