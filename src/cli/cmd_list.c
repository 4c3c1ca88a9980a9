/* `ipw list clients|datasets|analyses|collectors|all`: what this build can use, with a line
 * about each, so that users need not read the source to know the names. */
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

static const struct entry client_about[] = {
    {"ollama", "Ollama's /api/chat (NDJSON stream); default http://127.0.0.1:11434"},
    {"openai", "OpenAI-compatible /v1/chat/completions (SSE); OpenAI, llama.cpp, SGLang, ..."},
    {"vllm", "the openai client with vLLM's default URL http://127.0.0.1:8000"},
    {"sim", "built-in modelled server (roofline model); energies modelled, not measured"},
    {NULL, NULL}};

static const struct entry dataset_about[] = {
    {"ipw", "built-in mixed set (multiple choice, exact answers, open-ended), shipped with ipw"},
    {"mmlu-pro", "TIGER-Lab/MMLU-Pro rows from a local JSONL/JSON/CSV file (--dataset-path)"},
    {"supergpqa", "m-a-p/SuperGPQA rows from a local file (--dataset-path)"},
    {"jsonl", "any JSONL/JSON/CSV with --dataset-param prompt_field=... answer_field=..."},
    {NULL, NULL}};

static const struct entry analysis_about[] = {
    {"accuracy", "scores answers; accuracy, intelligence per joule and per watt"},
    {"regression", "least-squares fits of latency, energy and power against tokens"},
    {NULL, NULL}};

static const char *about(const struct entry *t, const char *name)
{
    for (; t->name; t++)
        if (strcmp(t->name, name) == 0)
            return t->about;
    return "";
}

/* Names come from the registries themselves, so a module added to the build is listed even
 * before its line of description is written. */
static void print_group(const char *title, const char *const *names, const struct entry *t)
{
    printf("%s:\n", title);
    for (const char *const *n = names; *n; n++)
        printf("  %-10s %s\n", *n, about(t, *n));
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
        printf("  %-10s %s\n", (*p)->name, (*p)->description);
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
    static const char *const analyses[] = {"accuracy", "regression", NULL};
    bool all = strcmp(what, "all") == 0, shown = false;
    if (all || strcmp(what, "clients") == 0) {
        print_group("clients", ipw_client_names, client_about);
        shown = true;
    }
    if (all || strcmp(what, "datasets") == 0) {
        print_group("datasets", ipw_dataset_names, dataset_about);
        shown = true;
    }
    if (all || strcmp(what, "analyses") == 0) {
        print_group("analyses", analyses, analysis_about);
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
