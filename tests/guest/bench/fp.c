/* fp.c: the fp workload, double-precision kernels: n-body steps (sqrt and
 * divide), an LU factorisation and solve, and a sqrt-heavy norm sum. Prints
 * Mflop/s per kernel and in all (flops counted from the loop shapes) and a checksum. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

#define NB 5            /* bodies */
#define NB_STEPS 160000
#define LU_N 24
#define LU_REPS 4000
#define NORM_N 1024
#define NORM_REPS 3200

static uint32_t lcg_state = 12345;

static double rnd(void)   /* deterministic, in [0, 1) */
{
    lcg_state = lcg_state * 1664525u + 1013904223u;
    return (lcg_state >> 8) / 16777216.0;
}

static uint64_t bits(double d)
{
    uint64_t u;
    memcpy(&u, &d, sizeof(u));
    return u;
}

static uint64_t mix(uint64_t h, double d)
{
    h ^= bits(d);
    h *= 0x100000001b3ull;
    return h ^ (h >> 29);
}

/* ---- n-body: 25 flops per pair, 6 per body position update ---- */
struct body {
    double x[3], v[3], m;
};

static double energy(const struct body *b)
{
    double e = 0;
    for (int i = 0; i < NB; i++) {
        e += 0.5 * b[i].m * (b[i].v[0] * b[i].v[0] + b[i].v[1] * b[i].v[1] + b[i].v[2] * b[i].v[2]);
        for (int j = i + 1; j < NB; j++) {
            double dx = b[i].x[0] - b[j].x[0], dy = b[i].x[1] - b[j].x[1],
                   dz = b[i].x[2] - b[j].x[2];
            e -= b[i].m * b[j].m / sqrt(dx * dx + dy * dy + dz * dz);
        }
    }
    return e;
}

static double nbody(long steps, uint64_t *h)
{
    struct body b[NB];
    b[0] = (struct body){ { 0, 0, 0 }, { 0, 0, 0 }, 40.0 };
    for (int i = 1; i < NB; i++) {
        double r = 1.0 + 1.5 * i + rnd();
        b[i].x[0] = r, b[i].x[1] = 0.1 * rnd(), b[i].x[2] = 0.05 * rnd();
        b[i].v[0] = 0.01 * rnd(), b[i].v[1] = sqrt(40.0 / r), b[i].v[2] = 0.01 * rnd();
        b[i].m = 0.001 + 0.01 * rnd();
    }
    const double dt = 0.001;
    double e0 = energy(b);
    for (long s = 0; s < steps; s++) {
        for (int i = 0; i < NB; i++)
            for (int j = i + 1; j < NB; j++) {
                double dx = b[i].x[0] - b[j].x[0], dy = b[i].x[1] - b[j].x[1],
                       dz = b[i].x[2] - b[j].x[2];
                double d2 = dx * dx + dy * dy + dz * dz;
                double mag = dt / (d2 * sqrt(d2));
                double mi = b[i].m * mag, mj = b[j].m * mag;
                b[i].v[0] -= dx * mj, b[i].v[1] -= dy * mj, b[i].v[2] -= dz * mj;
                b[j].v[0] += dx * mi, b[j].v[1] += dy * mi, b[j].v[2] += dz * mi;
            }
        for (int i = 0; i < NB; i++)
            for (int k = 0; k < 3; k++)
                b[i].x[k] += dt * b[i].v[k];
    }
    double e1 = energy(b);
    *h = mix(mix(*h, e0), e1);
    for (int i = 0; i < NB; i++)
        *h = mix(mix(*h, b[i].x[0]), b[i].v[1]);
    return (double)steps * (25.0 * NB * (NB - 1) / 2 + 6.0 * NB);
}

/* ---- LU (Doolittle, no pivoting: the matrix is diagonally dominant) + solve ---- */
static double lu_src[LU_N][LU_N], lu[LU_N][LU_N], rhs[LU_N], sol[LU_N];

static double lu_solve(long reps, uint64_t *h)
{
    for (int i = 0; i < LU_N; i++) {
        for (int j = 0; j < LU_N; j++)
            lu_src[i][j] = rnd() - 0.5;
        lu_src[i][i] += LU_N;
        rhs[i] = rnd();
    }
    double acc = 0;
    for (long r = 0; r < reps; r++) {
        memcpy(lu, lu_src, sizeof(lu));
        lu[r % LU_N][(r * 7) % LU_N] += 1e-3 * (double)(r % 13);   /* vary the input */
        for (int k = 0; k < LU_N; k++)
            for (int i = k + 1; i < LU_N; i++) {
                double l = lu[i][k] / lu[k][k];
                lu[i][k] = l;
                for (int j = k + 1; j < LU_N; j++)
                    lu[i][j] -= l * lu[k][j];
            }
        for (int i = 0; i < LU_N; i++) {        /* forward: L y = b */
            double s = rhs[i];
            for (int j = 0; j < i; j++)
                s -= lu[i][j] * sol[j];
            sol[i] = s;
        }
        for (int i = LU_N - 1; i >= 0; i--) {   /* back: U x = y */
            double s = sol[i];
            for (int j = i + 1; j < LU_N; j++)
                s -= lu[i][j] * sol[j];
            sol[i] = s / lu[i][i];
        }
        for (int i = 0; i < LU_N; i++)
            acc += sol[i];
    }
    *h = mix(*h, acc);
    double f = 0;
    for (int k = 0; k < LU_N; k++)
        f += (LU_N - 1 - k) * (1.0 + 2.0 * (LU_N - 1 - k));
    f += 2.0 * LU_N * (LU_N - 1) + LU_N;   /* the two triangular solves */
    return (double)reps * (f + LU_N);      /* + the sum */
}

/* ---- Norm sum: sum of sqrt(x*x*scale + y*y), 6 flops per element ---- */
static double vx[NORM_N], vy[NORM_N];

static double norms(long reps, uint64_t *h)
{
    for (int i = 0; i < NORM_N; i++)
        vx[i] = rnd() * 100.0, vy[i] = rnd() - 0.5;
    double total = 0;
    for (long r = 0; r < reps; r++) {
        double s = 0, scale = 1.0 + (double)(r & 7) * 0.125;
        for (int i = 0; i < NORM_N; i++)
            s += sqrt(vx[i] * vx[i] * scale + vy[i] * vy[i]);
        total += s;
    }
    *h = mix(*h, total);
    return (double)reps * NORM_N * 6.0;
}

int bench_fp(int argc, char **argv)
{
    uint64_t h = 0xcbf29ce484222325ull;
    double flops[3], secs[3];
    uint64_t t0 = now_ns();
    flops[0] = nbody(scaled(NB_STEPS, argc, argv), &h);
    secs[0] = secs_since(t0);
    t0 = now_ns();
    flops[1] = lu_solve(scaled(LU_REPS, argc, argv), &h);
    secs[1] = secs_since(t0);
    t0 = now_ns();
    flops[2] = norms(scaled(NORM_REPS, argc, argv), &h);
    secs[2] = secs_since(t0);

    bench_out("fp_nbody_rate", flops[0] / secs[0] / 1e6, "Mflop/s");
    bench_out("fp_lu_rate", flops[1] / secs[1] / 1e6, "Mflop/s");
    bench_out("fp_norm_rate", flops[2] / secs[2] / 1e6, "Mflop/s");
    bench_out("fp_seconds", secs[0] + secs[1] + secs[2], "s");
    bench_out("fp_rate", (flops[0] + flops[1] + flops[2]) / (secs[0] + secs[1] + secs[2]) / 1e6,
              "Mflop/s");
    bench_hex("fp_checksum", h);
    return 0;
}
