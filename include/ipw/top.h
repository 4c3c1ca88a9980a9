/* The model and text rendering behind `ipw top`: rows (a device or domain of the local
 * collector, or one node of a fleet) that keep the last minute of power for a sparkline, the
 * energy used since the view started, and the latest temperature, memory and utilisation. It
 * knows no terminal: rendering fills a buffer with lines of at most a given width. */
#ifndef IPW_TOP_H
#define IPW_TOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ipw/buf.h"
#include "ipw/collector.h"
#include "ipw/reading.h"

#define IPW_TOP_MAX_ROWS 80
#define IPW_TOP_HISTORY 240 /* power samples kept per row: a minute at 250 ms */

enum ipw_top_field { IPW_TOP_POWER, IPW_TOP_ENERGY, IPW_TOP_TEMP, IPW_TOP_MEM, IPW_TOP_UTIL };

struct ipw_top_row {
    char label[48];   /* "GPU0 NVIDIA H100", "CPU", "DRAM", "node-a:50053" */
    char detail[48];  /* platform, or why a node is down */
    uint32_t valid;   /* bit (1u << ipw_top_field) */
    double power_w, energy_j, temp_c, mem_used_mb, mem_total_mb, util_pct;
    double energy0;   /* the cumulative energy at the first reading: energy_j counts from it */
    bool have_energy0;
    double prev_cum;  /* the cumulative energy and time of the previous reading, for power */
    int64_t prev_ns;
    bool down;        /* a fleet node that cannot be reached now */
    bool modeled;     /* energy from a model, not a counter */
    double hist[IPW_TOP_HISTORY];
    size_t hist_len, hist_head; /* ring: hist_head is where the next sample goes */
};

struct ipw_top {
    struct ipw_top_row row[IPW_TOP_MAX_ROWS];
    size_t nrows;
    bool fleet;            /* rows are nodes: a cluster total is drawn */
    int64_t interval_ns;   /* refresh period, shown in the header */
    int64_t started_ns;    /* monotonic time of the first update */
    int64_t now_ns;
    int64_t real_ns;       /* wall clock of the newest refresh, for the time shown */
    char title[96];        /* "local: rapl" or "fleet: 3 monitors" */
};

void ipw_top_init(struct ipw_top *t, bool fleet, int64_t interval_ns);

/* Sets the rows from a local collector's reading: one row per device (GPU), then CPU, DRAM
 * and ANE when the reading has them; rows are created on the first call. */
void ipw_top_update_local(struct ipw_top *t, const struct ipw_collector_info *info,
                          const struct ipw_reading *r, const struct ipw_device_reading *dev,
                          int64_t now_ns);
/* Sets fleet row i (created with its label if new) from that node's reading: power and energy
 * of all its domains together. */
void ipw_top_update_node(struct ipw_top *t, size_t i, const char *label, const char *platform,
                         const struct ipw_reading *r, int64_t now_ns);
/* Marks fleet row i down, saying why; its last values stay but are not counted in the total. */
void ipw_top_node_down(struct ipw_top *t, size_t i, const char *label, const char *why);

/* The history needed to fill `width` columns of a sparkline at the current interval is kept
 * anyway; this is how many samples make the last minute. */
size_t ipw_top_minute_samples(const struct ipw_top *t);

/* A sparkline of the row's last `cols` power samples (newest right), scaled to [0, max_w], as
 * UTF-8 block elements (U+2581..U+2588); missing samples are spaces. out needs 3*cols+1. */
void ipw_top_sparkline(const struct ipw_top_row *row, size_t cols, double max_w, char *out,
                       size_t outlen);

/* The whole screen: a header, one line per row (sparkline of the last minute where it fits),
 * the total, and a key line; every line at most `width` display columns and at most `height`
 * lines. */
void ipw_top_render(const struct ipw_top *t, int width, int height, struct ipw_buf *out);
/* Plain lines for a pipe or a file: one line per row, prefixed with the time. */
void ipw_top_render_plain(const struct ipw_top *t, struct ipw_buf *out);

/* The cluster (fleet) or machine (local) total power and energy of the rows that are up;
 * false when no row has power. */
bool ipw_top_total(const struct ipw_top *t, double *power_w, double *energy_j);

#endif
