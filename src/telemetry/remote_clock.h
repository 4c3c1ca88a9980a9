/* The arithmetic of a remote monitor's stream, kept pure so it is unit-tested on its own:
 * placing a reading taken on the monitor's clock onto ours, telling a monitor restart from its
 * sequence numbers, and rebasing cumulative energies so a series never goes back. No I/O, no
 * locks, no logging: the link thread (remote.c) owns the state and reports the events. */
#ifndef IPW_TELEMETRY_REMOTE_CLOCK_H
#define IPW_TELEMETRY_REMOTE_CLOCK_H

#include <stdbool.h>
#include <stdint.h>

#include "ipw/clock.h"

#define IPW_SYNC_AHEAD_NS (5 * IPW_NS_PER_MS)   /* a reading this far in our future: clocks differ */
#define IPW_SYNC_BEHIND_NS (1 * IPW_NS_PER_SEC) /* a fresh reading this old: clocks differ */

/* Where readings of one monitor are placed on our monotonic clock. mode is
 * IPW_REMOTE_CLOCK_SYNCED (the clocks agree: the reading's own time) or
 * IPW_REMOTE_CLOCK_ARRIVAL (they do not: arrival time less the smallest delay seen). */
struct ipw_clock_map {
    int mode;
    double skew_ms;            /* at the last (re)connection: our time less the monitor's */
    double reading_skew_ms;    /* the same for the reading just mapped */
    int64_t offset, offset_at; /* arrival mode: local mono - remote real, min-filtered */
};

enum ipw_clock_event {
    IPW_CLOCK_KEPT = 0,     /* nothing changed */
    IPW_CLOCK_CHOSE_ARRIVAL, /* a (re)connection found the clocks apart: arrival mode */
    IPW_CLOCK_STEPPED,       /* a synced monitor's reading arrived before it was taken */
};

/* The monotonic time of a reading taken at the monitor's real time `real`, which arrived at
 * arr_mono / arr_real here. first: the first reading of a connection (the mode is chosen
 * then). *event says what changed, for the caller to report. */
int64_t ipw_clock_map_time(struct ipw_clock_map *cm, int64_t real, int64_t arr_mono,
                           int64_t arr_real, bool first, enum ipw_clock_event *event);

/* A monitor's sequence numbers and their times, to tell a restart. */
struct ipw_seq_track {
    uint64_t last_seq;
    int64_t last_real;    /* the monitor's timestamp of last_seq */
    double period_est_ns; /* its own sampling period, from sequence numbers */
};

/* Did the monitor start again before this reading? A monitor numbers its readings 1, 2, 3 ...
 * at its own period: within a connection any step back means a restart; on a new connection
 * (first) so does a sequence far below what the elapsed time predicts, even one that has by
 * now passed the old number. seq 0 (a monitor without numbers) never tells. */
bool ipw_seq_restarted(struct ipw_seq_track *t, uint64_t seq, int64_t timestamp_ns, bool first);

/* One cumulative energy series made monotonic across restarts. */
struct ipw_rebase {
    bool have;
    double last_remote, base, last_local;
};

/* The local value of remote cumulative value v: when the monitor restarted or v went back,
 * the series continues from where it stood (*went_back is then set). */
double ipw_rebase_value(struct ipw_rebase *rb, double v, bool restarted, bool *went_back);

#endif
