/* The judge's verdict cache: analysis/judge_cache.jsonl, one {"key","correct","judge_model",
 * "judged_at"} line per verdict, appended durably as verdicts arrive, and an in-memory hash
 * table (open addressing on the SHA-256 key) for lookups from every worker. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ipw/jsonutil.h"
#include "ipw/fsutil.h"
#include "ipw/judge.h"
#include "ipw/log.h"

#define CACHE_FILE_MAX (1u << 30)

struct slot {
    uint8_t key[32];
    int8_t value; /* enum ipw_judge_cached; IPW_JUDGE_MISSING marks an empty slot */
};

struct ipw_judge_cache {
    pthread_mutex_t mu;
    struct slot *slots;
    size_t cap, used, damaged;
    int fd;
    char path[4096];
    char last_model[256]; /* the judge model of the last verdict loaded */
};

static bool unhex(const char *hex, uint8_t out[32])
{
    if (!hex || strlen(hex) != 64)
        return false;
    for (int i = 0; i < 64; i++) {
        char c = hex[i];
        int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (v < 0)
            return false;
        if (i % 2 == 0)
            out[i / 2] = (uint8_t)(v << 4);
        else
            out[i / 2] |= (uint8_t)v;
    }
    return true;
}

static size_t hash_of(const uint8_t key[32], size_t cap)
{
    uint64_t h;
    memcpy(&h, key, sizeof h); /* a SHA-256 prefix is already uniform */
    return (size_t)(h & (cap - 1));
}

static struct slot *find(struct slot *slots, size_t cap, const uint8_t key[32])
{
    for (size_t i = hash_of(key, cap);; i = (i + 1) & (cap - 1))
        if (slots[i].value == IPW_JUDGE_MISSING || memcmp(slots[i].key, key, 32) == 0)
            return &slots[i];
}

static bool grow(struct ipw_judge_cache *c)
{
    size_t cap = c->cap ? c->cap * 2 : 1024;
    struct slot *ns = malloc(cap * sizeof *ns);
    if (!ns)
        return false;
    for (size_t i = 0; i < cap; i++)
        ns[i].value = IPW_JUDGE_MISSING;
    for (size_t i = 0; i < c->cap; i++)
        if (c->slots[i].value != IPW_JUDGE_MISSING)
            *find(ns, cap, c->slots[i].key) = c->slots[i];
    free(c->slots);
    c->slots = ns;
    c->cap = cap;
    return true;
}

/* Caller holds the lock (or is the only thread). */
static bool set(struct ipw_judge_cache *c, const uint8_t key[32], int8_t value)
{
    if ((c->used + 1) * 10 > c->cap * 7 && !grow(c))
        return false;
    struct slot *s = find(c->slots, c->cap, key);
    if (s->value == IPW_JUDGE_MISSING)
        c->used++;
    memcpy(s->key, key, 32);
    s->value = value;
    return true;
}

static void load_lines(struct ipw_judge_cache *c, char *text)
{
    long lineno = 0;
    for (char *line = text, *next; line && *line; line = next) {
        lineno++;
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        if (!*line)
            continue;
        json_t *j = json_loads(line, 0, NULL);
        uint8_t key[32];
        json_t *ok = json_object_get(j, "correct");
        if (!j || !unhex(json_string_value(json_object_get(j, "key")), key) ||
            !json_is_boolean(ok)) {
            if (c->damaged++ == 0)
                ipw_warn("%s:%ld: damaged judge cache line skipped (it will be judged again)",
                         c->path, lineno);
            json_decref(j);
            continue;
        }
        set(c, key, json_is_true(ok) ? IPW_JUDGE_CORRECT : IPW_JUDGE_INCORRECT);
        const char *jm = json_string_value(json_object_get(j, "judge_model"));
        if (jm && *jm)
            snprintf(c->last_model, sizeof c->last_model, "%s", jm);
        json_decref(j);
    }
}

ipw_err ipw_judge_cache_open(const char *path, struct ipw_judge_cache **out, ipw_errbuf *eb)
{
    *out = NULL;
    struct ipw_judge_cache *c = calloc(1, sizeof *c);
    if (!c || !grow(c)) {
        free(c);
        return ipw_fail(eb, IPW_E_NOMEM, "out of memory opening %s", path);
    }
    pthread_mutex_init(&c->mu, NULL);
    snprintf(c->path, sizeof c->path, "%s", path);
    c->fd = -1;
    if (ipw_path_exists(path)) {
        char *text;
        ipw_err e = ipw_read_file(path, CACHE_FILE_MAX, &text, NULL, eb);
        if (e != IPW_OK) {
            ipw_judge_cache_close(c);
            return e;
        }
        load_lines(c, text);
        free(text);
    }
    c->fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (c->fd < 0) {
        int e = errno;
        ipw_judge_cache_close(c);
        return ipw_fail(eb, IPW_E_IO, "cannot open the judge cache %s for writing: %s", path,
                        strerror(e));
    }
    *out = c;
    return IPW_OK;
}

enum ipw_judge_cached ipw_judge_cache_get(struct ipw_judge_cache *c, const char *key_hex)
{
    uint8_t key[32];
    if (!unhex(key_hex, key))
        return IPW_JUDGE_MISSING;
    pthread_mutex_lock(&c->mu);
    int8_t v = find(c->slots, c->cap, key)->value;
    pthread_mutex_unlock(&c->mu);
    return (enum ipw_judge_cached)v;
}

ipw_err ipw_judge_cache_put(struct ipw_judge_cache *c, const char *key_hex, bool correct,
                            const char *judge_model, ipw_errbuf *eb)
{
    uint8_t key[32];
    if (!unhex(key_hex, key))
        return ipw_fail(eb, IPW_E_INVALID, "bad judge cache key '%.70s'", key_hex);
    json_t *j = json_object();
    json_object_set_new(j, "key", json_string(key_hex));
    json_object_set_new(j, "correct", json_boolean(correct));
    json_object_set_new(j, "judge_model", json_string(judge_model ? judge_model : ""));
    json_object_set_new(j, "judged_at", json_integer((json_int_t)time(NULL)));
    char *line = ipw_json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(j);
    if (!line)
        return ipw_fail(eb, IPW_E_NOMEM, "out of memory writing %s", c->path);
    pthread_mutex_lock(&c->mu);
    ipw_err e = ipw_append_line_durable(c->fd, line, strlen(line), c->path, eb);
    if (!set(c, key, correct ? IPW_JUDGE_CORRECT : IPW_JUDGE_INCORRECT) && e == IPW_OK)
        e = ipw_fail(eb, IPW_E_NOMEM, "out of memory caching a verdict");
    pthread_mutex_unlock(&c->mu);
    free(line);
    return e;
}

bool ipw_judge_cache_claim(struct ipw_judge_cache *c, const char *key_hex)
{
    uint8_t key[32];
    if (!unhex(key_hex, key))
        return false;
    pthread_mutex_lock(&c->mu);
    bool claimed = find(c->slots, c->cap, key)->value == IPW_JUDGE_MISSING &&
                   set(c, key, IPW_JUDGE_PENDING);
    pthread_mutex_unlock(&c->mu);
    return claimed;
}

void ipw_judge_cache_mark_failed(struct ipw_judge_cache *c, const char *key_hex)
{
    uint8_t key[32];
    if (!unhex(key_hex, key))
        return;
    pthread_mutex_lock(&c->mu);
    set(c, key, IPW_JUDGE_FAILED);
    pthread_mutex_unlock(&c->mu);
}

size_t ipw_judge_cache_size(struct ipw_judge_cache *c)
{
    pthread_mutex_lock(&c->mu);
    size_t n = c->used;
    pthread_mutex_unlock(&c->mu);
    return n;
}

size_t ipw_judge_cache_damaged_lines(struct ipw_judge_cache *c) { return c->damaged; }

const char *ipw_judge_cache_model(const struct ipw_judge_cache *c) { return c->last_model; }

void ipw_judge_cache_forget(struct ipw_judge_cache *c)
{
    pthread_mutex_lock(&c->mu);
    for (size_t i = 0; i < c->cap; i++)
        c->slots[i].value = IPW_JUDGE_MISSING;
    c->used = 0;
    pthread_mutex_unlock(&c->mu);
}

void ipw_judge_cache_close(struct ipw_judge_cache *c)
{
    if (!c)
        return;
    if (c->fd >= 0)
        close(c->fd);
    pthread_mutex_destroy(&c->mu);
    free(c->slots);
    free(c);
}
