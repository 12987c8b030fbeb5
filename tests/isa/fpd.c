/* RV64D differential test: the shared sweeps of fp_template.h in double
 * precision, plus fcvt.s.d/fcvt.d.s in every rounding mode, fld/fsd, fmv. */
#define FT "d"
#define FMVF "fmv.d.x"
#define FMVX "fmv.x.d"
#define FX "%016lx"
#define FMASK 0xffffffffffffffffull
#define FUNCT7_CVTF 0x69
#define FUNCT7_ADD 0x01
#define F_ZERO 0x0000000000000000ull
#define F_INF  0x7ff0000000000000ull
#define F_NINF 0xfff0000000000000ull
#define F_QNAN 0x7ff8000000000000ull
#include <stdint.h>
static const uint64_t FULL[] = {
    0x0000000000000000, 0x8000000000000000, 0x3ff0000000000000, 0xbff0000000000000,
    0x3ff8000000000000, 0x4008000000000000, 0x3fb999999999999a, 0xbfd5555555555555,
    0x7fefffffffffffff, 0x0010000000000000, 0x0000000000000001, 0x800fffffffffffff,
    0x7ff0000000000000, 0xfff0000000000000, 0x7ff8000000000000, 0x7ff0000000000001,
    0xfff8000000012345,
};
static const uint64_t RMV[] = {
    0x3ff0000000000000, 0xbff0000000000000, 0x3fb999999999999a, 0xbfd5555555555555,
    0x4008000000000000, 0x7fefffffffffffff, 0x0010000000000000, 0x0000000000000001,
    0x4202a05f20000000, 0x3ff0000000000001,
};
static const uint64_t FMAV[] = {
    0x3ff0000000000000, 0xbff8000000000000, 0x3fb999999999999a, 0x7fefffffffffffff,
    0x0000000000000000, 0x8000000000000000, 0x7ff0000000000000, 0x7ff0000000000001,
};
static const uint64_t FMARM[] = {
    0x3fb999999999999a, 0xbfd5555555555555, 0x4008000000000000, 0x0010000000000000,
    0x7fefffffffffffff,
};
static const uint64_t CVT[] = {
    0x0000000000000000, 0x8000000000000000, 0x3fe0000000000000, 0xbfe0000000000000,
    0x3ff8000000000000, 0xbff8000000000000, 0x4004000000000000, 0xc004000000000000,
    0x3fefffffffffffff, 0xbfefffffffffffff, 0xbff0000000000000, 0x41e0000000000000,
    0x41dfffffffe00000, 0xc1e0000000000000, 0xc1e0000000100000, 0xc1e0000000200000,
    0x41effffffff00000, 0x41efffffffe00000, 0x41f0000000000000, 0x43e0000000000000,
    0xc3e0000000000000, 0x43dfffffffffffff, 0xc3e0000000000001, 0x43f0000000000000,
    0x43efffffffffffff, 0x7fefffffffffffff, 0x7ff0000000000000, 0xfff0000000000000,
    0x7ff8000000000000, 0x7ff0000000000001, 0xfff8000000000000, 0x0000000000000001,
    0x8000000000000001,
};
static const uint64_t INTS[] = {
    0, 1, 0xffffffffffffffff, 0x7fffffff, 0x80000000, 0xffffffff, 0x00ffffff,
    0x01000001, 0x7fffffffffffffff, 0x8000000000000000, 0x123456789abcdef0,
    0xfedcba9876543211, 0x0020000000000001, 0x0020000000000003,
    0x003fffffffffffff, 0x0040000000000005, 0xdeadbeef80000001, 0x00000000fffffffd,
};
#include "fp_template.h"

#define CV(name, body) \
    static u64 name(u64 a) { u64 r; FPASM(body, r, a, 0, 0); return r; }
/* fcvt.s.d: the single result is read back with fmv.x.d to show boxing */
CV(sd_rne, "fcvt.s.d ft3, ft0, rne\n fmv.x.d %0, ft3")
CV(sd_rtz, "fcvt.s.d ft3, ft0, rtz\n fmv.x.d %0, ft3")
CV(sd_rdn, "fcvt.s.d ft3, ft0, rdn\n fmv.x.d %0, ft3")
CV(sd_rup, "fcvt.s.d ft3, ft0, rup\n fmv.x.d %0, ft3")
CV(sd_rmm, "fcvt.s.d ft3, ft0, rmm\n fmv.x.d %0, ft3")
CV(sd_dyn, "fcvt.s.d ft3, ft0, dyn\n fmv.x.d %0, ft3")
/* fcvt.d.s: single input moved in with fmv.w.x (properly boxed) */
#define DS(name, body) \
    static u64 name(u64 a) { u64 r; asm volatile("csrwi fflags, 0\n fmv.w.x ft0, %2\n" body "\n csrrw %1, fflags, zero" \
        : "=&r"(r), "=&r"(g_fl) : "r"(a) : "ft0", "ft3"); return r; }
DS(ds_rne, "fcvt.d.s ft3, ft0\n fmv.x.d %0, ft3")

static void test_sd(void)
{
    static const u64 in[] = {
        0x3ff0000000000000, 0x3fd5555555555555, 0xbfd5555555555555, 0x3fb999999999999a,
        0x47efffffe0000000, /* FLT_MAX exactly */
        0x47efffffefffffff, /* just below FLT_MAX + half ulp */
        0x47effffff0000000, /* FLT_MAX + half ulp: tie */
        0x47f0000000000000, /* 2^128: overflow */
        0xc7f0000000000000, 0x7fefffffffffffff,
        0x3810000000000000, /* FLT_MIN */
        0x380fffffffffffff, /* just below FLT_MIN: tiny, rounds */
        0x36a0000000000000, /* 2^-149: min denormal */
        0x3690000000000000, /* 2^-150: tie between 0 and min denormal */
        0x3698000000000000, /* 1.5 * 2^-150 */
        0xb690000000000000, 0x0000000000000001, 0x8000000000000000,
        0x7ff0000000000000, 0xfff0000000000000, 0x7ff8000000000000,
        0x7ff0000000000001, 0xfff8000000012345, 0x7ff80000deadbeef,
        0x3ff0000010000000, /* 1 + 2^-24: tie */
        0x3ff0000030000000, /* 1 + 3*2^-24: tie, odd */
        0x3ff0000010000001,
    };
    static u64 (*const fns[6])(u64) = { sd_rne, sd_rtz, sd_rdn, sd_rup, sd_rmm, sd_dyn };
    for (int rm = 0; rm < 5; rm++) {
        pr("fcvt.s.d.%s:", rmname[rm]);
        for (unsigned i = 0; i < NELEM(in); i++) {
            u64 r = fns[rm](in[i]);
            pr(" %lx/%02lx", r, g_fl);
            nvals += 2;
        }
        pr("\n");
    }
    for (int frm = 0; frm < 5; frm++) {
        pr("fcvt.s.d.dyn%d:", frm);
        for (unsigned i = 0; i < NELEM(in); i++) {
            csr_write(frm, frm);
            u64 r = fns[5](in[i]);
            pr(" %lx/%02lx", r, g_fl);
            nvals += 2;
        }
        pr("\n");
    }
    csr_write(frm, 0);
    static const u64 sin[] = {
        0x3f800000, 0xbeaaaaab, 0x7f7fffff, 0x00800000, 0x00000001, 0x807fffff,
        0x80000000, 0x7f800000, 0xff800000, 0x7fc00000, 0x7f800001, 0xffc12345,
        0x7fbfffff,
    };
    pr("fcvt.d.s:");
    for (unsigned i = 0; i < NELEM(sin); i++) {
        u64 r = ds_rne(sin[i]);
        pr(" %lx/%02lx", r, g_fl);
        nvals += 2;
    }
    pr("\n");
}

static void test_ldst(void)
{
    static u64 src[8] __attribute__((aligned(16))) = {
        0x7ff0000000000001, 0xfff8000000012345, 0x8000000000000000, 0x1,
        0xffffffff3f800000, 0x000000007fc00000,
    };
    static uint8_t dst[48] __attribute__((aligned(16)));
    for (unsigned i = 0; i < 6; i++) {
        u64 v, back, mv, add;
        asm volatile("fld ft0, 0(%4)\n fmv.x.d %0, ft0\n fsd ft0, 0(%5)\n ld %1, 0(%5)\n"
                     "fmv.d.x ft1, %6\n fmv.x.d %2, ft1\n"
                     "csrwi fflags, 0\n fadd.d ft2, ft0, ft1\n fmv.x.d %3, ft2\n"
                     : "=&r"(v), "=&r"(back), "=&r"(mv), "=&r"(add)
                     : "r"(&src[i]), "r"(dst), "r"(src[i]) : "ft0", "ft1", "ft2", "memory");
        pr("fld/fsd %lx %lx fmv %lx fadd %lx/%02lx\n", v, back, mv, add, csr_swap(fflags, 0));
        nvals += 5;
    }
    for (unsigned o = 1; o < 8; o += 3) {
        u64 v, back;
        memcpy(dst, src, 32);
        asm volatile("fld ft0, 0(%2)\n fmv.x.d %0, ft0\n fsd ft0, 11(%2)\n ld %1, 11(%2)"
                     : "=&r"(v), "=&r"(back) : "r"(dst + o) : "ft0", "memory");
        pr("fld/fsd misaligned +%d %lx %lx\n", o, v, back);
        nvals += 2;
    }
    /* a single-precision result read as double is just a (quiet) NaN bit pattern */
    u64 r;
    asm volatile("li t0, 0x3f800000\n fmv.w.x ft0, t0\n fadd.s ft1, ft0, ft0\n"
                 "csrwi fflags, 0\n fadd.d ft2, ft1, ft1\n fmv.x.d %0, ft2"
                 : "=r"(r) :: "t0", "ft0", "ft1", "ft2");
    pr("single as double: %lx/%02lx\n", r, csr_swap(fflags, 0));
    nvals += 2;
}

int main(void)
{
    begin();
    fp_common();
    test_sd();
    test_ldst();
    pr("fpd: %d values\n", nvals);
    end();
    return 0;
}
