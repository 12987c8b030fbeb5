/* Zicond test: czero.eqz and czero.nez over edge values, with aliased
 * registers and x0 operands, and the branchless select they build.
 * QEMU 7.2 (the oracle) predates Zicond: there each instruction traps as
 * illegal and the handler below computes the result the spec defines, so
 * tern's hardware results are compared with that model. */
#include "rt.h"

#define CZERO_EQZ(rd, rs1, rs2) ".insn r 0x33, 5, 7, " rd ", " rs1 ", " rs2 "\n"
#define CZERO_NEZ(rd, rs1, rs2) ".insn r 0x33, 7, 7, " rd ", " rs1 ", " rs2 "\n"

static const u64 V[] = {
    0, 1, 2, 0xff, 0x80000000, 0x100000000, 0x7fffffffffffffff,
    0x8000000000000000, 0xffffffffffffffff, 0x123456789abcdef0,
};
#define NV NELEM(V)

/* The spec's czero.eqz/nez on the trap frame (x0 reads as zero). */
static int model_zicond(struct trap_frame *f)
{
    if (f->scause != 2)
        return 0;
    u32 insn = *(volatile u32 *)f->sepc;
    u32 kind = insn & 0xfe00707f;
    if (kind != 0x0e005033 && kind != 0x0e007033)
        return 0;
    unsigned rd = (insn >> 7) & 31, rs1 = (insn >> 15) & 31, rs2 = (insn >> 20) & 31;
    u64 a = rs1 ? f->x[rs1] : 0, c = rs2 ? f->x[rs2] : 0;
    u64 r = kind == 0x0e005033 ? (c ? a : 0) : (c ? 0 : a);
    if (rd)
        f->x[rd] = r;
    f->sepc += 4;
    return 1;
}

static u64 eqz(u64 a, u64 c) { u64 r; asm volatile(CZERO_EQZ("%0", "%1", "%2") : "=r"(r) : "r"(a), "r"(c)); return r; }
static u64 nez(u64 a, u64 c) { u64 r; asm volatile(CZERO_NEZ("%0", "%1", "%2") : "=r"(r) : "r"(a), "r"(c)); return r; }
static u64 eqz_rd_rs1(u64 a, u64 c) { asm volatile(CZERO_EQZ("%0", "%0", "%1") : "+r"(a) : "r"(c)); return a; }
static u64 nez_rd_rs2(u64 a, u64 c) { asm volatile(CZERO_NEZ("%0", "%1", "%0") : "+r"(c) : "r"(a)); return c; }
static u64 eqz_same(u64 a) { u64 r; asm volatile(CZERO_EQZ("%0", "%1", "%1") : "=r"(r) : "r"(a)); return r; }
static u64 nez_same(u64 a) { u64 r; asm volatile(CZERO_NEZ("%0", "%1", "%1") : "=r"(r) : "r"(a)); return r; }
/* c ? a : b without a branch */
static u64 select(u64 c, u64 a, u64 b)
{
    u64 t, u;
    asm volatile(CZERO_EQZ("%0", "%2", "%4") CZERO_NEZ("%1", "%3", "%4") "or %0, %0, %1"
                 : "=&r"(t), "=&r"(u) : "r"(a), "r"(b), "r"(c));
    return t;
}

int main(void)
{
    begin();
    trap_hook = model_zicond;
    for (unsigned i = 0; i < NV; i++) {
        pr("eqz %02x:", i);
        for (unsigned j = 0; j < NV; j++)
            pr(" %lx", eqz(V[i], V[j]));
        pr("\nnez %02x:", i);
        for (unsigned j = 0; j < NV; j++)
            pr(" %lx", nez(V[i], V[j]));
        pr("\nalias %02x: %lx %lx %lx %lx %lx %lx\n", i, eqz_rd_rs1(V[i], V[(i + 3) % NV]),
           nez_rd_rs2(V[i], V[(i + 3) % NV]), eqz_rd_rs1(V[i], 0), nez_rd_rs2(V[i], 0),
           eqz_same(V[i]), nez_same(V[i]));
    }
    u64 r1, r2;
    asm volatile("li %0, 7\n" CZERO_EQZ("%0", "%0", "x0") "li %1, 7\n" CZERO_NEZ("%1", "%1", "x0")
                 : "=&r"(r1), "=&r"(r2));
    pr("x0 cond: eqz %lx nez %lx\n", r1, r2);
    asm volatile("li %0, 7\n" CZERO_NEZ("x0", "%0", "x0") "mv %0, x0" : "=&r"(r1));
    pr("x0 dest %lx\n", r1);
    u64 h = 0;
    for (u64 k = 0; k < 300; k++)
        h = h * 31 + select(k % 3, k * 0x9e3779b97f4a7c15ull, ~k);
    pr("select hash %lx\n", h);
    trap_hook = 0;
    end();
    return 0;
}
