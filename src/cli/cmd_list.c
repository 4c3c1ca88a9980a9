/* `ipw list clients|datasets|analyses|collectors|all`: what this build can use, with a line
 * about each, so that users need not read the source to know the names. Clients, datasets and
 * collectors describe themselves in their registries; only the analyses are described here. */
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "ipw/client.h"
#include "ipw/collector.h"
#include "ipw/dataset.h"
#include "ipw/options.h"

struct entry {
    const char *name, *about;
};

static const struct entry analysis_about[] = {
    {"accuracy", "scores answers; accuracy, intelligence per joule and per watt"},
    {"regression", "least-squares fits of latency, energy and power against tokens"},
    {NULL, NULL}};

static const char *const analyses[] = {"accuracy", "regression", NULL};

static const char *analysis_description(const char *name)
{
    for (const struct entry *e = analysis_about; e->name; e++)
        if (strcmp(e->name, name) == 0)
            return e->about;
    return NULL;
}

static const char *client_description(const char *name)
{
    return ipw_client_lookup(name)->description;
}

static void print_line(const char *name, const char *about)
{
    printf("  %-10s %s\n", name, about ? about : "");
}

/* A group's names and the line each describes itself with. */
static void print_group(const char *title, const char *const *names,
                        const char *(*about)(const char *name))
{
    printf("%s:\n", title);
    for (const char *const *n = names; *n; n++)
        print_line(*n, about(*n));
}

/* Collectors describe themselves in their registry entries; auto's line is their order. */
static void print_collectors(void)
{
    printf("collectors:\n  %-10s detect:", "auto");
    const struct ipw_collector_ops *const *o = ipw_collector_auto_order();
    for (size_t i = 0; o[i]; i++)
        printf("%s %s", i == 0 ? "" : o[i + 1] ? "," : ", then",
               ipw_collector_ops_name(o[i]));
    printf("\n");
    for (const struct ipw_collector_ops *const *p = ipw_collector_registry(); *p; p++)
        print_line(ipw_collector_ops_name(*p), ipw_collector_ops_description(*p));
}

int cmd_list(int argc, char **argv)
{
    struct ipw_option opts[] = {IPW_OPT_END};
    struct ipw_command_help help = {"ipw list [clients|datasets|analyses|collectors|all]",
                                    "Lists what this build of ipw can use (all of it when no "
                                    "group is given).",
                                    "example:\n  ipw list collectors"};
    const char *pos[1] = {"all"};
    size_t npos = 0;
    enum ipw_parse_result pr = ipw_parse_options(argc, argv, "ipw list", opts, &help, pos, 1, &npos);
    if (pr != IPW_PARSE_OK)
        return pr == IPW_PARSE_HELP ? 0 : 2;
    const char *what = npos ? pos[0] : "all";
    bool all = strcmp(what, "all") == 0, shown = false;
    if (all || strcmp(what, "clients") == 0) {
        print_group("clients", ipw_client_choices(), client_description);
        shown = true;
    }
    if (all || strcmp(what, "datasets") == 0) {
        print_group("datasets", ipw_dataset_choices(), ipw_dataset_description);
        shown = true;
    }
    if (all || strcmp(what, "analyses") == 0) {
        print_group("analyses", analyses, analysis_description);
        shown = true;
    }
    if (all || strcmp(what, "collectors") == 0) {
        print_collectors();
        shown = true;
    }
    if (!shown) {
        fprintf(stderr, "ipw list: unknown group '%s': use clients, datasets, analyses, "
                        "collectors or all\n",
                what);
        return 2;
    }
    return 0;
}
