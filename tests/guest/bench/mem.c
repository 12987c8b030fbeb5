/* mem.c: the mem workload: memset and memcpy bandwidth over 8 MiB buffers
 * (MB = 10^6 bytes), and the rate of first touches of fresh anonymous pages
 * (mmap 32 MiB, write one byte per 4 KiB page, munmap; repeated). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "bench.h"

#define BUF_BYTES (8u << 20)
#define SET_REPS 300
#define CPY_REPS 150
#define TOUCH_BYTES (32u << 20)
#define TOUCH_REPS 3
#define PAGE 4096u

int bench_mem(int argc, char **argv)
{
    long set_reps = scaled(SET_REPS, argc, argv), cpy_reps = scaled(CPY_REPS, argc, argv);
    long touch_reps = scaled(TOUCH_REPS, argc, argv);

    char *a = malloc(BUF_BYTES), *b = malloc(BUF_BYTES);
    if (!a || !b) {
        fprintf(stderr, "mem: out of memory\n");
        return 1;
    }
    /* Fault both buffers in first: only the copies are timed. */
    memset(a, 1, BUF_BYTES);
    memset(b, 2, BUF_BYTES);

    uint64_t t0 = now_ns();
    for (long r = 0; r < set_reps; r++) {
        memset(a, (int)r, BUF_BYTES);
        keep(a);
    }
    double s = secs_since(t0);
    bench_out("mem_memset", (double)BUF_BYTES * set_reps / s / 1e6, "MB/s");

    t0 = now_ns();
    for (long r = 0; r < cpy_reps; r++) {
        memcpy((r & 1) ? a : b, (r & 1) ? b : a, BUF_BYTES);
        keep(a), keep(b);
    }
    s = secs_since(t0);
    bench_out("mem_memcpy", (double)BUF_BYTES * cpy_reps / s / 1e6, "MB/s");
    free(a);
    free(b);

    /* Fresh pages: only the touch loop is timed, not mmap or munmap. */
    double touch = 0;
    long pages = 0;
    for (long r = 0; r < touch_reps; r++) {
        volatile char *m = mmap(NULL, TOUCH_BYTES, PROT_READ | PROT_WRITE,
                                MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (m == MAP_FAILED) {
            perror("mem: mmap");
            return 1;
        }
        /* 4 KiB faults even if transparent huge pages are on (EINVAL without THP). */
        madvise((void *)m, TOUCH_BYTES, MADV_NOHUGEPAGE);
        t0 = now_ns();
        for (uint32_t off = 0; off < TOUCH_BYTES; off += PAGE)
            m[off] = (char)off;
        touch += secs_since(t0);
        pages += TOUCH_BYTES / PAGE;
        munmap((void *)m, TOUCH_BYTES);
    }
    bench_out("mem_touch_rate", pages / touch, "pages/s");
    bench_out("mem_touch_page", touch * 1e6 / pages, "us");
    return 0;
}
