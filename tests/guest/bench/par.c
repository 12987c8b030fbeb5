/* par.c: the par workload, a CPU-bound parallel job with a checked result.
 * "par [-n] [THREADS] [PASSES]": a deterministic 768 KiB buffer in 48 chunks
 * of 16 KiB; each chunk's CRC-32 is chained over PASSES passes (seeded with
 * the chunk's index), THREADS threads (pinned one per CPU when the guest has
 * enough) share the chunks, and the 48 results fold into one 64-bit value.
 * The total work, and so the result, does not depend on THREADS. Prints
 *   PAR threads=T passes=P mib=M ms=MS result=HEX ok|FAIL|unchecked
 * where ok means the same job done again on one thread gave the same
 * result (-n skips that check: "unchecked"). Exit status 1 on FAIL. */
#define _GNU_SOURCE
#include "smp.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"

#define CHUNKS 48
#define CHUNK_BYTES (16 * 1024)
#define MAX_THREADS CHUNKS

struct par_job {
    uint32_t tab[256];
    uint8_t *buf;
    long passes;
    int threads;
    int pin;
    uint32_t result[CHUNKS];
};

struct par_worker {
    struct par_job *job;
    int id;
};

static uint32_t crc32_tab(const uint32_t *tab, uint32_t crc, const uint8_t *p, size_t n)
{
    crc = ~crc;
    while (n--)
        crc = tab[(crc ^ *p++) & 0xff] ^ (crc >> 8);
    return ~crc;
}

/* Chunks id, id + threads, ... of the job. */
static void par_share(struct par_job *j, int id, int threads)
{
    for (int c = id; c < CHUNKS; c += threads) {
        const uint8_t *p = j->buf + (size_t)c * CHUNK_BYTES;
        uint32_t crc = (uint32_t)c;
        for (long k = 0; k < j->passes; k++)
            crc = crc32_tab(j->tab, crc, p, CHUNK_BYTES);
        j->result[c] = crc;
    }
}

static void *par_main(void *arg)
{
    struct par_worker *w = arg;
    if (w->job->pin)
        smp_pin(w->id);
    par_share(w->job, w->id, w->job->threads);
    return NULL;
}

static uint64_t par_fold(const uint32_t *result)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (int c = 0; c < CHUNKS; c++)
        h = (h ^ result[c]) * 0x100000001b3ull;
    return h;
}

static long par_arg(const char *s, const char *what, long max)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || end == s || v < 1 || v > max) {
        fprintf(stderr, "par: %s wants a number from 1 to %ld, not '%s'\n", what, max, s);
        return -1;
    }
    return v;
}

int bench_par(int argc, char **argv)
{
    int check = 1, opt;
    while ((opt = getopt(argc, argv, "nh")) != -1) {
        if (opt == 'n') {
            check = 0;
            continue;
        }
        printf("usage: par [-n] [THREADS] [PASSES]\n"
               "  THREADS 1..%d (default: the guest's CPUs), PASSES over the %d KiB buffer\n"
               "  (default 40); -n: no serial re-run to check the result\n",
               MAX_THREADS, CHUNKS * CHUNK_BYTES / 1024);
        return opt == 'h' ? 0 : 2;
    }
    int cpus = smp_cpus();
    long threads = cpus > MAX_THREADS ? MAX_THREADS : cpus, passes = 40;
    if (optind < argc && (threads = par_arg(argv[optind++], "THREADS", MAX_THREADS)) < 0)
        return 2;
    if (optind < argc && (passes = par_arg(argv[optind++], "PASSES", 1000000)) < 0)
        return 2;

    struct par_job *j = calloc(1, sizeof(*j));
    uint8_t *buf = malloc((size_t)CHUNKS * CHUNK_BYTES);
    if (!j || !buf) {
        fprintf(stderr, "par: out of memory\n");
        free(j);
        free(buf);
        return 1;
    }
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = (c & 1) ? (c >> 1) ^ 0xedb88320u : c >> 1;
        j->tab[i] = c;
    }
    uint64_t s = 1;
    for (size_t i = 0; i < (size_t)CHUNKS * CHUNK_BYTES; i++)
        buf[i] = (uint8_t)((s = s * 6364136223846793005ull + 1442695040888963407ull) >> 56);
    j->buf = buf;
    j->passes = passes;
    j->threads = (int)threads;
    j->pin = cpus >= threads;

    struct par_worker w[MAX_THREADS];
    pthread_t th[MAX_THREADS];
    int started = 0, err = 0;
    uint64_t t0 = now_ns();
    for (; started < threads; started++) {
        w[started] = (struct par_worker){ j, started };
        if ((err = pthread_create(&th[started], NULL, par_main, &w[started])) != 0)
            break;
    }
    for (int i = 0; i < started; i++)
        pthread_join(th[i], NULL);
    double ms = secs_since(t0) * 1e3;
    int rc = 0;
    if (err) {
        fprintf(stderr, "par: pthread_create: %s\n", strerror(err));
        rc = 1;
    } else {
        uint64_t result = par_fold(j->result);
        const char *verdict = "unchecked";
        if (check) {
            memset(j->result, 0, sizeof(j->result));
            par_share(j, 0, 1);
            verdict = par_fold(j->result) == result ? "ok" : "FAIL";
        }
        printf("PAR threads=%ld passes=%ld mib=%.2f ms=%.1f result=%016llx %s\n", threads, passes,
               (double)passes * CHUNKS * CHUNK_BYTES / (1 << 20), ms, (unsigned long long)result,
               verdict);
        fflush(stdout);
        rc = strcmp(verdict, "FAIL") == 0;
    }
    free(buf);
    free(j);
    return rc;
}
