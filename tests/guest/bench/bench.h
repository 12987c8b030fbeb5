/* bench.h: shared helpers of the guest benchmark programs (tests/guest/bench):
 * a monotonic clock and the "BENCH <metric> <value> <unit>" output lines. */
#ifndef TERN_GUEST_BENCH_H
#define TERN_GUEST_BENCH_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

/* Guest CLOCK_MONOTONIC, in ns. Both VMMs keep guest time in step with host
 * time, so intervals measured here are host wall time, boot excluded. */
static inline uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline double secs_since(uint64_t t0)
{
    return (double)(now_ns() - t0) / 1e9;
}

/* One result line; flushed at once so the host sees it even if a later
 * step hangs. */
static inline void bench_out(const char *metric, double value, const char *unit)
{
    printf("BENCH %s %.6g %s\n", metric, value, unit);
    fflush(stdout);
}

static inline void bench_hex(const char *metric, uint64_t value)
{
    printf("BENCH %s 0x%016llx hex\n", metric, (unsigned long long)value);
    fflush(stdout);
}

/* Count n scaled by the percentage in argv[1] ("NAME 50" halves the work; the
 * default is 100), at least 1. Handy for calibration; checksums then differ. */
static inline long scaled(long n, int argc, char **argv)
{
    long pct = argc > 1 ? atol(argv[1]) : 100;
    if (pct <= 0)
        pct = 100;
    n = n * pct / 100;
    return n > 0 ? n : 1;
}

/* Keeps the compiler from dropping work whose result is otherwise unused. */
static inline void keep(const void *p)
{
    __asm__ volatile("" : : "r"(p) : "memory");
}

int bench_cpu(int argc, char **argv);
int bench_fp(int argc, char **argv);
int bench_proc(int argc, char **argv);
int bench_mem(int argc, char **argv);
int bench_syscall(int argc, char **argv);
int bench_dirty(int argc, char **argv);
int bench_loops(int argc, char **argv);
int bench_touch(int argc, char **argv);
int bench_litmus(int argc, char **argv);
int bench_par(int argc, char **argv);

#endif
