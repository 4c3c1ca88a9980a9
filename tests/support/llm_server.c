/* Runs the scripted LLM test server as a child process (see llm_server.h). */
#include "llm_server.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ipw/clock.h"
#include "ipw_test.h"

const char *ipw_test_llm_server_path(void)
{
    static char path[4096];
    const char *env = getenv("IPW_LLM_TEST_SERVER");
    if (env && *env)
        return env;
    snprintf(path, sizeof path, "%s/tests/llm_test_server", ipw_test_binary_dir());
    return path;
}

int ipw_test_llm_server_start(struct ipw_test_llm_server *s, const char *const *args)
{
    memset(s, 0, sizeof *s);
    char *dir = ipw_test_mkdtemp("ipw-llm");
    snprintf(s->dir, sizeof s->dir, "%s", dir);
    free(dir);
    char port_file[1100];
    snprintf(port_file, sizeof port_file, "%s/port", s->dir);
    snprintf(s->log_path, sizeof s->log_path, "%s/requests.jsonl", s->dir);
    const char *argv[64];
    int n = 0;
    argv[n++] = ipw_test_llm_server_path();
    const char *fixed[] = {"--port", "0", "--port-file", port_file, "--log", s->log_path,
                           "--max-seconds", "600"};
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
        argv[n++] = fixed[i];
    for (; args && *args && n < 62; args++)
        argv[n++] = *args;
    argv[n] = NULL;
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        return -1;
    }
    if (pid == 0) {
        /* never outlive the test, even when it crashes */
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent)
            _exit(1);
        execv(argv[0], (char *const *)argv);
        fprintf(stderr, "cannot run %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    s->pid = pid;
    int64_t deadline = ipw_mono_ns() + 20 * IPW_NS_PER_SEC;
    while (ipw_mono_ns() < deadline) {
        FILE *f = fopen(port_file, "r");
        if (f) {
            int ok = fscanf(f, "%d", &s->port) == 1;
            fclose(f);
            if (ok && s->port > 0) {
                snprintf(s->url, sizeof s->url, "http://127.0.0.1:%d", s->port);
                return 0;
            }
        }
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid) {
            fprintf(stderr, "%s exited before listening (status %d)\n", argv[0], st);
            s->pid = 0;
            return -1;
        }
        ipw_sleep_ns(5 * IPW_NS_PER_MS);
    }
    fprintf(stderr, "%s did not write %s in time\n", argv[0], port_file);
    ipw_test_llm_server_stop(s);
    return -1;
}

void ipw_test_llm_server_stop(struct ipw_test_llm_server *s)
{
    if (s->pid > 0) {
        kill(s->pid, SIGTERM);
        int st;
        int64_t deadline = ipw_mono_ns() + 5 * IPW_NS_PER_SEC;
        while (waitpid(s->pid, &st, WNOHANG) == 0) {
            if (ipw_mono_ns() > deadline) {
                kill(s->pid, SIGKILL);
                waitpid(s->pid, &st, 0);
                break;
            }
            ipw_sleep_ns(2 * IPW_NS_PER_MS);
        }
        s->pid = 0;
    }
    if (s->dir[0]) {
        ipw_test_rmtree(s->dir);
        s->dir[0] = '\0';
    }
}

json_t *ipw_test_llm_server_requests(const struct ipw_test_llm_server *s)
{
    json_t *arr = json_array();
    FILE *f = fopen(s->log_path, "r");
    if (!f)
        return arr;
    char *line = NULL;
    size_t cap = 0;
    while (getline(&line, &cap, f) > 0) {
        json_t *j = json_loads(line, 0, NULL);
        if (j)
            json_array_append_new(arr, j);
    }
    free(line);
    fclose(f);
    return arr;
}

json_t *ipw_test_llm_server_last_body(const struct ipw_test_llm_server *s, const char *path)
{
    json_t *all = ipw_test_llm_server_requests(s), *found = NULL;
    size_t i;
    json_t *r;
    json_array_foreach(all, i, r)
    {
        const char *p = json_string_value(json_object_get(r, "path"));
        if (p && strcmp(p, path) == 0)
            found = json_object_get(r, "body");
    }
    json_incref(found);
    json_decref(all);
    return found;
}
