/* Unit tests for the F/D execution unit (fpu_exec): rounding modes incl. RMM
 * ties, NaN boxing and canonical NaNs, flags, min/max, compares, conversions
 * with saturation, fclass, fused multiply-add and illegal encodings. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>
#include "cpu/fpu.h"
#include "cpu/hart.h"

enum { RNE = 0, RTZ = 1, RDN = 2, RUP = 3, RMM = 4, DYN = 7 };
enum { S = 0, D = 1 };

/* OP-FP funct5 values */
enum {
	F_ADD = 0x00, F_SUB = 0x01, F_MUL = 0x02, F_DIV = 0x03, F_SGNJ = 0x04,
	F_MINMAX = 0x05, F_CVTFF = 0x08, F_SQRT = 0x0b, F_CMP = 0x14,
	F_CVTIF = 0x18, F_CVTFI = 0x1a, F_MVX = 0x1c, F_MVF = 0x1e,
};
enum { OPC_FMADD = 0x43, OPC_FMSUB = 0x47, OPC_FNMSUB = 0x4b, OPC_FNMADD = 0x4f };

#define NAN_S   0xffffffff7fc00000ull   /* boxed canonical single NaN */
#define NAN_D   0x7ff8000000000000ull
#define BOXED(x) (0xffffffff00000000ull | (uint32_t)(x))

static struct hart hart_buf;

static struct hart *fresh(void)
{
	memset(&hart_buf, 0, sizeof(hart_buf));
	return &hart_buf;
}

static uint32_t op_fp(unsigned f5, unsigned fmt, unsigned rs2, unsigned rs1,
		      unsigned rm, unsigned rd)
{
	return (f5 << 27) | (fmt << 25) | (rs2 << 20) | (rs1 << 15) | (rm << 12) |
	       (rd << 7) | 0x53;
}

static uint32_t op_r4(unsigned opc, unsigned rs3, unsigned fmt, unsigned rs2,
		      unsigned rs1, unsigned rm, unsigned rd)
{
	return (rs3 << 27) | (fmt << 25) | (rs2 << 20) | (rs1 << 15) | (rm << 12) |
	       (rd << 7) | opc;
}

/* Run a two-operand OP-FP instruction f3 = f1 op f2, fresh state. Returns
 * the raw result register; *fl receives fflags. */
static uint64_t run2(unsigned f5, unsigned fmt, unsigned rm, uint64_t a, uint64_t b,
		     uint32_t *fl)
{
	struct hart *h = fresh();

	h->f[1] = a;
	h->f[2] = b;
	assert_int_equal(fpu_exec(h, op_fp(f5, fmt, 2, 1, rm, 3)), 0);
	*fl = h->fflags;
	return h->f[3];
}

/* Instruction writing x3 from f1 (and f2); rs2 is the field value. */
static uint64_t runx(unsigned f5, unsigned fmt, unsigned rs2, unsigned rm, uint64_t a,
		     uint64_t b, uint32_t *fl)
{
	struct hart *h = fresh();

	h->f[1] = a;
	h->f[2] = b;
	h->x[3] = 0xdeadbeef;
	assert_int_equal(fpu_exec(h, op_fp(f5, fmt, rs2 ? rs2 : (f5 == F_CMP || f5 == F_MINMAX ? 2 : 0), 1, rm, 3)), 0);
	*fl = h->fflags;
	return h->x[3];
}

/* fcvt.fmt.{w,wu,l,lu} from x1 */
static uint64_t cvt_i2f(unsigned fmt, unsigned kind, unsigned rm, uint64_t x, uint32_t *fl)
{
	struct hart *h = fresh();

	h->x[1] = x;
	assert_int_equal(fpu_exec(h, op_fp(F_CVTFI, fmt, kind, 1, rm, 3)), 0);
	*fl = h->fflags;
	return h->f[3];
}

static uint64_t cvt_f2i(unsigned fmt, unsigned kind, unsigned rm, uint64_t f, uint32_t *fl)
{
	struct hart *h = fresh();

	h->f[1] = f;
	assert_int_equal(fpu_exec(h, op_fp(F_CVTIF, fmt, kind, 1, rm, 3)), 0);
	*fl = h->fflags;
	return h->x[3];
}

static uint64_t fma4(unsigned opc, unsigned fmt, unsigned rm, uint64_t a, uint64_t b,
		     uint64_t c, uint32_t *fl)
{
	struct hart *h = fresh();

	h->f[1] = a;
	h->f[2] = b;
	h->f[4] = c;
	assert_int_equal(fpu_exec(h, op_r4(opc, 4, fmt, 2, 1, rm, 3)), 0);
	*fl = h->fflags;
	return h->f[3];
}

static uint64_t dbl(double d)
{
	uint64_t v;

	memcpy(&v, &d, 8);
	return v;
}

static uint64_t sgl(float f)
{
	uint32_t v;

	memcpy(&v, &f, 4);
	return BOXED(v);
}

#define ONE_D   0x3ff0000000000000ull
#define THREE_D 0x4008000000000000ull

static void test_div_rounding_modes(void **state)
{
	uint32_t fl;

	/* 1/3 double */
	assert_int_equal(run2(F_DIV, D, RNE, ONE_D, THREE_D, &fl), 0x3fd5555555555555ull);
	assert_int_equal(fl, FFLAG_NX);
	assert_int_equal(run2(F_DIV, D, RTZ, ONE_D, THREE_D, &fl), 0x3fd5555555555555ull);
	assert_int_equal(run2(F_DIV, D, RDN, ONE_D, THREE_D, &fl), 0x3fd5555555555555ull);
	assert_int_equal(run2(F_DIV, D, RUP, ONE_D, THREE_D, &fl), 0x3fd5555555555556ull);
	assert_int_equal(run2(F_DIV, D, RMM, ONE_D, THREE_D, &fl), 0x3fd5555555555555ull);
	assert_int_equal(fl, FFLAG_NX);
	/* -1/3 */
	assert_int_equal(run2(F_DIV, D, RDN, ONE_D | (1ull << 63), THREE_D, &fl), 0xbfd5555555555556ull);
	assert_int_equal(run2(F_DIV, D, RUP, ONE_D | (1ull << 63), THREE_D, &fl), 0xbfd5555555555555ull);
	assert_int_equal(run2(F_DIV, D, RTZ, ONE_D | (1ull << 63), THREE_D, &fl), 0xbfd5555555555555ull);
	/* 1/3 single */
	assert_int_equal(run2(F_DIV, S, RNE, sgl(1), sgl(3), &fl), BOXED(0x3eaaaaab));
	assert_int_equal(fl, FFLAG_NX);
	assert_int_equal(run2(F_DIV, S, RTZ, sgl(1), sgl(3), &fl), BOXED(0x3eaaaaaa));
	assert_int_equal(run2(F_DIV, S, RDN, sgl(1), sgl(3), &fl), BOXED(0x3eaaaaaa));
	assert_int_equal(run2(F_DIV, S, RUP, sgl(1), sgl(3), &fl), BOXED(0x3eaaaaab));
	assert_int_equal(run2(F_DIV, S, RMM, sgl(1), sgl(3), &fl), BOXED(0x3eaaaaab));
	/* exact: no flags */
	assert_int_equal(run2(F_DIV, D, RUP, THREE_D, THREE_D, &fl), ONE_D);
	assert_int_equal(fl, 0);
	/* host rounding mode is restored: a later RNE op still rounds to nearest */
	assert_int_equal(run2(F_DIV, D, RNE, 0x4000000000000000ull, THREE_D, &fl), 0x3fe5555555555555ull);
}

static void test_add_ties_rmm(void **state)
{
	uint32_t fl;
	uint64_t half_ulp = 0x3ca0000000000000ull;      /* 2^-53 */

	/* 1 + 2^-53 is an exact tie between 1 and 1+2^-52 */
	assert_int_equal(run2(F_ADD, D, RNE, ONE_D, half_ulp, &fl), ONE_D);
	assert_int_equal(fl, FFLAG_NX);
	assert_int_equal(run2(F_ADD, D, RMM, ONE_D, half_ulp, &fl), ONE_D + 1);
	assert_int_equal(fl, FFLAG_NX);
	assert_int_equal(run2(F_ADD, D, RTZ, ONE_D, half_ulp, &fl), ONE_D);
	assert_int_equal(run2(F_ADD, D, RUP, ONE_D, half_ulp, &fl), ONE_D + 1);
	assert_int_equal(run2(F_ADD, D, RDN, ONE_D, half_ulp, &fl), ONE_D);
	/* negative tie: away from zero */
	assert_int_equal(run2(F_SUB, D, RMM, ONE_D | (1ull << 63), half_ulp, &fl),
			 (ONE_D + 1) | (1ull << 63));
	assert_int_equal(run2(F_SUB, D, RNE, ONE_D | (1ull << 63), half_ulp, &fl),
			 ONE_D | (1ull << 63));
	/* odd tie: RNE and RMM agree */
	assert_int_equal(run2(F_ADD, D, RNE, ONE_D + 1, half_ulp, &fl), ONE_D + 2);
	assert_int_equal(run2(F_ADD, D, RMM, ONE_D + 1, half_ulp, &fl), ONE_D + 2);
	/* not a tie (just under): RMM rounds down */
	assert_int_equal(run2(F_ADD, D, RMM, ONE_D, 0x3c9fffffffffffffull, &fl), ONE_D);
	assert_int_equal(fl, FFLAG_NX);
	/* single: 1 + 2^-24 */
	assert_int_equal(run2(F_ADD, S, RNE, sgl(1), BOXED(0x33800000), &fl), BOXED(0x3f800000));
	assert_int_equal(run2(F_ADD, S, RMM, sgl(1), BOXED(0x33800000), &fl), BOXED(0x3f800001));
	assert_int_equal(fl, FFLAG_NX);
	/* multiply tie: (1 + 3*2^-52) * 1.5 = 1.5 + 2^-50 + 2^-53 */
	assert_int_equal(run2(F_MUL, D, RNE, ONE_D + 3, 0x3ff8000000000000ull, &fl), 0x3ff8000000000004ull);
	assert_int_equal(run2(F_MUL, D, RMM, ONE_D + 3, 0x3ff8000000000000ull, &fl), 0x3ff8000000000005ull);
	/* underflow tie: min subnormal * 0.5 */
	assert_int_equal(run2(F_MUL, D, RNE, 1, 0x3fe0000000000000ull, &fl), 0);
	assert_int_equal(fl, FFLAG_UF | FFLAG_NX);
	assert_int_equal(run2(F_MUL, D, RMM, 1, 0x3fe0000000000000ull, &fl), 1);
	assert_int_equal(fl, FFLAG_UF | FFLAG_NX);
	/* sqrt(2) in each mode */
	{
		struct hart *h;
		static const uint64_t want[5] = { 0x3ff6a09e667f3bcdull, 0x3ff6a09e667f3bccull,
						  0x3ff6a09e667f3bccull, 0x3ff6a09e667f3bcdull,
						  0x3ff6a09e667f3bcdull };
		for (unsigned rm = 0; rm < 5; rm++) {
			h = fresh();
			h->f[1] = 0x4000000000000000ull;
			assert_int_equal(fpu_exec(h, op_fp(F_SQRT, D, 0, 1, rm, 2)), 0);
			assert_int_equal(h->f[2], want[rm]);
			assert_int_equal(h->fflags, FFLAG_NX);
		}
	}
	/* exact zero sum: +0, except -0 in RDN */
	assert_int_equal(run2(F_SUB, D, RNE, ONE_D, ONE_D, &fl), 0);
	assert_int_equal(fl, 0);
	assert_int_equal(run2(F_SUB, D, RMM, ONE_D, ONE_D, &fl), 0);
	assert_int_equal(run2(F_SUB, D, RDN, ONE_D, ONE_D, &fl), 1ull << 63);
	assert_int_equal(run2(F_SUB, S, RDN, sgl(1), sgl(1), &fl), BOXED(0x80000000));
}

static void test_fcvt_int_rounding(void **state)
{
	uint32_t fl;
	uint64_t p25 = dbl(2.5), m25 = dbl(-2.5);

	assert_int_equal(cvt_f2i(D, 0, RNE, p25, &fl), 2);
	assert_int_equal(fl, FFLAG_NX);
	assert_int_equal(cvt_f2i(D, 0, RNE, m25, &fl), (uint64_t)-2);
	assert_int_equal(cvt_f2i(D, 0, RNE, dbl(3.5), &fl), 4);
	assert_int_equal(cvt_f2i(D, 0, RMM, p25, &fl), 3);
	assert_int_equal(fl, FFLAG_NX);
	assert_int_equal(cvt_f2i(D, 0, RMM, m25, &fl), (uint64_t)-3);
	assert_int_equal(cvt_f2i(D, 2, RMM, dbl(-0.5), &fl), (uint64_t)-1);
	assert_int_equal(cvt_f2i(D, 2, RMM, dbl(0.49999999999999994), &fl), 0);
	assert_int_equal(fl, FFLAG_NX);
	assert_int_equal(cvt_f2i(D, 0, RTZ, m25, &fl), (uint64_t)-2);
	assert_int_equal(cvt_f2i(D, 0, RDN, p25, &fl), 2);
	assert_int_equal(cvt_f2i(D, 0, RDN, m25, &fl), (uint64_t)-3);
	assert_int_equal(cvt_f2i(D, 0, RUP, p25, &fl), 3);
	assert_int_equal(cvt_f2i(D, 0, RUP, m25, &fl), (uint64_t)-2);
	assert_int_equal(cvt_f2i(S, 2, RMM, sgl(-2.5f), &fl), (uint64_t)-3);
	assert_int_equal(cvt_f2i(S, 3, RMM, sgl(2.5f), &fl), 3);
	/* exact: no flags */
	assert_int_equal(cvt_f2i(D, 2, RNE, dbl(-7.0), &fl), (uint64_t)-7);
	assert_int_equal(fl, 0);
	assert_int_equal(cvt_f2i(D, 0, RNE, 0x8000000000000000ull, &fl), 0);
	assert_int_equal(fl, 0);
	/* 32-bit results are sign-extended, for WU too */
	assert_int_equal(cvt_f2i(S, 0, RNE, sgl(-1.0f), &fl), 0xffffffffffffffffull);
	assert_int_equal(cvt_f2i(D, 1, RNE, dbl(3e9), &fl), 0xffffffffb2d05e00ull);
	assert_int_equal(fl, 0);
	assert_int_equal(cvt_f2i(D, 1, RNE, dbl(5.0), &fl), 5);
}

static void test_fcvt_int_saturation(void **state)
{
	uint32_t fl;
	uint64_t qnan = NAN_D, pinf = 0x7ff0000000000000ull, ninf = 0xfff0000000000000ull;

	/* W */
	assert_int_equal(cvt_f2i(D, 0, RNE, qnan, &fl), 0x7fffffff);
	assert_int_equal(fl, FFLAG_NV);
	assert_int_equal(cvt_f2i(D, 0, RNE, pinf, &fl), 0x7fffffff);
	assert_int_equal(fl, FFLAG_NV);
	assert_int_equal(cvt_f2i(D, 0, RNE, ninf, &fl), 0xffffffff80000000ull);
	assert_int_equal(fl, FFLAG_NV);
	assert_int_equal(cvt_f2i(D, 0, RNE, dbl(2147483648.0), &fl), 0x7fffffff);
	assert_int_equal(fl, FFLAG_NV);
	assert_int_equal(cvt_f2i(D, 0, RNE, dbl(2147483647.4), &fl), 0x7fffffff);
	assert_int_equal(fl, FFLAG_NX);
	assert_int_equal(cvt_f2i(D, 0, RNE, dbl(-2147483648.0), &fl), 0xffffffff80000000ull);
	assert_int_equal(fl, 0);
	assert_int_equal(cvt_f2i(D, 0, RNE, dbl(-2147483649.0), &fl), 0xffffffff80000000ull);
	assert_int_equal(fl, FFLAG_NV);
	assert_int_equal(cvt_f2i(S, 0, RNE, sgl(1e20f), &fl), 0x7fffffff);
	assert_int_equal(fl, FFLAG_NV);
	assert_int_equal(cvt_f2i(S, 0, RNE, BOXED(0x7f800001), &fl), 0x7fffffff);   /* sNaN */
	assert_int_equal(fl, FFLAG_NV);
	/* WU */
	assert_int_equal(cvt_f2i(D, 1, RNE, qnan, &fl), 0xffffffffffffffffull);
	assert_int_equal(fl, FFLAG_NV);
	assert_int_equal(cvt_f2i(D, 1, RNE, pinf, &fl), 0xffffffffffffffffull);
	assert_int_equal(cvt_f2i(D, 1, RNE, ninf, &fl), 0);
	assert_int_equal(fl, FFLAG_NV);
	assert_int_equal(cvt_f2i(D, 1, RNE, dbl(-1.0), &fl), 0);
	assert_int_equal(fl, FFLAG_NV);
	assert_int_equal(cvt_f2i(D, 1, RNE, dbl(-0.5), &fl), 0);
	assert_int_equal(fl, FFLAG_NX);
	assert_int_equal(cvt_f2i(D, 1, RTZ, dbl(-0.9), &fl), 0);
	assert_int_equal(fl, FFLAG_NX);
	assert_int_equal(cvt_f2i(D, 1, RDN, dbl(-0.5), &fl), 0);     /* rounds to -1 */
	assert_int_equal(fl, FFLAG_NV);
	assert_int_equal(cvt_f2i(D, 1, RNE, dbl(4294967296.0), &fl), 0xffffffffffffffffull);
	assert_int_equal(fl, FFLAG_NV);
	/* L / LU */
	assert_int_equal(cvt_f2i(D, 2, RNE, qnan, &fl), 0x7fffffffffffffffull);
	assert_int_equal(fl, FFLAG_NV);
	assert_int_equal(cvt_f2i(D, 2, RNE, dbl(9223372036854775808.0), &fl), 0x7fffffffffffffffull);
	assert_int_equal(fl, FFLAG_NV);
	assert_int_equal(cvt_f2i(D, 2, RNE, dbl(-9223372036854775808.0), &fl), 0x8000000000000000ull);
	assert_int_equal(fl, 0);
	assert_int_equal(cvt_f2i(D, 2, RNE, ninf, &fl), 0x8000000000000000ull);
	assert_int_equal(fl, FFLAG_NV);
	assert_int_equal(cvt_f2i(D, 3, RNE, dbl(18446744073709551616.0), &fl), 0xffffffffffffffffull);
	assert_int_equal(fl, FFLAG_NV);
	assert_int_equal(cvt_f2i(D, 3, RNE, dbl(18446744073709549568.0), &fl), 0xfffffffffffff800ull);
	assert_int_equal(fl, 0);
	assert_int_equal(cvt_f2i(D, 3, RNE, ninf, &fl), 0);
	assert_int_equal(fl, FFLAG_NV);
	assert_int_equal(cvt_f2i(S, 3, RNE, BOXED(0xffc00000), &fl), 0xffffffffffffffffull);
	assert_int_equal(fl, FFLAG_NV);
	/* improperly boxed single reads as NaN */
	assert_int_equal(cvt_f2i(S, 0, RNE, 0x3f800000, &fl), 0x7fffffff);
	assert_int_equal(fl, FFLAG_NV);
}

static void test_dyn_and_illegal_rm(void **state)
{
	struct hart *h = fresh(), copy;

	h->f[1] = ONE_D;
	h->f[2] = THREE_D;
	h->frm = RUP;
	assert_int_equal(fpu_exec(h, op_fp(F_DIV, D, 2, 1, DYN, 3)), 0);
	assert_int_equal(h->f[3], 0x3fd5555555555556ull);
	h->frm = RMM;
	assert_int_equal(fpu_exec(h, op_fp(F_CVTIF, D, 0, 4, DYN, 5)), 0);    /* fcvt.w.d of 0 */
	h->f[4] = dbl(2.5);
	assert_int_equal(fpu_exec(h, op_fp(F_CVTIF, D, 0, 4, DYN, 5)), 0);
	assert_int_equal(h->x[5], 3);

	for (unsigned frm = 5; frm <= 7; frm++) {
		h->frm = frm;
		h->fflags = 0;
		h->f[3] = 0x1234;
		memcpy(&copy, h, sizeof(copy));
		assert_int_equal(fpu_exec(h, op_fp(F_DIV, D, 2, 1, DYN, 3)), -1);
		assert_int_equal(fpu_exec(h, op_r4(OPC_FMADD, 1, D, 2, 1, DYN, 3)), -1);
		assert_int_equal(fpu_exec(h, op_fp(F_CVTIF, D, 0, 1, DYN, 3)), -1);
		assert_int_equal(fpu_exec(h, op_fp(F_CVTFI, S, 0, 1, DYN, 3)), -1);
		assert_memory_equal(&copy, h, sizeof(copy));
		/* instructions without rounding ignore frm */
		assert_int_equal(fpu_exec(h, op_fp(F_SGNJ, D, 2, 1, 0, 3)), 0);
	}
	h->frm = RNE;
	memcpy(&copy, h, sizeof(copy));
	assert_int_equal(fpu_exec(h, op_fp(F_ADD, D, 2, 1, 5, 3)), -1);
	assert_int_equal(fpu_exec(h, op_fp(F_ADD, S, 2, 1, 6, 3)), -1);
	assert_int_equal(fpu_exec(h, op_fp(F_SQRT, D, 0, 1, 5, 3)), -1);
	assert_int_equal(fpu_exec(h, op_fp(F_CVTFF, D, 0, 1, 6, 3)), -1);
	assert_int_equal(fpu_exec(h, op_r4(OPC_FNMADD, 1, S, 2, 1, 5, 3)), -1);
	assert_memory_equal(&copy, h, sizeof(copy));
}

static void test_illegal_encodings(void **state)
{
	struct hart *h = fresh(), copy;
	static const uint32_t bad[] = {
		0x53 | (F_ADD << 27) | (2u << 25),              /* fmt H */
		0x53 | (F_ADD << 27) | (3u << 25),              /* fmt Q */
		0x43 | (2u << 25),                              /* fmadd.h */
		0x4f | (3u << 25),                              /* fnmadd.q */
		0x53 | (0x06u << 27),                           /* unused funct5 */
		0x53 | (0x1fu << 27),
		0x53 | (F_SGNJ << 27) | (3u << 12),             /* fsgnj rm=3 */
		0x53 | (F_MINMAX << 27) | (2u << 12),           /* fmin rm=2 */
		0x53 | (F_CMP << 27) | (3u << 12),              /* fcmp rm=3 */
		0x53 | (F_SQRT << 27) | (1u << 20),             /* fsqrt rs2=1 */
		0x53 | (F_CVTFF << 27) | (0u << 25) | (0u << 20),   /* fcvt.s.s */
		0x53 | (F_CVTFF << 27) | (1u << 25) | (1u << 20),   /* fcvt.d.d */
		0x53 | (F_CVTFF << 27) | (1u << 25) | (2u << 20),   /* fcvt.d.h */
		0x53 | (F_CVTIF << 27) | (4u << 20),            /* fcvt.?.s rs2=4 */
		0x53 | (F_CVTFI << 27) | (1u << 25) | (8u << 20),
		0x53 | (F_MVX << 27) | (2u << 12),              /* fmv.x.w rm=2 */
		0x53 | (F_MVX << 27) | (1u << 20),              /* fmv.x.w rs2=1 */
		0x53 | (F_MVX << 27) | (1u << 12) | (1u << 20), /* fclass rs2=1 */
		0x53 | (F_MVF << 27) | (1u << 12),              /* fmv.w.x rm=1 */
		0x53 | (F_MVF << 27) | (1u << 20),              /* fli (Zfa) */
		0x13,                                           /* not an FP opcode */
	};

	for (int i = 0; i < 32; i++) {
		h->f[i] = 0x3ff0000000000000ull + i;
		h->x[i] = i ? 100 + i : 0;
	}
	memcpy(&copy, h, sizeof(copy));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint32_t insn = bad[i] | (1u << 7) | (2u << 15);

		if (fpu_exec(h, insn) != -1)
			fail_msg("insn %08x accepted", insn);
	}
	assert_memory_equal(&copy, h, sizeof(copy));
}

static void test_nan_boxing(void **state)
{
	struct hart *h;
	uint32_t fl;

	/* improperly boxed operand reads as canonical NaN; qNaN: no NV */
	assert_int_equal(run2(F_ADD, S, RNE, 0x000000003f800000ull, sgl(1), &fl), NAN_S);
	assert_int_equal(fl, 0);
	assert_int_equal(run2(F_ADD, S, RNE, sgl(1), 0xfffffffe3f800000ull, &fl), NAN_S);
	/* results are boxed */
	assert_int_equal(run2(F_ADD, S, RNE, sgl(1), sgl(2), &fl), BOXED(0x40400000));
	assert_int_equal(fl, 0);
	/* fsgnj on an unboxed input works on the canonical NaN */
	assert_int_equal(run2(F_SGNJ, S, 0, 0x3f800000ull, sgl(-1), &fl), BOXED(0xffc00000));
	assert_int_equal(run2(F_SGNJ, S, 1, 0x3f800000ull, 0x3f800000ull, &fl), BOXED(0xffc00000));
	/* unboxed sign source too: canonical NaN is positive */
	assert_int_equal(run2(F_SGNJ, S, 0, sgl(-2), 0xbf800000ull, &fl), sgl(2));
	/* fclass of an unboxed value: quiet NaN */
	assert_int_equal(runx(F_MVX, S, 0, 1, 0x00000000ff800000ull, 0, &fl), 1u << 9);
	/* fmv.x.w does not check boxing; sign-extends */
	assert_int_equal(runx(F_MVX, S, 0, 0, 0x1234567880000001ull, 0, &fl), 0xffffffff80000001ull);
	assert_int_equal(runx(F_MVX, S, 0, 0, 0xffffffff7fffffffull, 0, &fl), 0x7fffffffull);
	/* fmv.w.x boxes */
	h = fresh();
	h->x[1] = 0x1234567880000001ull;
	assert_int_equal(fpu_exec(h, op_fp(F_MVF, S, 0, 1, 0, 2)), 0);
	assert_int_equal(h->f[2], 0xffffffff80000001ull);
	/* fmv.d.x / fmv.x.d raw */
	assert_int_equal(fpu_exec(h, op_fp(F_MVF, D, 0, 1, 0, 3)), 0);
	assert_int_equal(h->f[3], 0x1234567880000001ull);
	h->f[4] = 0x7ff0000000000001ull;
	assert_int_equal(fpu_exec(h, op_fp(F_MVX, D, 0, 4, 0, 5)), 0);
	assert_int_equal(h->x[5], 0x7ff0000000000001ull);
	assert_int_equal(h->fflags, 0);
	/* fcvt.d.s of an unboxed single -> canonical double NaN, no NV */
	h = fresh();
	h->f[1] = 0x3f800000;
	assert_int_equal(fpu_exec(h, op_fp(F_CVTFF, D, 0, 1, RNE, 2)), 0);
	assert_int_equal(h->f[2], NAN_D);
	assert_int_equal(h->fflags, 0);
	/* an FMA with an unboxed addend */
	assert_int_equal(fma4(OPC_FMADD, S, RNE, sgl(1), sgl(1), 0x40000000, &fl), NAN_S);
}

static void test_canonical_nan_and_snan(void **state)
{
	uint32_t fl;
	uint64_t pinf = 0x7ff0000000000000ull;

	assert_int_equal(run2(F_DIV, D, RNE, 0, 0, &fl), NAN_D);
	assert_int_equal(fl, FFLAG_NV);
	assert_int_equal(run2(F_SUB, D, RNE, pinf, pinf, &fl), NAN_D);
	assert_int_equal(fl, FFLAG_NV);
	assert_int_equal(run2(F_MUL, D, RNE, pinf, 0, &fl), NAN_D);
	assert_int_equal(fl, FFLAG_NV);
	/* payloads are not propagated; quiet NaN input raises nothing */
	assert_int_equal(run2(F_ADD, D, RNE, 0xfff8000000000123ull, ONE_D, &fl), NAN_D);
	assert_int_equal(fl, 0);
	assert_int_equal(run2(F_MUL, S, RUP, BOXED(0xffc00123), sgl(1), &fl), NAN_S);
	assert_int_equal(fl, 0);
	/* signaling NaN input: NV */
	assert_int_equal(run2(F_ADD, D, RNE, 0x7ff0000000000001ull, ONE_D, &fl), NAN_D);
	assert_int_equal(fl, FFLAG_NV);
	assert_int_equal(run2(F_ADD, S, RMM, sgl(1), BOXED(0x7f800001), &fl), NAN_S);
	assert_int_equal(fl, FFLAG_NV);
	assert_int_equal(run2(F_DIV, S, RTZ, BOXED(0xff800001), sgl(1), &fl), NAN_S);
	assert_int_equal(fl, FFLAG_NV);
	/* fsqrt */
	{
		struct hart *h = fresh();

		h->f[1] = dbl(-1.0);
		assert_int_equal(fpu_exec(h, op_fp(F_SQRT, D, 0, 1, RNE, 2)), 0);
		assert_int_equal(h->f[2], NAN_D);
		assert_int_equal(h->fflags, FFLAG_NV);
		h = fresh();
		h->f[1] = sgl(-4.0f);
		assert_int_equal(fpu_exec(h, op_fp(F_SQRT, S, 0, 1, RMM, 2)), 0);
		assert_int_equal(h->f[2], NAN_S);
		assert_int_equal(h->fflags, FFLAG_NV);
		h = fresh();
		h->f[1] = 1ull << 63;
		assert_int_equal(fpu_exec(h, op_fp(F_SQRT, D, 0, 1, RNE, 2)), 0);
		assert_int_equal(h->f[2], 1ull << 63);
		assert_int_equal(h->fflags, 0);
		h = fresh();
		h->f[1] = sgl(16.0f);
		assert_int_equal(fpu_exec(h, op_fp(F_SQRT, S, 0, 1, RNE, 2)), 0);
		assert_int_equal(h->f[2], sgl(4.0f));
		assert_int_equal(h->fflags, 0);
	}
	/* fcvt between formats */
	{
		struct hart *h = fresh();

		h->f[1] = 0x7ff4000000000000ull;        /* sNaN D */
		assert_int_equal(fpu_exec(h, op_fp(F_CVTFF, S, 1, 1, RNE, 2)), 0);
		assert_int_equal(h->f[2], NAN_S);
		assert_int_equal(h->fflags, FFLAG_NV);
		h = fresh();
		h->f[1] = BOXED(0xff800001);            /* sNaN S */
		assert_int_equal(fpu_exec(h, op_fp(F_CVTFF, D, 0, 1, RNE, 2)), 0);
		assert_int_equal(h->f[2], NAN_D);
		assert_int_equal(h->fflags, FFLAG_NV);
		h = fresh();
		h->f[1] = sgl(1.5f);
		assert_int_equal(fpu_exec(h, op_fp(F_CVTFF, D, 0, 1, RNE, 2)), 0);
		assert_int_equal(h->f[2], dbl(1.5));
		assert_int_equal(h->fflags, 0);
		h->f[1] = BOXED(1);                     /* min subnormal S -> exact D */
		assert_int_equal(fpu_exec(h, op_fp(F_CVTFF, D, 0, 1, RNE, 2)), 0);
		assert_int_equal(h->f[2], 0x36a0000000000000ull);
		assert_int_equal(h->fflags, 0);
		h->f[1] = 0x3fd5555555555555ull;        /* 1/3 */
		assert_int_equal(fpu_exec(h, op_fp(F_CVTFF, S, 1, 1, RNE, 2)), 0);
		assert_int_equal(h->f[2], BOXED(0x3eaaaaab));
		assert_int_equal(fpu_exec(h, op_fp(F_CVTFF, S, 1, 1, RTZ, 2)), 0);
		assert_int_equal(h->f[2], BOXED(0x3eaaaaaa));
		assert_int_equal(h->fflags, FFLAG_NX);
		h->fflags = 0;
		h->f[1] = dbl(1e300);
		assert_int_equal(fpu_exec(h, op_fp(F_CVTFF, S, 1, 1, RNE, 2)), 0);
		assert_int_equal(h->f[2], BOXED(0x7f800000));
		assert_int_equal(h->fflags, FFLAG_OF | FFLAG_NX);
		assert_int_equal(fpu_exec(h, op_fp(F_CVTFF, S, 1, 1, RTZ, 2)), 0);
		assert_int_equal(h->f[2], BOXED(0x7f7fffff));
		h->fflags = 0;
		h->f[1] = dbl(1e-50);
		assert_int_equal(fpu_exec(h, op_fp(F_CVTFF, S, 1, 1, RNE, 2)), 0);
		assert_int_equal(h->f[2], BOXED(0));
		assert_int_equal(h->fflags, FFLAG_UF | FFLAG_NX);
		assert_int_equal(fpu_exec(h, op_fp(F_CVTFF, S, 1, 1, RUP, 2)), 0);
		assert_int_equal(h->f[2], BOXED(1));
		h->f[1] = dbl(-0.0);
		assert_int_equal(fpu_exec(h, op_fp(F_CVTFF, S, 1, 1, RNE, 2)), 0);
		assert_int_equal(h->f[2], BOXED(0x80000000));
	}
}

static void test_minmax(void **state)
{
	uint32_t fl;
	uint64_t pz = 0, nz = 1ull << 63, qn = NAN_D, sn = 0x7ff0000000000001ull;

	/* one NaN: the other operand */
	assert_int_equal(run2(F_MINMAX, D, 0, qn, ONE_D, &fl), ONE_D);
	assert_int_equal(fl, 0);
	assert_int_equal(run2(F_MINMAX, D, 1, ONE_D, qn, &fl), ONE_D);
	assert_int_equal(fl, 0);
	/* signaling: same result but NV */
	assert_int_equal(run2(F_MINMAX, D, 0, sn, ONE_D, &fl), ONE_D);
	assert_int_equal(fl, FFLAG_NV);
	assert_int_equal(run2(F_MINMAX, D, 1, ONE_D, sn, &fl), ONE_D);
	assert_int_equal(fl, FFLAG_NV);
	/* both NaN: canonical */
	assert_int_equal(run2(F_MINMAX, D, 0, 0xfff8000000000005ull, qn, &fl), NAN_D);
	assert_int_equal(fl, 0);
	assert_int_equal(run2(F_MINMAX, D, 1, sn, qn, &fl), NAN_D);
	assert_int_equal(fl, FFLAG_NV);
	/* signed zeros */
	assert_int_equal(run2(F_MINMAX, D, 0, pz, nz, &fl), nz);
	assert_int_equal(run2(F_MINMAX, D, 0, nz, pz, &fl), nz);
	assert_int_equal(run2(F_MINMAX, D, 1, pz, nz, &fl), pz);
	assert_int_equal(run2(F_MINMAX, D, 1, nz, pz, &fl), pz);
	assert_int_equal(fl, 0);
	/* ordinary values */
	assert_int_equal(run2(F_MINMAX, D, 0, dbl(-1), dbl(2), &fl), dbl(-1));
	assert_int_equal(run2(F_MINMAX, D, 1, dbl(-1), dbl(2), &fl), dbl(2));
	assert_int_equal(run2(F_MINMAX, D, 0, dbl(-1), dbl(-3), &fl), dbl(-3));
	assert_int_equal(run2(F_MINMAX, D, 1, 0xfff0000000000000ull, dbl(-1e300), &fl), dbl(-1e300));
	/* single */
	assert_int_equal(run2(F_MINMAX, S, 0, sgl(0.0f), sgl(-0.0f), &fl), BOXED(0x80000000));
	assert_int_equal(run2(F_MINMAX, S, 1, sgl(-0.0f), sgl(0.0f), &fl), BOXED(0));
	assert_int_equal(run2(F_MINMAX, S, 0, BOXED(0x7fa00000), sgl(3), &fl), sgl(3));
	assert_int_equal(fl, FFLAG_NV);
	assert_int_equal(run2(F_MINMAX, S, 1, BOXED(0x7fc00001), BOXED(0xffc00000), &fl), NAN_S);
	assert_int_equal(run2(F_MINMAX, S, 1, 0x40400000, sgl(-5), &fl), sgl(-5));  /* unboxed = NaN */
	assert_int_equal(run2(F_MINMAX, S, 0, sgl(2), sgl(-5), &fl), sgl(-5));
}

static void test_compare(void **state)
{
	struct hart *h;
	uint32_t fl;
	uint64_t pz = 0, nz = 1ull << 63, qn = NAN_D, sn = 0x7ff0000000000001ull;

	/* f3: 2 FEQ, 1 FLT, 0 FLE */
	assert_int_equal(runx(F_CMP, D, 0, 2, qn, ONE_D, &fl), 0);
	assert_int_equal(fl, 0);
	assert_int_equal(runx(F_CMP, D, 0, 2, ONE_D, sn, &fl), 0);
	assert_int_equal(fl, FFLAG_NV);
	assert_int_equal(runx(F_CMP, D, 0, 1, qn, ONE_D, &fl), 0);
	assert_int_equal(fl, FFLAG_NV);
	assert_int_equal(runx(F_CMP, D, 0, 0, ONE_D, qn, &fl), 0);
	assert_int_equal(fl, FFLAG_NV);
	assert_int_equal(runx(F_CMP, D, 0, 2, nz, pz, &fl), 1);
	assert_int_equal(runx(F_CMP, D, 0, 1, nz, pz, &fl), 0);
	assert_int_equal(runx(F_CMP, D, 0, 0, pz, nz, &fl), 1);
	assert_int_equal(fl, 0);
	assert_int_equal(runx(F_CMP, D, 0, 1, dbl(1), dbl(2), &fl), 1);
	assert_int_equal(runx(F_CMP, D, 0, 1, dbl(2), dbl(1), &fl), 0);
	assert_int_equal(runx(F_CMP, D, 0, 1, dbl(-2), dbl(-1), &fl), 1);
	assert_int_equal(runx(F_CMP, D, 0, 1, dbl(-1), dbl(-1), &fl), 0);
	assert_int_equal(runx(F_CMP, D, 0, 0, dbl(-1), dbl(-1), &fl), 1);
	assert_int_equal(runx(F_CMP, D, 0, 0, dbl(-1), dbl(-2), &fl), 0);
	assert_int_equal(runx(F_CMP, D, 0, 2, dbl(3), dbl(3), &fl), 1);
	assert_int_equal(runx(F_CMP, S, 0, 1, sgl(-1), sgl(1), &fl), 1);
	assert_int_equal(runx(F_CMP, S, 0, 2, sgl(1), 0x3f800000, &fl), 0);     /* unboxed */
	assert_int_equal(fl, 0);
	assert_int_equal(runx(F_CMP, S, 0, 0, sgl(-0.0f), sgl(0.0f), &fl), 1);
	/* x0 is never written */
	h = fresh();
	h->f[1] = ONE_D;
	h->f[2] = ONE_D;
	assert_int_equal(fpu_exec(h, op_fp(F_CMP, D, 2, 1, 2, 0)), 0);
	assert_int_equal(fpu_exec(h, op_fp(F_MVX, D, 0, 1, 1, 0)), 0);
	assert_int_equal(fpu_exec(h, op_fp(F_MVX, D, 0, 1, 0, 0)), 0);
	assert_int_equal(fpu_exec(h, op_fp(F_CVTIF, D, 2, 1, RNE, 0)), 0);
	assert_int_equal(h->x[0], 0);
}

static void test_fclass(void **state)
{
	static const struct { uint64_t v; unsigned fmt; unsigned cls; } c[] = {
		{ 0xfff0000000000000ull, D, 1u << 0 },
		{ 0xbff0000000000000ull, D, 1u << 1 },
		{ 0x800fffffffffffffull, D, 1u << 2 },
		{ 0x8000000000000000ull, D, 1u << 3 },
		{ 0x0000000000000000ull, D, 1u << 4 },
		{ 0x0000000000000001ull, D, 1u << 5 },
		{ 0x7fefffffffffffffull, D, 1u << 6 },
		{ 0x7ff0000000000000ull, D, 1u << 7 },
		{ 0x7ff0000000000001ull, D, 1u << 8 },
		{ 0xfff4000000000000ull, D, 1u << 8 },
		{ 0x7ff8000000000000ull, D, 1u << 9 },
		{ 0xfffc000000000001ull, D, 1u << 9 },
		{ BOXED(0xff800000), S, 1u << 0 },
		{ BOXED(0xc0000000), S, 1u << 1 },
		{ BOXED(0x80000001), S, 1u << 2 },
		{ BOXED(0x80000000), S, 1u << 3 },
		{ BOXED(0x00000000), S, 1u << 4 },
		{ BOXED(0x007fffff), S, 1u << 5 },
		{ BOXED(0x00800000), S, 1u << 6 },
		{ BOXED(0x7f800000), S, 1u << 7 },
		{ BOXED(0x7fbfffff), S, 1u << 8 },
		{ BOXED(0x7fc00000), S, 1u << 9 },
		{ 0x0000000000000000ull, S, 1u << 9 },  /* unboxed */
	};
	uint32_t fl;

	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		uint64_t got = runx(F_MVX, c[i].fmt, 0, 1, c[i].v, 0, &fl);

		if (got != c[i].cls)
			fail_msg("fclass(%016llx) = %llx, want %x", (unsigned long long)c[i].v,
				 (unsigned long long)got, c[i].cls);
		assert_int_equal(fl, 0);
	}
}

static void test_fma(void **state)
{
	uint32_t fl;
	uint64_t a = 0x3ff0000002000000ull;     /* 1 + 2^-27 */
	uint64_t c = 0x3ff0000004000000ull;     /* 1 + 2^-26 */
	uint64_t tiny = 0x3c90000000000000ull;  /* 2^-54 */
	uint64_t n = 1ull << 63;

	/* fused: a*a - c = 2^-54 exactly; unfused gives 0 */
	assert_int_equal(fma4(OPC_FMADD, D, RNE, a, a, c | n, &fl), tiny);
	assert_int_equal(fl, 0);
	assert_int_equal(run2(F_MUL, D, RNE, a, a, &fl), c);
	assert_int_equal(fl, FFLAG_NX);
	assert_int_equal(fma4(OPC_FMSUB, D, RNE, a, a, c, &fl), tiny);
	assert_int_equal(fma4(OPC_FNMSUB, D, RNE, a, a, c, &fl), tiny | n);       /* -(ab) + c */
	assert_int_equal(fma4(OPC_FNMADD, D, RNE, a, a, c | n, &fl), tiny | n);   /* -(ab) - c */
	/* single: (1+2^-12)^2 - (1+2^-11) = 2^-24 */
	assert_int_equal(fma4(OPC_FMADD, S, RNE, BOXED(0x3f800800), BOXED(0x3f800800),
			      BOXED(0xbf801000), &fl), BOXED(0x33800000));
	assert_int_equal(fl, 0);
	/* rounding of the fused result: 1*1 + 2^-53 */
	assert_int_equal(fma4(OPC_FMADD, D, RNE, ONE_D, ONE_D, 0x3ca0000000000000ull, &fl), ONE_D);
	assert_int_equal(fl, FFLAG_NX);
	assert_int_equal(fma4(OPC_FMADD, D, RMM, ONE_D, ONE_D, 0x3ca0000000000000ull, &fl), ONE_D + 1);
	assert_int_equal(fma4(OPC_FNMADD, D, RMM, ONE_D, ONE_D, 0x3ca0000000000000ull, &fl), (ONE_D + 1) | n);
	assert_int_equal(fma4(OPC_FMADD, D, RUP, ONE_D, ONE_D, 0x3ca0000000000000ull, &fl), ONE_D + 1);
	/* RMM tie where the product carries the low bits: 1.5*(1+3*2^-52) + 0 */
	assert_int_equal(fma4(OPC_FMADD, D, RMM, ONE_D + 3, 0x3ff8000000000000ull, 0, &fl),
			 0x3ff8000000000005ull);
	/* inf * 0 + qNaN: NV, canonical */
	assert_int_equal(fma4(OPC_FMADD, D, RNE, 0x7ff0000000000000ull, 0, 0x7ff8000000000001ull, &fl), NAN_D);
	assert_int_equal(fl, FFLAG_NV);
	assert_int_equal(fma4(OPC_FNMSUB, S, RNE, BOXED(0), BOXED(0xff800000), BOXED(0x7fc00000), &fl), NAN_S);
	assert_int_equal(fl, FFLAG_NV);
	/* qNaN addend alone: no NV */
	assert_int_equal(fma4(OPC_FMADD, D, RNE, ONE_D, ONE_D, 0xfff8000000000001ull, &fl), NAN_D);
	assert_int_equal(fl, 0);
	/* inf - inf */
	assert_int_equal(fma4(OPC_FMSUB, D, RNE, 0x7ff0000000000000ull, ONE_D, 0x7ff0000000000000ull, &fl), NAN_D);
	assert_int_equal(fl, FFLAG_NV);
	/* signed zero results: -(+0*1) - (+0) = -0; (+0*1) - (+0) = +0, -0 in RDN */
	assert_int_equal(fma4(OPC_FNMADD, D, RNE, 0, ONE_D, 0, &fl), n);
	assert_int_equal(fma4(OPC_FMSUB, D, RNE, 0, ONE_D, 0, &fl), 0);
	assert_int_equal(fma4(OPC_FMSUB, D, RDN, 0, ONE_D, 0, &fl), n);
}

static void test_flags(void **state)
{
	struct hart *h;
	uint32_t fl;
	uint64_t dmax = 0x7fefffffffffffffull;

	/* DZ */
	assert_int_equal(run2(F_DIV, D, RNE, ONE_D, 0, &fl), 0x7ff0000000000000ull);
	assert_int_equal(fl, FFLAG_DZ);
	assert_int_equal(run2(F_DIV, D, RNE, ONE_D | (1ull << 63), 0, &fl), 0xfff0000000000000ull);
	assert_int_equal(fl, FFLAG_DZ);
	assert_int_equal(run2(F_DIV, S, RNE, sgl(1), sgl(-0.0f), &fl), BOXED(0xff800000));
	assert_int_equal(fl, FFLAG_DZ);
	assert_int_equal(run2(F_DIV, D, RNE, 0x7ff0000000000000ull, 0, &fl), 0x7ff0000000000000ull);
	assert_int_equal(fl, 0);
	/* OF */
	assert_int_equal(run2(F_MUL, D, RNE, dmax, dbl(2), &fl), 0x7ff0000000000000ull);
	assert_int_equal(fl, FFLAG_OF | FFLAG_NX);
	assert_int_equal(run2(F_MUL, D, RTZ, dmax, dbl(2), &fl), dmax);
	assert_int_equal(fl, FFLAG_OF | FFLAG_NX);
	assert_int_equal(run2(F_MUL, D, RDN, dmax, dbl(2), &fl), dmax);
	assert_int_equal(run2(F_MUL, D, RDN, dmax, dbl(-2), &fl), 0xfff0000000000000ull);
	assert_int_equal(run2(F_MUL, D, RMM, dmax, dbl(-2), &fl), 0xfff0000000000000ull);
	assert_int_equal(fl, FFLAG_OF | FFLAG_NX);
	assert_int_equal(run2(F_ADD, S, RUP, BOXED(0x7f7fffff), BOXED(0x7f7fffff), &fl), BOXED(0x7f800000));
	assert_int_equal(fl, FFLAG_OF | FFLAG_NX);
	/* UF: exact subnormal results raise nothing */
	assert_int_equal(run2(F_MUL, D, RNE, 0x0010000000000000ull, dbl(0.5), &fl), 0x0008000000000000ull);
	assert_int_equal(fl, 0);
	/* inexact subnormal: UF|NX */
	assert_int_equal(run2(F_DIV, D, RNE, 0x0000000000000003ull, dbl(2), &fl), 2);
	assert_int_equal(fl, FFLAG_UF | FFLAG_NX);
	assert_int_equal(run2(F_MUL, S, RNE, BOXED(0x00800001), BOXED(0x3f000000), &fl), BOXED(0x00400000));
	assert_int_equal(fl, FFLAG_UF | FFLAG_NX);
	/* tininess after rounding: (1+2^-52) * (2^-1022 - 2^-1074) rounds to
	 * 2^-1022, which with unbounded exponent is not tiny: NX only */
	assert_int_equal(run2(F_MUL, D, RNE, ONE_D + 1, 0x000fffffffffffffull, &fl), 0x0010000000000000ull);
	assert_int_equal(fl, FFLAG_NX);
	assert_int_equal(run2(F_MUL, D, RMM, ONE_D + 1, 0x000fffffffffffffull, &fl), 0x0010000000000000ull);
	assert_int_equal(fl, FFLAG_NX);
	assert_int_equal(run2(F_MUL, D, RTZ, ONE_D + 1, 0x000fffffffffffffull, &fl), 0x000fffffffffffffull);
	assert_int_equal(fl, FFLAG_UF | FFLAG_NX);
	/* NX */
	assert_int_equal(run2(F_ADD, D, RNE, ONE_D, 0x3c30000000000000ull, &fl), ONE_D);
	assert_int_equal(fl, FFLAG_NX);
	/* flags accrue */
	h = fresh();
	h->fflags = FFLAG_DZ;
	h->f[1] = ONE_D;
	h->f[2] = THREE_D;
	assert_int_equal(fpu_exec(h, op_fp(F_DIV, D, 2, 1, RNE, 3)), 0);
	assert_int_equal(h->fflags, FFLAG_DZ | FFLAG_NX);
	h->f[2] = THREE_D;
	assert_int_equal(fpu_exec(h, op_fp(F_SGNJ, D, 2, 1, 0, 3)), 0);
	assert_int_equal(h->fflags, FFLAG_DZ | FFLAG_NX);
}

static void test_sgnj(void **state)
{
	uint32_t fl;
	uint64_t snan = 0x7ff0000000000001ull;

	assert_int_equal(run2(F_SGNJ, D, 0, dbl(2), dbl(-1), &fl), dbl(-2));
	assert_int_equal(run2(F_SGNJ, D, 1, dbl(2), dbl(-1), &fl), dbl(2));
	assert_int_equal(run2(F_SGNJ, D, 2, dbl(-2), dbl(-1), &fl), dbl(2));
	assert_int_equal(run2(F_SGNJ, D, 2, dbl(-2), dbl(1), &fl), dbl(-2));
	/* NaNs pass through untouched, no flags */
	assert_int_equal(run2(F_SGNJ, D, 1, snan, snan, &fl), snan | (1ull << 63));
	assert_int_equal(fl, 0);
	assert_int_equal(run2(F_SGNJ, S, 2, BOXED(0xff800001), sgl(-1), &fl), BOXED(0x7f800001));
	assert_int_equal(fl, 0);
	assert_int_equal(run2(F_SGNJ, S, 1, sgl(3), sgl(3), &fl), sgl(-3));
}

static void test_int_to_float(void **state)
{
	uint32_t fl;

	/* fcvt.d.l 2^53+1: tie between 2^53 and 2^53+2 */
	assert_int_equal(cvt_i2f(D, 2, RNE, (1ull << 53) + 1, &fl), 0x4340000000000000ull);
	assert_int_equal(fl, FFLAG_NX);
	assert_int_equal(cvt_i2f(D, 2, RMM, (1ull << 53) + 1, &fl), 0x4340000000000001ull);
	assert_int_equal(cvt_i2f(D, 2, RMM, -((1ull << 53) + 1), &fl), 0xc340000000000001ull);
	assert_int_equal(cvt_i2f(D, 2, RUP, (1ull << 53) + 1, &fl), 0x4340000000000001ull);
	assert_int_equal(cvt_i2f(D, 2, RDN, -((1ull << 53) + 1), &fl), 0xc340000000000001ull);
	assert_int_equal(cvt_i2f(D, 2, RTZ, -((1ull << 53) + 1), &fl), 0xc340000000000000ull);
	/* fcvt.s.wu 0xffffffff */
	assert_int_equal(cvt_i2f(S, 1, RNE, 0xffffffffull, &fl), BOXED(0x4f800000));
	assert_int_equal(fl, FFLAG_NX);
	assert_int_equal(cvt_i2f(S, 1, RTZ, 0x12345678ffffffffull, &fl), BOXED(0x4f7fffff));
	/* fcvt.d.w uses the low 32 bits as signed */
	assert_int_equal(cvt_i2f(D, 0, RNE, 0x00000000ffffffffull, &fl), dbl(-1.0));
	assert_int_equal(fl, 0);
	assert_int_equal(cvt_i2f(D, 1, RNE, 0x00000000ffffffffull, &fl), dbl(4294967295.0));
	assert_int_equal(cvt_i2f(D, 0, RNE, 0x80000000ull, &fl), dbl(-2147483648.0));
	/* lu */
	assert_int_equal(cvt_i2f(D, 3, RNE, ~0ull, &fl), dbl(18446744073709551616.0));
	assert_int_equal(fl, FFLAG_NX);
	assert_int_equal(cvt_i2f(D, 3, RTZ, ~0ull, &fl), 0x43efffffffffffffull);
	assert_int_equal(cvt_i2f(D, 2, RNE, 1ull << 63, &fl), dbl(-9223372036854775808.0));
	assert_int_equal(fl, 0);
	assert_int_equal(cvt_i2f(S, 2, RNE, 0, &fl), BOXED(0));
	assert_int_equal(cvt_i2f(S, 0, RNE, 7, &fl), sgl(7.0f));
	assert_int_equal(fl, 0);
	/* 2^24+1 to single: tie */
	assert_int_equal(cvt_i2f(S, 0, RNE, (1u << 24) + 1, &fl), BOXED(0x4b800000));
	assert_int_equal(cvt_i2f(S, 0, RMM, (1u << 24) + 1, &fl), BOXED(0x4b800001));
	assert_int_equal(fl, FFLAG_NX);
}

/* With NX already set, add/sub/mul/div and the FMAs take a host fast path for ordinary
 * operands; it must give the exact path's result, and NX | the exact
 * path's flags. Operands are drawn to hit zeros, tiny, huge, subnormal,
 * infinite and NaN values as well as ordinary ones. */
static uint64_t xs;
static uint64_t rnd64(void)
{
	xs ^= xs << 13;
	xs ^= xs >> 7;
	xs ^= xs << 17;
	return xs;
}

static uint64_t rand_operand(int d)
{
	uint64_t v = rnd64();
	unsigned kind = (unsigned)(v >> 60);
	if (d) {
		switch (kind) {
		case 0: return v & 0x800fffffffffffffull;                /* subnormal or zero */
		case 1: return (v & 0x800fffffffffffffull) | 0x0010000000000000ull;   /* smallest exponent */
		case 2: return (v & 0x800fffffffffffffull) | 0x7fe0000000000000ull;   /* largest exponent */
		case 3: return (v & 0x800fffffffffffffull) | 0x7ff0000000000000ull;   /* inf or NaN */
		case 4: return v & 0x8000000000000000ull;                /* +-0 */
		default: return (v & 0x800fffffffffffffull) | ((uint64_t)(0x3c0 + (v >> 52) % 0x80) << 52);
		}
	}
	uint32_t f = (uint32_t)v;
	switch (kind) {
	case 0: f &= 0x807fffffu; break;
	case 1: f = (f & 0x807fffffu) | 0x00800000u; break;
	case 2: f = (f & 0x807fffffu) | 0x7f000000u; break;
	case 3: f = (f & 0x807fffffu) | 0x7f800000u; break;
	case 4: f &= 0x80000000u; break;
	default: f = (f & 0x807fffffu) | ((uint32_t)(0x70 + (v >> 40) % 0x20) << 23); break;
	}
	return BOXED(f);
}

static void test_fast_path_matches_exact(void **state)
{
	(void)state;
	static const unsigned ops[] = { F_ADD, F_SUB, F_MUL, F_DIV };
	xs = 0x2545f4914f6cdd1dull;
	for (int i = 0; i < 200000; i++) {
		int d = i & 1;
		unsigned op = ops[(i >> 1) & 3];
		uint64_t a = rand_operand(d), b = rand_operand(d), c = rand_operand(d);
		uint32_t insn = (i % 5 == 4) ? op_r4(OPC_FMADD + 4 * ((i >> 3) & 3), 4, d ? D : S, 2, 1, RNE, 3)
					     : op_fp(op, d ? D : S, 2, 1, RNE, 3);
		struct hart *h = fresh();
		h->f[1] = a;
		h->f[2] = b;
		h->f[4] = c;
		assert_int_equal(fpu_exec(h, insn), 0);
		uint64_t exact = h->f[3];
		uint32_t exact_fl = h->fflags;
		h = fresh();
		h->f[1] = a;
		h->f[2] = b;
		h->f[4] = c;
		h->fflags = FFLAG_NX;
		assert_int_equal(fpu_exec(h, insn), 0);
		if (h->f[3] != exact || h->fflags != (exact_fl | FFLAG_NX))
			fail_msg("op %u d %d a %llx b %llx: exact %llx/%x fast %llx/%x", op, d,
				 (unsigned long long)a, (unsigned long long)b, (unsigned long long)exact,
				 exact_fl, (unsigned long long)h->f[3], h->fflags);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_div_rounding_modes),
		cmocka_unit_test(test_add_ties_rmm),
		cmocka_unit_test(test_fcvt_int_rounding),
		cmocka_unit_test(test_fcvt_int_saturation),
		cmocka_unit_test(test_dyn_and_illegal_rm),
		cmocka_unit_test(test_illegal_encodings),
		cmocka_unit_test(test_nan_boxing),
		cmocka_unit_test(test_canonical_nan_and_snan),
		cmocka_unit_test(test_minmax),
		cmocka_unit_test(test_compare),
		cmocka_unit_test(test_fclass),
		cmocka_unit_test(test_fma),
		cmocka_unit_test(test_flags),
		cmocka_unit_test(test_sgnj),
		cmocka_unit_test(test_int_to_float),
		cmocka_unit_test(test_fast_path_matches_exact),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
