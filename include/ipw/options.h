/* Command-line options shared by every subcommand: one table per command describes each flag,
 * its type and help, and gives --help for free. Long options only ("--name value" or
 * "--name=value"), plus -h. */
#ifndef IPW_OPTIONS_H
#define IPW_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ipw/log.h"

enum ipw_opt_type {
    IPW_OPT_FLAG,     /* bool *: set to true */
    IPW_OPT_STRING,   /* const char **: last one wins */
    IPW_OPT_INT,      /* long *: within [min, max] */
    IPW_OPT_DOUBLE,   /* double *: within [min, max] */
    IPW_OPT_DURATION, /* int64_t * nanoseconds: "250ms", "1s"; a bare number uses unit_ns */
    IPW_OPT_LIST,     /* struct ipw_strlist *: repeatable */
    IPW_OPT_CHOICE,   /* const char **: one of choices[] */
};

#define IPW_STRLIST_MAX 256

struct ipw_strlist {
    size_t n;
    const char *v[IPW_STRLIST_MAX];
};

struct ipw_option {
    const char *name; /* without the leading "--" */
    enum ipw_opt_type type;
    void *value;
    const char *arg;  /* placeholder in help, e.g. "URL" */
    const char *help; /* one line; mention the default */
    double min, max;  /* for INT and DOUBLE when min < max */
    const char *const *choices; /* NULL-terminated, for CHOICE */
    int64_t unit_ns;  /* for DURATION: unit of a bare number (default 1 s) */
};

#define IPW_OPT_END {NULL, 0, NULL, NULL, NULL, 0, 0, NULL, 0}

/* The --log-level option every command shares: `var` (a const char *, NULL when not given)
 * is then applied with ipw_log_apply_option(var, default); dflt is the default's name. */
#define IPW_OPT_LOG_LEVEL(var, dflt)                                                          \
    {"log-level", IPW_OPT_CHOICE, &(var), "LEVEL", "log detail (default " dflt ")", 0, 0,     \
     ipw_log_level_names, 0}

struct ipw_command_help {
    const char *usage;       /* "ipw profile --client NAME --model NAME [options]" */
    const char *description; /* a paragraph */
    const char *epilog;      /* examples; may be NULL */
};

enum ipw_parse_result { IPW_PARSE_OK = 0, IPW_PARSE_HELP = 1, IPW_PARSE_ERROR = 2 };

/* Parses argv[1..argc); positional arguments are gathered into pos (if non-NULL, at most
 * max_pos; more is an error). Prints help to stdout (IPW_PARSE_HELP) or a one-line error plus
 * "try --help" to stderr (IPW_PARSE_ERROR). Callers exit 0 on HELP and 2 on ERROR. */
enum ipw_parse_result ipw_parse_options(int argc, char **argv, const char *cmd,
                                        const struct ipw_option *opts,
                                        const struct ipw_command_help *help, const char **pos,
                                        size_t max_pos, size_t *npos);

void ipw_print_option_help(const char *cmd, const struct ipw_option *opts,
                           const struct ipw_command_help *help);

/* While a hook is set, --help calls it with the command's table instead of printing (and the
 * parse still returns IPW_PARSE_HELP): how man pages and shell completions are generated from
 * the very tables that parse the options. The pointers are valid only during the call. NULL
 * removes the hook. */
typedef void (*ipw_help_hook)(void *ud, const char *cmd, const struct ipw_option *opts,
                              const struct ipw_command_help *help);
void ipw_options_set_help_hook(ipw_help_hook hook, void *ud);

/* Joins a NULL-terminated list of names into out ("a, b or c" with sep ", " and last " or "),
 * as registries derive their choices' text for help and messages; truncated to size. */
void ipw_names_join(const char *const *names, const char *sep, const char *last, char *out,
                    size_t size);

/* Does name select the entry called `primary` (or one of its NULL-terminated aliases, which
 * may be NULL)? How every registry looks a name up. */
bool ipw_names_match(const char *name, const char *primary, const char *const *aliases);

/* The lists a plug-in family's registry derives from its operations tables (clients,
 * datasets, collectors): the names for an option's choices, a text for messages and a usage
 * form. */
#define IPW_NAMES_MAX 32
struct ipw_names {
    const char *names[IPW_NAMES_MAX + 1]; /* NULL-terminated */
    char text[256];                       /* "a, b or c" (last separator as asked) */
    char usage[256];                      /* "a|b|c" */
};
/* Fills n: `first` (may be NULL; "auto" for collectors), then name_of(0), name_of(1), ...
 * until it returns NULL; `last` separates the last two names in text (" or ", ", "). */
void ipw_names_build(struct ipw_names *n, const char *first, const char *(*name_of)(size_t i),
                     const char *last);

/* "key=value" into key/value buffers; false when there is no '=' or the key is empty. */
bool ipw_split_kv(const char *kv, char *key, size_t key_size, const char **value);

#endif
