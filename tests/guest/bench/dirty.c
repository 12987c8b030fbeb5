/* dirty.c: the migration workload. "dirty TOTAL_MB HOT_MB [TICKS [full]]"
 * fills TOTAL_MB of memory with a pattern derived from each page's index,
 * then keeps rewriting the pages of the first HOT_MB as fast as it can,
 * bumping a per-page generation stored in the page itself: in its first and
 * last words, or with "full" in all 512 (a whole-page writer, which leaves
 * a delta encoder nothing to save). Once a second it verifies
 * every page against the generations it remembers and prints
 *   DIRTY tick=N pages_dirtied=D verify=ok|FAIL[:page] rate=R pages/s
 * so a host can see that the guest kept running across a migration (N only
 * grows) and that no page was lost or torn (verify=ok). TICKS=0 (the
 * default) runs forever. */
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
    x *= 0xc4ceb9fe1a85ec53ull;
    return x ^ (x >> 33);
}

/* Word 0 holds index<<32 | generation, word 511 a hash of both; the words
 * between are fixed per page. */
static void write_gen(uint64_t *page, uint64_t idx, uint32_t gen)
{
    page[0] = idx << 32 | gen;
    page[WORDS_PER_PAGE - 1] = mix(idx << 32 | gen);
}

/* The words between: fixed per page, or (full) moving with the generation. */
static uint64_t body_word(uint64_t idx, int w, uint32_t gen, int full)
{
    return mix(idx * WORDS_PER_PAGE + (uint64_t)w) + (full ? gen : 0);
}

static void write_full(uint64_t *page, uint64_t idx, uint32_t gen)
{
    for (int w = 1; w < WORDS_PER_PAGE - 1; w++)
        page[w] = body_word(idx, w, gen, 1);
    write_gen(page, idx, gen);
}

static long check(const uint64_t *mem, const uint32_t *gens, uint64_t npages, int full)
{
    for (uint64_t p = 0; p < npages; p++) {
        const uint64_t *page = mem + p * WORDS_PER_PAGE;
        if (page[0] != (p << 32 | gens[p]) || page[WORDS_PER_PAGE - 1] != mix(p << 32 | gens[p]))
            return (long)p;
        for (int w = 1; w < WORDS_PER_PAGE - 1; w += 61)
            if (page[w] != body_word(p, w, gens[p], full))
                return (long)p;
    }
    return -1;
}

int bench_dirty(int argc, char **argv)
{
    uint64_t total_mb = argc > 1 ? strtoull(argv[1], NULL, 0) : 32;
    uint64_t hot_mb = argc > 2 ? strtoull(argv[2], NULL, 0) : total_mb;
    long ticks = argc > 3 ? atol(argv[3]) : 0;
    int full = argc > 4 && !strcmp(argv[4], "full");
    if (!total_mb || hot_mb > total_mb || (argc > 4 && !full)) {
        fprintf(stderr, "usage: dirty TOTAL_MB [HOT_MB <= TOTAL_MB] [TICKS [full]]\n");
        return 2;
    }
    uint64_t npages = total_mb << 8, hot = hot_mb << 8;
    uint64_t *mem = mmap(NULL, npages * 4096, PROT_READ | PROT_WRITE,
                         MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    uint32_t *gens = calloc(npages, sizeof(*gens));
    if (mem == MAP_FAILED || !gens) {
        fprintf(stderr, "dirty: cannot allocate %llu MiB\n", (unsigned long long)total_mb);
        return 1;
    }
    for (uint64_t p = 0; p < npages; p++) {
        uint64_t *page = mem + p * WORDS_PER_PAGE;
        for (int w = 1; w < WORDS_PER_PAGE - 1; w++)
            page[w] = body_word(p, w, 0, full);
        write_gen(page, p, 0);
    }
    printf("DIRTY ready pages=%llu hot=%llu\n", (unsigned long long)npages, (unsigned long long)hot);
    fflush(stdout);

    uint64_t dirtied = 0, since = 0, cursor = 0, t_tick = now_ns();
    for (long tick = 1; ticks == 0 || tick <= ticks;) {
        for (int i = 0; i < 256 && hot; i++) {
            uint64_t p = cursor;
            cursor = cursor + 1 == hot ? 0 : cursor + 1;
            if (full)
                write_full(mem + p * WORDS_PER_PAGE, p, ++gens[p]);
            else
                write_gen(mem + p * WORDS_PER_PAGE, p, ++gens[p]);
            dirtied++;
            since++;
        }
        uint64_t now = now_ns();
        if (now - t_tick >= 1000000000ull) {
            long bad = check(mem, gens, npages, full);
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
        if (!hot) {
            struct timespec ts = { 0, 10000000 };
            nanosleep(&ts, NULL);
        }
    }
    return 0;
}
