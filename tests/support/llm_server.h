/* Start and stop tests/servers/llm_test_server (the scripted Ollama/OpenAI server) from a test:
 * a free port, a request log, and the process killed when the test ends or dies. */
#ifndef IPW_TEST_LLM_SERVER_H
#define IPW_TEST_LLM_SERVER_H

#include <jansson.h>
#include <sys/types.h>

struct ipw_test_llm_server {
    pid_t pid;
    int port;
    char dir[1024];      /* scratch directory holding the port file and the log */
    char log_path[1100]; /* one JSON line per request the server saw */
    char url[64];        /* http://127.0.0.1:PORT */
};

/* Path of the server program: $IPW_LLM_TEST_SERVER, else $IPW_TEST_BINARY_DIR/tests/... */
const char *ipw_test_llm_server_path(void);
/* Starts it with extra arguments (NULL-terminated, may be NULL), e.g. {"--model",
 * "m=ttft=200ms,tokens=20", NULL}; waits until it listens. Returns 0, or -1 with a message on
 * stderr. */
int ipw_test_llm_server_start(struct ipw_test_llm_server *s, const char *const *args);
void ipw_test_llm_server_stop(struct ipw_test_llm_server *s);
/* The requests logged so far, as a JSON array (caller decrefs). */
json_t *ipw_test_llm_server_requests(const struct ipw_test_llm_server *s);

/* The body of the last request logged for `path` (a new reference), or NULL. */
json_t *ipw_test_llm_server_last_body(const struct ipw_test_llm_server *s, const char *path);

#endif
