/* proc.c: the proc workload: mean latency of fork+exit (the parent waits),
 * fork+exec of the tiny /bench/hello, and "/bin/sh -c true" (busybox sh). */
#include <fcntl.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

#define FORK_N 600
#define EXEC_N 300
#define SH_N   120

static char *const hello_argv[] = { "hello", NULL };
static char *const sh_argv[] = { "sh", "-c", "true", NULL };
static char *const child_env[] = { "PATH=/bin:/usr/bin", NULL };

/* One fork; the child runs the program (or exits at once when path is NULL)
 * with stdout on /dev/null; the parent waits for it. Returns 0 on success. */
static int spawn(const char *path, char *const *argv, int devnull)
{
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        if (path) {
            dup2(devnull, 1);
            execve(path, argv, child_env);
            _exit(127);
        }
        _exit(0);
    }
    int st;
    if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
        return -1;
    return 0;
}

static int measure(const char *metric, const char *path, char *const *argv, long n, int devnull)
{
    /* A few untimed rounds first, so page cache and slab are warm. */
    for (int i = 0; i < 5; i++)
        if (spawn(path, argv, devnull)) {
            fprintf(stderr, "proc: %s failed\n", path ? path : "fork");
            return -1;
        }
    uint64_t t0 = now_ns();
    for (long i = 0; i < n; i++)
        if (spawn(path, argv, devnull)) {
            fprintf(stderr, "proc: %s failed\n", path ? path : "fork");
            return -1;
        }
    bench_out(metric, secs_since(t0) * 1e6 / n, "us");
    return 0;
}

int bench_proc(int argc, char **argv)
{
    int devnull = open("/dev/null", O_WRONLY);
    if (devnull < 0) {
        perror("proc: /dev/null");
        return 1;
    }
    int rc = 0;
    rc |= measure("proc_fork_exit", NULL, NULL, scaled(FORK_N, argc, argv), devnull);
    rc |= measure("proc_fork_exec", "/bench/hello", hello_argv, scaled(EXEC_N, argc, argv), devnull);
    rc |= measure("proc_sh_c_true", "/bin/sh", sh_argv, scaled(SH_N, argc, argv), devnull);
    return rc ? 1 : 0;
}
