/* F and D extensions (RV64): OP-FP and the fused multiply-adds. The host FPU
 * (SSE) does arithmetic in RNE/RTZ/RDN/RUP; an exact integer path rounds RMM.
 * Conversions, compares, min/max, sign injection and fclass are pure integer. */
#include <stdint.h>
#include <string.h>
#include <math.h>
#include "cpu/fpu.h"

#if !defined(__x86_64__)
#include <fenv.h>
#endif

typedef unsigned __int128 u128;

enum { RM_RNE = 0, RM_RTZ = 1, RM_RDN = 2, RM_RUP = 3, RM_RMM = 4, RM_DYN = 7 };
enum { OP_ADD, OP_SUB, OP_MUL, OP_DIV, OP_SQRT, OP_FMA };

#define S_QNAN   0x7fc00000ull
#define D_QNAN   0x7ff8000000000000ull
#define BOX_HI   0xffffffff00000000ull

/* fclass bits */
#define FC_NINF  (1u << 0)
#define FC_NNORM (1u << 1)
#define FC_NSUB  (1u << 2)
#define FC_NZERO (1u << 3)
#define FC_PZERO (1u << 4)
#define FC_PSUB  (1u << 5)
#define FC_PNORM (1u << 6)
#define FC_PINF  (1u << 7)
#define FC_SNAN  (1u << 8)
#define FC_QNAN  (1u << 9)

/* Format parameters; d selects double (1) or single (0). Single values are
 * handled unboxed, in the low 32 bits of a uint64_t. */
#define FBITS(d)  ((d) ? 52 : 23)
#define BIAS(d)   ((d) ? 1023 : 127)
#define SIGNB(d)  ((d) ? 1ull << 63 : 1ull << 31)
#define EXPALL(d) ((d) ? 0x7ffull : 0xffull)
#define QNAN(d)   ((d) ? D_QNAN : S_QNAN)
#define INF(d)    (EXPALL(d) << FBITS(d))

static inline int is_nan(uint64_t v, int d)
{
	return (v & ~SIGNB(d)) > INF(d);
}

static inline int is_snan(uint64_t v, int d)
{
	return is_nan(v, d) && !(v & (1ull << (FBITS(d) - 1)));
}

static inline int is_inf(uint64_t v, int d)
{
	return (v & ~SIGNB(d)) == INF(d);
}

static inline int is_zero(uint64_t v, int d)
{
	return (v & ~SIGNB(d)) == 0;
}

static unsigned fclass(uint64_t v, int d)
{
	int F = FBITS(d), neg = (v & SIGNB(d)) != 0;
	uint64_t exp = (v >> F) & EXPALL(d), frac = v & ((1ull << F) - 1);

	if (exp == EXPALL(d)) {
		if (frac == 0)
			return neg ? FC_NINF : FC_PINF;
		return (frac >> (F - 1)) ? FC_QNAN : FC_SNAN;
	}
	if (exp == 0) {
		if (frac == 0)
			return neg ? FC_NZERO : FC_PZERO;
		return neg ? FC_NSUB : FC_PSUB;
	}
	return neg ? FC_NNORM : FC_PNORM;
}

/* ---- exact software path ------------------------------------------------ */

/* A finite nonzero value sig * 2^(exp - 63), sig normalized (bit 63 set).
 * Bits lost in computing sig are "jammed" into bit 0 (round to odd), which
 * keeps rounding to <= 53 bits exact. sig == 0 denotes an exact zero. */
struct unp {
	int sign;
	int exp;
	uint64_t sig;
};

static inline int clz128(u128 m)
{
	uint64_t hi = (uint64_t)(m >> 64);

	return hi ? __builtin_clzll(hi) : 64 + __builtin_clzll((uint64_t)m);
}

static inline u128 shr_jam(u128 m, int n)
{
	if (n <= 0)
		return m;
	if (n >= 128)
		return m != 0;
	return (m >> n) | ((m & (((u128)1 << n) - 1)) != 0);
}

/* Normalize the value m * 2^k (m != 0). */
static struct unp norm128(int sign, u128 m, int k)
{
	struct unp u = { sign, 0, 0 };
	int t = 127 - clz128(m);

	if (t > 63)
		u.sig = (uint64_t)shr_jam(m, t - 63);
	else
		u.sig = (uint64_t)m << (63 - t);
	u.exp = k + t;
	return u;
}

static struct unp unpack(uint64_t v, int d)
{
	int F = FBITS(d);
	struct unp u;
	uint64_t exp = (v >> F) & EXPALL(d), frac = v & ((1ull << F) - 1);

	u.sign = (v & SIGNB(d)) != 0;
	if (exp) {
		u.sig = (frac | (1ull << F)) << (63 - F);
		u.exp = (int)exp - BIAS(d);
	} else {
		int sh = __builtin_clzll(frac);

		u.sig = frac << sh;
		u.exp = 64 - BIAS(d) - F - sh;
	}
	return u;
}

/* Shift sig right by n bits, rounding per rm; *inexact says whether any
 * nonzero bits were shifted out. */
static uint64_t rshift_round(uint64_t sig, int n, int sign, int rm, int *inexact)
{
	uint64_t kept, rem;
	int cmp, up;

	if (n <= 0) {
		*inexact = 0;
		return sig;
	}
	if (n < 64) {
		uint64_t half = 1ull << (n - 1);

		kept = sig >> n;
		rem = sig & ((1ull << n) - 1);
		cmp = rem > half ? 1 : rem == half ? 0 : -1;
	} else {
		kept = 0;
		rem = sig;
		cmp = n > 64 ? -1 : rem > (1ull << 63) ? 1 : rem == (1ull << 63) ? 0 : -1;
	}
	*inexact = rem != 0;
	switch (rm) {
	case RM_RNE: up = cmp > 0 || (cmp == 0 && (kept & 1)); break;
	case RM_RTZ: up = 0; break;
	case RM_RDN: up = sign && rem; break;
	case RM_RUP: up = !sign && rem; break;
	default:     up = cmp >= 0; break;      /* RMM */
	}
	return kept + up;
}

/* Round u to format d in mode rm, accruing NX/UF/OF into *fl. Tininess is
 * detected after rounding, as RISC-V requires. */
static uint64_t round_pack(struct unp u, int d, int rm, uint32_t *fl)
{
	int F = FBITS(d), p = F + 1, emin = 1 - BIAS(d), inexact, tiny = 0;
	uint64_t sign = u.sign ? SIGNB(d) : 0, m, bits;

	if (u.sig == 0)
		return sign;
	if (u.exp > BIAS(d))
		goto overflow;
	if (u.exp < emin) {
		int n = 64 - p + (emin - u.exp);

		m = rshift_round(u.sig, 64 - p, u.sign, rm, &inexact);
		tiny = !((m >> p) && u.exp + 1 == emin);
		m = rshift_round(u.sig, n > 65 ? 65 : n, u.sign, rm, &inexact);
		bits = m;       /* subnormal; a carry makes it the minimum normal */
	} else {
		m = rshift_round(u.sig, 64 - p, u.sign, rm, &inexact);
		bits = ((uint64_t)(u.exp + BIAS(d) - 1) << F) + m;
		if ((bits >> F) >= EXPALL(d))
			goto overflow;
	}
	if (inexact) {
		*fl |= FFLAG_NX;
		if (tiny)
			*fl |= FFLAG_UF;
	}
	return sign | bits;
overflow:
	*fl |= FFLAG_OF | FFLAG_NX;
	if (rm == RM_RNE || rm == RM_RMM || (rm == RM_RUP && !u.sign) ||
	    (rm == RM_RDN && u.sign))
		return sign | INF(d);
	return sign | (INF(d) - 1);
}

/* a*b + c exactly (to 64 bits plus jam). Significands have at most 53
 * significant bits, so the 128-bit product has two spare low zero bits and
 * the operand kept unshifted during alignment has low zero bits too, which
 * makes shift-and-jam subtraction exact in the round-to-odd sense. */
static struct unp x_fma(struct unp a, struct unp b, struct unp c, int c_zero, int rm)
{
	u128 p = ((u128)a.sig * b.sig) >> 2, q, r;
	int kp = (a.exp - 63) + (b.exp - 63) + 2, kc, k, sp = a.sign ^ b.sign, sign;

	if (c_zero)
		return norm128(sp, p, kp);
	q = (u128)c.sig << 62;
	kc = c.exp - 125;
	if (kp >= kc) {
		q = shr_jam(q, kp - kc);
		k = kp;
	} else {
		p = shr_jam(p, kc - kp);
		k = kc;
	}
	if (sp == c.sign) {
		r = p + q;
		sign = sp;
	} else if (p >= q) {
		r = p - q;
		sign = sp;
	} else {
		r = q - p;
		sign = c.sign;
	}
	if (r == 0) {
		struct unp z = { rm == RM_RDN, 0, 0 };
		return z;
	}
	return norm128(sign, r, k);
}

static struct unp x_div(struct unp a, struct unp b)
{
	u128 n = (u128)a.sig << 63, q = n / b.sig;

	q |= (n - q * b.sig) != 0;
	return norm128(a.sign ^ b.sign, q, a.exp - b.exp - 63);
}

static struct unp x_sqrt(struct unp a)
{
	int k = a.exp - 63;
	u128 m, rem = 0;
	uint64_t root = 0;

	if (k & 1) {
		m = (u128)a.sig << 63;
		k -= 63;
	} else {
		m = (u128)a.sig << 64;
		k -= 64;
	}
	for (int i = 0; i < 64; i++) {
		u128 t;

		rem = (rem << 2) | (uint64_t)(m >> 126);
		m <<= 2;
		root <<= 1;
		t = ((u128)root << 1) | 1;
		if (rem >= t) {
			rem -= t;
			root |= 1;
		}
	}
	root |= rem != 0;
	return norm128(0, root, k / 2);
}

/* Exact arithmetic for finite operands (zero allowed only for the addend),
 * rounded in mode rm. Replaces NX/UF/OF in *fl. */
static uint64_t soft_arith(int op, uint64_t a, uint64_t b, uint64_t c, int d, int rm,
			   uint32_t *fl)
{
	static const struct unp one = { 0, 0, 1ull << 63 };
	struct unp ua = unpack(a, d), ub, r;

	switch (op) {
	case OP_ADD:
	case OP_SUB:
		ub = unpack(b, d);
		ub.sign ^= op == OP_SUB;
		r = x_fma(ua, one, ub, 0, rm);
		break;
	case OP_MUL:
		r = x_fma(ua, unpack(b, d), one, 1, rm);
		break;
	case OP_DIV:
		r = x_div(ua, unpack(b, d));
		break;
	case OP_SQRT:
		r = x_sqrt(ua);
		break;
	default:
		if (is_zero(c, d))
			r = x_fma(ua, unpack(b, d), one, 1, rm);
		else
			r = x_fma(ua, unpack(b, d), unpack(c, d), 0, rm);
		break;
	}
	*fl &= ~(uint32_t)(FFLAG_NX | FFLAG_UF | FFLAG_OF);
	return round_pack(r, d, rm, fl);
}

/* ---- host FPU path ------------------------------------------------------ */

static inline double u2d(uint64_t v) { double x; memcpy(&x, &v, 8); return x; }
static inline uint64_t d2u(double x) { uint64_t v; memcpy(&v, &x, 8); return v; }
static inline float u2f(uint32_t v) { float x; memcpy(&x, &v, 4); return x; }
static inline uint32_t f2u(float x) { uint32_t v; memcpy(&v, &x, 4); return v; }

#if defined(__x86_64__)
/* Keep values in registers but pin the computation between the MXCSR
 * accesses (volatile asms are not reordered against each other). */
#define FBAR(v) __asm__ volatile("" : "+x"(v))

/* The host runs with the ABI default MXCSR (0x1f80: RNE, all exceptions
 * masked, FTZ/DAZ off); that is what we restore afterwards. */
#define MXCSR_DEFAULT 0x1f80u

static inline void fpu_enter(int rm)
{
	static const uint32_t rc[4] = { 0x0000, 0x6000, 0x2000, 0x4000 };
	uint32_t v = MXCSR_DEFAULT | rc[rm];

	__asm__ volatile("ldmxcsr %0" : : "m"(v) : "memory");
}

static inline uint32_t fpu_leave(int rm)
{
	uint32_t v, def = MXCSR_DEFAULT;

	__asm__ volatile("stmxcsr %0" : "=m"(v) : : "memory");
	if (rm != RM_RNE)
		__asm__ volatile("ldmxcsr %0" : : "m"(def) : "memory");
	/* IE->NV, ZE->DZ, OE->OF, UE->UF, PE->NX (DE ignored) */
	return ((v & 0x01) << 4) | ((v & 0x04) << 1) | ((v & 0x08) >> 1) |
	       ((v & 0x10) >> 3) | ((v & 0x20) >> 5);
}

static inline double host_sqrt(double x)
{
	double r;

	__asm__("sqrtsd %1, %0" : "=x"(r) : "x"(x));
	return r;
}

static inline float host_sqrtf(float x)
{
	float r;

	__asm__("sqrtss %1, %0" : "=x"(r) : "x"(x));
	return r;
}
#else
/* Portable fallback through <fenv.h>; flag semantics (notably tininess
 * detection for UF) are then those of the host. */
#define FBAR(v) __asm__ volatile("" : "+m"(v))

static inline void fpu_enter(int rm)
{
	static const int mode[4] = { FE_TONEAREST, FE_TOWARDZERO, FE_DOWNWARD, FE_UPWARD };

	if (rm != RM_RNE)
		fesetround(mode[rm]);
	feclearexcept(FE_ALL_EXCEPT);
	__asm__ volatile("" : : : "memory");
}

static inline uint32_t fpu_leave(int rm)
{
	int e;

	__asm__ volatile("" : : : "memory");
	e = fetestexcept(FE_ALL_EXCEPT);
	if (rm != RM_RNE)
		fesetround(FE_TONEAREST);
	return (e & FE_INVALID ? FFLAG_NV : 0) | (e & FE_DIVBYZERO ? FFLAG_DZ : 0) |
	       (e & FE_OVERFLOW ? FFLAG_OF : 0) | (e & FE_UNDERFLOW ? FFLAG_UF : 0) |
	       (e & FE_INEXACT ? FFLAG_NX : 0);
}

#define host_sqrt  sqrt
#define host_sqrtf sqrtf
#endif

/* One arithmetic operation on the host FPU in mode rm (not RMM). */
static uint64_t host_arith(int op, uint64_t a, uint64_t b, uint64_t c, int d, int rm,
			   uint32_t *fl)
{
	if (d) {
		double x = u2d(a), y = u2d(b), z = u2d(c), r;

		fpu_enter(rm);
		FBAR(x); FBAR(y); FBAR(z);
		switch (op) {
		case OP_ADD:  r = x + y; break;
		case OP_SUB:  r = x - y; break;
		case OP_MUL:  r = x * y; break;
		case OP_DIV:  r = x / y; break;
		case OP_SQRT: r = host_sqrt(x); break;
		default:      r = fma(x, y, z); break;
		}
		FBAR(r);
		*fl |= fpu_leave(rm);
		return d2u(r);
	} else {
		float x = u2f((uint32_t)a), y = u2f((uint32_t)b), z = u2f((uint32_t)c), r;

		fpu_enter(rm);
		FBAR(x); FBAR(y); FBAR(z);
		switch (op) {
		case OP_ADD:  r = x + y; break;
		case OP_SUB:  r = x - y; break;
		case OP_MUL:  r = x * y; break;
		case OP_DIV:  r = x / y; break;
		case OP_SQRT: r = host_sqrtf(x); break;
		default:      r = fmaf(x, y, z); break;
		}
		FBAR(r);
		*fl |= fpu_leave(rm);
		return f2u(r);
	}
}

/* Arithmetic in any rounding mode with RISC-V NaN and flag semantics. RMM is
 * computed as RNE first; only an inexact result can differ (on exact ties),
 * and then the exact path recomputes it. */
static uint64_t arith(int op, uint64_t a, uint64_t b, uint64_t c, int d, int rm,
		      uint32_t *fl)
{
	uint32_t f = 0;
	uint64_t r = host_arith(op, a, b, c, d, rm == RM_RMM ? RM_RNE : rm, &f);

	if (rm == RM_RMM && (f & FFLAG_NX))
		r = soft_arith(op, a, b, c, d, rm, &f);
	if (is_nan(r, d)) {
		r = QNAN(d);
		/* inf * 0 is invalid even when the addend is a quiet NaN */
		if (op == OP_FMA && ((is_inf(a, d) && is_zero(b, d)) ||
				     (is_zero(a, d) && is_inf(b, d))))
			f |= FFLAG_NV;
	}
	*fl |= f;
	return r;
}

/* A fast path, as QEMU's "hardfloat" has: once fflags holds NX, an RNE
 * add/sub/mul/div of finite operands (normal or zero) whose result is a
 * normal number can raise no flag that is not already set (no NV, DZ, OF or
 * UF; NX is sticky), so the host computes it with no MXCSR work. Zero
 * results count only for add/sub, where they are exact; mul/div zeros may
 * be underflows. Returns 0 when the exact path must run instead. */
static inline int finite_nd(uint64_t v, int d)
{
	unsigned e = d ? (unsigned)(v >> 52) & 0x7ff : (unsigned)(v >> 23) & 0xff;
	uint64_t mant = d ? v & 0xfffffffffffffull : v & 0x7fffff;
	return e != (d ? 0x7ffu : 0xffu) && (e != 0 || mant == 0);
}

static inline int normal_nz(uint64_t v, int d)
{
	unsigned e = d ? (unsigned)(v >> 52) & 0x7ff : (unsigned)(v >> 23) & 0xff;
	return e != 0 && e != (d ? 0x7ffu : 0xffu);
}

static int fast_arith(int op, uint64_t a, uint64_t b, int d, uint64_t *out)
{
	uint64_t r;

	if (!finite_nd(a, d) || !finite_nd(b, d) || (op == OP_DIV && !normal_nz(b, d)))
		return 0;
	if (d) {
		double x = u2d(a), y = u2d(b);
		r = d2u(op == OP_ADD ? x + y : op == OP_SUB ? x - y : op == OP_MUL ? x * y : x / y);
	} else {
		float x = u2f((uint32_t)a), y = u2f((uint32_t)b);
		r = f2u(op == OP_ADD ? x + y : op == OP_SUB ? x - y : op == OP_MUL ? x * y : x / y);
	}
	if (normal_nz(r, d) || ((op == OP_ADD || op == OP_SUB) && (r << (d ? 1 : 33)) == 0)) {
		*out = r;
		return 1;
	}
	return 0;
}

/* The same for fused multiply-add; only normal results qualify (a zero may
 * be an exact cancellation or an underflow). */
static int fast_fma(uint64_t a, uint64_t b, uint64_t c, int d, uint64_t *out)
{
	uint64_t r;

	if (!finite_nd(a, d) || !finite_nd(b, d) || !finite_nd(c, d))
		return 0;
	if (d)
		r = d2u(fma(u2d(a), u2d(b), u2d(c)));
	else
		r = f2u(fmaf(u2f((uint32_t)a), u2f((uint32_t)b), u2f((uint32_t)c)));
	if (!normal_nz(r, d))
		return 0;
	*out = r;
	return 1;
}

/* ---- conversions -------------------------------------------------------- */

/* kind: 0 W, 1 WU, 2 L, 3 LU. Returns the value to write to x[rd]. */
static uint64_t cvt_f2i(uint64_t v, int d, int kind, int rm, uint32_t *fl)
{
	int uns = kind & 1, is64 = kind >> 1;
	uint64_t maxv = is64 ? (uns ? UINT64_MAX : INT64_MAX) : (uns ? UINT32_MAX : INT32_MAX);
	uint64_t minv = uns ? 0 : is64 ? (uint64_t)INT64_MIN : (uint64_t)(int64_t)INT32_MIN;
	uint64_t neglim = uns ? 0 : is64 ? 1ull << 63 : 1ull << 31;
	unsigned c = fclass(v, d);
	uint64_t res;

	if (c & (FC_SNAN | FC_QNAN)) {
		*fl |= FFLAG_NV;
		res = maxv;
	} else if (c & (FC_NINF | FC_PINF)) {
		*fl |= FFLAG_NV;
		res = c & FC_NINF ? minv : maxv;
	} else if (c & (FC_NZERO | FC_PZERO)) {
		res = 0;
	} else {
		struct unp u = unpack(v, d);
		int n = 63 - u.exp, inexact;
		uint64_t m;

		if (u.exp > 63) {
			*fl |= FFLAG_NV;
			res = u.sign ? minv : maxv;
		} else {
			m = rshift_round(u.sig, n > 65 ? 65 : n, u.sign, rm, &inexact);
			if (!u.sign && m > maxv) {
				*fl |= FFLAG_NV;
				res = maxv;
			} else if (u.sign && m > neglim) {
				*fl |= FFLAG_NV;
				res = minv;
			} else {
				res = u.sign ? -m : m;
				if (inexact)
					*fl |= FFLAG_NX;
			}
		}
	}
	return is64 ? res : (uint64_t)(int64_t)(int32_t)(uint32_t)res;
}

static uint64_t cvt_i2f(uint64_t x, int kind, int d, int rm, uint32_t *fl)
{
	int sign = 0;
	uint64_t m;

	switch (kind) {
	case 0:
		sign = (int32_t)x < 0;
		m = (uint64_t)(int64_t)(int32_t)x;
		m = sign ? -m : m;
		break;
	case 1:
		m = (uint32_t)x;
		break;
	case 2:
		sign = (int64_t)x < 0;
		m = sign ? -x : x;
		break;
	default:
		m = x;
		break;
	}
	if (m == 0)
		return 0;
	return round_pack(norm128(sign, m, 0), d, rm, fl);
}

/* Between formats: from format sd to format dd (sd != dd). */
static uint64_t cvt_f2f(uint64_t v, int sd, int dd, int rm, uint32_t *fl)
{
	uint64_t sign = (v & SIGNB(sd)) ? SIGNB(dd) : 0;

	if (is_nan(v, sd)) {
		if (is_snan(v, sd))
			*fl |= FFLAG_NV;
		return QNAN(dd);
	}
	if (is_inf(v, sd))
		return sign | INF(dd);
	if (is_zero(v, sd))
		return sign;
	return round_pack(unpack(v, sd), dd, rm, fl);
}

/* ---- compares and min/max ----------------------------------------------- */

/* Map a non-NaN value to an unsigned key ordered like the real line, with
 * -0 < +0. Singles are first aligned to the top of 64 bits. */
static inline uint64_t order_key(uint64_t v, int d)
{
	if (!d)
		v <<= 32;
	return (v >> 63) ? ~v : v | (1ull << 63);
}

static inline int both_zero(uint64_t a, uint64_t b, int d)
{
	return is_zero(a, d) && is_zero(b, d);
}

static uint64_t fminmax(uint64_t a, uint64_t b, int d, int is_max, uint32_t *fl)
{
	int an = is_nan(a, d), bn = is_nan(b, d);

	if (is_snan(a, d) || is_snan(b, d))
		*fl |= FFLAG_NV;
	if (an && bn)
		return QNAN(d);
	if (an)
		return b;
	if (bn)
		return a;
	return ((order_key(a, d) < order_key(b, d)) ^ is_max) ? a : b;
}

/* op: 2 FEQ, 1 FLT, 0 FLE */
static uint64_t fcmp(uint64_t a, uint64_t b, int d, int op, uint32_t *fl)
{
	if (is_nan(a, d) || is_nan(b, d)) {
		if (op != 2 || is_snan(a, d) || is_snan(b, d))
			*fl |= FFLAG_NV;
		return 0;
	}
	if (op == 2)
		return a == b || both_zero(a, b, d);
	if (op == 1)
		return order_key(a, d) < order_key(b, d) && !both_zero(a, b, d);
	return order_key(a, d) <= order_key(b, d) || both_zero(a, b, d);
}

/* ---- decode ------------------------------------------------------------- */

static inline uint64_t rdf(const struct hart *h, unsigned r, int d)
{
	uint64_t v = h->f[r];

	if (d)
		return v;
	return (v >> 32) == 0xffffffffu ? (uint32_t)v : S_QNAN;
}

static inline void wrf(struct hart *h, unsigned r, uint64_t v, int d)
{
	h->f[r] = d ? v : BOX_HI | (uint32_t)v;
}

static inline void wrx(struct hart *h, unsigned r, uint64_t v)
{
	if (r)
		h->x[r] = v;
}

/* The effective rounding mode, or -1 if reserved. */
static inline int eff_rm(const struct hart *h, unsigned rm)
{
	if (rm == RM_DYN)
		rm = h->frm;
	return rm <= RM_RMM ? (int)rm : -1;
}

int fpu_exec(struct hart *h, uint32_t insn)
{
	unsigned opc = insn & 0x7f, rd = (insn >> 7) & 31, f3 = (insn >> 12) & 7;
	unsigned rs1 = (insn >> 15) & 31, rs2 = (insn >> 20) & 31, f7 = insn >> 25;
	int d = f7 & 3, rm;
	uint32_t fl = 0;
	uint64_t a, b, r, sb;

	if (d > 1)
		return -1;
	sb = SIGNB(d);

	if (opc != 0x53) {
		uint64_t c;

		if (opc != 0x43 && opc != 0x47 && opc != 0x4b && opc != 0x4f)
			return -1;
		if ((rm = eff_rm(h, f3)) < 0)
			return -1;
		a = rdf(h, rs1, d);
		b = rdf(h, rs2, d);
		c = rdf(h, insn >> 27, d);
		if (opc == 0x47 || opc == 0x4f)         /* FMSUB, FNMADD: -c */
			c ^= sb;
		if (opc == 0x4b || opc == 0x4f)         /* FNMSUB, FNMADD: -(a*b) */
			a ^= sb;
		if (rm != RM_RNE || !(h->fflags & FFLAG_NX) || !fast_fma(a, b, c, d, &r))
			r = arith(OP_FMA, a, b, c, d, rm, &fl);
		wrf(h, rd, r, d);
		h->fflags |= fl;
		return 0;
	}

	switch (f7 >> 2) {
	case 0x00: case 0x01: case 0x02: case 0x03:     /* FADD FSUB FMUL FDIV */
		if ((rm = eff_rm(h, f3)) < 0)
			return -1;
		a = rdf(h, rs1, d);
		b = rdf(h, rs2, d);
		if (rm != RM_RNE || !(h->fflags & FFLAG_NX) || !fast_arith(f7 >> 2, a, b, d, &r))
			r = arith(f7 >> 2, a, b, 0, d, rm, &fl);
		wrf(h, rd, r, d);
		break;
	case 0x0b:                                      /* FSQRT */
		if (rs2 != 0 || (rm = eff_rm(h, f3)) < 0)
			return -1;
		wrf(h, rd, arith(OP_SQRT, rdf(h, rs1, d), 0, 0, d, rm, &fl), d);
		break;
	case 0x04:                                      /* FSGNJ, FSGNJN, FSGNJX */
		if (f3 > 2)
			return -1;
		a = rdf(h, rs1, d);
		b = rdf(h, rs2, d);
		b = f3 == 0 ? b : f3 == 1 ? ~b : a ^ b;
		wrf(h, rd, (a & ~sb) | (b & sb), d);
		break;
	case 0x05:                                      /* FMIN, FMAX */
		if (f3 > 1)
			return -1;
		wrf(h, rd, fminmax(rdf(h, rs1, d), rdf(h, rs2, d), d, f3, &fl), d);
		break;
	case 0x08:                                      /* FCVT.S.D, FCVT.D.S */
		if (rs2 != (unsigned)!d || (rm = eff_rm(h, f3)) < 0)
			return -1;
		wrf(h, rd, cvt_f2f(rdf(h, rs1, !d), !d, d, rm, &fl), d);
		break;
	case 0x14:                                      /* FLE, FLT, FEQ */
		if (f3 > 2)
			return -1;
		wrx(h, rd, fcmp(rdf(h, rs1, d), rdf(h, rs2, d), d, f3, &fl));
		break;
	case 0x18:                                      /* FCVT.{W,WU,L,LU}.fmt */
		if (rs2 > 3 || (rm = eff_rm(h, f3)) < 0)
			return -1;
		wrx(h, rd, cvt_f2i(rdf(h, rs1, d), d, rs2, rm, &fl));
		break;
	case 0x1a:                                      /* FCVT.fmt.{W,WU,L,LU} */
		if (rs2 > 3 || (rm = eff_rm(h, f3)) < 0)
			return -1;
		wrf(h, rd, cvt_i2f(h->x[rs1], rs2, d, rm, &fl), d);
		break;
	case 0x1c:                                      /* FMV.X.fmt, FCLASS */
		if (rs2 != 0 || f3 > 1)
			return -1;
		if (f3 == 1)
			wrx(h, rd, fclass(rdf(h, rs1, d), d));
		else
			wrx(h, rd, d ? h->f[rs1] : (uint64_t)(int64_t)(int32_t)(uint32_t)h->f[rs1]);
		break;
	case 0x1e:                                      /* FMV.fmt.X */
		if (rs2 != 0 || f3 != 0)
			return -1;
		wrf(h, rd, h->x[rs1], d);
		break;
	default:
		return -1;
	}
	h->fflags |= fl;
	return 0;
}
