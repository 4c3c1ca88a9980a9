/* The remote source's private state, shared by its three files: remote.c (one thread per
 * monitor: link, reconnect, placing readings), remote_combine.c (several monitors summed into
 * one sampler) and, through remote_clock.h, the pure arithmetic of one stream. */
#ifndef IPW_TELEMETRY_REMOTE_IMPL_H
#define IPW_TELEMETRY_REMOTE_IMPL_H

#include <protobuf-c/protobuf-c.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "ipw/collector.h"
#include "telemetry/collector_priv.h"
#include "ipw/remote.h"
#include "ipw/sampler.h"
#include "ipw/sysinfo.h"
#include "telemetry/remote_clock.h"

#define IPW_REMOTE_GAP_HISTORY 64

struct gap {
    int64_t start, end;
    bool restarted;
};

/* protobuf-c allocations of one message come from a bump arena (no malloc per reading);
 * anything larger than what is left falls back to malloc. */
struct arena {
    uint8_t *buf;
    size_t used;
};

struct ipw_grpc_client;
struct ipw_grpc_stream;

struct link {
    struct ipw_remote *r;
    int index;
    char target[256];
    pthread_t thread;
    bool thread_started;
    pthread_mutex_t lock; /* client pointer, stats, gaps */
    struct ipw_grpc_client *client;
    struct ipw_grpc_stream *stream;
    struct ipw_sampler *sampler;
    bool own_sampler;
    struct ipw_collector_info info;
    struct ipw_system_info si;
    unsigned ndev;
    struct arena arena;
    ProtobufCAllocator alloc;

    /* rebasing after monitor restarts (link thread only) */
    struct ipw_seq_track seq;
    struct ipw_rebase energy[IPW_DOMAIN_COUNT];
    struct ipw_rebase dev_energy[IPW_MAX_DEVICES];

    /* clock mapping (link thread only) */
    struct ipw_clock_map clk;
    bool pushed_any;
    _Atomic int64_t last_mono;
    int64_t drop_mono; /* last reading before the stream dropped, 0 = none pending */

    struct ipw_remote_stats st;
    struct gap gaps[IPW_REMOTE_GAP_HISTORY];
    size_t gap_count;
};

struct ipw_remote {
    struct ipw_remote_config cfg;
    size_t n;
    struct link *links;
    struct ipw_sampler *sampler;
    struct ipw_collector_info info;
    struct ipw_system_info si;
    atomic_bool stop;
    pthread_mutex_t stop_lock;
    pthread_cond_t stop_cond;
    /* combiner (several monitors) */
    pthread_mutex_t comb_lock;
    bool comb_started;
    int64_t comb_t;
    uint32_t comb_valid;
    double comb_cum[IPW_DOMAIN_COUNT];
};

/* remote_combine.c: one summed reading into r->sampler each time the slowest monitor's newest
 * reading advances (called by every link after each push). */
void ipw_remote_combine(struct ipw_remote *r);
/* remote_combine.c: the combined identity from the monitors' first readings; refuses two
 * monitors that measure the same hardware. */
ipw_err ipw_remote_merge_info(struct ipw_remote *r, ipw_errbuf *eb);

#endif
