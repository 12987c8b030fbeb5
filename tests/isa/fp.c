/* RV64F differential test: the shared sweeps of fp_template.h in single
 * precision, plus NaN boxing, flw/fsw and fmv. */
#define FT "s"
#define FMVF "fmv.w.x"
#define FMVX "fmv.x.w"
#define FX "%08lx"
#define FMASK 0xffffffffull
#define FUNCT7_CVTF 0x68
#define FUNCT7_ADD 0x00
#define F_ZERO 0x00000000ull
#define F_INF  0x7f800000ull
#define F_NINF 0xff800000ull
#define F_QNAN 0x7fc00000ull
#include <stdint.h>
static const uint64_t FULL[] = {
    0x00000000, 0x80000000, 0x3f800000, 0xbf800000, 0x3fc00000, 0x40400000,
    0x3dcccccd, 0xbeaaaaab, 0x7f7fffff, 0x00800000, 0x00000001, 0x807fffff,
    0x7f800000, 0xff800000, 0x7fc00000, 0x7f800001, 0xffc12345,
};
static const uint64_t RMV[] = {   /* finite values where rounding matters */
    0x3f800000, 0xbf800000, 0x3dcccccd, 0xbeaaaaab, 0x40400000, 0x7f7fffff,
    0x00800000, 0x00000001, 0x501502f9, 0x3f800001,
};
static const uint64_t FMAV[] = {
    0x3f800000, 0xbfc00000, 0x3dcccccd, 0x7f7fffff, 0x00000000, 0x80000000,
    0x7f800000, 0x7f800001,
};
static const uint64_t FMARM[] = {
    0x3dcccccd, 0xbeaaaaab, 0x40400000, 0x00800000, 0x7f7fffff,
};
static const uint64_t CVT[] = {
    0x00000000, 0x80000000, 0x3f000000, 0xbf000000, 0x3fc00000, 0xbfc00000,
    0x40200000, 0xc0200000, 0x3f7fffff, 0xbf7fffff, 0xbf800000, 0x4f000000,
    0xcf000000, 0x4effffff, 0xcf000001, 0x4f800000, 0x4f7fffff, 0x5f000000,
    0xdf000000, 0x5effffff, 0x5f800000, 0x5f7fffff, 0x7f7fffff, 0x7f800000,
    0xff800000, 0x7fc00000, 0x7f800001, 0xffc00000, 0x00000001, 0x80000001,
};
static const uint64_t INTS[] = {
    0, 1, 0xffffffffffffffff, 0x7fffffff, 0x80000000, 0xffffffff, 0x00ffffff,
    0x01000001, 0x01000003, 0x7fffffffffffffff, 0x8000000000000000,
    0x123456789abcdef0, 0xfedcba9876543211, 0x0020000000000001,
    0xdeadbeef80000001, 0x00000000fffffffd,
};
#include "fp_template.h"

/* ---- NaN boxing ---- */
#define ASM_S(body, r, a, b)                                                   \
    asm volatile("csrwi fflags, 0\n fmv.d.x ft0, %2\n fmv.d.x ft1, %3\n"        \
                 body "\n csrrw %1, fflags, zero"                              \
                 : "=&r"(r), "=&r"(g_fl) : "r"(a), "r"(b)                      \
                 : "ft0", "ft1", "ft2", "ft3", "memory")
#define BOX(name, body) \
    static u64 name(u64 a, u64 b) { u64 r; ASM_S(body, r, a, b); return r; }
BOX(bx_add,    "fadd.s ft3, ft0, ft1\n fmv.x.d %0, ft3")
BOX(bx_mvxw,   "fmv.x.w %0, ft0")
BOX(bx_class,  "fclass.s %0, ft0")
BOX(bx_sgnj,   "fsgnj.s ft3, ft0, ft1\n fmv.x.d %0, ft3")
BOX(bx_sgnjn,  "fsgnjn.s ft3, ft0, ft1\n fmv.x.d %0, ft3")
BOX(bx_sgnjx,  "fsgnjx.s ft3, ft0, ft1\n fmv.x.d %0, ft3")
BOX(bx_min,    "fmin.s ft3, ft0, ft1\n fmv.x.d %0, ft3")
BOX(bx_max,    "fmax.s ft3, ft0, ft1\n fmv.x.d %0, ft3")
BOX(bx_feq,    "feq.s %0, ft0, ft1")
BOX(bx_flt,    "flt.s %0, ft0, ft1")
BOX(bx_cvtds,  "fcvt.d.s ft3, ft0\n fmv.x.d %0, ft3")
BOX(bx_cvtws,  "fcvt.w.s %0, ft0, rtz")
BOX(bx_sqrt,   "fsqrt.s ft3, ft0\n fmv.x.d %0, ft3")
BOX(bx_fma,    "fmadd.s ft3, ft1, ft1, ft0\n fmv.x.d %0, ft3")
BOX(bx_fsw,    "addi sp, sp, -16\n sd zero, 0(sp)\n fsw ft0, 0(sp)\n ld %0, 0(sp)\n addi sp, sp, 16")
BOX(bx_mvwx,   "fmv.w.x ft3, %2\n fmv.x.d %0, ft3")
BOX(bx_cvtsl,  "fcvt.s.l ft3, %2\n fmv.x.d %0, ft3")
BOX(bx_cvtsd,  "fcvt.s.d ft3, ft0\n fmv.x.d %0, ft3")
BOX(bx_flw,    "addi sp, sp, -16\n sw %2, 0(sp)\n flw ft3, 0(sp)\n fmv.x.d %0, ft3\n addi sp, sp, 16")

static void test_boxing(void)
{
    static const u64 in[] = {
        0xffffffff3f800000ull,  /* properly boxed 1.0 */
        0x000000003f800000ull,  /* upper half zero: not boxed */
        0xfffffffe3f800000ull,  /* one bit missing */
        0x7fffffffbf800000ull,
        0xffffffff7f800001ull,  /* boxed sNaN */
        0x00000000ff800000ull,  /* unboxed -inf */
    };
    static const struct { const char *name; u64 (*fn)(u64, u64); } ops[] = {
        { "fadd.s", bx_add }, { "fmv.x.w", bx_mvxw }, { "fclass.s", bx_class },
        { "fsgnj.s", bx_sgnj }, { "fsgnjn.s", bx_sgnjn }, { "fsgnjx.s", bx_sgnjx },
        { "fmin.s", bx_min }, { "fmax.s", bx_max }, { "feq.s", bx_feq },
        { "flt.s", bx_flt }, { "fcvt.d.s", bx_cvtds }, { "fcvt.w.s", bx_cvtws },
        { "fsqrt.s", bx_sqrt }, { "fmadd.s", bx_fma }, { "fsw", bx_fsw },
        { "fmv.w.x", bx_mvwx }, { "fcvt.s.l", bx_cvtsl }, { "fcvt.s.d", bx_cvtsd },
        { "flw", bx_flw },
    };
    /* second operand: boxed -2.0 and an unboxed -2.0 */
    static const u64 second[] = { 0xffffffffc0000000ull, 0x00000000c0000000ull };
    for (unsigned k = 0; k < NELEM(ops); k++)
        for (unsigned s = 0; s < NELEM(second); s++) {
            pr("box %s b%d:", ops[k].name, s);
            for (unsigned i = 0; i < NELEM(in); i++) {
                u64 r = ops[k].fn(in[i], second[s]);
                pr(" %lx/%02lx", r, g_fl);
                nvals += 2;
            }
            pr("\n");
        }
}

/* loads and stores move raw bits (no canonicalisation), misaligned too */
static void test_ldst(void)
{
    static u32 src[8] __attribute__((aligned(16))) = {
        0x7f800001, 0xffc12345, 0x80000000, 0x00000001, 0x3f800000, 0x7fc00000,
    };
    static uint8_t dst[32] __attribute__((aligned(16)));
    for (unsigned i = 0; i < 6; i++) {
        u64 boxed, back;
        asm volatile("flw ft0, 0(%2)\n fmv.x.d %0, ft0\n fsw ft0, 0(%3)\n lwu %1, 0(%3)"
                     : "=&r"(boxed), "=&r"(back) : "r"(&src[i]), "r"(dst) : "ft0", "memory");
        pr("flw/fsw %lx %lx\n", boxed, back);
        nvals += 2;
    }
    for (unsigned o = 1; o < 4; o++) {
        u64 v, back;
        memcpy(dst, src, 16);
        asm volatile("flw ft0, 0(%2)\n fmv.x.w %0, ft0\n fsw ft0, 5(%2)\n lwu %1, 5(%2)"
                     : "=&r"(v), "=&r"(back) : "r"(dst + o) : "ft0", "memory");
        pr("flw/fsw misaligned +%d %lx %lx\n", o, v, back);
        nvals += 2;
    }
    /* fmv.x.w sign-extends, fmv.w.x ignores the upper source bits */
    static const u64 mv[] = { 0x80000000, 0x7f800001, 0x123456787fc00001ull, 0xffffffffffffffffull };
    for (unsigned i = 0; i < NELEM(mv); i++) {
        u64 x, d;
        asm volatile("fmv.w.x ft0, %2\n fmv.x.w %0, ft0\n fmv.x.d %1, ft0"
                     : "=&r"(x), "=&r"(d) : "r"(mv[i]) : "ft0");
        pr("fmv %lx -> x.w %lx x.d %lx\n", mv[i], x, d);
        nvals += 2;
    }
}

int main(void)
{
    begin();
    fp_common();
    test_boxing();
    test_ldst();
    pr("fp: %d values\n", nvals);
    end();
    return 0;
}
