/* Pure functions of a remote monitor's stream (remote_clock.h): clock mapping, restart
 * detection from sequence numbers, energy rebasing. */
#include "telemetry/remote_clock.h"

#include "ipw/remote.h"

int64_t ipw_clock_map_time(struct ipw_clock_map *cm, int64_t real, int64_t arr_mono,
                           int64_t arr_real, bool first, enum ipw_clock_event *event)
{
    *event = IPW_CLOCK_KEPT;
    int64_t synced = real - (arr_real - arr_mono);
    int64_t skew = arr_mono - synced;
    cm->reading_skew_ms = (double)skew / 1e6;
    if (first) {
        int mode = (skew < -IPW_SYNC_AHEAD_NS || skew > IPW_SYNC_BEHIND_NS)
                       ? IPW_REMOTE_CLOCK_ARRIVAL
                       : IPW_REMOTE_CLOCK_SYNCED;
        if (mode == IPW_REMOTE_CLOCK_ARRIVAL)
            *event = IPW_CLOCK_CHOSE_ARRIVAL;
        cm->mode = mode;
        cm->skew_ms = (double)skew / 1e6;
        cm->offset = arr_mono - real;
        cm->offset_at = arr_mono;
    } else if (cm->mode == IPW_REMOTE_CLOCK_SYNCED && skew < -IPW_SYNC_AHEAD_NS) {
        *event = IPW_CLOCK_STEPPED;
        cm->mode = IPW_REMOTE_CLOCK_ARRIVAL;
        cm->offset = arr_mono - real;
        cm->offset_at = arr_mono;
    }
    if (cm->mode == IPW_REMOTE_CLOCK_SYNCED)
        return synced < arr_mono ? synced : arr_mono;
    /* Arrival mode: the smallest delay seen is the best estimate of the offset; let it creep
     * up by 100 ppm so that clock drift cannot pin it to an old minimum. */
    int64_t o = arr_mono - real;
    int64_t creep = (arr_mono - cm->offset_at) / 10000;
    cm->offset_at = arr_mono;
    cm->offset = o < cm->offset + creep ? o : cm->offset + creep;
    return real + cm->offset;
}

bool ipw_seq_restarted(struct ipw_seq_track *t, uint64_t seq, int64_t timestamp_ns, bool first)
{
    bool restarted = false;
    if (seq && t->last_seq) {
        restarted = seq < t->last_seq;
        if (!restarted && first && t->period_est_ns > 0 && timestamp_ns > t->last_real) {
            double expected = (double)t->last_seq +
                              (double)(timestamp_ns - t->last_real) / t->period_est_ns;
            double ahead = expected - (double)t->last_seq;
            restarted = (double)seq < expected - (ahead / 2 > 10 ? ahead / 2 : 10);
        }
        if (!first && seq > t->last_seq && timestamp_ns > t->last_real) {
            double p = (double)(timestamp_ns - t->last_real) / (double)(seq - t->last_seq);
            t->period_est_ns = t->period_est_ns > 0 ? 0.9 * t->period_est_ns + 0.1 * p : p;
        }
    }
    if (seq) {
        t->last_seq = seq;
        t->last_real = timestamp_ns;
    }
    return restarted;
}

double ipw_rebase_value(struct ipw_rebase *rb, double v, bool restarted, bool *went_back)
{
    if (rb->have && (restarted || v < rb->last_remote - 1e-6)) {
        rb->base = rb->last_local; /* continue from where the series stood */
        *went_back = true;
    }
    rb->have = true;
    rb->last_remote = v;
    rb->last_local = rb->base + v;
    return rb->last_local;
}
