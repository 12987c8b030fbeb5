/* touch.c: the page-granular migration workload. "touch TOTAL_MB HOT_MB
 * [TICKS]" fills TOTAL_MB with a per-page pattern, then writes one byte per
 * 4 KiB page (a counter in byte 0) across the first HOT_MB, as fast as it
 * can: every page of the hot set is dirty again within microseconds, which
 * is what breaks pre-copy. Once a second it verifies every page and prints
 * the same line as /bench/dirty:
 *   DIRTY tick=N pages_dirtied=D verify=ok|FAIL[:page] rate=R pages/s */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "bench.h"

#define WORDS_PER_PAGE 512

static uint64_t mix(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    return x ^ (x >> 29);
}

/* Byte 0 of page p holds (sweeps + (p < cursor)) mod 256 (little endian:
 * the low byte of word 0, whose other bytes hold the page index). */
static long check(const uint64_t *mem, uint64_t npages, uint64_t hot, uint64_t sweeps,
                  uint64_t cursor)
{
    for (uint64_t p = 0; p < npages; p++) {
        const uint64_t *page = mem + p * WORDS_PER_PAGE;
        uint8_t want = p < hot ? (uint8_t)(sweeps + (p < cursor)) : 0;
        if (page[0] != (p << 8 | want))
            return (long)p;
        for (int w = 1; w < WORDS_PER_PAGE; w += 37)
            if (page[w] != mix(p * WORDS_PER_PAGE + (uint64_t)w))
                return (long)p;
    }
    return -1;
}

int bench_touch(int argc, char **argv)
{
    uint64_t total_mb = argc > 1 ? strtoull(argv[1], NULL, 0) : 32;
    uint64_t hot_mb = argc > 2 ? strtoull(argv[2], NULL, 0) : total_mb;
    long ticks = argc > 3 ? atol(argv[3]) : 0;
    if (!total_mb || !hot_mb || hot_mb > total_mb) {
        fprintf(stderr, "usage: touch TOTAL_MB [HOT_MB <= TOTAL_MB, > 0] [TICKS]\n");
        return 2;
    }
    uint64_t npages = total_mb << 8, hot = hot_mb << 8;
    uint64_t *mem = mmap(NULL, npages * 4096, PROT_READ | PROT_WRITE,
                         MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    if (mem == MAP_FAILED) {
        fprintf(stderr, "touch: cannot allocate %llu MiB\n", (unsigned long long)total_mb);
        return 1;
    }
    for (uint64_t p = 0; p < npages; p++) {
        uint64_t *page = mem + p * WORDS_PER_PAGE;
        page[0] = p << 8;
        for (int w = 1; w < WORDS_PER_PAGE; w++)
            page[w] = mix(p * WORDS_PER_PAGE + (uint64_t)w);
    }
    printf("DIRTY ready pages=%llu hot=%llu\n", (unsigned long long)npages, (unsigned long long)hot);
    fflush(stdout);

    volatile uint8_t *bytes = (volatile uint8_t *)mem;
    uint64_t dirtied = 0, since = 0, cursor = 0, sweeps = 0, t_tick = now_ns();
    for (long tick = 1; ticks == 0 || tick <= ticks;) {
        /* 1024 single-byte stores, one per page, between clock reads. */
        for (int i = 0; i < 1024; i++) {
            bytes[cursor << 12]++;
            if (++cursor == hot) {
                cursor = 0;
                sweeps++;
            }
        }
        dirtied += 1024;
        since += 1024;
        uint64_t now = now_ns();
        if (now - t_tick >= 1000000000ull) {
            long bad = check(mem, npages, hot, sweeps, cursor);
            double rate = (double)since * 1e9 / (double)(now - t_tick);
            if (bad < 0)
                printf("DIRTY tick=%ld pages_dirtied=%llu verify=ok rate=%.0f pages/s\n",
                       tick, (unsigned long long)dirtied, rate);
            else
                printf("DIRTY tick=%ld pages_dirtied=%llu verify=FAIL:%ld rate=%.0f pages/s\n",
                       tick, (unsigned long long)dirtied, bad, rate);
            fflush(stdout);
            since = 0;
            t_tick = now_ns();
            tick++;
        }
    }
    return 0;
}
