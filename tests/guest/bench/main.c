/* main.c: the multi-call guest benchmark binary. /bench/NAME is a link to
 * /bench/tbench and runs workload NAME; "tbench NAME" works too. One static
 * binary for all workloads keeps the initramfs (and so boot) small. */
#include <stdio.h>
#include <string.h>

#include "bench.h"

static const struct {
    const char *name;
    int (*fn)(int, char **);
} workloads[] = {
    { "cpu", bench_cpu },
    { "fp", bench_fp },
    { "proc", bench_proc },
    { "mem", bench_mem },
    { "syscall", bench_syscall },
    { "dirty", bench_dirty },
    { "loops", bench_loops },
    { "loops_crc", bench_loops },
    { "loops_mix", bench_loops },
    { "loops_copy", bench_loops },
    { "touch", bench_touch },
    { "litmus", bench_litmus },
    { "par", bench_par },
};

int main(int argc, char **argv)
{
    const char *name = argc > 0 ? strrchr(argv[0], '/') : NULL;
    name = name ? name + 1 : (argc > 0 ? argv[0] : "");
    if (strcmp(name, "tbench") == 0) {
        if (argc < 2) {
            fprintf(stderr, "usage: tbench cpu|fp|proc|mem|syscall|dirty|loops|touch|litmus|par\n");
            return 2;
        }
        argv++, argc--;
        name = argv[0];
    }
    for (size_t i = 0; i < sizeof(workloads) / sizeof(workloads[0]); i++)
        if (strcmp(name, workloads[i].name) == 0)
            return workloads[i].fn(argc, argv);
    fprintf(stderr, "tbench: unknown workload '%s'\n", name);
    return 2;
}
