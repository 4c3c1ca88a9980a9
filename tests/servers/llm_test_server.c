/* A scripted LLM server for tests: speaks Ollama (/api/chat, /api/tags) and OpenAI
 * (/v1/chat/completions, /v1/models) over real sockets, with timing and failures chosen per
 * model (see docs/clients.md, "The test server"). Every request is logged as a JSON line. */
#include <errno.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ipw/agent.h"
#include "ipw/clock.h"

#define MAX_BODY (4 * 1024 * 1024)
#define MAX_MODELS 64
#define SPLIT_GAP_NS (20 * IPW_NS_PER_MS)

static atomic_bool g_stop;
static const char *g_api_key;
static FILE *g_log;
static pthread_mutex_t g_log_lock = PTHREAD_MUTEX_INITIALIZER;

struct script {
    int64_t ttft_ns, itl_ns, stall_ns, load_ns, linger_ns, burn_ns;
    long tokens, prompt_tokens, reasoning;
    long malformed, disconnect, stream_error, stall_after;
    int error_status;
    bool split, crlf, comments, multiline, no_usage, no_done;
    bool echo_length; /* the answer has as many tokens as the prompt has words */
    const char *reasoning_field;
    json_t *reply; /* array of token strings, or NULL */
    int agent;     /* -1, or the enum ipw_agent_script an agent request follows */
};

/* Tasks a scripted agent can solve: --agent-tasks FILE, then the built-in set. */
static struct ipw_agent_taskset g_tasks_file, g_tasks_builtin;

static struct {
    char *name;
    json_t *spec; /* object of behaviour keys */
} g_models[MAX_MODELS];
static int g_nmodels;

/* ---- scripts ------------------------------------------------------------------------------ */

static bool set_key(struct script *s, const char *key, json_t *v, char *err, size_t errsz)
{
    const char *sv = json_string_value(v);
    long long iv = json_is_integer(v) ? json_integer_value(v) : (sv ? atoll(sv) : 0);
    bool flag = json_is_true(v) || (sv && strcmp(sv, "") == 0) || (sv && strcmp(sv, "1") == 0);
    int64_t dur = -1;
    if (json_is_number(v))
        dur = (int64_t)(json_number_value(v) * IPW_NS_PER_MS);
    else if (sv)
        dur = ipw_parse_duration_ns(sv, IPW_NS_PER_MS);
    struct {
        const char *name;
        int64_t *d;
    } durs[] = {{"ttft", &s->ttft_ns}, {"itl", &s->itl_ns}, {"stall", &s->stall_ns},
                {"load", &s->load_ns}, {"linger", &s->linger_ns},
                {"burn", &s->burn_ns}};
    for (size_t i = 0; i < sizeof durs / sizeof durs[0]; i++)
        if (strcmp(key, durs[i].name) == 0) {
            if (dur < 0) {
                snprintf(err, errsz, "%s needs a duration", key);
                return false;
            }
            *durs[i].d = dur;
            return true;
        }
    struct {
        const char *name;
        long *n;
    } nums[] = {{"tokens", &s->tokens},         {"prompt_tokens", &s->prompt_tokens},
                {"reasoning", &s->reasoning},   {"malformed", &s->malformed},
                {"disconnect", &s->disconnect}, {"stream_error", &s->stream_error},
                {"stall_after", &s->stall_after}};
    for (size_t i = 0; i < sizeof nums / sizeof nums[0]; i++)
        if (strcmp(key, nums[i].name) == 0) {
            if (iv < 0 || iv > 1000000) {
                snprintf(err, errsz, "%s needs a count", key);
                return false;
            }
            *nums[i].n = (long)iv;
            return true;
        }
    struct {
        const char *name;
        bool *b;
    } flags[] = {{"split", &s->split},         {"crlf", &s->crlf},
                 {"comments", &s->comments},   {"multiline", &s->multiline},
                 {"no_usage", &s->no_usage},   {"no_done", &s->no_done},
                 {"echo_length", &s->echo_length}};
    for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++)
        if (strcmp(key, flags[i].name) == 0) {
            *flags[i].b = flag;
            return true;
        }
    if (strcmp(key, "error") == 0) {
        if (iv < 400 || iv > 599) {
            snprintf(err, errsz, "error needs an HTTP status 400-599");
            return false;
        }
        s->error_status = (int)iv;
        return true;
    }
    if (strcmp(key, "agent") == 0) {
        enum ipw_agent_script m;
        if (!ipw_agent_script_parse(sv, &m)) {
            snprintf(err, errsz, "agent needs solve, fail or loop");
            return false;
        }
        s->agent = (int)m;
        return true;
    }
    if (strcmp(key, "reasoning_field") == 0 && sv) {
        s->reasoning_field = strcmp(sv, "reasoning") == 0 ? "reasoning" : "reasoning_content";
        return true;
    }
    if (strcmp(key, "reply") == 0 && (sv || json_is_array(v))) {
        json_t *words = json_array();
        if (json_is_array(v)) {
            json_array_extend(words, v);
        } else {
            char *copy = strdup(sv), *save = NULL;
            for (char *w = strtok_r(copy, " ", &save); w; w = strtok_r(NULL, " ", &save))
                json_array_append_new(words, json_string(w));
            free(copy);
            /* every word but the last carries the space that followed it */
            size_t n = json_array_size(words);
            for (size_t i = 0; i + 1 < n; i++) {
                char buf[1024];
                snprintf(buf, sizeof buf, "%s ", json_string_value(json_array_get(words, i)));
                json_array_set_new(words, i, json_string(buf));
            }
        }
        s->reply = words;
        s->tokens = (long)json_array_size(words);
        return true;
    }
    snprintf(err, errsz, "unknown scripted behaviour '%s'", key);
    return false;
}

/* "ttft=200ms,itl=25ms,tokens=20,split" into an object of keys */
static json_t *spec_from_string(const char *text)
{
    json_t *obj = json_object();
    char *copy = strdup(text), *save = NULL;
    for (char *item = strtok_r(copy, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(item, '=');
        if (eq) {
            *eq = '\0';
            json_object_set_new(obj, item, json_string(eq + 1));
        } else {
            json_object_set_new(obj, item, json_true());
        }
    }
    free(copy);
    return obj;
}

static bool script_from_spec(json_t *spec, struct script *s, char *err, size_t errsz)
{
    memset(s, 0, sizeof *s);
    s->tokens = 8;
    s->prompt_tokens = -1;
    s->stall_after = 1;
    s->reasoning_field = "reasoning_content";
    s->agent = -1;
    const char *key;
    json_t *v;
    json_t *reply = json_object_get(spec, "reply");
    json_object_foreach(spec, key, v)
    {
        if (strcmp(key, "reply") != 0 && !set_key(s, key, v, err, errsz))
            return false;
    }
    /* reply fixes the token count unless tokens= says otherwise */
    if (reply) {
        long tokens = json_object_get(spec, "tokens") ? s->tokens : -1;
        if (!set_key(s, "reply", reply, err, errsz))
            return false;
        if (tokens >= 0)
            s->tokens = tokens;
    }
    return true;
}

/* Known model: configured by --model/--script, or "test" optionally followed by ",k=v,...". */
static int find_script(const char *model, struct script *s, char *err, size_t errsz)
{
    for (int i = 0; i < g_nmodels; i++)
        if (strcmp(g_models[i].name, model) == 0)
            return script_from_spec(g_models[i].spec, s, err, errsz) ? 0 : 400;
    if (strcmp(model, "test") == 0 || strncmp(model, "test,", 5) == 0) {
        json_t *spec = spec_from_string(model[4] ? model + 5 : "");
        bool ok = script_from_spec(spec, s, err, errsz);
        json_decref(spec);
        return ok ? 0 : 400;
    }
    return 404;
}

static void script_free(struct script *s) { json_decref(s->reply); }

/* ---- streams ------------------------------------------------------------------------------ */

struct piece {
    char *text;
    size_t len;
    int64_t at_ns;   /* scheduled time relative to the request; becomes the gap after the
                        previous piece, so a late piece never shortens the ones after it */
    size_t split_at; /* 0: sent in one write */
    bool abort;      /* close the connection here, without finishing the response */
};

struct stream {
    struct piece *p;
    size_t n, cap;
    size_t idx, off;
    bool gap_done;
    int64_t t0;
    int64_t last_ns; /* when the previous piece went out (t0 at first) */
    int64_t linger_ns; /* keep the response open this long after the last piece */
    pid_t burner;      /* a child burning CPU for this request (burn=DUR), reaped before the end */
};

static void add_piece(struct stream *st, const char *text, int64_t at, bool split, bool abort)
{
    if (st->n == st->cap) {
        st->cap = st->cap ? st->cap * 2 : 64;
        st->p = realloc(st->p, st->cap * sizeof *st->p);
    }
    struct piece *p = &st->p[st->n];
    p->text = strdup(text);
    p->len = strlen(text);
    p->at_ns = at;
    p->abort = abort;
    p->split_at = 0;
    if (split && p->len > 2) {
        /* vary where lines break: mid-line, after the first byte, just before the last
         * byte (between CR and LF when lines end in CRLF) */
        switch (st->n % 3) {
        case 0: p->split_at = p->len / 2; break;
        case 1: p->split_at = 1; break;
        default: p->split_at = p->len - 1;
        }
    }
    st->n++;
}

static void stream_free(void *cls)
{
    struct stream *st = cls;
    if (st->burner > 0) {
        kill(st->burner, SIGKILL);
        waitpid(st->burner, NULL, 0);
    }
    for (size_t i = 0; i < st->n; i++)
        free(st->p[i].text);
    free(st->p);
    free(st);
}

/* Sleep until t (monotonic), in slices, so a stopping server never waits long. */
static bool wait_until(int64_t t)
{
    for (;;) {
        if (atomic_load(&g_stop))
            return false;
        int64_t left = t - ipw_mono_ns();
        if (left <= 0)
            return true;
        ipw_sleep_ns(left < 10 * IPW_NS_PER_MS ? left : 10 * IPW_NS_PER_MS);
    }
}

static ssize_t read_stream(void *cls, uint64_t pos, char *buf, size_t max)
{
    struct stream *st = cls;
    if (st->idx >= st->n) {
        if (st->linger_ns && !wait_until(st->last_ns + st->linger_ns))
            return MHD_CONTENT_READER_END_WITH_ERROR;
        return MHD_CONTENT_READER_END_OF_STREAM;
    }
    struct piece *p = &st->p[st->idx];
    if (st->burner > 0 && st->idx + 1 == st->n && st->off == 0) {
        /* the burning child's CPU time lands in this process's cutime before the answer ends */
        waitpid(st->burner, NULL, 0);
        st->burner = 0;
    }
    if (st->off == 0 && !wait_until((st->idx ? st->last_ns : st->t0) + p->at_ns))
        return MHD_CONTENT_READER_END_WITH_ERROR;
    if (p->abort)
        return MHD_CONTENT_READER_END_WITH_ERROR;
    if (p->split_at && st->off == p->split_at && !st->gap_done) {
        st->gap_done = true;
        if (!wait_until(ipw_mono_ns() + SPLIT_GAP_NS))
            return MHD_CONTENT_READER_END_WITH_ERROR;
    }
    size_t end = p->split_at && st->off < p->split_at ? p->split_at : p->len;
    size_t n = end - st->off;
    if (n > max)
        n = max;
    memcpy(buf, p->text + st->off, n);
    st->off += n;
    if (st->off == p->len) {
        st->last_ns = ipw_mono_ns();
        st->idx++;
        st->off = 0;
        st->gap_done = false;
    }
    return (ssize_t)n;
}

static long count_words(json_t *messages)
{
    long words = 0;
    size_t i;
    json_t *m;
    json_array_foreach(messages, i, m)
    {
        const char *c = json_string_value(json_object_get(m, "content"));
        bool in = false;
        for (; c && *c; c++) {
            bool sp = *c == ' ' || *c == '\n' || *c == '\t' || *c == '\r';
            if (!sp && !in)
                words++;
            in = !sp;
        }
    }
    return words;
}

static char *token_text(const struct script *s, long i)
{
    char buf[1024];
    if (s->reply)
        snprintf(buf, sizeof buf, "%s",
                 json_string_value(json_array_get(s->reply, (size_t)i % json_array_size(s->reply))));
    else
        snprintf(buf, sizeof buf, "%s%ld ", i < s->reasoning ? "r" : "t", i + 1);
    return strdup(buf);
}

/* When token i (0-based) goes out. */
static int64_t token_time(const struct script *s, long i)
{
    int64_t t = s->ttft_ns + i * s->itl_ns;
    if (s->stall_ns && i >= s->stall_after)
        t += s->stall_ns;
    return t;
}

/* A line (or event) of JSON, with malformation and line endings applied. */
static void emit_json(struct stream *st, const struct script *s, json_t *j, bool sse, int64_t at,
                      bool malformed)
{
    char *text = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    const char *nl = s->crlf ? "\r\n" : "\n";
    size_t len = strlen(text);
    if (malformed)
        text[len * 3 / 5] = '\0';
    char *out = malloc(len * 2 + 64);
    if (sse && s->multiline && !malformed && strchr(text, ',')) {
        char *comma = strchr(text, ',');
        sprintf(out, "data: %.*s%sdata: %s%s%s", (int)(comma - text + 1), text, nl, comma + 1, nl,
                nl);
    } else if (sse) {
        sprintf(out, "data: %s%s%s", text, nl, nl);
    } else {
        sprintf(out, "%s%s", text, nl);
    }
    if (s->comments) {
        char pre[128];
        const char *nl2 = s->crlf ? "\r\n" : "\n";
        if (sse)
            snprintf(pre, sizeof pre, ": keep-alive%s%s%sevent: message%sid: %zu%s", nl2, nl2,
                     nl2, nl2, st->n, nl2);
        else
            snprintf(pre, sizeof pre, "%s", nl2);
        add_piece(st, pre, at, false, false);
    }
    add_piece(st, out, at, s->split, false);
    free(out);
    free(text);
}

static json_t *ollama_line(const char *model, const char *content, const char *thinking,
                           bool done)
{
    json_t *msg = json_pack("{s:s, s:s}", "role", "assistant", "content", content ? content : "");
    if (thinking)
        json_object_set_new(msg, "thinking", json_string(thinking));
    return json_pack("{s:s, s:s, s:o, s:b}", "model", model, "created_at",
                     "2025-01-01T00:00:00.000000Z", "message", msg, "done", done);
}

static json_t *openai_chunk(const char *model, json_t *delta, const char *finish)
{
    json_t *choice = json_pack("{s:i, s:o, s:n}", "index", 0, "delta", delta, "logprobs");
    json_object_set_new(choice, "finish_reason", finish ? json_string(finish) : json_null());
    return json_pack("{s:s, s:s, s:i, s:s, s:[o]}", "id", "chatcmpl-test", "object",
                     "chat.completion.chunk", "created", 1735689600, "model", model, "choices",
                     choice);
}

static struct stream *build_stream(const struct script *s, const char *model, bool sse,
                                   long max_tokens, long prompt_words)
{
    struct stream *st = calloc(1, sizeof *st);
    long n = s->tokens;
    const char *finish = "stop";
    if (max_tokens > 0 && max_tokens < n) {
        n = max_tokens;
        finish = "length";
    }
    long prompt = s->prompt_tokens >= 0 ? s->prompt_tokens : prompt_words;
    if (sse) /* the role chunk goes out at once: an empty delta is not a first token */
        emit_json(st, s, openai_chunk(model, json_pack("{s:s, s:s}", "role", "assistant",
                                                       "content", ""),
                                      NULL),
                  true, 0, false);
    for (long i = 0; i < n; i++) {
        int64_t at = token_time(s, i);
        if (s->disconnect && i == s->disconnect) {
            add_piece(st, "", at, false, true);
            return st;
        }
        if (s->stream_error && i == s->stream_error) {
            char msg[128];
            snprintf(msg, sizeof msg, "scripted failure after %ld tokens", i);
            json_t *err = sse ? json_pack("{s:{s:s, s:s, s:i}}", "error", "message", msg, "type",
                                          "server_error", "code", 500)
                              : json_pack("{s:s}", "error", msg);
            emit_json(st, s, err, sse, at, false);
            return st;
        }
        char *tok = token_text(s, i);
        bool is_reasoning = i < s->reasoning;
        json_t *j;
        if (sse)
            j = openai_chunk(model,
                             json_pack("{s:s}", is_reasoning ? s->reasoning_field : "content",
                                       tok),
                             NULL);
        else
            j = ollama_line(model, is_reasoning ? "" : tok, is_reasoning ? tok : NULL, false);
        emit_json(st, s, j, sse, at, s->malformed && i + 1 == s->malformed);
        free(tok);
    }
    int64_t end = n > 0 ? token_time(s, n - 1) : s->ttft_ns;
    if (s->disconnect && s->disconnect >= n) {
        add_piece(st, "", end, false, true);
        return st;
    }
    if (s->no_done)
        return st;
    if (sse) {
        emit_json(st, s, openai_chunk(model, json_object(), finish), true, end, false);
        if (!s->no_usage)
            emit_json(st, s,
                      json_pack("{s:s, s:s, s:i, s:s, s:[], s:{s:i, s:i, s:i}}", "id",
                                "chatcmpl-test", "object", "chat.completion.chunk", "created",
                                1735689600, "model", model, "choices", "usage", "prompt_tokens",
                                (json_int_t)prompt, "completion_tokens", (json_int_t)n,
                                "total_tokens", (json_int_t)(prompt + n)),
                      true, end, false);
        const char *nl = s->crlf ? "\r\n" : "\n";
        char done[32];
        snprintf(done, sizeof done, "data: [DONE]%s%s", nl, nl);
        add_piece(st, done, end, s->split, false);
    } else {
        json_t *j = ollama_line(model, "", NULL, true);
        json_object_set_new(j, "done_reason", json_string(finish));
        if (!s->no_usage) {
            int64_t eval = n > 1 ? (n - 1) * s->itl_ns : 0;
            json_object_set_new(j, "total_duration", json_integer(s->load_ns + end));
            json_object_set_new(j, "load_duration", json_integer(s->load_ns));
            json_object_set_new(j, "prompt_eval_count", json_integer(prompt));
            json_object_set_new(j, "prompt_eval_duration", json_integer(s->ttft_ns));
            json_object_set_new(j, "eval_count", json_integer(n));
            json_object_set_new(j, "eval_duration", json_integer(eval));
        }
        emit_json(st, s, j, false, end, false);
    }
    return st;
}

/* ---- the scripted agent ------------------------------------------------------------------- */

/* The task a conversation is about: its first user message is the task's instruction. */
static const struct ipw_agent_task *agent_task(json_t *messages)
{
    size_t i;
    json_t *m;
    json_array_foreach(messages, i, m)
    {
        const char *role = json_string_value(json_object_get(m, "role"));
        const char *content = json_string_value(json_object_get(m, "content"));
        if (!role || strcmp(role, "user") != 0 || !content)
            continue;
        const struct ipw_agent_taskset *sets[] = {&g_tasks_file, &g_tasks_builtin};
        for (int k = 0; k < 2; k++)
            for (size_t j = 0; j < sets[k]->n; j++)
                if (strcmp(sets[k]->task[j].instruction, content) == 0)
                    return &sets[k]->task[j];
        return NULL;
    }
    return NULL;
}

/* The tool a scripted agent types commands with: terminus offers send_keys, react shell. */
static const char *command_tool(json_t *tools)
{
    size_t i;
    json_t *t;
    json_array_foreach(tools, i, t)
    {
        const char *name = json_string_value(json_object_get(json_object_get(t, "function"),
                                                             "name"));
        if (name && strcmp(name, "send_keys") == 0)
            return "send_keys";
    }
    return "shell";
}

static size_t tool_results(json_t *messages)
{
    size_t n = 0, i;
    json_t *m;
    json_array_foreach(messages, i, m)
    {
        const char *role = json_string_value(json_object_get(m, "role"));
        n += role && strcmp(role, "tool") == 0;
    }
    return n;
}

/* One tool call, streamed as the protocols do: OpenAI in fragments (the name, then the
 * arguments text in two pieces), Ollama as one whole call. */
static struct stream *build_tool_stream(const struct script *s, const char *model, bool sse,
                                        long prompt_words, size_t call_no, const char *tool,
                                        json_t *args)
{
    struct stream *st = calloc(1, sizeof *st);
    char id[32];
    snprintf(id, sizeof id, "call_%zu", call_no);
    char *text = json_dumps(args, JSON_COMPACT);
    size_t half = strlen(text) / 2;
    long prompt = s->prompt_tokens >= 0 ? s->prompt_tokens : prompt_words;
    long n = (long)strlen(text) / 4 + 1;
    if (sse) {
        emit_json(st, s, openai_chunk(model, json_pack("{s:s}", "role", "assistant"), NULL), true,
                  0, false);
        emit_json(st, s,
                  openai_chunk(model,
                               json_pack("{s:[{s:i, s:s, s:s, s:{s:s, s:s}}]}", "tool_calls",
                                         "index", 0, "id", id, "type", "function", "function",
                                         "name", tool, "arguments", ""),
                               NULL),
                  true, s->ttft_ns, false);
        char first[4096], second[4096];
        snprintf(first, sizeof first, "%.*s", (int)half, text);
        snprintf(second, sizeof second, "%s", text + half);
        emit_json(st, s,
                  openai_chunk(model,
                               json_pack("{s:[{s:i, s:{s:s}}]}", "tool_calls", "index", 0,
                                         "function", "arguments", first),
                               NULL),
                  true, s->ttft_ns + s->itl_ns, false);
        emit_json(st, s,
                  openai_chunk(model,
                               json_pack("{s:[{s:i, s:{s:s}}]}", "tool_calls", "index", 0,
                                         "function", "arguments", second),
                               NULL),
                  true, s->ttft_ns + 2 * s->itl_ns, false);
        int64_t end = s->ttft_ns + 2 * s->itl_ns;
        emit_json(st, s, openai_chunk(model, json_object(), "tool_calls"), true, end, false);
        emit_json(st, s,
                  json_pack("{s:s, s:s, s:i, s:s, s:[], s:{s:i, s:i, s:i}}", "id",
                            "chatcmpl-test", "object", "chat.completion.chunk", "created",
                            1735689600, "model", model, "choices", "usage", "prompt_tokens",
                            (json_int_t)prompt, "completion_tokens", (json_int_t)n,
                            "total_tokens", (json_int_t)(prompt + n)),
                  true, end, false);
        add_piece(st, "data: [DONE]\n\n", end, false, false);
    } else {
        json_t *line = ollama_line(model, "", NULL, false);
        json_object_set_new(json_object_get(line, "message"), "tool_calls",
                            json_pack("[{s:{s:s, s:O}}]", "function", "name", tool,
                                      "arguments", args));
        emit_json(st, s, line, false, s->ttft_ns, false);
        json_t *j = ollama_line(model, "", NULL, true);
        json_object_set_new(j, "done_reason", json_string("stop"));
        json_object_set_new(j, "prompt_eval_count", json_integer(prompt));
        json_object_set_new(j, "eval_count", json_integer(n));
        emit_json(st, s, j, false, s->ttft_ns + s->itl_ns, false);
    }
    free(text);
    return st;
}

/* ---- HTTP --------------------------------------------------------------------------------- */

struct request {
    char *body;
    size_t len;
    bool too_big;
};

static enum MHD_Result send_json(struct MHD_Connection *conn, unsigned status, json_t *j)
{
    char *text = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
    MHD_add_response_header(r, "Content-Type", "application/json");
    enum MHD_Result ret = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result send_error(struct MHD_Connection *conn, unsigned status, bool openai,
                                  const char *msg)
{
    if (openai)
        return send_json(conn, status,
                         json_pack("{s:{s:s, s:s, s:i}}", "error", "message", msg, "type",
                                   status == 404 ? "NotFoundError" : "server_error", "code",
                                   (int)status));
    return send_json(conn, status, json_pack("{s:s}", "error", msg));
}

static void log_request(const char *method, const char *url, const char *auth,
                        const struct request *rq)
{
    if (!g_log)
        return;
    json_t *body = NULL;
    if (rq && rq->len) {
        body = json_loadb(rq->body, rq->len, 0, NULL);
        if (!body)
            body = json_stringn(rq->body, rq->len);
    }
    json_t *line = json_pack("{s:s, s:s, s:o, s:o}", "method", method, "path", url,
                             "authorization", auth ? json_string(auth) : json_null(), "body",
                             body ? body : json_null());
    char *text = json_dumps(line, JSON_COMPACT);
    json_decref(line);
    pthread_mutex_lock(&g_log_lock);
    fprintf(g_log, "%s\n", text);
    fflush(g_log);
    pthread_mutex_unlock(&g_log_lock);
    free(text);
}

static json_t *model_names(void)
{
    json_t *names = json_array();
    json_array_append_new(names, json_string("test"));
    for (int i = 0; i < g_nmodels; i++)
        json_array_append_new(names, json_string(g_models[i].name));
    return names;
}

static enum MHD_Result list_models(struct MHD_Connection *conn, bool openai)
{
    json_t *names = model_names(), *list = json_array();
    size_t i;
    json_t *n;
    json_array_foreach(names, i, n)
    {
        const char *s = json_string_value(n);
        if (openai)
            json_array_append_new(list, json_pack("{s:s, s:s, s:i, s:s}", "id", s, "object",
                                                  "model", "created", 0, "owned_by", "ipw-test"));
        else
            json_array_append_new(list, json_pack("{s:s, s:s, s:s, s:i, s:s, s:{}}", "name", s,
                                                  "model", s, "modified_at",
                                                  "2025-01-01T00:00:00Z", "size", 0, "digest",
                                                  "0000", "details"));
    }
    json_decref(names);
    if (openai)
        return send_json(conn, MHD_HTTP_OK, json_pack("{s:s, s:o}", "object", "list", "data", list));
    return send_json(conn, MHD_HTTP_OK, json_pack("{s:o}", "models", list));
}

static long requested_max_tokens(json_t *body, bool openai)
{
    json_t *v = openai ? json_object_get(body, "max_completion_tokens") : NULL;
    if (!v)
        v = openai ? json_object_get(body, "max_tokens")
                   : json_object_get(json_object_get(body, "options"), "num_predict");
    return json_is_integer(v) ? (long)json_integer_value(v) : -1;
}

/* A child process that uses `ns` of its own CPU time, then exits: a server's runner process
 * doing known work, for the process-tree attribution of `ipw lab`. */
static pid_t start_burner(int64_t ns)
{
    pid_t pid = fork();
    if (pid != 0)
        return pid > 0 ? pid : 0;
    struct timespec ts;
    volatile unsigned long x = 0;
    do {
        for (int i = 0; i < 100000; i++)
            x += (unsigned long)i;
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    } while ((int64_t)ts.tv_sec * IPW_NS_PER_SEC + ts.tv_nsec < ns);
    _exit(0);
}

static enum MHD_Result chat(struct MHD_Connection *conn, struct request *rq, bool openai)
{
    json_t *body = json_loadb(rq->body ? rq->body : "", rq->len, 0, NULL);
    const char *model = json_string_value(json_object_get(body, "model"));
    if (!body || !model) {
        json_decref(body);
        return send_error(conn, 400, openai, "request body must be JSON with a model");
    }
    struct script s;
    char err[256] = "";
    int rc = find_script(model, &s, err, sizeof err);
    if (rc == 404) {
        char msg[512];
        if (openai)
            snprintf(msg, sizeof msg, "The model `%s` does not exist.", model);
        else
            snprintf(msg, sizeof msg, "model '%s' not found", model);
        json_decref(body);
        return send_error(conn, 404, openai, msg);
    }
    if (rc != 0) {
        json_decref(body);
        return send_error(conn, 400, openai, err);
    }
    if (s.error_status) {
        char msg[512];
        snprintf(msg, sizeof msg, "scripted HTTP %d for model '%s'", s.error_status, model);
        script_free(&s);
        json_decref(body);
        return send_error(conn, (unsigned)s.error_status, openai, msg);
    }
    json_t *messages = json_object_get(body, "messages");
    struct stream *st = NULL;
    if (s.agent >= 0 && json_array_size(json_object_get(body, "tools"))) {
        const struct ipw_agent_task *task = agent_task(messages);
        const char *tool = command_tool(json_object_get(body, "tools"));
        json_t *args = NULL;
        char *final = NULL;
        if (!task) {
            final = strdup("I do not know this task.");
        } else if (ipw_agent_script_next(task, (enum ipw_agent_script)s.agent,
                                         tool_results(messages), tool, &args, &final,
                                         NULL) != IPW_OK) {
            final = strdup("scripting failed");
        }
        if (args) {
            st = build_tool_stream(&s, model, openai, count_words(messages),
                                   tool_results(messages), tool, args);
            json_decref(args);
        } else {
            json_t *words = json_string(final);
            set_key(&s, "reply", words, err, sizeof err);
            json_decref(words);
        }
        free(final);
    }
    if (!st && s.echo_length && !s.reply)
        s.tokens = count_words(messages); /* answers whose length follows the prompt */
    if (!st)
        st = build_stream(&s, model, openai, requested_max_tokens(body, openai),
                          count_words(messages));
    /* scheduled times into gaps: every inter-token interval is at least the scripted one */
    for (size_t i = st->n; i-- > 1;)
        st->p[i].at_ns -= st->p[i - 1].at_ns;
    st->t0 = ipw_mono_ns();
    st->linger_ns = s.linger_ns;
    if (s.burn_ns > 0)
        st->burner = start_burner(s.burn_ns);
    script_free(&s);
    json_decref(body);
    struct MHD_Response *r =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, read_stream, st, stream_free);
    MHD_add_response_header(r, "Content-Type",
                            openai ? "text/event-stream" : "application/x-ndjson");
    MHD_add_response_header(r, "Cache-Control", "no-cache");
    enum MHD_Result ret = MHD_queue_response(conn, MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url,
                              const char *method, const char *version, const char *upload,
                              size_t *upload_size, void **con_cls)
{
    struct request *rq = *con_cls;
    if (!rq) {
        rq = calloc(1, sizeof *rq);
        *con_cls = rq;
        return MHD_YES;
    }
    if (*upload_size) {
        if (rq->len + *upload_size > MAX_BODY) {
            rq->too_big = true;
        } else {
            rq->body = realloc(rq->body, rq->len + *upload_size + 1);
            memcpy(rq->body + rq->len, upload, *upload_size);
            rq->len += *upload_size;
            rq->body[rq->len] = '\0';
        }
        *upload_size = 0;
        return MHD_YES;
    }
    const char *auth = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
    log_request(method, url, auth, rq);
    bool openai = strncmp(url, "/v1/", 4) == 0;
    if (rq->too_big)
        return send_error(conn, 413, openai, "request body too large");
    if (openai && g_api_key) {
        char want[1024];
        snprintf(want, sizeof want, "Bearer %s", g_api_key);
        if (!auth || strcmp(auth, want) != 0) {
            /* like OpenAI, say which key was wrong; clients must not repeat it */
            char msg[1200];
            snprintf(msg, sizeof msg, "Incorrect API key provided: %s.",
                     auth && strncmp(auth, "Bearer ", 7) == 0 ? auth + 7 : "(none)");
            return send_error(conn, 401, true, msg);
        }
    }
    bool get = strcmp(method, "GET") == 0, post = strcmp(method, "POST") == 0;
    if (get && strcmp(url, "/api/tags") == 0)
        return list_models(conn, false);
    if (get && strcmp(url, "/v1/models") == 0)
        return list_models(conn, true);
    if (post && strcmp(url, "/api/chat") == 0)
        return chat(conn, rq, false);
    if (post && strcmp(url, "/v1/chat/completions") == 0)
        return chat(conn, rq, true);
    return send_error(conn, 404, openai, "no such endpoint");
}

static void completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                      enum MHD_RequestTerminationCode toe)
{
    struct request *rq = *con_cls;
    if (rq) {
        free(rq->body);
        free(rq);
        *con_cls = NULL;
    }
}

/* ---- main --------------------------------------------------------------------------------- */

static int add_model(const char *name, json_t *spec)
{
    if (g_nmodels == MAX_MODELS) {
        fprintf(stderr, "llm_test_server: at most %d models\n", MAX_MODELS);
        return -1;
    }
    struct script s;
    char err[256];
    if (!script_from_spec(spec, &s, err, sizeof err)) {
        fprintf(stderr, "llm_test_server: model %s: %s\n", name, err);
        return -1;
    }
    script_free(&s);
    g_models[g_nmodels].name = strdup(name);
    g_models[g_nmodels].spec = spec;
    g_nmodels++;
    return 0;
}

static int load_script(const char *path)
{
    json_error_t je;
    json_t *root = json_load_file(path, 0, &je);
    json_t *models = json_object_get(root, "models");
    if (!json_is_object(models)) {
        fprintf(stderr, "llm_test_server: %s: need {\"models\": {NAME: SPEC}} (%s)\n", path,
                root ? "no models object" : je.text);
        json_decref(root);
        return -1;
    }
    const char *name;
    json_t *spec;
    json_object_foreach(models, name, spec)
    {
        json_t *obj = json_is_string(spec) ? spec_from_string(json_string_value(spec))
                                           : json_deep_copy(spec);
        if (!json_is_object(obj) || add_model(name, obj) != 0) {
            json_decref(obj);
            json_decref(root);
            return -1;
        }
    }
    json_decref(root);
    return 0;
}

static void usage(void)
{
    fprintf(stderr,
            "usage: llm_test_server [--port N] [--port-file PATH] [--log PATH]\n"
            "                       [--model NAME=SPEC]... [--script FILE] [--api-key KEY]\n"
            "                       [--max-seconds N] [--agent-tasks FILE]\n"
            "SPEC: comma-separated ttft=DUR itl=DUR tokens=N prompt_tokens=N reply=WORDS\n"
            "      reasoning=N reasoning_field=reasoning split crlf comments multiline\n"
            "      no_usage no_done malformed=K disconnect=K stream_error=K error=STATUS\n"
            "      stall=DUR stall_after=K load=DUR linger=DUR burn=DUR   (DUR: 200ms, 1s; bare = ms)\n"
            "      agent=solve|fail|loop: requests with tools get the scripted agent's next move\n"
            "      for the task whose instruction is the first user message (built-in tasks,\n"
            "      or --agent-tasks FILE)\n"
            "A model named \"test\" or \"test,SPEC\" needs no configuration.\n");
}

int main(int argc, char **argv)
{
    long port = 0, max_seconds = 0;
    const char *port_file = NULL, *log_path = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage();
            return 0;
        }
        if (!v) {
            usage();
            return 2;
        }
        i++;
        if (strcmp(a, "--port") == 0)
            port = atol(v);
        else if (strcmp(a, "--port-file") == 0)
            port_file = v;
        else if (strcmp(a, "--log") == 0)
            log_path = v;
        else if (strcmp(a, "--api-key") == 0)
            g_api_key = v;
        else if (strcmp(a, "--max-seconds") == 0)
            max_seconds = atol(v);
        else if (strcmp(a, "--agent-tasks") == 0) {
            ipw_errbuf eb = {0};
            if (ipw_agent_tasks_load("jsonl", v, 0, 0, false, &g_tasks_file, &eb) != IPW_OK) {
                fprintf(stderr, "llm_test_server: %s\n", eb.msg);
                return 2;
            }
        }
        else if (strcmp(a, "--script") == 0) {
            if (load_script(v) != 0)
                return 2;
        } else if (strcmp(a, "--model") == 0) {
            const char *eq = strchr(v, '=');
            if (!eq || eq == v) {
                fprintf(stderr, "llm_test_server: --model wants NAME=SPEC\n");
                return 2;
            }
            char name[256];
            snprintf(name, sizeof name, "%.*s", (int)(eq - v), v);
            if (add_model(name, spec_from_string(eq + 1)) != 0)
                return 2;
        } else {
            usage();
            return 2;
        }
    }
    ipw_errbuf teb = {0};
    if (ipw_agent_tasks_load(IPW_AGENT_BUILTIN, NULL, 0, 0, false, &g_tasks_builtin, &teb) !=
        IPW_OK) {
        fprintf(stderr, "llm_test_server: %s\n", teb.msg);
        return 1;
    }
    if (log_path && !(g_log = fopen(log_path, "a"))) {
        fprintf(stderr, "llm_test_server: cannot open %s: %s\n", log_path, strerror(errno));
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL); /* MHD's threads inherit the mask */

    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct MHD_Daemon *d = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION, (uint16_t)port, NULL,
        NULL, handle, NULL, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
        MHD_OPTION_NOTIFY_COMPLETED, completed, NULL, MHD_OPTION_END);
    if (!d) {
        fprintf(stderr, "llm_test_server: cannot listen on 127.0.0.1:%ld\n", port);
        return 1;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    unsigned bound = info ? info->port : (unsigned)port;
    if (port_file) {
        char tmp[4096];
        snprintf(tmp, sizeof tmp, "%s.tmp", port_file);
        FILE *f = fopen(tmp, "w");
        if (!f || fprintf(f, "%u\n", bound) < 0 || fclose(f) != 0 || rename(tmp, port_file) != 0) {
            fprintf(stderr, "llm_test_server: cannot write %s\n", port_file);
            MHD_stop_daemon(d);
            return 1;
        }
    } else {
        printf("%u\n", bound);
        fflush(stdout);
    }
    struct timespec limit = {.tv_sec = max_seconds > 0 ? max_seconds : 365L * 24 * 3600};
    while (sigtimedwait(&set, NULL, &limit) < 0 && errno == EINTR)
        ;
    atomic_store(&g_stop, true);
    MHD_stop_daemon(d);
    if (g_log)
        fclose(g_log);
    ipw_agent_tasks_free(&g_tasks_file);
    ipw_agent_tasks_free(&g_tasks_builtin);
    for (int i = 0; i < g_nmodels; i++) {
        free(g_models[i].name);
        json_decref(g_models[i].spec);
    }
    return 0;
}
