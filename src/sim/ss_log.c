/* The console log in the original's layout (an 80-column rich console written to a file):
 * banner, input configuration, KV-cache initialisation, heartbeats and the result sections.
 * Lines go to the caller's sink; nothing here touches stdout. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "ss_log.h"

#define WIDTH 80

static size_t cols(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        if (((unsigned char)*s & 0xC0) != 0x80)
            n++;
    return n;
}

void ss_emit(const struct ipw_ss_sink *k, const char *fmt, ...)
{
    if (!k || !k->line)
        return;
    char buf[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    k->line(k->ud, buf);
}

void ss_rule(const struct ipw_ss_sink *k, const char *title)
{
    char buf[1024];
    size_t w = 0;
    if (!title || !*title) {
        for (int i = 0; i < WIDTH; i++)
            w += (size_t)snprintf(buf + w, sizeof buf - w, "─");
        ss_emit(k, "%s", buf);
        return;
    }
    size_t tl = cols(title) + 2, left = (WIDTH - tl) / 2, right = WIDTH - tl - left;
    for (size_t i = 0; i < left; i++)
        w += (size_t)snprintf(buf + w, sizeof buf - w, "─");
    w += (size_t)snprintf(buf + w, sizeof buf - w, " %s ", title);
    for (size_t i = 0; i < right; i++)
        w += (size_t)snprintf(buf + w, sizeof buf - w, "─");
    ss_emit(k, "%s", buf);
}

void ss_center(const struct ipw_ss_sink *k, const char *text)
{
    size_t tl = cols(text), left = tl < WIDTH ? (WIDTH - tl) / 2 : 0;
    size_t right = tl < WIDTH ? WIDTH - tl - left : 0;
    ss_emit(k, "%*s%s%*s", (int)left, "", text, (int)right, "");
}

static const char *logo[] = {
    "      _    _    __  __ ___              _           ___ _       ___   __        ",
    "     | |  | |  |  \\/  / __| ___ _ ___ _(_)_ _  __ _/ __(_)_ __ |_  ) /  \\       ",
    "     | |__| |__| |\\/| \\__ \\/ -_) '_\\ V / | ' \\/ _` \\__ \\ | '  \\ / / | () |      ",
    "     |____|____|_|  |_|___/\\___|_|  \\_/|_|_||_\\__, |___/_|_|_|_/___(_)__/       ",
    "                                              |___/                             ",
};

void ss_banner(const struct ipw_ss_sink *k, const struct ipw_ss_options *o)
{
    char iv[64];
    ss_rule(k, "LLMServingSim2.0");
    ss_center(k, "A Unified Simulator for Heterogeneous Hardware and Serving Techniques in LLM");
    ss_rule(k, NULL);
    for (size_t i = 0; i < sizeof logo / sizeof *logo; i++)
        ss_emit(k, "%s", logo[i]);
    ss_rule(k, NULL);
    ss_center(k, "Input configuration");
    ss_emit(k, "%s", "");
    char seqs[32], toks[32];
    if (o->max_num_seqs)
        snprintf(seqs, sizeof seqs, "%ld", o->max_num_seqs);
    else
        snprintf(seqs, sizeof seqs, "inf");
    if (o->max_num_batched_tokens)
        snprintf(toks, sizeof toks, "%ld", o->max_num_batched_tokens);
    else
        snprintf(toks, sizeof toks, "inf");
    static const char *routes[] = {"LOAD", "RR", "RAND"};
    static const char *schemes[] = {"xPU-Only", "xPU + CPU", "xPU + CXL"};
    ipw_ss_pyrepr(o->log_interval, iv, sizeof iv);
    const char *items[][2] = {
        {"Cluster config", o->cluster_config && *o->cluster_config ? o->cluster_config : "N/A"},
        {"Dataset", o->dataset && *o->dataset ? o->dataset : "N/A"},
        {"Max num seqs", seqs},
        {"Max batched tokens", toks},
        {"Block size (tokens)", NULL},
        {"Request routing", routes[o->routing]},
        {"Expert routing", "BALANCED"},
        {"Prefix caching", o->enable_prefix_caching ? "ENABLED" : "DISABLED"},
        {"Chunked prefill", o->enable_chunked_prefill ? "ENABLED" : "DISABLED"},
        {"Prefix caching scheme", schemes[o->prefix_storage]},
        {"Centralized prefix caching", o->enable_prefix_sharing ? "ENABLED" : "DISABLED"},
        {"Offload attention to PIM", "DISABLED"},
        {"Sub-batch interleaving", "DISABLED"},
        {"Network backend", "analytical"},
        {"Log interval (s)", iv},
        {"Log level", o->log_info ? "INFO" : "WARNING"},
    };
    char bs[32];
    snprintf(bs, sizeof bs, "%ld", o->block_size);
    items[4][1] = bs;
    for (size_t i = 0; i < sizeof items / sizeof *items; i++)
        ss_emit(k, "  • %-26s : %s", items[i][0], items[i][1]);
    ss_rule(k, NULL);
}
