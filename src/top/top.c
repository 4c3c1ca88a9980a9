/* `ipw top`'s model and text rendering (include/ipw/top.h): rows with a minute of power
 * history, energy since the view started, and the screen laid out to a terminal's width. */
#include "ipw/top.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "ipw/clock.h"

void ipw_top_init(struct ipw_top *t, bool fleet, int64_t interval_ns)
{
    memset(t, 0, sizeof *t);
    t->fleet = fleet;
    t->interval_ns = interval_ns;
}

static void push(struct ipw_top_row *row, double power, bool ok)
{
    row->hist[row->hist_head] = ok ? power : NAN;
    row->hist_head = (row->hist_head + 1) % IPW_TOP_HISTORY;
    if (row->hist_len < IPW_TOP_HISTORY)
        row->hist_len++;
}

static void set(struct ipw_top_row *row, enum ipw_top_field f, double *slot, double v, bool ok)
{
    if (ok) {
        *slot = v;
        row->valid |= 1u << f;
    } else {
        row->valid &= ~(1u << f);
    }
}

/* Energy counted from the first value this row saw: the view shows what was used while it ran.
 * Power is the mean over the interval since the previous reading when the energy moved by a
 * counter (exact whatever happened in between, and steadier than one instant's value), else
 * the reading's own power. */
static void set_power_energy(struct ipw_top_row *row, double power, bool pok, double cumulative,
                             bool eok, int64_t t_ns)
{
    bool restarted = row->have_energy0 && eok && cumulative < row->energy0 + row->energy_j;
    if (eok && row->prev_ns && t_ns > row->prev_ns && !restarted && cumulative >= row->prev_cum) {
        power = (cumulative - row->prev_cum) / ((double)(t_ns - row->prev_ns) / 1e9);
        pok = true;
    }
    set(row, IPW_TOP_POWER, &row->power_w, power, pok);
    push(row, power, pok);
    if (!eok) {
        row->valid &= ~(1u << IPW_TOP_ENERGY);
        row->prev_ns = 0;
        return;
    }
    if (!row->have_energy0) {
        row->energy0 = cumulative;
        row->have_energy0 = true;
    } else if (restarted) {
        /* the source restarted from zero: keep counting from what was shown */
        row->energy0 = cumulative - row->energy_j;
    }
    set(row, IPW_TOP_ENERGY, &row->energy_j, cumulative - row->energy0, true);
    row->prev_cum = cumulative;
    row->prev_ns = t_ns;
}

static struct ipw_top_row *add_row(struct ipw_top *t, const char *label, const char *detail)
{
    if (t->nrows >= IPW_TOP_MAX_ROWS)
        return NULL;
    struct ipw_top_row *row = &t->row[t->nrows++];
    memset(row, 0, sizeof *row);
    snprintf(row->label, sizeof row->label, "%s", label);
    snprintf(row->detail, sizeof row->detail, "%s", detail);
    return row;
}

static void stamp(struct ipw_top *t, int64_t now_ns)
{
    if (!t->started_ns)
        t->started_ns = now_ns;
    t->now_ns = now_ns;
}

static void domain_row(struct ipw_top_row *row, const struct ipw_reading *r, ipw_domain d,
                       int64_t t_ns)
{
    ipw_metric pm = ipw_domain_power_metric(d), em = ipw_domain_energy_metric(d);
    set_power_energy(row, r->v[pm], ipw_reading_has(r, pm), r->v[em], ipw_reading_has(r, em),
                     t_ns);
    row->modeled = r->energy_source[d] == IPW_ENERGY_MODELED;
}

void ipw_top_update_local(struct ipw_top *t, const struct ipw_collector_info *info,
                          const struct ipw_reading *r, const struct ipw_device_reading *dev,
                          int64_t now_ns)
{
    stamp(t, now_ns);
    int64_t at = r->mono_ns ? r->mono_ns : now_ns; /* when the values were read */
    snprintf(t->title, sizeof t->title, "local: %s", info->platform);
    bool gpu_domain = info->ndev == 0 && (ipw_reading_has(r, IPW_M_GPU_POWER_W) ||
                                          ipw_reading_has(r, IPW_M_GPU_ENERGY_J));
    if (t->nrows == 0) {
        char label[64];
        for (unsigned i = 0; i < info->ndev; i++) {
            snprintf(label, sizeof label, "GPU%u %s", info->dev[i].index, info->dev[i].name);
            add_row(t, label, info->platform);
        }
        if (gpu_domain)
            add_row(t, "GPU", info->platform);
        add_row(t, "CPU", info->platform); /* always: host memory lives here */
        if (ipw_reading_has(r, IPW_M_DRAM_POWER_W) || ipw_reading_has(r, IPW_M_DRAM_ENERGY_J))
            add_row(t, "DRAM", info->platform);
        if (ipw_reading_has(r, IPW_M_ANE_POWER_W) || ipw_reading_has(r, IPW_M_ANE_ENERGY_J))
            add_row(t, "ANE", info->platform);
    }
    size_t k = 0;
    for (unsigned i = 0; i < info->ndev && k < t->nrows; i++, k++) {
        struct ipw_top_row *row = &t->row[k];
        const struct ipw_device_reading *d = &dev[i];
        set_power_energy(row, d->v[IPW_DF_POWER_W], ipw_device_has(d, IPW_DF_POWER_W),
                         d->v[IPW_DF_ENERGY_J], ipw_device_has(d, IPW_DF_ENERGY_J), at);
        set(row, IPW_TOP_TEMP, &row->temp_c, d->v[IPW_DF_TEMPERATURE_C],
            ipw_device_has(d, IPW_DF_TEMPERATURE_C));
        bool mem = ipw_device_has(d, IPW_DF_MEM_USED_MB);
        set(row, IPW_TOP_MEM, &row->mem_used_mb, d->v[IPW_DF_MEM_USED_MB], mem);
        row->mem_total_mb = ipw_device_has(d, IPW_DF_MEM_TOTAL_MB) ? d->v[IPW_DF_MEM_TOTAL_MB] : 0;
        set(row, IPW_TOP_UTIL, &row->util_pct, d->v[IPW_DF_UTIL_PCT],
            ipw_device_has(d, IPW_DF_UTIL_PCT));
        row->modeled = r->energy_source[IPW_DOMAIN_GPU] == IPW_ENERGY_MODELED;
    }
    for (; k < t->nrows; k++) {
        struct ipw_top_row *row = &t->row[k];
        if (strcmp(row->label, "GPU") == 0) {
            domain_row(row, r, IPW_DOMAIN_GPU, at);
            set(row, IPW_TOP_TEMP, &row->temp_c, r->v[IPW_M_TEMPERATURE_C],
                ipw_reading_has(r, IPW_M_TEMPERATURE_C));
            set(row, IPW_TOP_MEM, &row->mem_used_mb, r->v[IPW_M_GPU_MEM_USED_MB],
                ipw_reading_has(r, IPW_M_GPU_MEM_USED_MB));
            row->mem_total_mb = ipw_reading_has(r, IPW_M_GPU_MEM_TOTAL_MB)
                                    ? r->v[IPW_M_GPU_MEM_TOTAL_MB] : 0;
            set(row, IPW_TOP_UTIL, &row->util_pct, r->v[IPW_M_GPU_UTIL_PCT],
                ipw_reading_has(r, IPW_M_GPU_UTIL_PCT));
        } else if (strcmp(row->label, "CPU") == 0) {
            domain_row(row, r, IPW_DOMAIN_CPU, at);
            set(row, IPW_TOP_MEM, &row->mem_used_mb, r->v[IPW_M_CPU_MEM_USED_MB],
                ipw_reading_has(r, IPW_M_CPU_MEM_USED_MB));
        } else if (strcmp(row->label, "DRAM") == 0) {
            domain_row(row, r, IPW_DOMAIN_DRAM, at);
        } else if (strcmp(row->label, "ANE") == 0) {
            domain_row(row, r, IPW_DOMAIN_ANE, at);
        }
    }
}

static struct ipw_top_row *node_row(struct ipw_top *t, size_t i, const char *label)
{
    while (t->nrows <= i)
        if (!add_row(t, "", ""))
            return NULL;
    struct ipw_top_row *row = &t->row[i];
    snprintf(row->label, sizeof row->label, "%s", label);
    return row;
}

void ipw_top_update_node(struct ipw_top *t, size_t i, const char *label, const char *platform,
                         const struct ipw_reading *r, int64_t now_ns)
{
    stamp(t, now_ns);
    struct ipw_top_row *row = node_row(t, i, label);
    if (!row)
        return;
    snprintf(row->detail, sizeof row->detail, "%s", platform);
    row->down = false;
    double p = 0, e = 0;
    bool pok = false, eok = false, modeled = false;
    for (int d = 0; d < IPW_DOMAIN_COUNT; d++) {
        ipw_metric pm = ipw_domain_power_metric((ipw_domain)d);
        ipw_metric em = ipw_domain_energy_metric((ipw_domain)d);
        if (ipw_reading_has(r, pm)) {
            p += r->v[pm];
            pok = true;
        }
        if (ipw_reading_has(r, em)) {
            e += r->v[em];
            eok = true;
            modeled = modeled || r->energy_source[d] == IPW_ENERGY_MODELED;
        }
    }
    set_power_energy(row, p, pok, e, eok, r->mono_ns ? r->mono_ns : now_ns);
    row->modeled = modeled;
    set(row, IPW_TOP_TEMP, &row->temp_c, r->v[IPW_M_TEMPERATURE_C],
        ipw_reading_has(r, IPW_M_TEMPERATURE_C));
    bool gmem = ipw_reading_has(r, IPW_M_GPU_MEM_USED_MB);
    set(row, IPW_TOP_MEM, &row->mem_used_mb,
        gmem ? r->v[IPW_M_GPU_MEM_USED_MB] : r->v[IPW_M_CPU_MEM_USED_MB],
        gmem || ipw_reading_has(r, IPW_M_CPU_MEM_USED_MB));
    row->mem_total_mb = gmem && ipw_reading_has(r, IPW_M_GPU_MEM_TOTAL_MB)
                            ? r->v[IPW_M_GPU_MEM_TOTAL_MB] : 0;
    set(row, IPW_TOP_UTIL, &row->util_pct, r->v[IPW_M_GPU_UTIL_PCT],
        ipw_reading_has(r, IPW_M_GPU_UTIL_PCT));
}

void ipw_top_node_down(struct ipw_top *t, size_t i, const char *label, const char *why)
{
    struct ipw_top_row *row = node_row(t, i, label);
    if (!row)
        return;
    row->down = true;
    snprintf(row->detail, sizeof row->detail, "%s", why);
    push(row, 0, false);
}

size_t ipw_top_minute_samples(const struct ipw_top *t)
{
    int64_t iv = t->interval_ns > 0 ? t->interval_ns : IPW_NS_PER_SEC;
    size_t n = (size_t)((60 * IPW_NS_PER_SEC + iv - 1) / iv);
    return n < 1 ? 1 : n > IPW_TOP_HISTORY ? IPW_TOP_HISTORY : n;
}

/* The i-th newest sample (0 = newest). */
static double sample_back(const struct ipw_top_row *row, size_t i)
{
    size_t idx = (row->hist_head + IPW_TOP_HISTORY - 1 - i) % IPW_TOP_HISTORY;
    return row->hist[idx];
}

void ipw_top_sparkline(const struct ipw_top_row *row, size_t cols, double max_w, char *out,
                       size_t outlen)
{
    size_t at = 0;
    if (outlen == 0)
        return;
    if (cols > (outlen - 1) / 3)
        cols = (outlen - 1) / 3;
    size_t m = row->hist_len;
    /* each column is the mean of `per` samples (at least one), newest at the right */
    size_t per = m > cols && cols ? (m + cols - 1) / cols : 1;
    size_t used = cols ? (m + per - 1) / per : 0;
    if (used > cols)
        used = cols;
    for (size_t c = 0; c < cols - used; c++)
        out[at++] = ' ';
    for (size_t c = used; c-- > 0;) {
        double sum = 0;
        size_t n = 0;
        for (size_t k = c * per; k < (c + 1) * per && k < m; k++) {
            double v = sample_back(row, k);
            if (!isnan(v)) {
                sum += v;
                n++;
            }
        }
        if (!n || !(max_w > 0)) {
            out[at++] = ' ';
            continue;
        }
        double f = sum / (double)n / max_w;
        int level = (int)lround((f < 0 ? 0 : f > 1 ? 1 : f) * 7);
        out[at++] = (char)0xE2;
        out[at++] = (char)0x96;
        out[at++] = (char)(0x81 + level);
    }
    out[at] = '\0';
}

bool ipw_top_total(const struct ipw_top *t, double *power_w, double *energy_j)
{
    double p = 0, e = 0;
    bool any = false;
    for (size_t i = 0; i < t->nrows; i++) {
        const struct ipw_top_row *row = &t->row[i];
        if (row->down)
            continue;
        if (row->valid & (1u << IPW_TOP_POWER)) {
            p += row->power_w;
            any = true;
        }
        if (row->valid & (1u << IPW_TOP_ENERGY))
            e += row->energy_j;
    }
    *power_w = p;
    *energy_j = e;
    return any;
}

static bool has(const struct ipw_top_row *row, enum ipw_top_field f)
{
    return (row->valid >> f) & 1u;
}

/* "12.3/80.0G", "3456M", "-" */
static void fmt_mem(const struct ipw_top_row *row, char *out, size_t len)
{
    if (!has(row, IPW_TOP_MEM))
        snprintf(out, len, "-");
    else if (row->mem_total_mb > 0)
        snprintf(out, len, "%.1f/%.0fG", row->mem_used_mb / 1024, row->mem_total_mb / 1024);
    else
        snprintf(out, len, "%.1fG", row->mem_used_mb / 1024);
}

static void fmt_num(bool ok, double v, int prec, char *out, size_t len)
{
    if (ok)
        snprintf(out, len, "%.*f", prec, v);
    else
        snprintf(out, len, "-");
}

static double row_max(const struct ipw_top_row *row, size_t n)
{
    double mx = 0;
    for (size_t k = 0; k < n && k < row->hist_len; k++) {
        double v = sample_back(row, k);
        if (!isnan(v) && v > mx)
            mx = v;
    }
    return mx;
}

enum { LABEL_W = 24, FIXED_W = LABEL_W + 9 + 11 + 6 + 13 + 6 + 2 };

/* A line cut to `width` columns: `text` is ASCII, so bytes are columns. */
static void line(struct ipw_buf *out, int width, const char *text)
{
    int n = (int)strlen(text);
    ipw_buf_put(out, text, (size_t)(n < width ? n : width));
    ipw_buf_puts(out, "\n");
}

static void row_line(const struct ipw_top *t, const struct ipw_top_row *row, int width,
                     struct ipw_buf *out)
{
    char p[16], e[16], tc[16], mem[24], u[16], text[256];
    fmt_num(has(row, IPW_TOP_POWER), row->power_w, 1, p, sizeof p);
    fmt_num(has(row, IPW_TOP_ENERGY), row->energy_j, 1, e, sizeof e);
    fmt_num(has(row, IPW_TOP_TEMP), row->temp_c, 0, tc, sizeof tc);
    fmt_mem(row, mem, sizeof mem);
    if (has(row, IPW_TOP_UTIL))
        snprintf(u, sizeof u, "%.0f%%", row->util_pct);
    else
        snprintf(u, sizeof u, "-");
    char label[LABEL_W + 1]; /* cut so that a column of space and the modelled mark remain */
    snprintf(label, sizeof label, "%.*s%s", LABEL_W - 2, row->label, row->modeled ? "*" : "");
    if (row->down)
        snprintf(text, sizeof text, "%-*s down: %s", LABEL_W, label, row->detail);
    else
        snprintf(text, sizeof text, "%-*s%9s%11s%6s%13s%6s  ", LABEL_W, label, p, e, tc, mem, u);
    int cols = width - FIXED_W;
    /* a value wider than its column pushes the line out: no room for the sparkline then */
    if (row->down || cols < 8 || (int)strlen(text) > FIXED_W) {
        line(out, width, text);
        return;
    }
    size_t n = ipw_top_minute_samples(t);
    char spark[3 * 200 + 1];
    ipw_top_sparkline(row, (size_t)(cols > 200 ? 200 : cols), row_max(row, n), spark,
                      sizeof spark);
    ipw_buf_puts(out, text);
    ipw_buf_puts(out, spark);
    ipw_buf_puts(out, "\n");
}

static void clock_text(int64_t real_ns, char *out, size_t len)
{
    time_t sec = (time_t)(real_ns / IPW_NS_PER_SEC);
    struct tm tm;
    localtime_r(&sec, &tm);
    snprintf(out, len, "%02d:%02d:%02d", tm.tm_hour, tm.tm_min, tm.tm_sec);
}

void ipw_top_render(const struct ipw_top *t, int width, int height, struct ipw_buf *out)
{
    char text[512], now[16];
    clock_text(t->real_ns, now, sizeof now);
    int64_t up = (t->now_ns - t->started_ns) / IPW_NS_PER_SEC;
    snprintf(text, sizeof text, "ipw top - %s   interval %.2g s   up %02lld:%02lld:%02lld   %s",
             t->title, (double)t->interval_ns / 1e9, (long long)(up / 3600),
             (long long)(up / 60 % 60), (long long)(up % 60), now);
    line(out, width, text);
    line(out, width, "");
    snprintf(text, sizeof text, "%-*s%9s%11s%6s%13s%6s  %s", LABEL_W, t->fleet ? "NODE" : "DEVICE",
             "POWER W", "ENERGY J", "TEMP", "MEMORY", "UTIL", "POWER, LAST MINUTE");
    line(out, width, text);
    int budget = height - 7; /* header 3, total, note, blank, keys */
    bool modeled = false;
    for (size_t i = 0; i < t->nrows; i++) {
        modeled = modeled || t->row[i].modeled;
        if ((int)i < budget)
            row_line(t, &t->row[i], width, out);
    }
    if ((int)t->nrows > budget && budget >= 0) {
        snprintf(text, sizeof text, "... %zu more (enlarge the window)",
                 t->nrows - (size_t)budget);
        line(out, width, text);
    }
    double p, e;
    char ps[16], es[16];
    bool ok = ipw_top_total(t, &p, &e);
    fmt_num(ok, p, 1, ps, sizeof ps);
    fmt_num(ok, e, 1, es, sizeof es);
    size_t up_nodes = 0;
    for (size_t i = 0; i < t->nrows; i++)
        up_nodes += !t->row[i].down;
    if (t->fleet)
        snprintf(text, sizeof text, "%-*s%9s%11s   (%zu of %zu nodes up)", LABEL_W,
                 "CLUSTER TOTAL", ps, es, up_nodes, t->nrows);
    else
        snprintf(text, sizeof text, "%-*s%9s%11s", LABEL_W, "TOTAL", ps, es);
    line(out, width, text);
    line(out, width, modeled ? "* modelled, not measured (energy_source: modeled)" : "");
    line(out, width, "");
    line(out, width, "q quit   + slower   - faster");
}

void ipw_top_render_plain(const struct ipw_top *t, struct ipw_buf *out)
{
    char now[16];
    clock_text(t->real_ns, now, sizeof now);
    for (size_t i = 0; i < t->nrows; i++) {
        const struct ipw_top_row *row = &t->row[i];
        if (row->down) {
            ipw_buf_putf(out, "%s %s down: %s\n", now, row->label, row->detail);
            continue;
        }
        char p[16], e[16], tc[16], mem[24], u[16];
        fmt_num(has(row, IPW_TOP_POWER), row->power_w, 2, p, sizeof p);
        fmt_num(has(row, IPW_TOP_ENERGY), row->energy_j, 2, e, sizeof e);
        fmt_num(has(row, IPW_TOP_TEMP), row->temp_c, 0, tc, sizeof tc);
        fmt_mem(row, mem, sizeof mem);
        fmt_num(has(row, IPW_TOP_UTIL), row->util_pct, 0, u, sizeof u);
        ipw_buf_putf(out, "%s %s power_W=%s energy_J=%s temp_C=%s mem=%s util_pct=%s%s\n", now,
                     row->label, p, e, tc, mem, u, row->modeled ? " modeled" : "");
    }
    double p, e;
    if (ipw_top_total(t, &p, &e))
        ipw_buf_putf(out, "%s %s power_W=%.2f energy_J=%.2f\n", now,
                     t->fleet ? "CLUSTER" : "TOTAL", p, e);
}
