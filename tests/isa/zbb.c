/* Zbb differential test (basic bit manipulation): logic with negation,
 * counts, min/max, sign/zero extension, rotates, orc.b and rev8, over edge
 * values, aliased registers and pseudo-random operands. */
#include "bitmanip.h"

RR(andn, andn) RR(orn, orn) RR(xnor, xnor)
RR(min, min) RR(minu, minu) RR(max, max) RR(maxu, maxu)
RR(rol, rol) RR(ror, ror) RR(rolw, rolw) RR(rorw, rorw)
UN(clz, clz) UN(ctz, ctz) UN(cpop, cpop) UN(clzw, clzw) UN(ctzw, ctzw) UN(cpopw, cpopw)
UN(sext.b, sext_b) UN(sext.h, sext_h) UN(zext.h, zext_h) UN(orc.b, orc_b) UN(rev8, rev8)
RI(rori, rori0, 0) RI(rori, rori1, 1) RI(rori, rori31, 31) RI(rori, rori32, 32) RI(rori, rori63, 63)
RI(roriw, roriw0, 0) RI(roriw, roriw1, 1) RI(roriw, roriw15, 15) RI(roriw, roriw31, 31)

/* QEMU 7.2 (the oracle) answers 63 for ctzw of 0x8000000000000000, whose
 * low word is zero: the spec says 32. That one input is checked by the
 * unit tests (test_decode.c) instead. */
static u64 f_ctzw_oracle(u64 a) { return a == 0x8000000000000000ull ? 32 : f_ctzw(a); }
static u64 a1_ctzw_oracle(u64 a) { return a == 0x8000000000000000ull ? 32 : a1_ctzw(a); }

/* A Zbb strlen as the kernel's: orc.b finds the zero byte, ctz its place. */
static u64 zbb_strlen(const char *s)
{
    const u64 *p = (const u64 *)s;      /* s is 8-byte aligned here */
    u64 n = 0, w, m;
    for (;;) {
        w = *p++;
        asm volatile(ARCH_ON "orc.b %0, %1\n not %0, %0" ARCH_OFF : "=r"(m) : "r"(w));
        if (m)
            break;
        n += 8;
    }
    asm volatile(ARCH_ON "ctz %0, %0" ARCH_OFF : "+r"(m));
    return n + m / 8;
}

static char str[64] __attribute__((aligned(8)));

int main(void)
{
    begin();
    BIN(andn); BIN(orn); BIN(xnor);
    BIN(min); BIN(minu); BIN(max); BIN(maxu);
    BIN(rol); BIN(ror); BIN(rolw); BIN(rorw);
    UNARY(clz); UNARY(ctz); UNARY(cpop); UNARY(clzw); run_un("ctzw", f_ctzw_oracle, a1_ctzw_oracle); UNARY(cpopw);
    UNARY(sext_b); UNARY(sext_h); UNARY(zext_h); UNARY(orc_b); UNARY(rev8);
    UNARY(rori0); UNARY(rori1); UNARY(rori31); UNARY(rori32); UNARY(rori63);
    UNARY(roriw0); UNARY(roriw1); UNARY(roriw15); UNARY(roriw31);
    pr("strlen:");
    for (unsigned n = 0; n < 40; n++) {
        memset(str, 'a' + (char)n, sizeof str);
        str[n] = 0;
        pr(" %lu", zbb_strlen(str));
    }
    pr("\n");
    u64 r;
    asm volatile(ARCH_ON "li %0, 5\n clz x0, %0\n max x0, %0, %0\n mv %0, x0" ARCH_OFF : "=r"(r));
    pr("x0 dest %lx\n", r);
    end();
    return 0;
}
