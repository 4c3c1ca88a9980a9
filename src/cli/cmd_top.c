/* `ipw top`: a live, full-screen view of power (like nvtop, for energy) from the local
 * collector or from energy monitors (one row per node and a cluster total). Keys change the
 * interval and quit; without a terminal it prints plain lines instead. The model and layout are
 * in src/top/top.c; this file owns the sources, the terminal and the loop. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include "commands.h"
#include "ipw/buf.h"
#include "ipw/clock.h"
#include "ipw/collector.h"
#include "ipw/log.h"
#include "ipw/options.h"
#include "ipw/remote.h"
#include "ipw/sampler.h"
#include "ipw/top.h"

#define MIN_INTERVAL_NS (100 * IPW_NS_PER_MS)
#define MAX_INTERVAL_NS (10 * IPW_NS_PER_SEC)
#define RETRY_NS (10 * IPW_NS_PER_SEC)

/* Where readings come from: one local collector, or one remote per target (so that each node
 * keeps its own row; ipw_remote would sum several targets into one). */
struct sources {
    struct ipw_collector *local;
    struct ipw_device_reading *dev;
    const char *targets[IPW_REMOTE_MAX_TARGETS];
    struct ipw_remote *remote[IPW_REMOTE_MAX_TARGETS];
    int64_t retry_at[IPW_REMOTE_MAX_TARGETS];
    char why[IPW_REMOTE_MAX_TARGETS][IPW_ERRMSG_MAX];
    size_t ntargets;
};

static void open_remote(struct sources *s, size_t i)
{
    struct ipw_remote_config cfg;
    ipw_remote_config_init(&cfg);
    /* a live view: little history, and a node that is down must not hold the screen long */
    cfg.sampler.capacity = 256;
    cfg.connect_timeout_ns = IPW_NS_PER_SEC;
    cfg.first_timeout_ns = 2 * IPW_NS_PER_SEC;
    cfg.interval_ms = 100;
    ipw_errbuf eb = {0};
    const char *one[] = {s->targets[i]};
    if (ipw_remote_open(one, 1, &cfg, &s->remote[i], &eb) != IPW_OK) {
        s->remote[i] = NULL;
        snprintf(s->why[i], sizeof s->why[i], "%s", eb.msg);
        s->retry_at[i] = ipw_mono_ns() + RETRY_NS;
    }
}

static void refresh(struct sources *s, struct ipw_top *t)
{
    int64_t now = ipw_mono_ns();
    t->real_ns = ipw_real_ns();
    if (s->local) {
        struct ipw_reading r;
        ipw_errbuf eb = {0};
        if (ipw_collector_sample(s->local, &r, s->dev, &eb) != IPW_OK)
            ipw_warn("sample failed: %s", eb.msg);
        ipw_top_update_local(t, ipw_collector_info(s->local), &r, s->dev, now);
        return;
    }
    snprintf(t->title, sizeof t->title, "fleet: %zu monitor%s", s->ntargets,
             s->ntargets == 1 ? "" : "s");
    for (size_t i = 0; i < s->ntargets; i++) {
        if (!s->remote[i] && now >= s->retry_at[i])
            open_remote(s, i);
        struct ipw_remote_stats st = {0};
        if (s->remote[i])
            ipw_remote_get_stats(s->remote[i], -1, &st);
        struct ipw_reading r;
        ipw_errbuf eb = {0};
        if (s->remote[i] && st.connected &&
            ipw_sampler_latest(ipw_remote_sampler(s->remote[i]), &r, NULL, &eb) == IPW_OK) {
            ipw_top_update_node(t, i, s->targets[i], ipw_remote_info(s->remote[i])->platform, &r,
                                now);
        } else {
            const char *why = s->remote[i] ? (st.last_error[0] ? st.last_error : "reconnecting")
                                           : s->why[i];
            ipw_top_node_down(t, i, s->targets[i], why);
        }
    }
}

/* --- the terminal ------------------------------------------------------------------------- */

struct term {
    bool active;
    struct termios saved;
};

static void term_enter(struct term *tm)
{
    if (tcgetattr(STDIN_FILENO, &tm->saved) != 0)
        return;
    struct termios raw = tm->saved;
    raw.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
    raw.c_cc[VMIN] = 0;
    raw.c_cc[VTIME] = 0;
    tcsetattr(STDIN_FILENO, TCSANOW, &raw);
    /* alternate screen, cursor hidden */
    fputs("\033[?1049h\033[?25l", stdout);
    fflush(stdout);
    tm->active = true;
}

static void term_leave(struct term *tm)
{
    if (!tm->active)
        return;
    fputs("\033[?25h\033[?1049l", stdout);
    fflush(stdout);
    tcsetattr(STDIN_FILENO, TCSANOW, &tm->saved);
    tm->active = false;
}

static void term_size(int *w, int *h)
{
    struct winsize ws;
    *w = 100;
    *h = 30;
    if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0 && ws.ws_row > 0) {
        *w = ws.ws_col;
        *h = ws.ws_row;
    }
}

/* Draws over the previous frame: home, each line then erase-to-end-of-line, erase below. */
static void draw(const struct ipw_top *t)
{
    int w, h;
    term_size(&w, &h);
    struct ipw_buf frame;
    ipw_buf_init(&frame, 1 << 20);
    ipw_top_render(t, w, h, &frame);
    if (ipw_buf_status(&frame) != IPW_OK) {
        ipw_buf_free(&frame);
        return;
    }
    fputs("\033[H", stdout);
    const char *p = ipw_buf_str(&frame);
    while (*p) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        fwrite(p, 1, n, stdout);
        fputs("\033[K", stdout);
        if (nl)
            fputs("\r\n", stdout);
        p += n + (nl ? 1 : 0);
    }
    fputs("\033[J", stdout);
    fflush(stdout);
    ipw_buf_free(&frame);
}

/* Waits until `deadline` for a key; returns it, or 0. */
static int wait_key(int64_t deadline, bool keys)
{
    for (;;) {
        int64_t left = deadline - ipw_mono_ns();
        if (left <= 0 || ipw_cli_stop_requested())
            return 0;
        int ms = (int)(left / IPW_NS_PER_MS) + 1;
        if (ms > 200)
            ms = 200; /* notice Ctrl-C promptly */
        if (!keys) {
            poll(NULL, 0, ms);
            continue;
        }
        struct pollfd pfd = {STDIN_FILENO, POLLIN, 0};
        int n = poll(&pfd, 1, ms);
        if (n > 0 && (pfd.revents & POLLIN)) {
            unsigned char c;
            if (read(STDIN_FILENO, &c, 1) == 1)
                return c;
        } else if (n < 0 && errno != EINTR) {
            return 0;
        }
    }
}

static int64_t change_interval(int64_t iv, int key)
{
    if (key == '+' || key == '=')
        iv *= 2;
    else if (key == '-' || key == '_')
        iv /= 2;
    return iv < MIN_INTERVAL_NS ? MIN_INTERVAL_NS : iv > MAX_INTERVAL_NS ? MAX_INTERVAL_NS : iv;
}

static int loop(struct sources *s, struct ipw_top *t, bool screen, long count)
{
    struct term tm = {0};
    if (screen)
        term_enter(&tm);
    int64_t next = ipw_mono_ns();
    for (long n = 0; (count <= 0 || n < count) && !ipw_cli_stop_requested(); n++) {
        refresh(s, t);
        if (screen) {
            draw(t);
        } else {
            struct ipw_buf b;
            ipw_buf_init(&b, 1 << 20);
            ipw_top_render_plain(t, &b);
            if (ipw_buf_status(&b) == IPW_OK)
                fputs(ipw_buf_str(&b), stdout);
            fflush(stdout);
            ipw_buf_free(&b);
        }
        if (count > 0 && n + 1 >= count)
            break;
        next += t->interval_ns;
        int key;
        while ((key = wait_key(next, screen)) != 0) {
            if (key == 'q' || key == 'Q' || key == 3) {
                term_leave(&tm);
                return 0;
            }
            int64_t iv = change_interval(t->interval_ns, key);
            if (iv != t->interval_ns) {
                next += iv - t->interval_ns;
                t->interval_ns = iv;
                draw(t);
            }
        }
        if (ipw_mono_ns() > next + t->interval_ns) /* fell behind (a slow reconnect) */
            next = ipw_mono_ns();
    }
    term_leave(&tm);
    return 0;
}

int cmd_top(int argc, char **argv)
{
    const char *collector = "auto";
    struct ipw_strlist targets = {0};
    int64_t interval_ns = IPW_NS_PER_SEC;
    long count = 0;
    bool plain = false;
    double cpu_tdp = 0, cpu_idle = 0;
    struct ipw_option opts[] = {
        {"target", IPW_OPT_LIST, &targets, "HOST:PORT",
         "an energy monitor to show (or unix:PATH); repeat for a fleet view with one row per node "
         "and the cluster total (default: this machine's collector)"},
        {"collector", IPW_OPT_CHOICE, &collector, "NAME",
         "collector when no --target is given (default auto)", 0, 0, ipw_collector_choices()},
        IPW_CLI_OPT_CPU_MODEL(cpu_tdp, cpu_idle),
        {"interval", IPW_OPT_DURATION, &interval_ns, "DURATION",
         "time between refreshes, 100ms to 10s (default 1s); + and - change it while running"},
        {"count", IPW_OPT_INT, &count, "N", "stop after N refreshes (default: until q or Ctrl-C)",
         1, 1e9},
        {"plain", IPW_OPT_FLAG, &plain, NULL,
         "print plain lines even on a terminal (the default when output is not a terminal)"},
        IPW_OPT_END};
    struct ipw_command_help help = {
        "ipw top [--target HOST:PORT ...] [--collector NAME] [--interval 1s]",
        "A live view of power: every device the collector sees (GPU, CPU, DRAM) with its power, "
        "a sparkline of the last minute, energy since start, temperature, memory and "
        "utilisation; or, with --target, one row per energy monitor and the cluster total. "
        "Keys: q quits, + doubles the interval, - halves it. When the output is not a terminal "
        "it prints one plain line per row at each refresh.",
        "examples:\n  ipw top\n  ipw top --target gpu-1:50053 --target gpu-2:50053\n"
        "  ipw top --collector sim --count 5 --interval 200ms | cat"};
    enum ipw_parse_result pr =
        ipw_parse_options(argc, argv, "ipw top", opts, &help, NULL, 0, NULL);
    if (pr != IPW_PARSE_OK)
        return pr == IPW_PARSE_HELP ? 0 : 2;
    if (interval_ns < MIN_INTERVAL_NS || interval_ns > MAX_INTERVAL_NS) {
        fprintf(stderr, "ipw top: --interval must be between 100ms and 10s\n");
        return 2;
    }
    if (targets.n > IPW_REMOTE_MAX_TARGETS) {
        fprintf(stderr, "ipw top: at most %d --target monitors\n", IPW_REMOTE_MAX_TARGETS);
        return 2;
    }
    struct sources s = {0};
    for (size_t i = 0; i < targets.n; i++) {
        ipw_errbuf eb = {0};
        if (ipw_remote_check_target(targets.v[i], &eb) != IPW_OK) {
            fprintf(stderr, "ipw top: --target %s: %s\n", targets.v[i], eb.msg);
            return 2;
        }
        s.targets[s.ntargets++] = targets.v[i];
    }
    if (!targets.n) {
        struct ipw_collector_config cfg;
        ipw_collector_config_init(&cfg);
        cfg.interval_ms = (int)(interval_ns / IPW_NS_PER_MS);
        ipw_cli_cpu_model_flags(&cfg, cpu_tdp, cpu_idle);
        ipw_errbuf eb = {0};
        if (ipw_collector_open(collector, &cfg, &s.local, &eb) != IPW_OK) {
            fprintf(stderr, "ipw top: %s\n", eb.msg);
            return 1;
        }
        const struct ipw_collector_info *info = ipw_collector_info(s.local);
        if (info->notes[0])
            ipw_info("%s", info->notes);
        s.dev = calloc(info->ndev ? info->ndev : 1, sizeof *s.dev);
        if (!s.dev) {
            ipw_collector_close(s.local);
            fprintf(stderr, "ipw top: out of memory\n");
            return 1;
        }
    }
    struct ipw_top *t = malloc(sizeof *t);
    if (!t) {
        fprintf(stderr, "ipw top: out of memory\n");
        return 1;
    }
    ipw_top_init(t, targets.n > 0, interval_ns);
    for (size_t i = 0; i < s.ntargets; i++)
        open_remote(&s, i);
    ipw_cli_install_stop_handlers();
    bool screen = !plain && isatty(STDOUT_FILENO) && isatty(STDIN_FILENO);
    int rc = loop(&s, t, screen, count);
    for (size_t i = 0; i < s.ntargets; i++)
        if (s.remote[i])
            ipw_remote_close(s.remote[i]);
    if (s.local)
        ipw_collector_close(s.local);
    free(s.dev);
    free(t);
    return rc;
}
