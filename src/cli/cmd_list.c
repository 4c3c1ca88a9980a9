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

static void print_line(const char *name, const char *about)
{
    printf("  %-10s %s\n", name, about ? about : "");
}

static void print_clients(void)
{
    printf("clients:\n");
    for (const struct ipw_client_ops *const *p = ipw_client_registry(); *p; p++)
        print_line((*p)->name, (*p)->description);
}

static void print_datasets(void)
{
    printf("datasets:\n");
    for (const char *const *id = ipw_dataset_choices(); *id; id++)
        print_line(*id, ipw_dataset_description(*id));
}

static void print_analyses(void)
{
    printf("analyses:\n");
    for (const struct entry *e = analysis_about; e->name; e++)
        print_line(e->name, e->about);
}

/* Collectors describe themselves in their registry entries; auto's line is their order. */
static void print_collectors(void)
{
    printf("collectors:\n  %-10s detect:", "auto");
    const struct ipw_collector_ops *const *o = ipw_collector_auto_order();
    for (size_t i = 0; o[i]; i++)
        printf("%s %s", i == 0 ? "" : o[i + 1] ? "," : ", then", o[i]->name);
    printf("\n");
    for (const struct ipw_collector_ops *const *p = ipw_collector_registry(); *p; p++)
        print_line((*p)->name, (*p)->description);
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
        print_clients();
        shown = true;
    }
    if (all || strcmp(what, "datasets") == 0) {
        print_datasets();
        shown = true;
    }
    if (all || strcmp(what, "analyses") == 0) {
        print_analyses();
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
