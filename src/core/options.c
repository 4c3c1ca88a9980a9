/* The option parser behind every subcommand. Errors name the flag and the offending value. */
#include "ipw/options.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ipw/clock.h"

static const struct ipw_option *find(const struct ipw_option *opts, const char *name, size_t len)
{
    for (const struct ipw_option *o = opts; o->name; o++)
        if (strlen(o->name) == len && strncmp(o->name, name, len) == 0)
            return o;
    return NULL;
}

/* Every usage error is one line: what is wrong, with the flag and the value, and where the
 * options are listed. */
static int bad(const char *cmd, const char *fmt, const char *a, const char *b)
{
    fprintf(stderr, "%s: ", cmd);
    fprintf(stderr, fmt, a, b);
    fprintf(stderr, " (try '%s --help')\n", cmd);
    return IPW_PARSE_ERROR;
}

static int assign(const char *cmd, const struct ipw_option *o, const char *val)
{
    char *end;
    switch (o->type) {
    case IPW_OPT_FLAG:
        *(bool *)o->value = true;
        return 0;
    case IPW_OPT_STRING:
        /* an empty value is never meant: `--output-dir ''` would put the run in / */
        if (!*val)
            return bad(cmd, "--%s needs a non-empty value%s", o->name, "");
        *(const char **)o->value = val;
        return 0;
    case IPW_OPT_INT: {
        errno = 0;
        long v = strtol(val, &end, 10);
        if (end == val || *end)
            return bad(cmd, "--%s expects an integer, got '%s'", o->name, val);
        if (errno == ERANGE || (o->min < o->max && (v < o->min || v > o->max))) {
            char what[160];
            snprintf(what, sizeof what, "%.40s is out of range: give %.0f to %.0f", val, o->min,
                     o->max);
            return bad(cmd, "--%s %s", o->name, what);
        }
        *(long *)o->value = v;
        return 0;
    }
    case IPW_OPT_DOUBLE: {
        errno = 0;
        double v = strtod(val, &end);
        if (errno || end == val || *end || !isfinite(v))
            return bad(cmd, "--%s expects a number, got '%s'", o->name, val);
        if (o->min < o->max && (v < o->min || v > o->max)) {
            char what[160];
            snprintf(what, sizeof what, "%.40s is out of range: give %g to %g", val, o->min,
                     o->max);
            return bad(cmd, "--%s %s", o->name, what);
        }
        *(double *)o->value = v;
        return 0;
    }
    case IPW_OPT_DURATION: {
        int64_t ns = ipw_parse_duration_ns(val, o->unit_ns ? o->unit_ns : IPW_NS_PER_SEC);
        if (ns < 0)
            return bad(cmd, "--%s expects a duration like 250ms or 2s, got '%s'", o->name, val);
        *(int64_t *)o->value = ns;
        return 0;
    }
    case IPW_OPT_LIST: {
        struct ipw_strlist *l = o->value;
        if (l->n == IPW_STRLIST_MAX)
            return bad(cmd, "--%s given more than the allowed number of times%s", o->name, "");
        l->v[l->n++] = val;
        return 0;
    }
    case IPW_OPT_CHOICE:
        for (const char *const *c = o->choices; c && *c; c++) {
            if (strcmp(*c, val) == 0) {
                *(const char **)o->value = val;
                return 0;
            }
        }
        {
            char list[512] = "", what[600];
            for (const char *const *c = o->choices; c && *c; c++) {
                size_t l = strlen(list);
                snprintf(list + l, sizeof list - l, "%s%s", l ? ", " : "", *c);
            }
            snprintf(what, sizeof what, "'%s' is not one of: %s", val, list);
            return bad(cmd, "--%s %s", o->name, what);
        }
    }
    return IPW_PARSE_ERROR;
}

static ipw_help_hook help_hook;
static void *help_hook_ud;

void ipw_options_set_help_hook(ipw_help_hook hook, void *ud)
{
    help_hook = hook;
    help_hook_ud = ud;
}

enum ipw_parse_result ipw_parse_options(int argc, char **argv, const char *cmd,
                                        const struct ipw_option *opts,
                                        const struct ipw_command_help *help, const char **pos,
                                        size_t max_pos, size_t *npos)
{
    size_t np = 0;
    bool only_positional = false;
    /* A single-valued option given twice is a mistake whichever one was meant (the last one
     * winning silently ran the wrong model); only lists repeat and flags may. */
    enum { MAX_TRACKED = 128 };
    const char *given[MAX_TRACKED] = {0};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!only_positional && strcmp(a, "--") == 0) {
            only_positional = true;
            continue;
        }
        if (!only_positional && (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0)) {
            if (help_hook)
                help_hook(help_hook_ud, cmd, opts, help);
            else
                ipw_print_option_help(cmd, opts, help);
            return IPW_PARSE_HELP;
        }
        if (!only_positional && a[0] == '-' && a[1] == '-') {
            const char *name = a + 2;
            const char *eq = strchr(name, '=');
            size_t len = eq ? (size_t)(eq - name) : strlen(name);
            const struct ipw_option *o = find(opts, name, len);
            if (!o)
                return bad(cmd, "unknown option '%s'%s", a, "");
            const char *val = NULL;
            if (o->type == IPW_OPT_FLAG) {
                if (eq)
                    return bad(cmd, "--%s takes no value (got '%s')", o->name, eq + 1);
            } else if (eq) {
                val = eq + 1;
            } else if (i + 1 < argc) {
                val = argv[++i];
            } else {
                return bad(cmd, "--%s needs a value%s", o->name, "");
            }
            size_t k = (size_t)(o - opts);
            if (o->type != IPW_OPT_FLAG && o->type != IPW_OPT_LIST && k < MAX_TRACKED) {
                if (given[k]) {
                    char what[200];
                    snprintf(what, sizeof what, "('%.60s' and '%.60s'): give it once", given[k],
                             val);
                    return bad(cmd, "--%s given twice %s", o->name, what);
                }
                given[k] = val;
            }
            int r = assign(cmd, o, val);
            if (r)
                return IPW_PARSE_ERROR;
            continue;
        }
        if (!only_positional && a[0] == '-' && a[1] != '\0')
            return bad(cmd, "unknown option '%s'%s", a, "");
        if (np >= max_pos || !pos)
            return bad(cmd, "unexpected argument '%s'%s", a, "");
        pos[np++] = a;
    }
    if (npos)
        *npos = np;
    return IPW_PARSE_OK;
}

/* Prints text from column `col` (the cursor is already there), wrapping at `width` and indenting
 * continuation lines to `col`; newlines in text start new lines. */
static void wrap(const char *text, int col, int width)
{
    int at = col;
    const char *p = text;
    while (*p) {
        if (*p == '\n') {
            printf("\n%*s", col, "");
            at = col;
            p++;
            continue;
        }
        if (*p == ' ') {
            p++;
            continue;
        }
        size_t len = strcspn(p, " \n");
        if (at > col && at + 1 + (int)len > width) {
            printf("\n%*s", col, "");
            at = col;
        } else if (at > col) {
            putchar(' ');
            at++;
        }
        fwrite(p, 1, len, stdout);
        at += (int)len;
        p += len;
    }
    putchar('\n');
}

enum { HELP_COL = 31, HELP_WIDTH = 100, PROSE_WIDTH = 80 };

static void option_line(const char *left, const char *help)
{
    int n = printf("  %s", left);
    if (n >= HELP_COL - 1) { /* too wide for the column: help on the next line */
        printf("\n%*s", HELP_COL, "");
    } else {
        printf("%*s", HELP_COL - n, "");
    }
    wrap(help, HELP_COL, HELP_WIDTH);
}

void ipw_print_option_help(const char *cmd, const struct ipw_option *opts,
                           const struct ipw_command_help *help)
{
    printf("usage: %s\n", help && help->usage ? help->usage : cmd);
    if (help && help->description) {
        putchar('\n');
        wrap(help->description, 0, PROSE_WIDTH);
    }
    printf("\noptions:\n");
    for (const struct ipw_option *o = opts; o->name; o++) {
        char left[96], text[1024];
        if (o->type == IPW_OPT_FLAG)
            snprintf(left, sizeof left, "--%s", o->name);
        else
            snprintf(left, sizeof left, "--%s %s", o->name, o->arg ? o->arg : "VALUE");
        snprintf(text, sizeof text, "%s", o->help ? o->help : "");
        if (o->type == IPW_OPT_CHOICE && o->choices) {
            size_t l = strlen(text);
            snprintf(text + l, sizeof text - l, "%sone of:", l ? "\n" : "");
            for (const char *const *c = o->choices; *c; c++) {
                l = strlen(text);
                snprintf(text + l, sizeof text - l, " %s", *c);
            }
        }
        option_line(left, text);
    }
    option_line("-h, --help", "show this help");
    if (help && help->epilog)
        printf("\n%s\n", help->epilog);
}

bool ipw_split_kv(const char *kv, char *key, size_t key_size, const char **value)
{
    const char *eq = strchr(kv, '=');
    if (!eq || eq == kv || (size_t)(eq - kv) >= key_size)
        return false;
    memcpy(key, kv, (size_t)(eq - kv));
    key[eq - kv] = '\0';
    *value = eq + 1;
    return true;
}

void ipw_names_join(const char *const *names, const char *sep, const char *last, char *out,
                    size_t size)
{
    size_t len = 0;
    if (size)
        out[0] = '\0';
    for (size_t i = 0; names[i] && len < size; i++) {
        int n = snprintf(out + len, size - len, "%s%s", i == 0 ? "" : names[i + 1] ? sep : last,
                         names[i]);
        if (n < 0)
            break;
        len += (size_t)n;
    }
}

void ipw_names_build(struct ipw_names *n, const char *first, const char *(*name_of)(size_t i),
                     const char *last)
{
    size_t k = 0;
    if (first)
        n->names[k++] = first;
    for (size_t i = 0; k < IPW_NAMES_MAX && name_of(i); i++)
        n->names[k++] = name_of(i);
    n->names[k] = NULL;
    ipw_names_join(n->names, ", ", last, n->text, sizeof n->text);
    ipw_names_join(n->names, "|", "|", n->usage, sizeof n->usage);
}

bool ipw_names_match(const char *name, const char *primary, const char *const *aliases)
{
    if (!name)
        return false;
    if (strcmp(name, primary) == 0)
        return true;
    for (const char *const *a = aliases; a && *a; a++)
        if (strcmp(name, *a) == 0)
            return true;
    return false;
}
