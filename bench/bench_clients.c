/* Client overhead per streamed token: parsing and bookkeeping through the clients' own path
 * (line splitter -> NDJSON/SSE parser -> chat_run), fed from memory; then whole queries
 * against the local scripted server with zero delay (that figure includes the server). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "inference/chat_run.h"
#include "ipw/client.h"
#include "ipw/clock.h"
#include "llm_server.h"

struct text {
    char *p;
    size_t len, cap;
};

static void put(struct text *t, const char *s)
{
    size_t n = strlen(s);
    if (t->len + n + 1 > t->cap) {
        t->cap = (t->len + n + 1) * 2;
        t->p = realloc(t->p, t->cap);
    }
    memcpy(t->p + t->len, s, n + 1);
    t->len += n;
}

/* Streams shaped like the real servers' (field order and sizes as Ollama 0.6 / vLLM 0.8). */
static struct text ollama_stream(long tokens)
{
    struct text t = {0};
    char line[512];
    for (long i = 0; i < tokens; i++) {
        snprintf(line, sizeof line,
                 "{\"model\":\"llama3.2:1b\",\"created_at\":\"2025-03-01T10:00:00.%06ldZ\","
                 "\"message\":{\"role\":\"assistant\",\"content\":\" tok%ld\"},\"done\":false}\n",
                 i % 1000000, i);
        put(&t, line);
    }
    snprintf(line, sizeof line,
             "{\"model\":\"llama3.2:1b\",\"created_at\":\"2025-03-01T10:00:01Z\",\"message\":"
             "{\"role\":\"assistant\",\"content\":\"\"},\"done_reason\":\"stop\",\"done\":true,"
             "\"total_duration\":5191566416,\"load_duration\":2154458,\"prompt_eval_count\":26,"
             "\"prompt_eval_duration\":383809000,\"eval_count\":%ld,\"eval_duration\":"
             "4799921000}\n",
             tokens);
    put(&t, line);
    return t;
}

static struct text openai_stream(long tokens)
{
    struct text t = {0};
    char line[512];
    for (long i = 0; i < tokens; i++) {
        snprintf(line, sizeof line,
                 "data: {\"id\":\"chatcmpl-8f2a1c\",\"object\":\"chat.completion.chunk\","
                 "\"created\":1740823200,\"model\":\"Qwen/Qwen3-8B\",\"choices\":[{\"index\":0,"
                 "\"delta\":{\"content\":\" tok%ld\"},\"logprobs\":null,\"finish_reason\":null}]}"
                 "\n\n",
                 i);
        put(&t, line);
    }
    snprintf(line, sizeof line,
             "data: {\"id\":\"chatcmpl-8f2a1c\",\"object\":\"chat.completion.chunk\",\"created\":"
             "1740823200,\"model\":\"Qwen/Qwen3-8B\",\"choices\":[],\"usage\":{\"prompt_tokens\":"
             "26,\"total_tokens\":%ld,\"completion_tokens\":%ld}}\n\ndata: [DONE]\n\n",
             tokens + 26, tokens);
    put(&t, line);
    return t;
}

static void on_delta(void *ud, const char *c, const char *r) { ++*(long *)ud; }

/* One pass over the stream in chunks of `chunk` bytes (0: one chunk per line, as servers
 * flush each token); returns ns spent. */
static int64_t one_pass(const struct text *t, enum ipw_wire wire, size_t chunk, long tokens)
{
    struct ipw_chat_result res;
    memset(&res, 0, sizeof res);
    long deltas = 0;
    struct ipw_stream_events ev = {.ud = &deltas, .on_delta = on_delta};
    struct ipw_chat_run run;
    struct ipw_linesplit ls;
    ipw_errbuf eb;
    int64_t t0 = ipw_mono_ns();
    ipw_chat_run_init(&run, wire, &res, &ev);
    ipw_linesplit_init(&ls, 0);
    size_t off = 0;
    while (off < t->len) {
        size_t n;
        if (chunk) {
            n = t->len - off < chunk ? t->len - off : chunk;
        } else {
            const char *nl = memchr(t->p + off, '\n', t->len - off);
            n = nl ? (size_t)(nl - (t->p + off)) + 1 : t->len - off;
        }
        ipw_err e = ipw_linesplit_feed(&ls, t->p + off, n, ipw_chat_run_line, &run, &eb);
        if (e == IPW_E_CANCELLED && run.done)
            break; /* the end marker: the clients stop reading there too */
        if (e != IPW_OK) {
            fprintf(stderr, "bench: %s\n", eb.msg);
            exit(1);
        }
        off += n;
    }
    ipw_linesplit_finish(&ls, ipw_chat_run_line, &run, &eb);
    ipw_chat_run_eof(&run, &eb);
    ipw_chat_run_settle(&run);
    int64_t dt = ipw_mono_ns() - t0;
    if (!run.done || deltas != tokens || res.output_tokens != tokens) {
        fprintf(stderr, "bench: stream not read as expected (%ld deltas)\n", deltas);
        exit(1);
    }
    ipw_linesplit_free(&ls);
    ipw_chat_run_free(&run);
    ipw_chat_result_free(&res);
    return dt;
}

static void bench_memory(const char *name, struct text t, enum ipw_wire wire, long tokens,
                         int reps)
{
    size_t chunks[] = {0, 16384};
    for (int k = 0; k < 2; k++) {
        int64_t best = INT64_MAX, total = 0;
        for (int r = 0; r < reps; r++) {
            int64_t dt = one_pass(&t, wire, chunks[k], tokens);
            total += dt;
            if (dt < best)
                best = dt;
        }
        printf("  in-memory  %-7s %-22s %7.3f us/token (best %.3f; %ld tokens x %d, %.0f B/token)\n",
               name, chunks[k] ? "16 KiB chunks" : "one chunk per line",
               (double)total / reps / tokens / 1e3, (double)best / tokens / 1e3, tokens, reps,
               (double)t.len / tokens);
    }
    free(t.p);
}

static void bench_server(const char *client, const char *url, long tokens, int reps)
{
    /* max_tokens must not cut the scripted answer short (the default is 4096) */
    json_t *params = json_pack("{s:I}", "max_tokens", (json_int_t)tokens);
    struct ipw_client_config cfg = {.base_url = url, .params = params};
    struct ipw_client *c;
    ipw_errbuf eb;
    if (ipw_client_open(client, &cfg, &c, &eb) != IPW_OK) {
        fprintf(stderr, "bench: %s\n", eb.msg);
        exit(1);
    }
    char model[64];
    snprintf(model, sizeof model, "test,tokens=%ld", tokens);
    struct ipw_chat_request req = {.model = model, .prompt = "benchmark"};
    int64_t total = 0, best = INT64_MAX, decode_total = 0;
    for (int r = 0; r < reps + 1; r++) {
        struct ipw_chat_result res;
        int64_t t0 = ipw_mono_ns();
        if (c->ops->chat(c, &req, NULL, &res) != IPW_OK || res.output_tokens != tokens) {
            fprintf(stderr, "bench: %s (%ld tokens)\n", res.error_msg, res.output_tokens);
            exit(1);
        }
        int64_t dt = ipw_mono_ns() - t0;
        if (r > 0) { /* the first query warms up */
            total += dt;
            decode_total += res.end_ns - res.first_token_ns;
            if (dt < best)
                best = dt;
        }
        ipw_chat_result_free(&res);
    }
    printf("  end-to-end %-7s %-22s %7.3f us/token (best %.3f; %ld tokens x %d; "
           "first->last token %.3f us/token)\n",
           client, "local test server", (double)total / reps / tokens / 1e3,
           (double)best / tokens / 1e3, tokens, reps, (double)decode_total / reps / tokens / 1e3);
    ipw_client_close(c);
    json_decref(params);
}

int main(void)
{
    bool quick = getenv("IPW_BENCH_QUICK") && atoi(getenv("IPW_BENCH_QUICK"));
    long tokens = quick ? 2000 : 20000;
    int reps = quick ? 3 : 20;
    printf("inference clients: overhead per streamed token%s\n", quick ? " (quick)" : "");
    bench_memory("ollama", ollama_stream(tokens), IPW_WIRE_NDJSON, tokens, reps);
    bench_memory("openai", openai_stream(tokens), IPW_WIRE_SSE, tokens, reps);

    struct ipw_test_llm_server srv;
    if (ipw_test_llm_server_start(&srv, NULL) != 0) {
        printf("  end-to-end: skipped (cannot start %s)\n", ipw_test_llm_server_path());
        return 0;
    }
    long e2e_tokens = quick ? 1000 : 5000;
    int e2e_reps = quick ? 2 : 10;
    bench_server("ollama", srv.url, e2e_tokens, e2e_reps);
    bench_server("vllm", srv.url, e2e_tokens, e2e_reps);
    ipw_test_llm_server_stop(&srv);
    return 0;
}
