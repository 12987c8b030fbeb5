/* litmus.c: memory-model litmus tests for SMP guests (the litmus workload).
 * Threads pinned one per CPU run message passing and store buffering, with
 * fences (the forbidden outcome must never appear) and without (relaxed
 * outcomes counted, for information); count to a known total with LR/SC,
 * amoadd, both mixed on one counter, and a spinlock taken by amoswap or
 * LR/SC; and run code another hart just rewrote (smc). One
 * "LITMUS <test> ok|FAIL ..." line per test, then "LITMUS-RESULT ok" or
 * "LITMUS-RESULT FAIL <tests>"; the exit status is 1 on a failure. Run
 * "litmus -h" for the options. */
#define _GNU_SOURCE
#include "smp.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "bench.h"

#define MAX_THREADS 16

struct litmus_cfg {
    int threads;        /* threads per test (pairs of them for mp and sb) */
    int cpus;           /* CPUs the guest lets us use */
    int pin;            /* pin thread k to CPU k (enough CPUs) */
    int yield;          /* spin-waits give the CPU away (too few CPUs) */
    long iters;         /* mp/sb iterations per pair and variant */
    long count;         /* increments per thread in the counter tests */
};

/* ---- A team of threads running one test ------------------------------------ */

struct team {
    const struct litmus_cfg *cfg;
    void (*body)(void *test, const struct litmus_cfg *cfg, int id);
    void *test;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int gate;           /* 0: wait, 1: run, -1: give up (a thread failed to start) */
    uint32_t arrived;   /* threads through the gate: they start together */
    uint32_t n;
};

struct member {
    struct team *team;
    int id;
};

static void *member_main(void *arg)
{
    struct member *m = arg;
    struct team *t = m->team;
    if (t->cfg->pin)
        smp_pin(m->id % t->cfg->cpus);
    pthread_mutex_lock(&t->lock);
    while (t->gate == 0)
        pthread_cond_wait(&t->cond, &t->lock);
    int go = t->gate > 0;
    pthread_mutex_unlock(&t->lock);
    if (go) {
        __atomic_fetch_add(&t->arrived, 1, __ATOMIC_ACQ_REL);
        smp_wait_ge(&t->arrived, t->n, t->cfg->yield);
        t->body(t->test, t->cfg, m->id);
    }
    return NULL;
}

static void team_open(struct team *t, int gate)
{
    pthread_mutex_lock(&t->lock);
    t->gate = gate;
    pthread_cond_broadcast(&t->cond);
    pthread_mutex_unlock(&t->lock);
}

/* Runs body(test, cfg, id) on n threads, id 0..n-1; returns 0 or an errno. */
static int run_team(const struct litmus_cfg *cfg, int n,
                    void (*body)(void *, const struct litmus_cfg *, int), void *test)
{
    struct team t = { .cfg = cfg, .body = body, .test = test, .n = (uint32_t)n };
    struct member m[MAX_THREADS];
    pthread_t th[MAX_THREADS];
    pthread_mutex_init(&t.lock, NULL);
    pthread_cond_init(&t.cond, NULL);
    int started = 0, err = 0;
    for (; started < n; started++) {
        m[started] = (struct member){ &t, started };
        err = pthread_create(&th[started], NULL, member_main, &m[started]);
        if (err)
            break;
    }
    team_open(&t, err ? -1 : 1);
    for (int i = 0; i < started; i++)
        pthread_join(th[i], NULL);
    pthread_cond_destroy(&t.cond);
    pthread_mutex_destroy(&t.lock);
    if (err)
        fprintf(stderr, "litmus: pthread_create: %s\n", strerror(err));
    return err;
}

static inline void compiler_barrier(void)
{
    __asm__ volatile("" ::: "memory");
}

/* ---- Message passing --------------------------------------------------------
 * Writer: data[i] = i + 1; [fence rw,w]; flag[i] = 1.
 * Reader: spin until flag[i]; [fence r,rw]; read data[i].
 * Seeing the flag but data[i] still 0 is forbidden with the fences. The
 * writer waits for the reader to finish slot i - 1 first, so the reader is
 * spinning on the flag while the writer stores: the two race on every slot. */

struct mp_pair {
    uint32_t *data, *flag;
    uint32_t rdone;     /* slots the reader has finished */
    long stale;         /* flag seen, data not */
};

struct mp_test {
    struct mp_pair pair[MAX_THREADS / 2];
    int fenced;
};

static void mp_body(void *arg, const struct litmus_cfg *cfg, int id)
{
    struct mp_test *t = arg;
    struct mp_pair *p = &t->pair[id / 2];
    volatile uint32_t *data = p->data, *flag = p->flag;
    if (id % 2 == 0) {
        for (long i = 0; i < cfg->iters; i++) {
            smp_wait_ge(&p->rdone, (uint32_t)i, cfg->yield);
            data[i] = (uint32_t)i + 1;
            if (t->fenced)
                __asm__ volatile("fence rw, w" ::: "memory");
            else
                compiler_barrier();
            flag[i] = 1;
        }
    } else {
        long stale = 0;
        for (long i = 0; i < cfg->iters; i++) {
            unsigned spins = 0;
            while (flag[i] == 0)
                if (cfg->yield && ++spins % 64 == 0)
                    sched_yield();
            if (t->fenced)
                __asm__ volatile("fence r, rw" ::: "memory");
            else
                compiler_barrier();
            if (data[i] != (uint32_t)i + 1)
                stale++;
            __atomic_store_n(&p->rdone, (uint32_t)i + 1, __ATOMIC_RELEASE);
        }
        p->stale = stale;
    }
}

/* Returns the forbidden (fenced) or relaxed (unfenced) count, or -1. */
static long mp_run(const struct litmus_cfg *cfg, int pairs, int fenced)
{
    struct mp_test t = { .fenced = fenced };
    long bad = -1;
    for (int k = 0; k < pairs; k++) {
        t.pair[k].data = calloc(cfg->iters, sizeof(uint32_t));
        t.pair[k].flag = calloc(cfg->iters, sizeof(uint32_t));
        if (!t.pair[k].data || !t.pair[k].flag)
            goto out;
    }
    if (run_team(cfg, 2 * pairs, mp_body, &t) == 0) {
        bad = 0;
        for (int k = 0; k < pairs; k++)
            bad += t.pair[k].stale;
    }
out:
    for (int k = 0; k < pairs; k++) {
        free(t.pair[k].data);
        free(t.pair[k].flag);
    }
    return bad;
}

/* ---- Store buffering --------------------------------------------------------
 * Thread 0: x[i] = 1; [fence rw,rw]; r0[i] = y[i].
 * Thread 1: y[i] = 1; [fence rw,rw]; r1[i] = x[i].
 * r0 = r1 = 0 is forbidden with the fences. The two meet at a barrier
 * before every slot so that their stores and loads overlap. */

struct sb_pair {
    uint32_t *x, *y, *r0, *r1;
    uint32_t arrived[2];
};

struct sb_test {
    struct sb_pair pair[MAX_THREADS / 2];
    int fenced;
};

static void sb_body(void *arg, const struct litmus_cfg *cfg, int id)
{
    struct sb_test *t = arg;
    struct sb_pair *p = &t->pair[id / 2];
    int me = id % 2;
    volatile uint32_t *mine = me ? p->y : p->x, *theirs = me ? p->x : p->y;
    uint32_t *out = me ? p->r1 : p->r0;
    for (long i = 0; i < cfg->iters; i++) {
        __atomic_store_n(&p->arrived[me], (uint32_t)i + 1, __ATOMIC_RELEASE);
        smp_wait_ge(&p->arrived[!me], (uint32_t)i + 1, cfg->yield);
        mine[i] = 1;
        if (t->fenced)
            __asm__ volatile("fence rw, rw" ::: "memory");
        else
            compiler_barrier();
        out[i] = theirs[i];
    }
}

static long sb_run(const struct litmus_cfg *cfg, int pairs, int fenced)
{
    struct sb_test t = { .fenced = fenced };
    long bad = -1;
    for (int k = 0; k < pairs; k++) {
        struct sb_pair *p = &t.pair[k];
        p->x = calloc(cfg->iters, sizeof(uint32_t));
        p->y = calloc(cfg->iters, sizeof(uint32_t));
        p->r0 = calloc(cfg->iters, sizeof(uint32_t));
        p->r1 = calloc(cfg->iters, sizeof(uint32_t));
        if (!p->x || !p->y || !p->r0 || !p->r1)
            goto out;
    }
    if (run_team(cfg, 2 * pairs, sb_body, &t) == 0) {
        bad = 0;
        for (int k = 0; k < pairs; k++)
            for (long i = 0; i < cfg->iters; i++)
                bad += t.pair[k].r0[i] == 0 && t.pair[k].r1[i] == 0;
    }
out:
    for (int k = 0; k < pairs; k++) {
        free(t.pair[k].x);
        free(t.pair[k].y);
        free(t.pair[k].r0);
        free(t.pair[k].r1);
    }
    return bad;
}

/* ---- Cross-modifying code ------------------------------------------------------
 * The writer rewrites a function in an executable page ("addi a0, zero, K;
 * ret") with a new K, flushes every hart's instruction cache (the
 * riscv_flush_icache system call, as __builtin___clear_cache does) and hands
 * slot i to the reader, on another hart, which ran the old code a moment
 * ago and must now get the new K. Without the flush a stale K is allowed. */

#define SMC_ITERS(cfg) ((cfg)->iters / 25 > 0 ? (cfg)->iters / 25 : 1)

struct smc_pair {
    uint32_t *code;
    uint32_t ready, done;
    long stale;
};

struct smc_test {
    struct smc_pair pair[MAX_THREADS / 2];
    int fenced;
};

static uint32_t smc_addi_a0(long k)
{
    return 0x00000513u | (uint32_t)(k % 2000) << 20;   /* addi a0, zero, k % 2000 */
}

static void smc_body(void *arg, const struct litmus_cfg *cfg, int id)
{
    struct smc_test *t = arg;
    struct smc_pair *p = &t->pair[id / 2];
    long iters = SMC_ITERS(cfg);
    if (id % 2 == 0) {
        for (long i = 0; i < iters; i++) {
            smp_wait_ge(&p->done, (uint32_t)i, cfg->yield);
            *(volatile uint32_t *)p->code = smc_addi_a0(i + 1);
            if (t->fenced)
                syscall(__NR_riscv_flush_icache, p->code, p->code + 2, 0UL);
            __atomic_store_n(&p->ready, (uint32_t)i + 1, __ATOMIC_RELEASE);
        }
    } else {
        long (*fn)(void) = (long (*)(void))(uintptr_t)p->code;
        long stale = 0;
        for (long i = 0; i < iters; i++) {
            smp_wait_ge(&p->ready, (uint32_t)i + 1, cfg->yield);
            if (fn() != (i + 1) % 2000)
                stale++;
            __atomic_store_n(&p->done, (uint32_t)i + 1, __ATOMIC_RELEASE);
        }
        p->stale = stale;
    }
}

static long smc_run(const struct litmus_cfg *cfg, int pairs, int fenced)
{
    struct smc_test t = { .fenced = fenced };
    long bad = -1;
    for (int k = 0; k < pairs; k++) {
        void *page = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC,
                          MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (page == MAP_FAILED) {
            perror("litmus: mmap of an executable page");
            goto out;
        }
        t.pair[k].code = page;
        t.pair[k].code[0] = smc_addi_a0(0);
        t.pair[k].code[1] = 0x00008067u;                   /* ret */
        syscall(__NR_riscv_flush_icache, page, t.pair[k].code + 2, 0UL);
    }
    if (run_team(cfg, 2 * pairs, smc_body, &t) == 0) {
        bad = 0;
        for (int k = 0; k < pairs; k++)
            bad += t.pair[k].stale;
    }
out:
    for (int k = 0; k < pairs; k++)
        if (t.pair[k].code)
            munmap(t.pair[k].code, 4096);
    return bad;
}

/* ---- Counters: LR/SC, amoadd, an amoswap spinlock ---------------------------- */

struct counters {
    uint32_t w;             /* lr.w / sc.w */
    uint64_t d;             /* lr.d / sc.d */
    uint64_t mixed;         /* lr.d / sc.d on even threads, amoadd.d on odd ones */
    uint64_t amo;           /* amoadd.d ... */
    uint64_t racy __attribute__((aligned(64)));  /* ... and a plain increment (loses some) */
    uint32_t lock;          /* amoswap spinlock ... */
    uint64_t plain;         /* ... around a plain load, add, store */
    uint64_t sc_retries;    /* failed sc, summed over the threads */
};

/* One increment by an LR/SC loop; returns how many sc failed. */
static inline unsigned lrsc_inc_w(uint32_t *p)
{
    unsigned fails = 0;
    uint32_t v, r;
    __asm__ volatile(
        "1: lr.w %0, (%3)\n"
        "   addiw %0, %0, 1\n"
        "   sc.w %1, %0, (%3)\n"
        "   beqz %1, 2f\n"
        "   addiw %2, %2, 1\n"
        "   j 1b\n"
        "2:\n"
        : "=&r"(v), "=&r"(r), "+r"(fails) : "r"(p) : "memory");
    return fails;
}

static inline unsigned lrsc_inc_d(uint64_t *p)
{
    unsigned fails = 0;
    uint64_t v, r;
    __asm__ volatile(
        "1: lr.d %0, (%3)\n"
        "   addi %0, %0, 1\n"
        "   sc.d %1, %0, (%3)\n"
        "   beqz %1, 2f\n"
        "   addiw %2, %2, 1\n"
        "   j 1b\n"
        "2:\n"
        : "=&r"(v), "=&r"(r), "+r"(fails) : "r"(p) : "memory");
    return fails;
}

static void lrsc_body(void *arg, const struct litmus_cfg *cfg, int id)
{
    struct counters *c = arg;
    uint64_t fails = 0;
    for (long i = 0; i < cfg->count; i++) {
        fails += lrsc_inc_w(&c->w);
        fails += lrsc_inc_d(&c->d);
        if (id % 2)
            __asm__ volatile("amoadd.d zero, %1, (%0)" : : "r"(&c->mixed), "r"(1L) : "memory");
        else
            fails += lrsc_inc_d(&c->mixed);
    }
    __atomic_fetch_add(&c->sc_retries, fails, __ATOMIC_RELAXED);
}

static void amo_body(void *arg, const struct litmus_cfg *cfg, int id)
{
    struct counters *c = arg;
    volatile uint64_t *racy = &c->racy;
    for (long i = 0; i < cfg->count; i++) {
        __asm__ volatile("amoadd.d zero, %1, (%0)" : : "r"(&c->amo), "r"(1L) : "memory");
        *racy = *racy + 1;
    }
}

/* Takes the lock with amoswap.w.aq, or (lrsc) with an lr.w.aq / sc.w loop. */
static inline void spin_lock(uint32_t *lock, int lrsc, int yield)
{
    uint32_t old, fail;
    unsigned spins = 0;
    for (;;) {
        if (lrsc)
            __asm__ volatile(
                "1: lr.w.aq %0, (%2)\n"
                "   bnez %0, 2f\n"
                "   sc.w %1, %3, (%2)\n"
                "   bnez %1, 1b\n"
                "2:\n"
                : "=&r"(old), "=&r"(fail) : "r"(lock), "r"(1) : "memory");
        else
            __asm__ volatile("amoswap.w.aq %0, %2, (%1)" : "=r"(old) : "r"(lock), "r"(1) : "memory");
        if (old == 0)
            return;
        while (*(volatile uint32_t *)lock)
            if (yield && ++spins % 64 == 0)
                sched_yield();
    }
}

/* Releases with amoswap.w.rl, or (plain) with fence rw,w and a plain store,
 * as Linux's spinlocks do. */
static inline void spin_unlock(uint32_t *lock, int plain)
{
    if (plain)
        __asm__ volatile("fence rw, w\n sw zero, 0(%0)" : : "r"(lock) : "memory");
    else
        __asm__ volatile("amoswap.w.rl zero, zero, (%0)" : : "r"(lock) : "memory");
}

static void lock_body(void *arg, const struct litmus_cfg *cfg, int id)
{
    struct counters *c = arg;
    volatile uint64_t *plain = &c->plain;
    for (long i = 0; i < cfg->count; i++) {
        spin_lock(&c->lock, id % 2, cfg->yield);
        uint64_t v = *plain;
        *plain = v + 1;
        spin_unlock(&c->lock, i % 2);
    }
}

/* ---- Driver -------------------------------------------------------------------- */

static const char *const test_names[] = { "mp", "sb", "lrsc", "amo", "lock", "smc" };
#define NTESTS (int)(sizeof(test_names) / sizeof(test_names[0]))

/* Pass/fail of a relaxed-outcome test (iters per pair and variant):
 * forbidden, the count with fences (smc: with the flush), must be 0. */
static int report_pair_test(const char *name, const struct litmus_cfg *cfg, int pairs,
                            long iters, long (*run)(const struct litmus_cfg *, int, int))
{
    uint64_t t0 = now_ns();
    long forbidden = run(cfg, pairs, 1);
    long relaxed = run(cfg, pairs, 0);
    int ok = forbidden == 0 && relaxed >= 0;
    printf("LITMUS %s %s forbidden=%ld iters=%ld pairs=%d unfenced_relaxed=%ld ms=%.0f\n",
           name, ok ? "ok" : "FAIL", forbidden, iters * pairs, pairs, relaxed,
           secs_since(t0) * 1e3);
    fflush(stdout);
    return ok;
}

static int report_counter(const char *name, const struct litmus_cfg *cfg,
                          void (*body)(void *, const struct litmus_cfg *, int))
{
    struct counters c;
    memset(&c, 0, sizeof(c));
    uint64_t t0 = now_ns();
    int err = run_team(cfg, cfg->threads, body, &c);
    double ms = secs_since(t0) * 1e3;
    uint64_t expect = (uint64_t)cfg->threads * (uint64_t)cfg->count;
    int ok;
    if (strcmp(name, "lrsc") == 0) {
        ok = !err && c.w == (uint32_t)expect && c.d == expect && c.mixed == expect;
        printf("LITMUS lrsc %s total_w=%u total_d=%llu total_mixed=%llu expect=%llu threads=%d "
               "sc_retries=%llu ms=%.0f\n", ok ? "ok" : "FAIL", c.w, (unsigned long long)c.d,
               (unsigned long long)c.mixed, (unsigned long long)expect, cfg->threads,
               (unsigned long long)c.sc_retries, ms);
    } else if (strcmp(name, "amo") == 0) {
        /* plain_lost: increments a plain load-add-store lost (allowed; shows
         * that the threads really ran at the same time). */
        ok = !err && c.amo == expect;
        printf("LITMUS amo %s total=%llu expect=%llu threads=%d plain_lost=%llu ms=%.0f\n",
               ok ? "ok" : "FAIL", (unsigned long long)c.amo, (unsigned long long)expect,
               cfg->threads, (unsigned long long)(expect - c.racy), ms);
    } else {
        ok = !err && c.plain == expect;
        printf("LITMUS lock %s total=%llu expect=%llu threads=%d ms=%.0f\n", ok ? "ok" : "FAIL",
               (unsigned long long)c.plain, (unsigned long long)expect, cfg->threads, ms);
    }
    fflush(stdout);
    return ok;
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: litmus [-t THREADS] [-n ITERS] [-c COUNT] [TEST...]\n"
            "  TEST: mp sb lrsc amo lock smc (default: all)\n"
            "  -t THREADS  threads per test, 2..%d (default: the guest's CPUs, at least 2);\n"
            "              mp and sb run THREADS/2 pairs; each thread is pinned to its own\n"
            "              CPU when the guest has at least THREADS CPUs\n"
            "  -n ITERS    mp and sb iterations per pair, with and without fences, smc\n"
            "              ITERS/25 (default 5000)\n"
            "  -c COUNT    increments per thread in lrsc, amo and lock (default 100000)\n",
            MAX_THREADS);
}

static long parse_pos(const char *s, const char *flag, long max)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || end == s || v < 1 || v > max) {
        fprintf(stderr, "litmus: %s wants a number from 1 to %ld, not '%s'\n", flag, max, s);
        return -1;
    }
    return v;
}

int bench_litmus(int argc, char **argv)
{
    struct litmus_cfg cfg = { .cpus = smp_cpus(), .iters = 5000, .count = 100000 };
    int opt;
    while ((opt = getopt(argc, argv, "t:n:c:h")) != -1) {
        long v = 0;
        switch (opt) {
        case 't': v = cfg.threads = (int)parse_pos(optarg, "-t", MAX_THREADS); break;
        case 'n': v = cfg.iters = parse_pos(optarg, "-n", 100000000); break;
        case 'c': v = cfg.count = parse_pos(optarg, "-c", 1000000000); break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
        if (v < 0)
            return 2;
    }
    if (cfg.threads == 0)
        cfg.threads = cfg.cpus < 2 ? 2 : cfg.cpus > MAX_THREADS ? MAX_THREADS : cfg.cpus;
    if (cfg.threads < 2) {
        fprintf(stderr, "litmus: -t wants at least 2 threads\n");
        return 2;
    }
    int want[NTESTS] = { 0 }, any = 0;
    for (int i = optind; i < argc; i++) {
        int k = 0;
        while (k < NTESTS && strcmp(argv[i], test_names[k]) != 0)
            k++;
        if (k == NTESTS) {
            fprintf(stderr, "litmus: unknown test '%s' (mp sb lrsc amo lock smc)\n", argv[i]);
            return 2;
        }
        want[k] = any = 1;
    }
    cfg.pin = cfg.cpus >= cfg.threads;
    cfg.yield = !cfg.pin;
    int pairs = cfg.threads / 2;
    printf("LITMUS-CONFIG threads=%d cpus=%d pinned=%s iters=%ld count=%ld\n", cfg.threads,
           cfg.cpus, cfg.pin ? "yes" : "no", cfg.iters, cfg.count);
    fflush(stdout);

    char failed[64] = "";
    for (int k = 0; k < NTESTS; k++) {
        if (any && !want[k])
            continue;
        int ok;
        switch (k) {
        case 0: ok = report_pair_test("mp", &cfg, pairs, cfg.iters, mp_run); break;
        case 1: ok = report_pair_test("sb", &cfg, pairs, cfg.iters, sb_run); break;
        case 2: ok = report_counter("lrsc", &cfg, lrsc_body); break;
        case 3: ok = report_counter("amo", &cfg, amo_body); break;
        case 4: ok = report_counter("lock", &cfg, lock_body); break;
        default: ok = report_pair_test("smc", &cfg, pairs, SMC_ITERS(&cfg), smc_run); break;
        }
        if (!ok) {
            if (*failed)
                strcat(failed, ",");
            strcat(failed, test_names[k]);
        }
    }
    printf("LITMUS-RESULT %s%s\n", *failed ? "FAIL " : "ok", failed);
    fflush(stdout);
    return *failed ? 1 : 0;
}
