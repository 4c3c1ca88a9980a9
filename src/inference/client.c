/* The client registry and what every client shares: opening (base URL, timeouts, API key),
 * results, --client-param parsing into typed JSON, secret redaction, token estimates. */
#include "ipw/client.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "chat_run.h"
#include "ipw/clock.h"
#include "ipw/options.h"

/* The registry: adding a client is adding its file and one line here. */
static const struct ipw_client_ops *const g_clients[] = {
    &ipw_client_ollama, &ipw_client_openai, &ipw_client_vllm, &ipw_client_sim, NULL};

const struct ipw_client_ops *const *ipw_client_registry(void) { return g_clients; }

const struct ipw_client_ops *ipw_client_lookup(const char *name)
{
    for (const struct ipw_client_ops *const *p = g_clients; name && *p; p++)
        if (ipw_names_match(name, (*p)->name, (*p)->aliases))
            return *p;
    return NULL;
}

/* The derived lists, built once from the tables. */
static struct ipw_names g_names;
static pthread_once_t g_derived = PTHREAD_ONCE_INIT;
static const char *client_name(size_t i) { return g_clients[i] ? g_clients[i]->name : NULL; }
static void derive(void) { ipw_names_build(&g_names, NULL, client_name, " or "); }

static const struct ipw_names *names(void)
{
    pthread_once(&g_derived, derive);
    return &g_names;
}

const char *const *ipw_client_choices(void) { return names()->names; }
const char *ipw_client_choices_text(void) { return names()->text; }
const char *ipw_client_choices_usage(void) { return names()->usage; }

const char *ipw_client_api_key_from_env(void)
{
    const char *k = getenv("IPW_API_KEY");
    if (k && *k)
        return k;
    k = getenv("OPENAI_API_KEY");
    return k && *k ? k : NULL;
}

static ipw_err resolve_base_url(const char *in, char *out, size_t size, ipw_errbuf *eb)
{
    for (const char *p = in; *p; p++)
        if ((unsigned char)*p <= ' ' || *p == 0x7F)
            return ipw_fail(eb, IPW_E_INVALID,
                            "base URL '%.200s' contains a space or control character", in);
    const char *sep = strstr(in, "://");
    int n;
    if (!sep) {
        n = snprintf(out, size, "http://%s", in);
    } else {
        size_t slen = (size_t)(sep - in);
        if (!((slen == 4 && strncasecmp(in, "http", 4) == 0) ||
              (slen == 5 && strncasecmp(in, "https", 5) == 0)))
            return ipw_fail(eb, IPW_E_INVALID,
                            "base URL '%.200s' has an unsupported scheme: use http:// or https://",
                            in);
        n = snprintf(out, size, "%s", in);
    }
    if (n < 0 || (size_t)n >= size)
        return ipw_fail(eb, IPW_E_RANGE, "base URL '%.80s...' is longer than %zu characters", in,
                        size - 1);
    size_t host = (size_t)(strstr(out, "://") - out) + 3;
    size_t len = strlen(out);
    while (len > host && out[len - 1] == '/')
        out[--len] = '\0';
    if (len == host || out[host] == '/')
        return ipw_fail(eb, IPW_E_INVALID, "base URL '%.200s' has no host", in);
    /* curl takes "host:" as the scheme's default port (80), which is never what was meant */
    size_t authority_end = host + strcspn(out + host, "/?#");
    if (out[authority_end - 1] == ':')
        return ipw_fail(eb, IPW_E_INVALID,
                        "base URL '%.200s' has an empty port after ':': give the port "
                        "(http://host:8000) or drop the ':'",
                        in);
    /* a URL curl cannot parse (a bad port, an unclosed '[') is the user's typo, not a server
     * that is down: say so before anything tries to connect */
    CURLU *u = curl_url();
    CURLUcode uc = u ? curl_url_set(u, CURLUPART_URL, out, 0) : CURLUE_OUT_OF_MEMORY;
    curl_url_cleanup(u);
    if (uc != CURLUE_OK)
        return ipw_fail(eb, uc == CURLUE_OUT_OF_MEMORY ? IPW_E_NOMEM : IPW_E_INVALID,
                        "base URL '%.200s' is malformed (%s): check --client-base-url", in,
                        curl_url_strerror(uc));
    return IPW_OK;
}

ipw_err ipw_client_check_base_url(const char *url, ipw_errbuf *eb)
{
    char resolved[sizeof ((struct ipw_client *)0)->base_url];
    return url ? resolve_base_url(url, resolved, sizeof resolved, eb) : IPW_OK;
}

ipw_err ipw_client_open(const char *name, const struct ipw_client_config *cfg,
                        struct ipw_client **out, ipw_errbuf *eb)
{
    *out = NULL;
    const struct ipw_client_ops *ops = ipw_client_lookup(name);
    if (!ops)
        return ipw_fail(eb, IPW_E_NOTFOUND,
                        "unknown client '%s': choose one of %s", name ? name : "(null)",
                        ipw_client_choices_text());
    struct ipw_client *c = calloc(1, sizeof *c);
    if (!c)
        return ipw_fail(eb, IPW_E_NOMEM, "out of memory opening the %s client", name);
    c->ops = ops;
    if (cfg)
        c->cfg = *cfg;
    if (c->cfg.connect_timeout_ns <= 0)
        c->cfg.connect_timeout_ns = 10 * IPW_NS_PER_SEC;
    if (c->cfg.idle_timeout_ns <= 0)
        c->cfg.idle_timeout_ns = 300 * IPW_NS_PER_SEC;
    c->cfg.api_key = NULL;
    ipw_err e = IPW_OK;
    if (cfg && cfg->api_key && *cfg->api_key) {
        /* our own copy, wiped at close, so the caller's lifetime does not matter */
        char *k = strdup(cfg->api_key);
        if (!k)
            e = ipw_fail(eb, IPW_E_NOMEM, "out of memory opening the %s client", name);
        c->cfg.api_key = k;
    }
    const char *base = cfg && cfg->base_url && *cfg->base_url ? cfg->base_url
                                                               : ops->default_base_url;
    /* only HTTP clients have a default URL; an in-process client judges a given one itself */
    if (e == IPW_OK && base && ops->default_base_url)
        e = resolve_base_url(base, c->base_url, sizeof c->base_url, eb);
    c->cfg.base_url = ops->default_base_url ? c->base_url : base;
    if (e == IPW_OK)
        e = ops->open(c, eb);
    if (e != IPW_OK) {
        if (c->cfg.api_key) {
            explicit_bzero((char *)c->cfg.api_key, strlen(c->cfg.api_key));
            free((char *)c->cfg.api_key);
        }
        free(c);
        return e;
    }
    *out = c;
    return IPW_OK;
}

void ipw_client_close(struct ipw_client *c)
{
    if (!c)
        return;
    if (c->ops && c->ops->close)
        c->ops->close(c);
    if (c->cfg.api_key) {
        explicit_bzero((char *)c->cfg.api_key, strlen(c->cfg.api_key));
        free((char *)c->cfg.api_key);
    }
    free(c);
}

void ipw_chat_result_free(struct ipw_chat_result *res)
{
    if (!res)
        return;
    free(res->content);
    free(res->reasoning);
    json_decref(res->server_timings);
    json_decref(res->tool_calls);
    memset(res, 0, sizeof *res);
}

/* ---- K=V parameters ----------------------------------------------------------------------- */

/* JSON number grammar (plus a leading '+'); *is_int when there is no fraction or exponent. */
static bool number_syntax(const char *s, bool *is_int)
{
    const char *p = s;
    if (*p == '-' || *p == '+')
        p++;
    if (!isdigit((unsigned char)*p))
        return false;
    if (*p == '0' && isdigit((unsigned char)p[1]))
        return false; /* "007" stays a string */
    while (isdigit((unsigned char)*p))
        p++;
    *is_int = true;
    if (*p == '.') {
        p++;
        if (!isdigit((unsigned char)*p))
            return false;
        while (isdigit((unsigned char)*p))
            p++;
        *is_int = false;
    }
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '-' || *p == '+')
            p++;
        if (!isdigit((unsigned char)*p))
            return false;
        while (isdigit((unsigned char)*p))
            p++;
        *is_int = false;
    }
    return *p == '\0';
}

static ipw_err typed_value(const char *key, const char *v, json_t **out, ipw_errbuf *eb)
{
    bool is_int;
    *out = NULL;
    if (strcmp(v, "true") == 0)
        *out = json_true();
    else if (strcmp(v, "false") == 0)
        *out = json_false();
    else if (strcmp(v, "null") == 0)
        *out = json_null();
    else if (number_syntax(v, &is_int)) {
        if (is_int) {
            errno = 0;
            long long n = strtoll(v, NULL, 10);
            if (errno == 0)
                *out = json_integer((json_int_t)n);
        }
        if (!*out) {
            double d = strtod(v, NULL);
            *out = isfinite(d) ? json_real(d) : json_string(v);
        }
    } else if (v[0] == '[' || v[0] == '{') {
        json_error_t je;
        *out = json_loads(v, 0, &je);
        if (!*out)
            return ipw_fail(eb, IPW_E_INVALID,
                            "parameter %s: '%.120s' is not valid JSON (%s at column %d); fix it, "
                            "or quote it as a JSON string (\"...\") to pass it as text",
                            key, v, je.text, je.column);
    } else if (v[0] == '"') {
        json_t *s = json_loads(v, JSON_DECODE_ANY, NULL);
        if (json_is_string(s))
            *out = s;
        else {
            json_decref(s);
            *out = json_string(v);
        }
    } else {
        *out = json_string(v);
    }
    if (!*out)
        return ipw_fail(eb, IPW_E_INVALID,
                        "parameter %s: value '%.120s' is not valid UTF-8 text or is too large",
                        key, v);
    return IPW_OK;
}

ipw_err ipw_params_parse(const char *const *kv, size_t n, json_t **out, ipw_errbuf *eb)
{
    *out = NULL;
    json_t *obj = json_object();
    if (!obj)
        return ipw_fail(eb, IPW_E_NOMEM, "out of memory parsing parameters");
    for (size_t i = 0; i < n; i++) {
        const char *s = kv[i] ? kv[i] : "";
        const char *eq = strchr(s, '=');
        ipw_err e = IPW_OK;
        if (!eq)
            e = ipw_fail(eb, IPW_E_INVALID,
                         "parameter '%.200s' is not KEY=VALUE: write it as e.g. temperature=0.7",
                         s);
        else if (eq == s)
            e = ipw_fail(eb, IPW_E_INVALID,
                         "parameter '%.200s' has an empty key: write it as KEY=VALUE", s);
        else if (eq - s > 255)
            e = ipw_fail(eb, IPW_E_INVALID, "parameter key '%.60s...' is longer than 255 bytes",
                         s);
        char key[256];
        json_t *v = NULL;
        if (e == IPW_OK) {
            memcpy(key, s, (size_t)(eq - s));
            key[eq - s] = '\0';
            e = typed_value(key, eq + 1, &v, eb);
        }
        if (e == IPW_OK && json_object_set_new(obj, key, v) != 0)
            e = ipw_fail(eb, IPW_E_INVALID, "parameter key '%.200s' is not valid UTF-8", key);
        if (e != IPW_OK) {
            json_decref(obj);
            return e;
        }
    }
    *out = obj;
    return IPW_OK;
}

/* ---- helpers for the clients (chat_run.h) ------------------------------------------------- */

void ipw_redact(char *text, size_t size, const char *secret)
{
    static const char mask[] = "[redacted]";
    size_t sl = secret ? strlen(secret) : 0;
    if (sl == 0 || !text)
        return;
    char *p = text;
    while ((p = strstr(p, secret))) {
        size_t tail = strlen(p + sl);
        size_t ml = sizeof mask - 1;
        size_t pos = (size_t)(p - text);
        if (pos + ml + tail + 1 > size) /* no room: cut the tail rather than leak */
            tail = size > pos + ml + 1 ? size - pos - ml - 1 : 0;
        if (pos + ml + 1 > size) {
            *p = '\0';
            return;
        }
        memmove(p + ml, p + sl, tail);
        memcpy(p, mask, ml);
        p[ml + tail] = '\0';
        p += ml;
    }
}

ipw_err ipw_params_duration(const json_t *params, const char *key, int64_t *ns, ipw_errbuf *eb)
{
    json_t *v = json_object_get(params, key);
    if (!v)
        return IPW_OK;
    int64_t d = -1;
    if (json_is_number(v)) {
        double s = json_number_value(v);
        if (isfinite(s) && s > 0 && s < 1e9)
            d = (int64_t)(s * 1e9);
    } else if (json_is_string(v)) {
        d = ipw_parse_duration_ns(json_string_value(v), IPW_NS_PER_SEC);
    }
    if (d <= 0)
        return ipw_fail(eb, IPW_E_INVALID,
                        "parameter %s must be a positive duration such as 30, 30s or 500ms", key);
    *ns = d;
    return IPW_OK;
}

long ipw_estimate_tokens(size_t bytes) { return (long)((bytes + 3) / 4); }

ipw_err ipw_client_check_ready(struct ipw_client *c, const char *model, char *served,
                               size_t served_size, ipw_errbuf *eb)
{
    snprintf(served, served_size, "%s", model);
    ipw_err rc = c->ops->health(c, eb); /* its message names the URL and the fix */
    if (rc != IPW_OK)
        return rc;
    if (c->ops->check_model)
        return c->ops->check_model(c, model, eb);
    json_t *models = NULL;
    ipw_errbuf lb = {0};
    if (!c->ops->list_models || c->ops->list_models(c, &models, &lb) != IPW_OK ||
        !json_array_size(models)) {
        json_decref(models);
        return IPW_OK;
    }
    const char *tag = c->ops->default_model_tag;
    bool untagged = tag && !strchr(model, ':');
    bool found = false;
    char avail[512] = "";
    size_t i;
    json_t *m;
    json_array_foreach(models, i, m)
    {
        const char *name = json_string_value(m);
        if (!name)
            continue;
        /* the name as listed, or (like the server itself) an untagged name + its default tag */
        size_t ml = strlen(model);
        if (strcmp(name, model) == 0 ||
            (untagged && !found && strncmp(name, model, ml) == 0 && strcmp(name + ml, tag) == 0)) {
            if (!found || strcmp(name, model) == 0)
                snprintf(served, served_size, "%s", name);
            found = true;
        }
        size_t len = strlen(avail);
        if (len + strlen(name) + 3 < sizeof avail)
            snprintf(avail + len, sizeof avail - len, "%s%s", len ? ", " : "", name);
    }
    json_decref(models);
    if (!found)
        return ipw_fail(eb, IPW_E_NOTFOUND,
                        "model '%s' is not served by %s (available: %s); check --model", model,
                        c->base_url, avail[0] ? avail : "none");
    return IPW_OK;
}
