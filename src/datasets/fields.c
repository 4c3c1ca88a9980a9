/* Field helpers shared by the dataset presets: dotted lookups, text of a value, the options
 * list of a multiple-choice row, answer letters, and the lettered prompt. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "datasets/presets.h"
#include "datasets/dataset_rows.h"
#include "ipw/jsonutil.h"

static json_t *nonnull(json_t *v) { return json_is_null(v) ? NULL : v; }

json_t *ds_get(const json_t *row, const char *key)
{
    json_t *v = json_object_get(row, key);
    if (v || !strchr(key, '.'))
        return nonnull(v);
    const json_t *cur = row;
    const char *p = key;
    while (cur && *p) {
        const char *dot = strchr(p, '.');
        size_t n = dot ? (size_t)(dot - p) : strlen(p);
        char seg[256];
        if (n == 0 || n >= sizeof seg)
            return NULL;
        memcpy(seg, p, n);
        seg[n] = '\0';
        if (json_is_object(cur)) {
            cur = json_object_get(cur, seg);
        } else if (json_is_array(cur)) {
            char *end;
            unsigned long i = strtoul(seg, &end, 10);
            cur = *end || !isdigit((unsigned char)seg[0]) ? NULL : json_array_get(cur, i);
        } else {
            return NULL;
        }
        p = dot ? dot + 1 : p + n;
    }
    return nonnull((json_t *)cur);
}

char *ds_text(const json_t *v)
{
    if (!v || json_is_null(v))
        return NULL;
    if (json_is_string(v))
        return strndup(json_string_value(v), json_string_length(v));
    return ipw_json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
}

char *ds_strdup_trim(const char *s)
{
    while (*s && isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1]))
        n--;
    return strndup(s, n);
}

char *ds_string_field(const json_t *row, const char *key)
{
    const char *s = json_string_value(ds_get(row, key));
    if (!s)
        return NULL;
    char *t = ds_strdup_trim(s);
    if (t && !*t) {
        free(t);
        return NULL;
    }
    return t;
}

ipw_err ds_options(json_t *row, const char *key, json_t **opts, ipw_errbuf *eb)
{
    *opts = NULL;
    json_t *v = json_object_get(row, key);
    if (!v || json_is_null(v))
        return ipw_fail(eb, IPW_E_INVALID, "missing field '%s'", key);
    if (json_is_string(v)) {
        ipw_errbuf le;
        json_t *parsed;
        if (ipw_rows_parse_list(json_string_value(v), json_string_length(v), &parsed, &le) !=
            IPW_OK)
            return ipw_fail(eb, IPW_E_INVALID, "field '%s' is not a list: %s", key, le.msg);
        /* the metadata keeps the list, whatever the file format */
        json_object_set_new(row, key, parsed);
        v = parsed;
    } else if (!json_is_array(v)) {
        return ipw_fail(eb, IPW_E_INVALID, "field '%s' is not a list", key);
    }
    size_t n = json_array_size(v);
    if (n == 0)
        return ipw_fail(eb, IPW_E_INVALID, "field '%s' is an empty list", key);
    if (n > DS_MAX_OPTIONS)
        return ipw_fail(eb, IPW_E_INVALID,
                        "field '%s' has %zu options; at most %d can be lettered A-Z", key, n,
                        DS_MAX_OPTIONS);
    json_t *list = json_array();
    size_t i;
    json_t *o;
    json_array_foreach(v, i, o)
    {
        if (!json_is_string(o) && !json_is_number(o)) {
            json_decref(list);
            return ipw_fail(eb, IPW_E_INVALID, "option %zu of '%s' is not text", i + 1, key);
        }
        char *raw = ds_text(o);
        char *t = raw ? ds_strdup_trim(raw) : NULL;
        json_t *item = t ? json_string(t) : NULL;
        free(raw);
        free(t);
        if (!item || json_array_append_new(list, item) != 0) {
            json_decref(list);
            return ipw_fail(eb, IPW_E_NOMEM, "out of memory");
        }
    }
    *opts = list;
    return IPW_OK;
}

ipw_err ds_letter(const json_t *v, const char *key, size_t nopt, char *letter, ipw_errbuf *eb)
{
    *letter = '\0';
    if (!v || json_is_null(v))
        return IPW_OK;
    const char *s = json_string_value(v);
    if (!s)
        return ipw_fail(eb, IPW_E_INVALID, "field '%s' is not a letter", key);
    while (isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1]))
        n--;
    if (n == 0)
        return IPW_OK; /* empty cell: treated as absent */
    char ch = (char)toupper((unsigned char)s[0]);
    if (n != 1 || ch < 'A' || ch > 'Z')
        return ipw_fail(eb, IPW_E_INVALID, "field '%s' is '%.*s', expected one letter", key,
                        (int)(n > 40 ? 40 : n), s);
    if ((size_t)(ch - 'A') >= nopt)
        return ipw_fail(eb, IPW_E_INVALID, "field '%s' is %c but there are only %zu options",
                        key, ch, nopt);
    *letter = ch;
    return IPW_OK;
}

char *ds_mcq_prompt(const char *question, const json_t *opts, const char *sep, const char *tail)
{
    size_t len = strlen(question) + 2 * strlen(sep) + strlen("Options:\n") + strlen(tail) + 1;
    size_t i;
    json_t *o;
    json_array_foreach(opts, i, o)
        len += 4 + json_string_length(o);
    char *out = malloc(len), *p = out;
    if (!out)
        return NULL;
    p = stpcpy(p, question);
    p = stpcpy(p, sep);
    p = stpcpy(p, "Options:");
    json_array_foreach(opts, i, o)
    {
        *p++ = '\n';
        *p++ = (char)('A' + i);
        *p++ = '.';
        *p++ = ' ';
        memcpy(p, json_string_value(o), json_string_length(o));
        p += json_string_length(o);
    }
    p = stpcpy(p, sep);
    stpcpy(p, tail);
    return out;
}

ipw_err ds_subject(const json_t *row, const char *const *keys, struct ipw_dataset_record *rec,
                   ipw_errbuf *eb)
{
    for (; *keys; keys++) {
        char *s = ds_string_field(row, *keys);
        if (s) {
            rec->subject = s;
            return IPW_OK;
        }
    }
    rec->subject = strdup("general");
    return rec->subject ? IPW_OK : ipw_fail(eb, IPW_E_NOMEM, "out of memory");
}

void ds_set_kind(struct ipw_dataset_record *rec, const char *kind)
{
    snprintf(rec->kind, sizeof rec->kind, "%s", kind);
}

ipw_err ds_mcq_record(const json_t *row, const char *question, const json_t *opts, char letter,
                      const char *sep, const char *tail, const char *const *subject_keys,
                      struct ipw_dataset_record *rec, ipw_errbuf *eb)
{
    char ans[2] = {letter, '\0'};
    rec->problem = ds_mcq_prompt(question, opts, sep, tail);
    rec->answer = strdup(ans);
    ds_set_kind(rec, "mcq");
    return rec->problem && rec->answer ? ds_subject(row, subject_keys, rec, eb)
                                       : ipw_fail(eb, IPW_E_NOMEM, "out of memory");
}
