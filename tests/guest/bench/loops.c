/* loops.c: the loops workload, three CPU-bound kernels for profiling the JIT:
 * a table-driven CRC-32 over a 64 KiB buffer, an xorshift/modulo integer mix
 * and a word-by-word copy over 8 MiB (memory-bound). Prints a time per unit
 * of each and a checksum. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

#define CRC_BUF   (64 * 1024)
#define CRC_PASSES 600
#define MIX_ITERS 20000000
#define COPY_BYTES (8u << 20)
#define COPY_PASSES 48

static uint32_t crc_tab[256];

static uint32_t crc32(uint32_t crc, const uint8_t *p, size_t n)
{
    crc = ~crc;
    while (n--)
        crc = crc_tab[(crc ^ *p++) & 0xff] ^ (crc >> 8);
    return ~crc;
}

/* xorshift64 with a data-dependent modulo and branch, as hash or PRNG code does. */
static uint64_t mix(long n)
{
    uint64_t x = 0x9e3779b97f4a7c15ull, acc = 0;
    for (long i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        uint32_t m = (uint32_t)(i | 1) + 7;
        acc += (x % m) ^ (acc >> 3);
        if (acc & 0x100)
            acc ^= x;
    }
    return acc;
}

static void copy_words(uint64_t *restrict d, const uint64_t *restrict s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        d[i] = s[i];
    keep(d);
}

/* All three kernels, or one (for profiling): /bench/loops_crc, loops_mix
 * and loops_copy run only theirs. */
int bench_loops(int argc, char **argv)
{
    const char *only = strchr(argv[0], '_');
    only = only ? only + 1 : "";
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = (c & 1) ? (c >> 1) ^ 0xedb88320u : c >> 1;
        crc_tab[i] = c;
    }
    uint8_t *buf = malloc(CRC_BUF);
    uint64_t *src = malloc(COPY_BYTES), *dst = malloc(COPY_BYTES);
    if (!buf || !src || !dst) {
        fprintf(stderr, "loops: out of memory\n");
        return 1;
    }
    uint64_t s = 1;
    for (size_t i = 0; i < CRC_BUF; i++)
        buf[i] = (uint8_t)((s = s * 6364136223846793005ull + 1442695040888963407ull) >> 56);
    for (size_t i = 0; i < COPY_BYTES / 8; i++)
        src[i] = i * 0x9e3779b97f4a7c15ull;
    memset(dst, 0, COPY_BYTES);            /* first touch outside the timing */

    long passes = *only && strcmp(only, "crc") ? 1 : scaled(CRC_PASSES, argc, argv);
    uint32_t crc = 0;
    uint64_t t0 = now_ns();
    for (long k = 0; k < passes; k++)
        crc = crc32(crc, buf, CRC_BUF);
    double crc_s = secs_since(t0);

    long iters = *only && strcmp(only, "mix") ? 1 : scaled(MIX_ITERS, argc, argv);
    t0 = now_ns();
    uint64_t m = mix(iters);
    double mix_s = secs_since(t0);

    long copies = *only && strcmp(only, "copy") ? 1 : scaled(COPY_PASSES, argc, argv);
    t0 = now_ns();
    for (long k = 0; k < copies; k++)
        copy_words(k & 1 ? src : dst, k & 1 ? dst : src, COPY_BYTES / 8);
    double copy_s = secs_since(t0);

    bench_out("loops_crc32", crc_s * 1e9 / ((double)passes * CRC_BUF), "ns/byte");
    bench_out("loops_mix", mix_s * 1e9 / (double)iters, "ns/iter");
    bench_out("loops_copy", copy_s * 1e6 / ((double)copies * COPY_BYTES / 1e6), "us/MB");
    bench_hex("loops_checksum", ((uint64_t)crc << 32) ^ m ^ src[12345] ^ dst[777]);
    free(buf);
    free(src);
    free(dst);
    return 0;
}
