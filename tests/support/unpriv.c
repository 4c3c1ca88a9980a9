/* ipw_test_unprivileged: fork, drop root, run, report through a pipe (see unpriv.h). */
#include "unpriv.h"

#include <grp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int ipw_test_unprivileged(void (*fn)(void *ud, FILE *out), void *ud, char *buf, size_t size)
{
    int p[2];
    if (pipe(p) != 0)
        return -1;
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        close(p[0]);
        close(p[1]);
        return -1;
    }
    if (pid == 0) {
        close(p[0]);
        if (geteuid() == 0 &&
            (setgroups(0, NULL) != 0 || setgid(65534) != 0 || setuid(65534) != 0))
            _exit(98);
        if (geteuid() == 0)
            _exit(98);
        FILE *out = fdopen(p[1], "w");
        if (!out)
            _exit(97);
        fn(ud, out);
        fclose(out);
        _exit(0);
    }
    close(p[1]);
    size_t n = 0;
    for (;;) {
        char tmp[512];
        ssize_t r = read(p[0], tmp, sizeof tmp);
        if (r <= 0)
            break;
        for (ssize_t i = 0; i < r && n + 1 < size; i++)
            buf[n++] = tmp[i];
    }
    if (size)
        buf[n < size ? n : size - 1] = '\0';
    close(p[0]);
    int status;
    if (waitpid(pid, &status, 0) != pid)
        return -1;
    if (WIFSIGNALED(status))
        return 128 + WTERMSIG(status);
    return WEXITSTATUS(status);
}
