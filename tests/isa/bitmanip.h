/* Shared by the Zba/Zbb/Zbc/Zbs ISA tests: operand values, and macros that
 * wrap one instruction in a function and run it over every operand (pair),
 * with register aliasing and a hash over pseudo-random operands. */
#ifndef ISA_BITMANIP_H
#define ISA_BITMANIP_H
#include "rt.h"

#define ARCH_ON  ".option push\n.option arch, +zba, +zbb, +zbc, +zbs\n"
#define ARCH_OFF "\n.option pop"

static const u64 V[] = {
    0, 1, 2, 31, 32, 63, 64, 65, 0xff, 0x8000, 0x7fffffff, 0x80000000,
    0xffffffff, 0x100000000, 0x7fffffffffffffff, 0x8000000000000000,
    0xffffffffffffffff, 0xfffffffe, 0x123456789abcdef0, 0xfedcba9876543211,
    0x00ff00ff00010080, 0xffffffff80000000,
};
#define NV NELEM(V)

typedef u64 (*bin_fn)(u64, u64);
typedef u64 (*un_fn)(u64);

/* f_op(a, b) = op a, b; plus the aliasing forms rd=rs1, rd=rs2, rs1=rs2. */
#define RR(op, name)                                                            \
    static u64 f_##name(u64 a, u64 b) { u64 r; asm volatile(ARCH_ON #op " %0, %1, %2" ARCH_OFF : "=r"(r) : "r"(a), "r"(b)); return r; } \
    static u64 a1_##name(u64 a, u64 b) { asm volatile(ARCH_ON #op " %0, %0, %1" ARCH_OFF : "+r"(a) : "r"(b)); return a; } \
    static u64 a2_##name(u64 a, u64 b) { asm volatile(ARCH_ON #op " %0, %1, %0" ARCH_OFF : "+r"(b) : "r"(a)); return b; } \
    static u64 a3_##name(u64 a, u64 b) { (void)b; u64 r; asm volatile(ARCH_ON #op " %0, %1, %1" ARCH_OFF : "=r"(r) : "r"(a)); return r; }
#define UN(op, name)                                                            \
    static u64 f_##name(u64 a) { u64 r; asm volatile(ARCH_ON #op " %0, %1" ARCH_OFF : "=r"(r) : "r"(a)); return r; } \
    static u64 a1_##name(u64 a) { asm volatile(ARCH_ON #op " %0, %0" ARCH_OFF : "+r"(a)); return a; }
#define RI(op, name, imm)                                                       \
    static u64 f_##name(u64 a) { u64 r; asm volatile(ARCH_ON #op " %0, %1, " #imm ARCH_OFF : "=r"(r) : "r"(a)); return r; } \
    static u64 a1_##name(u64 a) { asm volatile(ARCH_ON #op " %0, %0, " #imm ARCH_OFF : "+r"(a)); return a; }

static u64 bm_rng = 0x9e3779b97f4a7c15ull;
static u64 bm_rand(void)
{
    bm_rng ^= bm_rng << 13;
    bm_rng ^= bm_rng >> 7;
    bm_rng ^= bm_rng << 17;
    /* mix in sparse and dense patterns too */
    switch (bm_rng & 7) {
    case 0: return bm_rng & 0xff;
    case 1: return bm_rng | 0xffffffff00000000ull;
    case 2: return bm_rng >> 33;
    default: return bm_rng;
    }
}

/* Every pair from V (one line per first operand), the aliasing forms on
 * the diagonal, and a hash of 2000 pseudo-random pairs. */
static __attribute__((unused)) void run_bin(const char *name, bin_fn f, bin_fn a1, bin_fn a2, bin_fn a3)
{
    for (unsigned i = 0; i < NV; i++) {
        pr("%s %02x:", name, i);
        for (unsigned j = 0; j < NV; j++)
            pr(" %lx", f(V[i], V[j]));
        pr("\n");
    }
    pr("%s alias:", name);
    for (unsigned i = 0; i < NV; i++) {
        u64 b = V[(i + 5) % NV];
        int ok = a1(V[i], b) == f(V[i], b) && a2(V[i], b) == f(V[i], b) && a3(V[i], 0) == f(V[i], V[i]);
        pr("%c", ok ? '.' : 'X');
    }
    u64 h = 0;
    for (int k = 0; k < 2000; k++) {
        u64 a = bm_rand(), b = bm_rand();
        h = (h * 0x100000001b3ull) ^ f(a, b);
    }
    pr(" hash %lx\n", h);
}

static __attribute__((unused)) void run_un(const char *name, un_fn f, un_fn a1)
{
    pr("%s:", name);
    for (unsigned i = 0; i < NV; i++)
        pr(" %lx", f(V[i]));
    int ok = 1;
    for (unsigned i = 0; i < NV; i++)
        ok &= a1(V[i]) == f(V[i]);
    u64 h = 0;
    for (int k = 0; k < 2000; k++)
        h = (h * 0x100000001b3ull) ^ f(bm_rand());
    pr(" alias %s hash %lx\n", ok ? "ok" : "BAD", h);
}

#define BIN(name) run_bin(#name, f_##name, a1_##name, a2_##name, a3_##name)
#define UNARY(name) run_un(#name, f_##name, a1_##name)
#endif
