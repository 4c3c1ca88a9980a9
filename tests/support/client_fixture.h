/* A chat client under test (tests of the ollama and openai clients): opened from key=value
 * parameters as --client-param gives them, its stream events counted, asked one prompt. */
#ifndef IPW_TEST_CLIENT_FIXTURE_H
#define IPW_TEST_CLIENT_FIXTURE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "ipw/client.h"

/* What the stream events reported for one request. */
struct ipw_test_evlog {
    int starts, firsts, deltas;
    int empty_deltas; /* deltas with neither content nor reasoning */
    int64_t start_ns, first_ns;
};

struct ipw_test_client {
    struct ipw_client *c;
    json_t *params;
};

/* Opens client (key may be NULL) at base with the n parameters kv ("key=value"), a 2 s
 * connect timeout and idle_ns; on failure nothing is left open and eb says why. */
ipw_err ipw_test_client_try_open(struct ipw_test_client *f, const char *client,
                                 const char *base, const char *const *kv, size_t n,
                                 const char *key, int64_t idle_ns, ipw_errbuf *eb);
/* The same, failing the test when it cannot open. */
void ipw_test_client_open(struct ipw_test_client *f, const char *client, const char *base,
                          const char *const *kv, size_t n, const char *key, int64_t idle_ns);
void ipw_test_client_close(struct ipw_test_client *f);

/* Sends prompt to model; log (may be NULL) receives the stream events. */
ipw_err ipw_test_client_ask(struct ipw_test_client *f, const char *model, const char *prompt,
                            struct ipw_chat_result *res, struct ipw_test_evlog *log);

#endif
