/* syscall.c: the syscall workload: null system call latency (getppid through
 * syscall(), so libc caches nothing) and a one-byte pipe round trip between
 * two processes. */
#include <stdlib.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

#define NULL_N 600000
#define PIPE_N 5000

int bench_syscall(int argc, char **argv)
{
    long null_n = scaled(NULL_N, argc, argv), pipe_n = scaled(PIPE_N, argc, argv);

    long sum = 0;
    for (int i = 0; i < 1000; i++)
        sum += syscall(SYS_getppid);
    uint64_t t0 = now_ns();
    for (long i = 0; i < null_n; i++)
        sum += syscall(SYS_getppid);
    double s = secs_since(t0);
    keep(&sum);
    bench_out("syscall_null", s * 1e9 / null_n, "ns");

    int to_child[2], to_parent[2];
    if (pipe(to_child) || pipe(to_parent)) {
        perror("syscall: pipe");
        return 1;
    }
    pid_t pid = fork();
    if (pid < 0) {
        perror("syscall: fork");
        return 1;
    }
    char c = 0;
    if (pid == 0) {
        close(to_child[1]);
        close(to_parent[0]);
        while (read(to_child[0], &c, 1) == 1)
            if (write(to_parent[1], &c, 1) != 1)
                break;
        _exit(0);
    }
    close(to_child[0]);
    close(to_parent[1]);
    int ok = 1;
    for (long i = -100; i < pipe_n && ok; i++) {   /* 100 untimed warm-up trips */
        if (i == 0)
            t0 = now_ns();
        c = (char)i;
        ok = write(to_child[1], &c, 1) == 1 && read(to_parent[0], &c, 1) == 1;
    }
    s = secs_since(t0);
    close(to_child[1]);
    waitpid(pid, NULL, 0);
    if (!ok) {
        fprintf(stderr, "syscall: pipe round trip failed\n");
        return 1;
    }
    bench_out("syscall_pipe_rtt", s * 1e6 / pipe_n, "us");
    return 0;
}
